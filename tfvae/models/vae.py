"""The variational autoencoder: encoder -> Sampling -> decoder, trained with plain `fit`.

`train_step` / `test_step` add the KL term to the reconstruction loss. `call` is deterministic
(decodes z_mean): that is the denoiser. Data are `(noisy, clean)` pairs, or images alone
(then the target is the input).
"""

import keras
import tensorflow as tf

from tfvae.models.encoder_decoder import EncoderDecoder
from tfvae.models.variational import VariationalModel, gaussian_kl, per_image


def kl_divergence(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) per latent dimension, flattened to (N, D)."""
    return per_image(gaussian_kl(z_mean, z_log_var))


@keras.saving.register_keras_serializable(package="tfvae")
class VAE(VariationalModel, EncoderDecoder):
    """A VAE for denoising: encoder(noisy) -> z ~ q(z | noisy) -> decoder(z) ~ p(clean | z).

    Args:
        image_shape: (H, W, C) of the images.
        arch: "conv-spatial" (default: a latent map), "mlp" (the write-up's 784-400-20), "conv"
            (global latent) or "conv-fullres" (full-resolution latent map); see
            `tfvae.models.architectures`. Its hyperparameters (width, latent_dim, latent_stride,
            residual_blocks, conv_layers) default to the architecture's own.
        likelihood: "bernoulli", "gaussian" (fixed sigma_x), "gaussian-learned" or
            "discretized-gaussian" (8-bit bins, learned sigma_x; `tfvae.models.likelihoods`);
            default: the architecture's (bernoulli for mlp, as in the write-up; gaussian otherwise).
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

        self.init_objective(
            likelihood, sigma_x, beta, kl_warmup_steps, free_bits, iw_samples, noise_model, mmse_samples, seed
        )
        self.build((None, *self.image_shape))

    # === Inference ===
    def denoise_once(self, images, training=False):
        """The posterior mean decoded."""
        return self.decode(self.encode(images, training=training)[0], training=training)

    def posterior_state(self, images):
        return self.encode(images)

    def posterior_draw(self, state, seed, index):
        """The decoded draw number `index` of z ~ q(z | x); seeded by (seed, index), so reproducible."""
        z_mean, z_log_var = state
        draw_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
        epsilon = tf.random.stateless_normal(tf.shape(z_mean), draw_seed)
        return self.decode(z_mean + tf.exp(0.5 * z_log_var) * epsilon)

    def encode(self, images, training=False):
        """(z_mean, z_log_var) of q(z | images)."""
        latents = self.latents(images, training=training)
        return latents["z_mean"], latents["z_log_var"]

    def decode(self, z, training=False):
        """Mean image of p(x | z), in [0, 1]."""
        return self.likelihood_mean(self.decoder_output(z, training=training))

    def sample(self, count, seed=0):
        """`count` images decoded from z ~ N(0, I)."""
        return self.decode(tf.random.stateless_normal((count, *self.latent_shape), [seed, 0]))

    # === Training ===
    def elbo_terms(self, noisy, targets, training):
        """The negative ELBO with one posterior draw and the analytic KL, as batch means:
        {"loss": reconstruction + beta * KL (in training: warmed-up beta, free bits), "reconstruction",
        "kl", "reconstructed": the mean image of the draw}."""
        z_mean, z_log_var = self.encode(noisy, training=training)
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
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl, "reconstructed": self.likelihood_mean(output)}

    def log_importance_weights(self, noisy, targets, samples, noise, training=False):
        """The terms of the importance-weighted bound over `samples` draws (see VariationalModel)."""
        z_mean, z_log_var = self.encode(noisy, training=training)
        epsilon = noise(tf.concat([[samples], tf.shape(z_mean)], 0))
        z = z_mean + tf.exp(0.5 * z_log_var) * epsilon
        output = self.decoder_output(tf.reshape(z, (-1, *self.latent_shape)), training=training)
        repeated = tf.reshape(tf.broadcast_to(targets, tf.concat([[samples], tf.shape(targets)], 0)), tf.shape(output))
        log_ratio = 0.5 * (z_log_var + tf.square(epsilon) - tf.square(z))  # log N(z; 0, I) - log N(z; z_mean, var)
        return {
            "log_likelihood": -tf.reshape(self.negative_log_likelihood(repeated, output), [samples, -1]),
            "log_ratio": tf.reduce_sum(tf.reshape(log_ratio, [samples, tf.shape(z_mean)[0], -1]), axis=2),
            "kl_levels": [tf.reduce_sum(kl_divergence(z_mean, z_log_var), axis=1)],
            "first_output": output[: tf.shape(z_mean)[0]],
        }

    def posterior_levels(self, images):
        """[{"mean", "log_var", "prior_mean", "prior_log_var"}] of q(z | images) and p(z): one level."""
        z_mean, z_log_var = self.encode(images)
        zeros = tf.zeros_like(z_mean)
        return [{"mean": z_mean, "log_var": z_log_var, "prior_mean": zeros, "prior_log_var": zeros}]

    # === Config ===
    def get_config(self):
        return {**super().get_config(), **self.objective_config()}
