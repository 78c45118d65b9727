import keras
import numpy as np
import pytest

from tfvae.models import Sampling

MEAN = np.full((4000, 3), 2.0, np.float32)
LOG_VAR = np.full((4000, 3), np.log(0.25), np.float32)  # std 0.5


def test_inference_returns_the_mean():
    np.testing.assert_array_equal(Sampling(seed=0)([MEAN, LOG_VAR], training=False), MEAN)


def test_training_draws_with_the_requested_mean_and_std():
    z = np.asarray(Sampling(seed=0)([MEAN, LOG_VAR], training=True))
    assert abs(z.mean() - 2.0) < 0.02 and abs(z.std() - 0.5) < 0.02


def test_draws_are_fresh_per_call_and_reproducible_by_seed():
    first, second = Sampling(seed=1), Sampling(seed=1)
    a, b = np.asarray(first([MEAN, LOG_VAR], training=True)), np.asarray(first([MEAN, LOG_VAR], training=True))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, second([MEAN, LOG_VAR], training=True))
    assert not np.array_equal(a, Sampling(seed=2)([MEAN, LOG_VAR], training=True))


def test_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape.*Received"):
        Sampling()([MEAN, LOG_VAR[:, :2]])


def test_config_round_trip():
    layer = Sampling(seed=7, name="s")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, Sampling) and restored.seed == 7 and restored.name == "s"
