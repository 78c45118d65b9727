"""Neighbor2Neighbor (Huang et al., CVPR 2021): a denoiser trained on pairs of sub-images of one noisy image.

Each 2x2 cell of a noisy image gives two different, adjacent pixels, chosen at random per cell:
the first of each cell forms the sub-image g1(y), the second g2(y), both of half the height and
width. Their clean values are nearly equal and their noise is independent, so g2(y) is a noisy
target for the network's output on g1(y) (Noise2Noise from one image). A regulariser corrects for
the two clean sub-images not being quite equal: with f(y) the output on the whole image, computed
without gradient and sub-sampled the same way,

    loss = mean((f(g1) - g2)^2) + gamma * mean((f(g1) - g2 - (g1(f(y)) - g2(f(y))))^2).

No clean image and no noise model are needed; at inference the network sees the whole image. The
network is DnCNN's (`tfvae.models.dncnn`), the same as Noise2Void's here, so the two compare the
training signal, not the architecture.
"""

import keras
import tensorflow as tf

from tfvae.models.self_supervised import SelfSupervisedDenoiser


def neighbour_pairs(images, seed):
    """The seeded sub-image pair (g1, g2) of `images` (N, H, W, C), H and W even: per 2x2 cell, a
    random pixel and one of its two neighbours in the cell (the one beside it or the one below or
    above), each pair a (N, H/2, W/2, C) tensor.

    The same seed picks the same pixels whatever the images: `pairs(y)` and `pairs(f(y))` match.

    Examples:
        >>> import tensorflow as tf
        >>> from tfvae.models.neighbor2neighbor import neighbour_pairs
        >>> first, second = neighbour_pairs(tf.zeros((2, 8, 6, 3)), tf.constant([0, 1], tf.int64))
        >>> tuple(first.shape), tuple(second.shape)
        ((2, 4, 3, 3), (2, 4, 3, 3))
    """
    channels = tf.shape(images)[-1]
    cells = tf.nn.space_to_depth(images, 2)  # depth index = (row * 2 + column) * C + channel
    cells = tf.reshape(cells, tf.concat([tf.shape(cells)[:3], [4, channels]], 0))
    seeds = tf.random.experimental.stateless_split(seed, 2)
    first = tf.random.stateless_uniform(tf.shape(cells)[:3], seeds[0], maxval=4, dtype=tf.int32)
    # Position p = 2 row + column: p ^ 1 is the pixel beside it, p ^ 2 the one above or below.
    second = tf.bitwise.bitwise_xor(
        first, tf.random.stateless_uniform(tf.shape(cells)[:3], seeds[1], minval=1, maxval=3, dtype=tf.int32)
    )
    return tuple(tf.gather(cells, index[..., None], batch_dims=3)[..., 0, :] for index in (first, second))


@keras.saving.register_keras_serializable(package="tfvae")
class Neighbor2Neighbor(SelfSupervisedDenoiser):
    """Neighbor2Neighbor: DnCNN's network trained on sub-image pairs of noisy images alone.

    In training, each noisy image gives two sub-images of neighbouring pixels; the network's
    output on one is fitted to the other, with a regulariser computed from its output on the
    whole image (see the module docstring). No clean image and no noise model are needed: train
    with `compile()` and `fit` on noisy images (a clean image in the data only enters the PSNR
    metric). Training images need an even height and width; at inference the network sees the
    whole image, of any size. Other keyword arguments, e.g. `name`, go to `keras.Model`.

    Args:
        image_shape: tuple `(H, W, C)`, the shape of the training images; any height and width
            are denoised.
        regularization: float >= 0, gamma, the weight of the regulariser. Defaults to `2.0`
            (the paper's for Gaussian noise).
        seed: int, seeds the choice of pixels, with the optimizer step: a pure function of
            `(seed, step)`. Defaults to `0`.

    Keyword Args:
        conv_layers (int): the number of 3x3 convolutions, >= 2. Defaults to 17.
        width (int): channels of the hidden convolutions. Defaults to 64.
        network_dtype (str): the Keras dtype policy of the convolutions. Defaults to `"float32"`.

    Raises:
        ValueError: if `regularization` is negative, or DnCNN's arguments are invalid.

    Examples:
        >>> import numpy as np
        >>> from tfvae.models import Neighbor2Neighbor
        >>> model = Neighbor2Neighbor((8, 8, 1), conv_layers=3, width=4)
        >>> model.compile()  # the sub-image loss is the model's own
        >>> tuple(model(np.full((2, 8, 8, 1), 0.5, "float32")).shape)
        (2, 8, 8, 1)
    """

    def __init__(self, image_shape: tuple, regularization: float = 2.0, seed: int = 0, **kwargs):
        super().__init__(image_shape, seed=seed, **kwargs)
        if not (isinstance(regularization, (int, float)) and regularization >= 0):
            raise ValueError(
                f"Expected regularization to be a number >= 0. Received: regularization={regularization!r}."
            )
        self.regularization = regularization

    def self_supervised_loss(self, noisy: tf.Tensor, step: int | tf.Tensor, training: bool) -> tf.Tensor:
        """The sub-image loss of a batch: fit f(g1(y)) to g2(y), regularised by f(y)'s own sub-images.

        Args:
            noisy: float32 tensor or array of shape `(N, H, W, C)`, values in [0, 1], H and W even.
            step: int or integer tensor, with `seed`, seeds which pixels form the sub-images.
            training: bool, whether the network runs in training mode.

        Returns:
            A float32 scalar tensor.

        Raises:
            tf.errors.InvalidArgumentError: if the height or width is odd.

        Examples:
            >>> import numpy as np
            >>> from tfvae.models import Neighbor2Neighbor
            >>> model = Neighbor2Neighbor((8, 8, 1), conv_layers=3, width=4)
            >>> flat = np.full((2, 8, 8, 1), 0.5, "float32")  # both sub-images equal the identity's output
            >>> round(float(model.self_supervised_loss(flat, step=0, training=False)), 6)
            0.0
        """
        noisy = tf.convert_to_tensor(noisy, tf.float32)
        tf.debugging.assert_equal(
            tf.shape(noisy)[1:3] % 2,
            0,
            message="Neighbor2Neighbor trains on images of even height and width (2x2 cells); crop the training images",
        )
        seed = self.step_seed(step)
        first, second = neighbour_pairs(noisy, seed)
        whole = tf.stop_gradient(self(noisy, training=training))
        whole_first, whole_second = neighbour_pairs(whole, seed)
        difference = self(first, training=training) - second
        return tf.reduce_mean(tf.square(difference)) + self.regularization * tf.reduce_mean(
            tf.square(difference - (whole_first - whole_second))
        )

    def get_config(self):
        """The model's config: DnCNN's, `regularization` and `seed`."""
        return {**super().get_config(), "regularization": self.regularization}
