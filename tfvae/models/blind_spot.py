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

from tfvae.evaluation.metrics import psnr
from tfvae.models.dncnn import DnCNN

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
class Noise2Void(DnCNN):
    """DnCNN's network trained as a blind-spot denoiser on noisy images alone.

    Args (besides DnCNN's):
        masked_fraction: fraction of the pixels masked per training image (default 1/64: ~12 per
            MNIST image; the loss sees only those).
        seed: seeds the masking (with the optimizer step: a pure function of (seed, step)).
    """

    default_loss = None  # train_step computes the masked loss

    def __init__(self, image_shape, masked_fraction=1 / 64, seed=0, **kwargs):
        super().__init__(image_shape, **kwargs)
        if not 0 < masked_fraction < 1:
            raise ValueError(f"Expected 0 < masked_fraction < 1. Received: masked_fraction={masked_fraction!r}.")
        self.masked_fraction = masked_fraction
        self.seed = seed
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")

    @property
    def metrics(self):
        return [self.loss_tracker, self.psnr_tracker]

    def masked_loss(self, noisy, step, training):
        """The mean squared error at the masked pixels of `noisy`, predicted from their neighbourhoods."""
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        masked, mask = masked_copy(noisy, self.masked_fraction, seed)
        predicted = self(masked, training=training)
        channels = tf.cast(tf.shape(noisy)[-1], noisy.dtype)
        return tf.reduce_sum(mask * tf.square(predicted - noisy)) / (tf.reduce_sum(mask) * channels + 1e-8)

    def train_step(self, data):
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss = self.masked_loss(noisy, self.optimizer.iterations, training=True)
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
        self.optimizer.apply(tape.gradient(scaled, self.trainable_weights), self.trainable_weights)
        return self._track(loss, noisy, clean)

    def test_step(self, data):
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._track(self.masked_loss(noisy, -1, training=False), noisy, clean)

    def _track(self, loss, noisy, clean):
        """PSNR against `clean` when the data hold it (never in training on noisy images alone)."""
        self.loss_tracker.update_state(loss)
        self.psnr_tracker.update_state(psnr(noisy if clean is None else clean, self(noisy, training=False)))
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {**super().get_config(), "masked_fraction": self.masked_fraction, "seed": self.seed}
