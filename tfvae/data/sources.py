"""Clean images from TFDS, local files or both, as float32 [0, 1] NHWC, with a seeded validation slice.

    data = load("mnist", "train")              # TFVAE_DATA_DIR, well-known folders, then TFDS
    data = load("path/to/cifar-10-batches-bin", "test")
    data = load("mnist+cifar10", "validation")  # one 32x32x3 set holding both

Splits: "train" (train files minus the validation slice), "validation" (a fixed, seeded slice of
the train files, so model selection never touches test), "test", and "train+validation".
"""

import dataclasses
import functools
import os
import socket
from pathlib import Path

import numpy as np

from tfvae.data import readers

SPLITS = ("train", "validation", "test", "train+validation")
DEFAULT_VALIDATION_SIZE = 5000

# Folder names a dataset is found under inside TFVAE_DATA_DIR / --data-dir, and places searched
# without any flag (the Debian package `dataset-fashion-mnist`).
FOLDER_NAMES = {
    "mnist": ("mnist",),
    "fashion_mnist": ("fashion_mnist", "fashion-mnist"),
    "cifar10": ("cifar10", "cifar-10", "cifar10-jpeg", "cifar-10-batches-bin", "cifar-10-batches-py"),
}
WELL_KNOWN_FOLDERS = {"fashion_mnist": ("/usr/share/datasets/fashion-mnist",)}
TFDS_HOST = "storage.googleapis.com"


class DataNotFoundError(FileNotFoundError):
    """No source held the requested data; the message lists every place that was searched."""


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """Clean images (float32 [0, 1], NHWC), integer labels, and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    origin: str

    def __len__(self):
        return len(self.images)


def load(source, split="train", *, data_dir=None, validation_size=DEFAULT_VALIDATION_SIZE, seed=0, download=True):
    """Load clean images of `split` from `source`.

    Args:
        source: a TFDS name (`mnist`, `fashion_mnist`, `cifar10`), a local path (IDX files, CIFAR-10
            binary or python batches, an image folder `root/<split>/<class>/*` or `root/<split>/*`, or
            a flat folder of images `root/*`, which is the train split), or several joined
            with `+`, e.g. `mnist+cifar10`: images are brought to one shape (smaller images
            zero-padded around the centre, grey replicated to RGB) and labels offset so classes stay
            distinct; each part contributes its share of the validation slice.
        split: one of `SPLITS`.
        data_dir: a folder searched before `$TFVAE_DATA_DIR` and the well-known places; also
            passed to TFDS as its data_dir.
        validation_size: images held out of train as the validation slice (over all parts).
        seed: fixes which train images form the validation slice.
        download: let TFDS download when nothing local is found.
    """
    if split not in SPLITS:
        raise ValueError(f"Expected split to be one of {SPLITS}. Received: split={split!r}.")
    parts = str(source).split("+") if "+" in str(source) and not Path(str(source)).exists() else [str(source)]
    file_split = "test" if split == "test" else "train"
    search_roots = tuple(str(Path(d).expanduser().resolve()) for d in (data_dir, os.environ.get("TFVAE_DATA_DIR")) if d)
    raws = [_read_source(part, file_split, search_roots, data_dir, download) for part in parts]
    label_offsets = np.cumsum([0] + [int(labels.max()) + 1 for _, labels, _ in raws[:-1]])
    raws = [(images, labels + offset, origin) for (images, labels, origin), offset in zip(raws, label_offsets)]
    if split in ("train", "validation"):
        shares = _validation_shares(validation_size, [len(labels) for _, labels, _ in raws])
        raws = [_slice(raw, split, share, seed) for raw, share in zip(raws, shares)]
    images, labels = _combine([(images, labels) for images, labels, _ in raws])
    return ImageSet(images.astype(np.float32) / 255.0, labels, " + ".join(origin for _, _, origin in raws))


def _validation_shares(validation_size, sizes):
    """Split the validation slice over the parts in proportion to their sizes."""
    total = sum(sizes)
    if not 0 < validation_size < total:
        raise ValueError(
            f"Expected validation_size between 1 and {total - 1} (the train images available). "
            f"Received: validation_size={validation_size}."
        )
    shares = [max(1, round(validation_size * size / total)) for size in sizes]
    shares[-1] = validation_size - sum(shares[:-1])
    return shares


def _slice(raw, split, validation_size, seed):
    """Keep the seeded validation slice or its complement, in the original order."""
    images, labels, origin = raw
    is_validation = np.zeros(len(labels), bool)
    is_validation[np.random.default_rng(seed).permutation(len(labels))[:validation_size]] = True
    keep = is_validation if split == "validation" else ~is_validation
    return images[keep], labels[keep], origin


def _combine(parts):
    """Concatenate parts, zero-padding to the largest height/width and replicating grey to RGB."""
    if len(parts) == 1:
        return parts[0]
    height = max(images.shape[1] for images, _ in parts)
    width = max(images.shape[2] for images, _ in parts)
    channels = max(images.shape[3] for images, _ in parts)
    all_images = []
    for images, _ in parts:
        top, left = (height - images.shape[1]) // 2, (width - images.shape[2]) // 2
        padding = ((0, 0), (top, height - images.shape[1] - top), (left, width - images.shape[2] - left), (0, 0))
        all_images.append(np.repeat(np.pad(images, padding), channels // images.shape[3], axis=3))
    return np.concatenate(all_images), np.concatenate([labels for _, labels in parts])


def _read_source(source, file_split, search_roots, data_dir, download):
    """Find and read one source's train or test files: (uint8 images, labels, origin)."""
    path = Path(source).expanduser().resolve()
    if path.exists():
        found = _read_folder(path, file_split)
        if found is None:
            raise DataNotFoundError(
                f"{path}: no {file_split} data in a known layout (IDX files '{file_split}-images-idx3-ubyte[.gz]', "
                "CIFAR-10 batches 'data_batch_N[.bin]'/'test_batch[.bin]', "
                f"an image folder '{file_split}/<class>/*.png' or '{file_split}/*.png', or images in the folder)."
            )
        return found
    if source not in FOLDER_NAMES:
        raise DataNotFoundError(
            f"Unknown dataset {source!r}: expected one of {sorted(FOLDER_NAMES)}, an existing path, "
            f"or several joined with '+'."
        )
    searched = []
    for folder in _candidate_folders(source, search_roots):
        searched.append(str(folder))
        found = _read_folder(folder, file_split) if folder.is_dir() else None
        if found is not None:
            return found
    return _read_tfds(source, file_split, data_dir, download, searched)


