"""tf.data pipelines of (noisy, clean) batches with fresh, seeded noise every epoch.

Training data is an endless stream of batches that is a pure function of `(seed, step)`: pass `p`
over the images is shuffled by a stateless permutation seeded by `(seed, p)`, and the noise of the
batch at global step `s` is seeded by `(seed, s)`. So noise is fresh every epoch, two runs with one
seed see identical batches, and a run resumed at step `s` (`first_step=s`) continues exactly where
an uninterrupted run would be. Validation data is one pass in a fixed order with fixed noise.
Noise is drawn per global batch, so the replicas of a tf.distribute strategy (which split the
batch) never share it.
"""

import numpy as np
import tensorflow as tf

from tfvae.data.images import check_images
from tfvae.data.noise import Mixture, Noise, parse_noise

_ENDLESS = 2**62  # "forever" for Dataset.range; a step counter never gets there


def default_noise_device():
    """The first GPU when there is exactly one device to feed, else None (noise made on the host)."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus and tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return gpus[0].name
    return None


def binarized(images, seed):
    """A seeded Bernoulli sample of the pixels: 1 with probability equal to the intensity."""
    return tf.cast(tf.random.stateless_uniform(tf.shape(images), seed) < images, images.dtype)


def greyed(images, fraction, seed):
    """(`images` with a seeded `fraction` of them turned grey: the channel mean in every channel,
    the (N, 1, 1, 1) mask of those images)."""
    chosen = tf.random.stateless_uniform(tf.stack([tf.shape(images)[0], 1, 1, 1]), seed) < fraction
    grey = tf.broadcast_to(tf.reduce_mean(images, axis=-1, keepdims=True), tf.shape(images))
    return tf.where(chosen, grey, images), chosen


def _one_noise_for_grey(noisy, chosen):
    """A grey photo's noise is the same in every channel: the chosen images keep channel 0's."""
    return tf.where(chosen, tf.broadcast_to(noisy[..., :1], tf.shape(noisy)), noisy)


def _stream_seed(seed, stream):
    """Independent int64 seed pairs for the shuffling (stream 0) and the noise (stream 1)."""
    return tf.constant([seed, stream], tf.int64)


def shuffled_index_batches(count, batch_size, seed, first_step=0):
    """Endless int64 index batches: each pass over `count` items reshuffled, partial batches dropped."""
    per_pass = count // batch_size

    def one_pass(pass_index):
        pass_seed = tf.random.experimental.stateless_fold_in(_stream_seed(seed, 0), pass_index)
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), pass_seed)
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order[: per_pass * batch_size], (per_pass, batch_size)))

    passes = tf.data.Dataset.range(first_step // per_pass, _ENDLESS)
    return passes.flat_map(one_pass).skip(first_step % per_pass)


def make_dataset(
    images: np.ndarray,
    noise: str | Noise | Mixture,
    batch_size: int,
    seed: int,
    training: bool,
    device: str | None = "auto",
    binarize: bool = False,
    first_step: int = 0,
    grey_fraction: float = 0.0,
) -> tf.data.Dataset:
    """Makes a `tf.data.Dataset` of `(noisy, clean)` float32 batches for `fit` or `evaluate`.

    In training the stream is endless and a pure function of `(seed, step)`: every pass over
    the images is reshuffled and every batch gets fresh noise, so two runs with one seed see the
    same batches and a run resumed at step `s` (`first_step=s`) continues exactly. Otherwise
    the dataset is one pass in a fixed order with fixed noise.

    Args:
        images: float32 array of shape `(N, H, W, C)`, values in [0, 1], the clean images.
        noise: str, `Noise` or `Mixture`, the noise spec (see `parse_noise`), e.g.
            `"gaussian:0-0.5"`; `"none"` gives `(clean, clean)` pairs.
        batch_size: int, images per batch; training drops the last partial batch of each pass.
        seed: int, fixes the shuffling order and the noise.
        training: bool, whether to make the endless training stream (give `fit` a
            `steps_per_epoch`) rather than one pass.
        device: str or None, where the noise is generated: `"auto"` (the GPU when there is
            exactly one device to feed), `None` (the host) or a device name; clean batches are
            copied there first. Defaults to `"auto"`.
        binarize: bool, replace each clean batch by a fresh Bernoulli sample of its pixels
            (dynamically binarized MNIST, the density-modelling setting); the noise is added to
            that. Defaults to `False`.
        first_step: int, training only: start the stream at this global step (resuming a run).
            Defaults to `0`.
        grey_fraction: float in [0, 1], the fraction of images (drawn per image and step)
            turned grey, with the same noise in every channel, as a grey photo reaches an RGB
            model. Defaults to `0.0`.

    Returns:
        A `tf.data.Dataset` of `(noisy, clean)` pairs of float32 tensors `(batch_size, H, W, C)`.

    Raises:
        ValueError: if `images` break the image contract, `batch_size` is not a positive
            integer (or, in training, exceeds the number of images), `first_step` is negative,
            not an integer or nonzero outside training, `grey_fraction` is outside [0, 1], or
            `noise` is not a valid spec.

    Examples:
        >>> import numpy as np
        >>> from tfvae.data import make_dataset
        >>> images = np.full((8, 8, 8, 1), 0.5, "float32")
        >>> validation = make_dataset(images, "gaussian:0.1", batch_size=4, seed=0, training=False)
        >>> [tuple(noisy.shape) for noisy, clean in validation]
        [(4, 8, 8, 1), (4, 8, 8, 1)]
        >>> stream = make_dataset(images, "gaussian:0-0.5", batch_size=4, seed=0, training=True)
        >>> noisy, clean = next(iter(stream))
        >>> tuple(noisy.shape), bool((clean.numpy() == 0.5).all())
        ((4, 8, 8, 1), True)
    """
    images = check_images(images)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Expected batch_size to be a positive integer. Received: batch_size={batch_size!r}.")
    if training and batch_size > len(images):
        raise ValueError(
            f"Expected batch_size <= the {len(images)} training images (partial batches are dropped). "
            f"Received: batch_size={batch_size}."
        )
    if not isinstance(first_step, int) or first_step < 0 or (first_step and not training):
        raise ValueError(
            f"Expected first_step to be an integer >= 0, and 0 unless training. Received: first_step={first_step!r}."
        )
    if not 0 <= grey_fraction <= 1:
        raise ValueError(f"Expected 0 <= grey_fraction <= 1. Received: grey_fraction={grey_fraction!r}.")
    noise = parse_noise(noise)
    pixels = tf.constant(images)
    if training:
        indices = shuffled_index_batches(len(images), batch_size, seed, first_step)
    else:
        indices = tf.data.Dataset.range(len(images)).batch(batch_size)
    steps = tf.data.Dataset.range(first_step, _ENDLESS)
    noise_seed = _stream_seed(seed, 1)
    batches = tf.data.Dataset.zip(indices, steps).map(
        lambda index, step: (tf.gather(pixels, index), tf.random.experimental.stateless_fold_in(noise_seed, step))
    )
    device = default_noise_device() if device == "auto" else device
    if device:
        batches = batches.apply(tf.data.experimental.copy_to_device(device))
    if binarize:
        batches = batches.map(lambda x, s: (binarized(x, tf.random.experimental.stateless_fold_in(s, 1)), s))
    if grey_fraction:
        batches = batches.map(
            lambda x, s: (*greyed(x, grey_fraction, tf.random.experimental.stateless_fold_in(s, 2)), s)
        )
        batches = batches.map(
            lambda x, chosen, s: (_one_noise_for_grey(noise(x, s), chosen), x), num_parallel_calls=tf.data.AUTOTUNE
        )
    else:
        batches = batches.map(lambda x, s: (noise(x, s), x), num_parallel_calls=tf.data.AUTOTUNE)
    return batches.prefetch(tf.data.AUTOTUNE)
