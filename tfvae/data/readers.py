"""Readers for the image files users actually have: IDX (MNIST), CIFAR-10 batches, image folders.

Each reader returns `(images, labels)`: uint8 NHWC pixels and int64 labels. Damaged files raise
`CorruptFileError` naming the file.
"""

import gzip
import io
import pickle
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
CIFAR_RECORD_BYTES = 1 + 32 * 32 * 3
_IDX_UBYTE = 0x08


class CorruptFileError(ValueError):
    """A data file exists but cannot be read as the format it claims to be."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = path


def _read_bytes(path):
    """Read a file, transparently un-gzipping it (detected by its magic bytes, not its name)."""
    raw = Path(path).read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, gzip.BadGzipFile) as error:
        raise CorruptFileError(path, f"truncated or damaged gzip data ({error})") from None


def read_idx(path):
    """Read an IDX file of unsigned bytes (MNIST, Fashion-MNIST) into an ndarray."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or not 1 <= raw[3] <= 4:
        raise CorruptFileError(
            path,
            f"wrong magic number {raw[:4].hex() or 'empty'} (expected 0000 08 01..04 for an unsigned-byte IDX file)",
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise CorruptFileError(path, f"holds {len(raw)} bytes but its header {shape} needs {expected} (truncated?)")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def read_idx_pair(images_path, labels_path):
    """Read MNIST-style image and label IDX files into uint8 (N, 28, 28, 1) images and labels."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise CorruptFileError(
            images_path, f"images {images.shape} do not match labels {labels.shape} in {labels_path}"
        )
    return images[..., None], labels.astype(np.int64)


def read_cifar_binary(paths):
    """Read CIFAR-10 binary batches (`data_batch_N.bin`: label byte + 3072 CHW pixel bytes)."""
    images, labels = [], []
    for path in paths:
        raw = _read_bytes(path)
        if not raw or len(raw) % CIFAR_RECORD_BYTES:
            raise CorruptFileError(
                path, f"size {len(raw)} is not a multiple of the {CIFAR_RECORD_BYTES}-byte CIFAR-10 record"
            )
        records = np.frombuffer(raw, np.uint8).reshape(-1, CIFAR_RECORD_BYTES)
        labels.append(records[:, 0].astype(np.int64))
        images.append(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.concatenate(images), np.concatenate(labels)


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only: a pickle cannot run code through it."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only NumPy arrays are allowed")


def read_cifar_pickle(paths):
    """Read CIFAR-10 python batches (`data_batch_N`: pickled dict with b'data' and b'labels')."""
    images, labels = [], []
    for path in paths:
        try:
            batch = _ArraysOnlyUnpickler(io.BytesIO(_read_bytes(path)), encoding="bytes").load()
            data = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32)
            batch_labels = np.asarray(batch[b"labels"], np.int64)
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as error:
            raise CorruptFileError(path, f"not a readable CIFAR-10 python batch ({error})") from None
        if len(data) != len(batch_labels):
            raise CorruptFileError(path, f"{len(data)} images but {len(batch_labels)} labels")
        images.append(data.transpose(0, 2, 3, 1))
        labels.append(batch_labels)
    return np.concatenate(images), np.concatenate(labels)


def image_files(folder):
    """The image files directly inside `folder`, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_image_folder(root):
    """Read `root/<class>/*.{png,jpg,...}` into uint8 NHWC images and labels (classes sorted by name),
    or a flat `root/*.png` (no class sub-folders; every label 0), in file-name order.

    All images must share one height, width and channel count; the first mismatch is reported.
    """
    import tensorflow as tf

    root = Path(root)
    class_names = sorted(d.name for d in root.iterdir() if d.is_dir())
    files, labels = [], []
    for label, class_name in enumerate(class_names):
        class_files = image_files(root / class_name)
        files += [str(p) for p in class_files]
        labels += [label] * len(class_files)
    if not class_names:
        files = [str(p) for p in image_files(root)]
        labels = [0] * len(files)
    if not files:
        raise FileNotFoundError(
            f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) found in <class>/ sub-folders or in the folder itself"
        )

    def decode(path):
        return tf.io.decode_image(tf.io.read_file(path), expand_animations=False)

    decoded = tf.data.Dataset.from_tensor_slices(files).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    images = []
    try:
        for path, image in zip(files, decoded.as_numpy_iterator()):
            if images and image.shape != images[0].shape:
                raise ValueError(
                    f"Expected all images in {root} to share one shape. Received: {files[0]} is "
                    f"{images[0].shape} but {path} is {image.shape}; resize them first."
                )
            images.append(image)
    except tf.errors.InvalidArgumentError as error:
        bad = files[len(images)]
        raise CorruptFileError(bad, f"cannot be decoded as an image ({error.message.splitlines()[0]})") from None
    return np.stack(images), np.asarray(labels, np.int64)
