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


# The residual noisy - median(8 neighbours) has std sigma * RING_RESIDUAL_SCALE on a flat image (the
# median of 8 noisy neighbours is itself noisy): the ratio for flat mid-grey images under the
# selection below, found by simulation; estimate_sigma divides it out.
RING_RESIDUAL_SCALE = 1.1288
FLAT_FRACTION = 0.5  # the flattest half of each image's pixels (smallest spread of their neighbours)
SEARCH_BOUNDS = (1e-3, 1.5)  # sigma is searched in this range
SEARCH_STEPS = 16  # golden-section steps: the bracket shrinks to 5e-4 of its log-width (sigma to 0.3 %)
GOLDEN = (math.sqrt(5) - 1) / 2


def _neighbour_medians(images):
    """At every second pixel each way (a quarter of the pixels pins one sigma per image, at a quarter
    of the cost): (the pixels, the median and the median absolute deviation of their 8 neighbours),
    borders reflected, each (N, ceil(H/2), ceil(W/2), C)."""
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    offsets = [(dy, dx) for dy in range(3) for dx in range(3) if (dy, dx) != (1, 1)]
    ring = tf.stack([padded[:, dy : dy + height : 2, dx : dx + width : 2] for dy, dx in offsets], axis=-1)

    def median(values):  # of 8: the mean of the 4th and 5th largest
        largest = tf.math.top_k(values, k=5, sorted=True).values
        return 0.5 * (largest[..., 3] + largest[..., 4])

    centre = median(ring)
    return images[:, ::2, ::2], centre, median(tf.abs(ring - centre[..., None]))


def estimate_sigma(images):
    """Per-image noise std of a batch (N, H, W, C) in [0, 1] with clipped Gaussian noise, shape (N,).

    Each pixel's signal is taken as the median of its 8 neighbours, which does not involve the
    pixel's own noise; on the flattest half of every second pixel each way (judged by their neighbours alone, so the
    choice does not bias the pixel's noise) sigma maximises the censored-Gaussian likelihood of the
    pixels given that signal (golden-section search on log sigma), divided by
    RING_RESIDUAL_SCALE. Clipped values count as what they are (mass at 0 or 1), so the estimate
    holds at high noise and on MNIST's zero background, where a median-absolute-deviation estimator
    on unclipped pixels falls to half the true sigma. 0 where nothing can be estimated: a flat or
    entirely clipped image, or one smaller than 3x3."""
    images = tf.convert_to_tensor(images, tf.float32)
    count = tf.shape(images)[0]
    if images.shape[1] is not None and (images.shape[1] < 3 or images.shape[2] < 3):
        return tf.zeros([count])
    noisy, signal, spread = (tf.reshape(t, [count, -1]) for t in _neighbour_medians(images))
    kept = tf.maximum(1, tf.cast(FLAT_FRACTION * tf.cast(tf.shape(spread)[1], tf.float32), tf.int32))
    flattest = tf.math.top_k(-spread, k=kept, sorted=False).indices
    noisy, signal = (tf.gather(t, flattest, axis=1, batch_dims=1) for t in (noisy, signal))

    def nll(log_sigma):
        return tf.reduce_sum(censored_gaussian_nll(noisy, signal, tf.exp(log_sigma)[:, None]), axis=1)

    low = tf.fill([count], math.log(SEARCH_BOUNDS[0]))
    high = tf.fill([count], math.log(SEARCH_BOUNDS[1]))
    for _ in range(SEARCH_STEPS):  # the NLL is unimodal in log sigma
        left, right = high - GOLDEN * (high - low), low + GOLDEN * (high - low)
        go_left = nll(left) < nll(right)
        low, high = tf.where(go_left, low, left), tf.where(go_left, right, high)
    sigma = tf.exp(0.5 * (low + high)) / RING_RESIDUAL_SCALE
    inside = (noisy > 0.0) & (noisy < 1.0)
    informative = tf.reduce_any(inside & (tf.abs(noisy - signal) > 0), axis=1)
    return tf.where(informative, sigma, 0.0)


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
        (flat, entirely clipped, smaller than 3x3) fails the step with an InvalidArgumentError."""
        if self.sigma != AUTO:
            return tf.fill([tf.shape(noisy)[0], 1, 1, 1], float(self.sigma))
        estimated = estimate_sigma(noisy)
        tf.debugging.assert_positive(
            estimated,
            message="gaussian:auto could not estimate the noise std of an image (flat, entirely clipped at 0 or 1, "
            "or smaller than 3x3); give the std instead, e.g. --noise-model gaussian:0.1",
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
