"""The posterior temperature: the spread of the draws (of z, and of the pixels given z), scaled; its calibration."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfvae.data import add_noise
from tfvae.evaluation.calibration import calibrated_temperature, calibration_report
from tfvae.evaluation.metrics import interval_coverage
from tfvae.models import VAE, HierarchicalVAE, with_config

IMAGES = np.random.default_rng(0).uniform(0, 1, (3, 16, 16, 1)).astype(np.float32)
MODELS = {
    "vae": lambda: VAE((16, 16, 1), arch="conv-spatial", width=8, latent_dim=2, seed=0),
    "hvae": lambda: HierarchicalVAE((16, 16, 1), levels=2, width=8, latent_dim=2, residual_blocks=0, seed=0),
    # variance heads: the temperature also scales each clean pixel's spread given z
    "vae-variance": lambda: VAE(
        (16, 16, 1), arch="conv-spatial", width=8, latent_dim=2, noise_model="gaussian:0.2", decoder_variance=True
    ),
    "hvae-variance": lambda: HierarchicalVAE(
        (16, 16, 1), levels=2, width=8, latent_dim=2, noise_model="gaussian:0.2", decoder_variance=True
    ),
}


@pytest.mark.parametrize("name", MODELS)
def test_at_temperature_zero_every_draw_is_the_posterior_mean_decoded(name):
    frozen = with_config(MODELS[name](), posterior_temperature=0.0)
    draws = frozen.posterior_samples(IMAGES, 3).numpy()
    np.testing.assert_allclose(draws, np.repeat(frozen.denoise_once(IMAGES).numpy()[:, None], 3, axis=1), atol=1e-5)


def test_a_vae_draw_at_temperature_t_decodes_the_mean_plus_t_times_the_spread():
    vae = MODELS["vae"]()
    hot = with_config(vae, posterior_temperature=2.0)
    z_mean, z_log_var = vae.encode(IMAGES)
    epsilon = tf.random.stateless_normal(z_mean.shape, tf.constant([5, 1], tf.int64))  # draw 1 of seed 5
    expected = vae.decode(z_mean + 2.0 * np.exp(0.5 * z_log_var) * epsilon)
    np.testing.assert_allclose(hot.draw_moments(hot.posterior_state(IMAGES), 5, 1)[0], expected, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_a_higher_temperature_spreads_the_draws_more(name):
    model = MODELS[name]()
    spread = [
        with_config(model, posterior_temperature=t).posterior_samples(IMAGES, 8).numpy().std(1).mean()
        for t in (0.5, 2.0)
    ]
    assert spread[1] > 2 * spread[0]


@pytest.mark.parametrize("bad", [-0.5, "1"])
def test_a_negative_or_non_numeric_temperature_is_refused(bad):
    with pytest.raises(ValueError, match="posterior_temperature"):
        VAE((16, 16, 1), arch="conv-spatial", posterior_temperature=bad)


def test_the_calibrated_temperature_of_scaled_normal_draws_is_the_closed_form():
    # Draws N(0, t^2), error N(0, s^2): the 90 % interval +-1.645 t covers erf(1.645 t / (s sqrt 2)), 0.9 at t = s.
    temperature, coverage = calibrated_temperature(lambda t: math.erf(1.6449 * t / (0.7 * math.sqrt(2))))
    assert temperature == pytest.approx(0.7, rel=2e-3) and coverage == pytest.approx(0.9, abs=1e-3)


def test_a_coverage_out_of_reach_stops_at_the_bound():
    temperature, _ = calibrated_temperature(lambda t: 0.5, bounds=(0.1, 4.0))
    assert temperature == pytest.approx(4.0, rel=1e-3)


def test_the_calibration_report_gives_the_coverage_of_the_draws_at_its_temperature():
    vae = MODELS["vae"]()
    report = calibration_report(vae, IMAGES, ["gaussian:0.2"], samples=16, seed=3)
    tempered = with_config(vae, posterior_temperature=report["temperature"])
    draws = tempered.posterior_samples(add_noise(IMAGES, "gaussian:0.2", seed=3), 16, 3).numpy()
    assert report["coverage_90"]["gaussian:0.2"] == interval_coverage(draws, IMAGES)
