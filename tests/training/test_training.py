import csv
import json
import os
import random
import signal
import socket
import sys
import time

import keras
import numpy as np
import pytest
from fakes import TINY, TINY_FIELDS, write_mnist_folder

from tfvae import cli, data
from tfvae.data import pipeline
from tfvae.evaluation.scoring import denoising_scores
from tfvae.models import precision, with_network_dtype
from tfvae.models.saving import FINAL_MODEL
from tfvae.training import TrainConfig, checkpoints, fitting, run


def run_files(run_dir):
    return sorted(p.name for p in run_dir.iterdir())


def history_epochs(run_dir):
    with open(run_dir / "history.csv") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f) if row["epoch"] != "epoch"]


def test_train_command_fills_a_run_folder(tiny_vae_run):
    assert {"config.json", "model.keras", "history.csv", "metrics.json", "denoised.png", "logs"} <= set(
        run_files(tiny_vae_run)
    )


def test_a_finished_run_keeps_no_epoch_checkpoints(tiny_vae_run):
    assert checkpoints.FOLDER not in run_files(tiny_vae_run)  # model.keras supersedes them


def test_history_has_a_row_per_epoch(tiny_vae_run):
    assert history_epochs(tiny_vae_run) == [0, 1]


def test_metrics_score_every_headline_sigma(tiny_vae_run):
    metrics = json.loads((tiny_vae_run / "metrics.json").read_text())
    assert set(metrics["gaussian"]) == {"gaussian:0.1", "gaussian:0.2", "gaussian:0.3", "gaussian:0.5"}


def test_the_saved_model_scores_exactly_what_metrics_json_says(tiny_vae_run, fake_data):
    model = keras.models.load_model(tiny_vae_run / "model.keras")
    validation = data.load("mnist", "validation", validation_size=64).images
    assert (
        denoising_scores(model.predict_on_batch, validation)
        == json.loads((tiny_vae_run / "metrics.json").read_text())["gaussian"]
    )


def test_config_json_records_the_flags_by_role(tiny_vae_run):
    assert json.loads((tiny_vae_run / "config.json").read_text())["model"]["width"] == 8


def test_the_mlp_alone_trains_the_writeups_network(fake_data, tmp_path):
    out = tmp_path / "mlp"
    args = ["train", "--model", "vae", "--arch", "mlp", "--dataset", "mnist", "--validation-size", "64"]
    assert cli.main([*args, "--train-size", "256", "--epochs", "1", "--steps-per-epoch", "1", "--out", str(out)]) == 0
    model = keras.models.load_model(out / "model.keras")
    assert (model.architecture.width, model.architecture.latent_dim, model.objective.likelihood) == (
        400,
        20,
        "bernoulli",
    )


def sigma_scores(run_dir, sigma="0.2"):
    return json.loads((run_dir / "metrics.json").read_text())["gaussian"][f"gaussian:{sigma}"]


# On the generated digits a constant output (the mean image) scores 13.9 dB and the noisy input
# 22.4 / 16.6 / 13.2 dB at sigma 0.1 / 0.2 / 0.3: these margins over the noisy input are out of a
# collapsed model's reach at every sigma (at 0.3 the mean image alone beats the noisy input).
MARGIN_DB = {"0.1": 0.5, "0.2": 3.0, "0.3": 6.0}


@pytest.fixture(scope="module")
def denoising_vae_run(fake_data_root, tmp_path_factory):
    config = TrainConfig(
        dataset="mnist",
        data_dir=str(fake_data_root),
        train_size=1000,
        validation_size=256,
        batch_size=64,
        width=16,
        epochs=10,
        steps_per_epoch=30,
        noise="gaussian:0-0.3",
        out=str(tmp_path_factory.mktemp("vae") / "run"),
    )
    return run.train(config)


