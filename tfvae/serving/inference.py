"""Denoising whole images of any size: in one pass through a fully convolutional model, in
overlapping tiles blended with a smooth window otherwise (or when an image is too large).

A fully convolutional model (`model.size_multiple` is not None) takes any height and width that
are multiples of `size_multiple`: `denoise_whole` pads an image symmetrically up to the next
multiple and crops the result back. A fixed-size model sees tiles of its own size that overlap by
half; each tile's output is weighted by a window that falls towards the tile's edges, so every
pixel is mostly decided by the tiles that see it far from their borders: no seams.

`single_pass` and `posterior_sampler` are a model as functions on batches of any size, what the
SavedModel signatures (`saved_model`) and the in-memory client (`endpoints`) both call.
"""

import numpy as np
import tensorflow as tf

MAX_WHOLE_PIXELS = 1024 * 1024  # larger images go through LARGE_TILE tiles (memory stays bounded)
LARGE_TILE = 512
TILE_BATCH = 64


def pad_to_multiple(images, multiple):
    """(images padded symmetrically at the bottom and right to multiples of `multiple`, original H, W).

    Symmetric padding mirrors at most the image's own size at a time, so a tiny image is padded in
    up to log2(multiple) rounds."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    missing_h, missing_w = (-height) % multiple, (-width) % multiple
    for _ in range(max(1, int(multiple).bit_length())):
        step_h = tf.minimum(missing_h, tf.shape(images)[1])
        step_w = tf.minimum(missing_w, tf.shape(images)[2])
        images = tf.pad(images, [[0, 0], [0, step_h], [0, step_w], [0, 0]], mode="SYMMETRIC")
        missing_h, missing_w = missing_h - step_h, missing_w - step_w
    return images, height, width


def padded_call(function, images, multiple):
    """`function` (NHWC in, NHW...C out of the same height and width) on a batch of any height and
    width: padded to multiples of `multiple`, called, cropped back (axis 1 and 2 of the input; an
    output with extra axes, e.g. (N, K, H, W, C) samples, is cropped on its image axes)."""
    padded, height, width = pad_to_multiple(images, multiple)
    output = function(padded)
    image_axes = output.shape.rank - 3  # the height axis: outputs end in (H, W, C)
    begin = tf.zeros([output.shape.rank], tf.int32)
    size = tf.tensor_scatter_nd_update(
        tf.fill([output.shape.rank], -1), [[image_axes], [image_axes + 1]], [height, width]
    )
    return tf.slice(output, begin, size)


def denoise_whole(model, images):
    """`model` on a batch of any height and width (a fully convolutional model): padded, denoised, cropped."""
    return padded_call(model, images, model.size_multiple)


def single_pass(model):
    """The model as a function on image batches it takes: whole images of any size when it can."""
    return model if model.size_multiple is None else (lambda images: denoise_whole(model, images))


def posterior_sampler(model):
    """images, K -> {"samples": (N, K, H, W, C) decoded posterior draws, "mean", "std" over them};
    any height and width for a fully convolutional model, like `single_pass`."""

    def sample(images, samples):
        def draws(batch):
            return model.posterior_samples(batch, samples)

        drawn = draws(images) if model.size_multiple is None else padded_call(draws, images, model.size_multiple)
        return {"samples": drawn, "mean": tf.reduce_mean(drawn, axis=1), "std": tf.math.reduce_std(drawn, axis=1)}

    return sample


def window(size):
    """A 2-D window (h, w, 1) that is largest in the middle and falls smoothly towards the edges."""
    rows, cols = (np.sin(np.pi * (np.arange(n) + 0.5) / n) ** 2 for n in size)
    return np.outer(rows, cols)[..., None].astype(np.float32)


def _starts(length, tile, stride):
    """Tile offsets along one axis: every `stride`, the last one flush with the end."""
    return sorted({*range(0, length - tile, stride), length - tile})


def blend_tiles(image, denoise, tile, overlap):
    """Denoise one (H, W, C) image with `denoise` on (N, *tile, C) batches of overlapping tiles,
    blended by `window`; an image smaller than a tile is mirror-padded to it first. The output has
    the channels `denoise` returns."""
    height, width = image.shape[:2]
    padded = np.pad(image, ((0, max(0, tile[0] - height)), (0, max(0, tile[1] - width)), (0, 0)), mode="symmetric")
    weight = window(tile)
    total = None  # shaped by the first output: `denoise` may return other channels than it takes
    norm = np.zeros(padded.shape[:2] + (1,), np.float64)
    corners = [
        (top, left)
        for top in _starts(padded.shape[0], tile[0], tile[0] - overlap[0])
        for left in _starts(padded.shape[1], tile[1], tile[1] - overlap[1])
    ]
    for first in range(0, len(corners), TILE_BATCH):
        batch = corners[first : first + TILE_BATCH]
        tiles = np.stack([padded[top : top + tile[0], left : left + tile[1]] for top, left in batch])
        for (top, left), out in zip(batch, np.asarray(denoise(tiles))):
            total = np.zeros(padded.shape[:2] + out.shape[-1:], np.float64) if total is None else total
            total[top : top + tile[0], left : left + tile[1]] += weight * out
            norm[top : top + tile[0], left : left + tile[1]] += weight
    return (total / norm)[:height, :width].astype(np.float32)


def denoise_image(image, denoise, image_shape, size_multiple):
    """One (H, W, C) float32 image of any size through `denoise`, a function on NHWC batches of a
    model with `image_shape` and `size_multiple` (see the module docstring)."""
    if size_multiple is None:
        tile = tuple(image_shape[:2])
        return blend_tiles(image, denoise, tile, (tile[0] // 2, tile[1] // 2))
    if image.shape[0] * image.shape[1] <= MAX_WHOLE_PIXELS:
        return np.asarray(denoise(image[None]))[0]
    large = (LARGE_TILE, LARGE_TILE)
    return blend_tiles(image, denoise, large, (LARGE_TILE // 8, LARGE_TILE // 8))
