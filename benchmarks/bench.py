"""The comparison driver the benchmark scripts share, and their presets as data.

Train every entry of a preset on one budget per dataset (in steps, or seconds of wall-clock),
score them all on the validation slice next to the noisy input, Gaussian blur and BM3D, and write
the table. `quality.py` runs `BENCH`, the PCA -> AE -> DAE -> VAE path; `equal_budget.py` runs
`EQUAL_BUDGET`, the VAEs against the supervised DnCNN. Each model is a blind denoiser (trained on
gaussian:0-0.5; the plain autoencoder clean -> clean). Step budgets are in steps of batch 128, so
the numbers do not depend on machine load; the table also shows each model's wall-clock training
time. Finished runs are reused: rerunning continues.

A benchmark script imports this module as a sibling (`python benchmarks/quality.py` puts
benchmarks/ first on sys.path); it is not part of the tfvae package.
"""

import dataclasses
import json
from pathlib import Path

from tfvae.data import sources
from tfvae.evaluation import baselines
from tfvae.evaluation.scoring import (
    HEADLINE_SIGMAS,
    HEADLINE_SPECS,
    baseline_methods,
    bm3d_row,
    compare,
    predict_in_batches,
    slow_rows,
)
from tfvae.models.saving import FINAL_MODEL, load_model
from tfvae.training import TrainConfig, train


@dataclasses.dataclass(frozen=True)
class BenchEntry:
    """One row of a comparison: its run folder, its preset, its step budget, the datasets it runs on."""

    folder: str
    config: TrainConfig
    steps: int = 0  # 0: fitted in closed form, or trained for a time budget
    datasets: tuple = ()  # () : every dataset


# === quality.py: the PCA -> AE -> DAE -> VAE path, blind denoisers on one step budget ===
# float32 layers whatever the hardware: a step budget compares models, not dtype policies.
def _bench(**fields):
    return TrainConfig(dtype_policy="float32", **fields)


BENCH = {
    "PCA (k chosen on validation)": BenchEntry("PCA", _bench(model="pca")),
    "AE conv (clean -> clean)": BenchEntry("AE_conv", _bench(model="ae", arch="conv", noise="none"), 1000),
    "DAE conv": BenchEntry("DAE_conv", _bench(model="ae", arch="conv"), 1000),
    "the write-up's MLP VAE 784-400-20, BCE": BenchEntry("writeup_MLP_VAE", _bench(model="vae", arch="mlp"), 2000),
    "conv VAE (global latent 16)": BenchEntry("conv_VAE", _bench(model="vae", arch="conv"), 1000),
    "conv-spatial VAE (latent H/2 x W/2 x 4)": BenchEntry(
        "conv-spatial_VAE", _bench(model="vae", arch="conv-spatial"), 2000
    ),
    "conv-fullres VAE (latent H x W x 3)": BenchEntry(
        "conv-fullres_VAE", _bench(model="vae", arch="conv-fullres"), 2000
    ),
    "conv-spatial VAE, sigma_x 0.02, 3000 steps": BenchEntry(
        "conv-spatial_VAE_sigma0.02", _bench(model="vae", arch="conv-spatial", sigma_x=0.02), 3000, ("cifar10",)
    ),
}

# === equal_budget.py: the VAEs against the supervised DnCNN, the same seconds each ===
# The VAE is the shipped models' architecture at a constant learning rate and without the weight
# EMA: a cosine schedule needs the step count, which a time budget does not fix, and a 0.999
# average still carries the initial weights a few thousand steps in.
EQUAL_BUDGET_VAE = TrainConfig(model="vae", arch="conv-spatial", sigma_x=0.01)
EQUAL_BUDGET = {
    "conv-spatial VAE (latent H/2 x W/2 x 8)": BenchEntry(
        "VAE_latent8", dataclasses.replace(EQUAL_BUDGET_VAE, latent_dim=8), datasets=("mnist", "fashion_mnist")
    ),
    "conv-spatial VAE (latent H/2 x W/2 x 12)": BenchEntry(
        "VAE_latent12", dataclasses.replace(EQUAL_BUDGET_VAE, latent_dim=12), datasets=("cifar10",)
    ),
    "ladder VAE, 2 levels (latents H/2 x W/2 x 8, H/4 x W/4 x 8)": BenchEntry(
        "HVAE_levels2",
        TrainConfig(model="hvae", levels=2, width=32, latent_dim=8, sigma_x=0.01),
        datasets=("mnist", "fashion_mnist"),
    ),
    "DnCNN-10, width 32 (supervised)": BenchEntry("DnCNN", TrainConfig(model="dncnn", conv_layers=10, width=32)),
}

