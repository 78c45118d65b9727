"""A decoder that predicts each clean pixel's variance: its likelihood, the posterior-mean estimate, its draws."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_models import closed_form_kl, draw_epsilon

from tfvae.models import VAE, HierarchicalVAE
from tfvae.models.noise_models import censored_gaussian_nll, censored_posterior
from tfvae.models.saving import load_model
from tfvae.serving import saved_model

SIGMA = 0.2
RNG = np.random.default_rng(0)
NOISY = np.clip(RNG.uniform(0, 1, (4, 16, 16, 1)) + SIGMA * RNG.normal(size=(4, 16, 16, 1)), 0, 1).astype(np.float32)
MODELS = {
    "vae": lambda: VAE(
        (16, 16, 1), arch="conv", width=8, latent_dim=4, noise_model=f"gaussian:{SIGMA}", decoder_variance=True, seed=0
    ),
    "hvae": lambda: HierarchicalVAE(
        (16, 16, 1), levels=2, width=8, latent_dim=2, noise_model=f"gaussian:{SIGMA}", decoder_variance=True, seed=0
    ),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request):
    return MODELS[request.param]()


def split(model, output):
    signal, log_variance = model.split_output(output)
    return np.asarray(signal), np.exp(np.asarray(log_variance))


def test_the_decoder_outputs_a_mean_and_a_variance_per_channel():
    vae = MODELS["vae"]()
    assert vae.decoder_output(np.zeros((2, 4), np.float32)).shape == (2, 16, 16, 2)


def test_the_denoiser_is_the_posterior_mean_of_the_clean_pixel_given_the_noisy_one():
    vae = MODELS["vae"]()
    signal, variance = split(vae, vae.decoder_output(vae.encode(NOISY)[0]))
    expected = np.clip(censored_posterior(NOISY, signal, variance, SIGMA)[0], 0, 1)
    np.testing.assert_allclose(vae(NOISY), expected, atol=1e-6)


def test_the_estimate_lies_between_the_decoders_mean_and_the_noisy_pixel():
    vae = MODELS["vae"]()
    signal = np.clip(split(vae, vae.decoder_output(vae.encode(NOISY)[0]))[0], 0, 1)
    inside = (NOISY > 0) & (NOISY < 1)
    estimate = np.asarray(vae(NOISY))
    low, high = np.minimum(signal, NOISY), np.maximum(signal, NOISY)
    assert np.all((estimate[inside] >= low[inside] - 1e-6) & (estimate[inside] <= high[inside] + 1e-6))


def test_the_loss_scores_the_noisy_image_under_the_signal_and_noise_variances_plus_the_kl():
    vae = MODELS["vae"]()
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    epsilon = RNG.normal(size=(4, 4)).astype(np.float32)
    z_mean, z_log_var = (np.asarray(t) for t in vae.encode(NOISY))
    signal, variance = split(vae, vae.decoder_output(z_mean + np.exp(z_log_var / 2) * epsilon))
    nll = np.asarray(censored_gaussian_nll(NOISY, signal, np.sqrt(variance + SIGMA**2))).reshape(4, -1).sum(1)
    draw_epsilon(vae, epsilon)
    expected = nll.mean() + closed_form_kl(z_mean, z_log_var).sum(1).mean()
    assert vae.train_on_batch(NOISY, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-4)


def test_the_posterior_variance_holds_the_spread_of_the_draws_and_each_draws_own_variance(model):
    state = model.posterior_state(NOISY)
    draws = [[np.asarray(t) for t in model.draw_moments(state, 0, index)] for index in range(5)]
    means, variances = (np.stack(part) for part in zip(*draws))
    std = np.asarray(model.posterior_moments(NOISY, 5)[1])
    np.testing.assert_allclose(std**2, means.var(0) + variances.mean(0), atol=1e-5)


def expected_clipped(mean, variance):
    """E[clip(X, 0, 1)] for X ~ N(mean, variance), elementwise."""
    std = np.sqrt(variance)
    low, high = -mean / std, (1 - mean) / std
    cdf = [0.5 * np.asarray(tf.math.erfc(-t / np.sqrt(2))) for t in (low, high)]
    pdf = [np.exp(-0.5 * t**2) / np.sqrt(2 * np.pi) for t in (low, high)]
    return mean * (cdf[1] - cdf[0]) + std * (pdf[0] - pdf[1]) + (1 - cdf[1])


def test_each_draw_is_its_zs_clean_posterior_clipped(model):
    # Draw k decodes the z of draw_moments(state, seed, k): averaged over 200 draws, the pixels' own
    # draws leave only their Monte Carlo error (std / sqrt(200), about 0.006 here) around E[clip].
    samples = np.asarray(model.posterior_samples(NOISY, 200))
    state = model.posterior_state(NOISY)
    expected = np.mean(
        [expected_clipped(*(np.asarray(t) for t in model.draw_moments(state, 0, k))) for k in range(200)], axis=0
    )
    assert np.abs(samples.mean(1) - expected).mean() < 0.01


def test_the_draws_hold_the_clean_pixels_uncertainty(model):
    spread = np.asarray(model.posterior_samples(NOISY, 8)).std(axis=1).mean()
    assert spread > 0.02  # the untrained decoder's std is 0.1 per pixel, the latent's spread far less


def test_draws_are_seeded(model):
    np.testing.assert_array_equal(model.posterior_samples(NOISY, 3, seed=4), model.posterior_samples(NOISY, 3, seed=4))


def test_the_variance_head_survives_a_keras_round_trip(model, tmp_path):
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(load_model(tmp_path / "m.keras")(NOISY), model(NOISY), atol=1e-6)


@pytest.mark.parametrize("model_class", [VAE, HierarchicalVAE])
def test_a_blind_variance_head_builds_and_denoises(model_class):
    # gaussian:auto estimates sigma from the image; building must not need one (a blank image has none).
    model = model_class((16, 16, 1), width=8, latent_dim=2, noise_model="gaussian:auto", decoder_variance=True)
    assert model(NOISY).shape == NOISY.shape


@pytest.mark.parametrize("model_class", [VAE, HierarchicalVAE])
def test_a_blind_variance_head_returns_an_image_that_shows_no_noise_unchanged(model_class):
    # An estimated sigma of 0 makes the noisy pixel exact: the posterior mean is the pixel itself.
    model = model_class((16, 16, 1), width=8, latent_dim=2, noise_model="gaussian:auto", decoder_variance=True)
    flat = np.full((2, 16, 16, 1), 0.4, np.float32)
    np.testing.assert_allclose(model(flat), flat, atol=1e-6)


def test_a_variance_head_needs_a_noise_model():
    with pytest.raises(ValueError, match="Expected a noise model with decoder_variance=True"):
        VAE((16, 16, 1), arch="conv", decoder_variance=True)


def test_a_variance_head_is_a_boolean():
    with pytest.raises(ValueError, match="decoder_variance='yes'"):
        VAE((16, 16, 1), arch="conv", noise_model="gaussian:0.1", decoder_variance="yes")


def test_a_model_without_the_head_has_draws_of_zero_variance():
    vae = VAE((16, 16, 1), arch="conv", width=8, latent_dim=4, noise_model=f"gaussian:{SIGMA}", seed=0)
    assert float(tf.reduce_max(vae.draw_moments(vae.posterior_state(NOISY), 0, 0)[1])) == 0.0


def test_an_export_serves_the_posterior_mean_estimate(tmp_path):
    vae = MODELS["vae"]()
    exported = saved_model.export_model(vae, tmp_path, "vae", 1)
    served = tf.saved_model.load(str(exported)).signatures["serving_default"](images=tf.constant(NOISY))
    np.testing.assert_allclose(served["denoised"], vae(NOISY), atol=1e-5)
