import math

import numpy as np
import pytest
import tensorflow as tf

from tfvae.data import noise
from tfvae.models import noise_models


def log_phi(t):
    """log of the standard normal CDF, in float64 (exact to t = -37)."""
    return math.log(0.5 * math.erfc(-t / math.sqrt(2)))


@pytest.mark.parametrize("t", [-12.0, -8.5, -7.5, -3.0, 0.0, 2.0])
def test_log_ndtr_matches_the_closed_form(t):
    assert float(noise_models.log_ndtr(tf.constant(t))) == pytest.approx(log_phi(t), rel=1e-5)


def test_log_ndtr_is_finite_far_in_the_tail():
    assert np.isfinite(noise_models.log_ndtr(tf.constant([-40.0, -200.0])).numpy()).all()


def test_inside_the_range_the_nll_is_the_gaussian_density():
    nll = noise_models.censored_gaussian_nll(tf.constant(0.7), tf.constant(0.5), 0.1)
    expected = 0.5 * (0.2 / 0.1) ** 2 + math.log(0.1) + 0.5 * math.log(2 * math.pi)
    assert float(nll) == pytest.approx(expected, rel=1e-5)


def test_a_noisy_zero_has_the_probability_of_falling_below_zero():
    nll = noise_models.censored_gaussian_nll(tf.constant(0.0), tf.constant(0.05), 0.1)
    assert float(nll) == pytest.approx(-log_phi(-0.5), rel=1e-5)


def test_a_noisy_one_has_the_probability_of_rising_above_one():
    nll = noise_models.censored_gaussian_nll(tf.constant(1.0), tf.constant(0.9), 0.2)
    assert float(nll) == pytest.approx(-log_phi(-0.5), rel=1e-5)


def test_the_clipped_likelihood_is_maximised_at_the_true_signal():
    # The censored model is exact for clipped noise: its maximum-likelihood signal is the true one,
    # where the plain Gaussian's (the mean of the clipped values) is biased away from the bound.
    signal, sigma = 0.05, 0.2
    noisy = noise.add_noise(np.full((1, 64, 64, 1), signal, np.float32), f"gaussian:{sigma}", seed=0)
    grid = np.linspace(-0.2, 0.3, 501, dtype=np.float32)
    nll = [float(tf.reduce_sum(noise_models.censored_gaussian_nll(noisy, tf.constant(s), sigma))) for s in grid]
    assert abs(grid[int(np.argmin(nll))] - signal) < 0.01


def test_clipping_biases_the_plain_mean():  # the fact the previous test is about
    noisy = noise.add_noise(np.full((1, 64, 64, 1), 0.05, np.float32), "gaussian:0.2", seed=0)
    assert noisy.mean() - 0.05 > 0.05


@pytest.mark.parametrize("sigma", [0.05, 0.1, 0.2, 0.5])
def test_sigma_is_estimated_from_the_noisy_image(sigma):
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.3, 0.7, 64, dtype=np.float32)[None, :, None, None] * np.ones((8, 64, 64, 3), np.float32)
    noisy = np.clip(ramp + sigma * rng.standard_normal(ramp.shape).astype(np.float32), 0, 1)
    estimated = noise_models.estimate_sigma(noisy).numpy()
    np.testing.assert_allclose(estimated, sigma, rtol=0.1)


@pytest.mark.parametrize("sigma", [0.2, 0.5])
def test_sigma_is_estimated_where_the_noise_is_mostly_clipped(sigma):
    # A dark image: at sigma 0.5 about 45 % of the pixels are clipped to 0; an estimator on the
    # unclipped pixels alone would find half the true sigma.
    noisy = noise.add_noise(np.full((8, 64, 64, 1), 0.05, np.float32), f"gaussian:{sigma}", seed=0)
    np.testing.assert_allclose(noise_models.estimate_sigma(noisy).numpy(), sigma, rtol=0.15)


def test_sigma_of_an_image_smaller_than_3x3_is_zero():
    assert noise_models.estimate_sigma(np.full((1, 2, 2, 1), 0.4, np.float32)).numpy()[0] == 0.0


def test_sigma_of_a_flat_image_is_zero():
    assert noise_models.estimate_sigma(np.full((1, 8, 8, 1), 0.4, np.float32)).numpy()[0] == 0.0


def test_auto_on_a_flat_image_is_refused():
    model = noise_models.parse_noise_model("gaussian:auto")
    flat = tf.fill([2, 8, 8, 1], 0.4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="could not estimate the noise std"):
        model.nll(flat, flat)


def test_auto_on_an_image_that_shows_no_noise_keeps_its_pixels_as_the_posterior_mean():
    model = noise_models.parse_noise_model("gaussian:auto")
    flat = tf.fill([2, 8, 8, 1], 0.4)
    mean, _ = model.posterior(flat, tf.fill([2, 8, 8, 1], 0.7), tf.fill([2, 8, 8, 1], 0.01))
    np.testing.assert_allclose(mean, flat, atol=1e-6)


