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
    skip connections (optional): every level's state after its cells, projected and upsampled to
                the image's resolution, is added to up(s) before the output cells

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

from collections.abc import Callable

import keras
import tensorflow as tf

from tfvae.data.images import check_image_batch
from tfvae.models.architectures.base import IMAGE_CHANNELS
from tfvae.models.arguments import check_count
from tfvae.models.objective import Objective
from tfvae.models.precision import PolicyLayers
from tfvae.models.variational import (
    VariationalModel,
    decoder_outputs,
    gaussian_kl,
    gaussian_log_density,
    per_image,
)

activation = keras.activations.silu
LOG_VAR_BOUND = 12.0  # std between 0.0025 and 400


def _split(parameters):
    """A conv's 2c channels as float32 (mean, log_var), log_var softly bounded to
    +-LOG_VAR_BOUND: a ratio of two densities divides by exp(log_var), which one unlucky step of
    a deep hierarchy can otherwise overflow."""
    mean, log_var = tf.split(tf.cast(parameters, tf.float32), 2, axis=-1)
    return mean, LOG_VAR_BOUND * tf.tanh(log_var / LOG_VAR_BOUND)


def _draw(parameters, eps):
    """z = mean + exp(log_var / 2) * eps(shape) for the (mean, log_var) pair."""
    mean, log_var = parameters
    return mean + tf.exp(0.5 * log_var) * eps(tf.shape(mean))


def level_kl(level):
    """KL(q || p) of one level of `top_down`'s output, per image (N,)."""
    kl = gaussian_kl(level["mean"], level["log_var"], level["prior_mean"], level["prior_log_var"])
    return tf.reduce_sum(per_image(kl), axis=1)


