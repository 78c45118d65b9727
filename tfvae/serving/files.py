"""`tfvae denoise`: a user's own image files, of any size, written back as they came.

What comes in goes out: the same size, channels and bit depth, under the same name.
- Grey, grey + alpha, RGB and RGBA PNGs, 8 or 16 bit; grey and RGB JPEGs (written back as JPEG,
  quality 95); BMP and GIF are written as PNG. A palette PNG comes back as RGB(A): denoised colours
  leave the palette. CMYK JPEGs are refused (TensorFlow would silently decode them as RGB).
- Alpha is passed through unchanged; only the colour is denoised. Grey into an RGB model is copied
  to three channels and averaged back; RGB into a grey model is denoised channel by channel.
- Any size: whole images through a fully convolutional model, overlapping blended tiles otherwise
  (`tfvae.serving.inference`).
- A VAE can also sample: `--posterior-samples K` writes the mean of K posterior draws (the MMSE estimate)
  and their per-pixel std (`<name>.std.png`: how sure the model is), `--write-samples` each draw
  (`<name>.sample<k>.png`), all in the input's mode and depth.
Files are processed one at a time, with a progress line each; a large image goes through in tiles,
so memory holds its pixels, its output and a row of tiles, not float copies of it. A file that fails
is named at the end and the others' outputs stay written.
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from tfvae.data.readers import IMAGE_SUFFIXES
from tfvae.io import replace_atomically
from tfvae.serving.inference import denoise_image

if TYPE_CHECKING:  # an annotation's type only, not needed at run time
    from tfvae.serving.endpoints import Endpoints

KEPT_SUFFIXES = (".png", ".jpg", ".jpeg")  # other formats are written as PNG
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_FRAME_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def list_images(inputs):
    """Image files named by `inputs` (files or folders, folders not recursed), sorted per folder."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif item.is_file():
            files.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder.")
    if not files:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(map(str, inputs))}.")
    return files


def jpeg_components(raw):
    """The number of colour components a JPEG's frame header declares (None if none is found)."""
    position = 2
    while position + 9 < len(raw) and raw[position] == 0xFF:
        marker, length = raw[position + 1], int.from_bytes(raw[position + 2 : position + 4], "big")
        if marker in JPEG_FRAME_MARKERS:
            return raw[position + 9]
        position += 2 + length
    return None


