"""The one way tfvae trains a network: a TrainConfig -> compiled model + data streams -> `fit`.

`fit_network` owns the whole path of `tfvae train`: build (seeded), restore the run's checkpoint
or start from `init_from`, the streams from that step on, the callbacks, and `fit` on one device,
mirrored, or in the multi-worker loop. `tfvae tune` (every trial), the benchmarks
(`python benchmarks/quality.py`, ...) and the pretrained recipes come through here too, so a
setting means the same everywhere.
"""

import dataclasses
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfvae.data.pipeline import make_dataset
from tfvae.models import architectures, precision
from tfvae.models.objective import FINE_TUNABLE_SETTINGS
from tfvae.models.saving import load_model
from tfvae.training import checkpoints, distribute
from tfvae.training.config import XLA_CHOICES

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
    model = config.spec.build(
        image_shape,
        config.hyperparameters(),
        config.objective(),
        seed=config.seed,
        network_dtype=precision.resolve(config.dtype_policy),
    )
    model.compile(
        optimizer=config.make_optimizer(steps_per_epoch),
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
        synthetic_fraction=config.synthetic_fraction,
        synthetic_size=config.synthetic_size,
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
    """`model.fit` on the prepared streams with `callbacks` (`training_callbacks(config)` among
    them); the last epoch's logs."""
    history = prepared.model.fit(
        prepared.train_data,
        validation_data=prepared.validation_data,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=prepared.steps_per_epoch,
        callbacks=list(callbacks),
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


# Model settings a fine-tune may change: they shape the loss or the arithmetic, not the weights (which
# are float32 under every dtype policy).
FINE_TUNABLE = ("name", "network_dtype", "seed", *FINE_TUNABLE_SETTINGS)


def _architecture(model):
    """`model`'s config without the FINE_TUNABLE settings."""
    return {k: v for k, v in model.get_config().items() if k not in FINE_TUNABLE}


def _noise_level_channel_added(trained, weights, model):
    """`weights` (`trained`'s) with a zero input channel on the encoder's first kernel for the noise-level map."""
    kernel = trained.encoder.weights[0]
    if len(kernel.shape) != 4:
        raise ValueError(
            "Expected --init-from to hold a model whose encoder starts with a convolution, to add the noise-level "
            f"map as an input channel. Received: arch={trained.architecture.name!r}."
        )
    index = [variable.path for variable in trained.weights].index(kernel.path)
    weights[index] = np.pad(weights[index], [(0, 0), (0, 0), (0, 1), (0, 0)])
    return weights


def _residual_blocks_added(trained, weights, model):
    """`weights` (`trained`'s) with `model`'s extra residual blocks, each starting as the identity."""
    return architectures.grown_weights(
        weights, trained.architecture.residual_blocks, model.weights, model.architecture.residual_blocks
    )


# Architecture settings an --init-from source may differ in: when (given both configs), and how its
# weights (trained, weights, model) -> weights carry over, applied in this order. The fine-tuned
# network starts computing what the source did (or, dilated, the same weights seeing wider).
GROWABLE = {
    "noise_level_input": (lambda received, expected: expected["noise_level_input"], _noise_level_channel_added),
    "dilation_growth": (lambda received, expected: True, lambda trained, weights, model: weights),
    "residual_blocks": (
        lambda received, expected: (
            expected.get("arch") == architectures.ConvSpatial.name
            and received["residual_blocks"] < expected["residual_blocks"]
        ),
        _residual_blocks_added,
    ),
}


def copy_weights(source, model):
    """Set `model`'s weights to those of the finished run or .keras file `source`: the same
    architecture, except that the settings in FINE_TUNABLE may differ and those in GROWABLE may
    grow (more residual blocks, another dilation growth, the noise-level input added)."""
    trained = load_model(source)
    received, expected = _architecture(trained), _architecture(model)
    changed = {key for key in received.keys() | expected.keys() if received.get(key) != expected.get(key)}
    grows = changed <= GROWABLE.keys() and all(GROWABLE[key][0](received, expected) for key in changed)
    if type(trained) is not type(model) or (changed and not grows):
        raise ValueError(
            f"Expected --init-from to hold the same model as this run ({type(model).__name__} {expected}); it may "
            "have fewer residual blocks (conv-spatial), another dilation_growth, or lack the noise-level input. "
            f"Received: {source} holding {type(trained).__name__} {received}."
        )
    weights = trained.get_weights()
    for key, (_, carry_over) in GROWABLE.items():
        if key in changed:
            weights = carry_over(trained, weights, model)
    model.set_weights(weights)


def run_callbacks(run_dir):
    """What the chief writes into the run folder each epoch: the checkpoint, history.csv, TensorBoard logs."""
    return [
        checkpoints.EpochCheckpoint(run_dir / checkpoints.FOLDER),  # first: a history.csv row implies its checkpoint
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "logs")),
    ]


def fit_network(config, run_dir, train_images, validation_images, strategy, chief=True):
    """Build, compile and train the network `config` describes under `strategy`, resuming from the
    run's checkpoint (else starting from `config.init_from`); only the chief writes. Returns the model.

    Raises FloatingPointError when the loss is not finite, naming the last good checkpoint.
    """
    steps_per_epoch = config.epoch_steps(len(train_images))
    with strategy.scope():
        model = build_model(config, train_images.shape[1:], steps_per_epoch)
        initial_epoch = checkpoints.restore(model, run_dir / checkpoints.FOLDER)
        if config.init_from and not initial_epoch:
            copy_weights(config.init_from, model)
        streams = make_streams(config, train_images, validation_images, initial_epoch * steps_per_epoch)
    prepared = Prepared(model, *streams, steps_per_epoch)
    callbacks = [*(run_callbacks(run_dir) if chief else []), *training_callbacks(config)]
    if config.strategy == "multiworker":  # keras#20585: fit() fails under MultiWorkerMirroredStrategy
        last = distribute.fit_multiworker(prepared, config.epochs, initial_epoch, callbacks, strategy)
    else:
        last = fit(prepared, config, callbacks, initial_epoch)
    epochs_done, good = checkpoints.latest_checkpoint(run_dir / checkpoints.FOLDER)
    check_finite(
        last,
        config,
        f"the last good checkpoint is {good} (epoch {epochs_done})" if good else "no epoch finished before it",
    )
    return model
