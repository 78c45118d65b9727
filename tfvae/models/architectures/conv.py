"""conv: two stride-2 convolutions down to a global latent vector, and back."""

import dataclasses

from tfvae.models.architectures.base import Architecture, dense_head


@dataclasses.dataclass(frozen=True)
class Conv(Architecture):
    """Conv(width, stride 2) -> Conv(2 width, stride 2) -> a dense latent vector; mirrored in the decoder.

    Args:
        width: int, channels of the first convolution. Defaults to `32`.
        latent_dim: int, the latent size. Defaults to `16`.
    """

    name = "conv"
    width: int = 32
    latent_dim: int = 16

    def size_divisor(self):
        return 4

    def encoder_trunk(self, images, layers):
        hidden = layers.Conv2D(self.width, 3, strides=2, padding="same", activation="relu")(images)
        hidden = layers.Conv2D(2 * self.width, 3, strides=2, padding="same", activation="relu")(hidden)
        return layers.Flatten()(hidden), dense_head(layers)

    def decoder_output(self, latent, image_shape, layers):
        height, breadth = image_shape[0] // 4, image_shape[1] // 4
        hidden = layers.Dense(height * breadth * 2 * self.width, activation="relu")(latent)
        hidden = layers.Reshape((height, breadth, 2 * self.width))(hidden)
        hidden = layers.Conv2DTranspose(2 * self.width, 3, strides=2, padding="same", activation="relu")(hidden)
        hidden = layers.Conv2DTranspose(self.width, 3, strides=2, padding="same", activation="relu")(hidden)
        return layers.Conv2D(image_shape[2], 3, padding="same")(hidden)
