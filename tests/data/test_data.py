import numpy as np
import pytest
import tensorflow_datasets as tfds
from fakes import write_cifar_binary_folder, write_mnist_folder

from tfvae import data


def test_idx_folder_splits_partition_train(tmp_path, no_data_env):
    pixels = write_mnist_folder(tmp_path / "m", train=40)
    train = data.load(tmp_path / "m", "train", validation_size=10)
    validation = data.load(tmp_path / "m", "validation", validation_size=10)
    full = data.load(tmp_path / "m", "train+validation")
    assert (len(train), len(validation), len(full)) == (30, 10, 40)
    assert train.images.dtype == np.float32 and train.images.shape[1:] == (28, 28, 1)
    np.testing.assert_allclose(full.images[..., 0], pixels / 255.0)
    # The two slices are disjoint and together make up the train files.
    both = np.concatenate([train.images, validation.images]).reshape(40, -1)
    assert len(np.unique(both, axis=0)) == 40
    assert len(data.load(tmp_path / "m", "test")) == 10


def test_validation_slice_is_fixed_by_seed(tmp_path, no_data_env):
    write_mnist_folder(tmp_path / "m", train=40)
    first = data.load(tmp_path / "m", "validation", validation_size=10, seed=1)
    again = data.load(tmp_path / "m", "validation", validation_size=10, seed=1)
    other = data.load(tmp_path / "m", "validation", validation_size=10, seed=2)
    np.testing.assert_array_equal(first.images, again.images)
    assert not np.array_equal(first.images, other.images)


def test_cifar_binary_found_by_name_in_data_dir(tmp_path, no_data_env):
    write_cifar_binary_folder(tmp_path / "cifar-10-batches-bin", train=30)
    loaded = data.load("cifar10", "test", data_dir=tmp_path, download=False)
    assert loaded.images.shape == (10, 32, 32, 3)
    assert loaded.labels.max() < 10
    assert "cifar-10-batches-bin" in loaded.origin


def test_found_through_tfvae_data_dir(tmp_path, monkeypatch):
    write_mnist_folder(tmp_path / "mnist")
    monkeypatch.setenv("TFVAE_DATA_DIR", str(tmp_path))
    assert len(data.load("mnist", "test", download=False)) == 10


def test_combined_sources_share_one_shape_and_validation_keeps_both(tmp_path, no_data_env):
    write_mnist_folder(tmp_path / "mnist", train=40)
    write_cifar_binary_folder(tmp_path / "cifar10", train=40)
    validation = data.load("mnist+cifar10", "validation", data_dir=tmp_path, validation_size=10, download=False)
    train = data.load("mnist+cifar10", "train", data_dir=tmp_path, validation_size=10, download=False)
    assert validation.images.shape == (10, 32, 32, 3) and len(train) == 70
    # MNIST labels stay 0-9, CIFAR-10 labels are offset to 10-19; both parts are in validation.
    assert (validation.labels < 10).sum() == 5 and (validation.labels >= 10).sum() == 5
    mnist_part = validation.images[validation.labels < 10]
    # Padded border is black and the grey image is replicated to identical RGB channels.
    assert mnist_part[:, :2].max() == 0 and mnist_part[:, :, :2].max() == 0
    np.testing.assert_array_equal(mnist_part[..., 0], mnist_part[..., 2])


def test_nothing_found_lists_every_place_searched(tmp_path, no_data_env):
    with pytest.raises(data.DataNotFoundError) as error:
        data.load("mnist", "train", data_dir=tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / "mnist") in message and "TFDS prepared data" in message
    assert "TFVAE_DATA_DIR" in message and "connected machine" in message


def test_unknown_name_and_split(no_data_env):
    with pytest.raises(data.DataNotFoundError, match="Unknown dataset 'mnits'"):
        data.load("mnits")
    with pytest.raises(ValueError, match="split='dev'"):
        data.load("mnist", "dev")


def test_existing_folder_without_known_layout(tmp_path, no_data_env):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(data.DataNotFoundError, match="no train data in a known layout"):
        data.load(tmp_path)


def test_validation_size_must_fit(tmp_path, no_data_env):
    write_mnist_folder(tmp_path / "m", train=40)
    with pytest.raises(ValueError, match="validation_size=40"):
        data.load(tmp_path / "m", validation_size=40)


def test_tfds_route_with_mock_data(tmp_path, no_data_env):
    with tfds.testing.mock_data(num_examples=20):
        loaded = data.load("mnist", "test", data_dir=tmp_path, download=False)
    assert loaded.images.shape == (20, 28, 28, 1) and loaded.images.dtype == np.float32
    assert loaded.images.min() >= 0.0 and loaded.images.max() <= 1.0
    assert loaded.origin == "tfds:mnist/test"


@pytest.mark.real_data
def test_real_mnist_is_bit_exact(real_data):
    full = data.load("mnist", "train+validation")
    assert full.images.shape == (60000, 28, 28, 1)
    assert abs(full.images.mean() - 0.1307) < 5e-4 and abs(full.images.std() - 0.3081) < 5e-4
    assert len(data.load("mnist", "validation")) == data.DEFAULT_VALIDATION_SIZE


@pytest.mark.slow
@pytest.mark.real_data
def test_real_cifar10_image_folder(real_data):
    validation = data.load("cifar10", "validation")
    assert validation.images.shape == (5000, 32, 32, 3)
    assert set(np.unique(validation.labels)) == set(range(10))
    assert abs(validation.images.std() - 0.245) < 0.01
