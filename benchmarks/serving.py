"""Latency and throughput of exported models' denoising signatures on this CPU.

    python benchmarks/serving.py saved_models/*/*/

For `serving_default` (one pass) and `denoise_ensemble` (the self-ensemble) of each SavedModel, at
the model's training image size: batch 1 p50 / p99 latency over --calls calls, and batch 256
images/s. Prints a Markdown table.
"""

import argparse
import time

import numpy as np
import tensorflow as tf

from tfvae.evaluation.provenance import ResultsPage
from tfvae.serving.endpoints import load_endpoints
from tfvae.serving.saved_model import ENSEMBLE_SIGNATURE


def latencies_ms(serve, images, calls):
    serve(images=images)  # warm up
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        serve(images=images)
        times.append(1000 * (time.perf_counter() - start))
    return np.array(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("saved_models", nargs="+")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--page", default="benchmarks/results/serving.md", help="the results page to write")
    args = parser.parse_args()
    page = ResultsPage(args.page, "Serving speed")
    page.add("Latency of one image and throughput of 256, through each SavedModel signature, at the training size.")
    page.add()
    page.add("| model | signature | batch 1 p50 ms | batch 1 p99 ms | batch 256 img/s |")
    page.add("|---|---|---|---|---|")
    for path in args.saved_models:
        shape = load_endpoints(path).image_shape
        signatures = tf.saved_model.load(path).signatures
        for name in ("serving_default", ENSEMBLE_SIGNATURE):
            if name not in signatures:
                continue
            one = latencies_ms(signatures[name], tf.fill((1, *shape), 0.5), args.calls)
            many = latencies_ms(signatures[name], tf.fill((256, *shape), 0.5), max(5, args.calls // 20))
            page.add(
                f"| {path} | {name} | {np.percentile(one, 50):.2f} | {np.percentile(one, 99):.2f} "
                f"| {256 / (np.median(many) / 1000):,.0f} |"
            )
    page.write()


if __name__ == "__main__":
    main()
