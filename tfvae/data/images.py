"""The image contract of the public API: float32, values in [0, 1], shape (N, H, W, C).

Every public boundary calls `check_images` (NumPy) or `check_image_batch` (tensors, inside models);
nothing is cast, clipped or dropped silently.
"""

import numpy as np
import tensorflow as tf

VALID_CHANNELS = (1, 3)


def check_images(
    images: np.ndarray, name: str = "images", channels: int | None = None, size: tuple | None = None
) -> np.ndarray:
    """Checks that `images` follow the image contract and returns them as a NumPy array.

    The contract of every public boundary of tfvae: float32 values in [0, 1], shape
    `(N, H, W, C)` with at least one image and C in (1, 3), every value finite. Nothing is
    cast, clipped or dropped: a batch that breaks the contract raises, naming what it received.

    Args:
        images: array-like, the batch to check.
        name: str, what to call `images` in error messages. Defaults to `"images"`.
        channels: int or None, the number of channels required. Defaults to `None` (1 or 3).
        size: tuple `(height, width)` or None, the image size required. Defaults to `None`
            (any size).

    Returns:
        `images` as a float32 NumPy array (the same array when it is one already).

    Raises:
        ValueError: if the dtype is not float32, the rank is not 4, the batch is empty, the
            channels or the size are not the ones required, or a value is NaN, Inf or outside
            [0, 1].

    Examples:
        >>> import numpy as np
        >>> from tfvae.data import check_images
        >>> check_images(np.zeros((2, 8, 8, 1), "float32")).shape
        (2, 8, 8, 1)
        >>> check_images(np.zeros((2, 8, 8, 1), "uint8"))
        Traceback (most recent call last):
        ...
        ValueError: Expected images to be float32 images in [0, 1] ... Received: dtype=uint8 (convert ...
    """
    array = np.asarray(images)
    expected = "float32 images in [0, 1] of shape (N, H, W, C) with C in (1, 3)"
    if array.dtype != np.float32:
        hint = " (convert with images.astype('float32') / 255)" if array.dtype == np.uint8 else ""
        raise ValueError(f"Expected {name} to be {expected}. Received: dtype={array.dtype}{hint}.")
    if array.ndim != 4:
        raise ValueError(f"Expected {name} to be {expected}. Received: shape={array.shape} (rank {array.ndim}).")
    if array.shape[0] == 0:
        raise ValueError(f"Expected {name} to hold at least one image. Received: shape={array.shape}.")
    wanted_channels = (channels,) if channels else VALID_CHANNELS
    if array.shape[-1] not in wanted_channels:
        raise ValueError(
            f"Expected {name} to have {' or '.join(map(str, wanted_channels))} channels (NHWC). "
            f"Received: shape={array.shape}."
        )
    if size is not None and tuple(array.shape[1:3]) != tuple(size):
        raise ValueError(f"Expected {name} of height x width {size[0]}x{size[1]}. Received: shape={array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(
            f"Expected {name} to be finite. Received: {np.size(array) - np.isfinite(array).sum()} NaN/Inf values."
        )
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        hint = " (looks like [0, 255]: divide by 255)" if high > 1.0 and high <= 255.0 else ""
        raise ValueError(f"Expected {name} with values in [0, 1]. Received: values in [{low:g}, {high:g}]{hint}.")
    return array


def check_image_batch(images, image_shape, size_multiple=None):
    """Checks a (possibly symbolic) batch against the image contract and a model's `(H, W, C)`.

    With `size_multiple`, any height and width that are multiples of it are accepted (a fully
    convolutional model), and only the channels must be the model's.

    Args:
        images: tensor or array, the batch.
        image_shape: tuple `(H, W, C)`, the model's image shape.
        size_multiple: int or None, accept any height and width that are multiples of it.
            Defaults to `None` (exactly `image_shape`).

    Returns:
        The batch as a tensor.

    Raises:
        ValueError: when the function is traced, if the dtype or the shape is wrong.
        tf.errors.InvalidArgumentError: when it runs, if the batch is empty, a value is not
            finite or outside [0, 1], or an open height or width is not a multiple of
            `size_multiple`.
    """
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.float32:
        raise ValueError(f"Expected float32 images in [0, 1]. Received: dtype={images.dtype.name}.")
    if size_multiple is None:
        if images.shape.rank != 4 or tuple(images.shape[1:]) != tuple(image_shape):
            expected = ", ".join(map(str, image_shape))
            raise ValueError(f"Expected images of shape (N, {expected}). Received: shape={tuple(images.shape)}.")
    else:
        if images.shape.rank != 4 or images.shape[-1] != image_shape[-1]:
            raise ValueError(
                f"Expected images of shape (N, H, W, {image_shape[-1]}). Received: shape={tuple(images.shape)}."
            )
        for axis, name in ((1, "height"), (2, "width")):
            message = f"Expected image {name} a multiple of {size_multiple}."
            if images.shape[axis] is None:  # traced with an open size: checked when it runs
                tf.debugging.assert_equal(tf.shape(images)[axis] % size_multiple, 0, message=message)
            elif images.shape[axis] % size_multiple:
                raise ValueError(f"{message} Received: shape={tuple(images.shape)}.")
    tf.debugging.assert_positive(tf.shape(images)[0], "Expected at least one image. Received: an empty batch.")
    tf.debugging.assert_all_finite(images, "Expected finite images. Received: NaN or Inf values.")
    tf.debugging.assert_greater_equal(
        tf.reduce_min(images), 0.0, "Expected images in [0, 1]. Received: values below 0."
    )
    tf.debugging.assert_less_equal(tf.reduce_max(images), 1.0, "Expected images in [0, 1]. Received: values above 1.")
    return images
