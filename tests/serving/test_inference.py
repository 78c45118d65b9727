import numpy as np
import pytest
import tensorflow as tf

from tfvae.models import VAE
from tfvae.serving import inference


def halve(batch):
    """A stand-in denoiser that shows where each tile went: every pixel halved."""
    return np.asarray(batch) / 2


def zero_padded_blur(batch):
    """A stand-in denoiser with border effects: a 5x5 box blur that sees zeros beyond each tile's edge."""
    kernel = tf.ones((5, 5, 1, 1)) / 25.0
    return tf.nn.conv2d(tf.constant(batch, tf.float32), kernel, 1, "SAME").numpy()


def seam_error_ratio(output, truth, tile, stride):
    """Mean |error| on the rows and columns next to a tile edge, over the mean |error| elsewhere
    (the image's own border rows and columns left out: no tile has a neighbour there)."""
    error = np.abs(output - truth)[..., 0]
    inner = np.zeros(error.shape, bool)
    inner[3:-3, 3:-3] = True
    near_edge = np.zeros(error.shape, bool)
    for axis, length in ((0, error.shape[0]), (1, error.shape[1])):
        for start in inference._starts(length, tile, stride):
            for edge in (start, start + tile - 1):
                index = [slice(None), slice(None)]
                index[axis] = slice(max(edge - 1, 0), edge + 2)
                near_edge[tuple(index)] = True
    return error[near_edge & inner].mean() / max(error[~near_edge & inner].mean(), 1e-6)


@pytest.mark.parametrize("size", [(16, 16), (40, 23), (5, 7), (1, 1)])
def test_a_fixed_size_model_sees_tiles_of_its_size_and_every_pixel_comes_back(size):
    image = np.random.default_rng(0).uniform(0, 1, (*size, 1)).astype(np.float32)
    seen = []
    out = inference.denoise_image(image, lambda batch: seen.append(batch.shape) or halve(batch), (16, 16, 1), None)
    np.testing.assert_allclose(out, image / 2, atol=1e-6)
    assert {shape[1:] for shape in seen} == {(16, 16, 1)}


FLAT = np.full((96, 80, 1), 0.5, np.float32)
NOISY = (FLAT + np.random.default_rng(0).normal(0, 0.1, FLAT.shape)).astype(np.float32)  # blurred error ~0.02


def test_blended_tiles_leave_no_seam():
    out = inference.blend_tiles(NOISY, zero_padded_blur, (16, 16), (8, 8))
    assert seam_error_ratio(out, FLAT, 16, 8) < 1.5


def test_the_seam_measure_sees_the_seams_of_butted_tiles():
    butted = inference.blend_tiles(NOISY, zero_padded_blur, (16, 16), (0, 0))
    assert seam_error_ratio(butted, FLAT, 16, 16) > 3


def test_a_fully_convolutional_model_sees_the_whole_image_once():
    image = np.random.default_rng(0).uniform(0, 1, (37, 53, 3)).astype(np.float32)
    seen = []
    out = inference.denoise_image(image, lambda batch: seen.append(batch.shape) or halve(batch), (32, 32, 3), 2)
    assert seen == [(1, 37, 53, 3)] and out.shape == image.shape


def test_an_image_too_large_for_one_pass_is_blended_from_large_tiles(monkeypatch):
    monkeypatch.setattr(inference, "MAX_WHOLE_PIXELS", 40 * 40)
    monkeypatch.setattr(inference, "LARGE_TILE", 32)
    out = inference.denoise_image(NOISY, zero_padded_blur, (28, 28, 1), 2)
    assert seam_error_ratio(out, FLAT, 32, 32 - 32 // 8) < 1.5


@pytest.mark.parametrize("size, multiple, padded", [((5, 7), 2, (6, 8)), ((1, 1), 8, (8, 8)), ((4, 4), 4, (4, 4))])
def test_padding_reaches_the_next_multiple(size, multiple, padded):
    images = tf.random.uniform((2, *size, 1))
    out, height, width = inference.pad_to_multiple(images, multiple)
    assert (tuple(out.shape[1:3]), int(height), int(width)) == (padded, *size)


def test_padding_mirrors_the_image():
    images = tf.reshape(tf.range(6, dtype=tf.float32), (1, 2, 3, 1))
    out, _, _ = inference.pad_to_multiple(images, 4)
    np.testing.assert_array_equal(out[0, :, :, 0], [[0, 1, 2, 2], [3, 4, 5, 5], [3, 4, 5, 5], [0, 1, 2, 2]])


def test_a_whole_image_is_what_the_model_gives_on_its_padded_copy():
    model = VAE((16, 16, 1), width=4, latent_dim=2, seed=0)
    images = np.random.default_rng(1).uniform(0, 1, (2, 15, 21, 1)).astype(np.float32)
    padded = np.pad(images, ((0, 0), (0, 1), (0, 1), (0, 0)), mode="symmetric")
    np.testing.assert_allclose(inference.denoise_whole(model, images), model(padded)[:, :15, :21], atol=1e-6)