@pytest.mark.parametrize("sigma", ["0.1", "0.2", "0.3"])
def test_a_vae_beats_the_noisy_input_by_a_margin_a_constant_output_cannot(denoising_vae_run, sigma):
    scores = sigma_scores(denoising_vae_run, sigma)
    assert scores["psnr"] > scores["noisy_psnr"] + MARGIN_DB[sigma]


@pytest.mark.parametrize(
    "model, flags",
    [
        ("pca", []),
        ("ae", ["--arch", "conv-spatial", "--latent-dim", "8", "--epochs", "6", "--steps-per-epoch", "25"]),
        ("dncnn", ["--conv-layers", "5", "--epochs", "6", "--steps-per-epoch", "25"]),
    ],
)
def test_other_models_beat_the_noisy_input_by_a_margin(fake_data, tmp_path, model, flags):
    out = tmp_path / model
    tiny = TINY[: TINY.index("--width")] if model == "pca" else TINY  # pca has no width: it would be refused
    args = ["train", *tiny, "--train-size", "1000", "--noise", "gaussian:0.2", "--model", model, *flags]
    assert cli.main([*args, "--out", str(out)]) == 0
    scores = sigma_scores(out)
    assert scores["psnr"] > scores["noisy_psnr"] + MARGIN_DB["0.2"] / 2


def test_fit_trains_on_dead_leaves_batches_of_another_size(fake_data, tmp_path, monkeypatch):
    drawn = []
    draw = pipeline.dead_leaves
    monkeypatch.setattr(
        pipeline, "dead_leaves", lambda *args, **kwargs: drawn.append(args[1:3]) or draw(*args, **kwargs)
    )
    out = tmp_path / "run"
    args = ["train", *TINY, "--epochs", "1", "--steps-per-epoch", "4", "--synthetic-fraction", "0.5"]
    assert cli.main([*args, "--synthetic-size", "48", "--out", str(out)]) == 0
    assert drawn[:2] == [(48, 48), (48, 48)]


def test_time_budget_stops_after_the_step_that_used_it_up(fake_data, tmp_path, monkeypatch):
    ticks = iter(range(10**6))
    monkeypatch.setattr(fitting.TimeBudget, "clock", staticmethod(lambda: float(next(ticks))))  # a second per look
    out = tmp_path / "run"
    args = ["train", *TINY, "--epochs", "1000", "--steps-per-epoch", "8", "--steps-per-execution", "1"]
    assert cli.main([*args, "--time-budget", "10", "--out", str(out)]) == 0
    assert history_epochs(out) == [0, 1]  # 11 steps: epoch 0 and the epoch it stopped in


@pytest.mark.slow
def test_a_run_killed_at_a_random_moment_resumes_to_the_same_weights_as_an_uninterrupted_run(
    fake_data, tmp_path, spawn
):
    seed = int(os.environ.get("TFVAE_KILL_SEED", random.randrange(2**32)))
    print(f"kill moment drawn with TFVAE_KILL_SEED={seed}")  # pytest shows it when the test fails
    args = ["train", *TINY, "--epochs", "40", "--steps-per-epoch", "4", "--steps-per-execution", "1"]
    command = [sys.executable, "-m", "tfvae.cli", *args, "--out"]
    env = {**os.environ, "CI": "true"}
    uninterrupted = spawn("whole", [*command, str(tmp_path / "whole")], env=env)
    out = tmp_path / "killed"
    process = spawn("killed", [*command, str(out)], env=env)
    history = out / "history.csv"
    while process.poll() is None and (not history.exists() or len(history.read_text().splitlines()) < 4):
        time.sleep(0.05)
    time.sleep(random.Random(seed).uniform(0, 1))  # anywhere in an epoch, including mid-checkpoint
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(history.read_text().splitlines()) - 1
    assert 3 <= done_before < 40 and not (out / FINAL_MODEL).exists(), f"seed {seed}: {spawn.log('killed')}"
    assert spawn("resumed", [*command, str(out)], env=env).wait() == 0, spawn.log("resumed")
    assert uninterrupted.wait() == 0, spawn.log("whole")
    epochs = history_epochs(out)
    # Rows after the restart continue the count (a fresh start would begin again at 0).
    assert epochs[-1] == 39 and epochs.count(0) == 1, f"seed {seed}"
    assert len(epochs) < 40 + 2, f"seed {seed}"  # at most the one interrupted epoch is repeated
    # Weights, optimizer, sampling seed and data stream all resume: bit-identical (CPU kernels here are deterministic).
    resumed, whole = (keras.models.load_model(path / FINAL_MODEL) for path in (out, tmp_path / "whole"))
    for a, b in zip(resumed.weights, whole.weights, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=f"{a.path}, seed {seed}")


