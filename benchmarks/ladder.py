"""The ladder VAE's levers, one at a time: each added to the same three-level ladder, trained on
one step budget on dynamically binarized MNIST, scored as a density model on the validation slice.

    python benchmarks/ladder.py                               # 7 ladders of 2,000 steps (about 2 h on one core)
    python benchmarks/ladder.py --fast --out /tmp/l --table /tmp/l/ladder.md   # seconds: proves the script works

The levers (`bench.LADDER`, beside this script): skip connections from every level to the output,
gated residual cells, a learned top prior, free bits per level, Adamax; then all of them. The
table gives the negative ELBO and the importance-weighted NLL (k draws, with its standard error
over images) in nats, and the KL each level carries: a level near 0 is unused. A difference
inside two standard errors is "level". Finished runs in --out are reused.
"""

import argparse
import json
from pathlib import Path

import bench

from tfvae.data import sources
from tfvae.evaluation import density
from tfvae.evaluation.provenance import results_page
from tfvae.models.saving import load_model


def binarized_validation(count, seed=0):
    """The first `count` validation images of MNIST as density models are scored on them (binarized)."""
    return density.protocol_images(sources.load("mnist", "validation", seed=seed).images, "mnist", seed)[0][:count]


def score(run_dir, images, samples):
    """(density scores, KL per level in nats) of the run's model on `images`."""
    model = load_model(run_dir)
    usage = density.latent_usage(model, images)
    return density.density_scores(model, images, samples=samples), [level["kl_nats"] for level in usage["levels"]]


def markdown(rows, samples, count):
    """The results table: a row per ladder."""
    lines = [
        f"Binarized MNIST, the first {count} validation images (one seeded binarization), nats per image; "
        f"NLL: importance-weighted bound with k = {samples}, +- its standard error over images.",
        "",
        "| ladder | train s | -ELBO | NLL | KL per level (finest first) |",
        "|---|---|---|---|---|",
    ]
    for name, (scores, kls, seconds) in rows.items():
        lines.append(
            f"| {name} | {seconds:.0f} | {-scores['elbo_nats']:.2f} | {scores['nll_nats']:.2f} "
            f"+- {scores['nll_standard_error_nats']:.2f} | {' / '.join(f'{kl:.1f}' for kl in kls)} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/runs/ladder", help="run folders (finished ones are reused)")
    parser.add_argument("--table", default="benchmarks/results/ladder.md", help="the results page to write")
    parser.add_argument("--images", type=int, default=1000, help="validation images scored")
    parser.add_argument("--samples", type=int, default=100, help="k of the importance-weighted NLL")
    parser.add_argument("--fast", action="store_true", help="tiny data and budgets: checks that the script runs")
    args = parser.parse_args()
    count, samples = (64, 4) if args.fast else (args.images, args.samples)
    runs = bench.train_all("mnist", args.out, args.fast, bench.LADDER)
    images = binarized_validation(count)
    rows = {}
    for name, run_dir in runs.items():
        seconds = json.loads((Path(run_dir) / "metrics.json").read_text())["train_seconds"]
        rows[name] = (*score(run_dir, images, samples), seconds)
        print(name, rows[name][:2], flush=True)
    report = markdown(rows, samples, count)
    print(report)
    results_page(args.table, "The ladder's levers, one at a time", report)


if __name__ == "__main__":
    main()
