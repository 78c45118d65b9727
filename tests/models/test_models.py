import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae.models import PCA, VAE, Autoencoder, DnCNN, architectures, fit_pca
from tfvae.models.likelihoods import bernoulli_nll, discretized_gaussian_nll, gaussian_nll
from tfvae.models.registry import MODELS
from tfvae.models.vae import kl_divergence

SMALL = {
    "mlp": {"width": 32, "latent_dim": 4},
    "conv": {"width": 8, "latent_dim": 4},
    "conv-spatial": {"width": 8, "latent_dim": 2},
    "conv-fullres": {"width": 8, "latent_dim": 2},
}
LATENT_SHAPES = {"mlp": (6, 4), "conv": (6, 4), "conv-spatial": (6, 8, 8, 2), "conv-fullres": (6, 16, 16, 2)}


def batch(shape=(6, 16, 16, 1), seed=0):
    return np.random.default_rng(seed).uniform(0, 1, shape).astype(np.float32)


@pytest.mark.parametrize("arch", sorted(SMALL))
@pytest.mark.parametrize("channels", [1, 3])
def test_vae_shapes(arch, channels):
    vae = VAE((16, 16, channels), arch=arch, **SMALL[arch])
    x = batch((6, 16, 16, channels))
    z_mean, z_log_var = vae.encode(x)
    assert z_mean.shape == z_log_var.shape == LATENT_SHAPES[arch]
    assert vae(x).shape == x.shape and vae.decode(z_mean).shape == x.shape
    samples = np.asarray(vae.sample(5))
    assert samples.shape == (5, 16, 16, channels) and samples.min() >= 0 and samples.max() <= 1


def test_vae_is_deterministic_at_inference_and_stochastic_in_training():
    vae = VAE((16, 16, 1), arch="conv", seed=0, **SMALL["conv"])
    x = batch()
    np.testing.assert_array_equal(vae(x), vae(x))
    z_mean, z_log_var = vae.encode(x)
    sampled = [np.asarray(vae.sampling([z_mean, z_log_var], training=True)) for _ in range(2)]
    assert not np.array_equal(sampled[0], sampled[1]) and not np.array_equal(sampled[0], z_mean)


def test_the_mlp_defaults_are_the_writeups_784_400_20_network():
    vae = VAE((28, 28, 1), arch="mlp")
    dense = [layer for layer in vae.encoder.layers + vae.decoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [400, 20, 20, 400, 784]
    assert vae.count_params() == 784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784 + 1


def test_the_mlp_vae_defaults_to_the_writeups_bernoulli_decoder():
    assert VAE((28, 28, 1), arch="mlp").objective.likelihood == "bernoulli"


def test_convolutional_vaes_default_to_a_gaussian_decoder():
    assert VAE((28, 28, 1)).objective.likelihood == "gaussian"


@pytest.mark.parametrize(
    "model",
    [
        lambda: VAE(
            (16, 16, 1),
            arch="conv-spatial",
            likelihood="gaussian-learned",
            beta=0.5,
            free_bits=0.1,
            seed=3,
            **SMALL["conv-spatial"],
        ),
        lambda: VAE((16, 16, 3), arch="mlp", likelihood="bernoulli", **SMALL["mlp"]),
        lambda: VAE((16, 16, 3), arch="conv-spatial", residual_blocks=2, **SMALL["conv-spatial"]),
        lambda: VAE((16, 16, 1), arch="conv-fullres", conv_layers=2, **SMALL["conv-fullres"]),
        lambda: Autoencoder((16, 16, 1), arch="conv", **SMALL["conv"]),
        lambda: fit_pca(batch((40, 16, 16, 1)), n_components=5),
        lambda: DnCNN((16, 16, 3), conv_layers=4, width=8),
    ],
)
def test_keras_round_trip_gives_identical_outputs(model, tmp_path):
    model = model()
    x = batch((6, *model.image_shape))
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(restored) is type(model) and restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored(x), model(x))


