"""PCA as a keras.Model: encode = project onto the top principal components, decode = map back.

Fitted in closed form (eigendecomposition of the covariance, TensorFlow linear algebra);
denoising = projecting onto the subspace, which keeps the signal's main directions and drops
most of the noise's.
"""

import keras
import numpy as np
import tensorflow as tf

from tfvae.data.images import check_image_batch, check_images
from tfvae.models.arguments import check_count
from tfvae.models.metrics import psnr


@keras.saving.register_keras_serializable(package="tfvae")
class PCA(keras.Model):
    """Principal component analysis as a Keras model: a linear encoder and decoder.

    `encode` projects the flattened, centred images onto `n_components` orthonormal directions
    and `decode` maps back (clipped to [0, 1]); calling the model does both, which denoises by
    keeping the main directions of the signal. A new `PCA` holds zeros: make a fitted one with
    `fit_pca`, which computes the directions in closed form. Other keyword arguments, e.g.
    `name`, go to `keras.Model`.

    Args:
        image_shape: tuple `(H, W, C)`, the shape of one image.
        n_components: int, the number of principal components, between 1 and H * W * C.

    Raises:
        ValueError: if `n_components` is not an integer between 1 and H * W * C.

    Examples:
        >>> import numpy as np
        >>> from tfvae.models import fit_pca
        >>> images = np.random.default_rng(0).uniform(size=(16, 4, 4, 1)).astype("float32")
        >>> pca = fit_pca(images, n_components=3)
        >>> pca.n_components, tuple(pca(images).shape)
        (3, (16, 4, 4, 1))
    """

    has_latent = True
    size_multiple = None  # a fixed image size
    can_sample = False
    is_density_model = False

    def __init__(self, image_shape: tuple, n_components: int, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        size = int(np.prod(self.image_shape))
        check_count("n_components", n_components)
        if n_components > size:
            raise ValueError(f"Expected n_components between 1 and {size}. Received: n_components={n_components!r}.")
        self.n_components = n_components
        self.mean = self.add_weight(shape=(size,), initializer="zeros", trainable=False, name="mean")
        self.components = self.add_weight(
            shape=(size, n_components), initializer="zeros", trainable=False, name="components"
        )
        self.built = True

    @property
    def latent_shape(self) -> tuple:
        """The shape of one latent vector, `(n_components,)`.

        Examples:
            >>> from tfvae.models import PCA
            >>> PCA((4, 4, 1), n_components=3).latent_shape
            (3,)
        """
        return (self.n_components,)

    def encode(self, images: tf.Tensor) -> tf.Tensor:
        """Projects images onto the principal components.

        Args:
            images: float32 tensor or array of shape `(N, *image_shape)`, values in [0, 1].

        Returns:
            A float32 tensor of shape `(N, n_components)`: the coordinates of the centred images.

        Raises:
            ValueError: if `images` are not float32 or not of shape `(N, *image_shape)`.
            tf.errors.InvalidArgumentError: if `images` are empty, not finite or outside [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import fit_pca
            >>> images = np.random.default_rng(0).uniform(size=(16, 4, 4, 1)).astype("float32")
            >>> tuple(fit_pca(images, n_components=3).encode(images).shape)
            (16, 3)
        """
        images = check_image_batch(images, self.image_shape)
        flat = tf.reshape(images, [tf.shape(images)[0], -1])
        return tf.matmul(flat - self.mean, self.components)

    def latents(self, images: tf.Tensor) -> dict:
        """Projects images onto the principal components, named as the other models name latents.

        Args:
            images: float32 tensor or array of shape `(N, *image_shape)`, values in [0, 1].

        Returns:
            A dict `{"z": encode(images)}`, what the SavedModel's `encode` signature returns.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import PCA
            >>> latents = PCA((4, 4, 1), n_components=3).latents(np.zeros((2, 4, 4, 1), "float32"))
            >>> {name: tuple(z.shape) for name, z in latents.items()}
            {'z': (2, 3)}
        """
        return {"z": self.encode(images)}

    def decode(self, z: tf.Tensor) -> tf.Tensor:
        """Maps latent coordinates back to images.

        Args:
            z: float32 tensor or array of shape `(N, n_components)`.

        Returns:
            A float32 tensor of shape `(N, *image_shape)`, clipped to [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import fit_pca
            >>> images = np.random.default_rng(0).uniform(size=(16, 4, 4, 1)).astype("float32")
            >>> pca = fit_pca(images, n_components=16)  # every direction: nothing is lost
            >>> restored = pca.decode(pca.encode(images)).numpy()
            >>> bool(np.abs(restored - images).max() < 1e-4)
            True
        """
        flat = tf.matmul(z, self.components, transpose_b=True) + self.mean
        return tf.clip_by_value(tf.reshape(flat, [-1, *self.image_shape]), 0.0, 1.0)

    def call(self, images, training=False):
        """The images projected onto the principal components: `decode(encode(images))`."""
        return self.decode(self.encode(images))

    def get_config(self):
        """The model's config: `image_shape` and `n_components`."""
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


def fit_pca(images: np.ndarray, n_components: int | None = None, validation: tuple | None = None) -> PCA:
    """Fits a `PCA` to images in closed form (an eigendecomposition of their covariance).

    Args:
        images: float32 array of shape `(N, H, W, C)`, values in [0, 1], the training images.
        n_components: int or None, the number of components to keep. Defaults to `None`: the
            count, on the grid 1, 2, 3, 4, 6, 8, 12, ..., whose projection of the noisy
            validation images has the best PSNR against the clean ones.
        validation: tuple `(noisy, clean)` of float32 arrays or None, the images that choose
            `n_components` when it is None. Defaults to `None`.

    Returns:
        A fitted `PCA` of the images' shape.

    Raises:
        ValueError: if `images` (or the validation images) break the image contract, or
            `n_components` and `validation` are both None.

    Examples:
        >>> import numpy as np
        >>> from tfvae.data import add_noise
        >>> from tfvae.models import fit_pca
        >>> clean = np.random.default_rng(0).uniform(size=(32, 4, 4, 1)).astype("float32")
        >>> pca = fit_pca(clean, validation=(add_noise(clean, "gaussian:0.1"), clean))
        >>> 1 <= pca.n_components <= 16
        True
    """
    mean, eigenvectors, _ = principal_components(images)
    if n_components is None:
        if validation is None:
            raise ValueError("Expected validation=(noisy, clean) to choose n_components. Received: validation=None.")
        n_components = best_component_count(mean, eigenvectors, *validation)
    return pca_model(images.shape[1:], mean, eigenvectors, n_components)
