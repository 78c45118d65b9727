"""PCA as a keras.Model: encode = project onto the top principal components, decode = map back.

Fitted in closed form (eigendecomposition of the covariance, TensorFlow linear algebra);
denoising = projecting onto the subspace, which keeps the signal's main directions and drops
most of the noise's.
"""

import keras
import numpy as np
import tensorflow as tf

from tfvae.data.images import check_image_batch, check_images
from tfvae.evaluation.metrics import psnr


@keras.saving.register_keras_serializable(package="tfvae")
class PCA(keras.Model):
    """Linear encoder/decoder with `n_components` orthonormal directions; weights set by `fit_pca`."""

    has_latent = True
    size_multiple = None  # a fixed image size
    can_sample = False
    is_density_model = False

    def __init__(self, image_shape, n_components, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        size = int(np.prod(self.image_shape))
        if not isinstance(n_components, int) or not 1 <= n_components <= size:
            raise ValueError(f"Expected n_components between 1 and {size}. Received: n_components={n_components!r}.")
        self.n_components = n_components
        self.mean = self.add_weight(shape=(size,), initializer="zeros", trainable=False, name="mean")
        self.components = self.add_weight(
            shape=(size, n_components), initializer="zeros", trainable=False, name="components"
        )
        self.built = True

    @property
    def latent_shape(self):
        return (self.n_components,)

    def encode(self, images):
        images = check_image_batch(images, self.image_shape)
        flat = tf.reshape(images, [tf.shape(images)[0], -1])
        return tf.matmul(flat - self.mean, self.components)

    def latents(self, images):
        """{"z": the projection}, as the encoder-decoder models name their latents."""
        return {"z": self.encode(images)}

    def decode(self, z):
        flat = tf.matmul(z, self.components, transpose_b=True) + self.mean
        return tf.clip_by_value(tf.reshape(flat, [-1, *self.image_shape]), 0.0, 1.0)

    def call(self, images, training=False):
        return self.decode(self.encode(images))

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "n_components": self.n_components}


def principal_components(images):
    """(mean, eigenvectors sorted by decreasing variance, eigenvalues) of float32 NHWC images."""
    flat = tf.reshape(tf.constant(check_images(images), tf.float32), [len(images), -1])
    mean = tf.reduce_mean(flat, axis=0)
    centered = flat - mean
    covariance = tf.matmul(centered, centered, transpose_a=True) / len(images)
    eigenvalues, eigenvectors = tf.linalg.eigh(covariance)
    return mean, eigenvectors[:, ::-1], eigenvalues[::-1]


def component_candidates(size):
    """1, 2, 3, 4, 6, 8, 12, 16, ... up to `size`: a log-spaced grid for choosing k."""
    grid = sorted({int(base * 2**power) for power in range(16) for base in (1, 1.5)} | {size})
    return [k for k in grid if k <= size]


def best_component_count(mean, eigenvectors, noisy, clean):
    """The k (from `component_candidates`) whose projection of `noisy` has the best PSNR to `clean`."""
    noisy, clean = tf.constant(check_images(noisy, name="noisy")), tf.constant(check_images(clean, name="clean"))
    projected = tf.matmul(tf.reshape(noisy, [len(noisy), -1]) - mean, eigenvectors)

    def score(k):
        flat = tf.matmul(projected[:, :k], eigenvectors[:, :k], transpose_b=True) + mean
        return float(tf.reduce_mean(psnr(clean, tf.reshape(flat, tf.shape(clean)))))

    return max(component_candidates(int(mean.shape[0])), key=score)


def pca_model(image_shape, mean, eigenvectors, n_components):
    """A `PCA` holding the top `n_components` of precomputed components."""
    model = PCA(image_shape, n_components)
    model.mean.assign(mean)
    model.components.assign(eigenvectors[:, :n_components])
    return model


def fit_pca(images, n_components=None, validation=None):
    """A fitted `PCA`; with `n_components=None`, k maximises PSNR on `validation` = (noisy, clean)."""
    mean, eigenvectors, _ = principal_components(images)
    if n_components is None:
        if validation is None:
            raise ValueError("Expected validation=(noisy, clean) to choose n_components. Received: validation=None.")
        n_components = best_component_count(mean, eigenvectors, *validation)
    return pca_model(images.shape[1:], mean, eigenvectors, n_components)
