"""Learning from noisy images alone: the noise-model likelihood, the fixed noisy copy, the training path."""

import json
import math
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from fakes import TINY_FIELDS, write_stroke_mnist
from test_models import SMALL, closed_form_kl, draw_epsilon

from tfvae.data import load, noisy_copy
from tfvae.models import VAE, Neighbor2Neighbor
from tfvae.models.blind_spot import masked_copy
from tfvae.models.neighbor2neighbor import neighbour_pairs
from tfvae.models.saving import load_model
from tfvae.training import TrainConfig, run


def log_phi(t):
    return np.log(0.5 * np.vectorize(math.erfc)(-t / math.sqrt(2)))


def psnr(images, clean):
    return -10 * np.log10(((images - clean) ** 2).mean())


def censored_nll(noisy, signal, sigma):
    """The clipped-Gaussian NLL per pixel, in NumPy."""
    inside = 0.5 * ((noisy - signal) / sigma) ** 2 + math.log(sigma) + 0.5 * math.log(2 * math.pi)
    return np.where(noisy <= 0, -log_phi(-signal / sigma), np.where(noisy >= 1, -log_phi((signal - 1) / sigma), inside))


def test_the_loss_is_the_censored_nll_of_the_input_plus_the_closed_form_kl():
    sigma = 0.3
    vae = VAE((16, 16, 1), arch="conv", noise_model=f"gaussian:{sigma}", seed=0, **SMALL["conv"])
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    rng = np.random.default_rng(1)
    noisy = np.clip(rng.uniform(0, 1, (8, 16, 16, 1)) + sigma * rng.normal(size=(8, 16, 16, 1)), 0, 1)
    noisy = noisy.astype(np.float32)
    assert (noisy == 0).any() and (noisy == 1).any()  # both clipped cases are in the sum
    epsilon = rng.normal(size=(8, 4)).astype(np.float32)
    z_mean, z_log_var = (np.asarray(t) for t in vae.encode(noisy))
    signal = np.asarray(vae.decoder_output(z_mean + np.exp(z_log_var / 2) * epsilon)).astype(np.float64)
    nll = censored_nll(noisy.astype(np.float64), signal, sigma).reshape(8, -1).sum(1).mean()
    expected = nll + closed_form_kl(z_mean, z_log_var).sum(1).mean()
    draw_epsilon(vae, epsilon)
    assert vae.train_on_batch(noisy, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-4)


def test_with_a_noise_model_a_clean_target_is_never_scored():
    vae = VAE((16, 16, 1), arch="conv", noise_model="gaussian:0.2", seed=0, **SMALL["conv"])
    noisy = np.random.default_rng(0).uniform(0, 1, (4, 16, 16, 1)).astype(np.float32)
    assert vae.targets(noisy, np.zeros_like(noisy)) is noisy


def test_a_noise_model_needs_the_gaussian_likelihood():
    with pytest.raises(ValueError, match="Received: likelihood='bernoulli', noise_model='gaussian:0.2'"):
        VAE((16, 16, 1), arch="mlp", noise_model="gaussian:0.2")


def test_the_noise_model_survives_a_keras_round_trip(tmp_path):
    vae = VAE((16, 16, 1), arch="conv", noise_model="gaussian:auto", seed=0, **SMALL["conv"])
    vae.save(tmp_path / "m.keras")
    assert load_model(tmp_path / "m.keras").objective.noise_model == "gaussian:auto"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"targets": "noisy", "noise": "none"}, "a --noise-model"),
        ({"targets": "noisy", "noise": "none", "noise_model": "gaussian:0.1", "model": "dncnn"}, "model='dncnn'"),
        ({"targets": "noisy", "noise_model": "gaussian:0.1"}, "Expected --noise none"),
        ({"noise_model": "gaussian:0.1"}, "only for a vae with --targets noisy"),
        ({"model": "n2v"}, "Expected --targets noisy for model=.n2v."),
        ({"targets": "noisy", "noise": "none", "noise_model": "gaussian:0"}, "'gaussian:0'"),
        ({"targets": "both"}, "targets='both'"),
        ({"targets": "noisy", "noise": "none", "model": "n2v", "synthetic_fraction": 0.5}, "dead-leaves images"),
    ],
)
def test_bad_noisy_target_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields)


@pytest.fixture(scope="module")
def clean_mnist(tmp_path_factory):
    """This module's own generated MNIST (a test deletes it)."""
    return write_stroke_mnist(tmp_path_factory.mktemp("clean") / "mnist", train=2000, test=300)


@pytest.fixture(scope="module")
def noisy_mnist(clean_mnist, tmp_path_factory):
    """A fixed noisy copy (sigma 0.2) of the generated MNIST's train files."""
    out = tmp_path_factory.mktemp("noisy") / "mnist"
    return noisy_copy.write_noisy_copy(clean_mnist, "gaussian:0.2", out, seed=0)


