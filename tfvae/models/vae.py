"""The variational autoencoder: encoder -> Sampling -> decoder, trained with plain `fit`.

`train_step` / `test_step` add the KL term to the reconstruction loss. `call` is deterministic
(decodes z_mean): that is the denoiser. Data are `(noisy, clean)` pairs, or images alone
(then the target is the input).
"""

from collections.abc import Callable

import keras
import tensorflow as tf

from tfvae.models.encoder_decoder import EncoderDecoder
from tfvae.models.objective import Objective
from tfvae.models.variational import VariationalModel, decoder_outputs, gaussian_kl, per_image


def kl_divergence(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) per latent dimension, flattened to (N, D)."""
    return per_image(gaussian_kl(z_mean, z_log_var))


@keras.saving.register_keras_serializable(package="tfvae")
class VAE(VariationalModel, EncoderDecoder):
    """A variational autoencoder for denoising: encoder(noisy) -> z ~ q(z | noisy) -> decoder(z) ~ p(clean | z).

    Trained with plain `fit` on `(noisy, clean)` pairs (or images alone, which are then their
    own targets): `train_step` minimises the negative ELBO, a reconstruction term plus beta
    times the KL divergence of q(z | x) from the prior N(0, I). Calling the model denoises:
    it decodes the posterior mean (or, with `mmse_samples`, averages decoded posterior draws).
    `compile()` needs no arguments. Other keyword arguments, e.g. `name`, go to `keras.Model`.

    Args:
        image_shape: tuple `(H, W, C)`, the shape of the training images, C in (1, 3).
        arch: str or None, a name in `ARCHITECTURES`: `"conv-spatial"` (a latent map),
            `"mlp"` (the original 784-400-20 MLP VAE), `"conv"` (a global latent vector) or
            `"conv-fullres"` (a full-resolution latent map). Defaults to `None`:
            `"conv-spatial"`.
        objective: `Objective` or None, what the model minimises and how it denoises. Defaults
            to `None`: an `Objective` of the keyword arguments that are its fields
            (`likelihood`, `sigma_x`, `beta`, `kl_warmup_steps`, `free_bits`, `iw_samples`,
            `noise_model`, `decoder_variance`, `mmse_samples`), the others at their defaults.
        seed: int or None, seeds the sampling layer. Defaults to `None`.
        pixelcnn_layers: int >= 0, the gated layers of a PixelCNN decoder: the decoder's output
            conditions a gated PixelCNN over the pixels in raster order (`tfvae.models.pixelcnn`;
            likelihood `"bernoulli"` or `"discretized-logistic-mixture"`). Defaults to `0`: none,
            each pixel's parameters come from z alone.
        noise_level_input: bool, the encoder also sees a map of each image's noise std (FFDNet's
            noise-level map), estimated from the image (`noise_models.estimate_sigma`) unless
            given to `encode` / `denoise_once`; the decoder still sees z alone. Defaults to
            `False`.

    Keyword Args:
        width (int | None): hidden units (`mlp`) or channels of the first convolution.
            Defaults to the architecture's.
        latent_dim (int | None): the latent size (a vector) or latent channels (a map).
            Defaults to the architecture's.
        latent_stride (int | None): `conv-spatial` only: the downsampling of the latent map, 1,
            2, 4 or 8. Defaults to 2.
        residual_blocks (int | None): `conv-spatial` only: residual blocks at the latent
            resolution in each of encoder and decoder. Defaults to 0.
        dilation_growth (int | None): `conv-spatial` only: residual block b dilates its
            convolutions by dilation_growth**b. Defaults to 1 (no dilation).
        conv_layers (int | None): `conv-fullres` only: 3x3 convolutions in each of encoder and
            decoder. Defaults to 4.
        network_dtype (str): the Keras dtype policy the encoder and decoder compute in,
            `"float32"` or `"mixed_bfloat16"`; inputs, latents, outputs and losses stay float32.
            Defaults to `"float32"`.

    Raises:
        ValueError: if `arch` or `likelihood` is unknown, a hyperparameter or setting is out of
            range or not the architecture's, `image_shape` does not fit the architecture, or the
            settings conflict (see `Objective`).

    Examples:
        >>> import numpy as np
        >>> from tfvae.models import VAE
        >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
        >>> noisy = np.full((2, 8, 8, 1), 0.5, "float32")
        >>> tuple(vae(noisy).shape)  # denoised
        (2, 8, 8, 1)
        >>> z_mean, z_log_var = vae.encode(noisy)
        >>> tuple(z_mean.shape), vae.latent_shape
        ((2, 4, 4, 2), (4, 4, 2))
        >>> vae.compile()  # Adam(1e-3); the loss is the model's own
    """

    default_arch = "conv-spatial"

    def __init__(
        self,
        image_shape: tuple,
        arch: str | None = None,
        objective: Objective | None = None,
        seed: int | None = None,
        pixelcnn_layers: int = 0,
        noise_level_input: bool = False,
        **kwargs,
    ):
        objective, kwargs = Objective.take(objective, kwargs)
        # === Layers: encoder and decoder (EncoderDecoder), sampling ===
        super().__init__(
            image_shape,
            arch,
            heads=("z_mean", "z_log_var"),
            decoder_outputs=decoder_outputs(objective, pixelcnn_layers),
            noise_level_input=noise_level_input,
            **kwargs,
        )
        self.init_objective(objective.resolved(self.architecture.vae_likelihood), seed, pixelcnn_layers)
        self.build((None, *self.image_shape))

    # === Inference ===
    def denoise_once(
        self, images: tf.Tensor, training: bool = False, noise_level: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Denoises images by decoding their posterior mean once: the deterministic denoiser.

        The estimate is `clean_moments`' mean: the decoder's, or with `decoder_variance` the
        posterior mean of each clean pixel given the noisy one.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].
            training: bool, whether the networks run in training mode. Defaults to `False`.
            noise_level: float or tensor `(N,)`, with `noise_level_input`: the images' noise
                std. Defaults to `None`: estimated (blind).

        Returns:
            A float32 tensor of the shape of `images`, in [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> tuple(vae.denoise_once(images).shape)
            (2, 8, 8, 1)
        """
        z_mean = self.encode(images, training=training, noise_level=noise_level)[0]
        return self.clean_moments(images, self.decoder_output(z_mean, training=training))[0]

    def posterior_state(self, images: tf.Tensor) -> tuple:
        """Computes what the posterior draws of a batch share, once per batch.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].

        Returns:
            A tuple `(images, z_mean, z_log_var)`, for `draw_moments`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> _, z_mean, z_log_var = vae.posterior_state(images)
            >>> tuple(z_mean.shape)
            (2, 4, 4, 2)
        """
        images = tf.convert_to_tensor(images)
        return (images, *self.encode(images))

    def draw_moments(self, state: tuple, seed: int | tf.Tensor, index: int | tf.Tensor) -> tuple:
        """The clean image's mean and variance given draw number `index` of z ~ q(z | images).

        The draw, its spread scaled by `posterior_temperature`, is seeded by `(seed, index)`; the
        moments are `tempered_moments` of its decoder output.

        Args:
            state: tuple, the `posterior_state` of the images.
            seed: int or integer tensor, seeds the draws.
            index: int or integer tensor, which draw.

        Returns:
            A tuple `(mean, variance)` of float32 tensors of the images' shape: the mean is one
            plausible clean version of each image.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> state = vae.posterior_state(images)
            >>> first, variance = (t.numpy() for t in vae.draw_moments(state, seed=0, index=0))
            >>> bool((first == vae.draw_moments(state, seed=0, index=0)[0].numpy()).all()), float(variance.max())
            (True, 0.0)
        """
        images, z_mean, z_log_var = state
        draw_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
        epsilon = self.objective.posterior_temperature * tf.random.stateless_normal(tf.shape(z_mean), draw_seed)
        return self.tempered_moments(images, self.decoder_output(z_mean + tf.exp(0.5 * z_log_var) * epsilon))

    def encode(self, images: tf.Tensor, training: bool = False, noise_level: tf.Tensor | None = None) -> tuple:
        """Encodes images into the parameters of their posterior q(z | images).

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1], of the
                model's image shape (any multiple of `size_multiple` when it is not None).
            training: bool, whether the encoder runs in training mode. Defaults to `False`.
            noise_level: float or tensor `(N,)`, with `noise_level_input`: the images' noise
                std. Defaults to `None`: estimated (blind).

        Returns:
            A tuple `(z_mean, z_log_var)` of float32 tensors of shape `(N, *latent_shape)`.

        Raises:
            ValueError: if `images` are not float32 or their shape does not fit the model.
            tf.errors.InvalidArgumentError: if `images` are empty, not finite or outside [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> z_mean, z_log_var = vae.encode(images)
            >>> tuple(z_mean.shape), tuple(z_log_var.shape)
            ((2, 4, 4, 2), (2, 4, 4, 2))
        """
        latents = self.latents(images, training=training, noise_level=noise_level)
        return latents["z_mean"], latents["z_log_var"]

    def decode(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Decodes latents into the mean image of p(x | z) (with a PixelCNN decoder: a draw of it, seed 0).

        Args:
            z: float32 tensor or array of shape `(N, *latent_shape)`.
            training: bool, whether the decoder runs in training mode. Defaults to `False`.

        Returns:
            A float32 tensor of shape `(N, *image_shape)`, in [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> tuple(vae.decode(np.zeros((3, *vae.latent_shape), "float32")).shape)
            (3, 8, 8, 1)
        """
        return self.generated_images(self.decoder_output(z, training=training))

    def sample(self, count: int, seed: int = 0) -> tf.Tensor:
        """Generates new images: decodes z drawn from the prior N(0, I).

        Args:
            count: int, how many images.
            seed: int, seeds the draws. Defaults to `0`.

        Returns:
            A float32 tensor of shape `(count, *image_shape)`, in [0, 1].

        Examples:
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> tuple(vae.sample(3).shape)
            (3, 8, 8, 1)
        """
        z = tf.random.stateless_normal((count, *self.latent_shape), [seed, 0])
        return self.generated_images(self.decoder_output(z), seed)

    # === Training ===
    def elbo_terms(self, noisy: tf.Tensor, targets: tf.Tensor, training: bool) -> dict:
        """The terms of the negative ELBO with one posterior draw and the analytic KL, as batch means.

        Args:
            noisy: float32 tensor of shape `(N, H, W, C)`, the encoder's input.
            targets: float32 tensor of the same shape, the images the likelihood scores.
            training: bool, whether the networks run in training mode; the loss then takes the
                KL warm-up and free bits.

        Returns:
            A dict: `"loss"` (reconstruction + beta * KL), `"reconstruction"` (the negative
                log-likelihood, nats per image), `"kl"` (nats per image) and `"reconstructed"`
                (the clean estimate of the draw).

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> terms = vae.elbo_terms(images, images, training=False)
            >>> bool(abs(float(terms["loss"] - terms["reconstruction"] - terms["kl"])) < 1e-3)  # beta 1
            True
        """
        z_mean, z_log_var = self.encode(noisy, training=training)
        kl_per_dim = kl_divergence(z_mean, z_log_var)
        kl = tf.reduce_mean(tf.reduce_sum(kl_per_dim, axis=1))
        output = self.decoder_output(self.sampling([z_mean, z_log_var], training=True), training=training)
        reconstruction = tf.reduce_mean(self.negative_log_likelihood(targets, output))
        loss = reconstruction + self.objective.beta * kl
        if training:
            penalty = kl
            if self.objective.free_bits:
                penalty = tf.reduce_sum(tf.maximum(tf.reduce_mean(kl_per_dim, axis=0), self.objective.free_bits))
            loss = reconstruction + self.kl_weight() * penalty
        reconstructed = self.clean_moments(noisy, output)[0]
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl, "reconstructed": reconstructed}

    def log_importance_weights(
        self, noisy: tf.Tensor, targets: tf.Tensor, samples: int, eps: Callable, training: bool = False
    ) -> dict:
        """The terms of the importance-weighted bound over `samples` posterior draws per image.

        Args:
            noisy: float32 tensor of shape `(N, H, W, C)`, the encoder's input.
            targets: float32 tensor of the same shape, the images scored.
            samples: int, draws per image.
            eps: callable, `eps(shape)` returns standard normal draws of that shape.
            training: bool, whether the networks run in training mode. Defaults to `False`.

        Returns:
            A dict: `"log_likelihood"` log p(targets | z_i) and `"log_ratio"` log p(z_i) -
                log q(z_i | x), each of shape `(samples, N)`; `"kl_levels"`, a list holding the
                analytic KL per image; `"first_output"`, the decoder's output of the first draws.

        Examples:
            >>> import tensorflow as tf
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> weights = vae.log_importance_weights(images, images, samples=3, eps=tf.random.normal)
            >>> tuple(weights["log_likelihood"].shape), tuple(weights["log_ratio"].shape)
            ((3, 2), (3, 2))
        """
        z_mean, z_log_var = self.encode(noisy, training=training)
        epsilon = eps(tf.concat([[samples], tf.shape(z_mean)], 0))
        z = z_mean + tf.exp(0.5 * z_log_var) * epsilon
        output = self.decoder_output(tf.reshape(z, (-1, *self.latent_shape)), training=training)
        repeated = tf.broadcast_to(targets, tf.concat([[samples], tf.shape(targets)], 0))
        repeated = tf.reshape(repeated, tf.concat([[-1], tf.shape(targets)[1:]], 0))
        log_ratio = 0.5 * (z_log_var + tf.square(epsilon) - tf.square(z))  # log N(z; 0, I) - log N(z; z_mean, var)
        return {
            "log_likelihood": -tf.reshape(self.negative_log_likelihood(repeated, output), [samples, -1]),
            "log_ratio": tf.reduce_sum(tf.reshape(log_ratio, [samples, tf.shape(z_mean)[0], -1]), axis=2),
            "kl_levels": [tf.reduce_sum(kl_divergence(z_mean, z_log_var), axis=1)],
            "first_output": output[: tf.shape(z_mean)[0]],
        }

    def posterior_levels(self, images: tf.Tensor) -> list:
        """The posterior and prior of each latent level: a one-level VAE has one.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].

        Returns:
            A list of one dict: `"mean"` and `"log_var"` of q(z | images), `"prior_mean"` and
                `"prior_log_var"` of p(z) = N(0, I) (zeros), each `(N, *latent_shape)`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> [sorted(level) for level in vae.posterior_levels(images)]
            [['log_var', 'mean', 'prior_log_var', 'prior_mean']]
        """
        z_mean, z_log_var = self.encode(images)
        zeros = tf.zeros_like(z_mean)
        return [{"mean": z_mean, "log_var": z_log_var, "prior_mean": zeros, "prior_log_var": zeros}]

    # === Config ===
    def get_config(self):
        """The model's config: the architecture's and the objective's settings."""
        return {**super().get_config(), "pixelcnn_layers": self.pixelcnn_layers, **self.objective_config()}
