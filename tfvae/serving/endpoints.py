"""One client for every trained model: a run folder, a .keras file or an exported SavedModel.

    endpoints = load_endpoints("saved_models/mnist_vae/8")
    denoised = endpoints.denoise(noisy)           # float32 NHWC in [0, 1]
    if endpoints.can_sample: images = endpoints.decode(z)
    if endpoints.sample_posterior: drawn = endpoints.sample_posterior(noisy, 16)   # samples, mean, std

A SavedModel is used through its signatures and `assets.extra/tfvae.json` alone (no tfvae
classes needed); what a model can do is stated in that file (and by the Keras classes), never guessed.
"""

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfvae.models.saving import load_model
from tfvae.serving.ensemble import default_ensemble, self_ensemble
from tfvae.serving.inference import posterior_sampler, single_pass
from tfvae.serving.saved_model import ENSEMBLE_SIGNATURE, METADATA_FILE, SAMPLE_SIGNATURE, checked_count


@dataclasses.dataclass
class Endpoints:
    """What a trained model offers, as plain functions on NumPy batches: what `load_endpoints` returns.

    The same client for a Keras model and an exported SavedModel; an endpoint a model does not
    have is None, and the flags say what it can do (read from the SavedModel's
    `assets.extra/tfvae.json` or the Keras class, never guessed). Every function takes and
    returns float32 NumPy arrays, images NHWC in [0, 1].

    Args:
        denoise: callable, images -> denoised images, one pass; any height and width when
            `size_multiple` is set.
        model_class: str, the model's class name, e.g. `"VAE"`, `"Autoencoder"`, `"PCA"`,
            `"DnCNN"`.
        image_shape: tuple `(H, W, C)`, the training images' shape.
        size_multiple: int or None, None when the model takes only `image_shape` images, else any
            height and width (padded inside). Defaults to `None`.
        denoise_ensemble: callable or None, the self-ensemble: the mean over flipped and rotated
            copies. Defaults to `None`.
        has_latent: bool, whether `encode` (images -> `{"z_mean", "z_log_var"}` or `{"z"}`) and
            `decode` (z -> images) exist. Defaults to `False`.
        can_sample: bool, whether decoding z ~ N(0, I) gives images (a VAE). Defaults to `False`.
        is_density_model: bool, whether `model` has an ELBO and an importance-weighted
            likelihood (a Keras VAE; a SavedModel has no density endpoint). Defaults to `False`.
        latent_shape: tuple or None, the shape of one z. Defaults to `None`.
        encode: callable or None, images of `image_shape` -> dict of latents. Defaults to `None`.
        decode: callable or None, z -> images. Defaults to `None`.
        sample_posterior: callable or None, `(images, K)` -> `{"samples": (N, K, H, W, C),
            "mean", "std"}` of K decoded posterior draws (a VAE). Defaults to `None`.
        model: object or None, the Keras model, when there is one. Defaults to `None`.

    Examples:
        >>> from tfvae.serving.endpoints import Endpoints
        >>> identity = Endpoints(denoise=lambda images: images, model_class="identity", image_shape=(8, 8, 1))
        >>> identity.has_latent, identity.encode is None
        (False, True)
    """

    denoise: Callable  # one pass; any height and width when size_multiple is set
    model_class: str  # "VAE", "Autoencoder", "PCA" or "DnCNN"
    image_shape: tuple
    size_multiple: int | None = None  # None: only image_shape's size; else any (padded inside)
    denoise_ensemble: Callable | None = None  # the self-ensemble, when there is one
    has_latent: bool = False
    can_sample: bool = False
    is_density_model: bool = False
    latent_shape: tuple | None = None
    encode: Callable | None = None
    decode: Callable | None = None
    sample_posterior: Callable | None = None  # (images, K) -> {"samples": (N, K, H, W, C), "mean", "std"}
    model: object | None = None  # the Keras model, when there is one


