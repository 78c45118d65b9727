"""Decode the posterior mean, or average the decoder over posterior samples?

    python benchmarks/posterior_average.py saved_models/mnist_vae/8 --dataset mnist --samples 8

A VAE can denoise by decoding z_mean of q(z | noisy) (what tfvae does) or by averaging decode(z)
over draws z ~ q(z | noisy). Scores both with a SavedModel's `encode` / `decode` signatures on the
validation slice at the headline noise levels and prints a Markdown table (PSNR dB / SSIM).
"""

import argparse

import tensorflow as tf

from tfvae.data import sources
from tfvae.evaluation.provenance import ResultsPage
from tfvae.evaluation.scoring import HEADLINE_SPECS, denoising_scores


def posterior_denoiser(model, samples, seed):
    """noisy -> mean of decode(z) over `samples` draws z ~ q(z | noisy); 0 samples decodes z_mean."""
    encode, decode = model.signatures["encode"], model.signatures["decode"]
    draws = tf.random.Generator.from_seed(seed)

    def denoise(noisy):
        latents = encode(images=tf.constant(noisy))
        z_mean, z_std = latents["z_mean"], tf.exp(0.5 * latents["z_log_var"])
        if not samples:
            return decode(z=z_mean)["images"]
        decoded = [decode(z=z_mean + z_std * draws.normal(tf.shape(z_mean)))["images"] for _ in range(samples)]
        return tf.add_n(decoded) / samples

    return denoise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("saved_model", help="a VAE SavedModel folder, e.g. saved_models/mnist_vae/8")
    parser.add_argument("--dataset", required=True, help="its dataset (validation slice)")
    parser.add_argument("--samples", type=int, default=8, help="posterior draws to average (>= 1)")
    parser.add_argument("--limit", type=int, default=1000, help="validation images scored")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page", default="benchmarks/results/posterior_average.md", help="the results page to write")
    args = parser.parse_args(argv)
    if args.samples < 1 or args.limit < 1:
        parser.error(
            f"expected --samples >= 1 and --limit >= 1; received --samples {args.samples} --limit {args.limit}"
        )
    model = tf.saved_model.load(args.saved_model)
    if "z_log_var" not in model.signatures["encode"].structured_outputs:
        parser.error(f"expected a VAE SavedModel (encode returns z_log_var); received {args.saved_model}")
    clean = sources.load(args.dataset, "validation").images[: args.limit]
    rows = {
        name: denoising_scores(posterior_denoiser(model, samples, args.seed), clean, seed=args.seed)
        for name, samples in (
            ("decode(z_mean)", 0),
            (f"mean of {args.samples} decodes of posterior samples", args.samples),
        )
    }
    page = ResultsPage(args.page, "Decoding the posterior mean or averaging posterior draws")
    page.add(f"{args.saved_model}, {len(clean):,} validation images of {args.dataset}, PSNR dB / SSIM:\n")
    page.add("| denoiser | " + " | ".join(HEADLINE_SPECS) + " |")
    page.add("|---" * (len(HEADLINE_SPECS) + 1) + "|")
    for name, results in rows.items():
        page.add(
            f"| {name} | "
            + " | ".join(f"{results[spec]['psnr']:.3f} / {results[spec]['ssim']:.3f}" for spec in HEADLINE_SPECS)
            + " |"
        )
    page.write()


if __name__ == "__main__":
    main()