def test_residual_blocks_are_added_at_the_latent_resolution():
    shallow = VAE((16, 16, 1), arch="conv-spatial", **SMALL["conv-spatial"])
    deep = VAE((16, 16, 1), arch="conv-spatial", residual_blocks=3, **SMALL["conv-spatial"])
    channels = 2 * SMALL["conv-spatial"]["width"]  # at latent stride 2
    per_block = 2 * (9 * channels * channels + channels)  # two 3x3 convolutions with biases
    assert deep.count_params() - shallow.count_params() == 2 * 3 * per_block  # encoder and decoder
    assert deep.latent_shape == shallow.latent_shape


def test_conv_layers_set_the_full_resolution_stacks():
    fullres = VAE((16, 16, 1), arch="conv-fullres", conv_layers=1, **SMALL["conv-fullres"])
    assert len([layer for layer in fullres.encoder.layers if layer.name.startswith("conv2d")]) == 1


def test_a_grown_network_computes_what_the_shallower_one_did_and_then_trains_its_new_blocks():
    shallow = VAE((16, 16, 1), arch="conv-spatial", residual_blocks=1, **SMALL["conv-spatial"])
    deep = VAE((16, 16, 1), arch="conv-spatial", residual_blocks=3, **SMALL["conv-spatial"])
    rng = np.random.default_rng(0)
    shallow.set_weights(
        [w + rng.normal(0, 0.05, w.shape) for w in shallow.get_weights()]
    )  # block 0 is not the identity
    x = batch((6, 16, 16, 1))
    deep.set_weights(architectures.grown_weights(shallow.get_weights(), 1, deep.weights, 3))
    np.testing.assert_allclose(deep(x), shallow(x), atol=1e-5)  # block 0 copied, blocks 1 and 2 start as the identity
    block = deep.decoder.get_layer("residual_block2_conv_b")
    assert not np.any(block.kernel.numpy())
    with tf.GradientTape() as tape:
        loss = deep.loss_terms(x, x, training=True)["loss"]
    assert float(tf.norm(tape.gradient(loss, block.kernel))) > 0  # a zero start still learns
    with pytest.raises(ValueError, match="residual blocks per side"):
        architectures.grown_weights(deep.get_weights(), 1, shallow.weights, 1)


def test_kl_matches_closed_form():
    z_mean = tf.constant([[1.0, 0.0]])
    z_log_var = tf.constant([[0.0, math.log(2.0)]])
    expected = [[0.5, 0.5 * (2.0 - 1.0 - math.log(2.0))]]
    np.testing.assert_allclose(kl_divergence(z_mean, z_log_var), expected, rtol=1e-6)
    assert float(tf.reduce_sum(kl_divergence(tf.zeros([1, 4]), tf.zeros([1, 4])))) == 0.0


def test_likelihoods_match_their_formulas():
    clean = tf.constant([[[[0.2], [0.9]]]])
    logits = tf.constant([[[[0.3], [-1.0]]]])
    mean = 1 / (1 + np.exp(-logits.numpy()))
    bce = -(clean.numpy() * np.log(mean) + (1 - clean.numpy()) * np.log(1 - mean)).sum()
    np.testing.assert_allclose(bernoulli_nll(clean, logits, 0.0), [bce], rtol=1e-5)
    sigma = 0.1
    nll = (0.5 * ((clean.numpy() - logits.numpy()) / sigma) ** 2 + np.log(sigma) + 0.5 * np.log(2 * np.pi)).sum()
    np.testing.assert_allclose(gaussian_nll(clean, logits, tf.constant(math.log(sigma))), [nll], rtol=1e-5)


def test_train_step_lowers_the_loss_on_a_fixed_batch():
    keras.utils.set_random_seed(0)
    vae = VAE((16, 16, 1), arch="conv", seed=0, **SMALL["conv"])
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    clean = np.linspace(0.1, 0.9, 32, dtype=np.float32)[:, None, None, None] * np.ones((32, 16, 16, 1), np.float32)
    noisy = np.clip(clean + 0.1 * np.random.default_rng(1).normal(size=clean.shape), 0, 1).astype(np.float32)
    state = vae.sampling.seed_generator.state.numpy()

    def loss():  # the same eps every time: the comparison sees only the weights change
        vae.sampling.seed_generator.state.assign(state)
        return float(vae.loss_terms(noisy, clean, training=False)["loss"])

    before = loss()
    vae.train_on_batch(noisy, clean)
    assert loss() < before
    for _ in range(29):
        vae.train_on_batch(noisy, clean)
    assert loss() < before - 200  # from ~372 nats towards the Gaussian floor of -354


