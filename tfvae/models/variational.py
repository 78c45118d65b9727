"""What every VAE of tfvae shares: the objective's settings, `train_step` / `test_step`, and the
posterior draws a VAE is for (diverse reconstructions, their mean, their spread).

A subclass (the one-level `VAE`, the `HierarchicalVAE`) builds its networks, calls
`init_objective(objective, seed, pixelcnn_layers)` and defines how it encodes and decodes:
    posterior_state(images)              what the draws share (computed once per batch)
    draw_moments(state, seed, index)     the clean image's mean and variance given the images and
                                         one seeded draw from q(z | images) (`clean_moments`)
    denoise_once(images, training)       the estimate at the posterior mean (the deterministic denoiser)
    elbo_terms / importance_weighted_terms(noisy, targets, training)
    log_importance_weights(noisy, targets, samples, eps, training)
        -> {"log_likelihood", "log_ratio": log p(z) - log q(z | x), each (samples, N),
            "kl_levels": the analytic KL per image of each level (of the first draws),
            "first_output": the decoder's output of the first draws}

With a PixelCNN decoder (`pixelcnn_layers` >= 1) the decoder's output is a feature map, and a gated
PixelCNN conditioned on it models the pixels in raster order (`tfvae.models.pixelcnn`): the
likelihood of an image is teacher-forced (one pass), the estimate given an input is each pixel's
mean given the input's pixels before it, and images from z alone are drawn pixel by pixel.
"""

import dataclasses
import math

import keras
import tensorflow as tf

from tfvae.models.arguments import check_count
from tfvae.models.likelihoods import LIKELIHOODS, clip_to_unit
from tfvae.models.metrics import psnr
from tfvae.models.noise_models import parse_noise_model
from tfvae.models.objective import Objective
from tfvae.models.pixelcnn import PIXEL_DISTRIBUTIONS, GatedPixelCNN
from tfvae.models.sampling import Sampling
from tfvae.models.training_defaults import TrainingDefaults


def gaussian_kl(mean, log_var, prior_mean=0.0, prior_log_var=0.0):
    """KL(N(mean, exp(log_var)) || N(prior_mean, exp(prior_log_var))) per latent dimension, elementwise."""
    return 0.5 * (
        prior_log_var - log_var + (tf.exp(log_var) + tf.square(mean - prior_mean)) * tf.exp(-prior_log_var) - 1.0
    )


def gaussian_log_density(z, mean, log_var):
    """log N(z; mean, exp(log_var)) per dimension, elementwise."""
    return -0.5 * (math.log(2 * math.pi) + log_var + tf.square(z - mean) * tf.exp(-log_var))


def importance_weighted_bound(log_weights):
    """log (1/k) sum_i exp(log_weights[i]) over the k samples of axis 0: a lower bound on log p(x) per image."""
    count = tf.cast(tf.shape(log_weights)[0], log_weights.dtype)
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(count)


# The decoder's variance output is log v less this offset: v = 0.01 (std 0.1) at a zero output, so
# that the untrained decoder is neither sure of every pixel nor as unsure as the noise.
SIGNAL_LOG_VARIANCE_OFFSET = 2 * math.log(0.1)
SIGNAL_LOG_VARIANCE_RANGE = (-18.0, 2.0)  # std 1e-4 to 2.7: exp stays finite, sigma^2 + v positive
PIXEL_DRAWS = 1 << 30  # the seed stream of a posterior draw's pixel noise (levels fold in 0, 1, ...)
PIXELCNN_WIDTH = 32  # channels of each stack of a PixelCNN decoder
PIXELCNN_CONDITION = 8  # channels per image channel of the feature map a PixelCNN decoder is conditioned on


def decoder_outputs(objective: Objective, pixelcnn_layers: int) -> int:
    """Values the decoder outputs per pixel and channel: the likelihood's parameters, or with a PixelCNN
    decoder the feature map it is conditioned on."""
    return PIXELCNN_CONDITION if pixelcnn_layers else objective.decoder_outputs


def per_image(tensor):
    """`tensor` (N, ...) flattened to (N, D)."""
    return tf.reshape(tensor, [tf.shape(tensor)[0], -1])


