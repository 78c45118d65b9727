"""Classical denoisers every table shows next to the learned ones: Gaussian blur and BM3D."""

import numpy as np
import tensorflow as tf

from tfvae.evaluation.metrics import psnr

BLUR_WIDTHS = (0.4, 0.5, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0)


def gaussian_blur(images, width):
    """Blur each channel with a Gaussian of standard deviation `width` pixels (reflected borders)."""
    radius = max(1, int(np.ceil(3 * width)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / width) ** 2)
    taps = tf.constant(taps / taps.sum(), tf.float32)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    rows = tf.tile(tf.reshape(taps, (-1, 1, 1, 1)), (1, 1, channels, 1))
    cols = tf.tile(tf.reshape(taps, (1, -1, 1, 1)), (1, 1, channels, 1))
    blurred = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, cols, [1, 1, 1, 1], "VALID")


def best_blur_width(noisy, clean, widths=BLUR_WIDTHS):
    """The blur width with the best mean PSNR on (noisy, clean)."""
    return max(widths, key=lambda w: float(tf.reduce_mean(psnr(clean, gaussian_blur(noisy, w)))))


def bm3d_available():
    """Whether the optional `bm3d` package is installed (`pip install bm3d`)."""
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def bm3d_name(channels: int) -> str:
    """The name tables give `bm3d_denoise` on images of `channels` channels: CBM3D for colour, BM3D for grey."""
    return "CBM3D (true sigma)" if channels == 3 else "BM3D (true sigma)"


def bm3d_denoise(noisy, sigma):
    """BM3D given the true noise level: CBM3D (`bm3d.bm3d_rgb`) for colour, BM3D for grey.

    The one BM3D of the project: every table and benchmark calls this function.

    Args:
        noisy: float array (N, H, W, C) in [0, 1], C 1 (grey) or 3 (RGB).
        sigma: float, the standard deviation of the Gaussian noise.

    Returns:
        float32 array of the same shape: the denoised images.

    Raises:
        ValueError: if the images are not (N, H, W, 1) or (N, H, W, 3).
    """
    import bm3d

    noisy = np.asarray(noisy)
    if noisy.ndim != 4 or noisy.shape[-1] not in (1, 3):
        raise ValueError(f"Expected images (N, H, W, 1) or (N, H, W, 3) for BM3D. Received shape {noisy.shape}.")
    if noisy.shape[-1] == 3:
        denoised = [bm3d.bm3d_rgb(image, sigma) for image in noisy]
    else:
        denoised = [bm3d.bm3d(image[..., 0], sigma_psd=sigma)[..., None] for image in noisy]
    return np.stack(denoised).astype(np.float32)
