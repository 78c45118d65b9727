"""What the autoencoder and the VAE share: encoder and decoder networks built from hyperparameters."""

import contextlib

import keras
import tensorflow as tf

from tfvae.images import check_image_batch
from tfvae.models import networks


@contextlib.contextmanager
def global_dtype_policy(name):
    """Keras' global dtype policy set to `name` inside the block: layers created there keep it."""
    keras.dtype_policies.get(name)  # an unknown name fails here, with Keras' message, before anything changes
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class EncoderDecoder(keras.Model):
    """A keras.Model holding `encoder` (images -> dict of `heads`) and `decoder` (z -> images).

    Subclasses create their own state, then call `self.build(...)` last: Keras refuses new
    state on a built model. The networks compute in the Keras dtype policy `network_dtype` (e.g.
    "mixed_bfloat16": bfloat16 layers, float32 weights); the model itself is float32, so its public
    methods take and return float32 whatever the networks compute in.
    """

    def __init__(self, image_shape, arch, width, latent_dim, latent_stride, heads, depth=None, network_dtype="float32", **kwargs):
        super().__init__(**{"dtype": "float32", **kwargs})
        self.image_shape = tuple(image_shape)
        self.arch, self.width, self.latent_dim, self.latent_stride, self.depth = arch, width, latent_dim, latent_stride, depth
        self.network_dtype = network_dtype
        with global_dtype_policy(network_dtype):
            self.encoder = networks.build_encoder(arch, self.image_shape, width, latent_dim, latent_stride, heads, depth)
            self.decoder = networks.build_decoder(arch, self.image_shape, width, latent_dim, latent_stride, depth)

    def build(self, input_shape):
        self.built = True  # encoder and decoder are functional models, built on creation

    def encoder_outputs(self, images, training=False):
        """The encoder's heads for a checked image batch, as float32."""
        latents = self.encoder(check_image_batch(images, self.image_shape), training=training)
        return {head: tf.cast(value, tf.float32) for head, value in latents.items()}

    def decoder_output(self, z, training=False):
        """The decoder's raw output (before the likelihood's mean or clipping), as float32."""
        return tf.cast(self.decoder(z, training=training), tf.float32)

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
            "network_dtype": self.network_dtype,
        }
