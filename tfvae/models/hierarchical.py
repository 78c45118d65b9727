"""A hierarchical (ladder) VAE: L stochastic levels at halving resolutions, inferred top-down.

    bottom-up   x -> d_1 (H/2) -> d_2 (H/4) -> ... -> d_L (H/2^L)     deterministic, residual cells
    top-down    q(z_L | x) = N(posterior_L(d_L)),  p(z_L) = N(0, I)
                s = cells(in_L(z_L))
                for l = L-1 .. 1:
                    s = up(s)
                    p(z_l | z_>l)    = N(prior_l(s))                 the conditional prior
                    q(z_l | x, z_>l) = N(posterior_l([s, d_l]))      top-down and bottom-up information
                    s = cells(s + in_l(z_l))
                output = out(cells(up(s)))     the likelihood's parameters, as the VAE decoder's output

The top-down state starts from z_L and changes only by adding the z_l: everything the output
knows passes through the latents (the bottom-up maps only parameterise q). The KL has one term
per level (analytic, against the level's conditional prior); free bits and the KL warm-up apply
per level. Any image size: padded inside (bottom and right, zeros) to a multiple of 2^L, the output
cropped back, so the likelihood scores the image's own pixels only. Ladder VAE (Sønderby et al.
2016), NVAE (Vahdat & Kautz 2020) and HDN (Prakash et al. 2022) have this structure.

Latent layout: level 1 is the finest. `encode` returns the top level's posterior and `decode`
takes the top level only, its lower levels at their conditional prior means: the top level is the
one with a fixed prior N(0, I), so `decode` keeps the one-level contract (z ~ N(0, I) -> an image)
that `tfvae sample`, the figures and TF Serving clients use, while a lower level's z only means
something together with the levels above it. `posterior_levels` gives every level.
"""

import keras
import tensorflow as tf
from keras import layers

from tfvae.data.images import check_image_batch
from tfvae.models.architectures.base import IMAGE_CHANNELS
from tfvae.models.precision import global_dtype_policy
from tfvae.models.variational import VariationalModel, gaussian_kl, gaussian_log_density, per_image

activation = keras.activations.silu
LOG_VAR_BOUND = 12.0  # std between 0.0025 and 400


def _check_count(name, value, minimum):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"Expected {name} to be an integer >= {minimum}. Received: {name}={value!r}.")


def _split(parameters):
    """A conv's 2c channels as float32 (mean, log_var), log_var softly bounded to
    +-LOG_VAR_BOUND: a ratio of two densities divides by exp(log_var), which one unlucky step of
    a deep hierarchy can otherwise overflow."""
    mean, log_var = tf.split(tf.cast(parameters, tf.float32), 2, axis=-1)
    return mean, LOG_VAR_BOUND * tf.tanh(log_var / LOG_VAR_BOUND)


def _draw(parameters, noise):
    """z = mean + exp(log_var / 2) * eps for the (mean, log_var) pair, eps = noise(shape)."""
    mean, log_var = parameters
    return mean + tf.exp(0.5 * log_var) * noise(tf.shape(mean))


def level_kl(level):
    """KL(q || p) of one level of `top_down`'s output, per image (N,)."""
    kl = gaussian_kl(level["mean"], level["log_var"], level["prior_mean"], level["prior_log_var"])
    return tf.reduce_sum(per_image(kl), axis=1)