@pytest.fixture
def op_determinism_restored():
    """--deterministic switches TF op determinism on for the whole process: off again after the test."""
    from tensorflow.python.framework import config as tf_config

    yield
    tf_config.disable_op_determinism()


def test_same_seed_gives_identical_weights_and_metrics_with_op_determinism(
    fake_data, tmp_path, op_determinism_restored
):
    def train(name):
        args = ["train", *TINY, "--epochs", "1", "--steps-per-epoch", "4", "--deterministic"]
        assert cli.main([*args, "--out", str(tmp_path / name)]) == 0
        return keras.models.load_model(tmp_path / name / FINAL_MODEL), (tmp_path / name / "metrics.json")

    (first, first_metrics), (second, second_metrics) = train("a"), train("b")
    for a, b in zip(first.weights, second.weights, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=a.path)
    assert json.loads(first_metrics.read_text())["gaussian"] == json.loads(second_metrics.read_text())["gaussian"]


def test_diverging_run_stops_with_a_message_and_writes_no_model(fake_data, tmp_path):
    config = TrainConfig(
        **TINY_FIELDS,
        epochs=3,
        steps_per_epoch=4,
        learning_rate=1e12,
        out=str(tmp_path / "run"),
    )
    with pytest.raises(FloatingPointError, match="diverged.*learning rate"):
        run.train(config)
    assert not (tmp_path / "run" / FINAL_MODEL).exists()


def test_existing_run_folders_are_never_overwritten(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a tfvae run folder"):
        run.train(TrainConfig(out=str(foreign)))
    assert (foreign / "thesis.tex").read_text() == "precious" and run_files(foreign) == ["thesis.tex"]

    unfinished = tmp_path / "unfinished"
    run.prepare_run_folder(TrainConfig(out=str(unfinished), epochs=3))
    with pytest.raises(FileExistsError, match="differs in: epochs"):
        run.train(TrainConfig(out=str(unfinished), epochs=4))

    (unfinished / FINAL_MODEL).write_text("done")
    with pytest.raises(FileExistsError, match="finished run"):
        run.train(TrainConfig(out=str(unfinished), epochs=3))


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
        ({"xla": "yes"}, "xla='yes'"),
        ({"dtype_policy": "float16"}, "dtype_policy='float16'"),
        ({"arch": "mlp", "latent_stride": 2}, "model='vae', arch='mlp'.*latent_stride=2"),
        ({"model": "dncnn", "arch": "conv"}, "hyperparameters of model='dncnn'.*Received: arch='conv'"),
        ({"latent_stride": 3}, "latent_stride=3"),
        ({"synthetic_fraction": 1.5}, "synthetic_fraction=1.5"),
        ({"synthetic_size": 0}, "synthetic_size=0"),
    ],
)
def test_bad_config_is_rejected_before_anything_is_written(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(out=str(tmp_path / "run"), **kwargs)
    assert not (tmp_path / "run").exists()


def train_config(argv):
    return cli.train_config(cli.build_parser().parse_args(["train", *argv]))


def test_cli_flags_map_onto_the_config():
    config = train_config(["--arch", "conv", "--latent-dim", "12", "--time-budget", "60"])
    assert (config.arch, config.latent_dim, config.time_budget, config.epochs) == ("conv", 12, 60.0, 10)


def test_a_boolean_flag_is_off_unless_given():
    assert (train_config([]).binarize, train_config(["--binarize"]).binarize) == (False, True)


def test_a_bad_flag_value_is_a_one_line_error(capsys):
    assert cli.main(["train", "--time-budget", "0", "--out", "unused"]) == 1
    assert "time_budget=0" in capsys.readouterr().err


def test_dtype_policy_auto_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)
    assert precision.resolve("auto") == "float32"


