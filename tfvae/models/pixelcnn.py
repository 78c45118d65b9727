"""A gated PixelCNN: an autoregressive model of the pixels in raster order, conditioned on a feature map.

p(x | c) = prod_t p(x_t | x_<t, c) over the pixels t in raster order (row by row, left to right),
the channels of a pixel modelled jointly by its `PixelDistribution`. No feature at pixel t depends
on pixel t or on any pixel after it, so one pass over an observed image gives every conditional at
once (teacher forcing: training is parallel); generating takes one pass per pixel (`sample`).

Two stacks keep that true without the original PixelCNN's blind spot (van den Oord et al. 2016,
"Conditional Image Generation with PixelCNN Decoders"): the vertical stack sees every row above a
pixel (its window widens by `kernel_size // 2` columns a side per layer), the horizontal stack the
pixels to its left on its row and, through a 1x1 link, what the vertical stack saw. Causality comes
from the geometry (shifted inputs, one-sided padding, half-height and half-width kernels), not from
masked weights. Each layer is a gated unit tanh(a + V c) * sigmoid(b + W c) conditioned on the
feature map c (in a VAE: the latent, decoded to the image's size); the horizontal stack is residual.

Pixel distributions:
- bernoulli: one logit per channel (binarized images).
- discretized-logistic-mixture: PixelCNN++'s (Salimans et al. 2017) distribution over 8-bit values:
  a mixture of logistics, each channel's mean shifted linearly by the channels before it in the same
  pixel, each bin the logistic's mass between its edges (the first and last bins take the tails).
"""

import dataclasses
import math

import keras
import tensorflow as tf

from tfvae.models.arguments import check_count

LOG_SCALE_MIN = -7.0  # a logistic's log scale floor: the bins' masses stay representable in float32
BIN_HALF_WIDTH = 1 / 255  # half an 8-bit bin on the [-1, 1] scale the mixture works on
UNIFORM_EPS = 1e-5  # the uniform draws of the samplers stay inside (0, 1)


def _pixel_draw_seed(seed, position):
    """The stateless seed of one pixel's draw: `seed` (shape (2,)) folded with its raster position."""
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(position, tf.int64))


@dataclasses.dataclass(frozen=True)
class BernoulliPixels:
    """Each channel of a pixel is 0 or 1, with probability sigmoid(logit)."""

    name = "bernoulli"

    def parameters(self, channels: int) -> int:
        """Values per pixel: a logit per channel."""
        return channels

    def log_prob(self, images: tf.Tensor, params: tf.Tensor) -> tf.Tensor:
        """log p(pixel) per pixel, channels summed: images `(..., C)` in {0, 1}, params `(..., C)` -> `(...)`."""
        return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=params), axis=-1)

    def mean(self, images: tf.Tensor, params: tf.Tensor) -> tf.Tensor:
        """Each pixel's mean `(..., C)`: sigmoid(logit) (`images` is not needed: the channels are independent)."""
        del images
        return tf.sigmoid(params)

    def sample(self, params: tf.Tensor, seed: tf.Tensor, channels: int) -> tf.Tensor:
        """One draw of each pixel of `params` `(..., C)`: a float32 tensor `(..., C)` of 0s and 1s."""
        del channels  # a logit per channel
        uniform = tf.random.stateless_uniform(tf.shape(params), seed)
        return tf.cast(uniform < tf.sigmoid(params), tf.float32)


