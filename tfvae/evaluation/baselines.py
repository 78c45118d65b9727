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
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def bm3d_denoise(noisy, sigma):
    """BM3D (the `bm3d` package, an optional extra) per image with the known noise std `sigma`."""
    import bm3d

    return np.stack([np.asarray(bm3d.bm3d(image, sigma_psd=sigma), np.float32).reshape(image.shape) for image in noisy])
