import numpy as np
import pytest
import tensorflow as tf

from tfvae.data import noise

GREY = np.full((256, 16, 16, 3), 0.5, np.float32)


def test_gaussian_std_is_what_was_asked():
    noisy = noise.add_noise(GREY, "gaussian:0.1", seed=0)
    assert abs((noisy - GREY).std() - 0.1) < 0.002
    assert abs((noisy - GREY).mean()) < 0.002


def test_gaussian_range_draws_sigma_per_image():
    noisy = noise.add_noise(GREY, "gaussian:0.05-0.15", seed=0)
    per_image = (noisy - GREY).std(axis=(1, 2, 3))
    assert per_image.min() > 0.045 and per_image.max() < 0.155
    assert per_image.std() > 0.02  # levels really vary between images


def test_salt_pepper_fraction_and_values():
    noisy = noise.add_noise(GREY, "salt_pepper:0.2", seed=0)
    changed = noisy[..., 0] != 0.5
    assert abs(changed.mean() - 0.2) < 0.01
    assert set(np.unique(noisy[..., 0][changed])) == {0.0, 1.0}
    assert abs((noisy == 1).mean() - 0.1) < 0.01
    # Whole pixels flip: every channel of a pixel agrees.
    np.testing.assert_array_equal(noisy[..., 0], noisy[..., 2])


def test_poisson_variance_matches_peak():
    peak = 20.0
    noisy = noise.add_noise(GREY, f"poisson:{peak:g}", seed=0)
    assert abs(noisy.mean() - 0.5) < 0.005
    assert abs(noisy.var() - 0.5 / peak) < 0.002
    np.testing.assert_allclose(noisy * peak, np.round(noisy * peak), atol=1e-4)  # counts / peak


def test_speckle_scales_with_intensity():
    ramp = np.linspace(0.1, 0.9, 16, dtype=np.float32)[None, None, :, None] * np.ones((256, 16, 1, 1), np.float32)
    noisy = noise.add_noise(ramp, "speckle:0.2", seed=0)
    std = (noisy - ramp).std(axis=(0, 1, 3))
    np.testing.assert_allclose(std[:8], 0.2 * ramp[0, 0, :8, 0], rtol=0.1)


def test_masking_fraction():
    noisy = noise.add_noise(GREY, "masking:0.3", seed=0)
    assert abs((noisy == 0).mean() - 0.3) < 0.01


def test_block_is_one_square_of_the_right_side():
    noisy = noise.add_noise(GREY, "block:0.25", seed=0)
    dark = noisy[..., 0] == 0
    assert (dark.sum(axis=(1, 2)) == 16).all()  # a 4x4 square in every 16x16 image
    rows, cols = dark.any(axis=2), dark.any(axis=1)
    assert (rows.sum(axis=1) == 4).all() and (cols.sum(axis=1) == 4).all()
    assert len({tuple(np.argwhere(d)[0]) for d in dark}) > 10  # placed at random


def test_mixture_draws_one_family_per_image():
    noisy = noise.add_noise(GREY, "mix:masking:1,gaussian:0.1", seed=0)
    all_black = (noisy == 0).all(axis=(1, 2, 3))
    assert 0.35 < all_black.mean() < 0.65
    assert abs((noisy[~all_black] - 0.5).std() - 0.1) < 0.005


def test_outputs_stay_in_unit_range_and_none_is_identity():
    noisy = noise.add_noise(GREY, "gaussian:2", seed=0)
    assert noisy.min() == 0.0 and noisy.max() == 1.0
    np.testing.assert_array_equal(noise.add_noise(GREY, "none"), GREY)


@pytest.mark.parametrize("spec", [name for name in noise.FAMILIES if name != "none"])
def test_same_seed_same_noise_other_seed_other_noise(spec):
    first = noise.add_noise(GREY[:8], spec, seed=3)
    np.testing.assert_array_equal(first, noise.add_noise(GREY[:8], spec, seed=3))
    assert not np.array_equal(first, noise.add_noise(GREY[:8], spec, seed=4))


def test_works_inside_tf_function_with_unknown_batch():
    fn = tf.function(lambda x, s: noise.parse_noise("mix:gaussian:0-0.5,block:0.3")(x, s))
    out = fn.get_concrete_function(tf.TensorSpec([None, 16, 16, 3]), tf.TensorSpec([2], tf.int64))
    assert out(tf.constant(GREY[:5]), tf.constant([1, 2], tf.int64)).shape == (5, 16, 16, 3)


@pytest.mark.parametrize(
    "spec, canonical",
    [
        ("gaussian", "gaussian:0.2"),
        ("Gaussian:0-0.5", "gaussian:0-0.5"),
        ("poisson:10-50", "poisson:10-50"),
        ("mix:gaussian:0-.5,salt_pepper:0-0.2", "mix:gaussian:0-0.5,salt_pepper:0-0.2"),
        ("none", "none"),
    ],
)
def test_spec_round_trip(spec, canonical):
    assert noise.parse_noise(spec).spec == canonical
    assert noise.parse_noise(canonical) == noise.parse_noise(spec)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("gausian:0.1", "Unknown noise family 'gausian'"),
        ("gaussian:-0.1", "non-negative"),
        ("gaussian:0.5-0.1", "LOW <= HIGH"),
        ("salt_pepper:1.5", r"in \[0, 1\]"),
        ("poisson:0", "PEAK"),
        ("gaussian:abc", "Received: 'abc'"),
        ("mix:", "at least one"),
        ("", "Expected a noise spec"),
        (0.3, "Received: 0.3"),
    ],
)
def test_bad_specs_name_the_problem_and_list_valid_ones(spec, message):
    with pytest.raises(ValueError, match=message):
        noise.parse_noise(spec)


def test_add_noise_checks_images():
    with pytest.raises(ValueError, match="uint8"):
        noise.add_noise(np.zeros((1, 4, 4, 1), np.uint8), "gaussian")
