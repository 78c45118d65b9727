"""The variational autoencoder: encoder -> Sampling -> decoder, trained with plain `fit`.

`train_step` / `test_step` add the KL term to the reconstruction loss. `call` is deterministic
(decodes z_mean): that is the denoiser. Data are `(noisy, clean)` pairs, or images alone
(then the target is the input).
"""

import math

import keras
import tensorflow as tf

from tfvae.layers import Sampling
from tfvae.metrics import psnr
from tfvae.models.base import EncoderDecoder
from tfvae.models.likelihoods import LIKELIHOODS


def kl_divergence(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) per latent dimension, flattened to (N, D)."""
    per_dim = 0.5 * (tf.exp(z_log_var) + tf.square(z_mean) - 1.0 - z_log_var)
    return tf.reshape(per_dim, [tf.shape(z_mean)[0], -1])


def importance_weighted_bound(log_weights):
    """log (1/k) sum_i exp(log_weights[i]) over the k samples of axis 0: a lower bound on log p(x) per image."""
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(tf.cast(tf.shape(log_weights)[0], log_weights.dtype))


@keras.saving.register_keras_serializable(package="tfvae")
class VAE(EncoderDecoder):
    """A VAE for denoising: encoder(noisy) -> z ~ q(z | noisy) -> decoder(z) ~ p(clean | z).

    Args:
        image_shape: (H, W, C) of the images.
        arch: "mlp" (the seed's 784-400-20), "conv" (global latent), "conv-spatial" (latent map) or
            "conv-residual" (full-resolution latent map, linear + convolutional encoder and decoder).
        width: hidden units (mlp) or channels of the first convolution.
        latent_dim: latent size (mlp, conv) or latent channels (conv-spatial).
        latent_stride: conv-spatial downsampling factor of the latent map (1, 2, 4 or 8).
        depth: residual blocks at the latent resolution (conv-spatial, default 0) or convolutions
            (conv-residual, default 4) in each of encoder and decoder.
        likelihood: "bernoulli", "gaussian" (fixed sigma_x) or "gaussian-learned".
        sigma_x: the Gaussian decoder's standard deviation (initial value when learned).
        beta: weight of the KL term.
        kl_warmup_steps: beta ramps up linearly from 0 over this many training steps.
        free_bits: nats per latent dimension (batch average) below which the KL is not penalised.
        iw_samples: posterior draws per image in the loss: 1 is the ELBO (analytic KL); k > 1 the
            importance-weighted bound log (1/k) sum_i p(x, z_i) / q(z_i | x) (IWAE, Burda et al.
            2016), tighter, with beta 1 and no KL warm-up or free bits.
        seed: seeds the Sampling layer.
        network_dtype: Keras dtype policy of the encoder and decoder ("float32", "mixed_bfloat16");
            inputs, latents, outputs and losses are float32 under any.
    """

    def __init__(
        self,
        image_shape,
        arch="conv-spatial",
        width=32,
        latent_dim=4,
        latent_stride=2,
        depth=None,
        likelihood="gaussian",
        sigma_x=0.05,
        beta=1.0,
        kl_warmup_steps=0,
        free_bits=0.0,
        iw_samples=1,
        seed=None,
        **kwargs,
    ):
        # === Config ===
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"Expected likelihood in {sorted(LIKELIHOODS)}. Received: likelihood={likelihood!r}.")
        for name, value in (("sigma_x", sigma_x), ("beta", beta), ("kl_warmup_steps", kl_warmup_steps), ("free_bits", free_bits)):
            if not value >= 0 or (name == "sigma_x" and not value > 0):
                raise ValueError(f"Expected {name} {'> 0' if name == 'sigma_x' else '>= 0'}. Received: {name}={value!r}.")
        if not isinstance(iw_samples, int) or iw_samples < 1:
            raise ValueError(f"Expected iw_samples to be an integer >= 1. Received: iw_samples={iw_samples!r}.")
        if iw_samples > 1 and (beta != 1 or kl_warmup_steps or free_bits):
            raise ValueError(
                "Expected beta=1, kl_warmup_steps=0 and free_bits=0 with iw_samples > 1 (the importance-weighted bound "
                f"has no separate KL term). Received: beta={beta!r}, kl_warmup_steps={kl_warmup_steps!r}, free_bits={free_bits!r}."
            )

        # === Layers: encoder, decoder (EncoderDecoder), sampling ===
        super().__init__(image_shape, arch, width, latent_dim, latent_stride, heads=("z_mean", "z_log_var"), depth=depth, **kwargs)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.likelihood, self.sigma_x, self.beta = likelihood, sigma_x, beta
        self.kl_warmup_steps, self.free_bits, self.iw_samples, self.seed = kl_warmup_steps, free_bits, iw_samples, seed

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
        return self.decode(self.encode(images, training=training)[0], training=training)

    def encode(self, images, training=False):
        """(z_mean, z_log_var) of q(z | images)."""
        latents = self.encoder_outputs(images, training=training)
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
        log_likelihood = -tf.reshape(LIKELIHOODS[self.likelihood].nll(repeated, output, self.log_sigma_x), [samples, -1])
        log_ratio = 0.5 * (z_log_var + tf.square(epsilon) - tf.square(z))  # log N(z; 0, I) - log N(z; z_mean, var)
        return log_likelihood, tf.reduce_sum(tf.reshape(log_ratio, [samples, tf.shape(z_mean)[0], -1]), axis=2), output

    # === Training ===
    def loss_terms(self, noisy, clean, training):
        """(loss to minimise, reconstruction NLL, KL) as batch means, and the sampled reconstruction."""
        z_mean, z_log_var = self.encode(noisy, training=training)
        likelihood = LIKELIHOODS[self.likelihood]
        kl_per_dim = kl_divergence(z_mean, z_log_var)
        kl = tf.reduce_mean(tf.reduce_sum(kl_per_dim, axis=1))
        if self.iw_samples > 1:
            epsilon = self.sampling.noise(tf.concat([[self.iw_samples], tf.shape(z_mean)], 0))
            log_likelihood, log_ratio, output = self.importance_terms(clean, z_mean, z_log_var, epsilon, training)
            bound = importance_weighted_bound(log_likelihood + log_ratio)
            first_draws = likelihood.mean(output[: tf.shape(z_mean)[0]])
            return -tf.reduce_mean(bound), -tf.reduce_mean(log_likelihood), kl, first_draws
        z = self.sampling([z_mean, z_log_var], training=True)
        output = self.decoder_output(z, training=training)  # float32 under any dtype policy: so are the losses
        reconstruction = tf.reduce_mean(likelihood.nll(clean, output, self.log_sigma_x))
        if not training:
            return reconstruction + self.beta * kl, reconstruction, kl, likelihood.mean(output)
        penalty = tf.reduce_sum(tf.maximum(tf.reduce_mean(kl_per_dim, axis=0), self.free_bits)) if self.free_bits else kl
        beta = self.beta
        if self.kl_warmup_steps:
            progress = tf.cast(self.optimizer.iterations + 1, tf.float32) / self.kl_warmup_steps
            beta = self.beta * tf.minimum(1.0, progress)
        return reconstruction + beta * penalty, reconstruction, kl, likelihood.mean(output)

    def train_step(self, data):
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        clean = noisy if clean is None else clean
        with tf.GradientTape() as tape:
            loss, reconstruction, kl, sampled = self.loss_terms(noisy, clean, training=True)
            # The optimizer sums gradients over replicas: scale the per-replica mean.
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._track(loss, reconstruction, kl, clean, sampled)  # train PSNR: of the sampled reconstruction

    def test_step(self, data):
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        clean = noisy if clean is None else clean
        loss, reconstruction, kl, _ = self.loss_terms(noisy, clean, training=False)
        return self._track(loss, reconstruction, kl, clean, self(noisy, training=False))

    def _track(self, loss, reconstruction, kl, clean, denoised):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
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
            "seed": self.seed,
        }
