import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from fakes import write_mnist_folder

from tfvae import cli, data, training
from tfvae.evaluation import denoising_scores

TINY = ["--dataset", "mnist", "--train-size", "256", "--validation-size", "64", "--batch-size", "32", "--width", "8"]


def run_files(run_dir):
    return sorted(p.name for p in run_dir.iterdir())


@pytest.mark.real_data
def test_train_command_fills_a_run_folder(real_data, tmp_path):
    out = tmp_path / "run"
    assert cli.main(["train", *TINY, "--epochs", "2", "--out", str(out)]) == 0
    assert {"config.json", "model.keras", "history.csv", "metrics.json", "denoised.png", "logs"} <= set(run_files(out))
    assert training.CHECKPOINTS not in run_files(out)  # model.keras supersedes the epoch checkpoints
    with open(out / "history.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["gaussian"]) == {"gaussian:0.1", "gaussian:0.2", "gaussian:0.3", "gaussian:0.5"}
    # The saved model reloads and scores exactly what metrics.json says.
    model = keras.models.load_model(out / "model.keras")
    validation = data.load("mnist", "validation", validation_size=64).images
    assert denoising_scores(model.predict_on_batch, validation) == metrics["gaussian"]
    assert json.loads((out / "config.json").read_text())["width"] == 8


@pytest.mark.real_data
def test_vae_beats_the_noisy_input_after_a_few_hundred_steps(real_data, tmp_path):
    config = training.TrainConfig(
        dataset="mnist",
        train_size=2048,
        validation_size=256,
        batch_size=64,
        width=16,
        epochs=8,
        noise="gaussian:0.3",
        sigma_x=0.05,
        out=str(tmp_path / "run"),
    )
    metrics = json.loads((training.train(config) / "metrics.json").read_text())["gaussian"]["gaussian:0.3"]
    assert metrics["psnr"] > metrics["noisy_psnr"] + 3.0  # 256 steps: ~13.3 dB noisy -> > 16.3 dB
    assert metrics["ssim"] > metrics["noisy_ssim"]


@pytest.mark.real_data
@pytest.mark.parametrize(
    "model, flags", [("pca", []), ("ae", ["--arch", "conv"]), ("dncnn", ["--depth", "5", "--epochs", "4"])]
)
def test_other_models_train_end_to_end(real_data, tmp_path, model, flags):
    assert cli.main(["train", *TINY, "--model", model, "--epochs", "1", *flags, "--out", str(tmp_path / model)]) == 0
    metrics = json.loads((tmp_path / model / "metrics.json").read_text())["gaussian"]["gaussian:0.5"]
    assert metrics["psnr"] > metrics["noisy_psnr"]


@pytest.mark.real_data
def test_time_budget_stops_training_early(real_data, tmp_path):
    start = time.monotonic()
    assert cli.main(["train", *TINY, "--epochs", "10000", "--time-budget", "3", "--out", str(tmp_path / "run")]) == 0
    with open(tmp_path / "run" / "history.csv") as f:
        assert len(list(csv.DictReader(f))) < 10000
    assert time.monotonic() - start < 120


@pytest.mark.real_data
def test_a_run_killed_at_a_random_moment_resumes_to_the_same_weights_as_an_uninterrupted_run(real_data, tmp_path):
    def command(out):
        return [
            sys.executable,
            "-m",
            "tfvae.cli",
            "train",
            *TINY,
            "--epochs",
            "40",
            "--steps-per-epoch",
            "4",
            "--steps-per-execution",
            "1",
            "--out",
            str(out),
        ]

    quiet = {"env": {**os.environ, "CI": "true"}, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    uninterrupted = subprocess.Popen(command(tmp_path / "whole"), **quiet)
    out = tmp_path / "killed"
    process = subprocess.Popen(command(out), **quiet)
    history = out / "history.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not history.exists() or len(history.read_text().splitlines()) < 4):
        time.sleep(0.05)
    time.sleep(random.uniform(0, 1))  # anywhere in an epoch, including mid-checkpoint
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(history.read_text().splitlines()) - 1
    assert 3 <= done_before < 40 and not (out / "model.keras").exists()
    subprocess.run(command(out), check=True, **quiet)
    assert uninterrupted.wait() == 0
    with open(history) as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f) if row["epoch"] != "epoch"]
    # Rows after the restart continue the count (a fresh start would begin again at 0).
    assert epochs[-1] == 39 and epochs.count(0) == 1
    assert len(epochs) < 40 + 2  # at most the one interrupted epoch is repeated
    # Weights, optimizer, sampling seed and data stream all resume: bit-identical (CPU kernels here are deterministic).
    resumed, whole = (keras.models.load_model(path / "model.keras") for path in (out, tmp_path / "whole"))
    for a, b in zip(resumed.weights, whole.weights, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=a.path)


