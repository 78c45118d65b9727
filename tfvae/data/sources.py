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
"""The splits `load` reads.

`"train"` is the train files minus the validation slice, `"validation"` a fixed, seeded slice
of the train files (so model selection never touches test), `"test"` the test files, and
`"train+validation"` all the train files.

Examples:
    >>> from tfvae.data import SPLITS
    >>> SPLITS
    ('train', 'validation', 'test', 'train+validation')
"""

DEFAULT_VALIDATION_SIZE = 5000
"""How many train images `load` holds out as the validation slice unless told otherwise.

Examples:
    >>> from tfvae.data import DEFAULT_VALIDATION_SIZE
    >>> DEFAULT_VALIDATION_SIZE
    5000
"""

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
    """Raised by `load` when no source holds the requested data.

    A `FileNotFoundError` whose message lists every place searched and how to provide the data.

    Examples:
        >>> from tfvae.data import DataNotFoundError, load
        >>> try:
        ...     load("no_such_dataset")
        ... except DataNotFoundError as error:
        ...     print(isinstance(error, FileNotFoundError), str(error).split(":")[0])
        True Unknown dataset 'no_such_dataset'
    """


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """Clean images, their labels and where they came from: what `load` returns.

    `len(image_set)` is the number of images.

    Args:
        images: float32 NumPy array of shape `(N, H, W, C)`, values in [0, 1].
        labels: int64 NumPy array of shape `(N,)`, the class of each image.
        origin: str, where the images were read (a path or `tfds:NAME/SPLIT`; parts joined by ` + `).

    Examples:
        >>> import numpy as np
        >>> from tfvae.data import ImageSet
        >>> image_set = ImageSet(np.zeros((3, 8, 8, 1), "float32"), np.zeros(3, "int64"), "example")
        >>> len(image_set), image_set.origin
        (3, 'example')
    """

    images: np.ndarray
    labels: np.ndarray
    origin: str

    def __len__(self):
        return len(self.images)


def load(
    source: str | os.PathLike,
    split: str = "train",
    *,
    data_dir: str | None = None,
    validation_size: int = DEFAULT_VALIDATION_SIZE,
    seed: int = 0,
    download: bool = True,
) -> ImageSet:
    """Loads the clean images of one split of a dataset, from local files or TFDS.

    A dataset name is looked for in `data_dir`, then `$TFVAE_DATA_DIR` and well-known folders,
    and only then in TFDS (which downloads it when allowed). A path is read in whichever layout
    it holds: IDX files (`train-images-idx3-ubyte[.gz]`, ...), CIFAR-10 binary or python
    batches, an image folder `root/<split>/<class>/*` or `root/<split>/*`, or a flat folder
    of images `root/*` (the train files; every label 0).

    Args:
        source: str or path, a TFDS name (`"mnist"`, `"fashion_mnist"`, `"cifar10"`), a local
            path, or several joined with `+`, e.g. `"mnist+cifar10"`: the images are brought to
            one shape (smaller ones zero-padded around the centre, grey replicated to RGB), the
            labels offset so that classes stay distinct, and each part contributes its share of
            the validation slice.
        split: str, one of `SPLITS`. Defaults to `"train"`.
        data_dir: str or None, a folder searched first, also given to TFDS as its `data_dir`.
            Defaults to `None`.
        validation_size: int, train images held out as the validation slice (over all parts).
            Defaults to `DEFAULT_VALIDATION_SIZE` (5000).
        seed: int, fixes which train images form the validation slice. Defaults to `0`.
        download: bool, let TFDS download the dataset when nothing local is found. Defaults to
            `True`.

    Returns:
        An `ImageSet`: float32 images in [0, 1] of shape `(N, H, W, C)`, int64 labels, origin.

    Raises:
        ValueError: if `split` is not in `SPLITS` or `validation_size` is not between 1 and the
            number of train images minus 1.
        CorruptFileError: (a `ValueError`) if a data file exists but cannot be read as the
            format it claims to be.
        DataNotFoundError: if no source holds the data (the message lists where it looked).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> import tensorflow as tf
        >>> from tfvae.data import load
        >>> folder = Path(tempfile.mkdtemp())  # a flat folder of three 8x8 grey PNGs
        >>> for name in ("a", "b", "c"):
        ...     png = tf.io.encode_png(np.zeros((8, 8, 1), np.uint8)).numpy()
        ...     _ = (folder / f"{name}.png").write_bytes(png)
        >>> train = load(folder, "train", validation_size=1)
        >>> train.images.shape, train.images.dtype
        ((2, 8, 8, 1), dtype('float32'))
        >>> len(load(folder, "validation", validation_size=1))
        1
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
