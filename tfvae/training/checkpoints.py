"""Crash-safe training checkpoints: the newest finished epoch, written atomically.

`EpochCheckpoint` saves weights and optimizer state after every epoch as
`epoch-NNNNN.weights.h5` under a temporary name, then renames it (one atomic step:
`tfvae.io.replace_atomically`) and deletes the older one, so a SIGKILL at any moment leaves a
complete checkpoint or none. An epoch whose logs are not finite is not saved, so the newest
checkpoint is always the last good one. `restore` loads it and says how many epochs it holds, for
`fit(initial_epoch=...)`.
"""

import math
import re
from pathlib import Path

import keras

from tfvae.io import replace_atomically

FOLDER = "checkpoints"  # in the run folder, until model.keras supersedes it
_NAME = re.compile(r"epoch-(\d+)\.weights\.h5")


def latest_checkpoint(directory):
    """(epochs done, path) of the newest complete checkpoint in `directory`, or (0, None)."""
    found = [(int(m.group(1)), p) for p in Path(directory).glob("epoch-*.weights.h5") if (m := _NAME.fullmatch(p.name))]
    return max(found, default=(0, None))


def restore(model, directory):
    """Load the newest checkpoint of `directory` into the compiled `model`; returns its epoch count."""
    epochs_done, path = latest_checkpoint(directory)
    if path is not None:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(path)
    return epochs_done


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch with finite logs, atomically replace the checkpoint in `directory`."""

    def __init__(self, directory):
        super().__init__()
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        if not all(math.isfinite(value) for value in (logs or {}).values()):
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"epoch-{epoch + 1:05d}.weights.h5"
        replace_atomically(path, self.model.save_weights)  # on failure the previous checkpoint stays
        for older in self.directory.glob("epoch-*.weights.h5"):
            if older != path:
                older.unlink()
