"""Per-image image-quality scores (the benchmark protocol: outputs clipped to [0, 1], max_val 1), and
how well posterior draws know their own error.

`psnr` and the Keras metric `PSNR` are defined in `tfvae.models.metrics`, below the models that
compile with them, and offered here next to `ssim`.
"""

import numpy as np
import tensorflow as tf

from tfvae.models.metrics import PSNR, psnr

__all__ = ["PSNR", "interval_coverage", "psnr", "ssim", "std_error_correlation"]
COVERAGE_LEVEL = 0.9  # the central interval whose coverage calibration is judged by


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


def interval_coverage(draws: np.ndarray, clean: np.ndarray, level: float = COVERAGE_LEVEL) -> float:
    """The fraction of pixels whose clean value lies in the central `level` interval of their draws.

    A calibrated posterior covers `level` of the pixels; fewer means over-confident draws, more
    under-confident ones.

    Args:
        draws: float array `(N, K, H, W, C)`, K posterior draws per image.
        clean: float array `(N, H, W, C)`, the clean images.
        level: float in (0, 1), the interval's probability. Defaults to `0.9`.

    Returns:
        A float in [0, 1].

    Examples:
        >>> import numpy as np
        >>> from tfvae.evaluation.metrics import interval_coverage
        >>> rng = np.random.default_rng(0)
        >>> clean = rng.normal(size=(50, 4, 4, 1))
        >>> draws = clean[:, None] + rng.normal(size=(50, 200, 4, 4, 1))  # clean ~ draw: calibrated
        >>> round(interval_coverage(draws, clean + rng.normal(size=clean.shape)), 1)
        0.9
    """
    lower, upper = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return float(np.mean((clean >= lower) & (clean <= upper)))


def std_error_correlation(draws: np.ndarray, clean: np.ndarray) -> float:
    """The Pearson correlation, over pixels, of the draws' std with the absolute error of their mean.

    Args:
        draws: float array `(N, K, H, W, C)`, K posterior draws per image.
        clean: float array `(N, H, W, C)`, the clean images.

    Returns:
        A float in [-1, 1]: near 1 when the draws spread where their mean is wrong.

    Examples:
        >>> import numpy as np
        >>> from tfvae.evaluation.metrics import std_error_correlation
        >>> rng = np.random.default_rng(0)
        >>> scale = rng.uniform(0.01, 0.3, size=(20, 8, 8, 1))  # each pixel's own uncertainty
        >>> clean = scale * rng.normal(size=scale.shape)
        >>> draws = scale[:, None] * rng.normal(size=(20, 64, 8, 8, 1))
        >>> std_error_correlation(draws, clean) > 0.4
        True
    """
    error = np.abs(draws.mean(axis=1) - clean).ravel()
    return float(np.corrcoef(draws.std(axis=1).ravel(), error)[0, 1])