@pytest.mark.real_data
def test_same_seed_gives_identical_weights_and_metrics_with_op_determinism(real_data, tmp_path):
    def train(seed, out):
        command = [
            sys.executable,
            "-m",
            "tfvae.cli",
            "train",
            *TINY,
            "--epochs",
            "2",
            "--steps-per-epoch",
            "4",
            "--deterministic",
            "--seed",
            str(seed),
            "--out",
            str(out),
        ]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    runs = {name: (seed, tmp_path / name) for name, seed in (("first", 1), ("again", 1), ("other", 2))}
    processes = [train(seed, out) for seed, out in runs.values()]
    assert [process.wait() for process in processes] == [0, 0, 0]
    metrics = {name: json.loads((out / "metrics.json").read_text())["gaussian"] for name, (_, out) in runs.items()}
    models = {name: keras.models.load_model(out / "model.keras") for name, (_, out) in runs.items()}
    assert metrics["first"] == metrics["again"] != metrics["other"]
    for a, b in zip(models["first"].weights, models["again"].weights, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=a.path)


@pytest.mark.real_data
def test_diverging_run_stops_with_a_message_and_writes_no_model(real_data, tmp_path):
    config = training.TrainConfig(
        dataset="mnist",
        train_size=256,
        validation_size=64,
        batch_size=32,
        width=8,
        epochs=3,
        sigma_x=1e-30,
        out=str(tmp_path / "run"),  # (x - mean) / sigma_x overflows float32
    )
    with pytest.raises(FloatingPointError, match="diverged.*learning rate"):
        training.train(config)
    assert not (tmp_path / "run" / training.FINAL_MODEL).exists()