def _candidate_folders(name, search_roots):
    folders = [Path(root) / folder for root in search_roots for folder in FOLDER_NAMES[name]]
    return folders + [Path(p) for p in WELL_KNOWN_FOLDERS.get(name, ())]


@functools.lru_cache(maxsize=4)
def _read_folder(folder, file_split):
    """Read `folder` in whichever known layout it holds, or return None."""
    prefix = "t10k" if file_split == "test" else "train"
    idx_images = sorted(folder.glob(f"{prefix}-images[-.]idx3-ubyte*"))
    idx_labels = sorted(folder.glob(f"{prefix}-labels[-.]idx1-ubyte*"))
    if idx_images and idx_labels:
        return (*readers.read_idx_pair(idx_images[0], idx_labels[0]), str(idx_images[0]))
    names = ["test_batch"] if file_split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    for sub in (folder, folder / "cifar-10-batches-bin", folder / "cifar-10-batches-py"):
        for suffix, reader in ((".bin", readers.read_cifar_binary), ("", readers.read_cifar_pickle)):
            paths = [sub / (name + suffix) for name in names]
            if all(p.is_file() for p in paths):
                return (*reader(paths), str(sub))
    if (folder / file_split).is_dir():
        return (*readers.read_image_folder(folder / file_split), str(folder / file_split))
    if file_split == "train" and readers.image_files(folder):  # a flat folder of images: train files only
        return (*readers.read_image_folder(folder), str(folder))
    return None


def _can_reach(host, port=443, timeout=3.0):
    """True if a TCP connection to host:port opens within `timeout` seconds."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _read_tfds(name, file_split, data_dir, download, searched):
    """Read prepared TFDS data (or download it when allowed); on failure list everything searched."""
    import tensorflow_datasets as tfds

    offline = download and not _can_reach(TFDS_HOST)
    attempts = [(data_dir, False)] + ([(data_dir, True)] if download and not offline else [])
    problems = []
    for tfds_dir, may_download in attempts:
        try:
            examples = tfds.load(name, split=file_split, data_dir=tfds_dir, download=may_download, as_supervised=True)
            batches = list(examples.batch(4096).as_numpy_iterator())
            images = np.concatenate([images for images, _ in batches])
            labels = np.concatenate([labels for _, labels in batches]).astype(np.int64)
            return images, labels, f"tfds:{name}/{file_split}"
        except Exception as error:  # TFDS raises many types for "not prepared" / "no network"
            what = "download" if may_download else "prepared data"
            reason = (str(error).splitlines() or [type(error).__name__])[0][:120]
            problems.append(f"TFDS {what} in {tfds_dir or '~/tensorflow_datasets'} ({reason})")
    if offline:
        problems.append(f"TFDS download (no network: {TFDS_HOST} unreachable)")
    raise DataNotFoundError(
        f"No {file_split} data found for {name!r}. Searched: "
        + "; ".join(
            [f"{folder} (absent, or no {file_split} files in a known layout)" for folder in searched] + problems
        )
        + ". Provide it by pointing TFVAE_DATA_DIR or --data-dir at a folder holding "
        f"{'/'.join(FOLDER_NAMES[name][:2])}/ with the original files "
        "(IDX, CIFAR-10 batches or <split>/<class>/ images), "
        f"or run tfds.load({name!r}) on a connected machine and copy ~/tensorflow_datasets."
    )
