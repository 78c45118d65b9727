"""Export a trained model as a SavedModel for TF Serving: `<base>/<name>/<version>/`.

Endpoints (any batch size, no Python objects needed to load):
    serving_default   images (N, H, W, C) float32 in [0, 1] -> {"denoised"}, one pass; a fully
                      convolutional model takes any H and W (padded inside, cropped back)
    denoise_ensemble  the same input -> {"denoised"}, the mean over flipped / rotated copies
                      (tfvae.serving.ensemble; 2 or 8 passes)
    encode            images of the training size -> {"z_mean", "z_log_var"} (VAE) or {"z"}
    decode            z -> {"images"}
    sample_posterior  (VAE) images as serving_default takes them and `samples` K (int32 scalar >= 1)
                      -> {"samples": (N, K, H, W, C) decoded draws z ~ q(z | images), each a
                      plausible clean image, "mean": their mean (the MMSE estimate), "std": their
                      per-pixel spread (the uncertainty)}; seeded, so a request is reproducible
A VAE exported with `mmse_samples` K > 0 serves the MMSE estimate over K posterior draws as
serving_default (and the ensemble's passes); else the posterior mean decoded once.
The version folder is written under a temporary name and renamed, so a server never sees half
of it; an existing version is only replaced with `force=True`.

Inputs are declared with unknown rank and checked when called: a loaded signature does not check
shapes itself, and a tensor of the wrong rank reaching oneDNN's convolution aborts the process.
A bad input fails with InvalidArgumentError naming the shape received and the shape expected.
"""

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfvae.io import replace_atomically
from tfvae.models.saving import load_model
from tfvae.serving.ensemble import check_self_ensemble, default_ensemble, self_ensemble
from tfvae.serving.inference import posterior_sampler, single_pass

ENSEMBLE_SIGNATURE = "denoise_ensemble"
SAMPLE_SIGNATURE = "sample_posterior"


def checked(tensor, name, shape):
    """`tensor` with its static shape set to (None, *shape), after checking it at run time; a None
    in `shape` (any height or width) only needs to be >= 1."""
    received = tf.shape(tensor)
    dims = tf.concat([received, tf.fill([len(shape) + 1], -1)], axis=0)[1 : len(shape) + 1]
    wanted = tf.constant([-1 if size is None else size for size in shape])
    fits = tf.where(wanted < 0, dims >= 1, tf.equal(dims, wanted))
    batch = tf.concat([received, [0]], axis=0)[0]
    ok = tf.logical_and(tf.equal(tf.size(received), len(shape) + 1), tf.reduce_all(fits))
    ok = tf.logical_and(ok, batch > 0)
    expected = ", ".join("any" if size is None else str(size) for size in shape)
    check = tf.debugging.Assert(
        ok, [f"Expected {name} of shape (N, {expected}) with N >= 1. Received shape:", received], summarize=8
    )
    with tf.control_dependencies([check]):
        return tf.ensure_shape(tf.identity(tensor), (None, *shape))


def served_shape(model):
    """The image shape serving_default takes: any height and width for a fully convolutional model."""
    return model.image_shape if model.size_multiple is None else (None, None, model.image_shape[-1])


def checked_count(samples):
    """`samples` after checking it is a count >= 1 (an InvalidArgumentError naming it otherwise)."""
    check = tf.debugging.Assert(samples >= 1, ["Expected samples >= 1. Received: samples =", samples])
    with tf.control_dependencies([check]):
        return tf.identity(samples)


