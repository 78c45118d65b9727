"""What each level of a hierarchical VAE does, as figures: its images with one level resampled
from its conditional prior (the others at their posterior means), and each level's KL over training."""

import csv

import numpy as np

from tfvae.evaluation import figures


def resampled_levels(model, images, draws=3, seed=0):
    """A figure: `images`, their reconstruction, and per level `draws` rows with that level drawn
    afresh. What changes from row to row is what that level encodes (level 1 is the finest)."""
    rows = {"input": images, "all at the posterior mean": np.asarray(model(images))}
    for level in range(1, model.levels + 1):
        for draw in range(1, draws + 1):
            rows[f"level {level} drawn ({draw})"] = np.asarray(model.resample_level(images, level, seed=seed + draw))
    return figures.image_grid(rows, title="one level drawn from its prior, the others kept")


def kl_per_level(history_csv):
    """A figure of each level's KL (nats per image, training and validation) per epoch, from a run's history.csv."""
    with open(history_csv) as file:
        rows = [row for row in csv.DictReader(file) if row["epoch"] != "epoch"]
    epochs = [int(row["epoch"]) + 1 for row in rows]
    names = sorted(name for name in rows[0] if name.startswith(("kl_level", "val_kl_level")))
    series = {name.replace("_", " "): (epochs, [float(row[name]) for row in rows]) for name in names}
    return figures.curves(series, "epoch", "KL (nats per image)", "KL per level over training")