def test_dtype_policy_auto_takes_bfloat16_where_it_is_native(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: True)
    assert precision.resolve("auto") == "mixed_bfloat16"


def test_forcing_bfloat16_where_it_is_emulated_warns(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)
    with pytest.warns(UserWarning, match="emulated"):
        assert precision.resolve("mixed_bfloat16") == "mixed_bfloat16"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n")
    assert precision.cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.slow
def test_two_workers_end_with_the_weights_of_one_process_with_two_replicas(tmp_path, spawn):
    write_mnist_folder(tmp_path / "mnist", train=300)
    args = ["train", "--dataset", str(tmp_path / "mnist"), "--validation-size", "40", "--batch-size", "32"]
    args += ["--width", "8", "--epochs", "2", "--steps-per-epoch", "4", "--dtype-policy", "float32"]
    two_replicas = os.path.join(os.path.dirname(__file__), "two_replicas.py")
    mirrored = ["--strategy", "mirrored", "--devices", "/cpu:0,/cpu:1", "--out", str(tmp_path / "one_process")]
    reference = spawn("one_process", [sys.executable, two_replicas, *args, *mirrored])
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = [
        spawn(
            f"worker{index}",
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
        )
        for index in range(2)
    ]
    for name, process in zip(("one_process", "worker0", "worker1"), (reference, *workers)):
        assert process.wait(timeout=600) == 0, spawn.log(name)
    assert not (tmp_path / "worker1").exists()  # only the chief (worker 0) writes
    assert history_epochs(tmp_path / "worker0") == [0, 1]
    two_workers, one_process = (
        keras.models.load_model(tmp_path / name / FINAL_MODEL) for name in ("worker0", "one_process")
    )
    # Same global batch, seed, noise and replica split; only the all-reduce transport differs.
    # Tolerance 1e-6 (measured here: bit-identical).
    for a, b in zip(two_workers.weights, one_process.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0, err_msg=a.path)


def test_mirrored_strategy_matches_single_device_training(spawn):
    script = os.path.join(os.path.dirname(__file__), "mirrored_check.py")
    assert spawn("mirrored", [sys.executable, script]).wait(timeout=300) == 0, spawn.log("mirrored")
    values = dict(line.split() for line in spawn.log("mirrored").splitlines() if line.startswith(("max_", "replica_")))
    update, difference = float(values["max_update"]), float(values["max_difference"])
    assert values["replica_noise_shared"] == "0"  # each replica gets its own slice of the noisy batch
    # Training moved the weights, and two replicas moved them the same way (a gradient summed
    # without the 1/replicas scale would differ by about the whole update).
    assert update > 1e-6 and difference < 1e-3 * update


def test_cosine_schedule_decays_the_learning_rate_to_zero_over_the_planned_steps():
    optimizer = TrainConfig(learning_rate=1e-3, lr_schedule="cosine", epochs=4).make_optimizer(steps_per_epoch=25)
    rates = []
    for step in (0, 50, 100):
        optimizer.iterations.assign(step)
        rates.append(float(optimizer.learning_rate))
    np.testing.assert_allclose(rates, [1e-3, 5e-4, 0.0], atol=1e-9)


def test_a_constant_learning_rate_stays_constant():
    constant = TrainConfig(learning_rate=1e-3).make_optimizer(steps_per_epoch=25)
    constant.iterations.assign(100)
    assert float(constant.learning_rate) == pytest.approx(1e-3)


def test_adamax_is_the_optimizer_asked_for():
    assert type(TrainConfig(optimizer="adamax").make_optimizer(steps_per_epoch=25)).__name__ == "Adamax"


