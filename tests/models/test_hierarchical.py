"""The hierarchical (ladder) VAE: levels and their shapes, the KL per level, sampling, the bounds,
files and SavedModels, training and an exact resume."""

import json
import math
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from fakes import TINY, TINY_FIELDS

from tfvae.evaluation import density
from tfvae.models import HierarchicalVAE, with_config
from tfvae.models.hierarchical import level_kl
from tfvae.models.variational import gaussian_kl
from tfvae.serving import saved_model
from tfvae.training.config import TrainConfig

IMAGES = np.random.default_rng(0).uniform(0, 1, (4, 28, 28, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def hvae():
    return HierarchicalVAE((28, 28, 1), levels=3, width=8, latent_dim=2, likelihood="bernoulli", seed=0)


@pytest.fixture(scope="module")
def trained(fake_data_root):
    """A Bernoulli ladder VAE fitted briefly to the fake MNIST digits, and images to score."""
    from tfvae import data
    from tfvae.data.pipeline import make_dataset

    train = data.load("mnist", "train", data_dir=fake_data_root).images
    model = HierarchicalVAE((28, 28, 1), levels=2, width=16, latent_dim=4, likelihood="bernoulli", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    history = model.fit(
        make_dataset(train, "none", 64, seed=0, training=True), epochs=4, steps_per_epoch=20, verbose=0, shuffle=False
    )
    return model, history.history, train[:32]


def test_every_level_halves_the_resolution_of_the_one_below_padded_to_a_multiple(hvae):
    shapes = [tuple(level["z"].shape) for level in hvae.posterior_levels(IMAGES)]
    assert shapes == [(4, 16, 16, 2), (4, 8, 8, 2), (4, 4, 4, 2)]


def test_the_top_level_is_the_latent_encode_returns_and_decode_takes(hvae):
    z_mean, _ = hvae.encode(IMAGES)
    assert (tuple(z_mean.shape[1:]), tuple(hvae.decode(z_mean).shape)) == (hvae.latent_shape, IMAGES.shape)


def test_images_of_any_size_come_back_at_their_size(hvae):
    images = np.random.default_rng(1).uniform(0, 1, (2, 30, 45, 1)).astype(np.float32)
    assert hvae(images).shape == images.shape


def test_the_kl_between_gaussians_is_the_closed_form():
    mean, log_var, prior_mean, prior_log_var = 0.3, math.log(0.5), -0.2, math.log(2.0)
    expected = 0.5 * math.log(2.0 / 0.5) + (0.5 + 0.5**2) / (2 * 2.0) - 0.5
    kl = gaussian_kl(tf.constant(mean), tf.constant(log_var), tf.constant(prior_mean), tf.constant(prior_log_var))
    assert float(kl) == pytest.approx(expected, rel=1e-6)


def test_a_levels_kl_sums_the_closed_form_over_its_dimensions():
    level = {"mean": tf.ones((2, 3, 3, 2)), "log_var": tf.zeros((2, 3, 3, 2))}
    level.update(prior_mean=tf.zeros((2, 3, 3, 2)), prior_log_var=tf.zeros((2, 3, 3, 2)))
    np.testing.assert_allclose(level_kl(level), [18 * 0.5, 18 * 0.5])  # KL(N(1, 1) || N(0, 1)) = 1/2 each


def test_the_elbos_kl_is_the_sum_of_its_levels(hvae):
    terms = hvae.elbo_terms(IMAGES, IMAGES, training=False)
    assert float(terms["kl"]) == pytest.approx(float(tf.add_n(terms["kl_levels"])), rel=1e-5)


def kl_by_hand(level):
    """KL(N(mean, var) || N(prior_mean, prior_var)) of one level, summed over its dimensions, per image (NumPy)."""
    mean, log_var, prior_mean, prior_log_var = (
        np.asarray(level[key], np.float64) for key in ("mean", "log_var", "prior_mean", "prior_log_var")
    )
    kl = 0.5 * (prior_log_var - log_var + (np.exp(log_var) + (mean - prior_mean) ** 2) / np.exp(prior_log_var) - 1)
    return kl.reshape(len(kl), -1).sum(axis=1)


def test_the_training_loss_is_the_reconstruction_plus_every_levels_kl():
    # Free bits and warm-up off, beta 1; eps = 0 puts every level's draw at its posterior mean, the path of
    # posterior_levels, so each level's KL can be computed by hand from it.
    model = HierarchicalVAE((16, 16, 1), levels=3, width=4, latent_dim=2, likelihood="bernoulli", seed=0)
    model.sampling.eps = lambda shape, dtype="float32": tf.zeros(shape, dtype)
    images = IMAGES[:, :16, :16]
    terms = model.elbo_terms(images, images, training=True)
    kl = sum(np.mean(kl_by_hand(level)) for level in model.posterior_levels(images))
    assert float(terms["loss"]) == pytest.approx(float(terms["reconstruction"]) + kl, rel=1e-5)


def test_free_bits_leave_each_level_its_allowance_unpenalised():
    model = HierarchicalVAE((16, 16, 1), levels=2, width=4, latent_dim=1, free_bits=100.0, seed=0)
    model.compile()
    terms = model.elbo_terms(IMAGES[:, :16, :16], IMAGES[:, :16, :16], training=True)
    allowance = 100.0 * (8 * 8 + 4 * 4)  # far above a fresh model's KL on both levels
    assert float(terms["loss"]) == pytest.approx(float(terms["reconstruction"]) + allowance, rel=1e-4)


def test_nothing_reaches_the_output_but_through_the_latents(hvae):
    blind = with_config(hvae, seed=1)  # a copy to silence
    for layer in blind.latent_inputs:
        layer.kernel.assign(tf.zeros_like(layer.kernel))
        layer.bias.assign(tf.zeros_like(layer.bias))
    np.testing.assert_array_equal(blind(IMAGES[:1]), blind(IMAGES[1:2]))


def test_skip_connections_start_at_zero_so_the_same_weights_compute_the_same_output(hvae):
    skipping = HierarchicalVAE.from_config({**hvae.get_config(), "skip_connections": True})
    shared = {variable.path: variable for variable in hvae.weights}
    for variable in skipping.weights:
        if variable.path in shared:
            variable.assign(shared[variable.path])
    np.testing.assert_allclose(skipping(IMAGES), hvae(IMAGES), atol=1e-6)


def test_the_loss_reaches_every_levels_skip_connection():
    model = HierarchicalVAE((28, 28, 1), levels=3, width=8, latent_dim=2, skip_connections=True, seed=0)
    with tf.GradientTape() as tape:
        loss = model.elbo_terms(IMAGES, IMAGES, training=True)["loss"]
    gradients = tape.gradient(loss, [skip.kernel for skip in model.skips])
    assert len(gradients) == 3 and all(float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients)


def test_samples_from_the_prior_are_seeded_images(hvae):
    first, again, other = hvae.sample(3, seed=5), hvae.sample(3, seed=5), hvae.sample(3, seed=6)
    assert first.shape == (3, 28, 28, 1) and np.array_equal(first, again) and not np.array_equal(first, other)


def test_posterior_draws_differ_from_each_other(hvae):
    draws = hvae.posterior_samples(IMAGES, 2).numpy()
    assert np.abs(draws[:, 0] - draws[:, 1]).max() > 1e-3


def test_resampling_one_level_changes_the_image_only_through_that_level(hvae):
    means = hvae(IMAGES)
    resampled = hvae.resample_level(IMAGES, 2, seed=0)
    assert resampled.shape == IMAGES.shape and float(tf.reduce_max(tf.abs(resampled - means))) > 0


def test_a_level_out_of_range_is_refused(hvae):
    with pytest.raises(ValueError, match="Expected level in 1..3. Received: level=4"):
        hvae.resample_level(IMAGES, 4)


@pytest.mark.parametrize(("name", "value"), [("levels", 1), ("latent_dim", 0), ("residual_blocks", -1)])
def test_bad_hyperparameters_are_refused(name, value):
    with pytest.raises(ValueError, match=f"{name}={value}"):
        HierarchicalVAE((28, 28, 1), **{name: value})


def test_a_flat_vae_hyperparameter_is_refused_for_hvae():
    with pytest.raises(ValueError, match="latent_stride=2"):
        TrainConfig(model="hvae", latent_stride=2)


def test_levels_are_refused_for_the_flat_vae():
    with pytest.raises(ValueError, match="levels=2"):
        TrainConfig(model="vae", levels=2)


def test_training_lowers_the_loss_and_each_levels_kl_is_logged(trained):
    _, history, _ = trained
    assert history["loss"][-1] < history["loss"][0] - 20 and {"kl_level1", "kl_level2"} <= set(history)


def test_the_importance_weighted_bound_is_above_the_elbo_and_tightens_with_k(trained):
    model, _, images = trained
    scores = {k: density.density_scores(model, images, samples=k, chunk=25) for k in (1, 5, 50)}
    assert scores[1]["nll_nats"] == pytest.approx(-scores[1]["elbo_nats"], rel=1e-6)
    assert scores[50]["nll_nats"] < scores[5]["nll_nats"] < scores[1]["nll_nats"]


def test_latent_usage_reports_each_level(trained):
    model, _, images = trained
    usage = density.latent_usage(model, images)
    assert [level["latent_dimensions"] for level in usage["levels"]] == [14 * 14 * 4, 7 * 7 * 4]
    assert usage["kl_total_nats"] == pytest.approx(sum(level["kl_nats"] for level in usage["levels"]), rel=1e-5)


def test_an_importance_weighted_loss_trains_it():
    # Four stripe patterns, one batch: the loss (fresh draws each step, so noisy) falls from the ~178
    # nats of an untrained model far beyond its noise (measured: to ~54 in 60 steps).
    grid = np.add.outer(np.arange(16), np.arange(16))
    images = np.stack([grid % period < period // 2 for period in (2, 4, 8, 16)]).astype(np.float32)[..., None]
    model = HierarchicalVAE((16, 16, 1), levels=2, width=4, latent_dim=1, likelihood="bernoulli", iw_samples=3, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(images, epochs=60, batch_size=4, verbose=0, shuffle=False).history
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5]) - 50


def test_a_keras_file_round_trip_gives_the_same_outputs(hvae, tmp_path):
    hvae.save(tmp_path / "hvae.keras")
    reloaded = keras.models.load_model(tmp_path / "hvae.keras")
    np.testing.assert_array_equal(reloaded(IMAGES), hvae(IMAGES))


RELOAD = """
import json, sys
import numpy as np, tensorflow as tf
signatures = tf.saved_model.load(sys.argv[1]).signatures
images = tf.constant(np.load(sys.argv[2]))
z = signatures["encode"](images=images)["z_mean"]
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith("tfvae")),
    "denoised": signatures["serving_default"](images=images)["denoised"].numpy().tolist(),
    "decoded_shape": signatures["decode"](z=z)["images"].shape.as_list(),
    "samples": signatures["sample_posterior"](images=images, samples=tf.constant(3))["samples"].numpy().tolist(),
}))
"""


@pytest.fixture(scope="module")
def reloaded(hvae, tmp_path_factory):
    """The exported ladder VAE called in a fresh process that never imports tfvae."""
    folder = tmp_path_factory.mktemp("hvae_sm")
    exported = saved_model.export_model(hvae, folder, "hvae", 1)
    np.save(folder / "images.npy", IMAGES)
    command = [sys.executable, "-c", RELOAD, str(exported), str(folder / "images.npy")]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])


def test_the_saved_model_reloads_without_tfvae(reloaded):
    assert reloaded["modules"] == []


def test_the_saved_model_denoises_as_the_keras_model(hvae, reloaded):
    np.testing.assert_allclose(reloaded["denoised"], hvae(IMAGES), atol=1e-5)


def test_the_saved_models_decode_and_sample_posterior_have_their_shapes(reloaded):
    assert (reloaded["decoded_shape"], list(np.shape(reloaded["samples"]))) == ([4, 28, 28, 1], [4, 3, 28, 28, 1])


def test_the_saved_models_posterior_draws_differ_from_each_other(reloaded):
    samples = np.asarray(reloaded["samples"])
    assert np.abs(samples[:, 0] - samples[:, 1]).max() > 1e-3


class Killed(Exception):
    """Stands for the process dying right after a checkpoint."""


def run_fields(data_dir):
    fields = {"model": "hvae", "levels": 2, "latent_dim": 2, "epochs": 3, "steps_per_epoch": 3}
    return {**TINY_FIELDS, **fields, "data_dir": str(data_dir)}


@pytest.fixture(scope="module")
def finished_run(fake_data_root, tmp_path_factory):
    from tfvae.training.run import train

    return train(TrainConfig(**run_fields(fake_data_root), out=str(tmp_path_factory.mktemp("runs") / "whole")))


def test_a_run_draws_what_each_level_encodes_and_its_kl_over_training(finished_run):
    assert (finished_run / "levels.png").is_file() and (finished_run / "kl_per_level.png").is_file()


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(
    finished_run, fake_data_root, tmp_path, monkeypatch
):
    from tfvae.training import checkpoints
    from tfvae.training.run import train

    save = checkpoints.EpochCheckpoint.on_epoch_end

    def save_then_die(callback, epoch, logs=None):
        save(callback, epoch, logs)
        raise Killed

    config = TrainConfig(**run_fields(fake_data_root), out=str(tmp_path / "resumed"))
    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(checkpoints.EpochCheckpoint, "on_epoch_end", save_then_die)
        train(config)
    train(config)
    whole, resumed = (keras.models.load_model(run / "model.keras") for run in (finished_run, tmp_path / "resumed"))
    for a, b in zip(whole.weights, resumed.weights, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=a.path)


@pytest.mark.slow
def test_it_trains_under_a_mirrored_strategy_over_two_logical_cpus(fake_data_root, tmp_path, spawn):
    two_replicas = Path(__file__).parents[1] / "training" / "two_replicas.py"
    args = ["train", "--model", "hvae", "--levels", "2", "--latent-dim", "2", *TINY, "--data-dir", str(fake_data_root)]
    args += ["--epochs", "1", "--steps-per-epoch", "2", "--strategy", "mirrored", "--devices", "/cpu:0,/cpu:1"]
    process = spawn("mirrored", [sys.executable, str(two_replicas), *args, "--out", str(tmp_path / "run")])
    assert process.wait(timeout=300) == 0, spawn.log("mirrored")
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 2 and "kl_level2" in history[0]


def test_tfvae_evaluate_reports_the_kl_and_active_units_of_each_level(finished_run, fake_data_root, tmp_path):
    from tfvae.evaluation import evaluate

    kwargs = {"specs": ("gaussian:0.3",), "limit": 32, "iw_samples": 5, "data_dir": str(fake_data_root)}
    evaluate.evaluate(finished_run, "mnist", out=tmp_path / "report", **kwargs)
    assert "  level 2: KL " in (tmp_path / "report" / "evaluation.md").read_text()


def test_a_discretized_gaussian_ladder_vae_scores_rgb_8_bit_images_below_the_uniform_8_bits():
    # 8-bit RGB with smooth structure: a model that fits them at all beats 8 bits/dim (uniform bins).
    ramp = np.linspace(0, 1, 16, dtype=np.float32)
    images = np.round(255 * np.stack([np.add.outer(ramp, ramp) / 2] * 3, axis=-1)) / 255
    images = np.stack([images, images[::-1], images[:, ::-1], images[::-1, ::-1]] * 8)
    model = HierarchicalVAE((16, 16, 3), levels=2, width=8, latent_dim=2, likelihood="discretized-gaussian", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(images, epochs=100, batch_size=32, verbose=0, shuffle=False)
    assert density.density_scores(model, images, samples=4)["nll_bits_per_dim"] < 7.0


# === HDN's gated cells ===
@pytest.fixture(scope="module")
def gated():
    return HierarchicalVAE((16, 16, 1), levels=2, width=4, latent_dim=2, gated=True, seed=0)


def test_an_untrained_gated_cell_is_the_identity(gated):
    hidden = tf.constant(np.random.default_rng(1).normal(size=(2, 8, 8, 4)).astype(np.float32))
    np.testing.assert_allclose(gated._cells(gated.output_cells, hidden), hidden, atol=1e-6)


def test_a_gated_cell_adds_its_value_half_times_the_sigmoid_of_its_gate_half(gated):
    hidden = tf.constant(np.random.default_rng(2).normal(size=(2, 8, 8, 4)).astype(np.float32))
    (conv_a, conv_b), *_ = gated.output_cells
    conv_b.kernel.assign(np.random.default_rng(3).normal(size=conv_b.kernel.shape).astype(np.float32) * 0.1)
    update = conv_b(tf.nn.silu(conv_a(tf.nn.silu(hidden)))).numpy()
    expected = hidden.numpy() + update[..., :4] / (1 + np.exp(-update[..., 4:]))
    np.testing.assert_allclose(gated._cells([(conv_a, conv_b)], hidden), expected, atol=1e-5)


def test_the_gate_survives_a_keras_round_trip(gated, tmp_path):
    gated.save(tmp_path / "gated.keras")
    assert keras.models.load_model(tmp_path / "gated.keras").gated is True


# === HDN's learned top prior ===
@pytest.fixture(scope="module")
def learned_prior():
    model = HierarchicalVAE((16, 16, 1), levels=2, width=4, latent_dim=2, learned_prior=True, seed=0)
    model.top_prior.assign([[0.5, -0.25], [-1.0, 0.3]])  # (means, log variances) per channel
    return model


def test_the_top_levels_prior_is_the_learned_one(learned_prior):
    top = learned_prior.posterior_levels(np.zeros((1, 16, 16, 1), np.float32))[-1]
    np.testing.assert_allclose(top["prior_log_var"][0, 0, 0], [-1.0, 0.3], atol=1e-6)


def test_the_top_levels_kl_is_taken_against_the_learned_prior(learned_prior):
    top = learned_prior.posterior_levels(np.zeros((1, 16, 16, 1), np.float32))[-1]
    mean, log_var = np.asarray(top["mean"]), np.asarray(top["log_var"])
    prior_mean, prior_log_var = np.array([0.5, -0.25]), np.array([-1.0, 0.3])
    expected = 0.5 * (
        prior_log_var - log_var + (np.exp(log_var) + (mean - prior_mean) ** 2) / np.exp(prior_log_var) - 1
    )
    np.testing.assert_allclose(level_kl(top), expected.reshape(1, -1).sum(1), rtol=1e-5)


def test_training_moves_the_learned_prior():
    model = HierarchicalVAE((16, 16, 1), levels=2, width=4, latent_dim=2, learned_prior=True, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.train_on_batch(np.random.default_rng(4).uniform(size=(4, 16, 16, 1)).astype(np.float32))
    assert np.abs(model.top_prior.numpy()).max() > 1e-3


def test_without_a_learned_prior_the_model_has_no_prior_weight():
    model = HierarchicalVAE((16, 16, 1), levels=2, width=4, latent_dim=2, seed=0)
    assert not [w for w in model.weights if "top_prior" in w.path]


def test_the_learned_prior_survives_a_keras_round_trip(learned_prior, tmp_path):
    learned_prior.save(tmp_path / "prior.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "prior.keras").top_prior, learned_prior.top_prior)
