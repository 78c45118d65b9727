"""Writers of tiny data files in the formats users have (IDX, CIFAR batches, image folders)."""

import gzip

import numpy as np
import tensorflow as tf


def write_idx(path, array, compress=False):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(array).numpy())


def write_mnist_folder(folder, train=40, test=10, seed=0):
    """An MNIST-style folder of gzipped IDX files; returns the uint8 train pixels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pixels = {}
    for prefix, count in (("train", train), ("t10k", test)):
        pixels[prefix] = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", pixels[prefix], compress=True)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10, compress=True)
    return pixels["train"]


def write_cifar_binary_folder(folder, train=30, test=10, seed=0):
    """A `cifar-10-batches-bin` folder: five train batches and a test batch of random records."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        count = test if name.startswith("test") else train // 5
        records = rng.integers(0, 256, (count, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        (folder / name).write_bytes(records.tobytes())
