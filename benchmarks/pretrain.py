"""Retrain a shipped pretrained denoising VAE from scratch: one command per dataset.

    python benchmarks/pretrain.py mnist --version 7      # or: make pretrained-mnist VERSION=7
    python benchmarks/pretrain.py cifar10 --version 5

Trains the dataset's recipe, stage by stage, into runs/pretrained/<dataset>[-<stage>] (rerunning
after an interruption resumes exactly where the last epoch ended; finished stages are reused),
exports the last stage to saved_models/<dataset>_vae/<version> and scores it on the validation
slice next to the noisy input, blur and PCA (evaluation.md in the last stage's run folder).
"""

import argparse
import sys
from pathlib import Path

from tfvae import cli, training

# Blind Gaussian denoising, sigma ~ U[0, 0.5] per image; cosine learning-rate decay over the planned
# steps and the exponential moving average of the weights. The shipped models were trained two at a
# time on this project's 2-core machine, one core each (OMP_NUM_THREADS=TF_NUM_INTRAOP_THREADS=1).
# Stage 2 fine-tunes stage 1 with a second cosine cycle from half the learning rate, its layers in
# bfloat16 (1.8x the steps per hour on one core of this AVX512-BF16 CPU; weights stay float32).
# Stage 3 runs a third cycle from 2.5e-4 with a sharper decoder, sigma_x 0.005: in 4,000-step
# pilots from MNIST's stage 2 it gained +0.026 / +0.013 / +0.016 / +0.021 dB at sigma 0.1 / 0.2 /
# 0.3 / 0.5 where keeping sigma_x 0.01 gained +0.008 / +0.003 / +0.004 / +0.004.
# Stage 4 grows the network (more capacity, the lever once a cycle gained under 0.1 dB): one
# residual block at the latent resolution in encoder and decoder (`--depth 1`), starting as the
# identity, so the grown model starts where stage 3 ended; a cosine cycle from 5e-4. MNIST adds two
# short cycles from 1e-4 (stages 5 and 6).
# The SavedModel computes in float32 whatever the training did: it serves on any CPU, and the same
# weights served in bfloat16 scored within 0.006 dB (mnist_vae/4 and cifar10_vae/3, both ways).
COMMON = ["--model", "vae", "--arch", "conv-spatial", "--noise", "gaussian:0-0.5", "--sigma-x", "0.01",
          "--lr-schedule", "cosine", "--ema", "0.999", "--steps-per-epoch", "500", "--seed", "0"]
FINE_TUNE = [*COMMON, "--dtype-policy", "mixed_bfloat16"]
SHARPER = ["--learning-rate", "2.5e-4", "--sigma-x", "0.005"]  # stage 3 (later flags override earlier ones)
GROW = [*SHARPER, "--depth", "1", "--learning-rate", "5e-4"]  # stage 4
SHORT_CYCLE = [*GROW, "--learning-rate", "1e-4"]  # MNIST's stages 5 and 6
RECIPES = {  # dataset -> the `tfvae train` flags of each stage (each stage after the first starts from the one before)
    "mnist": [[*COMMON, "--latent-dim", "8", "--epochs", "40", "--time-budget", "6000"],
              [*FINE_TUNE, "--learning-rate", "5e-4", "--latent-dim", "8", "--epochs", "72", "--time-budget", "5700"],
              [*FINE_TUNE, *SHARPER, "--latent-dim", "8", "--epochs", "76", "--time-budget", "6000"],
              [*FINE_TUNE, *GROW, "--latent-dim", "8", "--epochs", "44", "--time-budget", "7000"],
              [*FINE_TUNE, *SHORT_CYCLE, "--latent-dim", "8", "--epochs", "16", "--time-budget", "2400"],
              [*FINE_TUNE, *SHORT_CYCLE, "--latent-dim", "8", "--epochs", "20", "--time-budget", "3000"]],
    "fashion_mnist": [[*COMMON, "--latent-dim", "8", "--epochs", "16", "--time-budget", "3000"]],
    "cifar10": [[*COMMON, "--latent-dim", "12", "--epochs", "26", "--time-budget", "6000"],
                [*FINE_TUNE, "--learning-rate", "5e-4", "--latent-dim", "12", "--epochs", "52", "--time-budget", "5700"],
                [*FINE_TUNE, *SHARPER, "--latent-dim", "12", "--epochs", "56", "--time-budget", "6000"],
                [*FINE_TUNE, *GROW, "--latent-dim", "12", "--epochs", "36", "--time-budget", "7000"]],
}
# serving_default's self-ensemble (tfvae.ensemble), chosen on validation images: the 8-fold
# dihedral one adds 0.23 dB at sigma 0.1 on CIFAR-10 (cifar10_vae/2); on MNIST and Fashion-MNIST no
# copy gained more than 0.05 dB (quarter turns cost Fashion-MNIST 0.3-0.4 dB: clothes have an up).
SELF_ENSEMBLE = {"mnist": "none", "fashion_mnist": "none", "cifar10": "dihedral"}
# --fast: tiny data and one epoch of two steps per stage (later flags override earlier ones); proves the script runs.
FAST_TRAIN = ["--train-size", "256", "--validation-size", "64", "--batch-size", "32", "--width", "8",
              "--epochs", "1", "--steps-per-epoch", "2"]
FAST_EVALUATE = ["--limit", "64"]
HEADLINE_NOISE = [flag for sigma in ("0.1", "0.2", "0.3", "0.5") for flag in ("--noise", f"gaussian:{sigma}")]


def tfvae(*argv):
    """Run one `tfvae` command; stop at the first that fails (its error is already printed)."""
    if cli.main([str(arg) for arg in argv]) != 0:
        sys.exit(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(RECIPES))
    parser.add_argument("--version", type=int, required=True, help="SavedModel version to write")
    parser.add_argument("--runs", default="runs/pretrained", help="where the run folder goes")
    parser.add_argument("--to", default="saved_models", help="SavedModel root")
    parser.add_argument("--force", action="store_true", help="replace an existing SavedModel version and its evaluation")
    parser.add_argument("--fast", action="store_true", help="tiny data and budgets: checks that the script runs")
    args = parser.parse_args(argv)
    run_dir = None
    for stage, flags in enumerate(RECIPES[args.dataset], start=1):
        previous, run_dir = run_dir, Path(args.runs) / (args.dataset if stage == 1 else f"{args.dataset}-{stage}")
        if not (run_dir / training.FINAL_MODEL).exists():
            tfvae("train", *flags, *FAST_TRAIN * args.fast, *(["--init-from", previous] if previous else []),
                  "--dataset", args.dataset, "--out", run_dir)
    name = f"{args.dataset}_vae"
    tfvae("export", run_dir, "--name", name, "--version", args.version, "--to", args.to, "--dtype-policy", "float32",
          "--self-ensemble", SELF_ENSEMBLE[args.dataset], *["--force"] * args.force)
    tfvae("evaluate", Path(args.to) / name / str(args.version), "--dataset", args.dataset, "--split", "validation",
          *HEADLINE_NOISE, *FAST_EVALUATE * args.fast, *["--force"] * args.force, "--out", run_dir / "evaluation")


if __name__ == "__main__":
    sys.exit(main())