@dataclasses.dataclass(frozen=True)
class LogisticMixturePixels:
    """PixelCNN++'s discretized logistic mixture over 8-bit values, channels coupled within a pixel.

    Per pixel: `mixtures` logits; per component and channel a mean and a log scale; per component a
    coefficient for each earlier channel, by which that channel's value (on [-1, 1]) shifts the mean.

    Args:
        mixtures: int >= 1, the mixture's components. Defaults to `5`.
    """

    mixtures: int = 5
    name = "discretized-logistic-mixture"

    def parameters(self, channels: int) -> int:
        """Values per pixel: logits, means, log scales, and the coefficients of the earlier channels."""
        return self.mixtures * (1 + 2 * channels + channels * (channels - 1) // 2)

    def _split(self, params, channels):
        """(logits (..., K), means (..., K, C), log scales (..., K, C), coefficients (..., K, C(C-1)/2))."""
        k = self.mixtures
        sizes = [k, k * channels, k * channels, k * (channels * (channels - 1) // 2)]
        logits, means, log_scales, coefficients = tf.split(params, sizes, axis=-1)
        lead = tf.shape(params)[:-1]
        shape = tf.concat([lead, [k, -1]], 0)
        means, log_scales = tf.reshape(means, shape), tf.reshape(log_scales, shape)
        return logits, means, tf.maximum(log_scales, LOG_SCALE_MIN), tf.tanh(tf.reshape(coefficients, shape))

    @staticmethod
    def _shifted_mean(means, coefficients, values, channel):
        """Channel `channel`'s means `(..., K)`, shifted by the earlier channels' `values` `(..., 1, C)`."""
        first = channel * (channel - 1) // 2  # this channel's coefficients start here
        mean = means[..., channel]
        for earlier in range(channel):
            mean += coefficients[..., first + earlier] * values[..., earlier]
        return mean

    def log_prob(self, images: tf.Tensor, params: tf.Tensor) -> tf.Tensor:
        """log p(pixel) per pixel, channels jointly: images `(..., C)` in [0, 1] (8-bit values), params
        `(..., parameters(C))` -> `(...)`."""
        channels = images.shape[-1]
        logits, means, log_scales, coefficients = self._split(params, channels)
        values = (2 * images - 1)[..., None, :]  # (..., 1, C) on [-1, 1]
        log_masses = []
        for channel in range(channels):
            centred = values[..., channel] - self._shifted_mean(means, coefficients, values, channel)
            inverse_scale = tf.exp(-log_scales[..., channel])
            upper = inverse_scale * (centred + BIN_HALF_WIDTH)
            lower = inverse_scale * (centred - BIN_HALF_WIDTH)
            mass = tf.sigmoid(upper) - tf.sigmoid(lower)
            middle = inverse_scale * centred
            # Where the bin's mass is below float32's resolution: the density at its centre times its width.
            log_density_times_width = middle - log_scales[..., channel] - 2 * tf.nn.softplus(middle)
            log_density_times_width += math.log(2 * BIN_HALF_WIDTH)
            log_mass = tf.where(mass > 1e-5, tf.math.log(tf.maximum(mass, 1e-12)), log_density_times_width)
            log_mass = tf.where(values[..., channel] < -1 + BIN_HALF_WIDTH, upper - tf.nn.softplus(upper), log_mass)
            log_mass = tf.where(values[..., channel] > 1 - BIN_HALF_WIDTH, -tf.nn.softplus(lower), log_mass)
            log_masses.append(log_mass)
        return tf.reduce_logsumexp(tf.nn.log_softmax(logits) + tf.add_n(log_masses), axis=-1)

    def mean(self, images: tf.Tensor, params: tf.Tensor) -> tf.Tensor:
        """Each pixel's mean `(..., C)` in [0, 1], each channel's given the earlier channels of `images`.

        The mixture of the components' means (a logistic's mean is its location; the end bins'
        tails are not folded in), clipped to [0, 1].
        """
        channels = images.shape[-1]
        logits, means, _, coefficients = self._split(params, channels)
        values = (2 * images - 1)[..., None, :]
        weights = tf.nn.softmax(logits)
        centred = [
            tf.reduce_sum(weights * self._shifted_mean(means, coefficients, values, channel), axis=-1)
            for channel in range(channels)
        ]
        return tf.clip_by_value((tf.stack(centred, axis=-1) + 1) / 2, 0.0, 1.0)

    def sample(self, params: tf.Tensor, seed: tf.Tensor, channels: int) -> tf.Tensor:
        """One draw of each pixel of `params` `(..., parameters(C))`: float32 `(..., C)` of 8-bit values in [0, 1]."""
        logits, means, log_scales, coefficients = self._split(params, channels)
        seeds = tf.random.experimental.stateless_split(seed, 1 + channels)
        gumbel = -tf.math.log(-tf.math.log(tf.random.stateless_uniform(tf.shape(logits), seeds[0], UNIFORM_EPS, 1)))
        component = tf.one_hot(tf.argmax(logits + gumbel, axis=-1), self.mixtures)  # (..., K)
        pixel = []  # the channels drawn so far, in [0, 1]
        for channel in range(channels):
            known = 2 * tf.stack(pixel, axis=-1)[..., None, :] - 1 if pixel else None  # as log_prob sees them
            mean = self._shifted_mean(means, coefficients, known, channel)
            mean = tf.reduce_sum(component * mean, axis=-1)
            log_scale = tf.reduce_sum(component * log_scales[..., channel], axis=-1)
            uniform = tf.random.stateless_uniform(tf.shape(mean), seeds[1 + channel], UNIFORM_EPS, 1 - UNIFORM_EPS)
            logistic = mean + tf.exp(log_scale) * (tf.math.log(uniform) - tf.math.log1p(-uniform))
            # The 8-bit value of the bin it fell in (the end bins take the tails).
            pixel.append(tf.round((tf.clip_by_value(logistic, -1, 1) + 1) * 127.5) / 255)
        return tf.stack(pixel, axis=-1)


PIXEL_DISTRIBUTIONS = {distribution.name: distribution for distribution in (BernoulliPixels(), LogisticMixturePixels())}
"""The pixel distributions by name: `"bernoulli"` and `"discretized-logistic-mixture"`."""


def _shift_down(tensor):
    """Row i takes row i - 1's values; the top row zeros."""
    return tf.pad(tensor, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def _shift_right(tensor):
    """Column j takes column j - 1's values; the left column zeros."""
    return tf.pad(tensor, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


def _gate(pre_activation):
    """tanh(a) * sigmoid(b) of the two halves of the channels."""
    value, gate = tf.split(pre_activation, 2, axis=-1)
    return tf.tanh(value) * tf.sigmoid(gate)


@keras.saving.register_keras_serializable(package="tfvae")
class GatedPixelCNN(keras.layers.Layer):
    """A gated PixelCNN conditioned on a feature map: every pixel's distribution given the pixels before it.

    Called on `(images, condition)` it returns the parameters of each pixel's `PixelDistribution`
    given the pixels before it in raster order and the condition at that pixel (teacher forcing);
    `log_prob` sums their log-probabilities per image; `sample` generates pixel by pixel. Other
    keyword arguments, e.g. `name` or `dtype`, go to `keras.layers.Layer`.

    Args:
        distribution: str, a name in `PIXEL_DISTRIBUTIONS`: `"bernoulli"` or
            `"discretized-logistic-mixture"`.
        channels: int, the images' channels, 1 or 3.
        gated_layers: int >= 1, the gated layers of each stack. Defaults to `6`.
        width: int >= 1, channels of each stack. Defaults to `32`.
        kernel_size: int, odd and >= 3, the width of the vertical stack's window and twice the
            horizontal one's, less one. Defaults to `3`.

    Raises:
        ValueError: if an argument is out of range.

    Examples:
        >>> import numpy as np
        >>> from tfvae.models.pixelcnn import GatedPixelCNN
        >>> pixelcnn = GatedPixelCNN("bernoulli", channels=1, gated_layers=2, width=4)
        >>> images = np.ones((2, 6, 6, 1), "float32")
        >>> condition = np.zeros((2, 6, 6, 3), "float32")
        >>> tuple(pixelcnn(images, condition).shape)  # one logit per pixel
        (2, 6, 6, 1)
        >>> drawn, log_prob = pixelcnn.sample(condition, seed=0)
        >>> tuple(drawn.shape), tuple(log_prob.shape)
        ((2, 6, 6, 1), (2,))
    """

    def __init__(
        self,
        distribution: str,
        channels: int,
        gated_layers: int = 6,
        width: int = 32,
        kernel_size: int = 3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if distribution not in PIXEL_DISTRIBUTIONS:
            raise ValueError(
                f"Expected distribution in {tuple(PIXEL_DISTRIBUTIONS)}. Received: distribution={distribution!r}."
            )
        if channels not in (1, 3):
            raise ValueError(f"Expected channels to be 1 or 3. Received: channels={channels!r}.")
        check_count("gated_layers", gated_layers, 1)
        check_count("width", width, 1)
        check_count("kernel_size", kernel_size, 3)
        if kernel_size % 2 == 0:
            raise ValueError(f"Expected an odd kernel_size. Received: kernel_size={kernel_size!r}.")
        self.distribution = distribution
        self.channels = channels
        self.gated_layers = gated_layers
        self.width = width
        self.kernel_size = kernel_size

        # === Layers, per gated layer: each stack's convolution, the vertical-to-horizontal link, the condition
        # into each stack, the horizontal stack's residual 1x1; then the output 1x1 ===
        half = kernel_size // 2

        def conv(channels, size, name):
            return keras.layers.Conv2D(channels, size, padding="valid", dtype=self.dtype_policy, name=name)

        self.vertical = [conv(2 * width, (half + 1, kernel_size), f"vertical_{i}") for i in range(gated_layers)]
        self.horizontal = [conv(2 * width, (1, half + 1), f"horizontal_{i}") for i in range(gated_layers)]
        self.link = [conv(2 * width, 1, f"link_{i}") for i in range(gated_layers)]
        # The last layer's vertical stack would feed nothing: it has no gate of its own.
        self.vertical_condition = [conv(2 * width, 1, f"vertical_condition_{i}") for i in range(gated_layers - 1)]
        self.horizontal_condition = [conv(2 * width, 1, f"horizontal_condition_{i}") for i in range(gated_layers)]
        self.residual = [conv(width, 1, f"residual_{i}") for i in range(gated_layers)]
        self.output_conv = conv(PIXEL_DISTRIBUTIONS[distribution].parameters(channels), 1, "output")

    def build(self, images_shape, condition_shape):
        """Builds every convolution from the images' channels and the condition's."""

        def shape(channels):
            return (None, None, None, channels)

        for i in range(self.gated_layers):
            stack_input = shape(self.channels if i == 0 else self.width)
            self.vertical[i].build(stack_input)
            self.horizontal[i].build(stack_input)
            self.link[i].build(shape(2 * self.width))
            self.horizontal_condition[i].build(shape(condition_shape[-1]))
            if i < self.gated_layers - 1:
                self.vertical_condition[i].build(shape(condition_shape[-1]))
            self.residual[i].build(shape(self.width))
        self.output_conv.build(shape(self.width))

    @property
    def pixel_distribution(self):
        """The `PixelDistribution` of each pixel."""
        return PIXEL_DISTRIBUTIONS[self.distribution]

    def call(self, images, condition):
        """The parameters `(N, H, W, P)` (float32) of each pixel given the pixels before it and the condition."""
        half = self.kernel_size // 2
        centred = 2 * tf.cast(images, self.compute_dtype) - 1
        vertical, horizontal = _shift_down(centred), _shift_right(centred)  # strictly above / strictly left
        for i in range(self.gated_layers):
            vertical_in = tf.pad(vertical, [[0, 0], [half, 0], [half, half], [0, 0]])
            vertical_pre = self.vertical[i](vertical_in)
            horizontal_pre = self.horizontal[i](tf.pad(horizontal, [[0, 0], [0, 0], [half, 0], [0, 0]]))
            horizontal_pre += self.link[i](vertical_pre)
            gated = self.residual[i](_gate(horizontal_pre + self.horizontal_condition[i](condition)))
            horizontal = gated if i == 0 else horizontal + gated
            if i < self.gated_layers - 1:
                vertical = _gate(vertical_pre + self.vertical_condition[i](condition))
        return tf.cast(self.output_conv(tf.nn.relu(horizontal)), tf.float32)

    def log_prob(self, images: tf.Tensor, condition: tf.Tensor) -> tf.Tensor:
        """log p(images | condition) per image, in nats.

        Args:
            images: float32 tensor `(N, H, W, C)`, values in [0, 1] (0 or 1 for `"bernoulli"`,
                8-bit values for the logistic mixture).
            condition: float tensor `(N, H, W, F)`, the feature map.

        Returns:
            A float32 tensor of shape `(N,)`.
        """
        per_pixel = self.pixel_distribution.log_prob(images, self(images, condition))
        return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(per_pixel)[0], -1]), axis=1)

    @property
    def reach(self) -> int:
        """How many rows above a pixel, and columns to either side, its distribution can depend on."""
        return self.gated_layers * (self.kernel_size // 2) + 1

    def sample(self, condition: tf.Tensor, seed: int | tf.Tensor = 0) -> tuple:
        """Generates images pixel by pixel in raster order, one pass per pixel over the window it can see.

        Args:
            condition: float tensor `(N, H, W, F)`, the feature map.
            seed: int or integer tensor, seeds the draws: the same seed gives the same images.
                Defaults to `0`.

        Returns:
            A tuple `(images, log_prob)`: float32 `(N, H, W, C)` and the log-probability of each
                image, in nats `(N,)`, summed from the conditionals of the draw.
        """
        return self._draw(tf.convert_to_tensor(condition), tf.cast(seed, tf.int64))

    @tf.function(reduce_retracing=True)  # one graph for the height x width passes, not one eager call each
    def _draw(self, condition, seed):
        """`sample`'s loop."""
        shape = tf.shape(condition)
        height, width = shape[1], shape[2]
        base_seed = tf.stack([seed, tf.constant(0, tf.int64)])

        def step(position, images, log_prob):
            row, column = position // width, position % width
            # The pixel's distribution depends on nothing outside this window: a pass over it gives the
            # whole image's parameters there, at a fraction of the cost.
            top, left = tf.maximum(row - self.reach, 0), tf.maximum(column - self.reach, 0)
            right = tf.minimum(column + self.reach + 1, width)
            window = self(images[:, top : row + 1, left:right], condition[:, top : row + 1, left:right])
            params = window[:, row - top, column - left]
            pixel = self.pixel_distribution.sample(params, _pixel_draw_seed(base_seed, position), self.channels)
            log_prob += self.pixel_distribution.log_prob(pixel, params)
            at = tf.one_hot(row * width + column, height * width)  # this pixel of the flattened image
            at = tf.reshape(at, [1, height, width, 1])
            return position + 1, images + at * pixel[:, None, None, :], log_prob

        images = tf.zeros(tf.concat([shape[:3], [self.channels]], 0))
        _, images, log_prob = tf.while_loop(
            lambda position, *_: position < height * width, step, (tf.constant(0), images, tf.zeros(shape[:1]))
        )
        return images, log_prob

    def get_config(self):
        config = {
            "distribution": self.distribution,
            "channels": self.channels,
            "gated_layers": self.gated_layers,
            "width": self.width,
            "kernel_size": self.kernel_size,
        }
        return {**super().get_config(), **config}
