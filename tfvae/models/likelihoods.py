"""Decoder likelihoods: how the decoder's raw output parameterises p(clean | z).

Each entry has `nll(clean, output, log_sigma_x)`, the negative log-likelihood per image (summed
over pixels, nats), and `mean(output)`, the image the decoder predicts (in [0, 1]).

- bernoulli: output = logits, mean = sigmoid(logits) (the write-up's BCE; binarized MNIST densities).
- gaussian: output = the mean itself (linear), N(clean; output, sigma_x^2) per pixel, mean
  clipped to [0, 1]. Not sigmoid: sigmoid + squared error stops learning once the background
  saturates the sigmoid (the gradient carries a factor mu (1 - mu)), which collapses MNIST models.
- gaussian-learned: gaussian with a trainable sigma_x.
"""

import dataclasses
import math

import tensorflow as tf


def _sum_per_image(per_pixel):
    return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(per_pixel)[0], -1]), axis=1)


def bernoulli_nll(clean, logits, log_sigma_x):
    del log_sigma_x
    return _sum_per_image(tf.nn.sigmoid_cross_entropy_with_logits(labels=clean, logits=logits))


def gaussian_nll(clean, mean, log_sigma_x):
    scaled = (clean - mean) * tf.exp(-log_sigma_x)
    return _sum_per_image(0.5 * tf.square(scaled) + log_sigma_x + 0.5 * math.log(2 * math.pi))


def clip_to_unit(output):
    return tf.clip_by_value(output, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Likelihood:
    nll: object
    mean: object


LIKELIHOODS = {
    "bernoulli": Likelihood(bernoulli_nll, tf.sigmoid),
    "gaussian": Likelihood(gaussian_nll, clip_to_unit),
    "gaussian-learned": Likelihood(gaussian_nll, clip_to_unit),
}