def build_archive(model, ensemble):
    """A keras.export.ExportArchive with the named endpoints: serving_default (one pass),
    denoise_ensemble (the `ensemble` of tfvae.serving.ensemble.TRANSFORMS; none: no such
    signature), encode and decode (models with a latent)."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    images = tf.TensorSpec(None, tf.float32, name="images")
    latents = tf.TensorSpec(None, tf.float32, name="z")
    denoise = single_pass(model)

    def serve(images):
        return {"denoised": denoise(checked(images, "images", served_shape(model)))}

    def serve_ensemble(images):
        return {"denoised": self_ensemble(denoise, checked(images, "images", served_shape(model)), ensemble)}

    def encode(images):
        return model.latents(checked(images, "images", model.image_shape))

    def decode(z):
        return {"images": model.decode(checked(z, "z", model.latent_shape))}

    def sample_posterior(images, samples):
        checked_images = checked(images, "images", served_shape(model))
        return posterior_sampler(model)(checked_images, checked_count(samples))

    archive.add_endpoint("serving_default", serve, input_signature=[images])
    if ensemble != "none":
        archive.add_endpoint(ENSEMBLE_SIGNATURE, serve_ensemble, input_signature=[images])
    if model.has_latent:
        archive.add_endpoint("encode", encode, input_signature=[images])
        archive.add_endpoint("decode", decode, input_signature=[latents])
    if model.can_sample:
        count = tf.TensorSpec([], tf.int32, name="samples")
        archive.add_endpoint(SAMPLE_SIGNATURE, sample_posterior, input_signature=[images, count])
    return archive


WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
METADATA_FILE = Path("assets.extra") / "tfvae.json"


def write_metadata(saved_model_dir, model, ensemble):
    """assets.extra/tfvae.json: image and latent shapes, what the model can do, the self-ensemble and its config."""
    path = Path(saved_model_dir) / METADATA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "class": type(model).__name__,
        "image_shape": list(model.image_shape),
        "latent_shape": list(model.latent_shape) if model.has_latent else [],
        "size_multiple": model.size_multiple,  # null: only image_shape; else any H, W (padded inside)
        "capabilities": {"has_latent": model.has_latent, "can_sample": model.can_sample},
        "self_ensemble": ensemble,
        "config": model.get_config(),
    }
    path.write_text(json.dumps(metadata, indent=2, default=str))
    return path


def write_warmup_requests(saved_model_dir, name, image_shape, batch_sizes=(1, 8)):
    """TF Serving's warm-up file: one PredictRequest per batch size on `serving_default`.

    Needs `tensorflow-serving-api` (installed by the Makefile with --no-deps: it would otherwise
    pull the full `tensorflow` package next to `tensorflow-cpu`). Returns the file, or None
    when the package is missing.
    """
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError:
        return None
    path = Path(saved_model_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for batch in batch_sizes:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=name, signature_name="serving_default")
            )
            request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.full((batch, *image_shape), 0.5, np.float32)))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def export_model(
    model: keras.Model,
    base_dir: str | Path,
    name: str,
    version: int,
    force: bool = False,
    ensemble_transforms: str | None = None,
) -> Path:
    """Exports a trained model as a SavedModel for TF Serving, in `base_dir/name/version/`.

    The signatures (see the module docstring) need no tfvae classes to load: serving_default
    (denoise), denoise_ensemble, encode and decode (models with a latent), sample_posterior (a
    VAE). Also written: TF Serving's warm-up requests (with `tensorflow-serving-api`) and
    `assets.extra/tfvae.json`, what the model can do. The version folder is written under a
    temporary name and renamed, so a server never sees half of it.

    Args:
        model: `keras.Model`, a trained tfvae model (`VAE`, `HierarchicalVAE`, `Autoencoder`,
            `PCA`, `DnCNN`, `Noise2Void`).
        base_dir: str or path, the folder TF Serving reads (`--model_base_path` is
            `base_dir/name`).
        name: str, the model's name.
        version: int >= 1, the version number.
        force: bool, replace an existing version. Defaults to `False`.
        ensemble_transforms: str or None, the copies the denoise_ensemble signature (the
            self-ensemble) averages: `"flip"`,
            `"dihedral"` (the 8 flips and quarter turns, for square or any-size images) or
            `"none"` (no such signature). Defaults to `None`: the largest that fits the model.

    Returns:
        The path of the version folder.

    Raises:
        ValueError: if `version` is not a positive integer, or `ensemble_transforms` is unknown or
            does not fit the model (dihedral on non-square fixed-size images).
        FileExistsError: if the version exists and `force` is False.

    Examples:
        >>> import tempfile
        >>> from tfvae.models import DnCNN
        >>> from tfvae.serving.saved_model import export_model
        >>> model = DnCNN((8, 8, 1), conv_layers=2, width=4)
        >>> path = export_model(model, tempfile.mkdtemp(), "dncnn", 1, ensemble_transforms="none")
        >>> path.parts[-2:], (path / "saved_model.pb").is_file()
        (('dncnn', '1'), True)
    """
    if not isinstance(version, int) or version < 1:
        raise ValueError(
            f"Expected version to be a positive integer (TF Serving's layout). Received: version={version!r}."
        )
    transforms = ensemble_transforms or default_ensemble(model.image_shape, model.size_multiple)
    check_self_ensemble(transforms, model.image_shape, model.size_multiple)
    target = Path(base_dir) / name / str(version)
    if target.exists() and not force:
        raise FileExistsError(f"{target} already exists; pass --force to replace it, or export a new --version.")
    target.parent.mkdir(parents=True, exist_ok=True)

    def write(partial):
        build_archive(model, transforms).write_out(str(partial), verbose=False)
        write_warmup_requests(partial, name, model.image_shape)
        write_metadata(partial, model, transforms)

    return replace_atomically(target, write)


def load_trained_model(path):
    """The Keras model of a run folder or .keras file, or the one a tfvae SavedModel folder was
    exported from: rebuilt from its assets.extra/tfvae.json config, its variables assigned in order
    (so a shipped model can be exported again with today's signatures)."""
    path = Path(path)
    if not (path / "saved_model.pb").exists():
        return load_model(path)
    metadata = json.loads((path / METADATA_FILE).read_text())
    model = keras.saving.get_registered_object(f"tfvae>{metadata['class']}").from_config(metadata["config"])
    variables = tf.saved_model.load(str(path)).variables
    expected, received = [tuple(v.shape) for v in model.variables], [tuple(v.shape) for v in variables]
    if expected != received:
        raise ValueError(f"Expected {path} to hold the variables of its config {expected}. Received: {received}.")
    for target, value in zip(model.variables, variables):
        target.assign(value)
    return model
