"""Train one model of the PCA -> AE -> VAE path with plain `model.fit` into a run folder.

    run_dir = train(TrainConfig(model="vae", arch="conv-spatial", dataset="mnist", out="runs/mnist"))

A run folder holds config.json, model.keras, history.csv, metrics.json (validation scores per
Gaussian sigma next to the noisy input), denoised.png, and logs/ for TensorBoard. Rerunning the
same config into an unfinished run folder resumes it exactly where its last finished epoch ended
(weights, optimizer state and the position in the seeded data stream; see `tfvae.training.checkpoints`).
"""

import dataclasses
import errno
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfvae.data import sources
from tfvae.data.noise import add_noise
from tfvae.evaluation import figures, levels
from tfvae.evaluation.scoring import denoising_scores
from tfvae.io import replace_atomically
from tfvae.models.saving import FINAL_MODEL
from tfvae.training import checkpoints, distribute, fitting
from tfvae.training.config import TrainConfig

MIN_FREE_BYTES = 100 * 2**20  # the largest models' checkpoint + model.keras + logs stay far below


def prepare_run_folder(config):
    """Create the run folder, or accept an unfinished one made by the same config (resume)."""
    run_dir = Path(config.out)
    config_file = run_dir / "config.json"
    check_free_space(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        if not config_file.exists():
            raise FileExistsError(f"{run_dir} exists and is not a tfvae run folder; choose another --out.")
        if (run_dir / FINAL_MODEL).exists():
            raise FileExistsError(f"{run_dir} already holds a finished run; choose another --out.")
        changed = changed_fields(json.loads(config_file.read_text()), config)
        if changed:
            raise FileExistsError(
                f"{run_dir} holds an unfinished run with a different config (differs in: {', '.join(changed)}); "
                "rerun with the same flags to resume, or choose another --out."
            )
        return run_dir
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PermissionError(
            f"Cannot create the run folder {run_dir} ({error.strerror}); choose another --out."
        ) from None
    if not os.access(run_dir, os.W_OK):
        raise PermissionError(f"Cannot write to the run folder {run_dir}; choose another --out.")
    config_file.write_text(json.dumps(config.to_dict(), indent=2))
    return run_dir


def changed_fields(saved, config):
    """The fields in which the config.json data `saved` differ from `config` (all of them when unreadable)."""
    wanted = dataclasses.asdict(config)
    try:
        saved = dataclasses.asdict(TrainConfig.from_dict(saved))
    except (TypeError, ValueError):  # written by another tfvae version: nothing can be assumed equal
        return sorted(wanted)
    return sorted(name for name in wanted if saved[name] != wanted[name])


def check_free_space(run_dir):
    """Refuse to start when the disk holding `run_dir` (or its nearest existing parent) is nearly full."""
    existing = next(p for p in (run_dir, *run_dir.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise OSError(
            errno.ENOSPC,
            f"Only {free / 2**20:.0f} MiB free on the disk of {existing}; a run needs at least "
            f"{MIN_FREE_BYTES / 2**20:.0f} MiB (checkpoints, model, logs). Free some space or choose another --out.",
        )


def load_splits(config):
    """(train images, validation images) of the configured dataset."""
    kwargs = {"data_dir": config.data_dir, "validation_size": config.validation_size, "seed": config.seed}
    train_images = sources.load(config.dataset, "train", **kwargs).images
    validation_images = sources.load(config.dataset, "validation", **kwargs).images
    return train_images[: config.train_size], validation_images


def train(config: TrainConfig) -> Path:
    """Trains the model a `TrainConfig` describes and fills its run folder.

    Networks train with plain `model.fit` on seeded `(noisy, clean)` streams; `pca` is fitted
    in closed form. The run folder `config.out` gets config.json, model.keras, history.csv,
    metrics.json (validation scores per Gaussian sigma), denoised.png and logs/ (TensorBoard).
    Rerunning the same config into an unfinished run folder resumes it where its last finished
    epoch ended.

    Args:
        config: `TrainConfig`, the run.

    Returns:
        The run folder's path.

    Raises:
        FileExistsError: if `config.out` holds a finished run, a run of another config, or is
            not a run folder.
        PermissionError: if the run folder cannot be created or written.
        OSError: if the disk of the run folder is nearly full.
        DataNotFoundError: if the dataset is not found (see `tfvae.data.load`).
        FloatingPointError: if training diverges (a non-finite loss).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> import tensorflow as tf
        >>> from tfvae.training import TrainConfig, train
        >>> data = Path(tempfile.mkdtemp())  # a folder of twelve random 12x12 grey PNGs
        >>> rng = np.random.default_rng(0)
        >>> for index in range(12):
        ...     png = tf.io.encode_png(rng.integers(0, 256, (12, 12, 1), dtype=np.uint8)).numpy()
        ...     _ = (data / f"{index:02d}.png").write_bytes(png)
        >>> out = Path(tempfile.mkdtemp()) / "run"
        >>> run_dir = train(TrainConfig(model="pca", dataset=str(data), validation_size=4, out=str(out)))
        >>> sorted(path.name for path in run_dir.iterdir())
        ['config.json', 'denoised.png', 'metrics.json', 'model.keras']
    """
    strategy = distribute.make_strategy(config.strategy, config.device_list())  # before any other TF op
    chief = distribute.is_chief(strategy)
    run_dir = prepare_run_folder(config) if chief else Path(config.out)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    train_images, validation_images = load_splits(config)
    start = time.monotonic()
    if config.spec.closed_form is not None:
        noisy = add_noise(validation_images, config.noise, seed=config.seed)
        model = config.spec.closed_form(train_images, config.hyperparameters(), (noisy, validation_images))
    else:
        model = fitting.fit_network(config, run_dir, train_images, validation_images, strategy, chief)
    seconds = time.monotonic() - start
    if not chief:
        return run_dir  # the chief writes the results and the model
    if config.strategy != "default":
        model = distribute.local_copy(model)
    write_results(model, run_dir, validation_images, config, seconds)
    replace_atomically(run_dir / FINAL_MODEL, model.save)  # a model.keras is always complete
    shutil.rmtree(run_dir / checkpoints.FOLDER, ignore_errors=True)  # model.keras supersedes them
    return run_dir


def write_results(model, run_dir, validation_images, config, seconds):
    """metrics.json and denoised.png for the trained model: per-sigma validation scores against the
    clean images; with noisy targets there is no clean image to score against, so the figure shows
    the noisy validation images as given and their denoised versions. A hierarchical VAE also gets
    levels.png and kl_per_level.png."""
    metrics = {"train_seconds": round(seconds, 1), "validation_images": len(validation_images)}
    if config.targets == "noisy":
        given = validation_images[:8]
        rows = {"noisy (as given)": given, "denoised": np.asarray(model.predict_on_batch(given))}
        title = "validation: noisy images as given / denoised"
    else:
        metrics["gaussian"] = denoising_scores(model.predict_on_batch, validation_images, seed=config.seed)
        clean = validation_images[:8]
        rows = {"clean": clean}
        for spec in ("gaussian:0.1", "gaussian:0.3", "gaussian:0.5"):
            noisy = add_noise(clean, spec, seed=config.seed)
            rows[f"noisy {spec}"] = noisy
            rows[f"denoised {spec}"] = np.asarray(model.predict_on_batch(noisy))
        title = "validation: noisy / denoised / clean"
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    figures.save(figures.image_grid(rows, title=title), run_dir / "denoised.png")
    if hasattr(model, "resample_level"):  # a hierarchical VAE: what each level encodes
        figures.save(levels.resampled_levels(model, rows[next(iter(rows))]), run_dir / "levels.png")
        figures.save(levels.kl_per_level(run_dir / "history.csv"), run_dir / "kl_per_level.png")