# === ladder.py: the ladder VAE's levers, one at a time, on one step budget (binarized MNIST density) ===
LADDER_BASE = TrainConfig(
    model="hvae",
    levels=3,
    width=32,
    latent_dim=8,
    likelihood="bernoulli",
    binarize=True,
    noise="none",
    lr_schedule="cosine",
    dtype_policy="float32",
)
LADDER_STEPS = 2000
LADDER_LEVERS = {  # name: the fields that change, one lever at a time, then all of them
    "+ skip connections": {"skip_connections": True},
    "+ gated cells": {"gated": True},
    "+ learned top prior": {"learned_prior": True},
    "+ free bits (0.05 nats per dimension)": {"free_bits": 0.05},
    "+ Adamax": {"optimizer": "adamax"},
}
LADDER = {
    "ladder, 3 levels (latents 8 channels, width 32)": BenchEntry("base", LADDER_BASE, LADDER_STEPS),
    **{
        name: BenchEntry(f"lever{i}", dataclasses.replace(LADDER_BASE, **fields), LADDER_STEPS)
        for i, (name, fields) in enumerate(LADDER_LEVERS.items(), start=1)
    },
    "all of them": BenchEntry(
        "all",
        dataclasses.replace(LADDER_BASE, **{k: v for fields in LADDER_LEVERS.values() for k, v in fields.items()}),
        LADDER_STEPS,
    ),
}

# === --fast: tiny data and budgets that prove a script runs ===
FAST = {"train_size": 512, "validation_size": 128, "epochs": 1, "steps_per_epoch": 2}

STEPS_PER_EPOCH = 250


def budget(entry, fast, seconds=None):
    """The TrainConfig fields of `entry`'s budget: tiny (`fast`), `seconds` of wall-clock, or its steps."""
    if fast:
        return FAST
    if seconds:
        return {"epochs": 10**6, "steps_per_epoch": STEPS_PER_EPOCH, "time_budget": seconds}
    return {
        "epochs": max(1, entry.steps // STEPS_PER_EPOCH),
        "steps_per_epoch": min(entry.steps, STEPS_PER_EPOCH) or None,
    }


def train_all(dataset, out, fast, entries, seconds=None):
    """Train (or reuse) every entry that runs on `dataset`, for its steps or, given `seconds`, for
    that wall-clock time each; returns {name: run folder}."""
    runs = {}
    for name, entry in entries.items():
        if entry.datasets and dataset not in entry.datasets:
            continue
        run_dir = Path(out) / dataset / entry.folder
        if not (run_dir / FINAL_MODEL).exists():
            config = dataclasses.replace(
                entry.config, dataset=dataset, out=str(run_dir), **budget(entry, fast, seconds)
            )
            train(config)
        runs[name] = run_dir
    return runs


def score_all(dataset, runs, fast, seed=0):
    """{method: {spec: scores}} on the validation slice: noisy input, Gaussian blur, then every run."""
    validation_size = FAST["validation_size"] if fast else sources.DEFAULT_VALIDATION_SIZE
    clean = sources.load(dataset, "validation", validation_size=validation_size, seed=seed).images
    methods = {"noisy input": lambda noisy, spec: noisy}
    tuned, _ = (
        baseline_methods(clean, clean, HEADLINE_SPECS, seed)
        if fast
        else baseline_methods(sources.load(dataset, "train", seed=seed).images, clean, HEADLINE_SPECS, seed)
    )
    methods["Gaussian blur (width tuned per sigma)"] = tuned["Gaussian blur"]
    if baselines.bm3d_available():
        methods[bm3d_row(clean.shape[-1])] = tuned[bm3d_row(clean.shape[-1])]
    for name, run_dir in runs.items():
        model = load_model(run_dir)
        methods[name] = lambda noisy, spec, model=model: predict_in_batches(model.predict_on_batch, noisy)
    results = compare(methods, clean, HEADLINE_SPECS, seed, slow_rows(methods))
    seconds = {
        name: json.loads((run_dir / "metrics.json").read_text())["train_seconds"] for name, run_dir in runs.items()
    }
    return results, seconds


def markdown(dataset, results, seconds):
    """One dataset's section of a results page: a row per method, PSNR / SSIM per sigma."""
    header = "| model | train s | " + " | ".join(f"sigma {s:g}" for s in HEADLINE_SIGMAS) + " |"
    lines = [f"## {dataset}", "", header, "|---|---|" + "---|" * len(HEADLINE_SIGMAS)]
    for name, by_spec in results.items():
        cells = [f"{by_spec[s]['psnr']:.2f} / {by_spec[s]['ssim']:.3f}" for s in HEADLINE_SPECS]
        lines.append(f"| {name} | {seconds.get(name, 0):.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
