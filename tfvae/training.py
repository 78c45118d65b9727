"""Train one model of the PCA -> AE -> VAE path with plain `model.fit` into a run folder.

    run_dir = train(TrainConfig(model="vae", arch="conv-spatial", dataset="mnist", out="runs/mnist"))

A run folder holds config.json, model.keras, history.csv, metrics.json (validation scores per
Gaussian sigma next to the noisy input), denoised.png, and logs/ for TensorBoard. Rerunning the
same config into an unfinished run folder resumes it exactly where its last finished epoch ended
(weights, optimizer state and the position in the seeded data stream; see `tfvae.checkpoints`).
"""

import dataclasses
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Optional

import keras
import numpy as np

from tfvae import checkpoints, data, evaluation, plots
from tfvae.metrics import PSNR
from tfvae.models import VAE, Autoencoder, fit_pca
from tfvae.noise import add_noise, parse_noise
from tfvae.pipeline import make_dataset

MODELS = {"pca": None, "ae": Autoencoder, "vae": VAE}  # pca is fitted in closed form
FINAL_MODEL = "model.keras"
CHECKPOINTS = "checkpoints"


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; the CLI flags map one-to-one onto these fields."""

    model: str = dataclasses.field(default="vae", metadata={"help": "pca | ae | vae"})
    arch: str = dataclasses.field(default="conv-spatial", metadata={"help": "mlp | conv | conv-spatial | conv-residual"})
    dataset: str = dataclasses.field(default="mnist", metadata={"help": "mnist | fashion_mnist | cifar10 | PATH | a+b"})
    noise: str = dataclasses.field(default="gaussian:0-0.5", metadata={"help": "training noise spec ('none': plain autoencoder)"})
    binarize: bool = dataclasses.field(default=False, metadata={"help": "train on fresh Bernoulli samples of the images (binarized MNIST)"})
    width: Optional[int] = dataclasses.field(default=None, metadata={"help": "hidden width (default: the model's)"})
    latent_dim: Optional[int] = dataclasses.field(
        default=None, metadata={"help": "latent size / channels; PCA components (default: the model's; PCA: best on validation)"}
    )
    latent_stride: Optional[int] = dataclasses.field(default=None, metadata={"help": "conv-spatial latent downsampling"})
    likelihood: Optional[str] = dataclasses.field(default=None, metadata={"help": "bernoulli | gaussian | gaussian-learned"})
    sigma_x: Optional[float] = dataclasses.field(default=None, metadata={"help": "Gaussian decoder std"})
    beta: Optional[float] = dataclasses.field(default=None, metadata={"help": "KL weight"})
    kl_warmup_steps: Optional[int] = dataclasses.field(default=None, metadata={"help": "steps of linear KL warm-up"})
    free_bits: Optional[float] = dataclasses.field(default=None, metadata={"help": "nats per latent dim not penalised"})
    learning_rate: float = dataclasses.field(default=1e-3, metadata={"help": "Adam learning rate"})
    batch_size: int = dataclasses.field(default=128, metadata={"help": "images per step"})
    epochs: int = dataclasses.field(default=10, metadata={"help": "passes over the training images"})
    steps_per_epoch: Optional[int] = dataclasses.field(default=None, metadata={"help": "cap steps per epoch"})
    time_budget: Optional[float] = dataclasses.field(default=None, metadata={"help": "wall-clock seconds of training"})
    steps_per_execution: int = dataclasses.field(default=8, metadata={"help": "train steps per tf.function call"})
    xla: str = dataclasses.field(
        default="auto", metadata={"help": "auto | on | off: XLA jit_compile (auto: on for mlp, 2x faster here; off for conv, 2x slower)"}
    )
    train_size: Optional[int] = dataclasses.field(default=None, metadata={"help": "use only the first N training images"})
    validation_size: int = dataclasses.field(default=data.DEFAULT_VALIDATION_SIZE, metadata={"help": "validation slice of train"})
    data_dir: Optional[str] = dataclasses.field(default=None, metadata={"help": "folder searched first for the dataset"})
    seed: int = dataclasses.field(default=0, metadata={"help": "fixes data order, noise and initialisation"})
    out: str = dataclasses.field(default="runs/default", metadata={"help": "run folder"})

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"Expected model in {sorted(MODELS)}. Received: model={self.model!r}.")
        parse_noise(self.noise)
        if self.xla not in ("auto", "on", "off"):
            raise ValueError(f"Expected xla to be auto, on or off. Received: xla={self.xla!r}.")
        positive = {"learning_rate": self.learning_rate, "batch_size": self.batch_size, "epochs": self.epochs,
                    "steps_per_execution": self.steps_per_execution, "validation_size": self.validation_size}
        positive.update({k: getattr(self, k) for k in ("time_budget", "steps_per_epoch", "train_size") if getattr(self, k) is not None})
        for name, value in positive.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Expected {name} > 0. Received: {name}={value!r}.")

    def epoch_steps(self, train_count):
        """Steps per `fit` epoch: `steps_per_epoch`, or one pass over `train_count` images."""
        return self.steps_per_epoch or train_count // self.batch_size

    def model_kwargs(self):
        """Hyperparameters given explicitly, for the model's constructor (its defaults fill the rest)."""
        names = ["arch", "width", "latent_dim", "latent_stride"]
        if self.model == "vae":
            names += ["likelihood", "sigma_x", "beta", "kl_warmup_steps", "free_bits"]
        kwargs = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        return {**kwargs, "seed": self.seed} if self.model == "vae" else kwargs


