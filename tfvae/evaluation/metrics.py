"""Per-image image-quality scores (the benchmark protocol: outputs clipped to [0, 1], max_val 1)."""

import keras
import tensorflow as tf


def psnr(clean: tf.Tensor, denoised: tf.Tensor) -> tf.Tensor:
    """The peak signal-to-noise ratio of each image, in dB (higher is better).

    `denoised` is clipped to [0, 1] first and the peak value is 1, as in the benchmarks.

    Args:
        clean: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1], the reference.
        denoised: float32 tensor or array of the same shape, the images scored.

    Returns:
        A float32 tensor of shape `(N,)`: 10 log10(1 / mean squared error) per image.

    Examples:
        >>> import numpy as np
        >>> from tfvae.evaluation.metrics import psnr
        >>> clean = np.full((2, 8, 8, 1), 0.5, "float32")
        >>> [round(float(value), 2) for value in psnr(clean, clean + 0.1)]  # an error of 0.1 everywhere
        [20.0, 20.0]
    """
    return tf.image.psnr(clean, tf.clip_by_value(denoised, 0.0, 1.0), max_val=1.0)


def ssim(clean: tf.Tensor, denoised: tf.Tensor) -> tf.Tensor:
    """The structural similarity of each image to its reference, at most 1 (identical).

    An 11x11 Gaussian window of sigma 1.5 (`tf.image.ssim`), so images must be at least 11x11;
    `denoised` is clipped to [0, 1] first and the peak value is 1.

    Args:
        clean: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1], the reference.
        denoised: float32 tensor or array of the same shape, the images scored.

    Returns:
        A float32 tensor of shape `(N,)`.

    Examples:
        >>> import numpy as np
        >>> from tfvae.evaluation.metrics import ssim
        >>> clean = np.random.default_rng(0).uniform(size=(2, 16, 16, 1)).astype("float32")
        >>> [round(float(value), 3) for value in ssim(clean, clean)]
        [1.0, 1.0]
        >>> bool(ssim(clean, np.clip(clean + 0.2, 0, 1))[0] < 1)
        True
    """
    return tf.image.ssim(clean, tf.clip_by_value(denoised, 0.0, 1.0), max_val=1.0)


@keras.saving.register_keras_serializable(package="tfvae")
class PSNR(keras.metrics.MeanMetricWrapper):
    """Mean per-image PSNR, for `compile(metrics=[PSNR()])`."""

    def __init__(self, name="psnr", dtype=None):
        super().__init__(fn=psnr, name=name, dtype=dtype)

    def get_config(self):
        """The metric's config: `name` and `dtype`."""
        return {"name": self.name, "dtype": self.dtype}