def test_the_copy_holds_one_noisy_version_of_every_train_image(noisy_mnist, clean_mnist):
    clean = load(clean_mnist, "train+validation").images
    noisy = load(noisy_mnist, "train+validation").images
    residual = (noisy - clean)[(clean > 0.3) & (clean < 0.7)]  # unclipped pixels
    assert noisy.shape == clean.shape and abs(residual.std() - 0.2) < 0.01


def test_the_copy_records_what_made_it(noisy_mnist):
    record = json.loads((noisy_mnist / noisy_copy.RECORD).read_text())
    assert (record["noise"], record["seed"], record["images"]) == ("gaussian:0.2", 0, 2000)


def test_the_copys_validation_slice_is_the_clean_slice_noised(noisy_mnist, clean_mnist):
    clean = load(clean_mnist, "validation", validation_size=100).images
    noisy = load(noisy_mnist, "validation", validation_size=100).images
    assert np.corrcoef(clean.ravel(), noisy.ravel())[0, 1] > 0.8


def test_the_copy_refuses_a_folder_that_holds_other_files(tmp_path, clean_mnist):
    (tmp_path / "mine.txt").write_text("a user's file")
    with pytest.raises(FileExistsError, match="is not empty"):
        noisy_copy.write_noisy_copy(clean_mnist, "gaussian:0.2", tmp_path, force=True)


NOISY_RUN = {
    **TINY_FIELDS,
    "train_size": 1000,
    "validation_size": 256,
    "width": 16,
    "epochs": 6,
    "steps_per_epoch": 25,
    "targets": "noisy",
    "noise": "none",
    "noise_model": "gaussian:0.2",
}


@pytest.fixture(scope="module")
def noisy_run(noisy_mnist, tmp_path_factory):
    """A VAE trained on the noisy copy alone (the run reads only the copy's folder)."""
    return run.train(TrainConfig(**{**NOISY_RUN, "dataset": str(noisy_mnist)}, out=str(tmp_path_factory.mktemp("r"))))


def test_learning_from_noisy_images_alone_beats_the_noisy_input(noisy_run, clean_mnist):
    clean = load(clean_mnist, "test").images[:256]
    noisy = np.clip(clean + 0.2 * np.random.default_rng(5).normal(size=clean.shape), 0, 1).astype(np.float32)
    denoised = np.asarray(load_model(noisy_run).predict_on_batch(noisy))
    assert psnr(denoised, clean) > psnr(noisy, clean) + 3.0  # a constant output scores 13.9 dB, the noisy input 16.6


@pytest.fixture(scope="module")
def variance_run(noisy_mnist, tmp_path_factory):
    """The same VAE with a decoder that predicts each clean pixel's variance."""
    fields = {**NOISY_RUN, "dataset": str(noisy_mnist), "decoder_variance": True}
    return run.train(TrainConfig(**fields, out=str(tmp_path_factory.mktemp("variance"))))


def test_a_variance_aware_vae_from_noisy_images_alone_beats_the_noisy_input(variance_run, clean_mnist):
    clean = load(clean_mnist, "test").images[:256]
    noisy = np.clip(clean + 0.2 * np.random.default_rng(5).normal(size=clean.shape), 0, 1).astype(np.float32)
    denoised = np.asarray(load_model(variance_run).predict_on_batch(noisy))
    assert psnr(denoised, clean) > psnr(noisy, clean) + 3.0  # a constant output scores 13.9 dB, the noisy input 16.6


def test_a_noisy_target_run_reports_no_clean_scores(noisy_run):
    assert "gaussian" not in json.loads((noisy_run / "metrics.json").read_text())


# === Noise2Void, the blind-spot baseline ===
SEED = tf.constant([0, 7], tf.int64)


@pytest.fixture(scope="module")
def masked():
    images = tf.constant(np.random.default_rng(3).uniform(0, 1, (8, 24, 24, 3)).astype(np.float32))
    copy, mask = masked_copy(images, 0.05, SEED)
    return images.numpy(), copy.numpy(), mask.numpy()[..., 0] > 0


def test_the_masked_fraction_is_what_was_asked(masked):
    assert abs(masked[2].mean() - 0.05) < 0.01


def test_unmasked_pixels_are_unchanged(masked):
    images, copy, mask = masked
    np.testing.assert_array_equal(copy[~mask], images[~mask])


def test_a_masked_pixel_takes_a_neighbours_value_within_two_pixels_never_its_own(masked):
    images, copy, mask = masked
    found = []
    for n, y, x in zip(*np.nonzero(mask)):
        window = images[n, max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].reshape(-1, 3)
        matches = np.all(window == copy[n, y, x], axis=1)
        found.append(matches.any() and not np.array_equal(copy[n, y, x], images[n, y, x]))
    assert all(found)


