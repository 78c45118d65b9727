"""tf.distribute for `tfvae train --strategy`: which strategy, who writes, and the training loop
for MultiWorkerMirroredStrategy.

`config.batch_size` is the global batch: a strategy splits each batch over its replicas (and
workers), and the noise is drawn per global batch before the split, so replicas never share it.
Keras' `fit` does not run under MultiWorkerMirroredStrategy, so `fit_multiworker` trains there
with a short loop over `strategy.run(model.train_step)` (and `test_step` on the validation data
after every epoch), with the same callbacks.
"""

import tempfile
from pathlib import Path

import keras
import tensorflow as tf


def tpu_strategy(devices=None):
    """TPUStrategy on the TPU that `TPUClusterResolver` finds (Cloud TPU VM or TPU_NAME)."""
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise RuntimeError(
            f"--strategy tpu: no TPU found ({error}). Use --strategy default or mirrored here."
        ) from None
    return tf.distribute.TPUStrategy(resolver)


STRATEGIES = {
    "default": lambda devices=None: tf.distribute.get_strategy(),
    "mirrored": lambda devices=None: tf.distribute.MirroredStrategy(devices),  # all local GPUs, or `devices`
    "multiworker": lambda devices=None: tf.distribute.MultiWorkerMirroredStrategy(),  # the cluster in TF_CONFIG
    "tpu": tpu_strategy,
}


def make_strategy(name, devices=None):
    """The strategy called `name` (see STRATEGIES); create it before any other TensorFlow op runs."""
    if name not in STRATEGIES:
        raise ValueError(f"Expected strategy in {sorted(STRATEGIES)}. Received: strategy={name!r}.")
    return STRATEGIES[name](devices)


def is_chief(strategy):
    """Whether this process writes checkpoints, logs and models: the chief task, else worker 0."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


# keras#20585: fit() fails under MultiWorkerMirroredStrategy; this loop stands in for it.
def fit_multiworker(prepared, epochs, initial_epoch, callbacks, strategy):
    """Train `prepared` (a `tfvae.training.fitting.Prepared`) like `model.fit` under
    MultiWorkerMirroredStrategy; returns the last epoch's logs."""
    model, steps_per_epoch = prepared.model, prepared.steps_per_epoch

    def distributed(step_function):
        @tf.function
        def step(batch):
            logs = strategy.run(step_function, args=(batch,))
            return {
                name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for name, value in logs.items()
            }

        return lambda batch: {name: float(value) for name, value in step(batch).items()}

    @tf.function
    def any_worker_stops(stop):
        """True on every worker as soon as one wants to stop (e.g. its time budget ran out)."""
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: stop), axis=None) > 0

    train_step, test_step = distributed(model.train_step), distributed(model.test_step)
    batches = iter(strategy.experimental_distribute_dataset(prepared.train_data))
    validation = strategy.experimental_distribute_dataset(prepared.validation_data)
    hooks = keras.callbacks.CallbackList(list(callbacks), model=model, epochs=epochs, steps=steps_per_epoch)
    model.stop_training = False
    logs = {}
    hooks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        hooks.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            hooks.on_train_batch_begin(step)
            logs = train_step(next(batches))
            hooks.on_train_batch_end(step, logs)
            if any_worker_stops(tf.constant(float(model.stop_training))):
                model.stop_training = True
                break
        model.reset_metrics()
        hooks.on_test_begin()
        for batch in validation:
            validation_logs = test_step(batch)
        hooks.on_test_end(validation_logs)
        logs = {**logs, **{f"val_{name}": value for name, value in validation_logs.items()}}
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    hooks.on_train_end(logs)
    model.optimizer.finalize_variable_values(model.trainable_weights)  # as fit: the EMA weights, if kept
    return logs


def local_copy(model):
    """`model` outside any strategy, with its weights and optimizer state (a .keras round trip):
    Keras' predict under a strategy is a collective op, which needs every worker, and its
    predict_on_batch mis-shapes outputs under MirroredStrategy."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return keras.models.load_model(path)
