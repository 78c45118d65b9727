"""Writers of tiny data files in the formats users have (IDX, CIFAR batches, image folders), and the
generated digits most training tests learn from."""

import gzip

import numpy as np
import tensorflow as tf

# A tiny training run on the generated MNIST (`write_stroke_mnist`), where training tests start from:
# as TrainConfig fields and as `tfvae train` flags.
TINY_FIELDS = {"dataset": "mnist", "train_size": 256, "validation_size": 64, "batch_size": 32, "width": 8}
TINY = [part for name, value in TINY_FIELDS.items() for part in (f"--{name.replace('_', '-')}", str(value))]


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


def stroke_images(count, size=28, seed=0):
    """`count` uint8 digit-like images: two thick, soft strokes between random points on black.

    Structured like MNIST (sparse bright strokes), so that a model trained for a few hundred steps
    denoises them far better than the noisy input; random pixels could not be learned.
    """
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), axis=-1).astype(np.float32)
    ends = rng.uniform(0.2 * size, 0.8 * size, (count, 2, 2, 2)).astype(np.float32)  # image, stroke, end, (y, x)
    start, stop = ends[:, :, 0], ends[:, :, 1]
    direction = stop - start
    points = grid[None, None] - start[:, :, None, None]
    along = np.clip((points * direction[:, :, None, None]).sum(-1) / (direction**2).sum(-1)[:, :, None, None], 0, 1)
    distance = np.linalg.norm(points - along[..., None] * direction[:, :, None, None], axis=-1)
    intensity = np.exp(-0.5 * (distance / 1.5) ** 2).max(axis=1)
    return np.round(255 * intensity).astype(np.uint8)


def write_stroke_mnist(folder, train=6000, test=500, seed=0):
    """An MNIST folder (gzipped IDX) of `stroke_images`: enough train images for the default 5,000-image
    validation slice plus a training set."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count, offset in (("train", train, 0), ("t10k", test, 1)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", stroke_images(count, seed=seed + offset), compress=True)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10, compress=True)
    return folder
