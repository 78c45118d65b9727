"""Per-image image-quality scores (the benchmark protocol: outputs clipped to [0, 1], max_val 1)."""

import keras
import tensorflow as tf


def psnr(clean, denoised):
    """PSNR in dB per image, of `denoised` clipped to [0, 1] against `clean`."""
    return tf.image.psnr(clean, tf.clip_by_value(denoised, 0.0, 1.0), max_val=1.0)


def ssim(clean, denoised):
    """SSIM per image (11x11 Gaussian window, sigma 1.5), of `denoised` clipped to [0, 1]."""
    return tf.image.ssim(clean, tf.clip_by_value(denoised, 0.0, 1.0), max_val=1.0)


@keras.saving.register_keras_serializable(package="tfvae")
class PSNR(keras.metrics.MeanMetricWrapper):
    """Mean per-image PSNR, for `compile(metrics=[PSNR()])`."""

    def __init__(self, name="psnr", dtype=None):
        super().__init__(fn=psnr, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
