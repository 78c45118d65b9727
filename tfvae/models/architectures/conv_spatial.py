"""conv-spatial: convolutions down to a latent *map* (H/stride, W/stride, latent_dim).

The latent keeps where things are, which carries CIFAR-10 detail. `residual_blocks` blocks
(conv-ReLU-conv plus identity) at the latent resolution deepen encoder and decoder. A block's last
convolution starts at zero, so a new block starts as the identity: a trained network grows deeper
without changing what it computes (`grown_weights`). With `dilation_growth` g > 1, block b dilates
its convolutions by g**b: the same weights see wider (flat regions larger than the receptive field
of plain 3x3 convolutions), so a trained network can be fine-tuned into a dilated one. No skip
connection crosses the latent.
"""

import dataclasses
import functools

from tfvae.models.architectures.base import Architecture

LATENT_STRIDES = (1, 2, 4, 8)
RESIDUAL_BLOCK = "residual_block"  # layer-name prefix; `grown_weights` finds new blocks by it


def residual_blocks(hidden, count, layers, dilation_growth=1):
    """`count` blocks hidden + conv(ReLU(conv(hidden))) of `layers`, keeping the channel count, block b's
    convolutions dilated by dilation_growth**b; each starts as the identity (its last convolution is
    zero) and its layers are named residual_block<i>_*."""
    channels = hidden.shape[-1]
    for block in range(count):
        name = f"{RESIDUAL_BLOCK}{block}_"
        conv = functools.partial(layers.Conv2D, channels, 3, padding="same", dilation_rate=dilation_growth**block)
        branch = conv(activation="relu", name=f"{name}conv_a")(hidden)
        branch = conv(kernel_initializer="zeros", name=f"{name}conv_b")(branch)
        hidden = layers.Add(name=f"{name}add")([hidden, branch])
    return hidden


def grown_weights(source_weights, source_blocks, target_variables, target_blocks):
    """Values for `target_variables` (a conv-spatial model's `weights`, `target_blocks` residual
    blocks per side) from `source_weights` (the same model's `get_weights()` with `source_blocks`
    <= `target_blocks`): the blocks the source lacks keep their identity start, all else is copied."""
    added = tuple(f"{RESIDUAL_BLOCK}{block}_" for block in range(source_blocks, target_blocks))
    is_new = [variable.path.startswith(added) for variable in target_variables]
    shapes = [tuple(variable.shape) for variable, new in zip(target_variables, is_new) if not new]
    received = [tuple(weight.shape) for weight in source_weights]
    if shapes != received:
        raise ValueError(
            f"Expected weights shaped {shapes} (a network with {source_blocks} residual blocks per side). "
            f"Received: {received}."
        )
    values = iter(source_weights)
    return [variable.numpy() if new else next(values) for variable, new in zip(target_variables, is_new)]


@dataclasses.dataclass(frozen=True)
class ConvSpatial(Architecture):
    """A latent map (H / latent_stride, W / latent_stride, latent_dim), reached by stride-2 convolutions.

    Args:
        width: int, channels of the first convolution (doubled at each stride-2 stage).
            Defaults to `32`.
        latent_dim: int, latent channels. Defaults to `4`.
        latent_stride: int, the downsampling of the latent map, one of 1, 2, 4, 8. Defaults to `2`.
        residual_blocks: int >= 0, residual blocks at the latent resolution in each of encoder and
            decoder. Defaults to `0`.
        dilation_growth: int >= 1, residual block b dilates its convolutions by
            dilation_growth**b (1: no dilation). Defaults to `1`.
    """

    name = "conv-spatial"
    fully_convolutional = True
    width: int = 32
    latent_dim: int = 4
    latent_stride: int = 2
    residual_blocks: int = dataclasses.field(default=0, metadata={"minimum": 0})
    dilation_growth: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.latent_stride not in LATENT_STRIDES:
            raise ValueError(
                f"Expected latent_stride in {LATENT_STRIDES}. Received: latent_stride={self.latent_stride!r}."
            )

    @property
    def levels(self):
        """Stride-2 stages between the image and the latent map."""
        return LATENT_STRIDES.index(self.latent_stride)

    def size_divisor(self):
        return self.latent_stride

    def latent_shape(self, image_shape):
        return (image_shape[0] // self.latent_stride, image_shape[1] // self.latent_stride, self.latent_dim)

    def encoder_trunk(self, images, layers):
        hidden = layers.Conv2D(self.width, 3, padding="same", activation="relu")(images)
        for level in range(1, self.levels + 1):
            hidden = layers.Conv2D(self.width * 2**level, 3, strides=2, padding="same", activation="relu")(hidden)
            hidden = layers.Conv2D(self.width * 2**level, 3, padding="same", activation="relu")(hidden)
        hidden = residual_blocks(hidden, self.residual_blocks, layers, self.dilation_growth)

        def head(units, name):
            return layers.Conv2D(units, 1, name=name)

        return hidden, head

    def decoder_output(self, latent, image_shape, layers):
        hidden = layers.Conv2D(self.width * 2**self.levels, 3, padding="same", activation="relu")(latent)
        hidden = residual_blocks(hidden, self.residual_blocks, layers, self.dilation_growth)
        for level in reversed(range(self.levels)):
            hidden = layers.Conv2DTranspose(self.width * 2**level, 3, strides=2, padding="same", activation="relu")(
                hidden
            )
            hidden = layers.Conv2D(self.width * 2**level, 3, padding="same", activation="relu")(hidden)
        return layers.Conv2D(image_shape[2], 3, padding="same")(hidden)
