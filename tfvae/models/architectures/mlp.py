"""mlp: the networks of the original 784-400-20 MLP VAE on MNIST (a Bernoulli decoder, BCE + KL)."""

import dataclasses

from tfvae.models.architectures.base import Architecture, dense_head


@dataclasses.dataclass(frozen=True)
class MLP(Architecture):
    """Flatten -> Dense(width) LeakyReLU(0.2) -> latent; latent -> Dense(width) ReLU -> image.

    Args:
        width: int, hidden units. Defaults to `400`.
        latent_dim: int, the latent size. Defaults to `20`.
    """

    name = "mlp"
    vae_likelihood = "bernoulli"
    prefers_xla = True  # dense layers at small batch are bound by per-step overhead, which XLA fuses away
    width: int = 400
    latent_dim: int = 20

    def encoder_trunk(self, images, layers):
        hidden = layers.Dense(self.width)(layers.Flatten()(images))
        return layers.LeakyReLU(negative_slope=0.2)(hidden), dense_head(layers)

    def decoder_output(self, latent, image_shape, layers):
        hidden = layers.Dense(self.width, activation="relu")(latent)
        pixels = layers.Dense(image_shape[0] * image_shape[1] * image_shape[2])(hidden)
        return layers.Reshape(image_shape)(pixels)
