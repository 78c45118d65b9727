"""Loading tfvae's `.keras` models, and rebuilding one to compute in another dtype policy."""

from pathlib import Path

import keras

FINAL_MODEL = "model.keras"  # the trained model in a finished run folder


def load_model(run_or_file: str | Path) -> keras.Model:
    """Loads the trained model of a run folder or a `.keras` file, in Keras' safe mode.

    Importing tfvae registers its classes with Keras, so `keras.saving.load_model` loads the
    same files; this function also accepts a run folder and names what is missing.

    Args:
        run_or_file: str or path, a finished run folder (its `model.keras` is loaded) or a
            `.keras` file.

    Returns:
        The `keras.Model`, e.g. a `VAE`.

    Raises:
        FileNotFoundError: if there is no such file, or the folder holds no `model.keras` (an
            unfinished run).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from tfvae.models import DnCNN, load_model
        >>> path = Path(tempfile.mkdtemp()) / "dncnn.keras"
        >>> DnCNN((8, 8, 1), conv_layers=2, width=4).save(path)
        >>> type(load_model(path)).__name__
        'DnCNN'
    """
    path = Path(run_or_file)
    model_file = path / FINAL_MODEL if path.is_dir() else path
    if not model_file.is_file():
        raise FileNotFoundError(f"No trained model at {model_file}: expected a finished run folder or a .keras file.")
    return keras.models.load_model(model_file, safe_mode=True)


def with_config(model: keras.Model, **changes: object) -> keras.Model:
    """Rebuilds a model from its config with some settings changed, keeping its weights.

    For settings that do not change the weights, e.g. `network_dtype` or a VAE's
    `mmse_samples`.

    Args:
        model: `keras.Model`, a tfvae model.
        **changes: the config entries to change, e.g. `mmse_samples=8`.

    Returns:
        A new model of the same class holding `model`'s weights, or `model` itself when
        nothing changes.

    Raises:
        ValueError: if a name in `changes` is not in the model's config.

    Examples:
        >>> from tfvae.models import VAE, with_config
        >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
        >>> averaging = with_config(vae, mmse_samples=4)
        >>> averaging.objective.mmse_samples, len(averaging.weights) == len(vae.weights)
        (4, True)
        >>> with_config(vae, mmse_samples=0) is vae  # already so: the model itself
        True
    """
    config = model.get_config()
    unknown = sorted(set(changes) - set(config))
    if unknown:
        raise ValueError(f"Expected settings of a {type(model).__name__} ({sorted(config)}). Received: {unknown}.")
    if all(config[name] == value for name, value in changes.items()):
        return model
    rebuilt = type(model).from_config({**config, **changes})
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def with_network_dtype(model: keras.Model, network_dtype: str) -> keras.Model:
    """Rebuilds a model so that its networks compute in another Keras dtype policy.

    The weights are float32 under every policy, so they carry over unchanged: e.g. serve a
    model trained in mixed_bfloat16 in float32, portable to CPUs without bfloat16.

    Args:
        model: `keras.Model`, a network model (`VAE`, `HierarchicalVAE`, `Autoencoder`,
            `DnCNN`, `Noise2Void`).
        network_dtype: str, the dtype policy, `"float32"` or `"mixed_bfloat16"`.

    Returns:
        The model with its weights, its networks computing in `network_dtype` (`model`
        itself when it does already).

    Raises:
        ValueError: if the model has no networks to change (a `PCA`).

    Examples:
        >>> from tfvae.models import DnCNN, with_network_dtype
        >>> model = DnCNN((8, 8, 1), conv_layers=2, width=4, network_dtype="mixed_bfloat16")
        >>> with_network_dtype(model, "float32").network_dtype
        'float32'
    """
    if "network_dtype" not in model.get_config():
        raise ValueError(
            "Expected a network model (VAE, Autoencoder, DnCNN) to change its dtype policy. "
            f"Received: {type(model).__name__}."
        )
    return with_config(model, network_dtype=network_dtype)
