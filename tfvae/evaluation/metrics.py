"""Per-image image-quality scores (the benchmark protocol: outputs clipped to [0, 1], max_val 1).

`psnr` and the Keras metric `PSNR` are defined in `tfvae.models.metrics`, below the models that
compile with them, and offered here next to `ssim`.
"""

import tensorflow as tf

from tfvae.models.metrics import PSNR, psnr

__all__ = ["PSNR", "psnr", "ssim"]


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
