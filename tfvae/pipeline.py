"""tf.data pipelines of (noisy, clean) batches with fresh, seeded noise every epoch.

Order: cache -> shuffle -> batch -> noise -> prefetch. The noise seed of each batch comes from
`tf.data.Dataset.random(seed, rerandomize_each_iteration=training)`, so training noise changes every
epoch yet is bit-identical between two runs with the same seed, and validation noise never changes.
Noise is drawn per global batch, so the replicas of a tf.distribute strategy (which split the batch)
never share it.
"""

import tensorflow as tf

from tfvae.images import check_images
from tfvae.noise import parse_noise


def default_noise_device():
    """The first GPU when there is exactly one device to feed, else None (noise made on the host)."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus and tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return gpus[0].name
    return None


def binarized(images, seed):
    """A seeded Bernoulli sample of the pixels: 1 with probability equal to the intensity."""
    return tf.cast(tf.random.stateless_uniform(tf.shape(images), seed) < images, images.dtype)


def make_dataset(images, noise, batch_size, seed, training, device="auto", binarize=False):
    """A tf.data.Dataset of `(noisy, clean)` float32 batches.

    Args:
        images: clean float32 images in [0, 1], shape (N, H, W, C).
        noise: a noise spec string or object (see `tfvae.noise`).
        batch_size: images per batch; training drops the last partial batch (static shapes).
        seed: fixes the shuffling order and the noise.
        training: shuffle every epoch and draw fresh noise every epoch; otherwise keep the order
            and the noise fixed (comparable validation scores).
        device: where the noise is generated: "auto" (the GPU when one is visible), None (host),
            or a device name; clean batches are copied there first.
        binarize: replace each clean batch by a fresh Bernoulli sample of it (dynamically
            binarized MNIST, the density-modelling setting); noise is then added to that.
    """
    images = check_images(images)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Expected batch_size to be a positive integer. Received: batch_size={batch_size!r}.")
    if training and batch_size > len(images):
        raise ValueError(
            f"Expected batch_size <= the {len(images)} training images (partial batches are dropped). "
            f"Received: batch_size={batch_size}."
        )
    noise = parse_noise(noise)
    clean = tf.data.Dataset.from_tensor_slices(images).cache()
    if training:
        clean = clean.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    clean = clean.batch(batch_size, drop_remainder=training)
    noise_seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=training).batch(2)
    batches = tf.data.Dataset.zip(clean, noise_seeds)
    device = default_noise_device() if device == "auto" else device
    if device:
        batches = batches.apply(tf.data.experimental.copy_to_device(device))
    if binarize:
        batches = batches.map(lambda x, s: (binarized(x, tf.random.experimental.stateless_fold_in(s, 1)), s))
    batches = batches.map(lambda x, s: (noise(x, s), x), num_parallel_calls=tf.data.AUTOTUNE)
    return batches.prefetch(tf.data.AUTOTUNE)