def test_vae_trains_under_mixed_bfloat16_with_float32_losses():
    keras.utils.set_random_seed(0)
    vae = VAE((16, 16, 1), arch="conv-spatial", seed=0, network_dtype="mixed_bfloat16", **SMALL["conv-spatial"])
    assert keras.config.dtype_policy().name == "float32"  # building left the global policy as it was
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = batch((32, 16, 16, 1))
    first = vae.train_on_batch(x, x, return_dict=True)
    for _ in range(20):
        last = vae.train_on_batch(x, x, return_dict=True)
    assert vae.encoder.layers[1].compute_dtype == "bfloat16"
    assert all(np.isfinite(value) for value in last.values())
    assert last["reconstruction"] < first["reconstruction"] / 2


@pytest.mark.parametrize("name", ["vae", "ae", "dncnn"])
def test_bfloat16_networks_keep_a_float32_boundary(name):
    """Layers compute in bfloat16; inputs, latents and outputs stay float32 (the image contract)."""
    build = {
        "vae": lambda **kw: VAE((16, 16, 1), arch="conv-spatial", seed=0, **SMALL["conv-spatial"], **kw),
        "ae": lambda **kw: Autoencoder((16, 16, 1), arch="conv-spatial", **SMALL["conv-spatial"], **kw),
        "dncnn": lambda **kw: DnCNN((16, 16, 1), conv_layers=3, width=8, **kw),
    }[name]
    model = build(network_dtype="mixed_bfloat16")
    assert {layer.compute_dtype for layer in model._flatten_layers() if layer.weights} == {"bfloat16", "float32"}
    x = batch((4, 16, 16, 1))
    assert model(x).dtype == tf.float32
    # The config rebuilds the same bfloat16 networks (model.keras reloads as trained).
    rebuilt = type(model).from_config(model.get_config())
    assert [layer.compute_dtype for layer in rebuilt._flatten_layers()] == [
        layer.compute_dtype for layer in model._flatten_layers()
    ]
    if name != "dncnn":
        encoded = model.encode(x)
        assert all(z.dtype == tf.float32 for z in (encoded if name == "vae" else [encoded]))


def test_kl_warmup_and_free_bits_change_the_objective_not_the_report():
    x = batch((8, 16, 16, 1))
    plain = VAE((16, 16, 1), arch="conv", seed=0, **SMALL["conv"])
    plain.compile(optimizer="adam")
    free = VAE.from_config({**plain.get_config(), "free_bits": 5.0, "kl_warmup_steps": 1000})
    free.set_weights(plain.get_weights())
    free.compile(optimizer="adam")
    terms = free.loss_terms(x, x, training=True)
    # At step 0 of a 1000-step warm-up beta is 1/1000: the loss is almost the reconstruction.
    assert float(terms["loss"] - terms["reconstruction"]) <= 5.0 * 4 / 1000 + 1e-3
    base = plain.loss_terms(x, x, training=False)
    assert float(base["loss"]) == pytest.approx(float(base["reconstruction"] + base["kl"]), rel=1e-6)


def draw_epsilon(vae, epsilon):
    """Make `vae`'s sampling layer draw `epsilon`, so that a loss can be computed by hand."""
    vae.sampling.eps = lambda shape, dtype="float32": tf.constant(epsilon)


def closed_form_kl(z_mean, z_log_var):
    """KL(q || N(0, I)) per image and dimension, from the formula, in NumPy."""
    return 0.5 * (np.exp(z_log_var) + z_mean**2 - 1.0 - z_log_var)


