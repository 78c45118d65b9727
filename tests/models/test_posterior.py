"""A VAE's posterior in use: samples, their spread, the MMSE estimate, through Keras and the SavedModel."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfvae.models import VAE, with_config
from tfvae.serving import saved_model
from tfvae.serving.endpoints import keras_endpoints, load_endpoints

IMAGES = np.random.default_rng(0).uniform(0, 1, (3, 16, 16, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def vae():
    return VAE((16, 16, 1), arch="conv-spatial", width=8, latent_dim=2, seed=0)


def test_posterior_samples_are_decoded_draws_around_the_posterior_mean(vae):
    samples = vae.posterior_samples(IMAGES, 4).numpy()
    assert samples.shape == (3, 4, 16, 16, 1) and samples.std(axis=1).mean() > 1e-3


def test_posterior_moments_are_those_of_the_same_draws(vae):
    samples = vae.posterior_samples(IMAGES, 6).numpy()
    mean, std = vae.posterior_moments(IMAGES, 6)
    np.testing.assert_allclose(np.stack([mean, std]), np.stack([samples.mean(1), samples.std(1)]), atol=1e-5)


def test_the_mmse_denoiser_is_the_mean_of_its_draws(vae):
    mmse = with_config(vae, mmse_samples=5)
    np.testing.assert_allclose(mmse(IMAGES), vae.posterior_moments(IMAGES, 5)[0], atol=1e-6)


def test_zero_mmse_samples_decode_the_posterior_mean_once(vae):
    np.testing.assert_allclose(vae(IMAGES), vae.decode(vae.encode(IMAGES)[0]), atol=1e-6)


@pytest.mark.parametrize("bad", [-1, 1.5, "8"])
def test_bad_mmse_sample_counts_are_refused(bad):
    with pytest.raises(ValueError, match=f"mmse_samples={bad!r}"):
        VAE((16, 16, 1), arch="conv", mmse_samples=bad)


@pytest.fixture(scope="module")
def exported(vae, tmp_path_factory):
    return saved_model.export_model(with_config(vae, mmse_samples=4), tmp_path_factory.mktemp("sm"), "vae", 1)


RELOAD = """
import json, sys
import numpy as np, tensorflow as tf
signatures = tf.saved_model.load(sys.argv[1]).signatures
images = tf.constant(np.random.default_rng(0).uniform(0, 1, (2, 20, 12, 1)).astype(np.float32))
drawn = signatures["sample_posterior"](images=images, samples=tf.constant(5))
again = signatures["sample_posterior"](images=images, samples=tf.constant(5))["samples"]
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith("tfvae")),
    "shape": drawn["samples"].shape.as_list(),
    "mean_error": float(tf.reduce_max(tf.abs(drawn["mean"] - tf.reduce_mean(drawn["samples"], 1)))),
    "std_error": float(tf.reduce_max(tf.abs(drawn["std"] - tf.math.reduce_std(drawn["samples"], 1)))),
    "repeat_error": float(tf.reduce_max(tf.abs(again - drawn["samples"]))),
}))
"""


@pytest.fixture(scope="module")
def reloaded(exported):
    """sample_posterior called in a fresh process that never imports tfvae."""
    result = subprocess.run([sys.executable, "-c", RELOAD, str(exported)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_sample_posterior_reloads_without_tfvae(reloaded):
    assert reloaded["modules"] == []


def test_sample_posterior_returns_k_samples_of_any_size(reloaded):
    assert reloaded["shape"] == [2, 5, 20, 12, 1]


def test_sample_posterior_mean_and_std_are_those_of_its_samples(reloaded):
    assert max(reloaded["mean_error"], reloaded["std_error"]) < 1e-5


def test_sample_posterior_is_reproducible(reloaded):
    assert reloaded["repeat_error"] == 0.0


def test_an_mmse_export_serves_the_mean_of_k_draws(vae, exported):
    served = tf.saved_model.load(str(exported)).signatures["serving_default"](images=tf.constant(IMAGES))
    np.testing.assert_allclose(served["denoised"], vae.posterior_moments(IMAGES, 4)[0], atol=1e-5)


@pytest.mark.parametrize("bad", [0, -3])
def test_fewer_than_one_sample_is_a_clear_error(exported, bad):
    signature = tf.saved_model.load(str(exported)).signatures["sample_posterior"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expected samples >= 1"):
        signature(images=tf.constant(IMAGES), samples=tf.constant(bad))


def test_keras_and_saved_model_endpoints_draw_the_same_samples(vae, exported):
    from_keras = keras_endpoints(with_config(vae, mmse_samples=4))
    from_saved = load_endpoints(exported)
    np.testing.assert_allclose(
        from_keras.sample_posterior(IMAGES, 3)["samples"], from_saved.sample_posterior(IMAGES, 3)["samples"], atol=1e-5
    )
