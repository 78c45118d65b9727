import json

import pytest

from tfvae import cli, export, tuning
from tfvae.training import TrainConfig

TINY = [
    "--dataset",
    "mnist",
    "--train-size",
    "256",
    "--validation-size",
    "64",
    "--batch-size",
    "32",
    "--epochs",
    "1",
    "--steps-per-epoch",
    "4",
]


@pytest.mark.real_data
def test_tiny_search_completes_resumes_and_retrains_the_best(real_data, tmp_path, capsys):
    args = ["tune", *TINY, "--dir", str(tmp_path / "search"), "--tuner", "random", "--out", str(tmp_path / "best")]
    assert cli.main(args + ["--max-trials", "2"]) == 0
    trials = json.loads((tmp_path / "search" / "best_trials.json").read_text())
    assert len(trials) == 2 and trials[0]["score"] >= trials[1]["score"]  # val_psnr: higher first
    assert set(trials[0]["hyperparameters"]) == {"latent_dim", "width"}
    assert (tmp_path / "search" / "search.png").exists()
    best = json.loads((tmp_path / "best" / "config.json").read_text())
    assert (best["latent_dim"], best["width"]) == (
        trials[0]["hyperparameters"]["latent_dim"],
        trials[0]["hyperparameters"]["width"],
    )
    assert export.export_model(export.load_model(tmp_path / "best"), tmp_path / "served", "best", 1).exists()
    # Rerunning the same search with a larger budget continues it: two old trials + one new.
    assert (
        cli.main(
            ["tune", *TINY, "--dir", str(tmp_path / "search"), "--max-trials", "3", "--out", str(tmp_path / "best2")]
        )
        == 0
    )
    assert len(json.loads((tmp_path / "search" / "best_trials.json").read_text())) == 3


def test_objectives_match_what_test_step_reports():
    import keras_tuner as kt
    import numpy as np

    images = np.random.default_rng(0).uniform(0, 1, (8, 16, 16, 1)).astype(np.float32)
    for model in ("vae", "ae"):
        built = tuning.DenoisingHyperModel(TrainConfig(model=model), (16, 16, 1)).build(kt.HyperParameters())
        history = built.fit(images, images, validation_data=(images, images), epochs=1, batch_size=8, verbose=0)
        assert {objective for objective in tuning.OBJECTIVES} <= set(history.history), model
    with pytest.raises(ValueError, match="model='pca'"):
        tuning.DenoisingHyperModel(TrainConfig(model="pca"), (16, 16, 1))


def test_bad_tuner_and_objective(tmp_path):
    hypermodel = tuning.DenoisingHyperModel(TrainConfig(), (16, 16, 1))
    with pytest.raises(ValueError, match="tuner='grid'"):
        tuning.make_tuner(hypermodel, "grid", "val_psnr", tmp_path, 2, 0, 1)
    with pytest.raises(ValueError, match="objective='val_ssim'"):
        tuning.make_tuner(hypermodel, "random", "val_ssim", tmp_path, 2, 0, 1)


@pytest.mark.real_data
def test_distributed_search_with_a_chief_and_a_worker(real_data, tmp_path):
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "tfvae.cli",
        "tune",
        *TINY,
        "--dir",
        str(tmp_path / "search"),
        "--max-trials",
        "2",
        "--out",
        str(tmp_path / "best"),
    ]
    base = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port), "CI": "true"}
    chief = subprocess.Popen(
        command,
        env={**base, "KERASTUNER_TUNER_ID": "chief"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker = subprocess.Popen(
        command,
        env={**base, "KERASTUNER_TUNER_ID": "tuner0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker_out, _ = worker.communicate(timeout=600)
    chief_out, _ = chief.communicate(timeout=600)
    assert worker.returncode == 0, worker_out[-2000:]
    assert chief.returncode == 0, chief_out[-2000:]
    trials = json.loads((tmp_path / "search" / "best_trials.json").read_text())
    assert len(trials) == 2 and all(t["score"] is not None for t in trials)
    assert (tmp_path / "best" / "model.keras").exists()