def test_the_training_loss_is_the_gaussian_nll_plus_beta_times_the_closed_form_kl():
    beta, sigma = 4.0, 0.5  # the KL term is then far above float32 round-off of the NLL
    vae = VAE((16, 16, 1), arch="conv", beta=beta, sigma_x=sigma, seed=0, **SMALL["conv"])
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    clean, noisy = batch((8, 16, 16, 1)), batch((8, 16, 16, 1), seed=1)
    epsilon = np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32)
    z_mean, z_log_var = (np.asarray(t) for t in vae.encode(noisy))
    mean = np.asarray(vae.decoder_output(z_mean + np.exp(z_log_var / 2) * epsilon))
    nll = 0.5 * ((clean - mean) / sigma) ** 2 + math.log(sigma) + 0.5 * math.log(2 * math.pi)
    expected = nll.reshape(8, -1).sum(1).mean() + beta * closed_form_kl(z_mean, z_log_var).sum(1).mean()
    draw_epsilon(vae, epsilon)
    assert vae.train_on_batch(noisy, clean, return_dict=True)["loss"] == pytest.approx(expected, abs=1e-3)


def test_free_bits_penalise_each_dimension_by_at_least_its_allowance():
    vae = VAE((16, 16, 1), arch="conv", sigma_x=0.5, seed=0, **SMALL["conv"])
    x = batch((8, 16, 16, 1))
    z_mean, z_log_var = (np.asarray(t) for t in vae.encode(x))
    per_dimension = closed_form_kl(z_mean, z_log_var).mean(axis=0)
    free_bits = float(np.median(per_dimension))  # the allowance matters for some dimensions only
    free = VAE.from_config({**vae.get_config(), "free_bits": free_bits})
    free.set_weights(vae.get_weights())
    terms = free.loss_terms(x, x, training=True)
    penalty = np.maximum(per_dimension, free_bits).sum()
    assert float(terms["loss"]) == pytest.approx(float(terms["reconstruction"]) + penalty, abs=2e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"arch": "resnet"}, "arch='resnet'"),
        ({"likelihood": "laplace"}, "likelihood='laplace'"),
        ({"width": 0}, "width=0"),
        ({"sigma_x": 0.0}, "sigma_x=0.0"),
        ({"beta": -1.0}, "beta=-1.0"),
        ({"latent_stride": 3}, "latent_stride=3"),
        ({"image_shape": (15, 16, 1)}, "divisible by 2"),
        ({"residual_blocks": -1}, "residual_blocks=-1"),
        ({"arch": "mlp", "residual_blocks": 2}, "hyperparameters of arch='mlp'.*residual_blocks=2"),
        ({"conv_layers": 2}, "hyperparameters of arch='conv-spatial'.*conv_layers=2"),
        ({"iw_samples": 0}, "iw_samples=0"),
        ({"iw_samples": 5, "beta": 0.5}, "beta=1.*Received: beta=0.5"),
    ],
)
def test_bad_hyperparameters(kwargs, message):
    arguments = {"image_shape": (16, 16, 1), "arch": "conv-spatial", **kwargs}
    with pytest.raises(ValueError, match=message):
        VAE(**arguments)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (np.zeros((2, 16, 16, 1), np.uint8), ValueError, "dtype=uint8"),
        (np.zeros((16, 16, 1), np.float32), ValueError, r"shape=\(16, 16, 1\)"),
        (np.zeros((2, 16, 16, 3), np.float32), ValueError, r"Received: shape=\(2, 16, 16, 3\)"),
        (np.full((2, 16, 16, 1), 255.0, np.float32), tf.errors.InvalidArgumentError, "values above 1"),
        (np.full((2, 16, 16, 1), np.nan, np.float32), tf.errors.InvalidArgumentError, "NaN or Inf"),
    ],
)
@pytest.mark.parametrize("model", ["vae", "ae", "pca", "dncnn"])
def test_bad_images_raise_clear_errors(bad, error, message, model):
    built = {
        "dncnn": lambda: DnCNN((16, 16, 1), conv_layers=3, width=4),
        "vae": lambda: VAE((16, 16, 1), arch="conv", **SMALL["conv"]),
        "ae": lambda: Autoencoder((16, 16, 1), arch="conv", **SMALL["conv"]),
        "pca": lambda: PCA((16, 16, 1), 3),
    }[model]()
    with pytest.raises(error, match=message):
        built(tf.constant(bad))


