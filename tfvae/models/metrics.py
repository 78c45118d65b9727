"""PSNR, per image and as the Keras metric the models compile with.

It lives with the models because they need it (a model's `compile()` defaults, the PSNR its
`train_step` reports) and a model cannot import `tfvae.evaluation`, which is built on the models;
`tfvae.evaluation.metrics` offers it next to SSIM. The protocol is the benchmarks': `denoised`
clipped to [0, 1], peak value 1.
"""

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


@keras.saving.register_keras_serializable(package="tfvae")
class PSNR(keras.metrics.MeanMetricWrapper):
    """Mean per-image PSNR, for `compile(metrics=[PSNR()])`."""

    def __init__(self, name="psnr", dtype=None):
        super().__init__(fn=psnr, name=name, dtype=dtype)

    def get_config(self):
        """The metric's config: `name` and `dtype`."""
        return {"name": self.name, "dtype": self.dtype}
