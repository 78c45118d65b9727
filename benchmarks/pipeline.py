"""Images/s of the noisy tf.data pipeline per noise family (batch 128), MNIST and CIFAR-10.

    python benchmarks/pipeline.py [--batches 200] [--datasets mnist cifar10]

Prints a Markdown table. The pipeline must never be what limits training: compare with
benchmarks/train_speed.py.
"""

import argparse
import time

from tfvae.data import sources
from tfvae.data.pipeline import make_dataset
from tfvae.evaluation.provenance import ResultsPage

SPECS = [
    "none",
    "gaussian:0-0.5",
    "salt_pepper:0-0.5",
    "poisson:5-50",
    "speckle:0-0.5",
    "masking:0-0.5",
    "block:0-0.5",
    "mix:gaussian:0-0.5,salt_pepper:0-0.2,poisson:5-50",
]


def images_per_second(images, spec, batch_size, batches):
    dataset = make_dataset(images, spec, batch_size, seed=0, training=True)
    iterator = iter(dataset)
    for _ in range(10):  # warm up: tracing
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--page", default="benchmarks/results/pipeline.md", help="the results page to write")
    args = parser.parse_args()
    loaded = {name: sources.load(name, "train").images for name in args.datasets}
    page = ResultsPage(args.page, "Pipeline speed")
    page.add(
        f"The training pipeline alone (`make_dataset`, batch {args.batch_size}), images per second per noise family."
    )
    page.add()
    page.add("| noise | " + " | ".join(f"{name} img/s" for name in args.datasets) + " |")
    page.add("|---|" + "---|" * len(args.datasets))
    for spec in SPECS:
        rates = [images_per_second(images, spec, args.batch_size, args.batches) for images in loaded.values()]
        page.add(f"| {spec} | " + " | ".join(f"{rate:,.0f}" for rate in rates) + " |")
    page.write()


if __name__ == "__main__":
    main()
