"""A VAE as a density model: ELBO, importance-weighted NLL, KL per latent dimension and per level, active units.

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
from tfvae.models.variational import VariationalModel, gaussian_kl, importance_weighted_bound, per_image


def binarized(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """One seeded Bernoulli sample of each pixel: the fixed binarization density scores are computed on.

    Args:
        images: float array `(N, H, W, C)`, values in [0, 1].
        seed: int, fixes the draw. Defaults to `0`.

    Returns:
        float32 array of `images`' shape, 1 where a uniform draw fell below the pixel, else 0.

    Examples:
        >>> import numpy as np
        >>> from tfvae.evaluation.density import binarized
        >>> binarized(np.array([[[[0.0], [1.0]]]]))[..., 0].tolist()
        [[[0.0, 1.0]]]
    """
    return (np.random.default_rng(seed).uniform(size=images.shape) < images).astype(np.float32)


BINARIZED_DATASETS = ("mnist", "fashion_mnist")  # scored binarized, as the density literature does


def protocol_images(images: np.ndarray, dataset: str, seed: int = 0) -> tuple:
    """The images a density model of `dataset` is scored on, and how they were made.

    Binary datasets of the density literature (`BINARIZED_DATASETS`) are dynamically binarized
    with one seeded draw (`binarized`); any other dataset is scored on its 8-bit values as given.

    Args:
        images: float array `(N, H, W, C)`, values in [0, 1].
        dataset: str, the dataset's name, e.g. `"mnist"` or `"cifar10"`.
        seed: int, fixes the binarization. Defaults to `0`.

    Returns:
        (images scored, a phrase describing them for a results table).

    Examples:
        >>> import numpy as np
        >>> from tfvae.evaluation.density import protocol_images
        >>> protocol_images(np.full((1, 2, 2, 3), 0.5), "cifar10")[1]
        '8-bit values'
    """
    if dataset in BINARIZED_DATASETS:
        return binarized(images, seed), f"dynamically binarized (one draw with seed {seed})"
    return images, "8-bit values"


def latent_share(usage: dict, scores: dict) -> float:
    """The share of the NLL the latents carry: the KL (`latent_usage`) over the NLL (`density_scores`).

    Near 0 the latent has collapsed and the decoder models the images alone.

    Args:
        usage: dict, `latent_usage`'s result.
        scores: dict, `density_scores`' result.

    Returns:
        float, kl_total_nats / nll_nats.

    Examples:
        >>> from tfvae.evaluation.density import latent_share
        >>> latent_share({"kl_total_nats": 20.0}, {"nll_nats": 80.0})
        0.25
    """
    return usage["kl_total_nats"] / scores["nll_nats"]


def stateless_eps(seed):
    """eps(shape) -> N(0, I) draws; call i is seeded by `seed` folded with i, except the first,
    seeded by `seed` itself (so a one-level VAE, which draws once per chunk, is seeded by `seed`)."""
    calls = iter(range(2**31))

    def eps(shape):
        call = next(calls)
        call_seed = seed if call == 0 else tf.random.experimental.stateless_fold_in(seed, call)
        return tf.random.stateless_normal(shape, call_seed)

    return eps


def log_weights(vae, images, samples, seed):
    """log p(x, z_i) - log q(z_i | x) for `samples` draws per image: shape (samples, N)."""
    weights = vae.log_importance_weights(images, images, samples, stateless_eps(seed))
    return weights["log_likelihood"] + weights["log_ratio"]


def density_scores(
    vae: VariationalModel,
    images: np.ndarray,
    samples: int = 1000,
    chunk: int | None = None,
    batch_size: int = 100,
    seed: int = 0,
) -> dict:
    """Scores a VAE as a density model: its ELBO and importance-weighted NLL on some images.

    With k posterior draws z_i per image, log p(x) >= log (1/k) sum_i p(x | z_i) p(z_i) /
    q(z_i | x) (Burda et al. 2016); the bound tightens as k grows, and its mean over the draws'
    log-weights is the ELBO. The scores are computed in float32 whatever policy the model
    trained in, and the draws seeded.

    Args:
        vae: `VAE` or `HierarchicalVAE`, the model.
        images: float32 array of shape `(N, H, W, C)`, values in [0, 1], N >= 2.
        samples: int, posterior draws k per image. Defaults to `1000`.
        chunk: int or None, draws per image scored in one call (memory). Defaults to `None`:
            the model's `density_chunk`.
        batch_size: int, images per call. Defaults to `100`.
        seed: int, seeds the draws. Defaults to `0`.

    Returns:
        A dict of floats: `"elbo_nats"` and `"nll_nats"` (means over the images, nats per
            image), `"nll_standard_error_nats"` (how far another sample of images could move the
            NLL), `"negative_elbo_bits_per_dim"` and `"nll_bits_per_dim"`, and `"samples"`.

    Raises:
        ValueError: if `images` break the image contract.

    Examples:
        >>> import numpy as np
        >>> from tfvae.evaluation.density import density_scores
        >>> from tfvae.models import VAE
        >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
        >>> scores = density_scores(vae, np.full((4, 8, 8, 1), 0.5, "float32"), samples=8)
        >>> sorted(scores)
        ['elbo_nats', 'negative_elbo_bits_per_dim', 'nll_bits_per_dim', 'nll_nats',
         'nll_standard_error_nats', 'samples']
        >>> scores["nll_nats"] <= -scores["elbo_nats"]  # the bound is at least as tight as the ELBO
        True
    """
    images = check_images(images)
    chunk = chunk or vae.density_chunk
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
    """KL per latent dimension (mean over images, against each level's prior given the levels
    above it, on the posterior-mean path) and the active units: dimensions whose posterior mean
    varies across images by more than `threshold` (Burda et al.'s criterion); in all and per level
    (level 1 is the finest; a one-level VAE has one)."""
    images = check_images(images)
    means, kls = [], []
    for start in range(0, len(images), batch_size):
        levels = vae.posterior_levels(tf.constant(images[start : start + batch_size]))
        means.append([per_image(level["mean"]).numpy() for level in levels])
        kls.append(
            [
                per_image(
                    gaussian_kl(level["mean"], level["log_var"], level["prior_mean"], level["prior_log_var"])
                ).numpy()
                for level in levels
            ]
        )
    levels = []
    for level in range(len(means[0])):
        level_kls = np.concatenate([batch[level] for batch in kls])
        activity = np.concatenate([batch[level] for batch in means]).var(axis=0)
        levels.append({"kl_per_dimension": level_kls.mean(axis=0), "active": activity > threshold})
    kl_per_dimension = np.concatenate([level["kl_per_dimension"] for level in levels])
    return {
        "kl_per_dimension": kl_per_dimension.tolist(),
        "kl_total_nats": float(kl_per_dimension.sum()),
        "active_units": int(sum(level["active"].sum() for level in levels)),
        "latent_dimensions": int(kl_per_dimension.size),
        "levels": [
            {
                "kl_nats": float(level["kl_per_dimension"].sum()),
                "active_units": int(level["active"].sum()),
                "latent_dimensions": int(level["active"].size),
            }
            for level in levels
        ],
    }
