"""Encoder and decoder networks per architecture, built from hyperparameters.

Every network maps images (N, H, W, C) to latents and back; decoders return a linear output that
the model's likelihood interprets (logits for Bernoulli, the mean for Gaussian). `heads` names the
encoder's outputs: ("z",) for an autoencoder, ("z_mean", "z_log_var") for a VAE.

    mlp           the seed's network: 400 LeakyReLU(0.2) -> latent ; latent -> 400 ReLU -> image
    conv          two stride-2 convolutions -> a global latent vector
    conv-spatial  convolutions down to a latent *map* (H/stride, W/stride, latent_dim): the latent
                  keeps where things are, which carries CIFAR-10 detail; `depth` residual blocks
                  (conv-ReLU-conv plus identity) at the latent resolution deepen encoder and decoder.
                  A block's last convolution starts at zero, so a new block starts as the identity:
                  a trained network grows deeper without changing what it computes (`grown_weights`).
                  No skip connection crosses the latent, so all information passes through it
    conv-residual a full-resolution latent map (H, W, latent_dim); encoder and decoder are each a
                  linear 1x1 map plus a stack of `depth` 3x3 convolutions (a residual form that
                  starts from the linear solution and trains fast). Nothing bypasses the latent:
                  the decoder sees only z.
"""

import keras
from keras import layers


def _check_divisible(input_shape, stride, arch):
    height, width = input_shape[:2]
    if height % stride or width % stride:
        raise ValueError(
            f"Expected image height and width divisible by {stride} for arch={arch!r}. "
            f"Received: input_shape={tuple(input_shape)}."
        )


def _mlp_encoder(images, width, latent_stride, depth):
    hidden = layers.Dense(width)(layers.Flatten()(images))
    return layers.LeakyReLU(negative_slope=0.2)(hidden), layers.Dense


def _mlp_decoder(latent, input_shape, width, latent_stride, depth):
    hidden = layers.Dense(width, activation="relu")(latent)
    return layers.Reshape(input_shape)(layers.Dense(int(input_shape[0] * input_shape[1] * input_shape[2]))(hidden))


def _conv_encoder(images, width, latent_stride, depth):
    hidden = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(images)
    hidden = layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu")(hidden)
    return layers.Flatten()(hidden), layers.Dense


def _conv_decoder(latent, input_shape, width, latent_stride, depth):
    height, breadth = input_shape[0] // 4, input_shape[1] // 4
    hidden = layers.Dense(height * breadth * 2 * width, activation="relu")(latent)
    hidden = layers.Reshape((height, breadth, 2 * width))(hidden)
    hidden = layers.Conv2DTranspose(2 * width, 3, strides=2, padding="same", activation="relu")(hidden)
    hidden = layers.Conv2DTranspose(width, 3, strides=2, padding="same", activation="relu")(hidden)
    return layers.Conv2D(input_shape[2], 3, padding="same")(hidden)


RESIDUAL_BLOCK = "residual_block"


def _spatial_levels(latent_stride):
    return {1: 0, 2: 1, 4: 2, 8: 3}[latent_stride]


def _residual_blocks(hidden, depth):
    """`depth` blocks hidden + conv(ReLU(conv(hidden))), keeping the channel count; each starts as
    the identity (its last convolution is zero) and its layers are named residual_block<i>_*."""
    channels = hidden.shape[-1]
    for block in range(depth):
        name = f"{RESIDUAL_BLOCK}{block}_"
        branch = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"{name}conv_a")(hidden)
        branch = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros", name=f"{name}conv_b")(branch)
        hidden = layers.Add(name=f"{name}add")([hidden, branch])
    return hidden


def grown_weights(source_weights, source_depth, target_variables, target_depth):
    """Values for `target_variables` (a conv-spatial model's `weights`, `target_depth` residual
    blocks per side) from `source_weights` (the same model's `get_weights()` with `source_depth`
    <= `target_depth` blocks): the blocks the source lacks keep their identity start, all else is copied."""
    added = tuple(f"{RESIDUAL_BLOCK}{block}_" for block in range(source_depth, target_depth))
    is_new = [variable.path.startswith(added) for variable in target_variables]
    shapes = [tuple(variable.shape) for variable, new in zip(target_variables, is_new) if not new]
    if shapes != [tuple(weight.shape) for weight in source_weights]:
        raise ValueError(f"Expected weights shaped {shapes} (a network with {source_depth} residual blocks per side). "
                         f"Received: {[tuple(weight.shape) for weight in source_weights]}.")
    values = iter(source_weights)
    return [variable.numpy() if new else next(values) for variable, new in zip(target_variables, is_new)]


def _spatial_encoder(images, width, latent_stride, depth):
    hidden = layers.Conv2D(width, 3, padding="same", activation="relu")(images)
    for level in range(_spatial_levels(latent_stride)):
        hidden = layers.Conv2D(width * 2 ** (level + 1), 3, strides=2, padding="same", activation="relu")(hidden)
        hidden = layers.Conv2D(width * 2 ** (level + 1), 3, padding="same", activation="relu")(hidden)
    hidden = _residual_blocks(hidden, depth)

    def head(units, name):
        return layers.Conv2D(units, 1, name=name)

    return hidden, head


