"""Noise models p(noisy | signal): the likelihood of a VAE trained on noisy images alone.

The decoder outputs the clean signal s; the reconstruction term is -log p(noisy | s). The noise
is Gaussian with std sigma and the images are clipped to [0, 1], so the model is the *censored*
Gaussian, exact for clipped noise: a noisy 0 has probability Phi((0 - s) / sigma) (signal plus noise
fell at or below 0), a noisy 1 has 1 - Phi((1 - s) / sigma), and a value inside has the density
N(x; s, sigma^2). Ignoring the clipping would pull the signal away from the bounds (MNIST is mostly 0).

With a decoder that also predicts how unsure it is of each clean pixel, x ~ N(s, v) given z, the
noisy pixel is N(s, v + sigma^2) (censored the same way), and the clean pixel given the noisy one is
known in closed form (`censored_posterior`): the estimate takes the noisy pixel back in where the
decoder is unsure (Laine et al. 2019's step for a blind-spot network, here for a VAE).

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


def censored_posterior(noisy, signal, signal_variance, sigma):
    """Mean and variance of a clean pixel x ~ N(signal, signal_variance) given its noisy value
    noisy = clip(x + n, 0, 1), n ~ N(0, sigma^2); every argument broadcasts (e.g. sigma (N, 1, 1, 1)).

    Inside (0, 1) the two Gaussians combine: mean (sigma^2 signal + v noisy) / (sigma^2 + v),
    variance v sigma^2 / (sigma^2 + v). A noisy 0 says only t = x + n <= 0 (a noisy 1, t >= 1): x
    given t is Gaussian with slope v / (v + sigma^2), so the moments follow from those of the
    truncated normal t, with the inverse Mills ratio lambda = phi(a) / Phi(a).

    Examples:
        >>> from tfvae.models.noise_models import censored_posterior
        >>> mean, variance = censored_posterior(0.8, 0.4, 0.04, 0.2)  # equal variances: halfway
        >>> round(float(mean), 4), round(float(variance), 4)
        (0.6, 0.02)
    """
    noisy, signal, variance, sigma = (
        tf.convert_to_tensor(v, tf.float32) for v in (noisy, signal, signal_variance, sigma)
    )
    noise_variance = tf.square(sigma)
    total = variance + noise_variance
    total_std = tf.sqrt(total)
    gain = variance / total  # the slope of E[x | t]
    within = variance * noise_variance / total  # Var[x | t]
    inside_mean = signal + gain * (noisy - signal)

    def truncated(a, direction):  # t's standardised bound a, t on the side -direction of it
        mills = tf.exp(-0.5 * tf.square(a) - 0.5 * math.log(2 * math.pi) - log_ndtr(a))
        mean = signal - direction * gain * total_std * mills
        spread = tf.maximum(1.0 - a * mills - tf.square(mills), 0.0)  # Var[t | bound] / total
        return mean, within + tf.square(gain) * total * spread

    low_mean, low_variance = truncated((0.0 - signal) / total_std, 1.0)
    high_mean, high_variance = truncated((signal - 1.0) / total_std, -1.0)
    mean = tf.where(noisy <= 0.0, low_mean, tf.where(noisy >= 1.0, high_mean, inside_mean))
    variance = tf.where(noisy <= 0.0, low_variance, tf.where(noisy >= 1.0, high_variance, within))
    return mean, variance


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
        """sigma per image of `noisy`, (N, 1, 1, 1); with "auto", 0 for an image where none can be
        estimated (flat, entirely clipped, smaller than 3x3): one that shows no noise."""
        if self.sigma != AUTO:
            return tf.fill([tf.shape(noisy)[0], 1, 1, 1], float(self.sigma))
        return tf.reshape(estimate_sigma(noisy), [-1, 1, 1, 1])

    def nll(self, noisy, signal, signal_variance=None):
        """-log p(noisy | signal) per image (summed over pixels, nats); with `signal_variance` (the
        decoder's uncertainty about each clean pixel) the noisy pixel's variance is its sum with sigma^2.
        With "auto", an image whose sigma cannot be estimated fails the step with an InvalidArgumentError
        (a likelihood of noise needs noise)."""
        sigma = self.sigmas(noisy)
        if self.sigma == AUTO:
            tf.debugging.assert_positive(
                sigma,
                message="gaussian:auto could not estimate the noise std of an image (flat, entirely clipped at 0 "
                "or 1, or smaller than 3x3); give the std instead, e.g. --noise-model gaussian:0.1",
            )
        if signal_variance is not None:
            sigma = tf.sqrt(signal_variance + tf.square(sigma))
        per_pixel = censored_gaussian_nll(noisy, signal, sigma)
        return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(per_pixel)[0], -1]), axis=1)

    def posterior(self, noisy, signal, signal_variance):
        """Per pixel, the mean and variance of the clean image given `noisy` and the decoder's
        N(signal, signal_variance) (`censored_posterior` with this model's sigma). An image that shows
        no noise (sigma 0 estimated) is its own estimate inside (0, 1)."""
        return censored_posterior(noisy, signal, signal_variance, self.sigmas(noisy))


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
