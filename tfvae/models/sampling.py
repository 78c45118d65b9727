"""The reparameterisation trick as a seeded Keras layer (the VAE's sampling step)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfvae")
class Sampling(keras.layers.Layer):
    """Draw z = z_mean + exp(z_log_var / 2) * eps, eps ~ N(0, I), in training; return z_mean otherwise.

    Args:
        seed: seeds the layer's `keras.random.SeedGenerator` (reproducible draws).

    The generator's state is saved with the weights, so a run resumed from a checkpoint continues
    the same stream of eps as an uninterrupted one.

    Under a tf.distribute strategy each replica folds its replica id into the seed, so replicas
    draw different eps (keras#20612: a SeedGenerator alone repeats the same numbers per replica).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        z_mean, z_log_var = inputs
        if tuple(z_mean.shape) != tuple(z_log_var.shape):
            raise ValueError(
                "Expected z_mean and z_log_var of the same shape. "
                f"Received: z_mean={z_mean.shape}, z_log_var={z_log_var.shape}."
            )
        if not training:
            return z_mean
        return z_mean + tf.exp(0.5 * z_log_var) * self.noise(tf.shape(z_mean), z_mean.dtype)

    def noise(self, shape, dtype="float32"):
        """The next eps ~ N(0, I) of `shape` from the layer's seeded stream (per replica)."""
        seed = self.seed_generator.next()
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            seed = tf.random.experimental.stateless_fold_in(seed, context.replica_id_in_sync_group)
        return tf.random.stateless_normal(shape, seed, dtype=dtype)

    def save_own_variables(self, store):
        store["seed_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        if "seed_state" in store:  # files saved before resume support have none
            self.seed_generator.state.assign(store["seed_state"])

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
