"""conv-fullres: a full-resolution latent map (H, W, latent_dim).

Encoder and decoder are each a linear 1x1 map plus a stack of `conv_layers` 3x3 convolutions added
to it: the network starts from the linear solution and trains fast. The decoder sees only z.
"""

import dataclasses

from tfvae.models.architectures.base import Architecture


@dataclasses.dataclass(frozen=True)
class ConvFullres(Architecture):
    """A full-resolution latent map (H, W, latent_dim): a linear 1x1 map plus 3x3 convolutions.

    Args:
        width: int, channels of the 3x3 convolutions. Defaults to `32`.
        latent_dim: int, latent channels. Defaults to `3`.
        conv_layers: int >= 0, 3x3 convolutions of `width` channels in each of encoder and
            decoder. Defaults to `4`.
    """

    name = "conv-fullres"
    fully_convolutional = True
    width: int = 32
    latent_dim: int = 3
    conv_layers: int = dataclasses.field(default=4, metadata={"minimum": 0})

    def latent_shape(self, image_shape):
        return (image_shape[0], image_shape[1], self.latent_dim)

    def _convolutions(self, hidden, layers):
        for _ in range(self.conv_layers):
            hidden = layers.Conv2D(self.width, 3, padding="same", activation="relu")(hidden)
        return hidden

    def encoder_trunk(self, images, layers):
        def head(units, name):
            def apply(trunk):
                linear = layers.Conv2D(units, 1, name=f"{name}_linear")(images)
                return layers.Add(name=name)(
                    [linear, layers.Conv2D(units, 3, padding="same", name=f"{name}_conv")(trunk)]
                )

            return apply

        return self._convolutions(images, layers), head

    def decoder_output(self, latent, image_shape, layers):
        linear = layers.Conv2D(image_shape[2], 1)(latent)
        return layers.Add()(
            [linear, layers.Conv2D(image_shape[2], 3, padding="same")(self._convolutions(latent, layers))]
        )
