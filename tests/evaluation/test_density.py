import keras
import numpy as np
import pytest

from tfvae import data
from tfvae.data.pipeline import make_dataset
from tfvae.evaluation import density
from tfvae.models import VAE, with_network_dtype


@pytest.fixture(scope="module")
def trained_bernoulli_vae(fake_data_root):
    """A small Bernoulli MLP VAE trained ~300 steps on the generated MNIST, and held-out images."""
    root = fake_data_root
    train = data.load("mnist", "train", data_dir=root).images
    held_out = data.load("mnist", "validation", data_dir=root).images[:64]
    keras.utils.set_random_seed(0)
    vae = VAE((28, 28, 1), arch="mlp", width=128, latent_dim=8, likelihood="bernoulli", seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(2e-3), steps_per_execution=16)
    vae.fit(
        make_dataset(train, "none", 128, seed=0, training=True), epochs=5, steps_per_epoch=64, verbose=0, shuffle=False
    )
    return vae, held_out


def test_importance_weighted_bound_is_above_the_elbo_and_tightens_with_k(trained_bernoulli_vae):
    vae, images = trained_bernoulli_vae
    scores = {k: density.density_scores(vae, images, samples=k, chunk=50) for k in (1, 10, 200)}
    # With one sample the bound is the ELBO estimate itself.
    assert scores[1]["nll_nats"] == pytest.approx(-scores[1]["elbo_nats"], rel=1e-5)
    for k in (10, 200):
        assert -scores[k]["nll_nats"] >= scores[k]["elbo_nats"]  # log-mean-exp >= mean
    assert scores[200]["nll_nats"] < scores[10]["nll_nats"] < scores[1]["nll_nats"]
    assert 20 < scores[200]["nll_nats"] < 250  # a real but small model of the generated digits
    assert scores[200]["nll_bits_per_dim"] == pytest.approx(scores[200]["nll_nats"] / (784 * np.log(2)))
    # Per-image NLLs of 64 digits spread by a few to tens of nats: a standard error well above 0, below 10.
    assert 0.1 < scores[200]["nll_standard_error_nats"] < 10
    assert scores[1]["nll_standard_error_nats"] > 0


def test_a_bfloat16_model_is_scored_in_float32(trained_bernoulli_vae):
    vae, images = trained_bernoulli_vae
    bfloat16 = with_network_dtype(vae, "mixed_bfloat16")
    assert bfloat16.decoder.layers[-1].compute_dtype == "bfloat16"
    assert density.density_scores(bfloat16, images, samples=20) == density.density_scores(vae, images, samples=20)


def test_an_importance_weighted_loss_is_the_density_modules_bound_and_trains(trained_bernoulli_vae, fake_data_root):
    vae, images = trained_bernoulli_vae
    iwae = VAE((28, 28, 1), arch="mlp", width=128, latent_dim=8, likelihood="bernoulli", iw_samples=200, seed=1)
    iwae.set_weights(vae.get_weights())
    terms = iwae.loss_terms(images, images, training=False)
    loss, reconstruction, kl, first_draws = (terms[k] for k in ("loss", "reconstruction", "kl", "reconstructed"))
    nll = density.density_scores(vae, images, samples=200, chunk=50)["nll_nats"]
    assert float(loss) == pytest.approx(nll, abs=0.5)  # two independent k = 200 estimates of -log p(x)
    elbo_loss = float(vae.loss_terms(images, images, training=False)["loss"])
    assert float(loss) < elbo_loss - 1.0  # the tighter bound
    assert float(reconstruction) > 0 and float(kl) > 0 and first_draws.shape == images.shape
    # Training on the k = 5 bound lowers it.
    train = data.load("mnist", "train", data_dir=fake_data_root).images
    small = VAE((28, 28, 1), arch="mlp", width=64, latent_dim=4, likelihood="bernoulli", iw_samples=5, seed=0)
    small.compile(optimizer=keras.optimizers.Adam(2e-3))
    history = small.fit(
        make_dataset(train, "none", 128, seed=0, training=True), epochs=3, steps_per_epoch=16, verbose=0, shuffle=False
    )
    assert history.history["loss"][-1] < history.history["loss"][0] - 20


def test_latent_usage_reports_every_dimension(trained_bernoulli_vae):
    vae, images = trained_bernoulli_vae
    usage = density.latent_usage(vae, images)
    assert usage["latent_dimensions"] == 8 and len(usage["kl_per_dimension"]) == 8
    assert 1 <= usage["active_units"] <= 8
    assert usage["kl_total_nats"] == pytest.approx(sum(usage["kl_per_dimension"]), rel=1e-4)


def test_collapsed_posterior_has_no_active_units_and_zero_kl():
    vae = VAE((8, 8, 1), arch="conv", width=4, latent_dim=3)
    head_mean, head_var = vae.encoder.get_layer("z_mean"), vae.encoder.get_layer("z_log_var")
    for layer in (head_mean, head_var):  # q(z | x) = N(0, I) for every x: the prior
        layer.kernel.assign(np.zeros(layer.kernel.shape, np.float32))
        layer.bias.assign(np.zeros(layer.bias.shape, np.float32))
    images = np.random.default_rng(0).uniform(0, 1, (16, 8, 8, 1)).astype(np.float32)
    usage = density.latent_usage(vae, images)
    assert usage["active_units"] == 0 and usage["kl_total_nats"] == 0.0
