"""The autoencoder: encoder -> z -> decoder, trained with `compile()` (mean squared error) and plain `fit`.

Trained on (clean, clean) it is a plain autoencoder; on (noisy, clean) a denoising one.
"""

import keras
import tensorflow as tf

from tfvae.models.encoder_decoder import EncoderDecoder


@keras.saving.register_keras_serializable(package="tfvae")
class Autoencoder(EncoderDecoder):
    """A deterministic autoencoder: encoder -> z -> decoder, trained with mean squared error.

    Trained on `(clean, clean)` pairs it is a plain autoencoder; on `(noisy, clean)` pairs a
    denoising one. It has the architectures of `VAE` (`ARCHITECTURES`); `compile()` defaults to
    MSE with the PSNR metric. Calling the model encodes and decodes; its output is clipped to
    [0, 1] at inference. Other keyword arguments, e.g. `name`, go to `keras.Model`.

    Args:
        image_shape: tuple `(H, W, C)`, the shape of the training images, C in (1, 3).
        arch: str or None, a name in `ARCHITECTURES`. Defaults to `None`: `"conv"`.

    Keyword Args:
        width (int | None): hidden units (`mlp`) or channels of the first convolution.
            Defaults to the architecture's.
        latent_dim (int | None): the latent size (a vector) or latent channels (a map).
            Defaults to the architecture's.
        latent_stride (int | None): `conv-spatial` only: the downsampling of the latent map, 1,
            2, 4 or 8. Defaults to 2.
        residual_blocks (int | None): `conv-spatial` only: residual blocks at the latent
            resolution in each of encoder and decoder. Defaults to 0.
        dilation_growth (int | None): `conv-spatial` only: residual block b dilates its
            convolutions by dilation_growth**b. Defaults to 1 (no dilation).
        conv_layers (int | None): `conv-fullres` only: 3x3 convolutions in each of encoder and
            decoder. Defaults to 4.
        network_dtype (str): the Keras dtype policy the encoder and decoder compute in,
            `"float32"` or `"mixed_bfloat16"`; inputs, latents, outputs and losses stay float32.
            Defaults to `"float32"`.

    Raises:
        ValueError: if `arch` is unknown, a hyperparameter is invalid or not the architecture's,
            or `image_shape` does not fit the architecture (e.g. not divisible by its stride).

    Examples:
        >>> import numpy as np
        >>> from tfvae.models import Autoencoder
        >>> model = Autoencoder((8, 8, 1), width=4, latent_dim=2)
        >>> model.latent_shape
        (2,)
        >>> tuple(model(np.zeros((2, 8, 8, 1), "float32")).shape)
        (2, 8, 8, 1)
    """

    default_arch = "conv"
    default_loss = "mse"

    def __init__(self, image_shape: tuple, arch: str | None = None, **kwargs):
        super().__init__(image_shape, arch, heads=("z",), **kwargs)
        self.build((None, *self.image_shape))

    def call(self, images, training=False):
        """The images encoded and decoded: `decode(encode(images))`."""
        return self.decode(self.encode(images, training=training), training=training)

    def encode(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Encodes images into their latents.

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1], of the
                model's image shape (any multiple of `size_multiple` when it is not None).
            training: bool, whether the encoder runs in training mode. Defaults to `False`.

        Returns:
            A float32 tensor of shape `(N, *latent_shape)`.

        Raises:
            ValueError: if `images` are not float32 or their shape does not fit the model.
            tf.errors.InvalidArgumentError: if `images` are empty, not finite or outside [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import Autoencoder
            >>> model = Autoencoder((8, 8, 1), width=4, latent_dim=2)
            >>> tuple(model.encode(np.zeros((3, 8, 8, 1), "float32")).shape)
            (3, 2)
        """
        return self.latents(images, training=training)["z"]

    def decode(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Decodes latents into images.

        Args:
            z: float32 tensor or array of shape `(N, *latent_shape)`, the latents.
            training: bool, whether the decoder runs in training mode. Defaults to `False`.

        Returns:
            A float32 tensor of shape `(N, *image_shape)`: the decoder's linear output, clipped
            to [0, 1] at inference (in training it stays unclipped, so that the squared error
            keeps a gradient everywhere).

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import Autoencoder
            >>> model = Autoencoder((8, 8, 1), width=4, latent_dim=2)
            >>> images = model.decode(np.ones((3, 2), "float32")).numpy()
            >>> images.shape, bool(images.min() >= 0 and images.max() <= 1)
            ((3, 8, 8, 1), True)
        """
        output = self.decoder_output(z, training=training)
        return output if training else tf.clip_by_value(output, 0.0, 1.0)
