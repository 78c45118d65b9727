import numpy as np
import pytest

from tfvae.data.pipeline import make_dataset


def epochs(dataset, count=2, steps=None):
    """The noisy and clean batches of `count` epochs of `dataset` (`steps` batches each for an endless one)."""
    if steps is None:
        return [[(noisy.numpy(), clean.numpy()) for noisy, clean in dataset] for _ in range(count)]
    batches = [(noisy.numpy(), clean.numpy()) for noisy, clean in dataset.take(count * steps)]
    return [batches[i * steps : (i + 1) * steps] for i in range(count)]


def test_batches_are_noisy_clean_pairs(images):
    dataset = make_dataset(images, "gaussian:0.2", batch_size=10, seed=0, training=True)
    passes = epochs(dataset, 2, steps=3)  # 32 images: 3 batches per pass, the partial one dropped
    for batches in passes:  # each pass shows 30 distinct images
        assert len(np.unique(np.concatenate([c for _, c in batches]).reshape(30, -1), axis=0)) == 30
    for noisy, clean in passes[0]:
        assert noisy.shape == clean.shape == (10, 16, 16, 1) and noisy.dtype == np.float32
        assert 0.15 < (noisy - clean).std() < 0.25


def test_training_noise_and_order_are_fresh_each_epoch(images):
    first, second = epochs(make_dataset(images, "gaussian:0.2", batch_size=8, seed=0, training=True), steps=4)
    assert not np.array_equal(first[0][1], second[0][1])  # reshuffled
    noise_1 = np.concatenate([n - c for n, c in first])
    noise_2 = np.concatenate([n - c for n, c in second])
    assert abs(np.corrcoef(noise_1.ravel(), noise_2.ravel())[0, 1]) < 0.05


def test_training_is_bit_identical_for_one_seed_and_differs_for_another(images):
    run_1 = epochs(make_dataset(images, "mix:gaussian:0-0.5,salt_pepper:0-0.2", 8, seed=5, training=True), steps=4)
    run_2 = epochs(make_dataset(images, "mix:gaussian:0-0.5,salt_pepper:0-0.2", 8, seed=5, training=True), steps=4)
    other = epochs(make_dataset(images, "mix:gaussian:0-0.5,salt_pepper:0-0.2", 8, seed=6, training=True), steps=4)
    for epoch_1, epoch_2, epoch_other in zip(run_1, run_2, other):
        for (n1, c1), (n2, c2), (n3, _) in zip(epoch_1, epoch_2, epoch_other):
            np.testing.assert_array_equal(n1, n2)
            np.testing.assert_array_equal(c1, c2)
            assert not np.array_equal(n1, n3)


def test_validation_keeps_order_and_noise_fixed(images):
    first, second = epochs(make_dataset(images, "gaussian:0.3", batch_size=10, seed=0, training=False))
    assert [len(c) for _, c in first] == [10, 10, 10, 2]  # nothing dropped
    np.testing.assert_array_equal(np.concatenate([c for _, c in first]), images)
    for (n1, _), (n2, _) in zip(first, second):
        np.testing.assert_array_equal(n1, n2)


@pytest.mark.parametrize("first_step", [3, 4, 9])  # mid-pass, a pass boundary, a later pass
def test_a_stream_started_at_a_step_continues_the_uninterrupted_one_exactly(images, first_step):
    whole = epochs(make_dataset(images, "gaussian:0.2", 8, seed=3, training=True), 1, steps=first_step + 5)[0]
    resumed = epochs(make_dataset(images, "gaussian:0.2", 8, seed=3, training=True, first_step=first_step), 1, steps=5)[
        0
    ]
    for (n1, c1), (n2, c2) in zip(whole[first_step:], resumed):
        np.testing.assert_array_equal(n1, n2)
        np.testing.assert_array_equal(c1, c2)


def test_noise_on_a_named_device_equals_host_noise(images):
    host = epochs(make_dataset(images, "gaussian:0.2", 8, seed=1, training=True, device=None), 1, steps=4)[0]
    placed = epochs(make_dataset(images, "gaussian:0.2", 8, seed=1, training=True, device="/cpu:0"), 1, steps=4)[0]
    for (n1, c1), (n2, c2) in zip(host, placed):
        np.testing.assert_array_equal(n1, n2)
        np.testing.assert_array_equal(c1, c2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size=0"),
        ({"batch_size": 64}, "batch_size=64"),
        ({"noise": "blur"}, "Unknown noise family"),
        ({"first_step": -1}, "first_step=-1"),
        ({"first_step": 5, "training": False}, "first_step=5"),
    ],
)
def test_bad_arguments(images, kwargs, message):
    arguments = {"images": images, "noise": "gaussian", "batch_size": 8, "seed": 0, "training": True, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_dataset(**arguments)


def test_rejects_uint8_images(images):
    with pytest.raises(ValueError, match="uint8"):
        make_dataset((images * 255).astype(np.uint8), "gaussian", 8, 0, True)


def test_binarize_draws_fresh_bernoulli_targets_with_the_right_mean(images):
    dataset = make_dataset(images, "none", 16, seed=0, training=True, binarize=True)
    first, second = epochs(dataset, steps=2)
    clean = np.concatenate([c for _, c in first])
    assert set(np.unique(clean)) <= {0.0, 1.0}
    assert abs(clean.mean() - images.mean()) < 0.02  # P(pixel = 1) = its intensity
    np.testing.assert_array_equal(first[0][0], first[0][1])  # "none": input is the binarized target
    assert not np.array_equal(np.sort(clean, axis=None), np.sort(np.concatenate([c for _, c in second]), axis=None))


def test_grey_fraction_turns_that_share_of_images_grey():
    colour = np.random.default_rng(0).uniform(0, 1, (512, 4, 4, 3)).astype(np.float32)
    noisy, clean = next(iter(make_dataset(colour, "gaussian:0.1", 512, 0, training=True, grey_fraction=0.25)))
    grey = np.all(np.ptp(clean.numpy(), axis=-1) == 0, axis=(1, 2))
    assert grey.mean() == pytest.approx(0.25, abs=0.05)


def test_a_grey_image_gets_the_same_noise_in_every_channel():
    colour = np.random.default_rng(0).uniform(0.3, 0.7, (64, 4, 4, 3)).astype(np.float32)  # no clipping
    noisy, clean = next(iter(make_dataset(colour, "gaussian:0.1", 64, 0, training=True, grey_fraction=1.0)))
    assert np.ptp(noisy.numpy(), axis=-1).max() == 0


def test_without_grey_fraction_colour_images_keep_independent_noise():
    colour = np.random.default_rng(0).uniform(0.3, 0.7, (64, 4, 4, 3)).astype(np.float32)  # no clipping
    noisy, _ = next(iter(make_dataset(colour, "gaussian:0.1", 64, 0, training=True)))
    assert np.ptp(noisy.numpy(), axis=-1).min() > 0
