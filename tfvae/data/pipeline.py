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
from tfvae.data.synthetic import dead_leaves

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


SYNTHETIC_STREAM = 2  # the dead-leaves images' entropy is (seed, SYNTHETIC_STREAM, step)


def is_synthetic_step(step, fraction):
    """Whether global step `step` (an int64 tensor) draws synthetic images: such steps are spread
    evenly, `floor(s * fraction)` of them before step `s`."""
    step = tf.cast(step, tf.float64)
    return tf.floor((step + 1) * fraction) > tf.floor(step * fraction)


def synthetic_batch_size(batch_size, image_size, synthetic_size):
    """Synthetic images per batch: as many pixels as a batch of the dataset's images (at least one),
    so a step costs about the same and the loss weighs both kinds of batch alike."""
    return max(1, round(batch_size * image_size[0] * image_size[1] / synthetic_size**2))


def _dataset_batches(pixels, batch_size, seed, steps, drawn):
    """(clean batch, step) pairs: the dataset's shuffled batches from the `drawn`-th on, along `steps`."""
    indices = shuffled_index_batches(int(pixels.shape[0]), batch_size, seed, drawn)
    return tf.data.Dataset.zip(indices, steps).map(lambda index, step: (tf.gather(pixels, index), step))


def _clean_batches(pixels, batch_size, seed, first_step, synthetic_fraction, synthetic_size):
    """Endless (clean batch, global step) pairs: the dataset's images, and dead-leaves images of
    `synthetic_size` pixels at the steps `is_synthetic_step` picks."""
    steps = tf.data.Dataset.range(first_step, _ENDLESS)
    if not synthetic_fraction:
        return _dataset_batches(pixels, batch_size, seed, steps, first_step)
    synthetic = lambda step: is_synthetic_step(step, synthetic_fraction)  # noqa: E731
    dataset_steps_before = first_step - int(np.floor(first_step * synthetic_fraction))
    dataset_batches = _dataset_batches(
        pixels, batch_size, seed, steps.filter(lambda step: tf.logical_not(synthetic(step))), dataset_steps_before
    )
    count = synthetic_batch_size(batch_size, pixels.shape[1:3], synthetic_size)
    shape = (count, synthetic_size, synthetic_size, int(pixels.shape[-1]))

    def draw(step):
        return dead_leaves(count, synthetic_size, synthetic_size, shape[-1], seed=(seed, SYNTHETIC_STREAM, int(step)))

    synthetic_batches = steps.filter(synthetic).map(
        lambda step: (tf.ensure_shape(tf.numpy_function(draw, [step], tf.float32, stateful=False), shape), step),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    choices = steps.map(lambda step: tf.cast(synthetic(step), tf.int64))
    return tf.data.Dataset.choose_from_datasets([dataset_batches, synthetic_batches], choices)


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
    synthetic_fraction: float = 0.0,
    synthetic_size: int = 128,
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
        synthetic_fraction: float in [0, 1], training only: the fraction of batches that hold
            dead-leaves images (`tfvae.data.synthetic`) of `synthetic_size` pixels instead of
            the dataset's, spread evenly over the steps; such a batch holds as many pixels as
            the others. Defaults to `0.0`.
        synthetic_size: int, the height and width of the dead-leaves images. Defaults to `128`.

    Returns:
        A `tf.data.Dataset` of `(noisy, clean)` pairs of float32 tensors `(batch_size, H, W, C)`
        (dead-leaves batches: `(n, synthetic_size, synthetic_size, C)`).

    Raises:
        ValueError: if `images` break the image contract, `batch_size` is not a positive
            integer (or, in training, exceeds the number of images), `first_step` is negative,
            not an integer or nonzero outside training, `grey_fraction` is outside [0, 1],
            `synthetic_fraction` is outside [0, 1] or nonzero outside training, `synthetic_size`
            is not a positive integer, or `noise` is not a valid spec.

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
    if not 0 <= synthetic_fraction <= 1 or (synthetic_fraction and not training):
        raise ValueError(
            "Expected 0 <= synthetic_fraction <= 1, and 0 unless training. "
            f"Received: synthetic_fraction={synthetic_fraction!r}, training={training!r}."
        )
    if not isinstance(synthetic_size, int) or synthetic_size < 1:
        raise ValueError(
            f"Expected synthetic_size to be a positive integer. Received: synthetic_size={synthetic_size!r}."
        )
    noise = parse_noise(noise)
    pixels = tf.constant(images)
    if training:
        clean = _clean_batches(pixels, batch_size, seed, first_step, synthetic_fraction, synthetic_size)
    else:
        clean = tf.data.Dataset.zip(
            tf.data.Dataset.range(len(images)).batch(batch_size), tf.data.Dataset.range(_ENDLESS)
        ).map(lambda index, step: (tf.gather(pixels, index), step))
    noise_seed = _stream_seed(seed, 1)
    batches = clean.map(lambda x, step: (x, tf.random.experimental.stateless_fold_in(noise_seed, step)))
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
