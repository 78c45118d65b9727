"""What every architecture is: hyperparameters (a frozen dataclass) and the two networks they build.

An encoder maps images (N, H, W, C) to a dict of latent tensors named by `heads` (("z",) for an
autoencoder, ("z_mean", "z_log_var") for a VAE); a decoder maps latents back to a linear output
shaped like the images, which the model's likelihood interprets (logits for Bernoulli, the mean
for Gaussian). Nothing bypasses the latent: the decoder sees only z.
"""

import dataclasses
from typing import ClassVar

import keras

from tfvae.models.precision import PolicyLayers

IMAGE_CHANNELS = (1, 3)


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Base of the architectures; each subclass sets `name`, its defaults and its networks.

    Args:
        width: int, hidden units (mlp) or channels of the first convolution.
        latent_dim: int, the latent size (a vector) or latent channels (a latent map).

    Raises:
        ValueError: if a hyperparameter is not an integer of its minimum.
    """

    name: ClassVar[str]
    vae_likelihood: ClassVar[str] = "gaussian"  # the VAE's likelihood unless one is given
    prefers_xla: ClassVar[bool] = False  # compile(jit_compile="auto") uses XLA
    fully_convolutional: ClassVar[bool] = False  # the networks take any height and width (multiples of size_divisor)
    width: int = 32
    latent_dim: int = 4

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < field.metadata.get("minimum", 1):
                minimum = field.metadata.get("minimum", 1)
                raise ValueError(
                    f"Expected {field.name} to be an integer >= {minimum} for arch={self.name!r}. "
                    f"Received: {field.name}={value!r}."
                )

    # === What subclasses define ===
    def size_divisor(self):
        """Image height and width must be multiples of this."""
        return 1

    def latent_shape(self, image_shape):
        """Shape of one z for images of `image_shape` (without the batch axis)."""
        return (self.latent_dim,)

    def encoder_trunk(self, images, layers):
        """(trunk tensor, head(units, name) -> layer applied to the trunk), built from `layers`
        (`precision.PolicyLayers`: keras.layers in the networks' dtype policy)."""
        raise NotImplementedError

    def decoder_output(self, latent, image_shape, layers):
        """The decoder's linear output tensor for the latent input, built from `layers`."""
        raise NotImplementedError

    # === Shared ===
    def check_image_shape(self, image_shape):
        """Raise ValueError unless this architecture can take images of `image_shape`."""
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or image_shape[2] not in IMAGE_CHANNELS:
            raise ValueError(
                f"Expected image_shape (H, W, C) with C in {IMAGE_CHANNELS}. Received: image_shape={image_shape}."
            )
        divisor = self.size_divisor()
        if image_shape[0] % divisor or image_shape[1] % divisor:
            raise ValueError(
                f"Expected image height and width divisible by {divisor} for arch={self.name!r}. "
                f"Received: image_shape={image_shape}."
            )

    def build_encoder(self, image_shape, heads, dtype="float32", extra_channels=0):
        """A keras.Model from images (with `extra_channels` more channels, e.g. a noise-level map)
        to a dict of latent tensors named by `heads`, its layers in dtype policy `dtype`."""
        self.check_image_shape(image_shape)
        input_shape = (*image_shape[:2], image_shape[2] + extra_channels)
        images = keras.Input(self.network_input_shape(input_shape), name="images")
        trunk, head = self.encoder_trunk(images, PolicyLayers(dtype))
        return keras.Model(images, {name: head(self.latent_dim, name)(trunk) for name in heads}, name="encoder")

    def build_decoder(self, image_shape, dtype="float32", outputs=1):
        """A keras.Model from latents to the decoder's linear output, shaped like the images with
        `outputs` values per channel (the likelihood's parameters), its layers in dtype policy `dtype`."""
        self.check_image_shape(image_shape)
        latent = keras.Input(self.network_input_shape(self.latent_shape(image_shape)), name="z")
        output_shape = (*image_shape[:2], image_shape[2] * outputs)
        output = self.decoder_output(latent, output_shape, PolicyLayers(dtype))
        return keras.Model(latent, output, name="decoder")

    def network_input_shape(self, shape):
        """`shape` as a network's Input: height and width left open when fully convolutional."""
        return (None, None, shape[-1]) if self.fully_convolutional else tuple(shape)

    def get_config(self):
        """{"arch": name, each hyperparameter}: the model configs' architecture part."""
        return {"arch": self.name, **dataclasses.asdict(self)}


def dense_head(layers):
    """head(units, name) -> a Dense layer of `layers`: the latent heads of a flat trunk."""
    return lambda units, name: layers.Dense(units, name=name)