def test_existing_run_folders_are_never_overwritten(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a tfvae run folder"):
        training.train(training.TrainConfig(out=str(foreign)))
    assert (foreign / "thesis.tex").read_text() == "precious" and run_files(foreign) == ["thesis.tex"]

    unfinished = tmp_path / "unfinished"
    training.prepare_run_folder(training.TrainConfig(out=str(unfinished), epochs=3))
    with pytest.raises(FileExistsError, match="differs in: epochs"):
        training.train(training.TrainConfig(out=str(unfinished), epochs=4))

    (unfinished / training.FINAL_MODEL).write_text("done")
    with pytest.raises(FileExistsError, match="finished run"):
        training.train(training.TrainConfig(out=str(unfinished), epochs=3))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"time_budget": 0}, "time_budget=0"),
        ({"time_budget": -5.0}, "time_budget=-5.0"),
        ({"epochs": 0}, "epochs=0"),
        ({"batch_size": -1}, "batch_size=-1"),
        ({"model": "gan"}, "model='gan'"),
        ({"noise": "gaussian:-1"}, "non-negative"),
        ({"learning_rate": float("nan")}, "learning_rate=nan"),
        ({"xla": "yes"}, "xla=.yes."),
    ],
)
def test_bad_config_is_rejected_before_anything_is_written(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.TrainConfig(out=str(tmp_path / "run"), **kwargs)
    assert not (tmp_path / "run").exists()


def test_cli_flags_map_onto_the_config(capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--arch", "conv", "--latent-dim", "12", "--time-budget", "60", "--beta", "0.5"])
    assert (args.arch, args.latent_dim, args.time_budget, args.beta, args.epochs) == ("conv", 12, 60.0, 0.5, 10)
    assert not args.binarize and parser.parse_args(["train", "--binarize"]).binarize is True
    assert cli.main(["train", "--time-budget", "0", "--out", "unused"]) == 1
    assert "time_budget=0" in capsys.readouterr().err


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_two_workers_end_with_the_weights_of_one_process_with_two_replicas(tmp_path):
    write_mnist_folder(tmp_path / "mnist", train=300)
    args = [
        "train",
        "--dataset",
        str(tmp_path / "mnist"),
        "--validation-size",
        "40",
        "--batch-size",
        "32",
        "--width",
        "8",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "4",
    ]
    two_replicas = os.path.join(os.path.dirname(__file__), "two_replicas.py")
    reference = subprocess.Popen(
        [
            sys.executable,
            two_replicas,
            *args,
            "--strategy",
            "mirrored",
            "--devices",
            "/cpu:0,/cpu:1",
            "--out",
            str(tmp_path / "one_process"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tfvae.cli",
                *args,
                "--strategy",
                "multiworker",
                "--out",
                str(tmp_path / f"worker{index}"),
            ],
            env={
                **os.environ,
                "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for index in range(2)
    ]
    for process in (reference, *workers):
        assert process.wait(timeout=600) == 0, process.stderr.read().decode()[-3000:]
    assert not (tmp_path / "worker1").exists()  # only the chief (worker 0) writes
    with open(tmp_path / "worker0" / "history.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    two_workers, one_process = (
        keras.models.load_model(tmp_path / name / "model.keras") for name in ("worker0", "one_process")
    )
    # Same global batch, seed, noise and replica split; only the all-reduce transport differs.
    # Tolerance 1e-6 (measured here: bit-identical).
    for a, b in zip(two_workers.weights, one_process.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0, err_msg=a.path)


def test_mirrored_strategy_matches_single_device_training():
    script = os.path.join(os.path.dirname(__file__), "mirrored_check.py")
    result = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    values = dict(line.split() for line in result.stdout.splitlines() if line.startswith(("max_", "replica_")))
    update, difference = float(values["max_update"]), float(values["max_difference"])
    assert values["replica_noise_shared"] == "0"  # each replica gets its own slice of the noisy batch
    # Training moved the weights, and two replicas moved them the same way (a gradient summed
    # without the 1/replicas scale would differ by about the whole update).
    assert update > 1e-6 and difference < 1e-3 * update


def test_cosine_schedule_decays_the_learning_rate_to_zero_over_the_planned_steps():
    optimizer = training.TrainConfig(learning_rate=1e-3, lr_schedule="cosine", epochs=4).optimizer(steps_per_epoch=25)
    rates = []
    for step in (0, 50, 100):
        optimizer.iterations.assign(step)
        rates.append(float(optimizer.learning_rate))
    np.testing.assert_allclose(rates, [1e-3, 5e-4, 0.0], atol=1e-9)
    constant = training.TrainConfig(learning_rate=1e-3).optimizer(steps_per_epoch=25)
    constant.iterations.assign(100)
    assert float(constant.learning_rate) == pytest.approx(1e-3)


@pytest.mark.real_data
def test_ema_run_ends_with_the_averaged_weights(real_data, tmp_path):
    def train(ema):
        out = tmp_path / f"ema{ema}"
        assert (
            cli.main(["train", *TINY, "--epochs", "2", "--steps-per-epoch", "4", "--ema", str(ema), "--out", str(out)])
            == 0
        )
        return keras.models.load_model(out / "model.keras")

    plain, averaged = train(0.0), train(0.5)
    # Same seed, same updates: only the final swap to the moving average can make them differ.
    differences = [
        np.abs(a - b).max() for a, b in zip(plain.trainable_weights, averaged.trainable_weights, strict=True)
    ]
    assert max(differences) > 1e-4


@pytest.mark.real_data
def test_init_from_starts_from_a_finished_runs_weights(real_data, tmp_path):
    assert cli.main(["train", *TINY, "--epochs", "1", "--steps-per-epoch", "4", "--out", str(tmp_path / "first")]) == 0
    # A learning rate of ~0: the fine-tuned model must still be the first one (its loss may differ).
    assert (
        cli.main(
            [
                "train",
                *TINY,
                "--epochs",
                "1",
                "--steps-per-epoch",
                "2",
                "--learning-rate",
                "1e-12",
                "--sigma-x",
                "0.02",
                "--init-from",
                str(tmp_path / "first"),
                "--out",
                str(tmp_path / "second"),
            ]
        )
        == 0
    )
    first, second = (keras.models.load_model(tmp_path / name / "model.keras") for name in ("first", "second"))
    for a, b in zip(first.weights, second.weights, strict=True):
        if a.trainable:
            np.testing.assert_allclose(a, b, atol=1e-6, err_msg=a.path)
    # The fine-tune scores its own sigma_x (the VAE default is 0.05), not the one it started from.
    assert np.exp(first.log_sigma_x.numpy()) == pytest.approx(0.05) and np.exp(
        second.log_sigma_x.numpy()
    ) == pytest.approx(0.02)
    other = training.TrainConfig(
        dataset="mnist",
        train_size=256,
        validation_size=64,
        batch_size=32,
        width=4,
        epochs=1,
        init_from=str(tmp_path / "first"),
        out=str(tmp_path / "third"),
    )
    with pytest.raises(ValueError, match="same model as this run.*'width': 4.*'width': 8"):
        training.train(other)


@pytest.mark.real_data
def test_init_from_grows_a_conv_spatial_run_by_residual_blocks_that_start_as_the_identity(real_data, tmp_path):
    assert (
        cli.main(["train", *TINY, "--epochs", "1", "--steps-per-epoch", "4", "--out", str(tmp_path / "shallow")]) == 0
    )
    assert (
        cli.main(
            [
                "train",
                *TINY,
                "--epochs",
                "1",
                "--steps-per-epoch",
                "2",
                "--learning-rate",
                "1e-12",
                "--depth",
                "2",
                "--init-from",
                str(tmp_path / "shallow"),
                "--out",
                str(tmp_path / "deep"),
            ]
        )
        == 0
    )
    shallow, deep = (keras.models.load_model(tmp_path / name / "model.keras") for name in ("shallow", "deep"))
    assert deep.count_params() > shallow.count_params()
    validation = data.load("mnist", "validation", validation_size=64).images
    np.testing.assert_allclose(deep.predict_on_batch(validation), shallow.predict_on_batch(validation), atol=1e-5)
    back = training.TrainConfig(
        dataset="mnist",
        train_size=256,
        validation_size=64,
        batch_size=32,
        width=8,
        epochs=1,
        depth=1,
        init_from=str(tmp_path / "deep"),
        out=str(tmp_path / "back"),
    )
    with pytest.raises(ValueError, match="may have a smaller depth.*'depth': 2"):
        training.train(back)


@pytest.mark.real_data
def test_mixed_bfloat16_run_fine_tunes_a_float32_run_and_reloads_in_bfloat16(real_data, tmp_path):
    assert cli.main(["train", *TINY, "--epochs", "1", "--steps-per-epoch", "4", "--out", str(tmp_path / "fp32")]) == 0
    out = tmp_path / "bf16"
    assert (
        cli.main(
            [
                "train",
                *TINY,
                "--epochs",
                "1",
                "--steps-per-epoch",
                "4",
                "--dtype-policy",
                "mixed_bfloat16",
                "--init-from",
                str(tmp_path / "fp32"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert keras.config.dtype_policy().name == "float32"  # the run left the global policy as it found it
    model = keras.models.load_model(out / "model.keras")
    assert model.encoder.layers[1].compute_dtype == "bfloat16" and model.dtype_policy.name == "float32"
    validation = data.load("mnist", "validation", validation_size=64).images
    assert model.predict_on_batch(validation).dtype == np.float32
    metrics = json.loads((out / "metrics.json").read_text())["gaussian"]
    assert denoising_scores(model.predict_on_batch, validation) == metrics
    assert metrics["gaussian:0.5"]["psnr"] > metrics["gaussian:0.5"]["noisy_psnr"]
