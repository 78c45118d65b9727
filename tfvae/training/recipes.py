"""Recipes as data: TrainConfig presets for the shipped models, the bench and the equal budget.

A preset leaves `dataset` and `out` (and the budget, where the caller sets it) to whoever runs it:
`dataclasses.replace(preset, dataset="mnist", out="runs/x")`.
"""

import dataclasses

from tfvae.training.config import TrainConfig

# === The shipped denoising VAEs (benchmarks/pretrain.py, `make pretrained-<dataset>`) ===
# Blind Gaussian denoising, sigma ~ U[0, 0.5] per image; a cosine learning-rate cycle per stage and
# the exponential moving average of the weights. Each stage after the first starts from the one
# before (`init_from`): stage 2 a second cycle from half the learning rate, stage 3 a third with a
# sharper decoder (sigma_x 0.005), stage 4 grows one residual block per side (starting as the
# identity, so it starts where stage 3 ended); MNIST adds short cycles from 1e-4. The model cards
# (saved_models/README.md) score each stage.
PRETRAINED_BASE = TrainConfig(
    model="vae",
    arch="conv-spatial",
    noise="gaussian:0-0.5",
    sigma_x=0.01,
    lr_schedule="cosine",
    ema=0.999,
    steps_per_epoch=500,
    seed=0,
)


def _stages(latent_dim, *stages):
    """Each stage's preset: PRETRAINED_BASE with `latent_dim` and that stage's changes."""
    base = dataclasses.replace(PRETRAINED_BASE, latent_dim=latent_dim)
    return tuple(dataclasses.replace(base, **changes) for changes in stages)


SECOND_CYCLE = {"learning_rate": 5e-4}
SHARPER = {"learning_rate": 2.5e-4, "sigma_x": 0.005}
GROWN = {**SHARPER, "learning_rate": 5e-4, "residual_blocks": 1}
SHORT_CYCLE = {**GROWN, "learning_rate": 1e-4}
PRETRAINED = {
    "mnist": _stages(
        8,
        {"epochs": 40, "time_budget": 6000},
        {**SECOND_CYCLE, "epochs": 72, "time_budget": 5700},
        {**SHARPER, "epochs": 76, "time_budget": 6000},
        {**GROWN, "epochs": 44, "time_budget": 7000},
        {**SHORT_CYCLE, "epochs": 16, "time_budget": 2400},
        {**SHORT_CYCLE, "epochs": 20, "time_budget": 3000},
    ),
    "fashion_mnist": _stages(8, {"epochs": 16, "time_budget": 3000}),
    "cifar10": _stages(
        12,
        {"epochs": 26, "time_budget": 6000},
        {**SECOND_CYCLE, "epochs": 52, "time_budget": 5700},
        {**SHARPER, "epochs": 56, "time_budget": 6000},
        {**GROWN, "epochs": 36, "time_budget": 7000},
    ),
}
# photos: CIFAR-10's model fine-tuned with half of the images grey (the same noise in every channel,
# as a grey photo reaches an RGB model), so that grey photos are denoised too; then grown to three
# residual blocks per side (the new ones start as the identity) and trained on sigma 0 to 0.3, the
# range photos are scored at (the added blocks give the capacity for grey without losing colour).
GREY_PHOTOS = dataclasses.replace(
    PRETRAINED["cifar10"][-1], grey_fraction=0.5, learning_rate=1e-4, epochs=8, time_budget=2100
)
PRETRAINED["photos"] = (
    *PRETRAINED["cifar10"],
    GREY_PHOTOS,
    dataclasses.replace(
        GREY_PHOTOS, residual_blocks=3, noise="gaussian:0-0.3", learning_rate=2.5e-4, epochs=16, time_budget=5400
    ),
)
PRETRAINED_DATASETS = {"photos": "cifar10"}  # the others train on the dataset they are named after
# The denoise_ensemble signature's copies (tfvae.serving.ensemble): quarter turns suit photos, not
# digits or clothes, which have an up.
PRETRAINED_SELF_ENSEMBLE = {"mnist": "flip", "fashion_mnist": "flip", "cifar10": "dihedral", "photos": "dihedral"}


@dataclasses.dataclass(frozen=True)
class BenchEntry:
    """One row of a comparison: its run folder, its preset, its step budget, the datasets it runs on."""

    folder: str
    config: TrainConfig
    steps: int = 0  # 0: fitted in closed form, or trained for a time budget
    datasets: tuple = ()  # () : every dataset


# === `tfvae bench`: the PCA -> AE -> DAE -> VAE path, blind denoisers on one step budget ===
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

# === benchmarks/equal_budget.py: the VAEs against the supervised DnCNN, the same seconds each ===
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

# === --fast: tiny data and budgets that prove a script runs ===
FAST = {"train_size": 512, "validation_size": 128, "epochs": 1, "steps_per_epoch": 2}
FAST_PRETRAIN = {
    "train_size": 256,
    "validation_size": 64,
    "batch_size": 32,
    "width": 8,
    "epochs": 1,
    "steps_per_epoch": 2,
    "time_budget": None,
}
