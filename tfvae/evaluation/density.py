"""A VAE as a density model: ELBO, importance-weighted NLL, KL per latent dimension, active units.

    log p(x) >= log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x),  z_i ~ q(z | x)   (Burda et al. 2016)

k = 1 in expectation is the ELBO; the bound tightens as k grows. Samples are drawn in chunks so
memory stays bounded for k = 1000 or more. Results are in nats per image and bits per dimension.
Scores are computed in float32 whatever policy the model trained in: bfloat16 logits (8-bit
mantissa) would add noise to each log-weight, and the log-mean-exp turns noise into a looser bound.
"""

import math

import numpy as np
import tensorflow as tf

from tfvae.data.images import check_images
from tfvae.models.saving import with_network_dtype
from tfvae.models.vae import importance_weighted_bound, kl_divergence


def log_weights(vae, images, samples, seed):
    """log p(x, z_i) - log q(z_i | x) for `samples` draws per image: shape (samples, N)."""
    z_mean, z_log_var = vae.encode(images)
    epsilon = tf.random.stateless_normal((samples, *z_mean.shape), seed)
    log_likelihood, log_ratio, _ = vae.importance_terms(images, z_mean, z_log_var, epsilon)
    return log_likelihood + log_ratio


def density_scores(vae, images, samples=1000, chunk=100, batch_size=100, seed=0):
    """Mean ELBO and importance-weighted NLL over `images`, in nats per image and bits per dimension,
    and the NLL's standard error over the images (how far another sample of images could move it)."""
    images = check_images(images)
    vae = with_network_dtype(vae, "float32")
    elbo, nll = [], []
    for start in range(0, len(images), batch_size):
        batch = tf.constant(images[start : start + batch_size])
        weights = [
            log_weights(vae, batch, min(chunk, samples - drawn), [seed, start * samples + drawn])
            for drawn in range(0, samples, chunk)
        ]
        weights = tf.concat(weights, axis=0)
        elbo.append(tf.reduce_mean(weights, axis=0))
        nll.append(-importance_weighted_bound(weights))
    elbo, nll = np.concatenate(elbo), np.concatenate(nll)  # per image
    mean_elbo, mean_nll = float(np.mean(elbo)), float(np.mean(nll))
    dims = int(np.prod(images.shape[1:]))
    return {
        "samples": samples,
        "elbo_nats": mean_elbo,
        "nll_nats": mean_nll,
        "nll_standard_error_nats": float(np.std(nll, ddof=1) / math.sqrt(len(nll))),
        "negative_elbo_bits_per_dim": -mean_elbo / (dims * math.log(2)),
        "nll_bits_per_dim": mean_nll / (dims * math.log(2)),
    }


def latent_usage(vae, images, batch_size=256, threshold=0.01):
    """KL per latent dimension (mean over images) and the active units: dimensions whose posterior
    mean varies across images by more than `threshold` (Burda et al.'s criterion)."""
    images = check_images(images)
    means, kls = [], []
    for start in range(0, len(images), batch_size):
        z_mean, z_log_var = vae.encode(tf.constant(images[start : start + batch_size]))
        means.append(tf.reshape(z_mean, (z_mean.shape[0], -1)).numpy())
        kls.append(kl_divergence(z_mean, z_log_var).numpy())
    means, kls = np.concatenate(means), np.concatenate(kls)
    activity = means.var(axis=0)
    return {
        "kl_per_dimension": kls.mean(axis=0).tolist(),
        "kl_total_nats": float(kls.sum(axis=1).mean()),
        "active_units": int((activity > threshold).sum()),
        "latent_dimensions": int(means.shape[1]),
    }
