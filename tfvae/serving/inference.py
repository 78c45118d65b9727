"""Denoising whole images of any size: in one pass through a fully convolutional model, in
overlapping tiles blended with a smooth window otherwise (or when an image is too large).

A fully convolutional model (`model.size_multiple` is not None) takes any height and width that
are multiples of `size_multiple`: `denoise_whole` pads an image symmetrically up to the next
multiple and crops the result back. A fixed-size model sees tiles of its own size that overlap by
half; each tile's output is weighted by a window that falls towards the tile's edges, so every
pixel is mostly decided by the tiles that see it far from their borders: no seams.

Memory is bounded by the tiles, not the image: the image may be integer pixels (converted to
float a tile at a time), the tiles of a batch hold at most MAX_WHOLE_PIXELS pixels, and the
blend keeps one row of tiles in float: the rows no later tile reaches are finished and written
to the output (in the output's dtype, e.g. the input's 8 or 16 bit) as the tiles move down.

`single_pass` and `posterior_sampler` are a model as functions on batches of any size, what the
SavedModel signatures (`saved_model`) and the in-memory client (`endpoints`) both call.
"""

import numpy as np
import tensorflow as tf

MAX_WHOLE_PIXELS = 1024 * 1024  # larger images go through LARGE_TILE tiles; also the pixels of one tile batch
LARGE_TILE = 512
TILE_BATCH = 64  # tiles per call at most (small tiles)


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


def as_float(pixels):
    """(..., C) pixels as float32 in [0, 1]: integers divided by their dtype's maximum, floats as they are."""
    if np.issubdtype(pixels.dtype, np.integer):
        return pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    return np.asarray(pixels, np.float32)


def write_pixels(target, values):
    """Writes float32 [0, 1] `values` into `target` as pixels of its dtype: integers rounded over the
    dtype's range (clipped to [0, 1] first), floats as they are; returns `target`. `values` is
    overwritten (no copies)."""
    if np.issubdtype(target.dtype, np.integer):
        np.clip(values, 0.0, 1.0, out=values)
        values *= np.iinfo(target.dtype).max
        np.round(values, out=values)
    target[...] = values
    return target


def blend_tiles(image, denoise, tile, overlap):
    """Denoise one (H, W, C) image with `denoise` on (N, *tile, C) batches of overlapping tiles,
    blended by `window`, one row of tiles at a time; an image smaller than a tile is mirror-padded to
    it first. `image` is float32 in [0, 1] or integer pixels; the output has its dtype and the
    channels `denoise` returns."""
    height, width = image.shape[:2]
    if height < tile[0] or width < tile[1]:  # smaller than a tile along an axis: the copy is small there
        padding = ((0, max(0, tile[0] - height)), (0, max(0, tile[1] - width)), (0, 0))
        return blend_tiles(np.pad(image, padding, mode="symmetric"), denoise, tile, overlap)[:height, :width]
    weight = window(tile)
    per_call = max(1, min(TILE_BATCH, MAX_WHOLE_PIXELS // (tile[0] * tile[1])))
    lefts = _starts(width, tile[1], tile[1] - overlap[1])
    tops = _starts(height, tile[0], tile[0] - overlap[0])
    output = None  # shaped by the first tile's output: `denoise` may return other channels than it takes
    total, norm = None, np.zeros((tile[0], width, 1), np.float32)  # the blend of the rows from `top` on
    for index, top in enumerate(tops):
        for first in range(0, len(lefts), per_call):
            batch = lefts[first : first + per_call]
            tiles = np.stack([as_float(image[top : top + tile[0], left : left + tile[1]]) for left in batch])
            for left, out in zip(batch, np.asarray(denoise(tiles))):
                if output is None:
                    output = np.empty((height, width, out.shape[-1]), image.dtype)
                    total = np.zeros((tile[0], width, out.shape[-1]), np.float32)
                total[:, left : left + tile[1]] += weight * out
                norm[:, left : left + tile[1]] += weight
        # The rows above the next row of tiles are final: write them, and move the rest up.
        done = (tops[index + 1] if index + 1 < len(tops) else height) - top
        total[:done] /= norm[:done]
        write_pixels(output[top : top + done], total[:done])
        for accumulator in (total, norm):
            accumulator[: tile[0] - done] = accumulator[done:]
            accumulator[tile[0] - done :] = 0
    return output


def denoise_image(image, denoise, image_shape, size_multiple):
    """One (H, W, C) image of any size through `denoise`, a function on NHWC float32 batches of a
    model with `image_shape` and `size_multiple` (see the module docstring). The image is float32
    in [0, 1] or integer pixels; the output has its dtype."""
    if size_multiple is None:
        tile = tuple(image_shape[:2])
        return blend_tiles(image, denoise, tile, (tile[0] // 2, tile[1] // 2))
    if image.shape[0] * image.shape[1] <= MAX_WHOLE_PIXELS:
        values = np.array(denoise(as_float(image)[None])[0], np.float32)
        return write_pixels(np.empty(values.shape, image.dtype), values)
    large = (LARGE_TILE, LARGE_TILE)
    return blend_tiles(image, denoise, large, (LARGE_TILE // 8, LARGE_TILE // 8))