def test_a_known_sigma_is_used_for_every_image():
    model = noise_models.parse_noise_model("gaussian:0.2")
    assert model.sigmas(tf.zeros([3, 4, 4, 1])).numpy().ravel().tolist() == pytest.approx([0.2] * 3)


@pytest.mark.parametrize("spec", ["gaussian:0", "gaussian:-0.1", "gaussian:x", "gaussian", "poisson:10", ""])
def test_bad_noise_model_specs_name_what_was_received(spec):
    with pytest.raises(ValueError, match=f"Received: .*{spec!r}"):
        noise_models.parse_noise_model(spec)


# === The clean pixel given the noisy one (a decoder that predicts its variance v) ===
def posterior_by_quadrature(noisy, signal, variance, sigma):
    """Mean and variance of x ~ N(signal, variance) given clip(x + n, 0, 1) = noisy, by summing over a fine grid."""
    x = np.linspace(signal - 12 * math.sqrt(variance), signal + 12 * math.sqrt(variance), 400_001)
    prior = np.exp(-0.5 * (x - signal) ** 2 / variance)
    if noisy <= 0:
        likelihood = np.exp(np.vectorize(log_phi)(-x / sigma))
    elif noisy >= 1:
        likelihood = np.exp(np.vectorize(log_phi)((x - 1) / sigma))
    else:
        likelihood = np.exp(-0.5 * (noisy - x) ** 2 / sigma**2)
    weights = prior * likelihood / (prior * likelihood).sum()
    mean = (weights * x).sum()
    return mean, (weights * (x - mean) ** 2).sum()


# (noisy, signal, variance, sigma): inside the range, and clipped at 0 and at 1 near and far from the signal
POSTERIOR_CASES = [
    (0.6, 0.4, 0.01, 0.1),
    (0.0, 0.1, 0.04, 0.2),
    (0.0, 0.3, 0.01, 0.1),
    (1.0, 0.9, 0.02, 0.3),
    (1.0, 0.2, 0.05, 0.2),
]


def posterior(noisy, signal, variance, sigma):
    mean, variance = noise_models.censored_posterior(
        *(tf.constant(v, tf.float32) for v in (noisy, signal, variance, sigma))
    )
    return float(mean), float(variance)


@pytest.mark.parametrize(("noisy", "signal", "variance", "sigma"), POSTERIOR_CASES)
def test_the_clean_pixels_posterior_mean_is_the_closed_form(noisy, signal, variance, sigma):
    assert posterior(noisy, signal, variance, sigma)[0] == pytest.approx(
        posterior_by_quadrature(noisy, signal, variance, sigma)[0], abs=1e-5
    )


@pytest.mark.parametrize(("noisy", "signal", "variance", "sigma"), POSTERIOR_CASES)
def test_the_clean_pixels_posterior_variance_is_the_closed_form(noisy, signal, variance, sigma):
    assert posterior(noisy, signal, variance, sigma)[1] == pytest.approx(
        posterior_by_quadrature(noisy, signal, variance, sigma)[1], rel=1e-3
    )


def test_a_decoder_sure_of_the_pixel_keeps_its_signal():
    assert posterior(0.9, 0.3, 1e-8, 0.2)[0] == pytest.approx(0.3, abs=1e-6)


def test_without_noise_the_noisy_pixel_is_the_clean_one():
    assert posterior(0.9, 0.3, 0.05, 1e-5)[0] == pytest.approx(0.9, abs=1e-5)


def test_equal_uncertainties_meet_halfway_with_half_the_variance():
    assert posterior(0.8, 0.4, 0.04, 0.2) == pytest.approx((0.6, 0.02), abs=1e-6)


def test_a_noisy_zero_pulls_the_clean_pixel_down():
    assert posterior(0.0, 0.2, 0.04, 0.2)[0] < 0.2


def test_the_signals_variance_adds_to_the_noises_in_the_likelihood():
    rng = np.random.default_rng(0)
    noisy = np.clip(rng.uniform(0, 1, (2, 8, 8, 1)) + 0.2 * rng.normal(size=(2, 8, 8, 1)), 0, 1).astype(np.float32)
    signal = rng.uniform(0, 1, noisy.shape).astype(np.float32)
    model = noise_models.GaussianNoiseModel(0.2)
    expected = noise_models.GaussianNoiseModel(math.sqrt(0.2**2 + 0.03)).nll(noisy, signal)
    np.testing.assert_allclose(model.nll(noisy, signal, tf.fill(noisy.shape, 0.03)), expected, rtol=1e-6)