@keras.saving.register_keras_serializable(package="tfvae")
class HierarchicalVAE(VariationalModel):
    """A ladder VAE for denoising and density estimation, trained with plain `fit` like the VAE.

    Args:
        image_shape: (H, W, C) of the training images (any size is denoised).
        levels: stochastic levels L >= 2; level l is a latent map at 1/2^l of the image's size.
        width: channels of the deterministic paths. Default 64.
        latent_dim: latent channels per level. Default 8.
        residual_blocks: residual cells (two 3x3 convolutions plus the identity, the second starting
            at zero) per level in each path, and at the output. Default 1.
        likelihood, sigma_x, beta, kl_warmup_steps, iw_samples, noise_model, mmse_samples, seed:
            as the VAE's (its docstring); the likelihood defaults to gaussian.
        free_bits: nats per latent dimension, applied per level: a level whose KL (batch mean) is
            below free_bits x its dimensions is not penalised. Default 0.
        network_dtype: Keras dtype policy of the layers ("float32", "mixed_bfloat16").
    """

    size_multiple = 1  # any height and width: padded inside to a multiple of 2^levels
    density_chunk = 10  # its draws carry every level's maps: 100 x 100 images would take ~15 GB

    def __init__(
        self,
        image_shape,
        levels=3,
        width=64,
        latent_dim=8,
        residual_blocks=1,
        likelihood="gaussian",
        sigma_x=0.05,
        beta=1.0,
        kl_warmup_steps=0,
        free_bits=0.0,
        iw_samples=1,
        noise_model=None,
        mmse_samples=0,
        seed=None,
        network_dtype="float32",
        **kwargs,
    ):
        super().__init__(**{"dtype": "float32", **kwargs})
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or image_shape[2] not in IMAGE_CHANNELS:
            raise ValueError(
                f"Expected image_shape (H, W, C) with C in {IMAGE_CHANNELS}. Received: image_shape={image_shape}."
            )
        _check_count("levels", levels, 2)
        _check_count("width", width, 1)
        _check_count("latent_dim", latent_dim, 1)
        _check_count("residual_blocks", residual_blocks, 0)
        self.image_shape = image_shape
        self.levels = levels
        self.width = width
        self.latent_dim = latent_dim
        self.residual_blocks = residual_blocks
        self.network_dtype = network_dtype

        # === Layers (index i is level i + 1) ===
        def conv(channels, size=3, name=None, **options):
            return layers.Conv2D(channels, size, padding="same", name=name, **options)

        def cells(name):
            return [
                (
                    conv(width, name=f"{name}_cell{block}_a"),
                    conv(width, kernel_initializer="zeros", name=f"{name}_cell{block}_b"),
                )
                for block in range(residual_blocks)
            ]

        with global_dtype_policy(network_dtype):
            self.stem = conv(width, name="stem")
            self.down = [conv(width, strides=2, name=f"down{i + 1}") for i in range(levels)]
            self.bottom_up_cells = [cells(f"bottom_up{i + 1}") for i in range(levels)]
            self.posteriors = [conv(2 * latent_dim, name=f"posterior{i + 1}") for i in range(levels)]
            self.priors = [conv(2 * latent_dim, name=f"prior{i + 1}") for i in range(levels - 1)]
            self.latent_inputs = [conv(width, 1, name=f"latent_input{i + 1}") for i in range(levels)]
            self.top_down_cells = [cells(f"top_down{i + 1}") for i in range(levels)]
            # up[i] takes the state from level i + 1's resolution to level i's (0: the image's).
            self.up = [
                layers.Conv2DTranspose(width, 3, strides=2, padding="same", name=f"up{i}") for i in range(levels)
            ]
            self.output_cells = cells("output")
            self.output_conv = conv(image_shape[2], name="output")

        self.init_objective(
            likelihood, sigma_x, beta, kl_warmup_steps, free_bits, iw_samples, noise_model, mmse_samples, seed
        )
        self.level_kl_trackers = [keras.metrics.Mean(name=f"kl_level{i + 1}") for i in range(levels)]
        self.build((None, *image_shape))

    def build(self, input_shape):
        self.denoise_once(tf.zeros((1, *self.image_shape)))  # creates every layer's weights
        self.built = True

    @property
    def metrics(self):
        return [*super().metrics, *self.level_kl_trackers]

    @property
    def latent_shape(self):
        """Shape of the top level's z for an `image_shape` image (the `decode` input)."""
        stride = 2**self.levels
        height, width = (-(-size // stride) for size in self.image_shape[:2])
        return (height, width, self.latent_dim)

    # === The two paths ===
    def _cells(self, blocks, hidden):
        for conv_a, conv_b in blocks:
            hidden = hidden + conv_b(activation(conv_a(activation(hidden))))
        return hidden

    def bottom_up(self, images, training=False):
        """The deterministic maps d_1 .. d_L of a checked, padded image batch."""
        images = check_image_batch(images, self.image_shape, self.size_multiple)
        stride = 2**self.levels
        size = tf.shape(images)
        padded = tf.pad(images, [[0, 0], [0, -size[1] % stride], [0, -size[2] % stride], [0, 0]])
        hidden = self.stem(padded, training=training)
        features = []
        for i in range(self.levels):
            hidden = activation(self.down[i](hidden, training=training))
            hidden = self._cells(self.bottom_up_cells[i], hidden)
            features.append(hidden)
        return features

    def top_down(self, choose, output_size, features=None, top_shape=None, training=False):
        """Run the top-down path; `choose(i, posterior, prior)` picks level i's z from the float32
        (mean, log_var) pairs (posterior None without `features`, i.e. when generating; then the
        top level is shaped `top_shape`, (N, h, w, latent_dim)). Returns (the output cropped to
        `output_size` (H, W), float32, and per level {"z", "mean", "log_var", "prior_mean", "prior_log_var"})."""
        levels = [None] * self.levels
        state = None
        for i in reversed(range(self.levels)):
            if state is None:
                shape = tf.shape(features[i])[:3] if features is not None else top_shape[:3]
                zeros = tf.zeros(tf.concat([shape, [self.latent_dim]], 0))
                prior = (zeros, zeros)
                posterior = None if features is None else _split(self.posteriors[i](features[i], training=training))
            else:
                state = activation(self.up[i + 1](state, training=training))
                prior = _split(self.priors[i](state, training=training))
                if features is not None:
                    both = tf.concat([state, features[i]], axis=-1)
                    posterior = _split(self.posteriors[i](both, training=training))
            z = choose(i, posterior, prior)
            latent = self.latent_inputs[i](tf.cast(z, self.latent_inputs[i].compute_dtype), training=training)
            state = self._cells(self.top_down_cells[i], latent if state is None else state + latent)
            mean, log_var = (None, None) if posterior is None else posterior
            levels[i] = {"z": z, "mean": mean, "log_var": log_var, "prior_mean": prior[0], "prior_log_var": prior[1]}
        state = activation(self.up[0](state, training=training))
        output = tf.cast(self.output_conv(self._cells(self.output_cells, state), training=training), tf.float32)
        return output[:, : output_size[0], : output_size[1], :], levels

    # === Inference ===
    def denoise_once(self, images, training=False):
        """Every level at its posterior mean, decoded."""
        output, _ = self.top_down(
            lambda i, posterior, prior: posterior[0],
            tf.shape(images)[1:3],
            self.bottom_up(images, training),
            training=training,
        )
        return self.likelihood_mean(output)

    def posterior_state(self, images):
        return self.bottom_up(images), tf.shape(images)[1:3]

    def posterior_draw(self, state, seed, index):
        """The decoded draw number `index` of z ~ q(z | x), level by level; seeded by (seed, index)."""
        features, size = state
        draw_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])

        def draw(i, posterior, prior):
            return _draw(
                posterior,
                lambda shape: tf.random.stateless_normal(shape, tf.random.experimental.stateless_fold_in(draw_seed, i)),
            )

        return self.likelihood_mean(self.top_down(draw, size, features)[0])

    def posterior_levels(self, images):
        """Per level (1 first): {"z", "mean", "log_var", "prior_mean", "prior_log_var"} on the
        posterior-mean path (each level's prior given the posterior means above it)."""
        return self.top_down(lambda i, posterior, prior: posterior[0], tf.shape(images)[1:3], self.bottom_up(images))[1]

    def latents(self, images, training=False):
        """{"z_mean", "z_log_var"} of the top level's posterior (the `encode` signature)."""
        mean, log_var = _split(self.posteriors[-1](self.bottom_up(images, training)[-1], training=training))
        return {"z_mean": mean, "z_log_var": log_var}

    def encode(self, images, training=False):
        """(z_mean, z_log_var) of the top level's posterior q(z_L | images)."""
        latents = self.latents(images, training=training)
        return latents["z_mean"], latents["z_log_var"]

    def decode(self, z, training=False):
        """Images of `image_shape` from top-level latents z, the lower levels at their conditional prior means."""

        def top_given(i, posterior, prior):
            return z if i == self.levels - 1 else prior[0]

        output, _ = self.top_down(top_given, self.image_shape[:2], top_shape=tf.shape(z), training=training)
        return self.likelihood_mean(output)

    def sample(self, count, seed=0):
        """`count` images drawn from the model: every level from its (conditional) prior, seeded."""

        def ancestral(i, posterior, prior):
            return _draw(prior, lambda shape: tf.random.stateless_normal(shape, [seed, i]))

        output, _ = self.top_down(ancestral, self.image_shape[:2], top_shape=(count, *self.latent_shape))
        return self.likelihood_mean(output)

    def resample_level(self, images, level, seed=0):
        """`images` decoded with level `level` (1 = finest) drawn from its conditional prior and every
        other level at its posterior mean: what that level encodes is what changes."""
        if level not in range(1, self.levels + 1):
            raise ValueError(f"Expected level in 1..{self.levels}. Received: level={level!r}.")

        def mixed(i, posterior, prior):
            if i != level - 1:
                return posterior[0]
            return _draw(prior, lambda shape: tf.random.stateless_normal(shape, [seed, i]))

        return self.likelihood_mean(self.top_down(mixed, tf.shape(images)[1:3], self.bottom_up(images))[0])

    # === Training ===
    def elbo_terms(self, noisy, targets, training):
        """The negative ELBO with one posterior draw per level and each level's analytic KL, as
        batch means: {"loss" (in training: warmed-up beta, free bits per level), "reconstruction",
        "kl", "kl_levels": the KL of each level, "reconstructed": the mean image of the draw}."""

        def draw(i, posterior, prior):
            return _draw(posterior, self.sampling.noise)

        output, levels = self.top_down(draw, tf.shape(noisy)[1:3], self.bottom_up(noisy, training), training=training)
        kl_levels = [tf.reduce_mean(level_kl(level)) for level in levels]
        reconstruction = tf.reduce_mean(self.negative_log_likelihood(targets, output))
        kl = tf.add_n(kl_levels)
        loss = reconstruction + self.beta * kl
        if training:
            penalty = kl
            if self.free_bits:
                dims = [tf.cast(tf.reduce_prod(tf.shape(level["z"])[1:]), tf.float32) for level in levels]
                penalty = tf.add_n([tf.maximum(k, self.free_bits * d) for k, d in zip(kl_levels, dims)])
            loss = reconstruction + self.kl_weight() * penalty
        return {
            "loss": loss,
            "reconstruction": reconstruction,
            "kl": kl,
            "kl_levels": kl_levels,
            "reconstructed": self.likelihood_mean(output),
        }

    def log_importance_weights(self, noisy, targets, samples, noise, training=False):
        """The terms of the importance-weighted bound over `samples` draws (see VariationalModel):
        the k draws of a batch run as one batch of k x N, sample-major."""
        features = [tf.tile(f, [samples, 1, 1, 1]) for f in self.bottom_up(noisy, training)]
        log_ratio = []

        def draw(i, posterior, prior):
            z = _draw(posterior, noise)
            ratio = gaussian_log_density(z, *prior) - gaussian_log_density(z, *posterior)
            log_ratio.append(tf.reduce_sum(per_image(ratio), axis=1))
            return z

        output, levels = self.top_down(draw, tf.shape(noisy)[1:3], features, training=training)
        repeated = tf.tile(targets, [samples, 1, 1, 1])
        count = tf.shape(noisy)[0]
        kl_levels = [level_kl(level)[:count] for level in levels]
        return {
            "log_likelihood": -tf.reshape(self.negative_log_likelihood(repeated, output), [samples, -1]),
            "log_ratio": tf.reshape(tf.add_n(log_ratio), [samples, -1]),
            "kl_levels": kl_levels,
            "first_output": output[:count],
        }

    def track(self, terms, clean, denoised):
        for tracker, kl in zip(self.level_kl_trackers, terms["kl_levels"]):
            tracker.update_state(kl)
        return super().track(terms, clean, denoised)

    # === Config ===
    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "levels": self.levels,
            "width": self.width,
            "latent_dim": self.latent_dim,
            "residual_blocks": self.residual_blocks,
            "network_dtype": self.network_dtype,
            **self.objective_config(),
        }