@keras.saving.register_keras_serializable(package="tfvae")
class HierarchicalVAE(VariationalModel):
    """A hierarchical (ladder) VAE for denoising and density estimation, trained with plain `fit`.

    `levels` stochastic levels of latent maps at halving resolutions, inferred top-down (see the
    module docstring); the KL has one analytic term per level. It takes images of any size
    (padded inside to a multiple of 2^levels, the output cropped back). Like `VAE`, calling the
    model denoises and `compile()` needs no arguments; `encode` and `decode` work on the top
    level. Other keyword arguments, e.g. `name`, go to `keras.Model`.

    Args:
        image_shape: tuple `(H, W, C)`, the shape of the training images, C in (1, 3); images of
            any size are denoised.
        levels: int >= 2, the stochastic levels L; level l is a latent map at 1/2^l of the
            image's size. Defaults to `3`.
        width: int, channels of the deterministic paths. Defaults to `64`.
        latent_dim: int, latent channels per level. Defaults to `8`.
        residual_blocks: int >= 0, residual cells (two 3x3 convolutions plus the identity, the
            second starting at zero) per level in each path, and at the output. Defaults to `1`.
        gated: bool, each residual cell's output passes through a sigmoid gate, `a * sigmoid(b)`
            of the second convolution's two halves (HDN's gated blocks). Defaults to `False`.
        learned_prior: bool, the top level's prior has a learned mean and log variance per
            latent channel (HDN's learned top prior), starting at N(0, I). Defaults to `False`:
            N(0, I).
        skip_connections: bool, every level's top-down state reaches the output directly,
            through a 1x1 convolution (starting at zero) and a bilinear upsampling to the
            image's resolution, so the top levels need not pass their detail through every
            level below (the generative skips of Sønderby et al.'s and addtt's ladders).
            Defaults to `False`.
        pixelcnn_layers: int >= 0, the gated layers of a PixelCNN decoder, as `VAE`'s. Defaults
            to `0`: none.
        objective: `Objective` or None, as `VAE`'s (the default likelihood is `"gaussian"`;
            free bits apply per level: a level whose KL, batch mean, is below `free_bits` times
            its dimensions is not penalised). Defaults to `None`: an `Objective` of the keyword
            arguments that are its fields.
        seed: int or None, seeds the sampling layer. Defaults to `None`.
        network_dtype: str, the Keras dtype policy of the layers, `"float32"` or
            `"mixed_bfloat16"`. Defaults to `"float32"`.

    Raises:
        ValueError: if `image_shape` is not `(H, W, C)` with C in (1, 3), a count is not an
            integer of its minimum, or a setting of the objective is invalid (see
            `Objective`).

    Examples:
        >>> import numpy as np
        >>> from tfvae.models import HierarchicalVAE
        >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
        >>> tuple(hvae(np.full((2, 12, 10, 1), 0.5, "float32")).shape)  # any size
        (2, 12, 10, 1)
        >>> hvae.latent_shape  # the top level: 1/4 of 8x8
        (2, 2, 2)
    """

    size_multiple = 1  # any height and width: padded inside to a multiple of 2^levels
    density_chunk = 10  # each draw carries every level's maps: fewer draws per call keep the memory bounded

    def __init__(
        self,
        image_shape: tuple,
        levels: int = 3,
        width: int = 64,
        latent_dim: int = 8,
        residual_blocks: int = 1,
        gated: bool = False,
        learned_prior: bool = False,
        skip_connections: bool = False,
        pixelcnn_layers: int = 0,
        objective: Objective | None = None,
        seed: int | None = None,
        network_dtype: str = "float32",
        **kwargs,
    ):
        objective, kwargs = Objective.take(objective, kwargs)
        super().__init__(**{"dtype": "float32", **kwargs})
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or image_shape[2] not in IMAGE_CHANNELS:
            raise ValueError(
                f"Expected image_shape (H, W, C) with C in {IMAGE_CHANNELS}. Received: image_shape={image_shape}."
            )
        check_count("levels", levels, 2)
        check_count("width", width, 1)
        check_count("latent_dim", latent_dim, 1)
        check_count("residual_blocks", residual_blocks, 0)
        for name, flag in (("gated", gated), ("learned_prior", learned_prior), ("skip_connections", skip_connections)):
            if not isinstance(flag, bool):
                raise ValueError(f"Expected {name} to be True or False. Received: {name}={flag!r}.")
        self.image_shape = image_shape
        self.levels = levels
        self.width = width
        self.latent_dim = latent_dim
        self.residual_blocks = residual_blocks
        self.gated = gated
        self.learned_prior = learned_prior
        self.skip_connections = skip_connections
        self.network_dtype = network_dtype

        # === Layers (index i is level i + 1), in the networks' dtype policy ===
        layers = PolicyLayers(network_dtype)

        def conv(channels, size=3, name=None, **options):
            return layers.Conv2D(channels, size, padding="same", name=name, **options)

        def cells(name):
            return [
                (
                    conv(width, name=f"{name}_cell{block}_a"),
                    conv(width * (2 if gated else 1), kernel_initializer="zeros", name=f"{name}_cell{block}_b"),
                )
                for block in range(residual_blocks)
            ]

        self.stem = conv(width, name="stem")
        self.down = [conv(width, strides=2, name=f"down{i + 1}") for i in range(levels)]
        self.bottom_up_cells = [cells(f"bottom_up{i + 1}") for i in range(levels)]
        self.posteriors = [conv(2 * latent_dim, name=f"posterior{i + 1}") for i in range(levels)]
        self.priors = [conv(2 * latent_dim, name=f"prior{i + 1}") for i in range(levels - 1)]
        self.latent_inputs = [conv(width, 1, name=f"latent_input{i + 1}") for i in range(levels)]
        self.top_down_cells = [cells(f"top_down{i + 1}") for i in range(levels)]
        # up[i] takes the state from level i + 1's resolution to level i's (0: the image's).
        self.up = [layers.Conv2DTranspose(width, 3, strides=2, padding="same", name=f"up{i}") for i in range(levels)]
        # skips[i] projects level i + 1's state, upsamplers[i] takes it to the image's resolution.
        self.skips = [
            conv(width, 1, kernel_initializer="zeros", name=f"skip{i + 1}")
            for i in range(levels if skip_connections else 0)
        ]
        self.upsamplers = [
            layers.UpSampling2D(2 ** (i + 1), interpolation="bilinear", name=f"skip_upsampling{i + 1}")
            for i in range(len(self.skips))
        ]
        self.output_cells = cells("output")
        self.output_conv = conv(image_shape[2] * decoder_outputs(objective, pixelcnn_layers), name="output")

        # (mean, log variance) per channel of the top level's prior, when learned (else N(0, I), no weight:
        # the models saved without one load unchanged).
        self.top_prior = (
            self.add_weight(shape=(2, latent_dim), initializer="zeros", name="top_prior") if learned_prior else None
        )
        self.init_objective(objective.resolved("gaussian"), seed, pixelcnn_layers)
        self.level_kl_trackers = [keras.metrics.Mean(name=f"kl_level{i + 1}") for i in range(levels)]
        self.build((None, *image_shape))

    def build(self, input_shape):
        """Creates every layer's weights by decoding one blank image."""
        # Not through denoise_once: gaussian:auto cannot estimate the noise of a blank image.
        blank = tf.zeros((1, *self.image_shape))
        output = self.posterior_mean_output(blank)
        if self.pixelcnn is not None:
            self.pixelcnn(blank, output)
        self.built = True

    @property
    def metrics(self):
        """The VAE's trackers and the KL of each level."""
        return [*super().metrics, *self.level_kl_trackers]

    @property
    def latent_shape(self) -> tuple:
        """The shape of the top level's z for an `image_shape` image, what `decode` takes.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> hvae.latent_shape
            (2, 2, 2)
        """
        stride = 2**self.levels
        height, width = (-(-size // stride) for size in self.image_shape[:2])
        return (height, width, self.latent_dim)

    # === The two paths ===
    def _cells(self, blocks, hidden):
        for conv_a, conv_b in blocks:
            update = conv_b(activation(conv_a(activation(hidden))))
            if self.gated:
                value, gate = tf.split(update, 2, axis=-1)
                update = value * tf.sigmoid(gate)
            hidden = hidden + update
        return hidden

    def bottom_up(self, images: tf.Tensor, training: bool = False) -> list:
        """Runs the deterministic bottom-up path on a checked image batch, padded to a multiple of 2^L.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1], any size.
            training: bool, whether the layers run in training mode. Defaults to `False`.

        Returns:
            The list of maps d_1 .. d_L, d_l of shape `(N, H_pad / 2^l, W_pad / 2^l, width)`.

        Raises:
            ValueError: if `images` are not float32 or their channels are not the model's.
            tf.errors.InvalidArgumentError: if `images` are empty, not finite or outside [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> [tuple(d.shape) for d in hvae.bottom_up(images)]
            [(2, 4, 4, 4), (2, 2, 2, 4)]
        """
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

    def top_down(
        self,
        choose: Callable,
        output_size: tuple | tf.Tensor,
        features: list | None = None,
        top_shape: tuple | tf.Tensor | None = None,
        training: bool = False,
    ) -> tuple:
        """Runs the top-down path, from the top level to the output, choosing each level's z.

        Args:
            choose: callable, `choose(i, posterior, prior)` returns level `i + 1`'s z (`i` from
                L - 1 down to 0) from the float32 `(mean, log_var)` pairs of its posterior (None
                without `features`) and its conditional prior.
            output_size: tuple or tensor `(H, W)`, the size the output is cropped to.
            features: list or None, the `bottom_up` maps of the images; None when generating.
                Defaults to `None`.
            top_shape: tuple or tensor or None, without `features`: the top level's shape
                `(N, h, w, latent_dim)`. Defaults to `None`.
            training: bool, whether the layers run in training mode. Defaults to `False`.

        Returns:
            A tuple `(output, levels)`: the decoder's float32 raw output `(N, H, W, C)`, and per
                level (level 1 first) a dict of `"z"`, `"mean"`, `"log_var"` (None when
                generating), `"prior_mean"` and `"prior_log_var"`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> output, levels = hvae.top_down(lambda i, posterior, prior: prior[0], (8, 8), top_shape=(2, 2, 2, 2))
            >>> tuple(output.shape), [tuple(level["z"].shape) for level in levels]
            ((2, 8, 8, 1), [(2, 4, 4, 2), (2, 2, 2, 2)])
        """
        levels = [None] * self.levels
        state = None
        skipped = []
        for i in reversed(range(self.levels)):
            if state is None:
                shape = tf.shape(features[i])[:3] if features is not None else top_shape[:3]
                zeros = tf.zeros(tf.concat([shape, [self.latent_dim]], 0))
                prior = (
                    (zeros, zeros) if self.top_prior is None else (zeros + self.top_prior[0], zeros + self.top_prior[1])
                )
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
            if self.skips:
                skipped.append(self.upsamplers[i](self.skips[i](state, training=training)))
            mean, log_var = (None, None) if posterior is None else posterior
            levels[i] = {"z": z, "mean": mean, "log_var": log_var, "prior_mean": prior[0], "prior_log_var": prior[1]}
        state = activation(self.up[0](state, training=training))
        state = state + sum(skipped) if skipped else state
        output = tf.cast(self.output_conv(self._cells(self.output_cells, state), training=training), tf.float32)
        return output[:, : output_size[0], : output_size[1], :], levels

    # === Inference ===
    def denoise_once(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Denoises images by decoding every level at its posterior mean: the deterministic denoiser.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1], any size.
            training: bool, whether the layers run in training mode. Defaults to `False`.

        Returns:
            A float32 tensor of the shape of `images`, in [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> tuple(hvae.denoise_once(images).shape)
            (2, 8, 8, 1)
        """
        return self.clean_moments(images, self.posterior_mean_output(images, training))[0]

    def posterior_mean_output(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """The decoder's raw output with every level at its posterior mean.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1], any size.
            training: bool, whether the layers run in training mode. Defaults to `False`.

        Returns:
            A float32 tensor `(N, H, W, K)`: the output `clean_moments` reads (K = C, or 2 C with a
            variance head).

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> tuple(hvae.posterior_mean_output(np.full((2, 8, 8, 1), 0.5, "float32")).shape)
            (2, 8, 8, 1)
        """
        output, _ = self.top_down(
            lambda i, posterior, prior: posterior[0],
            tf.shape(images)[1:3],
            self.bottom_up(images, training),
            training=training,
        )
        return output

    def posterior_state(self, images: tf.Tensor) -> tuple:
        """Computes what the posterior draws of a batch share, once per batch.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].

        Returns:
            A tuple `(images, bottom_up(images))`, for `draw_moments`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> _, features = hvae.posterior_state(images)
            >>> len(features)
            2
        """
        images = tf.convert_to_tensor(images)
        return images, self.bottom_up(images)

    def draw_moments(self, state: tuple, seed: int | tf.Tensor, index: int | tf.Tensor) -> tuple:
        """The clean image's mean and variance given draw `index` of z ~ q(z | images), level by level.

        The draw, its spread scaled by `posterior_temperature` at every level, is seeded by
        `(seed, index)`; the moments are `tempered_moments` of its output.

        Args:
            state: tuple, the `posterior_state` of the images.
            seed: int or integer tensor, seeds the draws.
            index: int or integer tensor, which draw.

        Returns:
            A tuple `(mean, variance)` of float32 tensors of the images' shape: the mean is one
            plausible clean version of each image.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> mean, variance = hvae.draw_moments(hvae.posterior_state(images), seed=0, index=1)
            >>> tuple(mean.shape), float(variance.numpy().max())
            ((2, 8, 8, 1), 0.0)
        """
        images, features = state
        draw_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])

        temperature = self.objective.posterior_temperature

        def draw(i, posterior, prior):
            return _draw(
                posterior,
                lambda shape: (
                    temperature
                    * tf.random.stateless_normal(shape, tf.random.experimental.stateless_fold_in(draw_seed, i))
                ),
            )

        return self.tempered_moments(images, self.top_down(draw, tf.shape(images)[1:3], features)[0])

    def posterior_levels(self, images: tf.Tensor) -> list:
        """The posterior and conditional prior of every level, on the posterior-mean path.

        Each level's prior is the one given the posterior means of the levels above it.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].

        Returns:
            A list, level 1 (the finest) first, of dicts of `"z"`, `"mean"`, `"log_var"`,
                `"prior_mean"` and `"prior_log_var"`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> [tuple(level["mean"].shape) for level in hvae.posterior_levels(images)]
            [(2, 4, 4, 2), (2, 2, 2, 2)]
        """
        return self.top_down(lambda i, posterior, prior: posterior[0], tf.shape(images)[1:3], self.bottom_up(images))[1]

    def latents(self, images: tf.Tensor, training: bool = False) -> dict:
        """The top level's posterior, named as the SavedModel's `encode` signature names it.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].
            training: bool, whether the layers run in training mode. Defaults to `False`.

        Returns:
            A dict of float32 tensors `{"z_mean", "z_log_var"}`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> sorted(hvae.latents(images))
            ['z_log_var', 'z_mean']
        """
        mean, log_var = _split(self.posteriors[-1](self.bottom_up(images, training)[-1], training=training))
        return {"z_mean": mean, "z_log_var": log_var}

    def encode(self, images: tf.Tensor, training: bool = False) -> tuple:
        """Encodes images into the parameters of the top level's posterior q(z_L | images).

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].
            training: bool, whether the layers run in training mode. Defaults to `False`.

        Returns:
            A tuple `(z_mean, z_log_var)` of float32 tensors of shape `(N, *latent_shape)`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> z_mean, z_log_var = hvae.encode(images)
            >>> tuple(z_mean.shape)
            (2, 2, 2, 2)
        """
        latents = self.latents(images, training=training)
        return latents["z_mean"], latents["z_log_var"]

    def decode(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Decodes top-level latents into images, the lower levels at their conditional prior means.

        Args:
            z: float32 tensor or array of shape `(N, *latent_shape)`, the top level's latents.
            training: bool, whether the layers run in training mode. Defaults to `False`.

        Returns:
            A float32 tensor of shape `(N, *image_shape)`, in [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> tuple(hvae.decode(np.zeros((3, *hvae.latent_shape), "float32")).shape)
            (3, 8, 8, 1)
        """

        def top_given(i, posterior, prior):
            return z if i == self.levels - 1 else prior[0]

        output, _ = self.top_down(top_given, self.image_shape[:2], top_shape=tf.shape(z), training=training)
        return self.generated_images(output)

    def sample(self, count: int, seed: int = 0) -> tf.Tensor:
        """Generates new images: every level drawn from its (conditional) prior, top level first.

        Args:
            count: int, how many images.
            seed: int, seeds the draws. Defaults to `0`.

        Returns:
            A float32 tensor of shape `(count, *image_shape)`, in [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> tuple(hvae.sample(3).shape)
            (3, 8, 8, 1)
        """

        def ancestral(i, posterior, prior):
            return _draw(prior, lambda shape: tf.random.stateless_normal(shape, [seed, i]))

        output, _ = self.top_down(ancestral, self.image_shape[:2], top_shape=(count, *self.latent_shape))
        return self.generated_images(output, seed)

    def resample_level(self, images: tf.Tensor, level: int, seed: int = 0) -> tf.Tensor:
        """Decodes images with one level drawn afresh: what that level encodes is what changes.

        Level `level` is drawn from its conditional prior, every other level kept at its
        posterior mean.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].
            level: int, the level drawn, from 1 (the finest) to `levels`.
            seed: int, seeds the draw. Defaults to `0`.

        Returns:
            A float32 tensor of the shape of `images`, in [0, 1].

        Raises:
            ValueError: if `level` is not between 1 and `levels`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> tuple(hvae.resample_level(images, level=1).shape)
            (2, 8, 8, 1)
        """
        if level not in range(1, self.levels + 1):
            raise ValueError(f"Expected level in 1..{self.levels}. Received: level={level!r}.")

        def mixed(i, posterior, prior):
            if i != level - 1:
                return posterior[0]
            return _draw(prior, lambda shape: tf.random.stateless_normal(shape, [seed, i]))

        return self.generated_images(self.top_down(mixed, tf.shape(images)[1:3], self.bottom_up(images))[0], seed)

    # === Training ===
    def elbo_terms(self, noisy: tf.Tensor, targets: tf.Tensor, training: bool) -> dict:
        """The terms of the negative ELBO with one posterior draw per level, as batch means.

        Args:
            noisy: float32 tensor of shape `(N, H, W, C)`, the input of the bottom-up path.
            targets: float32 tensor of the same shape, the images the likelihood scores.
            training: bool, whether the layers run in training mode; the loss then takes the KL
                warm-up and free bits (per level).

        Returns:
            A dict: `"loss"`, `"reconstruction"` (nats per image), `"kl"` (the sum of each
                level's analytic KL), `"kl_levels"` (the list of them) and `"reconstructed"`
                (the clean estimate of the draw).

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> terms = hvae.elbo_terms(images, images, training=False)
            >>> len(terms["kl_levels"]), sorted(terms)
            (2, ['kl', 'kl_levels', 'loss', 'reconstructed', 'reconstruction'])
        """

        def draw(i, posterior, prior):
            return _draw(posterior, self.sampling.eps)

        output, levels = self.top_down(draw, tf.shape(noisy)[1:3], self.bottom_up(noisy, training), training=training)
        kl_levels = [tf.reduce_mean(level_kl(level)) for level in levels]
        reconstruction = tf.reduce_mean(self.negative_log_likelihood(targets, output))
        kl = tf.add_n(kl_levels)
        loss = reconstruction + self.objective.beta * kl
        if training:
            penalty = kl
            if self.objective.free_bits:
                dims = [tf.cast(tf.reduce_prod(tf.shape(level["z"])[1:]), tf.float32) for level in levels]
                penalty = tf.add_n([tf.maximum(k, self.objective.free_bits * d) for k, d in zip(kl_levels, dims)])
            loss = reconstruction + self.kl_weight() * penalty
        return {
            "loss": loss,
            "reconstruction": reconstruction,
            "kl": kl,
            "kl_levels": kl_levels,
            "reconstructed": self.clean_moments(noisy, output)[0],
        }

    def log_importance_weights(
        self, noisy: tf.Tensor, targets: tf.Tensor, samples: int, eps: Callable, training: bool = False
    ) -> dict:
        """The terms of the importance-weighted bound over `samples` posterior draws per image.

        The draws of a batch run as one batch of `samples * N`, sample-major.

        Args:
            noisy: float32 tensor of shape `(N, H, W, C)`, the input of the bottom-up path.
            targets: float32 tensor of the same shape, the images scored.
            samples: int, draws per image.
            eps: callable, `eps(shape)` returns standard normal draws of that shape.
            training: bool, whether the layers run in training mode. Defaults to `False`.

        Returns:
            A dict: `"log_likelihood"` and `"log_ratio"` (log p(z) - log q(z | x) over all
                levels), each of shape `(samples, N)`; `"kl_levels"`, the analytic KL per image of
                each level; `"first_output"`, the output of the first draws.

        Examples:
            >>> import tensorflow as tf
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> weights = hvae.log_importance_weights(images, images, samples=3, eps=tf.random.normal)
            >>> tuple(weights["log_ratio"].shape), len(weights["kl_levels"])
            ((3, 2), 2)
        """
        features = [tf.tile(f, [samples, 1, 1, 1]) for f in self.bottom_up(noisy, training)]
        log_ratio = []

        def draw(i, posterior, prior):
            z = _draw(posterior, eps)
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

    def track(self, terms: dict, clean: tf.Tensor, denoised: tf.Tensor) -> dict:
        """Updates the trackers, the KL of each level included, from a step's terms.

        Args:
            terms: dict, a step's `loss_terms` (with `"kl_levels"`).
            clean: float32 tensor, the clean images the PSNR compares with.
            denoised: float32 tensor, the model's images.

        Returns:
            The logs `fit` prints: each tracker's running mean by name.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import HierarchicalVAE
            >>> hvae = HierarchicalVAE((8, 8, 1), levels=2, width=4, latent_dim=2, residual_blocks=0)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> logs = hvae.track(hvae.loss_terms(images, images, training=False), images, hvae(images))
            >>> sorted(logs)
            ['kl', 'kl_level1', 'kl_level2', 'loss', 'psnr', 'reconstruction']
        """
        for tracker, kl in zip(self.level_kl_trackers, terms["kl_levels"]):
            tracker.update_state(kl)
        return super().track(terms, clean, denoised)

    # === Config ===
    def get_config(self):
        """The model's config: its shape, its layers' sizes and the objective's settings."""
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "levels": self.levels,
            "width": self.width,
            "latent_dim": self.latent_dim,
            "residual_blocks": self.residual_blocks,
            "gated": self.gated,
            "learned_prior": self.learned_prior,
            "skip_connections": self.skip_connections,
            "pixelcnn_layers": self.pixelcnn_layers,
            "network_dtype": self.network_dtype,
            **self.objective_config(),
        }
