import json

import numpy as np
import pytest
import tensorflow as tf

from tfvae import baselines, cli, evaluation, export, report, training
from tfvae.metrics import psnr, ssim
from tfvae.models import Autoencoder

RNG = np.random.default_rng(0)
CLEAN = RNG.uniform(0.2, 0.8, (6, 16, 16, 3)).astype(np.float32)


def test_psnr_closed_form_and_agreement_with_tf_image():
    shifted = CLEAN + 0.1  # MSE 0.01 -> 20 dB
    np.testing.assert_allclose(psnr(CLEAN, shifted), 20.0, rtol=1e-5)
    noisy = np.clip(CLEAN + RNG.normal(0, 0.2, CLEAN.shape), -0.5, 1.5).astype(np.float32)
    np.testing.assert_allclose(psnr(CLEAN, noisy), tf.image.psnr(CLEAN, np.clip(noisy, 0, 1), 1.0))
    np.testing.assert_allclose(ssim(CLEAN, noisy), tf.image.ssim(CLEAN, np.clip(noisy, 0, 1), 1.0))
    np.testing.assert_allclose(ssim(CLEAN, CLEAN), 1.0, rtol=1e-6)


def test_scores_average_per_image_not_per_pixel():
    errors = np.stack([CLEAN[0] + 0.1, CLEAN[1] + 0.01]).astype(np.float32)
    assert evaluation.scores(CLEAN[:2], errors)["psnr"] == pytest.approx((20.0 + 40.0) / 2, rel=1e-4)


def test_gaussian_blur_keeps_constant_images_and_smooths_noise():
    flat = np.full((2, 16, 16, 3), 0.3, np.float32)
    np.testing.assert_allclose(baselines.gaussian_blur(flat, 1.5), flat, atol=1e-6)
    smooth = np.tile(np.linspace(0, 1, 16, dtype=np.float32)[None, :, None, None], (64, 1, 16, 1))
    light = np.clip(smooth + RNG.normal(0, 0.05, smooth.shape), 0, 1).astype(np.float32)
    heavy = np.clip(smooth + RNG.normal(0, 0.3, smooth.shape), 0, 1).astype(np.float32)
    assert baselines.best_blur_width(heavy, smooth) > baselines.best_blur_width(light, smooth)


def test_comparison_is_identical_across_calls():
    methods = {
        "noisy input": lambda noisy, spec: noisy,
        "blur": lambda noisy, spec: baselines.gaussian_blur(noisy, 1.0),
    }
    first = evaluation.compare(methods, CLEAN, evaluation.NOISE_GRID, seed=3)
    assert first == evaluation.compare(methods, CLEAN, evaluation.NOISE_GRID, seed=3)
    assert first != evaluation.compare(methods, CLEAN, evaluation.NOISE_GRID, seed=4)
    assert set(first["blur"]) == set(evaluation.NOISE_GRID)


@pytest.mark.real_data
def test_saved_model_scores_equal_the_run_it_came_from(real_data, tmp_path):
    config = training.TrainConfig(
        dataset="mnist", train_size=256, validation_size=64, batch_size=32, width=8, epochs=1, out=str(tmp_path / "run")
    )
    run = training.train(config)
    served = export.export_model(export.load_model(run), tmp_path / "served", "vae", 1)
    kwargs = {
        "dataset": "mnist",
        "specs": ("gaussian:0.3", "salt_pepper:0.1"),
        "limit": 64,
        "samples": 4,
        "density_samples": 10,
    }
    from_run = report.evaluate(run, out=tmp_path / "eval_run", **kwargs)
    from_saved = report.evaluate(served, out=tmp_path / "eval_saved", **kwargs)
    for spec in kwargs["specs"]:
        for metric in ("psnr", "ssim"):
            assert from_saved["denoising"]["model"][spec][metric] == pytest.approx(
                from_run["denoising"]["model"][spec][metric], abs=1e-4
            )
    assert from_saved["denoising"]["PCA"] == from_run["denoising"]["PCA"]
    assert "density" in from_run and "density" not in from_saved  # density needs the Keras model
    assert "(standard error) nats" in (tmp_path / "eval_run" / "evaluation.md").read_text()
    assert from_saved["uncertainty"]["mean_pixel_std"] > 0 and from_saved["uncertainty"]["samples"] == 4
    for name in (
        "evaluation.json",
        "evaluation.md",
        "psnr_vs_sigma.png",
        "denoised.png",
        "latent_scatter.png",
        "interpolation.png",
        "samples.png",
        "uncertainty.png",
    ):
        assert (tmp_path / "eval_saved" / name).exists(), name
    assert json.loads((tmp_path / "eval_run" / "evaluation.json").read_text())["images"] == 64


@pytest.mark.real_data
def test_evaluate_command_refuses_to_overwrite_a_report(real_data, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "evaluation.json").write_text("{}")
    assert cli.main(["evaluate", str(tmp_path), "--dataset", "mnist", "--out", str(tmp_path / "out")]) == 1
    assert "already holds an evaluation" in capsys.readouterr().err
    assert (tmp_path / "out" / "evaluation.json").read_text() == "{}"


