"""Recipes as data: the TrainConfig presets of the shipped models, stage by stage.

`benchmarks/pretrain.py` (`make pretrained-<name>`) trains them; the benchmarks' own presets
live beside their scripts (`benchmarks/bench.py`).

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
