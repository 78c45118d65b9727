"""Train one model of the PCA -> AE -> VAE path with plain `model.fit` into a run folder.

    run_dir = train(TrainConfig(model="vae", arch="conv-spatial", dataset="mnist", out="runs/mnist"))

A run folder holds config.json, model.keras, history.csv, metrics.json (validation scores per
Gaussian sigma next to the noisy input), denoised.png, and logs/ for TensorBoard. Rerunning the
same config into an unfinished run folder resumes it exactly where its last finished epoch ended
(weights, optimizer state and the position in the seeded data stream; see `tfvae.checkpoints`).
"""

import dataclasses
import errno
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from tfvae import checkpoints, data, distribute, evaluation, plots
from tfvae.export import load_model
from tfvae.metrics import PSNR
from tfvae.models import VAE, Autoencoder, DnCNN, fit_pca, networks
from tfvae.noise import add_noise, parse_noise
from tfvae.pipeline import make_dataset

MODELS = {"pca": None, "ae": Autoencoder, "vae": VAE, "dncnn": DnCNN}  # pca is fitted in closed form
FINAL_MODEL = "model.keras"
CHECKPOINTS = "checkpoints"
LR_SCHEDULES = ("constant", "cosine")
DTYPE_POLICIES = ("float32", "mixed_bfloat16")
MIN_FREE_BYTES = 100 * 2**20  # the largest models' checkpoint + model.keras + logs stay far below


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; the CLI flags map one-to-one onto these fields."""

    model: str = dataclasses.field(default="vae", metadata={"help": "pca | ae | vae | dncnn (the supervised baseline)"})
    arch: str = dataclasses.field(default="conv-spatial", metadata={"help": "mlp | conv | conv-spatial | conv-residual"})
    dataset: str = dataclasses.field(default="mnist", metadata={"help": "mnist | fashion_mnist | cifar10 | PATH | a+b"})
    noise: str = dataclasses.field(default="gaussian:0-0.5", metadata={"help": "training noise spec ('none': plain autoencoder)"})
    binarize: bool = dataclasses.field(default=False, metadata={"help": "train on fresh Bernoulli samples of the images (binarized MNIST)"})
    width: Optional[int] = dataclasses.field(default=None, metadata={"help": "hidden width (default: the model's)"})
    latent_dim: Optional[int] = dataclasses.field(
        default=None, metadata={"help": "latent size / channels; PCA components (default: the model's; PCA: best on validation)"}
    )
    latent_stride: Optional[int] = dataclasses.field(default=None, metadata={"help": "conv-spatial latent downsampling"})
    depth: Optional[int] = dataclasses.field(
        default=None,
        metadata={"help": "dncnn: convolution layers (default 17); conv-spatial: residual blocks (0); conv-residual: convolutions (4)"},
    )
    likelihood: Optional[str] = dataclasses.field(default=None, metadata={"help": "bernoulli | gaussian | gaussian-learned"})
    sigma_x: Optional[float] = dataclasses.field(default=None, metadata={"help": "Gaussian decoder std"})
    beta: Optional[float] = dataclasses.field(default=None, metadata={"help": "KL weight"})
    kl_warmup_steps: Optional[int] = dataclasses.field(default=None, metadata={"help": "steps of linear KL warm-up"})
    free_bits: Optional[float] = dataclasses.field(default=None, metadata={"help": "nats per latent dim not penalised"})
    iw_samples: Optional[int] = dataclasses.field(
        default=None, metadata={"help": "posterior draws per image in the loss: 1 = ELBO, k > 1 = importance-weighted bound (IWAE)"}
    )
    learning_rate: float = dataclasses.field(default=1e-3, metadata={"help": "Adam learning rate"})
    lr_schedule: str = dataclasses.field(
        default="constant", metadata={"help": "constant | cosine (decays to 0 over epochs x steps per epoch)"}
    )
    ema: float = dataclasses.field(
        default=0.0, metadata={"help": "momentum of an exponential moving average of the weights, used at the end (0: off)"}
    )
    dtype_policy: str = dataclasses.field(
        default="float32",
        metadata={"help": "float32 | mixed_bfloat16 (layers compute in bfloat16, weights, losses and outputs stay float32; "
                          "2x faster on one core of a CPU with AVX512-BF16)"},
    )
    batch_size: int = dataclasses.field(default=128, metadata={"help": "images per step"})
    epochs: int = dataclasses.field(default=10, metadata={"help": "passes over the training images"})
    steps_per_epoch: Optional[int] = dataclasses.field(default=None, metadata={"help": "cap steps per epoch"})
    time_budget: Optional[float] = dataclasses.field(default=None, metadata={"help": "wall-clock seconds of training"})
    steps_per_execution: int = dataclasses.field(
        default=8, metadata={"help": "train steps per tf.function call (1 under a --strategy: Keras 3.15 fails with more)"}
    )
    xla: str = dataclasses.field(
        default="auto", metadata={"help": "auto | on | off: XLA jit_compile (auto: on for mlp, 2x faster here; off for conv, 2x slower)"}
    )
    train_size: Optional[int] = dataclasses.field(default=None, metadata={"help": "use only the first N training images"})
    validation_size: int = dataclasses.field(default=data.DEFAULT_VALIDATION_SIZE, metadata={"help": "validation slice of train"})
    data_dir: Optional[str] = dataclasses.field(default=None, metadata={"help": "folder searched first for the dataset"})
    seed: int = dataclasses.field(default=0, metadata={"help": "fixes data order, noise and initialisation"})
    strategy: str = dataclasses.field(
        default="default", metadata={"help": "default | mirrored | multiworker (TF_CONFIG) | tpu; --batch-size is global"}
    )
    devices: Optional[str] = dataclasses.field(default=None, metadata={"help": "mirrored: comma-separated devices (default: all GPUs)"})
    deterministic: bool = dataclasses.field(
        default=False, metadata={"help": "TF op determinism: bit-identical reruns on GPUs too (CPU runs already are)"}
    )
    init_from: Optional[str] = dataclasses.field(
        default=None, metadata={"help": "start from the weights of this finished run or .keras file (same architecture, loss settings may differ, conv-spatial may add --depth blocks, which start as the identity; fresh optimizer)"}
    )
    out: str = dataclasses.field(default="runs/default", metadata={"help": "run folder"})

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"Expected model in {sorted(MODELS)}. Received: model={self.model!r}.")
        parse_noise(self.noise)
        if self.strategy not in distribute.STRATEGIES:
            raise ValueError(f"Expected strategy in {sorted(distribute.STRATEGIES)}. Received: strategy={self.strategy!r}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"Expected lr_schedule in {LR_SCHEDULES}. Received: lr_schedule={self.lr_schedule!r}.")
        if self.dtype_policy not in DTYPE_POLICIES:
            raise ValueError(f"Expected dtype_policy in {DTYPE_POLICIES}. Received: dtype_policy={self.dtype_policy!r}.")
        if self.model == "pca" and self.dtype_policy != "float32":
            raise ValueError(f"Expected dtype_policy float32 for pca (fitted in closed form). Received: dtype_policy={self.dtype_policy!r}.")
        if not 0 <= self.ema < 1:
            raise ValueError(f"Expected 0 <= ema < 1 (0: off). Received: ema={self.ema!r}.")
        if self.xla not in ("auto", "on", "off"):
            raise ValueError(f"Expected xla to be auto, on or off. Received: xla={self.xla!r}.")
        positive = {"learning_rate": self.learning_rate, "batch_size": self.batch_size, "epochs": self.epochs,
                    "steps_per_execution": self.steps_per_execution, "validation_size": self.validation_size}
        positive.update({k: getattr(self, k) for k in ("time_budget", "steps_per_epoch", "train_size") if getattr(self, k) is not None})
        for name, value in positive.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Expected {name} > 0. Received: {name}={value!r}.")

    def device_list(self):
        """`devices` as a list of device names, or None."""
        return [name.strip() for name in self.devices.split(",")] if self.devices else None

    def epoch_steps(self, train_count):
        """Steps per `fit` epoch: `steps_per_epoch`, or one pass over `train_count` images."""
        return self.steps_per_epoch or train_count // self.batch_size

    def optimizer(self, steps_per_epoch):
        """Adam with the configured learning-rate schedule and weight averaging."""
        rate = self.learning_rate
        if self.lr_schedule == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=self.epochs * steps_per_epoch)
        return keras.optimizers.Adam(rate, use_ema=self.ema > 0, ema_momentum=self.ema or 0.99)

    def model_kwargs(self):
        """Hyperparameters given explicitly, for the model's constructor (its defaults fill the rest)."""
        names = ["width", "depth"] + (["arch", "latent_dim", "latent_stride"] if self.model != "dncnn" else [])
        if self.model == "vae":
            names += ["likelihood", "sigma_x", "beta", "kl_warmup_steps", "free_bits", "iw_samples"]
        kwargs = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        kwargs["network_dtype"] = self.dtype_policy
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
    check_free_space(run_dir)
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
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PermissionError(f"Cannot create the run folder {run_dir} ({error.strerror}); choose another --out.") from None
    if not os.access(run_dir, os.W_OK):
        raise PermissionError(f"Cannot write to the run folder {run_dir}; choose another --out.")
    config_file.write_text(json.dumps(wanted, indent=2))
    return run_dir


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
    train_images = data.load(config.dataset, "train", **kwargs).images
    validation_images = data.load(config.dataset, "validation", **kwargs).images
    return train_images[: config.train_size], validation_images