def test_pca_matches_numpy_svd_and_recovers_a_low_rank_set():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(64, 3)))[0]
    images = (0.5 + 0.1 * rng.normal(size=(200, 3)) @ basis.T).reshape(200, 8, 8, 1).astype(np.float32)
    pca = fit_pca(images, n_components=3)
    np.testing.assert_allclose(pca(images), images, atol=1e-4)
    components = pca.components.numpy()
    np.testing.assert_allclose(components.T @ components, np.eye(3), atol=1e-4)
    centered = images.reshape(200, -1) - images.reshape(200, -1).mean(0)
    top = np.linalg.svd(centered, full_matrices=False)[2][:3]
    np.testing.assert_allclose(np.abs(top @ components), np.eye(3), atol=1e-3)


def test_pca_chooses_components_on_validation_psnr():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(64, 4)))[0]
    clean = (0.5 + 0.1 * rng.normal(size=(300, 4)) @ basis.T).reshape(300, 8, 8, 1).astype(np.float32)
    noisy = np.clip(clean + 0.05 * rng.normal(size=clean.shape), 0, 1).astype(np.float32)
    assert fit_pca(clean[:200], validation=(noisy[200:], clean[200:])).n_components == 4
    with pytest.raises(ValueError, match="validation=None"):
        fit_pca(clean)


def test_dncnn_subtracts_its_noise_estimate():
    model = DnCNN((16, 16, 1), conv_layers=3, width=4)
    last = model.noise_estimator.layers[-1]
    last.kernel.assign(tf.zeros_like(last.kernel))
    last.bias.assign(tf.fill(last.bias.shape, 0.25))  # "the noise is +0.25 everywhere"
    x = batch()
    np.testing.assert_allclose(model(x), np.clip(x - 0.25, 0, 1), atol=1e-6)
    assert model(x, training=True).numpy().min() < 0  # unclipped in training: the loss keeps its gradient
    assert len(model.noise_estimator.layers) == 1 + 3 * 1 + 1


@pytest.mark.parametrize(
    "old, architecture",
    [
        (
            {"arch": "conv-residual", "width": 8, "latent_dim": 2, "latent_stride": 2, "depth": 2},
            architectures.ConvFullres(width=8, latent_dim=2, conv_layers=2),
        ),
        (
            {"arch": "conv-spatial", "width": 8, "latent_dim": 2, "latent_stride": 2, "depth": 1},
            architectures.ConvSpatial(width=8, latent_dim=2, residual_blocks=1),
        ),
        (
            {"arch": "mlp", "width": 32, "latent_dim": 4, "latent_stride": 2, "depth": None},
            architectures.MLP(width=32, latent_dim=4),
        ),
    ],
)
def test_a_config_of_tfvae_0_1_still_loads(old, architecture):
    assert VAE.from_config({"image_shape": (16, 16, 1), **old}).architecture == architecture


def test_a_dncnn_config_of_tfvae_0_1_still_loads():
    assert DnCNN.from_config({"image_shape": (16, 16, 1), "depth": 3, "width": 4}).conv_layers == 3


