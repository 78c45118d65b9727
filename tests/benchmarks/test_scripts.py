"""The benchmark scripts (benchmarks/*.py) run end to end in fast mode on the generated data.

Each runs as its users run it, a script from the repository root; all are slow (minutes of CPU).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfvae.models import Autoencoder, load_model
from tfvae.serving import saved_model
from tfvae.training import TrainConfig

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run_script(spawn, name, *argv):
    """Run a benchmark script from the repository root; its exit code (output in spawn.log(name))."""
    return spawn(name, [sys.executable, *argv], cwd=str(REPO)).wait(timeout=900)


def test_bench_fast_mode_runs_end_to_end(fake_data, tmp_path, spawn):
    args = ["--fast", "--datasets", "mnist", "--out", str(tmp_path / "runs"), "--pages", str(tmp_path)]
    assert run_script(spawn, "bench", "benchmarks/quality.py", *args, "--figures", str(tmp_path)) == 0, spawn.log(
        "bench"
    )
    table = (tmp_path / "quality_mnist.md").read_text()
    for row in ("noisy input", "Gaussian blur", "PCA", "DAE conv", "the write-up's MLP VAE", "conv-spatial VAE"):
        assert row in table
    assert (tmp_path / "mnist_psnr_vs_sigma.png").exists()


def test_equal_budget_benchmark_fast_mode_runs_end_to_end(fake_data, tmp_path, spawn):
    args = ["--fast", "--seconds", "5", "--datasets", "mnist", "--out", str(tmp_path / "runs")]
    assert run_script(spawn, "equal", "benchmarks/equal_budget.py", *args, "--table", str(tmp_path / "equal.md")) == 0
    table = (tmp_path / "equal.md").read_text()
    for row in ("noisy input", "conv-spatial VAE (latent H/2 x W/2 x 8)", "DnCNN-10", "dtype policy auto"):
        assert row in table
    assert "x 12" not in table  # the CIFAR-10 VAE only runs on CIFAR-10


def test_posterior_average_benchmark_scores_both_denoisers(tiny_vae_run, fake_data, tmp_path, spawn):
    served = saved_model.export_model(load_model(tiny_vae_run), tmp_path, "vae", 1)
    args = ["benchmarks/posterior_average.py", str(served), "--dataset", "mnist", "--limit", "16", "--samples", "2"]
    args += ["--page", str(tmp_path / "posterior_average.md")]
    assert run_script(spawn, "average", *args) == 0, spawn.log("average")
    rows = [line for line in spawn.log("average").splitlines() if line.startswith(("| decode(z_mean)", "| mean of 2"))]
    psnrs = [[float(cell.split(" / ")[0]) for cell in row.strip("|").split("|")[1:]] for row in rows]
    assert len(psnrs) == 2 and all(len(row) == 4 for row in psnrs) and psnrs[0] != psnrs[1]


def test_posterior_average_benchmark_refuses_a_model_without_a_posterior(tmp_path, spawn):
    autoencoder = saved_model.export_model(Autoencoder((28, 28, 1), width=4, latent_dim=4), tmp_path, "ae", 1)
    args = ["benchmarks/posterior_average.py", str(autoencoder), "--dataset", "mnist"]
    assert run_script(spawn, "ae", *args) == 2 and "expected a VAE SavedModel" in spawn.log("ae")


@pytest.fixture(scope="module")
def pretrained_fast(fake_data_root, tmp_path_factory):
    """benchmarks/pretrain.py mnist --fast on the generated MNIST: (its command, its stages' run folders)."""
    root = tmp_path_factory.mktemp("pretrain")
    command = [sys.executable, "benchmarks/pretrain.py", "mnist", "--version", "8", "--fast"]
    command += ["--runs", str(root / "runs"), "--to", str(root / "saved")]
    env = {**os.environ, "TFVAE_DATA_DIR": str(fake_data_root)}
    result = subprocess.run(
        command, cwd=str(REPO), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stages = [root / "runs" / name for name in ("mnist", "mnist-2", "mnist-3", "mnist-4", "mnist-5", "mnist-6")]
    return command, env, root, stages


def stage_configs(stages):
    return [TrainConfig.from_dict(json.loads((stage / "config.json").read_text())) for stage in stages]


def test_each_pretraining_stage_starts_from_the_one_before(pretrained_fast):
    _, _, _, stages = pretrained_fast
    assert [config.init_from for config in stage_configs(stages)] == [None, *map(str, stages[:-1])]


def test_the_pretraining_stages_follow_the_recipe(pretrained_fast):
    _, _, _, stages = pretrained_fast
    settings = [(c.learning_rate, c.sigma_x, c.residual_blocks) for c in stage_configs(stages)]
    assert (
        settings
        == [(1e-3, 0.01, None), (5e-4, 0.01, None), (2.5e-4, 0.005, None)] + [(5e-4, 0.005, 1)] + [(1e-4, 0.005, 1)] * 2
    )


def test_pretraining_exports_and_scores_the_last_stage(pretrained_fast):
    _, _, root, stages = pretrained_fast
    assert (root / "saved" / "mnist_vae" / "8" / "saved_model.pb").exists()
    assert "gaussian:0.5" in (stages[-1] / "evaluation" / "evaluation.md").read_text()


def test_a_pretraining_rerun_reuses_its_stages_and_replaces_a_version_only_with_force(pretrained_fast):
    command, env, _, stages = pretrained_fast
    trained = [(stage / "model.keras").stat().st_mtime_ns for stage in stages]
    quiet = {"cwd": str(REPO), "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
    refused = subprocess.run(command, **quiet)
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert subprocess.run([*command, "--force"], **quiet).returncode == 0
    assert [(stage / "model.keras").stat().st_mtime_ns for stage in stages] == trained


def test_unsupervised_benchmark_reports_scores_and_calibration(tiny_vae_run, fake_data, tmp_path, spawn):
    args = ["benchmarks/unsupervised.py", "--dataset", "mnist", "--unsupervised", str(tiny_vae_run)]
    args += ["--limit", "16", "--samples", "2", "--calibration-images", "8", "--calibration-samples", "4"]
    assert run_script(spawn, "unsupervised", *args, "--page", str(tmp_path / "page.md")) == 0, spawn.log("unsupervised")
    page = (tmp_path / "page.md").read_text()
    calibration = [line for line in page.splitlines() if line.startswith(f"| unsupervised VAE {tiny_vae_run} |")]
    assert len(calibration) == 4 and all(0 <= float(row.split("|")[3]) <= 1 for row in calibration)


def test_denoise_memory_benchmark_reports_time_and_peak_memory_per_size(tmp_path, spawn):
    model = saved_model.export_model(Autoencoder((16, 16, 3), width=4, latent_dim=4), tmp_path, "ae", 1)
    args = ["benchmarks/denoise_memory.py", str(model), "--megapixels", "0.02", "0.05"]
    assert run_script(spawn, "memory", *args, "--page", str(tmp_path / "page.md")) == 0, spawn.log("memory")
    rows = [line for line in (tmp_path / "page.md").read_text().splitlines() if line.startswith("| ") and " x " in line]
    assert len(rows) == 3 and all(float(row.split("|")[5]) > 0 for row in rows)  # a peak for each size


def test_ladder_levers_benchmark_fast_mode_runs_end_to_end(fake_data, tmp_path, spawn):
    args = ["--fast", "--out", str(tmp_path / "runs"), "--table", str(tmp_path / "ladder.md")]
    assert run_script(spawn, "ladder", "benchmarks/ladder.py", *args) == 0, spawn.log("ladder")
    table = (tmp_path / "ladder.md").read_text()
    for row in ("ladder, 3 levels", "+ skip connections", "+ gated cells", "+ Adamax", "all of them"):
        assert row in table


def test_density_benchmark_scores_each_model_in_nats_and_bits(tiny_vae_run, fake_data, tmp_path, spawn):
    args = ["benchmarks/density.py", str(tiny_vae_run), str(tiny_vae_run), "--images", "8", "--samples", "2"]
    assert run_script(spawn, "density", *args, "--page", str(tmp_path / "page.md")) == 0, spawn.log("density")
    rows = [line for line in (tmp_path / "page.md").read_text().splitlines() if line.startswith(f"| `{tiny_vae_run}`")]
    assert len(rows) == 2 and all(float(row.split("|")[4]) > 0 for row in rows)  # bits/dim of each model