# Model settings a fine-tune may change: they shape the loss or the arithmetic, not the weights (which
# are float32 under every dtype policy).
FINE_TUNABLE = ("name", "network_dtype", "sigma_x", "beta", "kl_warmup_steps", "free_bits", "iw_samples", "seed")


def _architecture(model):
    """`model`'s config without the FINE_TUNABLE settings, its depth resolved to a number."""
    config = {k: v for k, v in model.get_config().items() if k not in FINE_TUNABLE}
    if "arch" in config:
        config["depth"] = networks.resolve_depth(config["arch"], config["depth"])
    return config


def copy_weights(source, model):
    """Set `model`'s weights to those of the finished run or .keras file `source`: the same
    architecture; the settings in FINE_TUNABLE may differ, and a conv-spatial model may have more
    residual blocks (`--depth`) than `source`: it grows, its new blocks starting as the identity."""
    trained = load_model(source)
    received, expected = _architecture(trained), _architecture(model)
    grows = (expected.get("arch") == "conv-spatial" and {**received, "depth": expected["depth"]} == expected
             and received["depth"] < expected["depth"])
    if type(trained) is not type(model) or (received != expected and not grows):
        raise ValueError(
            f"Expected --init-from to hold the same model as this run ({type(model).__name__} {expected}; conv-spatial "
            f"may have a smaller depth). Received: {source} holding {type(trained).__name__} {received}."
        )
    weights = trained.get_weights()
    model.set_weights(networks.grown_weights(weights, received["depth"], model.weights, expected["depth"]) if grows else weights)


