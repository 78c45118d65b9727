import dataclasses
import json
import os
import socket
import sys

import keras_tuner as kt
import numpy as np
import pytest
from fakes import TINY, TINY_FIELDS

from tfvae import cli
from tfvae.models import load_model
from tfvae.models.registry import MODELS
from tfvae.models.saving import FINAL_MODEL
from tfvae.serving import saved_model
from tfvae.training import TrainConfig, fitting, run, tuning

SEARCH = [*TINY, "--epochs", "1", "--steps-per-epoch", "4"]


@pytest.fixture(scope="module")
def search(fake_data_root, tmp_path_factory):
    """A finished two-trial search on the generated MNIST, and the folder it retrained the best into."""
    root = tmp_path_factory.mktemp("search")
    args = ["tune", *SEARCH, "--data-dir", str(fake_data_root), "--dir", str(root / "search"), "--tuner", "random"]
    assert cli.main([*args, "--max-trials", "2", "--out", str(root / "best")]) == 0
    return root


def test_a_search_ranks_its_trials_best_first(search):
    trials = json.loads((search / "search" / "best_trials.json").read_text())
    assert len(trials) == 2 and trials[0]["score"] >= trials[1]["score"]  # val_psnr: higher first


def test_the_default_search_space_is_latent_size_and_width(search):
    trials = json.loads((search / "search" / "best_trials.json").read_text())
    assert set(trials[0]["hyperparameters"]) == {"latent_dim", "width"}


def test_a_search_draws_its_plot(search):
    assert (search / "search" / "search.png").read_bytes()[:4] == b"\x89PNG"


def test_the_best_trial_is_retrained_into_an_exportable_run(search, tmp_path):
    trials = json.loads((search / "search" / "best_trials.json").read_text())
    best = TrainConfig.from_dict(json.loads((search / "best" / "config.json").read_text()))
    assert (best.latent_dim, best.width) == tuple(trials[0]["hyperparameters"][k] for k in ("latent_dim", "width"))
    assert saved_model.export_model(load_model(search / "best"), tmp_path / "served", "best", 1).exists()


def test_rerunning_a_search_with_more_trials_continues_it(search, fake_data_root, tmp_path):
    args = ["tune", *SEARCH, "--data-dir", str(fake_data_root), "--dir", str(search / "search"), "--max-trials", "3"]
    assert cli.main([*args, "--out", str(tmp_path / "best")]) == 0
    assert len(json.loads((search / "search" / "best_trials.json").read_text())) == 3  # two old trials + one new


class RecordingHyperModel(tuning.DenoisingHyperModel):
    """Keeps each trial's model after its training."""

    trained = []

    def fit(self, hp, model, *args, **kwargs):
        history = super().fit(hp, model, *args, **kwargs)
        self.trained.append((hp.values, model))
        return history


def test_a_trial_trains_exactly_like_tfvae_train_with_the_same_flags(fake_data, tmp_path):
    config = TrainConfig(
        **TINY_FIELDS,
        epochs=2,
        steps_per_epoch=3,
        steps_per_execution=1,
        lr_schedule="cosine",
        ema=0.9,
        dtype_policy="mixed_bfloat16",
        out=str(tmp_path / "train"),
    )
    train_images, validation_images = run.load_splits(config)
    steps = config.epoch_steps(len(train_images))
    hypermodel = RecordingHyperModel(config, train_images.shape[1:], steps)
    tuner = tuning.make_tuner(hypermodel, "random", "val_psnr", tmp_path / "search", max_trials=1, seed=3, epochs=2)
    train_data, validation_data = fitting.make_streams(config, train_images, validation_images)
    tuner.search(train_data, validation_data=validation_data, epochs=config.epochs, verbose=0)
    values, trial_model = RecordingHyperModel.trained[-1]
    trained = load_model(run.train(dataclasses.replace(config, latent_dim=values["latent_dim"], width=values["width"])))
    for a, b in zip(trial_model.weights, trained.weights, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=a.path)


def test_the_objectives_are_what_test_step_reports():
    images = np.random.default_rng(0).uniform(0, 1, (8, 16, 16, 1)).astype(np.float32)
    for model in ("vae", "ae"):
        built = tuning.DenoisingHyperModel(TrainConfig(model=model), (16, 16, 1), 1).build(kt.HyperParameters())
        history = built.fit(images, images, validation_data=(images, images), epochs=1, batch_size=8, verbose=0)
        assert set(tuning.OBJECTIVES) <= set(history.history), model


def test_pca_cannot_be_tuned():
    with pytest.raises(ValueError, match="model='pca'"):
        tuning.DenoisingHyperModel(TrainConfig(model="pca"), (16, 16, 1), 1)


def test_bad_tuner_and_objective(tmp_path):
    hypermodel = tuning.DenoisingHyperModel(TrainConfig(), (16, 16, 1), 1)
    with pytest.raises(ValueError, match="tuner='grid'"):
        tuning.make_tuner(hypermodel, "grid", "val_psnr", tmp_path, 2, 0, 1)
    with pytest.raises(ValueError, match="objective='val_ssim'"):
        tuning.make_tuner(hypermodel, "random", "val_ssim", tmp_path, 2, 0, 1)


@pytest.mark.slow
def test_distributed_search_with_a_chief_and_a_worker(fake_data, tmp_path, spawn):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "tfvae.cli", "tune", *SEARCH, "--dir", str(tmp_path / "search")]
    command += ["--max-trials", "2", "--out", str(tmp_path / "best")]
    base = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port), "CI": "true"}
    chief = spawn("chief", command, env={**base, "KERASTUNER_TUNER_ID": "chief"})
    worker = spawn("worker", command, env={**base, "KERASTUNER_TUNER_ID": "tuner0"})
    assert worker.wait(timeout=600) == 0, spawn.log("worker")
    assert chief.wait(timeout=600) == 0, spawn.log("chief")
    trials = json.loads((tmp_path / "search" / "best_trials.json").read_text())
    assert len(trials) == 2 and all(t["score"] is not None for t in trials)
    assert (tmp_path / "best" / FINAL_MODEL).exists()


def test_the_extra_search_of_a_hierarchical_vae_varies_its_levels_and_beta():
    hypermodel = tuning.DenoisingHyperModel(TrainConfig(model="hvae"), (16, 16, 1), 1, search_extra=True)
    config = hypermodel.trial_config(kt.HyperParameters())
    assert (config.levels, config.arch, config.beta) == (MODELS["hvae"].search_extra["levels"][0], None, 0.1)
