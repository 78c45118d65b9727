"""Train every model of the PCA -> AE -> DAE -> VAE path on one step budget and compare them.

    python benchmarks/quality.py                      # full run (by hand; about an hour on 2 cores)
    python benchmarks/quality.py --fast --out /tmp/q  # seconds: proves the script works (CI)

Each model is a blind denoiser (trained on gaussian:0-0.5, except the plain autoencoder, trained
clean -> clean) scored on the validation slice at sigma 0.1/0.2/0.3/0.5 with the benchmark
protocol. Budgets are in steps (batch 128), so the numbers do not depend on machine load; the
table also shows the wall-clock time each took. Finished runs are reused: rerunning continues.
"""

import argparse
import json
from pathlib import Path

from tfvae import training
from tfvae.evaluation import HEADLINE_SPECS

# name -> (TrainConfig fields, training steps)
MODELS = {
    "PCA (k chosen on validation)": ({"model": "pca"}, 0),
    "AE conv (clean -> clean)": ({"model": "ae", "arch": "conv", "noise": "none"}, 1000),
    "DAE conv": ({"model": "ae", "arch": "conv"}, 1000),
    "seed MLP VAE 784-400-20, BCE": ({"model": "vae", "arch": "mlp", "width": 400, "latent_dim": 20, "likelihood": "bernoulli"}, 2000),
    "conv VAE (global latent 16)": ({"model": "vae", "arch": "conv", "latent_dim": 16}, 1000),
    "conv-spatial VAE (latent H/2 x W/2 x 4)": ({"model": "vae", "arch": "conv-spatial"}, 2000),
}
STEPS_PER_EPOCH = 250


def train_and_score(dataset, name, fields, steps, out, fast):
    run_dir = out / dataset / name.split(" (")[0].replace(" ", "_")
    if not (run_dir / training.FINAL_MODEL).exists():
        budget = {"train_size": 512, "validation_size": 128, "epochs": 1, "steps_per_epoch": 2} if fast else {
            "epochs": max(1, steps // STEPS_PER_EPOCH), "steps_per_epoch": min(steps, STEPS_PER_EPOCH) or None}
        training.train(training.TrainConfig(dataset=dataset, out=str(run_dir), **{**fields, **budget}))
    return json.loads((run_dir / "metrics.json").read_text())


def table(dataset, results):
    lines = [f"### {dataset}", "", "| model | train s | " + " | ".join(f"sigma {s.split(':')[1]}" for s in HEADLINE_SPECS) + " |",
             "|---|---|" + "---|" * len(HEADLINE_SPECS)]
    first = next(iter(results.values()))["gaussian"]
    lines.append("| noisy input | - | " + " | ".join(f"{first[s]['noisy_psnr']:.2f} / {first[s]['noisy_ssim']:.3f}" for s in HEADLINE_SPECS) + " |")
    for name, metrics in results.items():
        scores = metrics["gaussian"]
        lines.append(f"| {name} | {metrics['train_seconds']:.0f} | " + " | ".join(f"{scores[s]['psnr']:.2f} / {scores[s]['ssim']:.3f}" for s in HEADLINE_SPECS) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--out", default="benchmarks/runs", help="run folders (reused when finished)")
    parser.add_argument("--table", default=None, help="also write the Markdown table here")
    parser.add_argument("--fast", action="store_true", help="tiny data and budgets")
    args = parser.parse_args()
    out = Path(args.out)
    report = "PSNR dB / SSIM on the validation slice, blind models (PSNR of clip(output, 0, 1)).\n\n"
    for dataset in args.datasets:
        results = {name: train_and_score(dataset, name, fields, steps, out, args.fast) for name, (fields, steps) in MODELS.items()}
        report += table(dataset, results) + "\n"
        print(table(dataset, results), flush=True)
    if args.table:
        Path(args.table).write_text(report)


if __name__ == "__main__":
    main()