def fit_network(config, run_dir, train_images, validation_images, strategy, chief=True):
    """Build, compile and train an autoencoder or VAE under `strategy`; only the chief writes."""
    steps_per_epoch = config.epoch_steps(len(train_images))
    with strategy.scope():
        model = MODELS[config.model](train_images.shape[1:], **config.model_kwargs())
        compile_args = {
            "optimizer": config.optimizer(steps_per_epoch),
            # Keras 3.15's fit fails with steps_per_execution > 1 under MirroredStrategy (placeholder error).
            "steps_per_execution": config.steps_per_execution if config.strategy == "default" else 1,
            "jit_compile": config.xla == "on" or (config.xla == "auto" and getattr(model, "arch", None) == "mlp"),
        }
        if config.model == "vae":
            model.compile(**compile_args)
        else:
            model.compile(loss="mse", metrics=[PSNR()], **compile_args)
        initial_epoch = checkpoints.restore(model, run_dir / CHECKPOINTS)
        if config.init_from and not initial_epoch:
            copy_weights(config.init_from, model)
        train_data = make_dataset(
            train_images, config.noise, config.batch_size, config.seed, training=True, binarize=config.binarize,
            first_step=initial_epoch * steps_per_epoch,
        )
        validation_data = make_dataset(validation_images, config.noise, 256, config.seed, training=False, binarize=config.binarize)
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if config.ema:
        callbacks.append(keras.callbacks.SwapEMAWeights())  # validation scores the averaged weights
    if chief:
        callbacks = [
            checkpoints.EpochCheckpoint(run_dir / CHECKPOINTS),  # first: a history.csv row implies its checkpoint
            *callbacks,
            keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
            keras.callbacks.TensorBoard(str(run_dir / "logs")),
        ]
    if config.time_budget:
        callbacks.append(TimeBudget(config.time_budget))
    if config.strategy == "multiworker":
        last = distribute.fit_multiworker(
            model, strategy, train_data, config.epochs, steps_per_epoch, initial_epoch, callbacks, validation_data
        )
    else:
        history = model.fit(
            train_data,
            validation_data=validation_data,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            shuffle=False,
            verbose=2 if os.environ.get("CI") else "auto",
        )
        last = {name: values[-1] for name, values in history.history.items()}
    if not all(math.isfinite(v) for v in last.values()):
        epochs_done, good = checkpoints.latest_checkpoint(run_dir / CHECKPOINTS)
        kept = f"the last good checkpoint is {good} (epoch {epochs_done})" if good else "no epoch finished before it"
        raise FloatingPointError(
            f"Training diverged (non-finite loss: {last}); likely cause: the learning rate "
            f"({config.learning_rate}) or sigma_x is too large or small; {kept}. "
            "Rerun with a smaller --learning-rate into a new --out."
        )
    return model


def train(config):
    """Train `config.model` and fill its run folder; returns the folder's path."""
    strategy = distribute.make_strategy(config.strategy, config.device_list())  # before any other TF op
    chief = distribute.is_chief(strategy)
    run_dir = prepare_run_folder(config) if chief else Path(config.out)
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    train_images, validation_images = load_splits(config)
    start = time.monotonic()
    if config.model == "pca":
        noisy = add_noise(validation_images, config.noise, seed=config.seed)
        model = fit_pca(train_images, config.latent_dim, validation=(noisy, validation_images))
    else:
        model = fit_network(config, run_dir, train_images, validation_images, strategy, chief)
    seconds = time.monotonic() - start
    if not chief:
        return run_dir  # the chief writes the results and the model
    if config.strategy != "default":
        model = distribute.local_copy(model)
    write_results(model, run_dir, validation_images, config.seed, seconds)
    checkpoints.replace_atomically(run_dir / FINAL_MODEL, model.save)  # a model.keras is always complete
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
    plots.save(plots.image_grid(rows, title="validation: noisy / denoised / clean"), run_dir / "denoised.png")
