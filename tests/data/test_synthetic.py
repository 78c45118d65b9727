import numpy as np
import pytest

from tfvae.data.pipeline import is_synthetic_step, make_dataset, synthetic_batch_size
from tfvae.data.synthetic import DeadLeaves, _front_leaf, _gaussian_blur, _radii, dead_leaves

SHARP = DeadLeaves(texture=0.0, blur_max=0.0)  # flat leaves with hard edges: the model's geometry alone


def test_dead_leaves_have_the_requested_shape_dtype_and_range():
    images = dead_leaves(3, 40, 56, channels=3, seed=0)
    assert images.shape == (3, 40, 56, 3) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1


def test_grey_dead_leaves_have_one_channel():
    assert dead_leaves(2, 24, 24, channels=1, seed=0).shape == (2, 24, 24, 1)


def test_dead_leaves_are_a_pure_function_of_the_seed():
    np.testing.assert_array_equal(dead_leaves(2, 32, 32, seed=(4, 2, 7)), dead_leaves(2, 32, 32, seed=(4, 2, 7)))


def test_another_seed_draws_other_images():
    assert not np.array_equal(dead_leaves(2, 32, 32, seed=1), dead_leaves(2, 32, 32, seed=2))


def test_the_radii_follow_the_power_law_in_closed_form():
    options = DeadLeaves(alpha=3.0, radius_min=1.0, radius_max=100.0)
    radii = _radii(np.random.default_rng(0), 200_000, options, largest=100)
    thresholds = np.array([1.5, 2.0, 4.0, 10.0, 50.0])
    exponent = 1 - options.alpha  # P(R > t) = (t^e - R^e) / (r^e - R^e)
    expected = (thresholds**exponent - 100.0**exponent) / (1.0 - 100.0**exponent)
    np.testing.assert_allclose([(radii > t).mean() for t in thresholds], expected, atol=0.004)


def test_the_front_leaf_covers_exactly_the_pixels_within_its_radius():
    front = _front_leaf(np.array([10.0]), np.array([12.0]), np.array([4.0]), 24, 24)
    y, x = np.mgrid[:24, :24]
    np.testing.assert_array_equal(front == 0, (y - 10.0) ** 2 + (x - 12.0) ** 2 <= 16.0)


def test_a_nearer_leaf_occludes_a_farther_one():
    front = _front_leaf(np.array([10.0, 10.0]), np.array([10.0, 14.0]), np.array([3.0, 6.0]), 24, 24)
    assert front[10, 12] == 0  # inside both: the nearer (lower index) wins
    assert front[10, 18] == 1  # inside the farther one only
    assert front[0, 0] == 2  # inside none: the bottom leaf


def test_flat_leaves_leave_most_neighbouring_pixels_equal():
    images = dead_leaves(4, 64, 64, channels=3, seed=0, options=SHARP)
    equal = np.all(images[:, :, 1:] == images[:, :, :-1], axis=-1).mean()
    assert 0.5 < equal < 0.99  # flat regions, and edges between them


def test_the_power_spectrum_falls_as_for_natural_images():
    # Natural images and scale-invariant dead leaves: power ~ 1 / f^2 (a slope near -2 in log-log).
    images = dead_leaves(8, 128, 128, channels=1, seed=0, options=SHARP)[..., 0]
    power = np.mean(np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True))) ** 2, axis=0)
    frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(128), np.fft.fftfreq(128), indexing="ij"))
    band = (frequency > 0.02) & (frequency < 0.25)
    slope = np.polyfit(np.log(frequency[band]), np.log(power[band]), 1)[0]
    assert -2.6 < slope < -1.4


def test_blur_keeps_a_constant_image():
    constant = np.full((16, 16, 3), 0.3)
    np.testing.assert_allclose(_gaussian_blur(constant, 1.5), constant, atol=1e-12)


def test_blur_keeps_the_mean_and_lowers_the_variance():
    image = np.random.default_rng(0).uniform(size=(32, 32, 1))
    blurred = _gaussian_blur(image, 1.0)
    assert abs(blurred.mean() - image.mean()) < 1e-9 and blurred.var() < image.var() / 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alpha": 1.0}, "alpha > 1"),
        ({"radius_min": 5.0, "radius_max": 2.0}, "radius_min <= radius_max"),
        ({"leaves_per_pixel": 0.0}, "leaves_per_pixel > 0"),
        ({"blur_max": -1.0}, "blur_max >= 0"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeadLeaves(**kwargs)


@pytest.mark.parametrize("kwargs", [{"count": 0}, {"height": 2.5}, {"channels": 2}])
def test_bad_sizes_are_refused(kwargs):
    arguments = {"count": 1, "height": 8, "width": 8, "channels": 3} | kwargs
    with pytest.raises(ValueError, match="Received"):
        dead_leaves(**arguments)


# === in the training stream ===
def synthetic_stream(images, first_step=0, fraction=0.25):
    return make_dataset(
        images, "gaussian:0.1", 8, seed=0, training=True, first_step=first_step,
        synthetic_fraction=fraction, synthetic_size=32,
    )  # fmt: skip


def test_synthetic_steps_are_spread_evenly():
    picked = [bool(is_synthetic_step(step, 0.25)) for step in range(12)]
    assert picked == [False, False, False, True] * 3


def test_a_quarter_of_the_batches_are_dead_leaves_of_the_requested_size(images):
    shapes = [tuple(clean.shape) for _, clean in synthetic_stream(images).take(8)]
    assert shapes == [(8, 16, 16, 1)] * 3 + [(2, 32, 32, 1)] + [(8, 16, 16, 1)] * 3 + [(2, 32, 32, 1)]


def test_a_synthetic_batch_holds_as_many_pixels_as_a_dataset_batch():
    assert synthetic_batch_size(128, (32, 32), 128) * 128 * 128 == 128 * 32 * 32


def test_synthetic_batches_are_noisy_clean_pairs(images):
    noisy, clean = [batch for batch in synthetic_stream(images).take(4)][3]
    assert 0.07 < float(np.std(noisy - clean)) < 0.13


def test_a_stream_with_synthetic_batches_resumes_exactly(images):
    whole = [(n.numpy(), c.numpy()) for n, c in synthetic_stream(images).take(11)]
    resumed = [(n.numpy(), c.numpy()) for n, c in synthetic_stream(images, first_step=6).take(5)]
    for (n1, c1), (n2, c2) in zip(whole[6:], resumed):
        np.testing.assert_array_equal(n1, n2)
        np.testing.assert_array_equal(c1, c2)


def test_validation_refuses_synthetic_batches(images):
    with pytest.raises(ValueError, match="0 unless training"):
        make_dataset(images, "gaussian:0.1", 8, seed=0, training=False, synthetic_fraction=0.5)
