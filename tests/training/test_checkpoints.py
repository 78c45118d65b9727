import keras
import numpy as np

from tfvae.models import VAE
from tfvae.training.checkpoints import EpochCheckpoint, latest_checkpoint, restore


def compiled_vae(train_steps=0):
    model = VAE((16, 16, 1), width=4, latent_dim=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    if train_steps:
        images = np.random.default_rng(0).uniform(0, 1, (2 * train_steps, 16, 16, 1)).astype(np.float32)
        model.fit(images, images, batch_size=2, epochs=1, verbose=0)
    return model


def test_keeps_only_the_newest_epoch_and_never_a_non_finite_one(tmp_path):
    model = compiled_vae(train_steps=3)
    callback = EpochCheckpoint(tmp_path / "checkpoints")
    callback.set_model(model)
    assert latest_checkpoint(tmp_path / "checkpoints") == (0, None)
    callback.on_epoch_end(0, {"loss": 1.0})
    callback.on_epoch_end(1, {"loss": 0.5})
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["epoch-00002.weights.h5"]
    good = [np.array(w) for w in model.weights]
    model.weights[0].assign(model.weights[0] + np.nan)  # the run diverges
    callback.on_epoch_end(2, {"loss": float("nan")})
    assert latest_checkpoint(tmp_path / "checkpoints")[0] == 2  # the diverged epoch was not saved

    fresh = compiled_vae()
    assert restore(fresh, tmp_path / "checkpoints") == 2
    for restored, expected in zip(fresh.weights, good, strict=True):
        np.testing.assert_array_equal(restored, expected)
    assert int(fresh.optimizer.iterations) == int(model.optimizer.iterations) == 3  # optimizer state too


def test_a_missing_folder_means_a_fresh_start(tmp_path):
    assert restore(compiled_vae(), tmp_path / "nothing") == 0
