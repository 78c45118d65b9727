"""Train a VAE 3 SGD steps on one CPU and under MirroredStrategy over two logical CPUs; print the
largest weight difference, and whether the two replicas got the same noise. Run as a script: the
CPU must be split before TensorFlow runs any op."""

import keras
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from tfvae.data.pipeline import make_dataset  # noqa: E402
from tfvae.models import VAE  # noqa: E402


def weights_before_and_after(strategy):
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(0, 1, (64, 8, 8, 1)).astype(np.float32)
    with strategy.scope():
        vae = VAE((8, 8, 1), arch="conv", width=4, latent_dim=3, seed=0)
        # Posterior std ~ e^-15: the replicas' different eps vanish, leaving loss scaling to compare.
        log_var = vae.encoder.get_layer("z_log_var")
        log_var.kernel.assign(tf.zeros_like(log_var.kernel))
        log_var.bias.assign(tf.fill(log_var.bias.shape, -30.0))
        vae.compile(optimizer=keras.optimizers.SGD(1e-4))  # SGD: a wrong gradient scale shows directly
    before = vae.get_weights()
    # Fixed order and noise (training=False): Keras rewrites a dataset to distribute it, which
    # gives the reshuffling stream other draws than on one device (reproducible per strategy).
    batches = make_dataset(images, "gaussian:0.1", 16, seed=0, training=False, device=None)
    vae.fit(batches, epochs=1, steps_per_epoch=3, verbose=0)
    return before, vae.get_weights()


start, single = weights_before_and_after(tf.distribute.get_strategy())
_, mirrored = weights_before_and_after(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
print("max_update", max(float(np.abs(a - b).max()) for a, b in zip(start, single)))
print("max_difference", max(float(np.abs(a - b).max()) for a, b in zip(single, mirrored)))

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
grey = np.full((32, 8, 8, 1), 0.5, np.float32)
noisy, _ = next(
    iter(strategy.experimental_distribute_dataset(make_dataset(grey, "gaussian:0.2", 16, 0, True, device=None)))
)
first, second = (np.asarray(t) for t in strategy.experimental_local_results(noisy))
print("replica_noise_shared", int(first.shape != second.shape or np.array_equal(first, second)))
