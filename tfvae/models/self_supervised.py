"""What the self-supervised denoisers share: DnCNN's network trained on noisy images alone.

A subclass defines `self_supervised_loss(noisy, step, training)`, a scalar loss of a batch of
noisy images, seeded by the model's `seed` and the optimizer `step`; `train_step` minimises it
and `test_step` reports it with the PSNR (against clean images when the data hold them).
"""

import keras
import tensorflow as tf

from tfvae.models.dncnn import DnCNN
from tfvae.models.metrics import psnr


class SelfSupervisedDenoiser(DnCNN):
    """Base of `Noise2Void` and `Neighbor2Neighbor`: DnCNN trained with its own loss on noisy images.

    Args:
        image_shape: tuple `(H, W, C)`, the shape of the training images.
        seed: int, seeds the loss's random choices, with the optimizer step. Defaults to `0`.
        **kwargs: DnCNN's (`conv_layers`, `width`, `network_dtype`) and `keras.Model`'s.
    """

    default_loss = None  # train_step computes the model's own loss

    def __init__(self, image_shape: tuple, seed: int = 0, **kwargs):
        super().__init__(image_shape, **kwargs)
        self.seed = seed
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")

    @property
    def metrics(self):
        """The trackers `fit` reports and resets each epoch: the loss and psnr."""
        return [self.loss_tracker, self.psnr_tracker]

    def step_seed(self, step: int | tf.Tensor) -> tf.Tensor:
        """The stateless seed of training step `step`: a pure function of `(seed, step)`.

        Args:
            step: int or integer tensor, the optimizer step (-1 for validation).

        Returns:
            An int64 tensor of shape `(2,)`, `[seed, step]`.

        Examples:
            >>> from tfvae.models import Noise2Void
            >>> [int(v) for v in Noise2Void((8, 8, 1), conv_layers=3, width=4, seed=5).step_seed(2)]
            [5, 2]
        """
        return tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])

    def self_supervised_loss(self, noisy: tf.Tensor, step: int | tf.Tensor, training: bool) -> tf.Tensor:
        """The scalar loss of a batch of noisy images (defined by each subclass).

        Args:
            noisy: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].
            step: int or integer tensor, with `seed`, seeds the loss's random choices.
            training: bool, whether the network runs in training mode.

        Returns:
            A float32 scalar tensor.

        Raises:
            NotImplementedError: in this base class; each subclass defines its loss.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import Neighbor2Neighbor
            >>> model = Neighbor2Neighbor((8, 8, 1), conv_layers=3, width=4)
            >>> noisy = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype("float32")
            >>> float(model.self_supervised_loss(noisy, step=0, training=False)) > 0
            True
        """
        raise NotImplementedError

    def train_step(self, data):
        """One optimizer step on the loss of a batch of noisy images; returns the logs."""
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss = self.self_supervised_loss(noisy, self.optimizer.iterations, training=True)
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
        self.optimizer.apply(tape.gradient(scaled, self.trainable_weights), self.trainable_weights)
        return self._track(loss, noisy, clean)

    def test_step(self, data):
        """The loss and the PSNR of a validation batch; returns the logs."""
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._track(self.self_supervised_loss(noisy, -1, training=False), noisy, clean)

    def _track(self, loss, noisy, clean):
        """PSNR against `clean` when the data hold it (never in training on noisy images alone)."""
        self.loss_tracker.update_state(loss)
        self.psnr_tracker.update_state(psnr(noisy if clean is None else clean, self(noisy, training=False)))
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        """The model's config: DnCNN's and `seed`."""
        return {**super().get_config(), "seed": self.seed}
