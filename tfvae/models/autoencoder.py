"""The autoencoder: encoder -> z -> decoder, trained with `compile()` (mean squared error) and plain `fit`.

Trained on (clean, clean) it is a plain autoencoder; on (noisy, clean) a denoising one.
"""

import keras
import tensorflow as tf

from tfvae.models.encoder_decoder import EncoderDecoder


@keras.saving.register_keras_serializable(package="tfvae")
class Autoencoder(EncoderDecoder):
    """Deterministic encoder/decoder on the same architectures as `VAE` (default arch: conv).

    Args: as `EncoderDecoder` (image_shape, arch, the architecture's hyperparameters, network_dtype).
    """

    default_arch = "conv"
    default_loss = "mse"

    def __init__(self, image_shape, arch=None, **kwargs):
        super().__init__(image_shape, arch, heads=("z",), **kwargs)
        self.build((None, *self.image_shape))

    def call(self, images, training=False):
        return self.decode(self.encode(images, training=training), training=training)

    def encode(self, images, training=False):
        return self.latents(images, training=training)["z"]

    def decode(self, z, training=False):
        """The decoder's linear output; clipped to [0, 1] at inference (training sees it unclipped,
        so the squared error keeps a gradient everywhere)."""
        output = self.decoder_output(z, training=training)
        return output if training else tf.clip_by_value(output, 0.0, 1.0)
