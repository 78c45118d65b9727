"""Density models side by side on the validation slice: the ELBO, the importance-weighted NLL (nats
and bits per dimension, +- its standard error over images), the KL the latents carry per level
and their share of the NLL (near 0: a collapsed latent, the decoder models everything alone).

    python benchmarks/density.py --dataset mnist runs/u29/pixelcnn_vae saved_models/mnist_density_vae/1/model.keras
    python benchmarks/density.py --dataset cifar10 runs/u29/cifar_pixelcnn --samples 100 \
        --page benchmarks/results/density_cifar10.md

MNIST is scored dynamically binarized (one seeded draw over the slice), as the density literature
does; CIFAR-10 as its 8-bit values (`density.protocol_images`).
"""

import argparse

from tfvae.data import sources
from tfvae.evaluation import density
from tfvae.evaluation.provenance import ResultsPage
from tfvae.serving.saved_model import load_trained_model


def scored_row(path, images, samples, seed):
    """One table row: the model at `path` scored on `images` with k = `samples`."""
    model = load_trained_model(path)
    scores = density.density_scores(model, images, samples=samples, seed=seed)
    usage = density.latent_usage(model, images)
    levels = " / ".join(f"{level['kl_nats']:.1f}" for level in usage["levels"])
    nll = f"{scores['nll_nats']:.2f} +- {scores['nll_standard_error_nats']:.2f}"
    share = density.latent_share(usage, scores)
    return (
        f"| `{path}` | {-scores['elbo_nats']:.2f} | {nll} | {scores['nll_bits_per_dim']:.4f} "
        f"| {usage['kl_total_nats']:.1f} ({levels}) | {share:.1%} |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="run folders, .keras files or SavedModel folders of density models")
    parser.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    parser.add_argument("--images", type=int, default=1000, help="the first validation images scored")
    parser.add_argument("--samples", type=int, default=1000, help="k of the importance-weighted NLL")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page", help="the results page (default: benchmarks/results/density_<dataset>.md)")
    args = parser.parse_args()
    images, kind = density.protocol_images(
        sources.load(args.dataset, "validation", seed=args.seed).images, args.dataset, args.seed
    )
    images = images[: args.images]

    lines = [
        "| model | -ELBO nats | NLL nats | bits/dim | KL nats (per level, finest first) | latents' share of the NLL |",
        "|---|---|---|---|---|---|",
    ]
    for path in args.models:
        lines.append(scored_row(path, images, args.samples, args.seed))
        print(lines[-1], flush=True)
    page = ResultsPage(args.page or f"benchmarks/results/density_{args.dataset}.md", f"Density: {args.dataset}")
    page.add(
        f"The first {len(images):,} validation images of {args.dataset}, {kind}. NLL: the importance-weighted "
        f"bound with k = {args.samples:,} draws per image, +- its standard error over the images.\n"
    )
    for line in lines:
        page.add(line)
    page.write()


if __name__ == "__main__":
    main()
