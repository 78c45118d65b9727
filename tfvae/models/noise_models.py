"""Noise models p(noisy | signal): the likelihood of a VAE trained on noisy images alone.

The decoder outputs the clean signal s; the reconstruction term is -log p(noisy | s). The noise
is Gaussian with std sigma and the images are clipped to [0, 1], so the model is the *censored*
Gaussian, exact for clipped noise: a noisy 0 has probability Phi((0 - s) / sigma) (signal plus noise
fell at or below 0), a noisy 1 has 1 - Phi((1 - s) / sigma), and a value inside has the density
N(x; s, sigma^2). Ignoring the clipping would pull the signal away from the bounds (MNIST is mostly 0).

Specs: "gaussian:0.2" (sigma known, the same for every image) or "gaussian:auto" (sigma estimated
per image from the noisy image itself, `estimate_sigma`: a blind model).
"""

import dataclasses
import math

import tensorflow as tf

AUTO = "auto"
_ASYMPTOTIC_BELOW = -8.0  # log Phi's series is exact to ~1e-5 nats there; erfc is still representable above


def log_ndtr(t):
    """log Phi(t), the log of the standard normal CDF, finite for every t (float32: erfc underflows below -13)."""
    direct = tf.math.log(0.5 * tf.math.erfc(-tf.maximum(t, _ASYMPTOTIC_BELOW) / math.sqrt(2.0)))
    tail = tf.minimum(t, _ASYMPTOTIC_BELOW)
    inverse_square = 1.0 / tf.square(tail)
    series = 1.0 - inverse_square + 3.0 * tf.square(inverse_square) - 15.0 * inverse_square**3
    asymptotic = -0.5 * tf.square(tail) - tf.math.log(-tail) - 0.5 * math.log(2 * math.pi) + tf.math.log(series)
    return tf.where(t < _ASYMPTOTIC_BELOW, asymptotic, direct)


def censored_gaussian_nll(noisy, signal, sigma):
    """-log p(noisy | signal) of clipped Gaussian noise, per pixel; `sigma` broadcasts (e.g. (N, 1, 1, 1))."""
    sigma = tf.broadcast_to(tf.cast(sigma, signal.dtype), tf.shape(signal))
    inside = 0.5 * tf.square((noisy - signal) / sigma) + tf.math.log(sigma) + 0.5 * math.log(2 * math.pi)
    at_zero = -log_ndtr(-signal / sigma)
    at_one = -log_ndtr((signal - 1.0) / sigma)
    return tf.where(noisy <= 0.0, at_zero, tf.where(noisy >= 1.0, at_one, inside))


def _haar_diagonal_band(images):
    """The orthonormal Haar wavelet's diagonal (HH) coefficients of each 2x2 block, (N, H/2, W/2, C),
    and whether the block has no clipped pixel (values at 0 or 1 are not Gaussian)."""
    even = tf.shape(images)[1:3] // 2 * 2
    images = images[:, : even[0], : even[1], :]
    a, b = images[:, 0::2, 0::2], images[:, 0::2, 1::2]
    c, d = images[:, 1::2, 0::2], images[:, 1::2, 1::2]
    blocks = tf.stack([a, b, c, d], axis=-1)
    unclipped = tf.reduce_all((blocks > 0.0) & (blocks < 1.0), axis=-1)
    return (a - b - c + d) / 2.0, unclipped


def estimate_sigma(images):
    """Per-image noise std of a batch (N, H, W, C) in [0, 1], shape (N,): the median absolute
    HH coefficient over unclipped blocks / 0.6745 (Donoho's robust estimator, as scikit-image's
    `estimate_sigma` but on the Haar band); 0 where no block is unclipped or the image is flat."""
    band, unclipped = _haar_diagonal_band(tf.convert_to_tensor(images, tf.float32))
    count = tf.shape(images)[0]
    magnitudes = tf.reshape(tf.where(unclipped, tf.abs(band), math.inf), [count, -1])
    valid = tf.reduce_sum(tf.cast(tf.reshape(unclipped, [count, -1]), tf.int32), axis=1)
    ordered = tf.sort(magnitudes, axis=1)
    median = tf.gather(ordered, tf.maximum(valid - 1, 0) // 2, axis=1, batch_dims=1)
    return tf.where(valid > 0, median / 0.6745, 0.0)


@dataclasses.dataclass(frozen=True)
class GaussianNoiseModel:
    """Clipped Gaussian noise of std `sigma` (a number > 0), or estimated per image (`sigma="auto"`)."""

    sigma: object = AUTO

    def __post_init__(self):
        if self.sigma != AUTO and not (isinstance(self.sigma, (int, float)) and self.sigma > 0):
            raise ValueError(
                f"Expected the noise model's sigma to be a number > 0 or 'auto'. Received: {self.sigma!r}."
            )

    @property
    def spec(self):
        return f"gaussian:{self.sigma}"

    def sigmas(self, noisy):
        """sigma per image of `noisy`, (N, 1, 1, 1); with "auto", an image where none can be estimated
        (flat, or entirely clipped) fails the step with an InvalidArgumentError."""
        if self.sigma != AUTO:
            return tf.fill([tf.shape(noisy)[0], 1, 1, 1], float(self.sigma))
        estimated = estimate_sigma(noisy)
        tf.debugging.assert_positive(
            estimated,
            message="gaussian:auto could not estimate the noise std of an image (flat, or every 2x2 block clipped "
            "at 0 or 1); give the std instead, e.g. --noise-model gaussian:0.1",
        )
        return tf.reshape(estimated, [-1, 1, 1, 1])

    def nll(self, noisy, signal):
        """-log p(noisy | signal) per image (summed over pixels, nats)."""
        per_pixel = censored_gaussian_nll(noisy, signal, self.sigmas(noisy))
        return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(per_pixel)[0], -1]), axis=1)


NOISE_MODELS = {"gaussian": GaussianNoiseModel}


def parse_noise_model(spec):
    """A noise model from its spec: "gaussian:<sigma>" or "gaussian:auto"."""
    family, _, value = str(spec).partition(":")
    if family not in NOISE_MODELS or not value:
        raise ValueError(
            f"Expected a noise model spec like 'gaussian:0.2' or 'gaussian:auto' ({', '.join(NOISE_MODELS)}). "
            f"Received: {spec!r}."
        )
    try:
        return NOISE_MODELS[family](value if value == AUTO else float(value))
    except ValueError:
        raise ValueError(
            f"Expected the noise model's sigma to be a number > 0 or 'auto'. Received: {spec!r}."
        ) from None