def test_the_masked_input_does_not_depend_on_the_masked_pixels(masked):
    # The blind spot: what the network sees at a masked pixel carries nothing of that pixel's value.
    images, copy, mask = masked
    padded = np.pad(mask, ((0, 0), (2, 2), (2, 2))).astype(int)
    nearby = sum(padded[:, dy : dy + 24, dx : dx + 24] for dy in range(5) for dx in range(5))
    isolated = mask & (nearby == 1)  # no other masked pixel could have taken their value
    changed = np.where(isolated[..., None], 1.0 - images, images).astype(np.float32)
    np.testing.assert_array_equal(masked_copy(tf.constant(changed), 0.05, SEED)[0].numpy(), copy)


# === Neighbor2Neighbor, sub-image pairs ===
@pytest.fixture(scope="module")
def pairs():
    """Images whose every pixel value is its own flat index, and their sub-image pair."""
    images = np.arange(4 * 8 * 6 * 1, dtype=np.float32).reshape(4, 8, 6, 1)
    first, second = neighbour_pairs(tf.constant(images), SEED)
    return images, first.numpy().astype(int), second.numpy().astype(int)


def test_the_sub_images_are_half_the_height_and_width(pairs):
    assert pairs[1].shape == pairs[2].shape == (4, 4, 3, 1)


def test_each_sub_image_pixel_comes_from_its_own_2x2_cell(pairs):
    _, first, second = pairs
    cell_rows = np.arange(4)[None, :, None, None]
    cell_columns = np.arange(3)[None, None, :, None]
    within = [((v // 6) % 8 // 2 == cell_rows) & ((v % 6) // 2 == cell_columns) for v in (first, second)]
    assert np.all(within[0] & within[1])


def test_the_two_pixels_of_a_cell_are_different_neighbours(pairs):
    _, first, second = pairs
    distance = np.abs((first // 6) % 8 - (second // 6) % 8) + np.abs(first % 6 - second % 6)
    assert np.all(distance == 1)  # beside or above/below, never the same pixel, never diagonal


def test_every_pixel_of_the_cell_is_chosen(pairs):
    _, first, _ = pairs
    assert set(((first // 6) % 2 * 2 + first % 2).ravel()) == {0, 1, 2, 3}


def test_one_seed_picks_the_same_pixels_of_any_image(pairs):
    images, first, _ = pairs
    doubled = neighbour_pairs(tf.constant(2 * images), SEED)[0].numpy()
    np.testing.assert_array_equal(doubled, 2 * first)


def test_neighbor2neighbor_refuses_odd_sized_training_images():
    model = Neighbor2Neighbor((7, 8, 1), conv_layers=3, width=4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="even height and width"):
        model.self_supervised_loss(np.zeros((2, 7, 8, 1), np.float32), 0, training=False)


# === Both self-supervised baselines, trained ===
@pytest.fixture(scope="module", params=["n2v", "n2n"])
def self_supervised_run(request, noisy_mnist, tmp_path_factory):
    """Noise2Void and Neighbor2Neighbor trained on the noisy copy alone."""
    fields = {**NOISY_RUN, "model": request.param, "noise_model": None, "conv_layers": 5, "steps_per_epoch": 40}
    fields.update(dataset=str(noisy_mnist), out=str(tmp_path_factory.mktemp(request.param)))
    return run.train(TrainConfig(**fields))


def test_a_self_supervised_baseline_on_noisy_images_alone_beats_the_noisy_input(self_supervised_run, clean_mnist):
    clean = load(clean_mnist, "test").images[:256]
    noisy = np.clip(clean + 0.2 * np.random.default_rng(5).normal(size=clean.shape), 0, 1).astype(np.float32)
    denoised = np.asarray(load_model(self_supervised_run).predict_on_batch(noisy))
    assert psnr(denoised, clean) > psnr(noisy, clean) + 2.0  # a constant output scores 13.9 dB, the noisy input 16.6


# Last in the module: it deletes the clean images.
def test_training_on_the_copy_is_the_same_without_the_clean_images_on_disk(
    noisy_mnist, noisy_run, clean_mnist, tmp_path
):
    # The stream holds no clean image: the same run with the clean files deleted ends with identical weights.
    shutil.rmtree(clean_mnist)
    again = load_model(run.train(TrainConfig(**{**NOISY_RUN, "dataset": str(noisy_mnist)}, out=str(tmp_path / "r"))))
    for mine, theirs in zip(again.get_weights(), load_model(noisy_run).get_weights()):
        np.testing.assert_array_equal(mine, theirs)