class VariationalModel(TrainingDefaults, keras.Model):
    """Base of the VAEs: a likelihood, a KL term, optional noise model, trained with plain `fit`.

    Data are `(noisy, clean)` pairs, or images alone (then the target is the input).
    Its settings are an `Objective`.
    """

    has_latent = True
    can_sample = True
    is_density_model = True
    density_chunk = 100  # posterior draws per image in one call of the density evaluation (memory)

    def init_objective(self, objective: Objective, seed: int | None, pixelcnn_layers: int = 0) -> None:
        """Keeps the objective; creates the sampling layer, sigma_x, the PixelCNN decoder and the trackers.

        A subclass calls it from its constructor, after creating its layers (its decoder's output
        `decoder_outputs(objective, pixelcnn_layers)` values per pixel and channel) and before `build`.

        Args:
            objective: `Objective`, its likelihood resolved (not None).
            seed: int or None, seeds the sampling layer.
            pixelcnn_layers: int >= 0, the gated layers of a PixelCNN decoder; 0: none, each
                pixel's parameters come from z alone. Defaults to `0`.

        Raises:
            ValueError: if `pixelcnn_layers` is not a count, or the likelihood does not go with it
                (a PixelCNN decoder takes `"bernoulli"` or `"discretized-logistic-mixture"`, and
                the latter needs one).

        Examples:
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, beta=0.5)  # calls it
            >>> vae.objective.beta, vae.objective.likelihood  # the architecture's likelihood filled in
            (0.5, 'gaussian')
        """
        check_count("pixelcnn_layers", pixelcnn_layers, 0)
        if pixelcnn_layers and objective.likelihood not in PIXEL_DISTRIBUTIONS:
            raise ValueError(
                f"Expected likelihood in {tuple(PIXEL_DISTRIBUTIONS)} with a PixelCNN decoder. "
                f"Received: likelihood={objective.likelihood!r}, pixelcnn_layers={pixelcnn_layers!r}."
            )
        if LIKELIHOODS[objective.likelihood].pixelcnn_only and not pixelcnn_layers:
            raise ValueError(
                f"Expected pixelcnn_layers >= 1 with likelihood={objective.likelihood!r}. Received: pixelcnn_layers=0."
            )
        self.objective = objective
        self.noise_distribution = None if objective.noise_model is None else parse_noise_model(objective.noise_model)
        self.seed = seed
        self.pixelcnn_layers = pixelcnn_layers
        self.pixelcnn = None
        if pixelcnn_layers:
            channels = self.image_shape[2]
            self.pixelcnn = GatedPixelCNN(
                objective.likelihood,
                channels,
                gated_layers=pixelcnn_layers,
                width=PIXELCNN_WIDTH,
                dtype=self.network_dtype,
                name="pixelcnn",
            )
            self.pixelcnn.build((None, None, None, channels), (None, None, None, PIXELCNN_CONDITION * channels))

        self.sampling = Sampling(seed=seed, name="sampling")
        self.log_sigma_x = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(math.log(objective.sigma_x)),
            trainable=LIKELIHOODS[objective.likelihood].learned_sigma,
            name="log_sigma_x",
        )
        # One tracker per loss term; Keras resets exactly these each epoch.
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")

    @property
    def metrics(self):
        """The trackers `fit` reports and resets each epoch: loss, reconstruction, kl, psnr."""
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker, self.psnr_tracker]

    def set_weights(self, weights):
        """Keras' set_weights, but a fixed sigma_x stays this model's setting (only a learned one is copied)."""
        super().set_weights(weights)
        if not LIKELIHOODS[self.objective.likelihood].learned_sigma:
            self.log_sigma_x.assign(math.log(self.objective.sigma_x))

    # === Inference ===
    def call(self, images, training=False):
        """The denoised images: the posterior mean decoded once, or the MMSE estimate over `mmse_samples` draws."""
        if self.objective.mmse_samples and not training:
            return self.posterior_moments(images, self.objective.mmse_samples)[0]
        return self.denoise_once(images, training=training)

    def likelihood_mean(self, output: tf.Tensor) -> tf.Tensor:
        """Turns the decoder's raw output into the image it predicts, the likelihood's mean.

        Args:
            output: float32 tensor, the decoder's raw output (logits for `"bernoulli"`, the mean
                itself for the Gaussian likelihoods).

        Returns:
            A float32 tensor of the shape of `output`, in [0, 1]: the sigmoid of the logits, or
            the mean clipped to [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="mlp", width=4, latent_dim=2)  # Bernoulli: logits
            >>> float(vae.likelihood_mean(np.zeros((1, 8, 8, 1), "float32"))[0, 0, 0, 0])
            0.5
        """
        return LIKELIHOODS[self.objective.likelihood].mean(self.split_output(output)[0])

    def generated_images(self, output: tf.Tensor, seed: int | tf.Tensor = 0) -> tf.Tensor:
        """The images a decoder output stands for when no image is observed: what `decode` and `sample` return.

        Args:
            output: float32 tensor, the decoder's raw output.
            seed: int or integer tensor, seeds a PixelCNN decoder's draws. Defaults to `0`.

        Returns:
            A float32 tensor `(N, H, W, C)` in [0, 1]: the likelihood's mean, or with a PixelCNN
            decoder images drawn pixel by pixel.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, likelihood="bernoulli",
            ...           pixelcnn_layers=1)
            >>> features = np.zeros((2, 8, 8, 8), "float32")  # the decoder's output: 8 features per channel
            >>> images = vae.generated_images(features, seed=1).numpy()
            >>> images.shape, sorted(set(images.ravel()) - {0.0, 1.0})  # binary pixels, drawn
            ((2, 8, 8, 1), [])
        """
        if self.pixelcnn is not None:
            return self.pixelcnn.sample(output, seed)[0]
        return self.likelihood_mean(output)

    def split_output(self, output: tf.Tensor) -> tuple:
        """Splits the decoder's raw output into the signal's part and its log variance.

        Args:
            output: float32 tensor `(N, H, W, D)`, the decoder's raw output: D = C, or 2C with
                `decoder_variance` (the means, then the variances' raw values).

        Returns:
            A tuple `(signal, log_variance)`: the signal's raw output `(N, H, W, C)` and the log
            variance of the clean pixels given z (None without `decoder_variance`), offset by
            `SIGNAL_LOG_VARIANCE_OFFSET` and clipped to `SIGNAL_LOG_VARIANCE_RANGE`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, noise_model="gaussian:0.1",
            ...           decoder_variance=True)
            >>> signal, log_variance = vae.split_output(np.zeros((1, 8, 8, 2), "float32"))
            >>> tuple(signal.shape), round(float(np.exp(log_variance[0, 0, 0, 0])), 4)
            ((1, 8, 8, 1), 0.01)
        """
        if not self.objective.decoder_variance:
            return output, None
        signal, raw_log_variance = tf.split(output, 2, axis=-1)
        return signal, tf.clip_by_value(raw_log_variance + SIGNAL_LOG_VARIANCE_OFFSET, *SIGNAL_LOG_VARIANCE_RANGE)

    def clean_moments(self, noisy: tf.Tensor, output: tf.Tensor) -> tuple:
        """The clean image's per-pixel mean and variance given the noisy images and one z's decoder output.

        Without `decoder_variance` the decoder's mean, sure of itself (variance 0); with it, the
        posterior of each clean pixel given its noisy value and the decoder's N(signal, v)
        (`noise_models.censored_posterior`), its mean clipped to [0, 1]. With a PixelCNN decoder,
        each pixel's mean given the pixels of `noisy` before it (variance 0).

        Args:
            noisy: float32 tensor `(N, H, W, C)`, the images the decoder output is for.
            output: float32 tensor, the decoder's raw output for them.

        Returns:
            A tuple `(mean, variance)` of float32 tensors shaped like `noisy`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, noise_model="gaussian:0.1",
            ...           decoder_variance=True)
            >>> noisy = np.full((1, 8, 8, 1), 0.6, "float32")
            >>> output = np.concatenate([np.full((1, 8, 8, 1), 0.4, "float32"), np.zeros((1, 8, 8, 1), "float32")], -1)
            >>> mean, variance = vae.clean_moments(noisy, output)  # v = sigma^2 = 0.01: halfway
            >>> round(float(mean[0, 0, 0, 0]), 4), round(float(variance[0, 0, 0, 0]), 4)
            (0.5, 0.005)
        """
        if self.pixelcnn is not None:
            mean = self.pixelcnn.pixel_distribution.mean(noisy, self.pixelcnn(noisy, output))
            return mean, tf.zeros_like(mean)
        signal, log_variance = self.split_output(output)
        if log_variance is None:
            estimate = self.likelihood_mean(output)
            return estimate, tf.zeros_like(estimate)
        mean, variance = self.noise_distribution.posterior(noisy, signal, tf.exp(log_variance))
        return clip_to_unit(mean), variance

    def tempered_moments(self, noisy: tf.Tensor, output: tf.Tensor) -> tuple:
        """`clean_moments` of one posterior draw, the clean pixels' variance scaled by `posterior_temperature` squared.

        The temperature spreads the draws of z and of the pixels given z alike, so one number
        calibrates both.

        Args:
            noisy: float32 tensor `(N, H, W, C)`, the images the decoder output is for.
            output: float32 tensor, the decoder's raw output for one draw of z.

        Returns:
            A tuple `(mean, variance)` of float32 tensors shaped like `noisy`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, noise_model="gaussian:0.1",
            ...           decoder_variance=True, posterior_temperature=0.5)
            >>> images = np.full((1, 8, 8, 1), 0.5, "float32")
            >>> output = vae.decoder_output(vae.encode(images)[0])
            >>> tempered, plain = (m(images, output)[1] for m in (vae.tempered_moments, vae.clean_moments))
            >>> bool(np.allclose(tempered, 0.25 * plain))  # T^2 = 0.25
            True
        """
        mean, variance = self.clean_moments(noisy, output)
        return mean, tf.square(self.objective.posterior_temperature) * variance

    def posterior_samples(self, images: tf.Tensor, samples: int, seed: int = 0) -> tf.Tensor:
        """Draws from the posterior of the clean images: plausible clean versions of each image.

        Each draw decodes z ~ q(z | images); with `decoder_variance` it also draws every clean
        pixel from its posterior given the noisy pixel and that z (a Gaussian of the moments of
        `clean_moments`), clipped to [0, 1]. Draw `k` of every call is seeded by `(seed, k)`: the
        same call gives the same draws.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].
            samples: int, draws per image.
            seed: int, seeds the draws. Defaults to `0`.

        Returns:
            A float32 tensor of shape `(N, samples, H, W, C)`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> tuple(vae.posterior_samples(images, samples=3).shape)
            (2, 3, 8, 8, 1)
        """
        state = self.posterior_state(images)

        def draw(index):
            mean, variance = self.draw_moments(state, seed, index)
            if not self.objective.decoder_variance:
                return mean
            pixel_seed = tf.random.experimental.stateless_fold_in(
                tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)]), PIXEL_DRAWS
            )
            return clip_to_unit(mean + tf.sqrt(variance) * tf.random.stateless_normal(tf.shape(mean), pixel_seed))

        draws = tf.map_fn(draw, tf.range(samples), fn_output_signature=tf.float32)
        return tf.transpose(draws, tf.concat([[1, 0], tf.range(2, tf.rank(draws))], 0))

    def posterior_moments(self, images: tf.Tensor, samples: int, seed: int = 0) -> tuple:
        """The per-pixel mean and standard deviation of decoded posterior draws.

        Over the z of the draws of `posterior_samples`, accumulated one at a time (memory of one
        draw whatever `samples` is), of each draw's `clean_moments`: the mean averages their
        means (the MMSE estimate of the clean image, without the pixel draws' noise), the
        variance adds their variance to the spread of their means (how unsure the model is).

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1].
            samples: int >= 1, draws per image.
            seed: int, seeds the draws. Defaults to `0`.

        Returns:
            A tuple `(mean, std)` of float32 tensors of the shape of `images`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> mean, std = vae.posterior_moments(images, samples=4)
            >>> tuple(mean.shape), bool((std.numpy() >= 0).all())
            ((2, 8, 8, 1), True)
        """
        state = self.posterior_state(images)

        def moments(index):
            mean, variance = self.draw_moments(state, seed, index)
            return mean, tf.square(mean) + variance

        def add_draw(index, total, squares):
            mean, square = moments(index)
            return index + 1, total + mean, squares + square

        _, total, squares = tf.while_loop(lambda index, *_: index < samples, add_draw, (tf.constant(1), *moments(0)))
        mean = total / tf.cast(samples, tf.float32)
        return mean, tf.sqrt(tf.maximum(squares / tf.cast(samples, tf.float32) - tf.square(mean), 0.0))

    # === Training ===
    def negative_log_likelihood(self, targets: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
        """The reconstruction term: -log p(targets | decoder output), summed over pixels, per image.

        Under the noise model when there is one (the targets are then the noisy inputs
        themselves; with `decoder_variance`, N(signal, v + sigma^2) censored), else under the
        likelihood.

        Args:
            targets: float32 tensor of shape `(N, H, W, C)`, the images scored.
            output: float32 tensor of the same shape, the decoder's raw output.

        Returns:
            A float32 tensor of shape `(N,)`, in nats.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, sigma_x=1.0)
            >>> zeros = np.zeros((2, 8, 8, 1), "float32")  # 64 pixels of log(2 pi) / 2 each
            >>> [round(float(nll), 2) for nll in vae.negative_log_likelihood(zeros, zeros)]
            [58.81, 58.81]
        """
        if self.pixelcnn is not None:  # teacher forcing: the pixels of `targets` are its input
            return -self.pixelcnn.log_prob(targets, output)
        if self.noise_distribution is not None:
            signal, log_variance = self.split_output(output)
            return self.noise_distribution.nll(targets, signal, None if log_variance is None else tf.exp(log_variance))
        return LIKELIHOODS[self.objective.likelihood].nll(targets, output, self.log_sigma_x)

    def kl_weight(self) -> float | tf.Tensor:
        """The weight of the KL term at the current training step.

        Returns:
            beta, ramped up linearly over the first `kl_warmup_steps` optimizer steps (a tensor
                then; the model must be compiled).

        Examples:
            >>> from tfvae.models import VAE
            >>> VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, beta=0.5).kl_weight()
            0.5
            >>> warming = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, kl_warmup_steps=10)
            >>> warming.compile()
            >>> round(float(warming.kl_weight()), 3)  # the first of 10 steps
            0.1
        """
        if not self.objective.kl_warmup_steps:
            return self.objective.beta
        progress = tf.cast(self.optimizer.iterations + 1, tf.float32) / self.objective.kl_warmup_steps
        return self.objective.beta * tf.minimum(1.0, progress)

    def importance_weighted_terms(self, noisy: tf.Tensor, targets: tf.Tensor, training: bool) -> dict:
        """The loss terms of the importance-weighted bound over `iw_samples` draws, as batch means.

        Args:
            noisy: float32 tensor of shape `(N, H, W, C)`, the encoder's input.
            targets: float32 tensor of the same shape, the images the likelihood scores.
            training: bool, whether the networks run in training mode.

        Returns:
            A dict: `"loss"` (the negative bound), `"reconstruction"` (-mean log p(targets | z)
                over the draws), `"kl"` (the analytic KL, reported), `"kl_levels"` (it per level)
                and `"reconstructed"` (the clean estimate of each image's first draw).

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, iw_samples=4)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> sorted(vae.importance_weighted_terms(images, images, training=False))
            ['kl', 'kl_levels', 'loss', 'reconstructed', 'reconstruction']
        """
        weights = self.log_importance_weights(noisy, targets, self.objective.iw_samples, self.sampling.eps, training)
        return {
            "loss": -tf.reduce_mean(importance_weighted_bound(weights["log_likelihood"] + weights["log_ratio"])),
            "reconstruction": -tf.reduce_mean(weights["log_likelihood"]),
            "kl": tf.reduce_mean(tf.add_n(weights["kl_levels"])),
            "kl_levels": [tf.reduce_mean(kl) for kl in weights["kl_levels"]],
            "reconstructed": self.clean_moments(noisy, weights["first_output"])[0],
        }

    def loss_terms(self, noisy: tf.Tensor, targets: tf.Tensor, training: bool) -> dict:
        """The terms of this VAE's objective, what `train_step` and `test_step` track.

        Args:
            noisy: float32 tensor of shape `(N, H, W, C)`, the encoder's input.
            targets: float32 tensor of the same shape, the images the likelihood scores.
            training: bool, whether the networks run in training mode (and the loss takes the
                KL warm-up and free bits).

        Returns:
            `importance_weighted_terms(...)` when `iw_samples > 1`, else `elbo_terms(...)`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> sorted(vae.loss_terms(images, images, training=False))
            ['kl', 'loss', 'reconstructed', 'reconstruction']
        """
        terms = self.importance_weighted_terms if self.objective.iw_samples > 1 else self.elbo_terms
        return terms(noisy, targets, training)

    def targets(self, noisy: tf.Tensor, clean: tf.Tensor | None) -> tf.Tensor:
        """The images the likelihood scores for a batch.

        Args:
            noisy: float32 tensor, the encoder's input.
            clean: float32 tensor or None, the clean images, when the data hold them.

        Returns:
            `noisy` under a noise model (a clean image then only enters the PSNR metric) or
                when there is no clean image, else `clean`.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> noisy, clean = np.zeros((1, 8, 8, 1), "float32"), np.ones((1, 8, 8, 1), "float32")
            >>> VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2).targets(noisy, clean) is clean
            True
            >>> blind = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, noise_model="gaussian:0.1")
            >>> blind.targets(noisy, clean) is noisy
            True
        """
        return noisy if self.noise_distribution is not None or clean is None else clean

    def train_step(self, data):
        """One optimizer step on a `(noisy, clean)` batch (or images alone); returns the logs."""
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        targets = self.targets(noisy, clean)
        clean = targets if clean is None else clean
        with tf.GradientTape() as tape:
            terms = self.loss_terms(noisy, targets, training=True)
            # The optimizer sums gradients over replicas: scale the per-replica mean.
            scaled = terms["loss"] / tf.distribute.get_strategy().num_replicas_in_sync
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self.track(terms, clean, terms["reconstructed"])  # train PSNR: of the sampled reconstruction

    def test_step(self, data):
        """The loss terms and the denoiser's PSNR on a validation batch; returns the logs."""
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        targets = self.targets(noisy, clean)
        clean = targets if clean is None else clean
        return self.track(self.loss_terms(noisy, targets, training=False), clean, self(noisy, training=False))

    def track(self, terms: dict, clean: tf.Tensor, denoised: tf.Tensor) -> dict:
        """Updates the trackers from a step's loss terms and denoised images.

        Args:
            terms: dict, a step's `loss_terms` (`"loss"`, `"reconstruction"`, `"kl"`).
            clean: float32 tensor, the clean images the PSNR compares with.
            denoised: float32 tensor, the model's images.

        Returns:
            The logs `fit` prints: a dict of each tracker's running mean by name.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> images = np.full((2, 8, 8, 1), 0.5, "float32")
            >>> logs = vae.track(vae.loss_terms(images, images, training=False), images, vae(images))
            >>> sorted(logs)
            ['kl', 'loss', 'psnr', 'reconstruction']
        """
        self.loss_tracker.update_state(terms["loss"])
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        self.psnr_tracker.update_state(psnr(clean, denoised))
        return {m.name: m.result() for m in self.metrics}

    def objective_config(self) -> dict:
        """The objective's settings and the seed, for `get_config`.

        Returns:
            A dict of the `Objective` fields and `seed` by name.

        Examples:
            >>> from tfvae.models import VAE
            >>> config = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2).objective_config()
            >>> config["likelihood"], config["beta"], config["iw_samples"]
            ('gaussian', 1.0, 1)
        """
        return {**dataclasses.asdict(self.objective), "seed": self.seed}