def read_image(path):
    """(H, W, C) integer pixels of a PNG/JPEG/BMP/GIF file, uint8 or (16-bit PNG) uint16."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\xff\xd8" and jpeg_components(raw) == 4:
        raise ValueError("a CMYK JPEG; convert it to RGB first (tfvae denoises grey, RGB and RGBA images).")
    sixteen_bit = raw[:8] == PNG_SIGNATURE and len(raw) > 24 and raw[24] == 16
    try:
        if sixteen_bit:
            return tf.io.decode_png(raw, dtype=tf.uint16).numpy()
        return tf.io.decode_image(raw, expand_animations=False).numpy()
    except tf.errors.InvalidArgumentError:
        raise ValueError("cannot be decoded as an image.") from None


def with_channels(denoise, channels, model_channels):
    """`denoise` (a function on NHWC batches of a model with `model_channels`) for batches of `channels`.

    `denoise` may return G images stacked on the channel axis (G groups of the model's channels,
    as `posterior_stack` does); each comes back with `channels`: (N, H, W, G * channels)."""
    if channels == model_channels:
        return denoise
    if model_channels == 3:  # grey through an RGB model: three equal channels, averaged back

        def through_colour(batch):
            out = np.asarray(denoise(np.repeat(batch, 3, axis=-1)))
            return out.reshape(*out.shape[:3], -1, 3).mean(-1)

        return through_colour

    def per_channel(batch):  # RGB through a grey model: each channel on its own
        planes = [np.asarray(denoise(batch[..., [c]])) for c in range(3)]
        return np.stack(planes, axis=-1).reshape(*planes[0].shape[:3], -1)

    return per_channel


def denoise_pixels(pixels, denoise, image_shape, size_multiple):
    """Integer (H, W, C) pixels, C in 1-4, denoised: a list of the G images `denoise` returns per
    input (one for a denoiser), each of the input's shape and dtype, alpha unchanged. Large images
    go through in tiles, so memory is bounded by the tiles and the pixels (`inference`)."""
    if pixels.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"Expected 1 to 4 channels (grey, grey + alpha, RGB, RGBA). Received: {pixels.shape[-1]}.")
    colour_channels = 1 if pixels.shape[-1] <= 2 else 3
    adapted = with_channels(denoise, colour_channels, image_shape[-1])
    denoised = denoise_image(pixels[..., :colour_channels], adapted, image_shape, size_multiple)
    groups = np.split(denoised, denoised.shape[-1] // colour_channels, axis=-1)
    if pixels.shape[-1] == colour_channels:  # no alpha to put back: no copy of the output
        return groups
    return [np.concatenate([group, pixels[..., colour_channels:]], axis=-1) for group in groups]


def posterior_stack(sample_posterior, samples, with_draws):
    """A function on batches returning [MMSE mean, per-pixel std] and, `with_draws`, [sample 1, ...,
    sample K] stacked on the channel axis, from `sample_posterior` (an Endpoints' (images, K) ->
    {"samples", "mean", "std"})."""

    def stack(images):
        drawn = sample_posterior(np.asarray(images), samples)
        parts = [drawn["mean"], drawn["std"]]
        if with_draws:
            draws = np.moveaxis(drawn["samples"], 1, -2)  # (N, H, W, K, C)
            parts.append(draws.reshape(*draws.shape[:3], -1))
        return np.concatenate(parts, axis=-1)

    return stack


def write_image(path, pixels):
    """Save integer (H, W, C) pixels as JPEG (by the suffix) or PNG (8 or 16 bit), atomically."""
    if path.suffix.lower() in (".jpg", ".jpeg"):
        encoded = tf.io.encode_jpeg(pixels, quality=95)
    else:
        encoded = tf.io.encode_png(pixels)
    replace_atomically(path, lambda partial: Path(partial).write_bytes(encoded.numpy()))


def output_path(source, out_dir, tag=""):
    """Where the output of `source` goes: its name (plus `tag`, e.g. ".std") in `out_dir`, its format if kept."""
    suffix = source.suffix if source.suffix.lower() in KEPT_SUFFIXES else ".png"
    return Path(out_dir) / (source.stem + tag + suffix)


def output_tags(samples, write_samples):
    """The tags of each input's outputs: the denoised image; with posterior samples also the std map
    and (`write_samples`) each draw."""
    if not samples:
        return [""]
    digits = len(str(samples))
    return ["", ".std", *([f".sample{k:0{digits}d}" for k in range(1, samples + 1)] if write_samples else [])]


def denoise_files(
    inputs: list,
    out_dir: str | Path,
    endpoints: "Endpoints",
    force: bool = False,
    self_ensemble: bool = False,
    posterior_samples: int = 0,
    write_samples: bool = False,
    progress: bool = True,
) -> list:
    """Denoises image files of any size into `out_dir`, under the same names: `tfvae denoise`.

    What comes in goes out: the same size, channels and bit depth (see the module docstring).
    Nothing is written when an output would overwrite an input, or an existing file without
    `force`. A file that fails does not stop the others: the failures are raised together at
    the end.

    Args:
        inputs: list of str or paths, image files and folders (not recursed).
        out_dir: str or path, the folder the outputs go to (created if needed).
        endpoints: `Endpoints`, the model (see `load_endpoints`).
        force: bool, overwrite existing outputs. Defaults to `False`.
        self_ensemble: bool, use the model's self-ensemble. Defaults to `False`.
        posterior_samples: int, with K > 0 (a VAE) the output is the mean of K posterior draws
            (the MMSE estimate), and their per-pixel std is written as `<name>.std.<ext>`.
            Defaults to `0`.
        write_samples: bool, with `posterior_samples`, also write each draw as `<name>.sample<k>.<ext>`.
            Defaults to `False`.
        progress: bool, print a line per image on stderr. Defaults to `True`.

    Returns:
        The list of paths written.

    Raises:
        ValueError: if the options conflict (`posterior_samples` with `self_ensemble`,
            `write_samples` without `posterior_samples`, sampling or an ensemble the model lacks), two inputs share a
            name, or some files failed (all named).
        FileNotFoundError: if an input does not exist, or the inputs hold no image.
        FileExistsError: if an output would overwrite its input, or exists without `force`.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> import tensorflow as tf
        >>> from tfvae.models import DnCNN
        >>> from tfvae.serving.endpoints import load_endpoints
        >>> from tfvae.serving.files import denoise_files
        >>> model_file = Path(tempfile.mkdtemp()) / "dncnn.keras"
        >>> DnCNN((8, 8, 1), conv_layers=2, width=4).save(model_file)
        >>> photos = Path(tempfile.mkdtemp())
        >>> _ = (photos / "photo.png").write_bytes(tf.io.encode_png(np.zeros((12, 10, 3), np.uint8)).numpy())
        >>> written = denoise_files([photos], tempfile.mkdtemp(), load_endpoints(model_file), progress=False)
        >>> [path.name for path in written]
        ['photo.png']
        >>> tuple(tf.io.decode_png(written[0].read_bytes()).shape)  # RGB through a grey model
        (12, 10, 3)
    """
    if not isinstance(posterior_samples, int) or posterior_samples < 0:
        raise ValueError(
            "Expected posterior_samples to be an integer >= 1 (0: one denoised image). "
            f"Received: {posterior_samples!r}."
        )
    if posterior_samples and endpoints.sample_posterior is None:
        raise ValueError(
            "Expected a model with a posterior to sample (a VAE with the sample_posterior signature). "
            f"Received: a {endpoints.model_class} without it"
            + ("; export it again with `tfvae export` to add the signature." if endpoints.can_sample else ".")
        )
    if posterior_samples and self_ensemble:
        raise ValueError(
            "Expected --posterior-samples or --self-ensemble, not both (the draws are not averaged over turns)."
        )
    if write_samples and not posterior_samples:
        raise ValueError("Expected --posterior-samples K with --write-samples (the number of draws to write).")
    files = list_images(inputs)
    tags = output_tags(posterior_samples, write_samples)
    targets = [[output_path(f, out_dir, tag) for tag in tags] for f in files]
    for source, outputs in zip(files, targets):
        for target in outputs:
            if target.resolve() == source.resolve():
                raise FileExistsError(f"{target} would overwrite its input; choose another --out.")
            if target.exists() and not force:
                raise FileExistsError(f"{target} already exists; pass --force to overwrite it.")
    flat = [target for outputs in targets for target in outputs]
    if len(set(flat)) != len(flat):
        raise ValueError("Two inputs share a file name; denoise them into separate --out folders.")
    if self_ensemble and endpoints.denoise_ensemble is None:
        raise ValueError(f"Expected a model with a self-ensemble. Received: a {endpoints.model_class} without one.")
    if posterior_samples:
        denoise = posterior_stack(endpoints.sample_posterior, posterior_samples, write_samples)
    else:
        denoise = endpoints.denoise_ensemble if self_ensemble else endpoints.denoise
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    written, failures = [], []
    for number, (source, outputs) in enumerate(zip(files, targets), start=1):
        try:
            images = denoise_pixels(read_image(source), denoise, endpoints.image_shape, endpoints.size_multiple)
            for target, pixels in zip(outputs, images):
                write_image(target, pixels)
                written.append(target)
            status = f"-> {outputs[0]}"
        except (ValueError, tf.errors.OpError) as error:
            failures.append(f"{source}: {error}")
            status = "failed"
        if progress:
            print(f"[{number}/{len(files)}] {source} {status}", file=sys.stderr, flush=True)
    if failures:
        raise ValueError(
            f"{len(failures)} of {len(files)} images failed ({len(written)} written): " + "; ".join(failures)
        )
    return written