def _spatial_decoder(latent, input_shape, width, latent_stride, depth):
    levels = _spatial_levels(latent_stride)
    hidden = layers.Conv2D(width * 2**levels, 3, padding="same", activation="relu")(latent)
    hidden = _residual_blocks(hidden, depth)
    for level in reversed(range(levels)):
        hidden = layers.Conv2DTranspose(width * 2**level, 3, strides=2, padding="same", activation="relu")(hidden)
        hidden = layers.Conv2D(width * 2**level, 3, padding="same", activation="relu")(hidden)
    return layers.Conv2D(input_shape[2], 3, padding="same")(hidden)


def _residual_encoder(images, width, latent_stride, depth):
    hidden = images
    for _ in range(depth):
        hidden = layers.Conv2D(width, 3, padding="same", activation="relu")(hidden)

    def head(units, name):
        def apply(trunk):
            linear = layers.Conv2D(units, 1, name=f"{name}_linear")(images)
            return layers.Add(name=name)([linear, layers.Conv2D(units, 3, padding="same", name=f"{name}_conv")(trunk)])

        return apply

    return hidden, head


def _residual_decoder(latent, input_shape, width, latent_stride, depth):
    hidden = latent
    for _ in range(depth):
        hidden = layers.Conv2D(width, 3, padding="same", activation="relu")(hidden)
    linear = layers.Conv2D(input_shape[2], 1)(latent)
    return layers.Add()([linear, layers.Conv2D(input_shape[2], 3, padding="same")(hidden)])


# arch -> (encoder trunk, decoder, required divisor of height/width, latent shape)
ARCHITECTURES = {
    "mlp": (_mlp_encoder, _mlp_decoder, lambda stride: 1, lambda shape, dim, stride: (dim,)),
    "conv": (_conv_encoder, _conv_decoder, lambda stride: 4, lambda shape, dim, stride: (dim,)),
    "conv-spatial": (
        _spatial_encoder,
        _spatial_decoder,
        lambda stride: stride,
        lambda shape, dim, stride: (shape[0] // stride, shape[1] // stride, dim),
    ),
    "conv-residual": (_residual_encoder, _residual_decoder, lambda stride: 1, lambda shape, dim, stride: (shape[0], shape[1], dim)),
}
LATENT_STRIDES = (1, 2, 4, 8)
DEFAULT_DEPTHS = {"conv-spatial": 0, "conv-residual": 4}  # archs without an entry have no depth


def resolve_depth(arch, depth):
    """`depth`, or the architecture's default when None; only conv-spatial and conv-residual have one."""
    if depth is None:
        return DEFAULT_DEPTHS.get(arch)
    if arch not in DEFAULT_DEPTHS:
        raise ValueError(f"Expected depth=None for arch={arch!r} (only {sorted(DEFAULT_DEPTHS)} have a depth). Received: depth={depth!r}.")
    if not isinstance(depth, int) or depth < 0:
        raise ValueError(f"Expected depth to be an integer >= 0. Received: depth={depth!r}.")
    return depth


def check_architecture(arch, input_shape, width, latent_dim, latent_stride, depth=None):
    """Raise ValueError naming any hyperparameter that cannot build a network."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"Expected arch to be one of {sorted(ARCHITECTURES)}. Received: arch={arch!r}.")
    if len(input_shape) != 3 or input_shape[2] not in (1, 3):
        raise ValueError(f"Expected input_shape (H, W, C) with C in (1, 3). Received: input_shape={input_shape}.")
    for name, value in (("width", width), ("latent_dim", latent_dim)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"Expected {name} to be a positive integer. Received: {name}={value!r}.")
    if latent_stride not in LATENT_STRIDES:
        raise ValueError(f"Expected latent_stride in {LATENT_STRIDES}. Received: latent_stride={latent_stride!r}.")
    _check_divisible(input_shape, ARCHITECTURES[arch][2](latent_stride), arch)
    resolve_depth(arch, depth)


def latent_shape(arch, input_shape, latent_dim, latent_stride):
    return ARCHITECTURES[arch][3](input_shape, latent_dim, latent_stride)


def build_encoder(arch, input_shape, width, latent_dim, latent_stride, heads, depth=None):
    """A keras.Model from images to a dict of latent tensors named by `heads`."""
    check_architecture(arch, input_shape, width, latent_dim, latent_stride, depth)
    images = keras.Input(tuple(input_shape), name="images")
    trunk, head = ARCHITECTURES[arch][0](images, width, latent_stride, resolve_depth(arch, depth))
    outputs = {name: head(latent_dim, name=name)(trunk) for name in heads}
    return keras.Model(images, outputs, name="encoder")


def build_decoder(arch, input_shape, width, latent_dim, latent_stride, depth=None):
    """A keras.Model from latents to the decoder's linear output, shaped like the images."""
    check_architecture(arch, input_shape, width, latent_dim, latent_stride, depth)
    latent = keras.Input(latent_shape(arch, input_shape, latent_dim, latent_stride), name="z")
    logits = ARCHITECTURES[arch][1](latent, tuple(input_shape), width, latent_stride, resolve_depth(arch, depth))
    return keras.Model(latent, logits, name="decoder")
