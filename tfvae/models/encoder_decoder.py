"""What the autoencoder and the VAE share: an encoder and a decoder built from an architecture."""

import dataclasses

import keras
import tensorflow as tf

from tfvae.data.images import check_image_batch
from tfvae.models import architectures
from tfvae.models.precision import global_dtype_policy
from tfvae.models.training_defaults import TrainingDefaults


class EncoderDecoder(TrainingDefaults, keras.Model):
    """A keras.Model holding `encoder` (images -> dict of `heads`) and `decoder` (z -> images).

    Args:
        image_shape: (H, W, C) of the images.
        arch: a name in `tfvae.models.architectures.ARCHITECTURES`; None: the model's `default_arch`.
        width, latent_dim, latent_stride, residual_blocks, conv_layers: the architecture's
            hyperparameters; None (or absent) takes the architecture's default, and one the
            architecture does not have is an error.
        heads: the encoder's outputs.
        network_dtype: Keras dtype policy the encoder and decoder compute in ("float32",
            "mixed_bfloat16"); the model itself is float32, so its public methods take and
            return float32 whatever the networks compute in.

    Subclasses create their own state, then call `self.build(...)` last: Keras refuses new
    state on a built model.
    """

    default_arch = None  # set by each model
    has_latent = True  # encode / decode exist (the SavedModel's encode and decode signatures)
    can_sample = False  # decoding z ~ N(0, I) gives images
    is_density_model = False  # has an ELBO and an importance-weighted likelihood

    def __init__(
        self,
        image_shape,
        arch,
        heads,
        width=None,
        latent_dim=None,
        latent_stride=None,
        residual_blocks=None,
        conv_layers=None,
        network_dtype="float32",
        **kwargs,
    ):
        super().__init__(**{"dtype": "float32", **kwargs})
        self.image_shape = tuple(image_shape)
        self.architecture = architectures.create(
            arch or self.default_arch,
            width=width,
            latent_dim=latent_dim,
            latent_stride=latent_stride,
            residual_blocks=residual_blocks,
            conv_layers=conv_layers,
        )
        self.network_dtype = network_dtype
        with global_dtype_policy(network_dtype):
            self.encoder = self.architecture.build_encoder(self.image_shape, heads)
            self.decoder = self.architecture.build_decoder(self.image_shape)

    def uses_xla(self):
        return self.architecture.prefers_xla

    def build(self, input_shape):
        self.built = True  # encoder and decoder are functional models, built on creation

    def latents(self, images, training=False):
        """The encoder's heads for a checked image batch, as float32 tensors by name."""
        latents = self.encoder(check_image_batch(images, self.image_shape, self.size_multiple), training=training)
        return {head: tf.cast(value, tf.float32) for head, value in latents.items()}

    def decoder_output(self, z, training=False):
        """The decoder's raw output (before the likelihood's mean or clipping), as float32."""
        return tf.cast(self.decoder(z, training=training), tf.float32)

    @property
    def latent_shape(self):
        """Shape of one z of an `image_shape` image (without the batch axis)."""
        return tuple(self.architecture.latent_shape(self.image_shape))

    @property
    def size_multiple(self):
        """None when the model takes only `image_shape` images; else it takes any height and width
        that are multiples of this (a fully convolutional architecture)."""
        return self.architecture.size_divisor() if self.architecture.fully_convolutional else None

    @classmethod
    def from_config(cls, config):
        """Also reads the configs of tfvae 0.1, which held every hyperparameter for every architecture
        (unused ones ignored) and whose `depth` meant residual blocks (conv-spatial) or convolutions
        (conv-residual, now conv-fullres)."""
        if "depth" not in config:
            return super().from_config(config)
        config = dict(config)
        depth = config.pop("depth")
        if config["arch"] == "conv-residual":
            config.update(arch="conv-fullres", conv_layers=depth)
        elif config["arch"] == "conv-spatial":
            config["residual_blocks"] = depth
        own = {field.name for field in dataclasses.fields(architectures.ARCHITECTURES[config["arch"]])}
        unused = set(architectures.HYPERPARAMETERS) - own
        return super().from_config({key: value for key, value in config.items() if key not in unused})

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            **self.architecture.get_config(),
            "network_dtype": self.network_dtype,
        }
