"""No clean images: the unsupervised VAE next to Noise2Void, BM3D and the supervised model.

    python benchmarks/unsupervised.py --dataset cifar10 --unsupervised saved_models/cifar10_unsupervised_vae/1 \
        --noise2void runs/n2v/cifar10 --supervised saved_models/cifar10_vae/6 --samples 1,8,32,100 --limit 300

Every model is scored on the same seeded noisy validation images (clean images only here, for
the score) at Gaussian sigma 0.1 / 0.2 / 0.3 / 0.5, PSNR dB / SSIM, Markdown. The unsupervised VAE
is scored decoding the posterior mean once and as the MMSE estimate over K posterior draws, with
the images per second of each; BM3D given the true sigma (CBM3D for colour) when `bm3d` is
installed. Also: the sigma estimator's error per level, and how well the spread of the posterior
samples (their per-pixel std) tracks the real error (Pearson correlation over pixels, K = max).
Writes benchmarks/results/unsupervised_<dataset>.md.
"""

import argparse
import time

import numpy as np

from tfvae.data import sources
from tfvae.data.noise import add_noise
from tfvae.evaluation import baselines
from tfvae.evaluation.provenance import results_page
from tfvae.evaluation.scoring import HEADLINE_SPECS, compare, gaussian_sigma, markdown_table, predict_in_batches
from tfvae.models.noise_models import estimate_sigma
from tfvae.serving.endpoints import load_endpoints
from tfvae.serving.saved_model import load_trained_model

BATCH = 250


def timed(function):
    """(function, a list that collects the images per second of its calls)."""
    speeds = []

    def call(images):
        start = time.perf_counter()
        out = np.asarray(function(images))
        speeds.append(len(images) / (time.perf_counter() - start))
        return out

    return call, speeds


def methods_for(args):
    """{name: f(noisy, spec) -> denoised}, and {name: images/s} filled as they run."""
    vae = load_trained_model(args.unsupervised)
    methods, speeds = {"noisy input": lambda noisy, spec: noisy}, {}

    def add(name, function):
        call, speeds[name] = timed(function)
        methods[name] = lambda noisy, spec: predict_in_batches(call, noisy, BATCH)

    if args.supervised:
        add(f"supervised ({args.supervised})", load_endpoints(args.supervised).denoise)
    add("unsupervised VAE, posterior mean decoded once", vae)
    for count in args.samples:
        add(f"unsupervised VAE, MMSE of {count} posterior draws", lambda x, k=count: vae.posterior_moments(x, k)[0])
    if args.noise2void:
        add("Noise2Void (same noisy images)", load_endpoints(args.noise2void).denoise)
    if baselines.bm3d_available():
        name = baselines.bm3d_name(vae.image_shape[-1])
        methods[name] = lambda noisy, spec: baselines.bm3d_denoise(noisy, gaussian_sigma(spec))
    return vae, methods, speeds


def estimator_errors(clean, specs, seed):
    """Rows of the sigma estimator's median and relative error per level."""
    rows = [
        "| true sigma | median estimate | mean relative error | 90th percentile abs. relative error |",
        "|---" * 4 + "|",
    ]
    for spec in specs:
        sigma = gaussian_sigma(spec)
        estimated = estimate_sigma(add_noise(clean, spec, seed=seed)).numpy()
        relative = estimated / sigma - 1
        rows.append(
            f"| {sigma} | {np.median(estimated):.3f} | {relative.mean():+.3f} | {np.quantile(abs(relative), 0.9):.3f} |"
        )
    return "\n".join(rows) + "\n"


def uncertainty_correlation(vae, clean, specs, samples, seed):
    """Rows of the Pearson correlation between the posterior std and the absolute error of the MMSE estimate."""
    rows = [f"| sigma | corr(std of {samples} draws, abs. error), over pixels |", "|---|---|"]
    for spec in specs:
        noisy = add_noise(clean, spec, seed=seed)
        means, stds = zip(*(vae.posterior_moments(noisy[i : i + BATCH], samples) for i in range(0, len(noisy), BATCH)))
        error = np.abs(np.concatenate(means) - clean).ravel()
        rows.append(f"| {gaussian_sigma(spec)} | {np.corrcoef(np.concatenate(stds).ravel(), error)[0, 1]:.3f} |")
    return "\n".join(rows) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="the dataset the noisy copy was made from")
    parser.add_argument(
        "--unsupervised", required=True, help="the unsupervised VAE: run folder, .keras file or SavedModel"
    )
    parser.add_argument("--noise2void", help="the Noise2Void run (same noisy copy)")
    parser.add_argument("--supervised", help="the supervised model (run, .keras or SavedModel)")
    parser.add_argument("--samples", default="1,8,32", help="posterior draws K of the MMSE rows, comma-separated")
    parser.add_argument("--limit", type=int, default=1000, help="validation images scored")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page", help="the results page to write (default benchmarks/results/unsupervised_DATASET.md)")
    args = parser.parse_args(argv)
    args.samples = [int(k) for k in args.samples.split(",")]
    if min(args.samples) < 1 or args.limit < 1:
        parser.error(f"expected K >= 1 and --limit >= 1; received --samples {args.samples} --limit {args.limit}")
    clean = sources.load(args.dataset, "validation").images[: args.limit]
    vae, methods, speeds = methods_for(args)
    results = compare(methods, clean, HEADLINE_SPECS, args.seed)
    body = f"{len(clean):,} validation images of {args.dataset}, seeded Gaussian noise, PSNR dB / SSIM:\n\n"
    body += markdown_table(results, HEADLINE_SPECS)
    body += "\nImages per second (batch 250):\n\n| denoiser | images/s |\n|---|---|\n"
    body += "".join(f"| {name} | {np.median(measured):.0f} |\n" for name, measured in speeds.items())
    body += "\nThe noise level estimated per image (`gaussian:auto`):\n\n"
    body += estimator_errors(clean, HEADLINE_SPECS, args.seed)
    body += "\nHow well the posterior's spread tracks the error:\n\n"
    body += uncertainty_correlation(vae, clean[:BATCH], HEADLINE_SPECS, max(args.samples), args.seed)
    print(body)
    page = args.page or f"benchmarks/results/unsupervised_{args.dataset}.md"
    results_page(page, f"No clean images: {args.dataset}", body)


if __name__ == "__main__":
    main()
