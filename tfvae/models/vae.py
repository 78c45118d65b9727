"""The variational autoencoder: encoder -> Sampling -> decoder, trained with plain `fit`.

`train_step` / `test_step` add the KL term to the reconstruction loss. `call` is deterministic
(decodes z_mean): that is the denoiser. Data are `(noisy, clean)` pairs, or images alone
(then the target is the input).
"""

import math

import keras
import tensorflow as tf

from tfvae.evaluation.metrics import psnr
from tfvae.models.encoder_decoder import EncoderDecoder
from tfvae.models.likelihoods import LIKELIHOODS
from tfvae.models.noise_models import parse_noise_model
from tfvae.models.sampling import Sampling


def kl_divergence(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) per latent dimension, flattened to (N, D)."""
    per_dim = 0.5 * (tf.exp(z_log_var) + tf.square(z_mean) - 1.0 - z_log_var)
    return tf.reshape(per_dim, [tf.shape(z_mean)[0], -1])


def importance_weighted_bound(log_weights):
    """log (1/k) sum_i exp(log_weights[i]) over the k samples of axis 0: a lower bound on log p(x) per image."""
    count = tf.cast(tf.shape(log_weights)[0], log_weights.dtype)
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(count)


def _check_non_negative(name, value):
    if not value >= 0:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a number >= 0. Received: {name}={value!r}."
        )


@keras.saving.register_keras_serializable(package="tfvae")
class VAE(EncoderDecoder):
    """A VAE for denoising: encoder(noisy) -> z ~ q(z | noisy) -> decoder(z) ~ p(clean | z).

    Args:
        image_shape: (H, W, C) of the images.
        arch: "conv-spatial" (default: a latent map), "mlp" (the write-up's 784-400-20), "conv"
            (global latent) or "conv-fullres" (full-resolution latent map); see
            `tfvae.models.architectures`. Its hyperparameters (width, latent_dim, latent_stride,
            residual_blocks, conv_layers) default to the architecture's own.
        likelihood: "bernoulli", "gaussian" (fixed sigma_x) or "gaussian-learned"; default: the
            architecture's (bernoulli for mlp, as in the write-up; gaussian otherwise).
        sigma_x: the Gaussian decoder's standard deviation (initial value when learned). Default 0.05.
        beta: weight of the KL term. Default 1.
        kl_warmup_steps: beta ramps up linearly from 0 over this many training steps. Default 0.
        free_bits: nats per latent dimension (batch average) below which the KL is not penalised. Default 0.
        iw_samples: posterior draws per image in the loss: 1 (default) is the ELBO with the
            analytic KL; k > 1 the importance-weighted bound log (1/k) sum_i p(x, z_i) / q(z_i | x)
            (IWAE, Burda et al. 2016), tighter, with beta 1 and no KL warm-up or free bits.
        noise_model: train on noisy images alone: the decoder outputs the clean signal and the
            reconstruction term is -log p(noisy input | signal) under this noise model
            ("gaussian:0.2", "gaussian:auto"; see `tfvae.models.noise_models`), with the gaussian
            likelihood's output; sigma_x is then unused. Default None: the likelihood of the clean target.
        mmse_samples: posterior draws the denoiser (`call`) averages, the MMSE estimate; 0 (default)
            decodes the posterior mean once. Fixed at export (`tfvae export --mmse-samples`).
        seed: seeds the Sampling layer.
        network_dtype: Keras dtype policy of the encoder and decoder ("float32", "mixed_bfloat16");
            inputs, latents, outputs and losses are float32 under any.
    """

    default_arch = "conv-spatial"
    can_sample = True
    is_density_model = True

    def __init__(
        self,
        image_shape,
        arch=None,
        likelihood=None,
        sigma_x=0.05,
        beta=1.0,
        kl_warmup_steps=0,
        free_bits=0.0,
        iw_samples=1,
        noise_model=None,
        mmse_samples=0,
        seed=None,
        **kwargs,
    ):
        # === Layers: encoder and decoder (EncoderDecoder), sampling ===
        super().__init__(image_shape, arch, heads=("z_mean", "z_log_var"), **kwargs)
        likelihood = likelihood or self.architecture.vae_likelihood

        # === Config ===
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"Expected likelihood in {sorted(LIKELIHOODS)}. Received: likelihood={likelihood!r}.")
        if not sigma_x > 0:
            raise ValueError(
                f"Invalid value received for argument `sigma_x`. Expected a number > 0. Received: sigma_x={sigma_x!r}."
            )
        _check_non_negative("beta", beta)
        _check_non_negative("kl_warmup_steps", kl_warmup_steps)
        _check_non_negative("free_bits", free_bits)
        if not isinstance(iw_samples, int) or iw_samples < 1:
            raise ValueError(f"Expected iw_samples to be an integer >= 1. Received: iw_samples={iw_samples!r}.")
        if iw_samples > 1 and (beta != 1 or kl_warmup_steps or free_bits):
            raise ValueError(
                "Expected beta=1, kl_warmup_steps=0 and free_bits=0 with iw_samples > 1 (the importance-weighted "
                f"bound has no separate KL term). Received: beta={beta!r}, kl_warmup_steps={kl_warmup_steps!r}, "
                f"free_bits={free_bits!r}."
            )
        if noise_model is not None and likelihood != "gaussian":
            raise ValueError(
                "Expected the gaussian likelihood with a noise model (the decoder outputs the signal itself). "
                f"Received: likelihood={likelihood!r}, noise_model={noise_model!r}."
            )
        if not isinstance(mmse_samples, int) or mmse_samples < 0:
            raise ValueError(
                f"Expected mmse_samples to be an integer >= 0 (0: one decode). Received: mmse_samples={mmse_samples!r}."
            )
        self.mmse_samples = mmse_samples
        self.noise = None if noise_model is None else parse_noise_model(noise_model)
        self.noise_model = None if noise_model is None else self.noise.spec
        self.likelihood = likelihood
        self.sigma_x = sigma_x
        self.beta = beta
        self.kl_warmup_steps = kl_warmup_steps
        self.free_bits = free_bits
        self.iw_samples = iw_samples
        self.seed = seed

        self.sampling = Sampling(seed=seed, name="sampling")
        self.log_sigma_x = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(math.log(sigma_x)),
            trainable=likelihood == "gaussian-learned",
            name="log_sigma_x",
        )

        # === Trackers (one per loss term; Keras resets exactly these each epoch) ===
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        self.build((None, *self.image_shape))

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker, self.psnr_tracker]

    def set_weights(self, weights):
        """Keras' set_weights, but a fixed sigma_x stays this model's setting (only a learned one is copied)."""
        super().set_weights(weights)
        if self.likelihood != "gaussian-learned":
            self.log_sigma_x.assign(math.log(self.sigma_x))

    # === Inference ===
    def call(self, images, training=False):
        """The denoised images: the posterior mean decoded once, or the MMSE estimate over `mmse_samples` draws."""
        if self.mmse_samples and not training:
            return self.posterior_moments(images, self.mmse_samples)[0]
        return self.decode(self.encode(images, training=training)[0], training=training)

    def _posterior_draw(self, z_mean, z_log_var, seed, index):
        """The decoded draw number `index` of z ~ q(z | x); seeded by (seed, index), so reproducible."""
        draw_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
        epsilon = tf.random.stateless_normal(tf.shape(z_mean), draw_seed)
        return self.decode(z_mean + tf.exp(0.5 * z_log_var) * epsilon)

    def posterior_samples(self, images, samples, seed=0):
        """`samples` decoded draws z ~ q(z | images) per image, (N, samples, H, W, C): plausible clean images."""
        z_mean, z_log_var = self.encode(images)
        draws = tf.map_fn(
            lambda index: self._posterior_draw(z_mean, z_log_var, seed, index),
            tf.range(samples),
            fn_output_signature=tf.float32,
        )
        return tf.transpose(draws, tf.concat([[1, 0], tf.range(2, tf.rank(draws))], 0))

    def posterior_moments(self, images, samples, seed=0):
        """(mean, std) per pixel over the `samples` draws of `posterior_samples` (the same draws),
        accumulated one draw at a time: memory of one draw whatever `samples` is."""
        z_mean, z_log_var = self.encode(images)
        first = self._posterior_draw(z_mean, z_log_var, seed, 0)

        def add_draw(index, total, squares):
            draw = self._posterior_draw(z_mean, z_log_var, seed, index)
            return index + 1, total + draw, squares + tf.square(draw)

        _, total, squares = tf.while_loop(
            lambda index, *_: index < samples, add_draw, (tf.constant(1), first, tf.square(first))
        )
        mean = total / tf.cast(samples, tf.float32)
        return mean, tf.sqrt(tf.maximum(squares / tf.cast(samples, tf.float32) - tf.square(mean), 0.0))

    def encode(self, images, training=False):
        """(z_mean, z_log_var) of q(z | images)."""
        latents = self.latents(images, training=training)
        return latents["z_mean"], latents["z_log_var"]

    def decode(self, z, training=False):
        """Mean image of p(x | z), in [0, 1]."""
        return LIKELIHOODS[self.likelihood].mean(self.decoder_output(z, training=training))

    def sample(self, count, seed=0):
        """`count` images decoded from z ~ N(0, I)."""
        return self.decode(tf.random.stateless_normal((count, *self.latent_shape), [seed, 0]))

    def importance_terms(self, targets, z_mean, z_log_var, epsilon, training=False):
        """For the k draws z = z_mean + exp(z_log_var / 2) * epsilon per image (epsilon: (k, N, *latent)),
        log p(targets | z) and log p(z) - log q(z | x), each (k, N), and the decoder's output for the
        k * N draws (sample-major)."""
        samples = tf.shape(epsilon)[0]
        z = z_mean + tf.exp(0.5 * z_log_var) * epsilon
        output = self.decoder_output(tf.reshape(z, (-1, *self.latent_shape)), training=training)
        repeated = tf.reshape(tf.broadcast_to(targets, tf.concat([[samples], tf.shape(targets)], 0)), tf.shape(output))
        log_likelihood = -tf.reshape(self.negative_log_likelihood(repeated, output), [samples, -1])
        log_ratio = 0.5 * (z_log_var + tf.square(epsilon) - tf.square(z))  # log N(z; 0, I) - log N(z; z_mean, var)
        return log_likelihood, tf.reduce_sum(tf.reshape(log_ratio, [samples, tf.shape(z_mean)[0], -1]), axis=2), output

    # === Training ===
    def negative_log_likelihood(self, targets, output):
        """-log p(targets | decoder output) per image: under the noise model when there is one (the
        targets are then the noisy inputs themselves), else the likelihood's."""
        if self.noise is not None:
            return self.noise.nll(targets, output)
        return LIKELIHOODS[self.likelihood].nll(targets, output, self.log_sigma_x)

    def kl_weight(self):
        """beta, ramped up linearly over the first `kl_warmup_steps` optimizer steps."""
        if not self.kl_warmup_steps:
            return self.beta
        progress = tf.cast(self.optimizer.iterations + 1, tf.float32) / self.kl_warmup_steps
        return self.beta * tf.minimum(1.0, progress)

    def elbo_terms(self, noisy, targets, training):
        """The negative ELBO with one posterior draw and the analytic KL, as batch means:
        {"loss": reconstruction + beta * KL (in training: warmed-up beta, free bits), "reconstruction",
        "kl", "reconstructed": the mean image of the draw}."""
        z_mean, z_log_var = self.encode(noisy, training=training)
        likelihood = LIKELIHOODS[self.likelihood]
        kl_per_dim = kl_divergence(z_mean, z_log_var)
        kl = tf.reduce_mean(tf.reduce_sum(kl_per_dim, axis=1))
        output = self.decoder_output(self.sampling([z_mean, z_log_var], training=True), training=training)
        reconstruction = tf.reduce_mean(self.negative_log_likelihood(targets, output))
        loss = reconstruction + self.beta * kl
        if training:
            penalty = kl
            if self.free_bits:
                penalty = tf.reduce_sum(tf.maximum(tf.reduce_mean(kl_per_dim, axis=0), self.free_bits))
            loss = reconstruction + self.kl_weight() * penalty
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl, "reconstructed": likelihood.mean(output)}

    def importance_weighted_terms(self, noisy, targets, training):
        """The negative importance-weighted bound over `iw_samples` draws, as batch means:
        {"loss", "reconstruction": -mean log p(targets | z) over the draws, "kl": the analytic KL
        (reported), "reconstructed": the mean image of each image's first draw}."""
        z_mean, z_log_var = self.encode(noisy, training=training)
        epsilon = self.sampling.noise(tf.concat([[self.iw_samples], tf.shape(z_mean)], 0))
        log_likelihood, log_ratio, output = self.importance_terms(targets, z_mean, z_log_var, epsilon, training)
        bound = importance_weighted_bound(log_likelihood + log_ratio)
        return {
            "loss": -tf.reduce_mean(bound),
            "reconstruction": -tf.reduce_mean(log_likelihood),
            "kl": tf.reduce_mean(tf.reduce_sum(kl_divergence(z_mean, z_log_var), axis=1)),
            "reconstructed": LIKELIHOODS[self.likelihood].mean(output[: tf.shape(z_mean)[0]]),
        }

    def loss_terms(self, noisy, targets, training):
        """The terms of this VAE's objective: `importance_weighted_terms` when iw_samples > 1, else `elbo_terms`."""
        terms = self.importance_weighted_terms if self.iw_samples > 1 else self.elbo_terms
        return terms(noisy, targets, training)

    def targets(self, noisy, clean):
        """What the likelihood scores: the input itself under a noise model (a clean image, if the
        data hold one, only enters the PSNR metric), else the clean image (the input without one)."""
        return noisy if self.noise is not None or clean is None else clean

    def train_step(self, data):
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        targets = self.targets(noisy, clean)
        clean = targets if clean is None else clean
        with tf.GradientTape() as tape:
            terms = self.loss_terms(noisy, targets, training=True)
            # The optimizer sums gradients over replicas: scale the per-replica mean.
            scaled = terms["loss"] / tf.distribute.get_strategy().num_replicas_in_sync
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._track(terms, clean, terms["reconstructed"])  # train PSNR: of the sampled reconstruction

    def test_step(self, data):
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        targets = self.targets(noisy, clean)
        clean = targets if clean is None else clean
        return self._track(self.loss_terms(noisy, targets, training=False), clean, self(noisy, training=False))

    def _track(self, terms, clean, denoised):
        self.loss_tracker.update_state(terms["loss"])
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        self.psnr_tracker.update_state(psnr(clean, denoised))
        return {m.name: m.result() for m in self.metrics}

    # === Config ===
    def get_config(self):
        return {
            **super().get_config(),
            "likelihood": self.likelihood,
            "sigma_x": self.sigma_x,
            "beta": self.beta,
            "kl_warmup_steps": self.kl_warmup_steps,
            "free_bits": self.free_bits,
            "iw_samples": self.iw_samples,
            "noise_model": self.noise_model,
            "mmse_samples": self.mmse_samples,
            "seed": self.seed,
        }