def load_endpoints(path: str | Path) -> Endpoints:
    """Loads a trained model as `Endpoints`: from a run folder, a `.keras` file or a SavedModel.

    A SavedModel is used through its signatures and `assets.extra/tfvae.json` alone, so no
    tfvae class is needed to serve it.

    Args:
        path: str or path, a finished run folder, a `.keras` file or an exported SavedModel
            version folder (`<base>/<name>/<version>`).

    Returns:
        The model's `Endpoints`.

    Raises:
        FileNotFoundError: if there is no model at `path`.
        ValueError: if a SavedModel was exported by an older tfvae without the metadata of what
            it can do.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from tfvae.models import DnCNN
        >>> from tfvae.serving.endpoints import load_endpoints
        >>> path = Path(tempfile.mkdtemp()) / "dncnn.keras"
        >>> DnCNN((8, 8, 1), conv_layers=2, width=4).save(path)
        >>> endpoints = load_endpoints(path)
        >>> endpoints.model_class, endpoints.has_latent
        ('DnCNN', False)
        >>> endpoints.denoise(np.zeros((2, 12, 12, 1), "float32")).shape  # any size
        (2, 12, 12, 1)
    """
    path = Path(path)
    if (path / "saved_model.pb").exists():
        return saved_model_endpoints(path)
    return keras_endpoints(load_model(path))


def saved_model_endpoints(path):
    """Endpoints of the SavedModel folder `path`, through its signatures."""
    signatures = tf.saved_model.load(str(path)).signatures
    metadata = json.loads((Path(path) / METADATA_FILE).read_text())
    if "capabilities" not in metadata:
        raise ValueError(
            f"{path} was exported by an earlier tfvae (its {METADATA_FILE} says nothing of what it can do). "
            f"Export it again: tfvae export {path} --name NAME --version NEW_VERSION."
        )

    def call(name, **inputs):
        return {k: v.numpy() for k, v in signatures[name](**{k: tf.constant(v) for k, v in inputs.items()}).items()}

    endpoints = Endpoints(
        denoise=lambda x: call("serving_default", images=x)["denoised"],
        model_class=metadata["class"],
        image_shape=tuple(metadata["image_shape"]),
        size_multiple=metadata["size_multiple"],
        has_latent=metadata["capabilities"]["has_latent"],
        can_sample=metadata["capabilities"]["can_sample"],
    )
    if ENSEMBLE_SIGNATURE in signatures:
        endpoints.denoise_ensemble = lambda x: call(ENSEMBLE_SIGNATURE, images=x)["denoised"]
    if endpoints.has_latent:
        endpoints.latent_shape = tuple(metadata["latent_shape"])
        endpoints.encode = lambda x: call("encode", images=x)
        endpoints.decode = lambda z: call("decode", z=z)["images"]
    if SAMPLE_SIGNATURE in signatures:
        endpoints.sample_posterior = lambda x, k: call(SAMPLE_SIGNATURE, images=x, samples=np.int32(k))
    return endpoints


def keras_endpoints(model):
    """Endpoints of a Keras tfvae model held in memory (self-ensemble: `default_ensemble`)."""
    single = single_pass(model)
    copies = default_ensemble(model.image_shape, model.size_multiple)
    denoise = tf.function(single, reduce_retracing=True)
    ensemble = tf.function(lambda images: self_ensemble(single, images, copies), reduce_retracing=True)
    endpoints = Endpoints(
        denoise=lambda x: np.asarray(denoise(tf.constant(x))),
        denoise_ensemble=lambda x: np.asarray(ensemble(tf.constant(x))),
        model_class=type(model).__name__,
        image_shape=tuple(model.image_shape),
        size_multiple=model.size_multiple,
        has_latent=model.has_latent,
        can_sample=model.can_sample,
        is_density_model=model.is_density_model,
        model=model,
    )
    if model.has_latent:
        endpoints.latent_shape = tuple(model.latent_shape)
        endpoints.encode = lambda x: {k: v.numpy() for k, v in model.latents(tf.constant(x)).items()}
        endpoints.decode = lambda z: model.decode(tf.constant(z)).numpy()
    if model.can_sample:
        sampler = tf.function(posterior_sampler(model), reduce_retracing=True)
        endpoints.sample_posterior = lambda x, k: {
            name: value.numpy() for name, value in sampler(tf.constant(x), checked_count(tf.constant(k))).items()
        }
    return endpoints