def test_an_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="Received: optimizer='sgd'"):
        TrainConfig(optimizer="sgd")


class WeightRecorder(keras.callbacks.Callback):
    """The trainable weights after every training step."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([w.numpy().copy() for w in self.model.trainable_weights])


def test_ema_weights_are_the_moving_average_of_the_trained_weights(fake_data):
    momentum = 0.6
    config = TrainConfig(
        **TINY_FIELDS,
        epochs=1,
        steps_per_epoch=5,
        steps_per_execution=1,
        ema=momentum,
        dtype_policy="float32",
    )
    train_images, validation_images = run.load_splits(config)
    steps = config.epoch_steps(len(train_images))
    model = fitting.build_model(config, train_images.shape[1:], steps)
    prepared = fitting.Prepared(model, *fitting.make_streams(config, train_images, validation_images), steps)
    recorder = WeightRecorder()
    fitting.fit(prepared, config, [recorder, *fitting.training_callbacks(config)])
    average = recorder.steps[0]  # Keras starts the average at the weights after the first step
    for weights in recorder.steps[1:]:
        average = [momentum * a + (1 - momentum) * w for a, w in zip(average, weights)]
    for final, expected in zip(prepared.model.trainable_weights, average, strict=True):
        np.testing.assert_allclose(final, expected, rtol=1e-5, atol=1e-6, err_msg=final.path)


def test_init_from_starts_from_a_finished_runs_weights(tiny_vae_run, fake_data, tmp_path):
    # A learning rate of ~0: the fine-tuned model must still be the first one (its loss may differ).
    args = ["train", *TINY, "--epochs", "1", "--steps-per-epoch", "2", "--learning-rate", "1e-12", "--sigma-x", "0.02"]
    assert cli.main([*args, "--init-from", str(tiny_vae_run), "--out", str(tmp_path / "second")]) == 0
    first, second = (keras.models.load_model(path / FINAL_MODEL) for path in (tiny_vae_run, tmp_path / "second"))
    for a, b in zip(first.weights, second.weights, strict=True):
        if a.trainable:
            np.testing.assert_allclose(a, b, atol=1e-6, err_msg=a.path)


def test_a_fine_tune_scores_its_own_sigma_x(tiny_vae_run, fake_data, tmp_path):
    args = ["train", *TINY, "--epochs", "1", "--steps-per-epoch", "1", "--sigma-x", "0.02"]
    assert cli.main([*args, "--init-from", str(tiny_vae_run), "--out", str(tmp_path / "second")]) == 0
    second = keras.models.load_model(tmp_path / "second" / FINAL_MODEL)
    assert np.exp(second.log_sigma_x.numpy()) == pytest.approx(0.02)  # not the source's default 0.05


def test_init_from_another_architecture_is_refused(tiny_vae_run, fake_data, tmp_path):
    other = TrainConfig(
        **{**TINY_FIELDS, "width": 4},
        epochs=1,
        init_from=str(tiny_vae_run),
        out=str(tmp_path / "third"),
    )
    with pytest.raises(ValueError, match="same model as this run.*'width': 4.*'width': 8"):
        run.train(other)


def test_init_from_grows_a_conv_spatial_run_by_residual_blocks_that_start_as_the_identity(
    tiny_vae_run, fake_data, tmp_path
):
    args = ["train", *TINY, "--epochs", "1", "--steps-per-epoch", "2", "--learning-rate", "1e-12"]
    args += ["--residual-blocks", "2", "--dtype-policy", "float32", "--init-from", str(tiny_vae_run)]
    assert cli.main([*args, "--out", str(tmp_path / "deep")]) == 0
    shallow, deep = (keras.models.load_model(path / FINAL_MODEL) for path in (tiny_vae_run, tmp_path / "deep"))
    shallow = with_network_dtype(shallow, "float32")  # computing as the deep one does
    assert deep.count_params() > shallow.count_params()
    validation = data.load("mnist", "validation", validation_size=64).images
    np.testing.assert_allclose(deep.predict_on_batch(validation), shallow.predict_on_batch(validation), atol=1e-5)
    back = TrainConfig(
        **TINY_FIELDS,
        epochs=1,
        residual_blocks=1,
        init_from=str(tmp_path / "deep"),
        out=str(tmp_path / "back"),
    )
    with pytest.raises(ValueError, match="may have fewer residual blocks.*'residual_blocks': 2"):
        run.train(back)


def test_mixed_bfloat16_run_fine_tunes_a_float32_run_and_reloads_in_bfloat16(fake_data, tmp_path):
    args = ["train", *TINY, "--epochs", "1", "--steps-per-epoch", "4"]
    assert cli.main([*args, "--dtype-policy", "float32", "--out", str(tmp_path / "fp32")]) == 0
    out = tmp_path / "bf16"
    assert (
        cli.main([*args, "--dtype-policy", "mixed_bfloat16", "--init-from", str(tmp_path / "fp32"), "--out", str(out)])
        == 0
    )
    assert keras.config.dtype_policy().name == "float32"  # the run left the global policy as it found it
    model = keras.models.load_model(out / FINAL_MODEL)
    assert model.encoder.layers[1].compute_dtype == "bfloat16" and model.dtype_policy.name == "float32"
    validation = data.load("mnist", "validation", validation_size=64).images
    assert model.predict_on_batch(validation).dtype == np.float32
    assert (
        denoising_scores(model.predict_on_batch, validation)
        == json.loads((out / "metrics.json").read_text())["gaussian"]
    )


def test_a_tf_function_call_never_runs_past_the_end_of_an_epoch():
    from tfvae.training.fitting import steps_per_execution

    assert steps_per_execution(TrainConfig(steps_per_execution=8), 500) == 4  # 125 calls, not 63 (504 steps)


def saved_conv_spatial_vae(path, **hyperparameters):
    """A conv-spatial VAE with random (non-identity) weights saved at `path`; the model."""
    from tfvae.models import VAE

    vae = VAE((16, 16, 1), arch="conv-spatial", width=8, latent_dim=2, seed=0, **hyperparameters)
    rng = np.random.default_rng(0)
    vae.set_weights([w + rng.normal(0, 0.05, w.shape) for w in vae.get_weights()])
    vae.save(path)
    return vae


def test_init_from_fine_tunes_residual_blocks_into_dilated_ones_with_the_same_weights(tmp_path):
    from tfvae.models import VAE

    source = saved_conv_spatial_vae(tmp_path / "plain.keras", residual_blocks=2)
    dilated = VAE((16, 16, 1), arch="conv-spatial", width=8, latent_dim=2, residual_blocks=2, dilation_growth=2)
    fitting.copy_weights(tmp_path / "plain.keras", dilated)
    for copied, trained in zip(dilated.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(copied, trained)


def test_init_from_adds_a_noise_level_input_that_starts_ignored(tmp_path):
    from tfvae.models import VAE

    source = saved_conv_spatial_vae(tmp_path / "blind.keras", residual_blocks=1)
    informed = VAE((16, 16, 1), arch="conv-spatial", width=8, latent_dim=2, residual_blocks=1, noise_level_input=True)
    fitting.copy_weights(tmp_path / "blind.keras", informed)
    images = np.random.default_rng(1).uniform(size=(4, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(informed.predict_on_batch(images), source.predict_on_batch(images), atol=1e-6)


def test_init_from_refuses_to_drop_the_noise_level_input(tmp_path):
    from tfvae.models import VAE

    saved_conv_spatial_vae(tmp_path / "informed.keras", noise_level_input=True)
    blind = VAE((16, 16, 1), arch="conv-spatial", width=8, latent_dim=2)
    with pytest.raises(ValueError, match="lack the noise-level input.*'noise_level_input': True"):
        fitting.copy_weights(tmp_path / "informed.keras", blind)
