"""DnCNN (Zhang et al., 2017): the supervised denoising CNN that the VAEs are compared with.

`depth` 3x3 convolutions at full resolution (ReLU; batch norm in the middle ones) estimate the
noise; the output is the noisy input minus that estimate (residual learning). No latent space, so
it exports only the `serving_default` (denoise) endpoint. Trained with `compile(loss="mse")` and
`fit` on (noisy, clean) pairs, like the denoising autoencoder.
"""

import keras
import tensorflow as tf

from tfvae.images import check_image_batch
from tfvae.models.base import global_dtype_policy


@keras.saving.register_keras_serializable(package="tfvae")
class DnCNN(keras.Model):
    """Residual denoiser: `depth` convolutions of `width` channels (DnCNN-17 is depth 17, width 64).

    The convolutions compute in the Keras dtype policy `network_dtype`; inputs and outputs are float32.
    """

    def __init__(self, image_shape, depth=17, width=64, network_dtype="float32", **kwargs):
        super().__init__(**{"dtype": "float32", **kwargs})
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"Expected depth to be an integer >= 2. Received: depth={depth!r}.")
        self.image_shape, self.depth, self.width, self.network_dtype = tuple(image_shape), depth, width, network_dtype
        with global_dtype_policy(network_dtype):
            self.noise_estimator = self.build_noise_estimator()
        self.built = True

    def build_noise_estimator(self):
        """The `depth` convolutions: noisy images -> estimated noise."""
        middle = []
        for _ in range(self.depth - 2):
            middle += [keras.layers.Conv2D(self.width, 3, padding="same", use_bias=False), keras.layers.BatchNormalization(momentum=0.9),
                       keras.layers.ReLU()]
        return keras.Sequential(
            [keras.Input(self.image_shape), keras.layers.Conv2D(self.width, 3, padding="same", activation="relu"), *middle,
             # Zero-initialised: an untrained DnCNN is the identity, and training only improves on the input.
             keras.layers.Conv2D(self.image_shape[-1], 3, padding="same", kernel_initializer="zeros")],
            name="noise_estimator",
        )

    def call(self, images, training=False):
        """The denoised images; clipped to [0, 1] at inference (training keeps the gradient everywhere)."""
        images = check_image_batch(images, self.image_shape)
        denoised = images - tf.cast(self.noise_estimator(images, training=training), tf.float32)
        return denoised if training else tf.clip_by_value(denoised, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "depth": self.depth, "width": self.width,
                "network_dtype": self.network_dtype}
