"""No clean images: the unsupervised VAEs next to the self-supervised baselines, BM3D and the supervised model.

    python benchmarks/unsupervised.py --dataset cifar10 --unsupervised saved_models/cifar10_unsupervised_vae/2 \
        --noise2void runs/n2v/cifar10 --neighbor2neighbor runs/n2n/cifar10 --supervised saved_models/cifar10_vae/6 \
        --samples 1,8,32,100 --limit 300

Every model is scored on the same seeded noisy validation images (clean images only here, for
the score) at Gaussian sigma 0.1 / 0.2 / 0.3 / 0.5, PSNR dB / SSIM, Markdown. Each unsupervised
VAE is scored decoding the posterior mean once (with a variance head: the posterior mean of the
clean pixel given the noisy one, at that z) and as the MMSE estimate over K posterior draws, with
the images per second of each; BM3D given the true sigma (CBM3D for colour) when `bm3d` is
installed. Also: the sigma estimator's error per level, and whether the posterior draws know
their error: the coverage of their central 90 % interval and the Pearson correlation of their
per-pixel std with the error, per sigma. Writes benchmarks/results/unsupervised_<dataset>.md.
"""

import argparse
import time

import numpy as np

from tfvae.data import sources
from tfvae.data.noise import add_noise
from tfvae.evaluation import baselines
from tfvae.evaluation.metrics import interval_coverage, std_error_correlation
from tfvae.evaluation.provenance import results_page
from tfvae.evaluation.scoring import HEADLINE_SPECS, compare, gaussian_sigma, markdown_table, predict_in_batches
from tfvae.models.noise_models import estimate_sigma
from tfvae.serving.endpoints import load_endpoints
from tfvae.serving.saved_model import load_trained_model

BATCH = 250
SELF_SUPERVISED = {"noise2void": "Noise2Void", "neighbor2neighbor": "Neighbor2Neighbor"}  # flag: row name


def timed(function):
    """(function, a list that collects the images per second of its calls)."""
    speeds = []

    def call(images):
        start = time.perf_counter()
        out = np.asarray(function(images))
        speeds.append(len(images) / (time.perf_counter() - start))
        return out

    return call, speeds


def vae_label(path, vae):
    """The name of an unsupervised VAE's rows: its path, and whether its decoder predicts its variance."""
    return f"unsupervised VAE {path}" + (" (variance head)" if vae.objective.decoder_variance else "")


def methods_for(args, vaes):
    """{name: f(noisy, spec) -> denoised}, and {name: images/s} filled as they run."""
    methods, speeds = {"noisy input": lambda noisy, spec: noisy}, {}

    def add(name, function):
        call, speeds[name] = timed(function)
        methods[name] = lambda noisy, spec: predict_in_batches(call, noisy, BATCH)

    if args.supervised:
        add(f"supervised ({args.supervised})", load_endpoints(args.supervised).denoise)
    for label, vae in vaes.items():
        add(f"{label}, posterior mean decoded once", vae)
        for count in args.samples:
            add(f"{label}, MMSE of {count} posterior draws", lambda x, k=count, v=vae: v.posterior_moments(x, k)[0])
    for flag, name in SELF_SUPERVISED.items():
        if getattr(args, flag):
            add(f"{name} ({getattr(args, flag)}, same noisy images)", load_endpoints(getattr(args, flag)).denoise)
    if baselines.bm3d_available():
        name = baselines.bm3d_name(next(iter(vaes.values())).image_shape[-1])
        methods[name] = lambda noisy, spec: baselines.bm3d_denoise(noisy, gaussian_sigma(spec))
    return methods, speeds


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


def calibration(vaes, clean, specs, samples, seed):
    """Rows of each VAE's coverage of its draws' central 90 % interval and their std's correlation with the error."""
    rows = [
        f"| model | sigma | coverage of the central 90 % interval ({samples} draws) | corr(std, abs. error) |",
        "|---" * 4 + "|",
    ]
    for label, vae in vaes.items():
        for spec in specs:
            noisy = add_noise(clean, spec, seed=seed)
            draws = np.concatenate(
                [np.asarray(vae.posterior_samples(noisy[i : i + BATCH], samples)) for i in range(0, len(noisy), BATCH)]
            )
            coverage, correlation = interval_coverage(draws, clean), std_error_correlation(draws, clean)
            rows.append(f"| {label} | {gaussian_sigma(spec)} | {coverage:.3f} | {correlation:.3f} |")
    return "\n".join(rows) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="the dataset the noisy copy was made from")
    parser.add_argument(
        "--unsupervised",
        nargs="+",
        required=True,
        help="the unsupervised VAEs: run folders, .keras files or SavedModels",
    )
    parser.add_argument("--noise2void", help="the Noise2Void run (same noisy copy)")
    parser.add_argument("--neighbor2neighbor", help="the Neighbor2Neighbor run (same noisy copy)")
    parser.add_argument("--supervised", help="the supervised model (run, .keras or SavedModel)")
    parser.add_argument("--samples", default="1,8,32", help="posterior draws K of the MMSE rows, comma-separated")
    parser.add_argument("--limit", type=int, default=1000, help="validation images scored")
    parser.add_argument("--calibration-images", type=int, default=200, help="validation images the calibration uses")
    parser.add_argument("--calibration-samples", type=int, default=32, help="posterior draws per image it uses")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page", help="the results page to write (default benchmarks/results/unsupervised_DATASET.md)")
    args = parser.parse_args(argv)
    args.samples = [int(k) for k in args.samples.split(",")]
    counts = {"--samples": min(args.samples), "--limit": args.limit, "--calibration-images": args.calibration_images}
    counts["--calibration-samples"] = args.calibration_samples
    if min(counts.values()) < 1:
        parser.error(f"expected counts >= 1; received {counts}")
    clean = sources.load(args.dataset, "validation").images[: args.limit]
    vaes = {vae_label(path, vae): vae for path, vae in ((p, load_trained_model(p)) for p in args.unsupervised)}
    methods, speeds = methods_for(args, vaes)
    results = compare(methods, clean, HEADLINE_SPECS, args.seed)
    body = f"{len(clean):,} validation images of {args.dataset}, seeded Gaussian noise, PSNR dB / SSIM:\n\n"
    body += markdown_table(results, HEADLINE_SPECS)
    body += "\nImages per second (batch 250):\n\n| denoiser | images/s |\n|---|---|\n"
    body += "".join(f"| {name} | {np.median(measured):.0f} |\n" for name, measured in speeds.items())
    body += "\nThe noise level estimated per image (`gaussian:auto`):\n\n"
    body += estimator_errors(clean, HEADLINE_SPECS, args.seed)
    body += "\nWhether the posterior draws know their error (calibrated: coverage 0.9):\n\n"
    body += calibration(vaes, clean[: args.calibration_images], HEADLINE_SPECS, args.calibration_samples, args.seed)
    print(body)
    page = args.page or f"benchmarks/results/unsupervised_{args.dataset}.md"
    results_page(page, f"No clean images: {args.dataset}", body)


if __name__ == "__main__":
    main()
