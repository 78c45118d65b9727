"""Noise2Void (Krull et al., CVPR 2019): a blind-spot denoiser trained on noisy images alone.

A few random pixels of each training image are replaced by a random neighbour's value (within a
5x5 window, never the pixel itself), and the loss is the squared error at those pixels only,
against their own noisy values. The network cannot copy a masked pixel, so it learns to predict it
from its surroundings: with noise independent per pixel, the best prediction is the clean value.
No clean image and no noise model are needed. The network is DnCNN's (`tfvae.models.dncnn`); at
inference it sees the whole, unmasked image.
"""

import keras
import tensorflow as tf

from tfvae.models.self_supervised import SelfSupervisedDenoiser

NEIGHBOURHOOD = 2  # a masked pixel takes a value from up to 2 pixels away in each direction


def _neighbour_index(index, offset, size):
    """index + offset, or index - offset where that leaves the image: a nonzero offset never lands
    on the pixel itself (clipping at the border would)."""
    moved = index + offset
    return tf.clip_by_value(tf.where((moved < 0) | (moved >= size), index - offset, moved), 0, size - 1)


def masked_copy(images, fraction, seed):
    """(`images` with a seeded `fraction` of the pixels replaced by a random neighbour's value, all
    channels together, and the float (N, H, W, 1) mask of those pixels)."""
    shape = tf.shape(images)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    mask = tf.random.stateless_uniform(tf.concat([shape[:3], [1]], 0), seeds[0]) < fraction
    # An offset in [-2, 2]^2 minus the centre: draw from 24 cells and skip index 12, (0, 0).
    cell = tf.random.stateless_uniform(shape[:3], seeds[1], maxval=24, dtype=tf.int32)
    cell = cell + tf.cast(cell >= 12, tf.int32)
    side = 2 * NEIGHBOURHOOD + 1
    rows = _neighbour_index(tf.range(shape[1])[None, :, None], cell // side - NEIGHBOURHOOD, shape[1])
    cols = _neighbour_index(tf.range(shape[2])[None, None, :], cell % side - NEIGHBOURHOOD, shape[2])
    batch = tf.broadcast_to(tf.range(shape[0])[:, None, None], shape[:3])
    neighbours = tf.gather_nd(images, tf.stack([batch, rows, cols], axis=-1))
    return tf.where(mask, neighbours, images), tf.cast(mask, images.dtype)


@keras.saving.register_keras_serializable(package="tfvae")
class Noise2Void(SelfSupervisedDenoiser):
    """Noise2Void: DnCNN's network trained as a blind-spot denoiser on noisy images alone.

    In training, a few pixels of each noisy image are replaced by a random neighbour's value and
    the loss is the squared error at those pixels against their own noisy values (see the module
    docstring). No clean image and no noise model are needed: train with `compile()` and `fit`
    on noisy images (a clean image in the data only enters the PSNR metric). At inference the
    network sees the whole image. Other keyword arguments, e.g. `name`, go to `keras.Model`.

    Args:
        image_shape: tuple `(H, W, C)`, the shape of the training images; any height and width
            are denoised.
        masked_fraction: float in (0, 1), the fraction of the pixels masked per training image;
            the loss sees only those. Defaults to `1 / 64` (about 12 pixels of a 28x28 image).
        seed: int, seeds the masking, with the optimizer step: a pure function of `(seed, step)`.
            Defaults to `0`.

    Keyword Args:
        conv_layers (int): the number of 3x3 convolutions, >= 2. Defaults to 17.
        width (int): channels of the hidden convolutions. Defaults to 64.
        network_dtype (str): the Keras dtype policy of the convolutions. Defaults to `"float32"`.

    Raises:
        ValueError: if `masked_fraction` is not in (0, 1), or DnCNN's arguments are invalid.

    Examples:
        >>> import numpy as np
        >>> from tfvae.models import Noise2Void
        >>> model = Noise2Void((8, 8, 1), conv_layers=3, width=4)
        >>> model.compile()  # the masked loss is the model's own
        >>> tuple(model(np.full((2, 8, 8, 1), 0.5, "float32")).shape)
        (2, 8, 8, 1)
    """

    def __init__(self, image_shape: tuple, masked_fraction: float = 1 / 64, seed: int = 0, **kwargs):
        super().__init__(image_shape, seed=seed, **kwargs)
        if not 0 < masked_fraction < 1:
            raise ValueError(f"Expected 0 < masked_fraction < 1. Received: masked_fraction={masked_fraction!r}.")
        self.masked_fraction = masked_fraction

    def self_supervised_loss(self, noisy: tf.Tensor, step: int | tf.Tensor, training: bool) -> tf.Tensor:
        """The mean squared error at masked pixels of `noisy`, each predicted from its neighbourhood.

        Args:
            noisy: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].
            step: int or integer tensor, with `seed`, seeds which pixels are masked.
            training: bool, whether the network runs in training mode.

        Returns:
            A float32 scalar tensor.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import Noise2Void
            >>> model = Noise2Void((8, 8, 1), conv_layers=3, width=4, masked_fraction=0.25)
            >>> flat = np.full((2, 8, 8, 1), 0.5, "float32")  # every neighbour predicts it exactly
            >>> round(float(model.self_supervised_loss(flat, step=0, training=False)), 6)
            0.0
        """
        masked, mask = masked_copy(noisy, self.masked_fraction, self.step_seed(step))
        predicted = self(masked, training=training)
        channels = tf.cast(tf.shape(noisy)[-1], noisy.dtype)
        return tf.reduce_sum(mask * tf.square(predicted - noisy)) / (tf.reduce_sum(mask) * channels + 1e-8)

    def get_config(self):
        """The model's config: DnCNN's, `masked_fraction` and `seed`."""
        return {**super().get_config(), "masked_fraction": self.masked_fraction}