class TimeBudget(keras.callbacks.Callback):
    """Stop training cleanly once `seconds` of wall-clock time have passed (checked every step)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start > self.seconds:
            self.model.stop_training = True


def prepare_run_folder(config):
    """Create the run folder, or accept an unfinished one made by the same config (resume)."""
    run_dir = Path(config.out)
    config_file = run_dir / "config.json"
    wanted = dataclasses.asdict(config)
    if run_dir.exists() and any(run_dir.iterdir()):
        if not config_file.exists():
            raise FileExistsError(f"{run_dir} exists and is not a tfvae run folder; choose another --out.")
        if (run_dir / FINAL_MODEL).exists():
            raise FileExistsError(f"{run_dir} already holds a finished run; choose another --out.")
        saved = json.loads(config_file.read_text())
        changed = sorted(k for k in wanted if saved.get(k) != wanted[k])
        if changed:
            raise FileExistsError(
                f"{run_dir} holds an unfinished run with a different config (differs in: {', '.join(changed)}); "
                "rerun with the same flags to resume, or choose another --out."
            )
        return run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(run_dir, os.W_OK):
        raise PermissionError(f"Cannot write to the run folder {run_dir}.")
    config_file.write_text(json.dumps(wanted, indent=2))
    return run_dir


def load_splits(config):
    """(train images, validation images) of the configured dataset."""
    kwargs = {"data_dir": config.data_dir, "validation_size": config.validation_size, "seed": config.seed}
    train_images = data.load(config.dataset, "train", **kwargs).images
    validation_images = data.load(config.dataset, "validation", **kwargs).images
    return train_images[: config.train_size], validation_images


def fit_network(config, run_dir, train_images, validation_images):
    """Build, compile and `fit` an autoencoder or VAE; return the model and its last epoch's logs."""
    model = MODELS[config.model](train_images.shape[1:], **config.model_kwargs())
    compile_args = {
        "optimizer": keras.optimizers.Adam(config.learning_rate),
        "steps_per_execution": config.steps_per_execution,
        "jit_compile": config.xla == "on" or (config.xla == "auto" and model.arch == "mlp"),
    }
    if config.model == "vae":
        model.compile(**compile_args)
    else:
        model.compile(loss="mse", metrics=[PSNR()], **compile_args)
    steps_per_epoch = config.epoch_steps(len(train_images))
    initial_epoch = checkpoints.restore(model, run_dir / CHECKPOINTS)
    callbacks = [
        checkpoints.EpochCheckpoint(run_dir / CHECKPOINTS),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "logs")),
    ]
    if config.time_budget:
        callbacks.append(TimeBudget(config.time_budget))
    train_data = make_dataset(
        train_images, config.noise, config.batch_size, config.seed, training=True, binarize=config.binarize,
        first_step=initial_epoch * steps_per_epoch,
    )
    history = model.fit(
        train_data,
        validation_data=make_dataset(validation_images, config.noise, 256, config.seed, training=False, binarize=config.binarize),
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,
        verbose=2 if os.environ.get("CI") else "auto",
    )
    last = {name: values[-1] for name, values in history.history.items()}
    if not all(math.isfinite(v) for v in last.values()):
        raise FloatingPointError(
            f"Training diverged (non-finite loss: {last}); likely cause: the learning rate "
            f"({config.learning_rate}) or sigma_x is too large or small. The last good epoch is kept in "
            f"{run_dir / CHECKPOINTS}; rerun with a smaller --learning-rate into a new --out."
        )
    return model


def train(config):
    """Train `config.model` and fill its run folder; returns the folder's path."""
    run_dir = prepare_run_folder(config)
    keras.utils.set_random_seed(config.seed)
    train_images, validation_images = load_splits(config)
    start = time.monotonic()
    if config.model == "pca":
        noisy = add_noise(validation_images, config.noise, seed=config.seed)
        model = fit_pca(train_images, config.latent_dim, validation=(noisy, validation_images))
    else:
        model = fit_network(config, run_dir, train_images, validation_images)
    seconds = time.monotonic() - start
    write_results(model, run_dir, validation_images, config.seed, seconds)
    partial = run_dir / f"model.partial{os.getpid()}.keras"
    model.save(partial)
    os.replace(partial, run_dir / FINAL_MODEL)  # a model.keras is always complete
    shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)  # model.keras supersedes them
    return run_dir


def write_results(model, run_dir, validation_images, seed, seconds):
    """metrics.json (per-sigma validation scores) and denoised.png for the trained model."""
    scores = evaluation.denoising_scores(model.predict_on_batch, validation_images, seed=seed)
    metrics = {"train_seconds": round(seconds, 1), "validation_images": len(validation_images), "gaussian": scores}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    clean = validation_images[:8]
    rows = {"clean": clean}
    for spec in ("gaussian:0.1", "gaussian:0.3", "gaussian:0.5"):
        noisy = add_noise(clean, spec, seed=seed)
        rows[f"noisy {spec}"] = noisy
        rows[f"denoised {spec}"] = np.asarray(model.predict_on_batch(noisy))
    plots.save_image_grid(rows, run_dir / "denoised.png", title="validation: noisy / denoised / clean")
