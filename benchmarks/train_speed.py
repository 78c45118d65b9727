"""Training images/s per model and image shape, with and without XLA, against the noisy pipeline.

    python benchmarks/train_speed.py [--steps 64] [--batch-size 128]
    python benchmarks/train_speed.py --dtype-policy mixed_bfloat16 --models "conv-spatial VAE w32"

Random images of MNIST's and CIFAR-10's shapes (speed does not depend on content). Prints a
Markdown table; run it on an otherwise idle machine.
"""

import argparse
import time

import numpy as np

from tfvae.metrics import PSNR
from tfvae.models import VAE, Autoencoder
from tfvae.pipeline import make_dataset
from tfvae.training import DTYPE_POLICIES

SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
MODELS = {  # name -> (shape, network dtype policy) -> model
    "seed MLP VAE 400-20": lambda shape, dtype: VAE(shape, arch="mlp", width=400, latent_dim=20, likelihood="bernoulli", network_dtype=dtype),
    "DAE conv": lambda shape, dtype: Autoencoder(shape, arch="conv", network_dtype=dtype),
    "conv VAE": lambda shape, dtype: VAE(shape, arch="conv", latent_dim=16, network_dtype=dtype),
    "conv-spatial VAE w16": lambda shape, dtype: VAE(shape, arch="conv-spatial", width=16, network_dtype=dtype),
    "conv-spatial VAE w32": lambda shape, dtype: VAE(shape, arch="conv-spatial", width=32, network_dtype=dtype),
    "conv-spatial VAE w48": lambda shape, dtype: VAE(shape, arch="conv-spatial", width=48, network_dtype=dtype),
    "conv-spatial VAE w32 depth 1": lambda shape, dtype: VAE(shape, arch="conv-spatial", width=32, depth=1, network_dtype=dtype),
}
NOISE = "gaussian:0-0.5"


def fit_rate(model, dataset, steps, jit, steps_per_execution):
    kwargs = {} if isinstance(model, VAE) else {"loss": "mse", "metrics": [PSNR()]}
    model.compile(optimizer="adam", jit_compile=jit, steps_per_execution=steps_per_execution, **kwargs)
    model.fit(dataset, epochs=1, steps_per_epoch=2 * steps_per_execution, verbose=0)  # trace and warm up
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps / (time.perf_counter() - start)


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
    parser.add_argument("--dtype-policy", default="float32", choices=DTYPE_POLICIES, help="the networks' Keras dtype policy")
    args = parser.parse_args()
    print(f"dtype policy: {args.dtype_policy}\n")
    print(f"| data | model | img/s | img/s with XLA | pipeline img/s ({NOISE}) | pipeline / training |")
    print("|---|---|---|---|---|---|")
    for name in args.datasets:
        images = np.random.default_rng(0).uniform(0, 1, (4096, *SHAPES[name])).astype(np.float32)
        dataset = make_dataset(images, NOISE, args.batch_size, seed=0, training=True)
        pipeline = pipeline_rate(dataset, 200) * args.batch_size
        for model_name in args.models:
            build = MODELS[model_name]
            rates = [fit_rate(build(SHAPES[name], args.dtype_policy), dataset, args.steps, jit, args.steps_per_execution) * args.batch_size
                     for jit in (False, True)]
            print(f"| {name} | {model_name} | {rates[0]:,.0f} | {rates[1]:,.0f} | {pipeline:,.0f} | {pipeline / max(rates):.0f}x |", flush=True)


if __name__ == "__main__":
    main()
