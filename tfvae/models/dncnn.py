"""DnCNN (Zhang et al., 2017): the supervised denoising CNN that the VAEs are compared with.

`conv_layers` 3x3 convolutions at full resolution (ReLU; batch norm in the middle ones) estimate the
noise; the output is the noisy input minus that estimate (residual learning). No latent space, so
it exports only the `serving_default` (denoise) endpoint. Trained with `compile(loss="mse")` and
`fit` on (noisy, clean) pairs, like the denoising autoencoder.
"""

import keras
import tensorflow as tf

from tfvae.data.images import check_image_batch
from tfvae.models.arguments import check_count
from tfvae.models.precision import PolicyLayers
from tfvae.models.training_defaults import TrainingDefaults


@keras.saving.register_keras_serializable(package="tfvae")
class DnCNN(TrainingDefaults, keras.Model):
    """DnCNN, the supervised residual denoiser: the network estimates the noise, which is subtracted.

    `conv_layers` 3x3 convolutions at full resolution (the defaults are DnCNN-17: 17 layers of
    width 64). The last convolution starts at zero, so an untrained DnCNN is the identity.
    Trained with `compile()` (mean squared error) and `fit` on `(noisy, clean)` pairs; it takes
    images of any size. Calling the model denoises; the output is clipped to [0, 1] at inference.
    Other keyword arguments, e.g. `name`, go to `keras.Model`.

    Args:
        image_shape: tuple `(H, W, C)`, the shape of the training images; any height and width
            are denoised.
        conv_layers: int >= 2, the number of 3x3 convolutions. Defaults to `17`.
        width: int, channels of the hidden convolutions. Defaults to `64`.
        network_dtype: str, the Keras dtype policy of the convolutions, `"float32"` or
            `"mixed_bfloat16"`; inputs and outputs stay float32. Defaults to `"float32"`.

    Raises:
        ValueError: if `conv_layers` is not an integer >= 2 or `width` not a positive integer.

    Examples:
        >>> import numpy as np
        >>> from tfvae.models import DnCNN
        >>> model = DnCNN((8, 8, 1), conv_layers=3, width=4)
        >>> noisy = np.random.default_rng(0).uniform(size=(2, 12, 16, 1)).astype("float32")
        >>> denoised = model(noisy).numpy()
        >>> denoised.shape, bool(np.allclose(denoised, noisy))  # untrained: the identity
        ((2, 12, 16, 1), True)
    """

    default_loss = "mse"
    size_multiple = 1  # fully convolutional: any height and width
    has_latent = False
    can_sample = False
    is_density_model = False

    def __init__(
        self, image_shape: tuple, conv_layers: int = 17, width: int = 64, network_dtype: str = "float32", **kwargs
    ):
        super().__init__(**{"dtype": "float32", **kwargs})
        check_count("conv_layers", conv_layers, minimum=2)
        check_count("width", width)
        self.image_shape = tuple(image_shape)
        self.conv_layers = conv_layers
        self.width = width
        self.network_dtype = network_dtype
        self.noise_estimator = self.build_noise_estimator()
        self.built = True

    def build_noise_estimator(self) -> keras.Model:
        """Builds the network of `conv_layers` convolutions that estimates the noise.

        Returns:
            A `keras.Sequential` from noisy images `(N, H, W, C)` of any size to the estimated
                noise of the same shape.

        Examples:
            >>> from tfvae.models import DnCNN
            >>> estimator = DnCNN((8, 8, 1), conv_layers=3, width=4).build_noise_estimator()
            >>> len([layer for layer in estimator.layers if "conv" in layer.name])
            3
        """
        layers = PolicyLayers(self.network_dtype)
        middle = []
        for _ in range(self.conv_layers - 2):
            middle += [
                layers.Conv2D(self.width, 3, padding="same", use_bias=False),
                layers.BatchNormalization(momentum=0.9),
                layers.ReLU(),
            ]
        return keras.Sequential(
            [
                keras.Input((None, None, self.image_shape[-1])),
                layers.Conv2D(self.width, 3, padding="same", activation="relu"),
                *middle,
                # Zero-initialised: an untrained DnCNN is the identity, and training only improves on the input.
                layers.Conv2D(self.image_shape[-1], 3, padding="same", kernel_initializer="zeros"),
            ],
            name="noise_estimator",
        )

    def call(self, images, training=False):
        """The denoised images; clipped to [0, 1] at inference (training keeps the gradient everywhere)."""
        images = check_image_batch(images, self.image_shape, self.size_multiple)
        denoised = images - tf.cast(self.noise_estimator(images, training=training), tf.float32)
        return denoised if training else tf.clip_by_value(denoised, 0.0, 1.0)

    @classmethod
    def from_config(cls, config):
        """Also reads the configs of tfvae 0.1, which called `conv_layers` `depth`."""
        config = dict(config)
        if "depth" in config:
            config["conv_layers"] = config.pop("depth")
        return super().from_config(config)

    def get_config(self):
        """The model's config: `image_shape`, `conv_layers`, `width`, `network_dtype`."""
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "conv_layers": self.conv_layers,
            "width": self.width,
            "network_dtype": self.network_dtype,
        }
