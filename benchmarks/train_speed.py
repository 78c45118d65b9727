"""Training images/s per model and image shape, with and without XLA, against the noisy pipeline.

    python benchmarks/train_speed.py [--steps 64] [--batch-size 128]
    python benchmarks/train_speed.py --dtype-policy mixed_bfloat16 --models "conv-spatial VAE w32"
    TF_NUM_INTRAOP_THREADS=1 python benchmarks/train_speed.py --logical-cpus 2 ...   # data parallel on a CPU

--logical-cpus N splits the CPU into N logical devices and trains under MirroredStrategy over them
(one replica per device; with one intra-op thread each, the replicas' ops run side by side):
compare it with one process on all threads.

Random images of MNIST's and CIFAR-10's shapes (speed does not depend on content). Prints a
Markdown table; run it on an otherwise idle machine.
"""

import argparse
import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf

from tfvae.data.pipeline import make_dataset
from tfvae.evaluation.provenance import ResultsPage
from tfvae.models.precision import DTYPE_POLICIES
from tfvae.training import TrainConfig, distribute, fitting

SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
VAE = TrainConfig(model="vae")
MODELS = {  # name -> the TrainConfig preset the model is built from (tfvae.training.fitting.build_model)
    "the write-up's MLP VAE 400-20": dataclasses.replace(VAE, arch="mlp"),
    "DAE conv": TrainConfig(model="ae", arch="conv"),
    "conv VAE": dataclasses.replace(VAE, arch="conv"),
    "conv-spatial VAE w16": dataclasses.replace(VAE, arch="conv-spatial", width=16),
    "conv-spatial VAE w32": dataclasses.replace(VAE, arch="conv-spatial", width=32),
    "conv-spatial VAE w48": dataclasses.replace(VAE, arch="conv-spatial", width=48),
    "conv-spatial VAE w32, 1 residual block": dataclasses.replace(
        VAE, arch="conv-spatial", width=32, residual_blocks=1
    ),
    "hierarchical VAE, 2 levels w64": TrainConfig(model="hvae", levels=2, width=64),
    "hierarchical VAE, 3 levels w64": TrainConfig(model="hvae", levels=3, width=64),
}
NOISE = "gaussian:0-0.5"


class StepClock(keras.callbacks.Callback):
    """The time at the end of every train call (of steps_per_execution steps)."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def fit_rate(config, image_shape, dataset, steps, strategy):
    """Training steps per second of the model `config` builds under `strategy`, timed inside one
    `fit` from the end of its first call of steps (trace and warm-up): each `fit` call also pays
    a fixed cost of seconds (its iterator, the end of the epoch), as large as dozens of a ladder
    VAE's steps."""
    with strategy.scope():
        model = fitting.build_model(config, image_shape, steps)
    per_call = model.steps_per_execution
    clock = StepClock()
    model.fit(dataset, epochs=1, steps_per_epoch=steps + per_call, verbose=0, callbacks=[clock])
    return (len(clock.ends) - 1) * per_call / (clock.ends[-1] - clock.ends[0])


def pipeline_rate(dataset, batches):
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps-per-execution", type=int, default=8)
    parser.add_argument("--datasets", nargs="+", default=list(SHAPES))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--dtype-policy", default="float32", choices=DTYPE_POLICIES, help="the networks' dtype policy")
    parser.add_argument("--logical-cpus", type=int, default=1, help="> 1: MirroredStrategy over that many CPU devices")
    parser.add_argument("--page", default="benchmarks/results/train_speed.md", help="the results page to write")
    args = parser.parse_args()
    distributed, devices = {}, None
    if args.logical_cpus > 1:  # before any op runs
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus)
        devices = [f"/cpu:{index}" for index in range(args.logical_cpus)]
        distributed = {"strategy": "mirrored", "devices": ",".join(devices)}
    # One strategy for every model: a second MirroredStrategy in one process reuses collective keys.
    strategy = distribute.make_strategy(distributed.get("strategy", "default"), devices)
    page = ResultsPage(args.page, "Training speed")
    page.add(
        f"Training images per second (batch {args.batch_size}, timed inside one `fit`), dtype policy "
        f"{args.dtype_policy}, {args.logical_cpus} logical CPU device(s), next to the noisy pipeline alone."
    )
    page.add()
    page.add(f"| data | model | img/s | img/s with XLA | pipeline img/s ({NOISE}) | pipeline / training |")
    page.add("|---|---|---|---|---|---|")
    for name in args.datasets:
        images = np.random.default_rng(0).uniform(0, 1, (4096, *SHAPES[name])).astype(np.float32)
        dataset = make_dataset(images, NOISE, args.batch_size, seed=0, training=True)
        pipeline = pipeline_rate(dataset, 200) * args.batch_size
        for model_name in args.models:
            config = dataclasses.replace(
                MODELS[model_name],
                dtype_policy=args.dtype_policy,
                batch_size=args.batch_size,
                steps_per_execution=args.steps_per_execution,
                **distributed,
            )
            # XLA cannot place a replica's variables on another logical CPU (tf.Variable on a different device)
            xla_choices = ("off",) if distributed else ("off", "on")
            rates = [
                fit_rate(dataclasses.replace(config, xla=xla), SHAPES[name], dataset, args.steps, strategy)
                * args.batch_size
                for xla in xla_choices
            ]
            with_xla = f"{rates[1]:,.0f}" if len(rates) > 1 else "-"
            page.add(
                f"| {name} | {model_name} | {rates[0]:,.0f} | {with_xla} | {pipeline:,.0f} "
                f"| {pipeline / max(rates):.0f}x |"
            )
    page.write()


if __name__ == "__main__":
    main()
