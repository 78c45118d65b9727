"""The gated PixelCNN: causality in raster order (a gradient check), no blind spot, distributions that sum
to 1 over their values, teacher-forced log-likelihood equal to the sequential sampler's, a Keras round trip;
and as the decoder of both VAEs: their likelihood, samples, posterior draws, files, training, refusals."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae.models import VAE, HierarchicalVAE, load_model
from tfvae.models.pixelcnn import PIXEL_DISTRIBUTIONS, GatedPixelCNN, LogisticMixturePixels

SIZE = 7
RASTER = np.arange(SIZE * SIZE).reshape(SIZE, SIZE)  # each pixel's position in raster order
RNG = np.random.default_rng(0)
CONDITION = RNG.normal(size=(2, SIZE, SIZE, 3)).astype(np.float32)
EIGHT_BIT = (RNG.integers(0, 256, size=(2, SIZE, SIZE, 3)) / 255).astype(np.float32)


def pixelcnn(distribution, channels, **kwargs):
    keras.utils.set_random_seed(0)
    return GatedPixelCNN(distribution, channels=channels, gated_layers=3, width=8, **kwargs)


def input_gradient(model, images, row, column):
    """d(every parameter of pixel (row, column)) / d(images): where that pixel's distribution looks."""
    images = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(images)
        params = model(images, CONDITION[:1])
        target = tf.reduce_sum(params[:, row, column])
    return np.abs(tape.gradient(target, images).numpy()[0]).sum(axis=-1)


@pytest.mark.parametrize("row, column", [(3, 3), (0, 4), (6, 0), (6, 6)])
def test_a_pixels_distribution_does_not_depend_on_it_or_any_pixel_after_it(row, column):
    model = pixelcnn("discretized-logistic-mixture", 3)
    gradient = input_gradient(model, EIGHT_BIT[:1], row, column)
    at_or_after = RASTER >= RASTER[row, column]  # noqa: SIM300 (the positions from this pixel on)
    assert np.all(gradient[at_or_after] == 0)


def test_a_pixels_distribution_depends_on_every_pixel_before_it_in_its_window():
    # Three layers of 3x3: the horizontal stack reaches 3 pixels left, the vertical one 3 rows up and 3 columns
    # each side; above-right of the pixel is the original PixelCNN's blind spot.
    gradient = input_gradient(pixelcnn("discretized-logistic-mixture", 3), EIGHT_BIT[:1], 3, 3)
    window = [(3, 0), (3, 1), (3, 2), (2, 4), (2, 6), (1, 5), (0, 6), (0, 0)]
    assert all(gradient[position] > 0 for position in window)


def test_the_logistic_mixture_sums_to_one_over_the_256_values_of_a_grey_pixel():
    values = (np.arange(256, dtype=np.float32) / 255)[:, None]  # (256, 1)
    params = np.tile(RNG.normal(size=(1, LogisticMixturePixels().parameters(1))).astype(np.float32), (256, 1))
    total = np.exp(LogisticMixturePixels().log_prob(values, params).numpy().astype(np.float64)).sum()
    assert total == pytest.approx(1.0, abs=1e-4)


def test_the_logistic_mixture_sums_to_one_over_the_256_cubed_values_of_a_colour_pixel():
    distribution = LogisticMixturePixels(mixtures=2)
    params = RNG.normal(size=distribution.parameters(3)).astype(np.float32)
    levels = np.arange(256, dtype=np.float32) / 255
    green, blue = np.meshgrid(levels, levels, indexing="ij")
    grid_params = np.broadcast_to(params, (*green.shape, params.size))
    total = 0.0
    for red in levels:  # one red value at a time: 65,536 (green, blue) pairs
        pixels = np.stack([np.full_like(green, red), green, blue], axis=-1)
        total += np.exp(distribution.log_prob(pixels, grid_params).numpy().astype(np.float64)).sum()
    assert total == pytest.approx(1.0, abs=1e-3)


def test_a_bernoulli_pixel_has_probability_sigmoid_of_its_logit():
    log_prob = PIXEL_DISTRIBUTIONS["bernoulli"].log_prob(np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32))
    assert float(np.exp(log_prob[0])) == pytest.approx(0.5)


@pytest.mark.parametrize("distribution, channels", [("bernoulli", 1), ("discretized-logistic-mixture", 3)])
def test_the_teacher_forced_log_likelihood_equals_the_sequential_samplers(distribution, channels):
    model = pixelcnn(distribution, channels)
    drawn, log_prob = model.sample(CONDITION, seed=3)
    np.testing.assert_allclose(model.log_prob(drawn, CONDITION), log_prob, rtol=1e-5)


