"""What every VAE of tfvae shares: the objective's settings, `train_step` / `test_step`, and the
posterior draws a VAE is for (diverse reconstructions, their mean, their spread).

A subclass (the one-level `VAE`, the `HierarchicalVAE`) builds its networks, calls
`init_objective(...)` and defines how it encodes and decodes:
    posterior_state(images)              what the draws share (computed once per batch)
    posterior_draw(state, seed, index)   one decoded draw from q(z | images), seeded
    denoise_once(images, training)       the posterior mean decoded (the deterministic denoiser)
    elbo_terms / importance_weighted_terms(noisy, targets, training)
    log_importance_weights(noisy, targets, samples, noise, training)
        -> {"log_likelihood", "log_ratio": log p(z) - log q(z | x), each (samples, N),
            "kl_levels": the analytic KL per image of each level (of the first draws),
            "first_output": the decoder's output of the first draws}
"""

import math

import keras
import tensorflow as tf

from tfvae.evaluation.metrics import psnr
from tfvae.models.likelihoods import LIKELIHOODS
from tfvae.models.noise_models import parse_noise_model
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


def per_image(tensor):
    """`tensor` (N, ...) flattened to (N, D)."""
    return tf.reshape(tensor, [tf.shape(tensor)[0], -1])


def _check_non_negative(name, value):
    if not value >= 0:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a number >= 0. Received: {name}={value!r}."
        )


class VariationalModel(TrainingDefaults, keras.Model):
    """Base of the VAEs: a likelihood, a KL term, optional noise model, trained with plain `fit`.

    Data are `(noisy, clean)` pairs, or images alone (then the target is the input).
    The arguments of `init_objective` are documented on `VAE`.
    """

    has_latent = True
    can_sample = True
    is_density_model = True
    density_chunk = 100  # posterior draws per image in one call of the density evaluation (memory)

    def init_objective(
        self, likelihood, sigma_x, beta, kl_warmup_steps, free_bits, iw_samples, noise_model, mmse_samples, seed
    ):
        """Check and keep the objective's settings; create the sampling layer, sigma_x and the trackers."""
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
            trainable=LIKELIHOODS[likelihood].learned_sigma,
            name="log_sigma_x",
        )
        # One tracker per loss term; Keras resets exactly these each epoch.
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker, self.psnr_tracker]

    def set_weights(self, weights):
        """Keras' set_weights, but a fixed sigma_x stays this model's setting (only a learned one is copied)."""
        super().set_weights(weights)
        if not LIKELIHOODS[self.likelihood].learned_sigma:
            self.log_sigma_x.assign(math.log(self.sigma_x))

    # === Inference ===
    def call(self, images, training=False):
        """The denoised images: the posterior mean decoded once, or the MMSE estimate over `mmse_samples` draws."""
        if self.mmse_samples and not training:
            return self.posterior_moments(images, self.mmse_samples)[0]
        return self.denoise_once(images, training=training)

    def likelihood_mean(self, output):
        """The image the decoder's raw output predicts, in [0, 1]."""
        return LIKELIHOODS[self.likelihood].mean(output)

    def posterior_samples(self, images, samples, seed=0):
        """`samples` decoded draws z ~ q(z | images) per image, (N, samples, H, W, C): plausible clean images."""
        state = self.posterior_state(images)
        draws = tf.map_fn(
            lambda index: self.posterior_draw(state, seed, index), tf.range(samples), fn_output_signature=tf.float32
        )
        return tf.transpose(draws, tf.concat([[1, 0], tf.range(2, tf.rank(draws))], 0))

    def posterior_moments(self, images, samples, seed=0):
        """(mean, std) per pixel over the `samples` draws of `posterior_samples` (the same draws),
        accumulated one draw at a time: memory of one draw whatever `samples` is."""
        state = self.posterior_state(images)
        first = self.posterior_draw(state, seed, 0)

        def add_draw(index, total, squares):
            draw = self.posterior_draw(state, seed, index)
            return index + 1, total + draw, squares + tf.square(draw)

        _, total, squares = tf.while_loop(
            lambda index, *_: index < samples, add_draw, (tf.constant(1), first, tf.square(first))
        )
        mean = total / tf.cast(samples, tf.float32)
        return mean, tf.sqrt(tf.maximum(squares / tf.cast(samples, tf.float32) - tf.square(mean), 0.0))

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

    def importance_weighted_terms(self, noisy, targets, training):
        """The negative importance-weighted bound over `iw_samples` draws, as batch means:
        {"loss", "reconstruction": -mean log p(targets | z) over the draws, "kl": the analytic KL
        (reported), "reconstructed": the mean image of each image's first draw}."""
        weights = self.log_importance_weights(noisy, targets, self.iw_samples, self.sampling.noise, training)
        return {
            "loss": -tf.reduce_mean(importance_weighted_bound(weights["log_likelihood"] + weights["log_ratio"])),
            "reconstruction": -tf.reduce_mean(weights["log_likelihood"]),
            "kl": tf.reduce_mean(tf.add_n(weights["kl_levels"])),
            "kl_levels": [tf.reduce_mean(kl) for kl in weights["kl_levels"]],
            "reconstructed": self.likelihood_mean(weights["first_output"]),
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
        return self.track(terms, clean, terms["reconstructed"])  # train PSNR: of the sampled reconstruction

    def test_step(self, data):
        noisy, clean, _ = keras.utils.unpack_x_y_sample_weight(data)
        targets = self.targets(noisy, clean)
        clean = targets if clean is None else clean
        return self.track(self.loss_terms(noisy, targets, training=False), clean, self(noisy, training=False))

    def track(self, terms, clean, denoised):
        """Update the trackers from a step's terms; the logs `fit` prints."""
        self.loss_tracker.update_state(terms["loss"])
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        self.psnr_tracker.update_state(psnr(clean, denoised))
        return {m.name: m.result() for m in self.metrics}

    def objective_config(self):
        """The `init_objective` arguments, for get_config."""
        return {
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
