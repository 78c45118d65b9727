import pickle

import numpy as np
import pytest
from fakes import write_idx, write_png

from tfvae.data import readers


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    pixels = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    images, read_labels = readers.read_idx_pair(
        write_idx(tmp_path / "i", pixels, compress), write_idx(tmp_path / "l", labels, compress)
    )
    np.testing.assert_array_equal(images[..., 0], pixels)
    np.testing.assert_array_equal(read_labels, labels)
    assert images.shape == (5, 28, 28, 1) and read_labels.dtype == np.int64


def test_idx_wrong_magic_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x03" + bytes(20))
    with pytest.raises(readers.CorruptFileError, match="wrong magic number") as error:
        readers.read_idx(path)
    assert str(path) in str(error.value)


def test_idx_truncated(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(readers.CorruptFileError, match="truncated"):
        readers.read_idx(path)


def test_truncated_gzip(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((4, 28, 28), np.uint8), compress=True)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(readers.CorruptFileError, match="gzip"):
        readers.read_idx(path)


def cifar_records(count, seed=0):
    rng = np.random.default_rng(seed)
    chw = rng.integers(0, 256, (count, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, count, dtype=np.uint8)
    return chw, labels


def test_cifar_binary_is_channels_last(tmp_path):
    chw, labels = cifar_records(3)
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(b"".join(bytes([label]) + c.tobytes() for label, c in zip(labels, chw)))
    images, read_labels = readers.read_cifar_binary([path])
    np.testing.assert_array_equal(images, chw.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(read_labels, labels)


def test_cifar_binary_wrong_size(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(bytes(3073 + 5))
    with pytest.raises(readers.CorruptFileError, match="3073-byte"):
        readers.read_cifar_binary([path])


def test_cifar_pickle(tmp_path):
    chw, labels = cifar_records(4)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": chw.reshape(4, -1), b"labels": labels.tolist()}))
    images, read_labels = readers.read_cifar_pickle([path])
    np.testing.assert_array_equal(images, chw.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(read_labels, labels)


def test_cifar_pickle_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(readers.CorruptFileError, match="refusing to load builtins.print"):
        readers.read_cifar_pickle([path])


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    for i, name in enumerate(["b/1.png", "a/2.png", "a/1.png", "c/x.png"]):
        write_png(tmp_path / name, pixels[i])
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    images, labels = readers.read_image_folder(tmp_path)
    np.testing.assert_array_equal(labels, [0, 0, 1, 2])  # classes sorted, files sorted
    np.testing.assert_array_equal(images, pixels[[2, 1, 0, 3]])


def test_image_folder_mixed_sizes(tmp_path):
    write_png(tmp_path / "a/1.png", np.zeros((8, 8, 1), np.uint8))
    write_png(tmp_path / "a/2.png", np.zeros((9, 8, 1), np.uint8))
    with pytest.raises(ValueError, match="share one shape.*2.png"):
        readers.read_image_folder(tmp_path)


def test_image_folder_unreadable_file(tmp_path):
    write_png(tmp_path / "a/1.png", np.zeros((8, 8, 1), np.uint8))
    (tmp_path / "a/2.png").write_bytes(b"garbage")
    with pytest.raises(readers.CorruptFileError, match="2.png.*cannot be decoded"):
        readers.read_image_folder(tmp_path)


def test_image_folder_without_images(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        readers.read_image_folder(tmp_path)
