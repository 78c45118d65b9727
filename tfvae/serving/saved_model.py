"""Export a trained model as a SavedModel for TF Serving: `<base>/<name>/<version>/`.

Endpoints (any batch size, no Python objects needed to load):
    serving_default  images (N, H, W, C) float32 in [0, 1] -> {"denoised"} (optionally the mean over
                     flipped / rotated copies: `self_ensemble`, see tfvae.serving.ensemble)
    encode           images -> {"z_mean", "z_log_var"} (VAE) or {"z"} (autoencoder, PCA)
    decode           z -> {"images"}
The version folder is written under a temporary name and renamed, so a server never sees half
of it; an existing version is only replaced with `force=True`.

Inputs are declared with unknown rank and checked when called: a loaded signature does not check
shapes itself, and a tensor of the wrong rank reaching oneDNN's convolution aborts the process.
A bad input fails with InvalidArgumentError naming the shape received and the shape expected.
"""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfvae.serving.ensemble import check_self_ensemble, self_ensemble


def checked(tensor, name, shape):
    """`tensor` with its static shape set to (None, *shape), after checking it at run time."""
    received = tf.shape(tensor)
    dims = tf.concat([received, tf.fill([len(shape) + 1], -1)], axis=0)[1 : len(shape) + 1]
    batch = tf.concat([received, [0]], axis=0)[0]
    ok = tf.logical_and(tf.equal(tf.size(received), len(shape) + 1), tf.reduce_all(tf.equal(dims, shape)))
    ok = tf.logical_and(ok, batch > 0)
    expected = ", ".join(map(str, shape))
    check = tf.debugging.Assert(
        ok, [f"Expected {name} of shape (N, {expected}) with N >= 1. Received shape:", received]
    )
    with tf.control_dependencies([check]):
        return tf.ensure_shape(tf.identity(tensor), (None, *shape))


def build_archive(model, ensemble="none"):
    """A keras.export.ExportArchive with the three named endpoints; serving_default averages the
    copies of the `ensemble` (tfvae.serving.ensemble.TRANSFORMS, checked by `export_model`)."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    images = tf.TensorSpec(None, tf.float32, name="images")
    latents = tf.TensorSpec(None, tf.float32, name="z")

    def denoise(images):
        return {"denoised": self_ensemble(model, checked(images, "images", model.image_shape), ensemble)}

    def encode(images):
        return model.latents(checked(images, "images", model.image_shape))

    def decode(z):
        return {"images": model.decode(checked(z, "z", model.latent_shape))}

    archive.add_endpoint("serving_default", denoise, input_signature=[images])
    if model.has_latent:
        archive.add_endpoint("encode", encode, input_signature=[images])
        archive.add_endpoint("decode", decode, input_signature=[latents])
    return archive


WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
METADATA_FILE = Path("assets.extra") / "tfvae.json"


def write_metadata(saved_model_dir, model, ensemble="none"):
    """assets.extra/tfvae.json: image and latent shapes, what the model can do, the self-ensemble and its config."""
    path = Path(saved_model_dir) / METADATA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "class": type(model).__name__,
        "image_shape": list(model.image_shape),
        "latent_shape": list(model.latent_shape) if model.has_latent else [],
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


def export_model(model, base_dir, name, version, force=False, ensemble="none"):
    """Write `base_dir/name/version/` atomically (with warm-up requests); returns its path."""
    if not isinstance(version, int) or version < 1:
        raise ValueError(
            f"Expected version to be a positive integer (TF Serving's layout). Received: version={version!r}."
        )
    check_self_ensemble(ensemble, model.image_shape)
    target = Path(base_dir) / name / str(version)
    if target.exists() and not force:
        raise FileExistsError(f"{target} already exists; pass --force to replace it, or export a new --version.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".{version}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        build_archive(model, ensemble).write_out(str(partial), verbose=False)
        write_warmup_requests(partial, name, model.image_shape)
        write_metadata(partial, model, ensemble)
        if target.exists():
            shutil.rmtree(target)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)  # only left behind by a failure (e.g. a full disk)
    return target
