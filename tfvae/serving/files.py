"""Denoise a user's own image files of any size with a model trained on fixed-size images.

Images are read as float32 in [0, 1]. Channels are matched to the model: grey is copied to RGB;
RGB becomes grey by luminance (tf.image.rgb_to_grayscale); other channel counts are refused.
An image larger than the model's input is cut into model-sized tiles (borders mirrored up to a
whole number of tiles), each tile denoised, the result stitched and cropped back; a smaller one
is mirror-padded to the model's size and cropped back. Outputs keep the input's name.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from tfvae.data.readers import IMAGE_SUFFIXES
from tfvae.evaluation.scoring import predict_in_batches


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


def read_image(path):
    """(H, W, C) float32 in [0, 1] from a PNG/JPEG/BMP/GIF file (8 or 16 bit)."""
    try:
        image = tf.io.decode_image(tf.io.read_file(str(path)), expand_animations=False)
    except tf.errors.InvalidArgumentError:
        raise ValueError(f"{path}: cannot be decoded as an image.") from None
    return tf.image.convert_image_dtype(image, tf.float32).numpy()


def match_channels(image, channels, path):
    if image.shape[-1] == channels:
        return image
    if image.shape[-1] == 1 and channels == 3:
        return np.repeat(image, 3, axis=-1)
    if image.shape[-1] == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(image).numpy()
    raise ValueError(f"{path}: has {image.shape[-1]} channels; the model takes {channels} (1 or 3 can be converted).")


def denoise_image(image, denoise, tile_shape):
    """Denoise one (H, W, C) image of any size with `denoise` on (N, *tile_shape) batches."""
    tile_h, tile_w = tile_shape[:2]
    height, width = image.shape[:2]
    padded_h, padded_w = -(-height // tile_h) * tile_h, -(-width // tile_w) * tile_w
    padded = np.pad(image, ((0, padded_h - height), (0, padded_w - width), (0, 0)), mode="symmetric")
    tiles = padded.reshape(padded_h // tile_h, tile_h, padded_w // tile_w, tile_w, -1).swapaxes(1, 2)
    denoised = predict_in_batches(denoise, tiles.reshape(-1, *tiles.shape[2:]))
    stitched = denoised.reshape(tiles.shape).swapaxes(1, 2).reshape(padded.shape)
    return np.clip(stitched[:height, :width], 0.0, 1.0)


def write_image(path, image):
    """Save (H, W, C) float32 [0, 1] as PNG or JPEG, by the file's suffix."""
    pixels = tf.image.convert_image_dtype(image, tf.uint8, saturate=True)
    encoded = (
        tf.io.encode_jpeg(pixels, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else tf.io.encode_png(pixels)
    )
    path.write_bytes(encoded.numpy())


def denoise_files(inputs, out_dir, denoise, image_shape, force=False):
    """Denoise every image of `inputs` into `out_dir` under the same names; returns the written paths.

    Refuses before writing anything when an output would overwrite an input, or an existing
    file without `force`.
    """
    files = list_images(inputs)
    out_dir = Path(out_dir)
    targets = [
        out_dir / (f.stem + (f.suffix if f.suffix.lower() in (".png", ".jpg", ".jpeg") else ".png")) for f in files
    ]
    for source, target in zip(files, targets):
        if target.resolve() == source.resolve():
            raise FileExistsError(f"{target} would overwrite its input; choose another --out.")
        if target.exists() and not force:
            raise FileExistsError(f"{target} already exists; pass --force to overwrite it.")
    if len(set(targets)) != len(targets):
        raise ValueError("Two inputs share a file name; denoise them into separate --out folders.")
    images = [match_channels(read_image(f), image_shape[-1], f) for f in files]
    out_dir.mkdir(parents=True, exist_ok=True)
    for image, target in zip(images, targets):
        write_image(target, denoise_image(image, denoise, image_shape))
    return targets
