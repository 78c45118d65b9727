"""The noise-level map input (FFDNet's idea): the encoder sees each image's noise std beside it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae.data import add_noise
from tfvae.models import VAE
from tfvae.models.noise_models import estimate_sigma

CLEAN = np.random.default_rng(0).uniform(0.2, 0.8, (4, 16, 16, 3)).astype(np.float32)
NOISY = add_noise(CLEAN, "gaussian:0.2", seed=0)


@pytest.fixture(scope="module")
def vae():
    return VAE((16, 16, 3), arch="conv-spatial", width=8, latent_dim=2, noise_level_input=True, seed=0)


def test_the_encoder_takes_one_channel_more(vae):
    assert vae.encoder.input_shape[-1] == 4


def test_a_given_noise_level_is_a_constant_channel_beside_the_image(vae):
    by_hand = vae.encoder(tf.concat([NOISY, tf.fill((4, 16, 16, 1), 0.25)], axis=-1))
    np.testing.assert_allclose(vae.encode(NOISY, noise_level=0.25)[0], by_hand["z_mean"], atol=1e-6)


def test_blind_use_feeds_the_estimated_noise_level(vae):
    np.testing.assert_allclose(vae.encode(NOISY)[0], vae.encode(NOISY, noise_level=estimate_sigma(NOISY))[0], atol=1e-6)


def test_the_noise_level_changes_the_latent(vae):
    assert not np.allclose(vae.encode(NOISY, noise_level=0.05)[0], vae.encode(NOISY, noise_level=0.4)[0])


def test_a_noise_level_per_image_reaches_its_own_image(vae):
    levels = tf.constant([0.1, 0.2, 0.3, 0.4])
    one_by_one = [vae.encode(NOISY[i : i + 1], noise_level=levels[i])[0] for i in range(4)]
    np.testing.assert_allclose(vae.encode(NOISY, noise_level=levels)[0], np.concatenate(one_by_one), atol=1e-5)


def test_denoise_once_passes_the_noise_level_on(vae):
    given = vae.denoise_once(NOISY, noise_level=0.3)
    np.testing.assert_allclose(given, vae.decode(vae.encode(NOISY, noise_level=0.3)[0]), atol=1e-6)


def test_the_option_survives_a_keras_round_trip(vae, tmp_path):
    vae.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    np.testing.assert_allclose(loaded(NOISY), vae(NOISY), atol=1e-6)


def test_training_with_the_map_lowers_the_loss():
    model = VAE((16, 16, 3), arch="conv-spatial", width=8, latent_dim=2, noise_level_input=True, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = model.evaluate(NOISY, CLEAN, verbose=0, return_dict=True)["loss"]
    model.fit(tf.data.Dataset.from_tensors((NOISY, CLEAN)).repeat(60), epochs=1, verbose=0, shuffle=False)
    assert model.evaluate(NOISY, CLEAN, verbose=0, return_dict=True)["loss"] < before


def test_a_non_boolean_option_is_refused():
    with pytest.raises(ValueError, match="noise_level_input"):
        VAE((16, 16, 3), arch="conv-spatial", noise_level_input=1)