@pytest.mark.parametrize("distribution, channels", [("bernoulli", 1), ("discretized-logistic-mixture", 3)])
def test_samples_take_the_distributions_values(distribution, channels):
    drawn = pixelcnn(distribution, channels).sample(CONDITION, seed=3)[0].numpy()
    levels = 1 if distribution == "bernoulli" else 255
    np.testing.assert_allclose(np.round(drawn * levels) / levels, drawn, atol=1e-6)  # on the grid, to float32


def test_the_same_seed_draws_the_same_images_and_another_seed_others():
    model = pixelcnn("bernoulli", 1)
    first, again, other = (model.sample(CONDITION, seed=seed)[0].numpy() for seed in (3, 3, 4))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_a_keras_round_trip_gives_the_same_parameters(tmp_path):
    images, condition = keras.Input((SIZE, SIZE, 3)), keras.Input((SIZE, SIZE, 3))
    model = keras.Model([images, condition], pixelcnn("discretized-logistic-mixture", 3)(images, condition))
    model.save(tmp_path / "pixelcnn.keras")
    restored = keras.saving.load_model(tmp_path / "pixelcnn.keras")
    np.testing.assert_allclose(restored([EIGHT_BIT, CONDITION]), model([EIGHT_BIT, CONDITION]), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"distribution": "gaussian"}, "Received: distribution='gaussian'"),
        ({"channels": 2}, "Received: channels=2"),
        ({"gated_layers": 0}, "Received: gated_layers=0"),
        ({"kernel_size": 4}, "Received: kernel_size=4"),
    ],
)
def test_a_bad_argument_raises_naming_it(kwargs, message):
    arguments = {"distribution": "bernoulli", "channels": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        GatedPixelCNN(**arguments)


# === A PixelCNN decoder in the VAEs ===
BINARY = (RNG.uniform(size=(4, 8, 8, 1)) > 0.5).astype(np.float32)
COLOUR = (RNG.integers(0, 256, size=(4, 8, 8, 3)) / 255).astype(np.float32)
DECODERS = {
    "vae-bernoulli": (
        lambda: VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, likelihood="bernoulli", pixelcnn_layers=2),
        BINARY,
    ),
    "hvae-logistic-mixture": (
        lambda: HierarchicalVAE(
            (8, 8, 3), levels=2, width=4, latent_dim=2, likelihood="discretized-logistic-mixture", pixelcnn_layers=2
        ),
        COLOUR,
    ),
}


@pytest.fixture(scope="module", params=list(DECODERS))
def decoded(request):
    """(a VAE with a PixelCNN decoder, images it models)."""
    build, images = DECODERS[request.param]
    keras.utils.set_random_seed(0)
    return build(), images


def test_the_likelihood_of_an_image_is_the_pixelcnns_teacher_forced_one(decoded):
    model, images = decoded
    weights = model.log_importance_weights(images, images, samples=1, eps=tf.zeros)  # z at the posterior mean
    output = weights["first_output"]
    np.testing.assert_allclose(weights["log_likelihood"][0], model.pixelcnn.log_prob(images, output), rtol=1e-6)


def test_its_generated_images_are_drawn_pixel_by_pixel_from_its_distribution(decoded):
    model, images = decoded
    drawn = model.sample(2, seed=1).numpy()
    levels = 1 if model.objective.likelihood == "bernoulli" else 255
    np.testing.assert_allclose(np.round(drawn * levels) / levels, drawn, atol=1e-6)  # on the grid, to float32


def test_its_posterior_draws_differ_from_each_other(decoded):
    model, images = decoded
    draws = model.posterior_samples(images, 2).numpy()
    assert np.abs(draws[:, 0] - draws[:, 1]).max() > 1e-4


def test_a_keras_round_trip_of_a_pixelcnn_decoder_gives_the_same_outputs(decoded, tmp_path):
    model, images = decoded
    model.save(tmp_path / "model.keras")
    np.testing.assert_allclose(load_model(tmp_path / "model.keras")(images), model(images), rtol=1e-6, atol=1e-7)


def test_a_few_fit_steps_lower_the_loss_of_a_pixelcnn_decoder():
    keras.utils.set_random_seed(0)
    model, images = DECODERS["vae-bernoulli"][0](), np.tile(BINARY, (8, 1, 1, 1))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(images, images, batch_size=32, epochs=6, verbose=0, shuffle=False)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"likelihood": "gaussian", "pixelcnn_layers": 2}, "Received: likelihood='gaussian', pixelcnn_layers=2"),
        ({"likelihood": "discretized-logistic-mixture"}, "Received: pixelcnn_layers=0"),
        ({"likelihood": "bernoulli", "pixelcnn_layers": -1}, "Received: pixelcnn_layers=-1"),
    ],
)
def test_a_likelihood_that_does_not_go_with_the_decoder_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, **kwargs)
