"""What the autoencoder and the VAE share: encoder and decoder networks built from hyperparameters."""

import keras

from tfvae.models import networks


class EncoderDecoder(keras.Model):
    """A keras.Model holding `encoder` (images -> dict of `heads`) and `decoder` (z -> images).

    Subclasses create their own state, then call `self.build(...)` last: Keras refuses new
    state on a built model.
    """

    def __init__(self, image_shape, arch, width, latent_dim, latent_stride, heads, depth=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.arch, self.width, self.latent_dim, self.latent_stride, self.depth = arch, width, latent_dim, latent_stride, depth
        self.encoder = networks.build_encoder(arch, self.image_shape, width, latent_dim, latent_stride, heads, depth)
        self.decoder = networks.build_decoder(arch, self.image_shape, width, latent_dim, latent_stride, depth)

    def build(self, input_shape):
        self.built = True  # encoder and decoder are functional models, built on creation

    @property
    def latent_shape(self):
        """Shape of one z (without the batch axis)."""
        return tuple(self.decoder.inputs[0].shape[1:])

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "arch": self.arch,
            "width": self.width,
            "latent_dim": self.latent_dim,
            "latent_stride": self.latent_stride,
            "depth": self.depth,
        }
