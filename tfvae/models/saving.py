"""Loading tfvae's `.keras` models, and rebuilding one to compute in another dtype policy."""

from pathlib import Path

import keras

FINAL_MODEL = "model.keras"  # the trained model in a finished run folder


def load_model(run_or_file):
    """The Keras model of a run folder (its model.keras) or of a .keras file, loaded in safe mode."""
    path = Path(run_or_file)
    model_file = path / FINAL_MODEL if path.is_dir() else path
    if not model_file.is_file():
        raise FileNotFoundError(f"No trained model at {model_file}: expected a finished run folder or a .keras file.")
    return keras.models.load_model(model_file, safe_mode=True)


def with_config(model, **changes):
    """The same model and weights, rebuilt from its config with `changes` (settings that do not change
    the weights: a dtype policy, a VAE's MMSE sample count)."""
    config = model.get_config()
    unknown = sorted(set(changes) - set(config))
    if unknown:
        raise ValueError(f"Expected settings of a {type(model).__name__} ({sorted(config)}). Received: {unknown}.")
    if all(config[name] == value for name, value in changes.items()):
        return model
    rebuilt = type(model).from_config({**config, **changes})
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def with_network_dtype(model, network_dtype):
    """The same model and weights, its networks computing in the Keras dtype policy `network_dtype`
    (e.g. serve a model trained in mixed_bfloat16 in float32: portable to CPUs without bfloat16)."""
    if "network_dtype" not in model.get_config():
        raise ValueError(
            "Expected a network model (VAE, Autoencoder, DnCNN) to change its dtype policy. "
            f"Received: {type(model).__name__}."
        )
    return with_config(model, network_dtype=network_dtype)
