"""The one way tfvae trains a network: a TrainConfig -> compiled model + data streams -> `fit`.

`tfvae train` (`tfvae.training.run`), `tfvae tune` (every trial), the benchmarks
(`python benchmarks/quality.py`, ...) and the pretrained recipes all come through here, so a
setting means the same everywhere.
"""

import dataclasses
import math
import os
import time

import keras
import tensorflow as tf

from tfvae.data.pipeline import make_dataset
from tfvae.models import precision
from tfvae.training.config import MODELS, XLA_CHOICES

VALIDATION_BATCH = 256


@dataclasses.dataclass
class Prepared:
    """A compiled model and the streams it trains on."""

    model: keras.Model
    train_data: tf.data.Dataset
    validation_data: tf.data.Dataset
    steps_per_epoch: int


def steps_per_execution(config, steps_per_epoch):
    """The steps one tf.function call runs: a divisor of the epoch, since Keras runs whole calls and
    an epoch of 500 steps at 8 per call would be 504 (the stream's position, the learning-rate
    schedule and an exact resume count 500)."""
    # fit() fails with steps_per_execution > 1 under MirroredStrategy (a placeholder error): 1 there.
    return math.gcd(config.steps_per_execution, steps_per_epoch) if config.strategy == "default" else 1


def build_model(config, image_shape, steps_per_epoch):
    """The compiled network `config` describes (under the current tf.distribute strategy's scope).

    Initialisation is seeded by `config.seed`, so two builds of one config start from the same weights.
    """
    keras.utils.set_random_seed(config.seed)
    model = MODELS[config.model](
        image_shape, network_dtype=precision.resolve(config.dtype_policy), **config.model_kwargs()
    )
    model.compile(
        optimizer=config.optimizer(steps_per_epoch),
        steps_per_execution=steps_per_execution(config, steps_per_epoch),
        jit_compile=XLA_CHOICES[config.xla],
    )
    return model


def make_streams(config, train_images, validation_images, first_step=0):
    """(endless training stream starting at `first_step`, one validation pass) of (noisy, clean) batches."""
    train_data = make_dataset(
        train_images,
        config.noise,
        config.batch_size,
        config.seed,
        training=True,
        binarize=config.binarize,
        first_step=first_step,
        grey_fraction=config.grey_fraction,
    )
    validation_data = make_dataset(
        validation_images,
        config.noise,
        VALIDATION_BATCH,
        config.seed,
        training=False,
        binarize=config.binarize,
        grey_fraction=config.grey_fraction,
    )
    return train_data, validation_data


def prepare(config, train_images, validation_images, first_epoch=0):
    """The compiled model and its streams, the stream starting after `first_epoch` finished epochs."""
    steps_per_epoch = config.epoch_steps(len(train_images))
    model = build_model(config, train_images.shape[1:], steps_per_epoch)
    train_data, validation_data = make_streams(config, train_images, validation_images, first_epoch * steps_per_epoch)
    return Prepared(model, train_data, validation_data, steps_per_epoch)


class TimeBudget(keras.callbacks.Callback):
    """Stop training cleanly once `seconds` of `clock` time have passed (checked every step)."""

    clock = staticmethod(time.monotonic)

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if self.clock() - self.start > self.seconds:
            self.model.stop_training = True


def training_callbacks(config):
    """The callbacks that change how a run trains: stop on NaN, score the weight average, time budget."""
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if config.ema:
        callbacks.append(keras.callbacks.SwapEMAWeights())  # validation scores the averaged weights
    if config.time_budget:
        callbacks.append(TimeBudget(config.time_budget))
    return callbacks


def fit(prepared, config, callbacks=(), initial_epoch=0):
    """`model.fit` on the prepared streams with `training_callbacks(config)` after `callbacks`; the
    last epoch's logs. A non-finite loss raises FloatingPointError (the caller names what survived)."""
    history = prepared.model.fit(
        prepared.train_data,
        validation_data=prepared.validation_data,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=prepared.steps_per_epoch,
        callbacks=[*callbacks, *training_callbacks(config)],
        shuffle=False,
        verbose=2 if os.environ.get("CI") else "auto",
    )
    return {name: values[-1] for name, values in history.history.items()}


def check_finite(logs, config, kept):
    """Raise FloatingPointError naming the likely cause when `logs` hold a non-finite value."""
    if not all(math.isfinite(value) for value in logs.values()):
        raise FloatingPointError(
            f"Training diverged (non-finite loss: {logs}); likely cause: the learning rate "
            f"({config.learning_rate}) or sigma_x is too large or small; {kept}. "
            "Rerun with a smaller --learning-rate into a new --out."
        )