@pytest.mark.real_data
def test_bench_fast_mode_runs_end_to_end(real_data, tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/quality.py",
            "--fast",
            "--datasets",
            "mnist",
            "--out",
            str(tmp_path / "runs"),
            "--table",
            str(tmp_path / "quality.md"),
            "--figures",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=str(report.Path(__file__).resolve().parents[1]),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "quality.md").read_text()
    for row in ("noisy input", "Gaussian blur", "PCA", "DAE conv", "seed MLP VAE", "conv-spatial VAE"):
        assert row in table
    assert (tmp_path / "mnist_psnr_vs_sigma.png").exists()


@pytest.mark.real_data
def test_equal_budget_benchmark_fast_mode_runs_end_to_end(real_data, tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/equal_budget.py",
            "--fast",
            "--seconds",
            "5",
            "--datasets",
            "mnist",
            "--out",
            str(tmp_path / "runs"),
            "--table",
            str(tmp_path / "equal.md"),
        ],
        capture_output=True,
        text=True,
        cwd=str(report.Path(__file__).resolve().parents[1]),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "equal.md").read_text()
    for row in ("noisy input", "conv-spatial VAE (latent H/2 x W/2 x 8)", "DnCNN-10", "mixed_bfloat16 layers"):
        assert row in table
    assert "x 12" not in table  # the CIFAR-10 VAE only runs on CIFAR-10


@pytest.mark.real_data
def test_posterior_average_benchmark_scores_both_denoisers_and_refuses_a_non_vae(real_data, tmp_path):
    import subprocess
    import sys

    repo = report.Path(__file__).resolve().parents[1]
    command = [
        sys.executable,
        "benchmarks/posterior_average.py",
        "--dataset",
        "mnist",
        "--limit",
        "16",
        "--samples",
        "2",
    ]
    result = subprocess.run([*command, "saved_models/mnist_vae/4"], capture_output=True, text=True, cwd=str(repo))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("| decode(z_mean)") or line.startswith("| mean of 2")
    ]
    psnrs = [[float(cell.split(" / ")[0]) for cell in row.strip("|").split("|")[1:]] for row in rows]
    assert len(psnrs) == 2 and all(len(row) == 4 for row in psnrs)
    assert all(20 < value < 40 for row in psnrs for value in row) and psnrs[0] != psnrs[1]
    autoencoder = export.export_model(Autoencoder((28, 28, 1), arch="conv", width=4, latent_dim=4), tmp_path, "ae", 1)
    result = subprocess.run([*command, str(autoencoder)], capture_output=True, text=True, cwd=str(repo))
    assert result.returncode == 2 and "expected a VAE SavedModel" in result.stderr


@pytest.mark.real_data
def test_pretrain_script_chains_its_stages_and_reuses_finished_ones(real_data, tmp_path):
    import subprocess
    import sys

    command = [
        sys.executable,
        "benchmarks/pretrain.py",
        "mnist",
        "--version",
        "8",
        "--fast",
        "--runs",
        str(tmp_path / "runs"),
        "--to",
        str(tmp_path / "saved"),
    ]
    repo = str(report.Path(__file__).resolve().parents[1])
    result = subprocess.run(command, capture_output=True, text=True, cwd=repo)
    assert result.returncode == 0, result.stderr[-2000:]
    stages = [tmp_path / "runs" / name for name in ("mnist", "mnist-2", "mnist-3", "mnist-4", "mnist-5", "mnist-6")]
    configs = [json.loads((stage / "config.json").read_text()) for stage in stages]
    assert [config["init_from"] for config in configs] == [None, *map(str, stages[:-1])]
    assert [config["dtype_policy"] for config in configs] == ["float32", *["mixed_bfloat16"] * 5]
    assert [config["sigma_x"] for config in configs] == [
        0.01,
        0.01,
        0.005,
        0.005,
        0.005,
        0.005,
    ]  # a stage's later flags win
    assert [config["learning_rate"] for config in configs] == [1e-3, 5e-4, 2.5e-4, 5e-4, 1e-4, 1e-4]
    assert [config["depth"] for config in configs] == [None, None, None, 1, 1, 1]  # stage 4 grows a residual block
    assert (tmp_path / "saved" / "mnist_vae" / "8" / "saved_model.pb").exists()
    assert "gaussian:0.5" in (stages[-1] / "evaluation" / "evaluation.md").read_text()
    # A rerun reuses the finished stages; the existing SavedModel version is only replaced with --force.
    trained = [(run / "model.keras").stat().st_mtime_ns for run in stages]
    result = subprocess.run(command, capture_output=True, text=True, cwd=repo)
    assert result.returncode == 1 and "--force" in result.stderr
    result = subprocess.run([*command, "--force"], capture_output=True, text=True, cwd=repo)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [(run / "model.keras").stat().st_mtime_ns for run in stages] == trained
