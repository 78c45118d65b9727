"""Decoder likelihoods: how the decoder's raw output parameterises p(clean | z).

Each entry has `nll(clean, output, log_sigma_x)`, the negative log-likelihood per image (summed
over pixels, nats), and `mean(output)`, the image the decoder predicts (in [0, 1]).

- bernoulli: output = logits, mean = sigmoid(logits) (the original MLP VAE's BCE; binarized MNIST densities).
- gaussian: output = the mean itself (linear), N(clean; output, sigma_x^2) per pixel, mean
  clipped to [0, 1]. Not sigmoid: sigmoid + squared error stops learning once the background
  saturates the sigmoid (the gradient carries a factor mu (1 - mu)), which collapses MNIST models.
- gaussian-learned: gaussian with a trainable sigma_x.
- discretized-gaussian: the probability of the image's 8-bit bin (width 1/255; the first and
  last bins take the tails) under N(output, sigma_x^2), sigma_x trainable: a discrete likelihood,
  so its NLL in bits per dimension is comparable with the density literature on CIFAR-10.
- discretized-logistic-mixture: PixelCNN++'s distribution over 8-bit values, with a PixelCNN decoder
  only (`tfvae.models.pixelcnn`, which then scores every pixel; so do its bernoulli pixels).
"""

import dataclasses
import math

import tensorflow as tf

from tfvae.models.noise_models import log_ndtr


def _sum_per_image(per_pixel):
    return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(per_pixel)[0], -1]), axis=1)


def bernoulli_nll(clean, logits, log_sigma_x):
    del log_sigma_x
    return _sum_per_image(tf.nn.sigmoid_cross_entropy_with_logits(labels=clean, logits=logits))


def gaussian_nll(clean, mean, log_sigma_x):
    scaled = (clean - mean) * tf.exp(-log_sigma_x)
    return _sum_per_image(0.5 * tf.square(scaled) + log_sigma_x + 0.5 * math.log(2 * math.pi))


BIN_HALF_WIDTH = 0.5 / 255


def discretized_gaussian_nll(clean, mean, log_sigma_x):
    inverse_sigma = tf.exp(-log_sigma_x)
    offset = clean - mean
    # The bin's mass Phi(b) - Phi(a) is taken on the side of the mean where both CDFs are small
    # (folded by symmetry: relative precision); where even that cancels, as the density at its
    # centre times the bin's width.
    fold = tf.where(offset > 0, -1.0, 1.0)
    near = (fold * offset + BIN_HALF_WIDTH) * inverse_sigma
    far = (fold * offset - BIN_HALF_WIDTH) * inverse_sigma
    mass = 0.5 * (tf.math.erfc(-near / math.sqrt(2.0)) - tf.math.erfc(-far / math.sqrt(2.0)))
    density_times_width = (
        -0.5 * tf.square(offset * inverse_sigma) - log_sigma_x + math.log(2 * BIN_HALF_WIDTH / math.sqrt(2 * math.pi))
    )
    log_mass = tf.where(mass > 1e-6, tf.math.log(tf.maximum(mass, 1e-12)), density_times_width)
    # The first and last bins take the tails: (-inf, 0.5/255) and (1 - 0.5/255, inf).
    log_mass = tf.where(clean < BIN_HALF_WIDTH, log_ndtr((BIN_HALF_WIDTH - mean) * inverse_sigma), log_mass)
    log_mass = tf.where(clean > 1 - BIN_HALF_WIDTH, log_ndtr((mean - 1 + BIN_HALF_WIDTH) * inverse_sigma), log_mass)
    return _sum_per_image(-log_mass)


def clip_to_unit(output):
    return tf.clip_by_value(output, 0.0, 1.0)


def _pixelcnn_only(*args):
    raise ValueError(
        "Expected a PixelCNN decoder (pixelcnn_layers >= 1) with likelihood='discretized-logistic-mixture'."
    )


@dataclasses.dataclass(frozen=True)
class Likelihood:
    nll: object
    mean: object
    learned_sigma: bool = False  # sigma_x is a trainable weight (else the model's fixed setting)
    pixelcnn_only: bool = False  # a distribution of a PixelCNN decoder's pixels, which has no direct form here


LIKELIHOODS = {
    "bernoulli": Likelihood(bernoulli_nll, tf.sigmoid),
    "gaussian": Likelihood(gaussian_nll, clip_to_unit),
    "gaussian-learned": Likelihood(gaussian_nll, clip_to_unit, learned_sigma=True),
    "discretized-gaussian": Likelihood(discretized_gaussian_nll, clip_to_unit, learned_sigma=True),
    "discretized-logistic-mixture": Likelihood(_pixelcnn_only, _pixelcnn_only, pixelcnn_only=True),
}
