"""What the autoencoder and the VAE share: an encoder and a decoder built from an architecture."""

import dataclasses

import keras
import tensorflow as tf

from tfvae.data.images import check_image_batch
from tfvae.models import architectures
from tfvae.models.noise_models import estimate_sigma
from tfvae.models.training_defaults import TrainingDefaults


class EncoderDecoder(TrainingDefaults, keras.Model):
    """Base of `Autoencoder` and `VAE`: a keras.Model holding an `encoder` and a `decoder`.

    The encoder maps images to a dict of latents named by `heads`, the decoder maps z back to
    images; both are built from an architecture of `ARCHITECTURES`. The model itself is
    float32, so its public methods take and return float32 whatever the networks compute in.
    Subclasses create their own state, then call `self.build(...)` last: Keras refuses new
    state on a built model.

    Args:
        image_shape: tuple `(H, W, C)`, the shape of the images.
        arch: str or None, a name in `ARCHITECTURES`; None takes the model's `default_arch`.
        heads: tuple of str, the names of the encoder's outputs.
        width: int or None, the architecture's width. Defaults to `None` (its default).
        latent_dim: int or None, the architecture's latent size. Defaults to `None`.
        latent_stride: int or None, conv-spatial's latent stride. Defaults to `None`.
        residual_blocks: int or None, conv-spatial's residual blocks. Defaults to `None`.
        dilation_growth: int or None, conv-spatial's growth of the blocks' dilation. Defaults to `None`.
        conv_layers: int or None, conv-fullres's convolutions. Defaults to `None`.
        network_dtype: str, the Keras dtype policy the encoder and decoder compute in,
            `"float32"` or `"mixed_bfloat16"`. Defaults to `"float32"`.
        decoder_outputs: int, values the decoder outputs per pixel and channel (the
            likelihood's parameters). Defaults to `1`.
        noise_level_input: bool, the encoder also sees a map of each image's noise std (FFDNet's
            noise-level map): given, or estimated from the image (`estimate_sigma`). Defaults
            to `False`.

    Raises:
        ValueError: if `arch` is unknown, or a hyperparameter is invalid or not the architecture's.
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
        dilation_growth=None,
        conv_layers=None,
        network_dtype="float32",
        decoder_outputs=1,
        noise_level_input=False,
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
            dilation_growth=dilation_growth,
            conv_layers=conv_layers,
        )
        if not isinstance(noise_level_input, bool):
            raise ValueError(
                f"Expected noise_level_input to be True or False. Received: noise_level_input={noise_level_input!r}."
            )
        self.network_dtype = network_dtype
        self.noise_level_input = noise_level_input
        self.encoder = self.architecture.build_encoder(
            self.image_shape, heads, network_dtype, extra_channels=int(noise_level_input)
        )
        self.decoder = self.architecture.build_decoder(self.image_shape, network_dtype, decoder_outputs)

    def uses_xla(self) -> bool:
        """Whether `compile(jit_compile="auto")` compiles the model with XLA.

        Returns:
            The architecture's `prefers_xla`: True for `mlp` (small dense layers, whose many
            small steps XLA fuses), False for the convolutional architectures.

        Examples:
            >>> from tfvae.models import VAE
            >>> VAE((8, 8, 1), arch="mlp", width=4, latent_dim=2).uses_xla()
            True
        """
        return self.architecture.prefers_xla

    def build(self, input_shape):
        """Marks the model built: encoder and decoder are functional models, built on creation."""
        self.built = True

    def latents(self, images: tf.Tensor, training: bool = False, noise_level: tf.Tensor | None = None) -> dict:
        """Runs the encoder on a checked image batch (with `noise_level_input`, and its noise-level map).

        Args:
            images: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1], of the
                model's image shape (any multiple of `size_multiple` when it is not None).
            training: bool, whether the encoder runs in training mode. Defaults to `False`.
            noise_level: float, or float32 tensor `(N,)`, with `noise_level_input`: each
                image's noise std. Defaults to `None`: estimated from the images.

        Returns:
            A dict of float32 tensors by head name: `{"z_mean", "z_log_var"}` for a VAE,
            `{"z"}` for an autoencoder (the SavedModel's `encode` signature).

        Raises:
            ValueError: if `images` are not float32 or their shape does not fit the model.
            tf.errors.InvalidArgumentError: if `images` are empty, not finite or outside [0, 1].

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> latents = vae.latents(np.zeros((2, 8, 8, 1), "float32"))
            >>> {name: tuple(value.shape) for name, value in sorted(latents.items())}
            {'z_log_var': (2, 4, 4, 2), 'z_mean': (2, 4, 4, 2)}
        """
        inputs = check_image_batch(images, self.image_shape, self.size_multiple)
        if self.noise_level_input:
            inputs = tf.concat([inputs, self.noise_level_map(inputs, noise_level)], axis=-1)
        latents = self.encoder(inputs, training=training)
        return {head: tf.cast(value, tf.float32) for head, value in latents.items()}

    def noise_level_map(self, images: tf.Tensor, noise_level: tf.Tensor | None = None) -> tf.Tensor:
        """The map of each image's noise std that the encoder sees beside it (`noise_level_input`).

        Args:
            images: float32 tensor of shape `(N, H, W, C)`, values in [0, 1].
            noise_level: float, or float32 tensor `(N,)`, each image's noise std. Defaults to
                `None`: estimated from the images (`noise_models.estimate_sigma`, the blind case).

        Returns:
            A float32 tensor `(N, H, W, 1)`, constant over each image.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2, noise_level_input=True)
            >>> level = vae.noise_level_map(np.zeros((2, 8, 8, 1), "float32"), noise_level=0.2)
            >>> tuple(level.shape), float(level[1, 7, 7, 0])
            ((2, 8, 8, 1), 0.20000000298023224)
        """
        images = tf.convert_to_tensor(images, tf.float32)
        level = estimate_sigma(images) if noise_level is None else tf.convert_to_tensor(noise_level, tf.float32)
        level = tf.broadcast_to(level, tf.shape(images)[:1])
        return tf.ones_like(images[..., :1]) * level[:, None, None, None]

    def decoder_output(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Runs the decoder: its raw output, before the likelihood's mean or any clipping.

        Args:
            z: float32 tensor or array of shape `(N, *latent_shape)`, the latents.
            training: bool, whether the decoder runs in training mode. Defaults to `False`.

        Returns:
            A float32 tensor shaped like the images: logits for a Bernoulli likelihood, the mean
            itself (unclipped) for the Gaussian ones and the autoencoder.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import VAE
            >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
            >>> tuple(vae.decoder_output(np.zeros((2, *vae.latent_shape), "float32")).shape)
            (2, 8, 8, 1)
        """
        return tf.cast(self.decoder(z, training=training), tf.float32)

    @property
    def latent_shape(self) -> tuple:
        """The shape of one z of an `image_shape` image, without the batch axis.

        Examples:
            >>> from tfvae.models import VAE
            >>> VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2).latent_shape
            (4, 4, 2)
            >>> VAE((8, 8, 1), arch="conv", width=4, latent_dim=2).latent_shape
            (2,)
        """
        return tuple(self.architecture.latent_shape(self.image_shape))

    @property
    def size_multiple(self) -> int | None:
        """What image heights and widths the model takes.

        None when it takes only `image_shape` images; otherwise (a fully convolutional
        architecture) any height and width that are multiples of this number.

        Examples:
            >>> from tfvae.models import VAE
            >>> VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2).size_multiple
            2
            >>> print(VAE((8, 8, 1), arch="conv", width=4, latent_dim=2).size_multiple)
            None
        """
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
        """The model's config: `image_shape`, the architecture and its hyperparameters, `network_dtype`."""
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            **self.architecture.get_config(),
            "network_dtype": self.network_dtype,
            "noise_level_input": self.noise_level_input,
        }
