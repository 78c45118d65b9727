"""The reparameterisation trick as a seeded Keras layer (the VAE's sampling step)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfvae")
class Sampling(keras.layers.Layer):
    """Draws latents with the reparameterisation trick, the VAE's sampling step.

    In training, the layer returns z = z_mean + exp(z_log_var / 2) * eps with eps ~ N(0, I)
    drawn from its seeded stream, so the gradient flows through z_mean and z_log_var; otherwise
    it returns z_mean. The stream's state is saved with the weights, so a run resumed from a
    checkpoint continues the same stream of eps as an uninterrupted one. Under a tf.distribute
    strategy each replica folds its replica id into the seed, so replicas draw different eps.
    Other keyword arguments, e.g. `name`, go to `keras.layers.Layer`.

    Args:
        seed: int or None, seeds the layer's `keras.random.SeedGenerator`. Defaults to `None`
            (a random seed).

    Raises:
        ValueError: when called, if z_mean and z_log_var differ in shape.

    Examples:
        >>> import numpy as np
        >>> from tfvae.models import Sampling
        >>> sampling = Sampling(seed=0)
        >>> z_mean, z_log_var = np.zeros((2, 4), "float32"), np.zeros((2, 4), "float32")
        >>> tuple(sampling([z_mean, z_log_var], training=True).shape)
        (2, 4)
        >>> bool((sampling([z_mean, z_log_var]).numpy() == z_mean).all())  # not training: z_mean
        True
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        """z drawn from N(z_mean, exp(z_log_var)) in training, else z_mean; `inputs` is [z_mean, z_log_var]."""
        z_mean, z_log_var = inputs
        if tuple(z_mean.shape) != tuple(z_log_var.shape):
            raise ValueError(
                "Expected z_mean and z_log_var of the same shape. "
                f"Received: z_mean={z_mean.shape}, z_log_var={z_log_var.shape}."
            )
        if not training:
            return z_mean
        return z_mean + tf.exp(0.5 * z_log_var) * self.eps(tf.shape(z_mean), z_mean.dtype)

    def eps(self, shape: tuple | tf.Tensor, dtype: str = "float32") -> tf.Tensor:
        """Draws the next eps ~ N(0, I) from the layer's seeded stream.

        Each call advances the stream; under a tf.distribute strategy each replica draws its own.

        Args:
            shape: tuple of ints or 1-D integer tensor, the shape of eps.
            dtype: str, the dtype of eps. Defaults to `"float32"`.

        Returns:
            A tensor of `shape` and `dtype`.

        Examples:
            >>> from tfvae.models import Sampling
            >>> sampling = Sampling(seed=0)
            >>> first, second = sampling.eps((2, 3)), sampling.eps((2, 3))
            >>> tuple(first.shape), bool((first.numpy() != second.numpy()).any())
            ((2, 3), True)
        """
        seed = self.seed_generator.next()
        # keras#20612: a SeedGenerator alone repeats the same numbers on every replica.
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            seed = tf.random.experimental.stateless_fold_in(seed, context.replica_id_in_sync_group)
        return tf.random.stateless_normal(shape, seed, dtype=dtype)

    def save_own_variables(self, store):
        """Saves the stream's state with the weights (a resumed run continues the same stream)."""
        store["seed_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        """Restores the stream's state, when the file holds one."""
        if "seed_state" in store:  # a file saved without it keeps the fresh stream
            self.seed_generator.state.assign(store["seed_state"])

    def compute_output_shape(self, input_shape):
        """The shape of z_mean."""
        return input_shape[0]

    def get_config(self):
        """The layer's config, with its seed."""
        return {**super().get_config(), "seed": self.seed}