def test_an_odd_size_traced_with_an_open_shape_is_refused_when_it_runs():
    vae = VAE((16, 16, 1), width=4, latent_dim=2, seed=0)
    call = tf.function(vae, input_signature=[tf.TensorSpec((None, None, None, 1), tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="height a multiple of 2"):
        call(tf.zeros((1, 15, 16, 1)))


def _bins_nll(mean, sigma):
    """The discretized Gaussian's NLL of each of the 256 8-bit values, one image per value."""
    values = tf.reshape(tf.range(256, dtype=tf.float32) / 255, [256, 1, 1, 1])
    return discretized_gaussian_nll(values, tf.fill([256, 1, 1, 1], mean), tf.constant(math.log(sigma)))


@pytest.mark.parametrize("mean, sigma", [(0.5, 0.1), (0.02, 0.003), (1.1, 0.05), (0.3, 1e-4)])
def test_the_discretized_gaussian_puts_probability_one_on_the_256_bins(mean, sigma):
    np.testing.assert_allclose(float(tf.reduce_sum(tf.exp(-_bins_nll(mean, sigma)))), 1.0, rtol=1e-4)


def test_the_discretized_gaussian_gives_an_inner_bin_the_normal_mass_between_its_edges():
    mean, sigma, value = 0.4, 0.02, 110 / 255
    cdf = [0.5 * math.erfc(-(value + sign * 0.5 / 255 - mean) / (sigma * math.sqrt(2))) for sign in (1, -1)]
    np.testing.assert_allclose(float(_bins_nll(mean, sigma)[110]), -math.log(cdf[0] - cdf[1]), rtol=1e-4)


def test_the_discretized_gaussian_gives_the_first_bin_the_lower_tail():
    mean, sigma = 0.1, 0.05
    tail = 0.5 * math.erfc(-(0.5 / 255 - mean) / (sigma * math.sqrt(2)))
    np.testing.assert_allclose(float(_bins_nll(mean, sigma)[0]), -math.log(tail), rtol=1e-4)


def test_the_discretized_gaussian_is_finite_far_in_the_tails():
    assert np.isfinite(_bins_nll(0.0, 1e-3).numpy()).all()


@pytest.mark.parametrize("likelihood, trainable", [("gaussian", False), ("discretized-gaussian", True)])
def test_sigma_x_is_trained_only_by_the_likelihoods_that_learn_it(likelihood, trainable):
    vae = VAE((16, 16, 1), arch="conv", likelihood=likelihood, **SMALL["conv"])
    assert vae.log_sigma_x.trainable is trainable


@pytest.mark.parametrize("name", [name for name, spec in MODELS.items() if spec.closed_form is None])
def test_every_layer_computes_in_the_network_dtype_and_the_global_policy_stays(name):
    model = MODELS[name].build((16, 16, 1), {"width": 4}, network_dtype="mixed_bfloat16")
    networks = [layer for layer in model.layers if isinstance(layer, keras.Model)] or [model]
    policies = {sub.dtype_policy.name for net in networks for sub in net.layers if sub.weights}
    assert (policies, keras.config.dtype_policy().name) == ({"mixed_bfloat16"}, "float32")


def receptive_radius(vae, size):
    """The farthest (Chebyshev) distance from the centre of an input pixel that moves the centre of the
    decoder's output (through the posterior mean)."""
    images = tf.Variable(batch((1, size, size, 1)))
    with tf.GradientTape() as tape:
        centre = vae.decoder(vae.encoder(images)["z_mean"])[0, size // 2, size // 2, 0]
    rows, columns = np.nonzero(tape.gradient(centre, images).numpy()[0, ..., 0])
    return int(max(np.abs(rows - size // 2).max(), np.abs(columns - size // 2).max()))


def test_dilated_residual_blocks_see_farther_with_the_same_weights():
    plain = VAE((160, 160, 1), arch="conv-spatial", residual_blocks=3, seed=0, **SMALL["conv-spatial"])
    dilated = VAE((160, 160, 1), arch="conv-spatial", residual_blocks=3, dilation_growth=2, **SMALL["conv-spatial"])
    rng = np.random.default_rng(0)
    plain.set_weights([w + rng.normal(0, 0.1, w.shape) for w in plain.get_weights()])  # blocks not the identity
    dilated.set_weights(plain.get_weights())
    # Each side's 3 blocks of two 3x3 convolutions at stride 2 reach 2 * 2 * 3 = 12 pixels; dilated
    # by 1, 2, 4: 2 * 2 * (1 + 2 + 4) = 28.
    assert receptive_radius(dilated, 160) - receptive_radius(plain, 160) == 2 * (28 - 12)
