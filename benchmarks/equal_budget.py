"""Equal wall-clock budget: our best VAE against the supervised DnCNN baseline, the same seconds of
training each on this machine, scored on the validation slice next to the noisy input and blur.

    python benchmarks/equal_budget.py --seconds 600                # about 25 min per dataset here
    python benchmarks/equal_budget.py --fast --out /tmp/eb         # seconds: proves the script works (CI)

Both contenders train under the same --dtype-policy (default mixed_bfloat16: the faster choice on
one core of this AVX512-BF16 CPU). Finished runs in --out/<dtype policy> are reused, so an
interrupted benchmark continues.
"""

import argparse
from pathlib import Path

from tfvae import bench, training

# name -> (run folder, TrainConfig fields, steps (unused: the budget is time), datasets)
# The VAE is the pretrained models' architecture (benchmarks/pretrain.py) at a constant learning rate
# and without the weight EMA: a cosine schedule needs the step count, which a time budget does not
# fix, and a 0.999 average still carries the initial weights a few thousand steps in.
VAE = {"model": "vae", "arch": "conv-spatial", "sigma_x": 0.01}
CONTENDERS = {
    "conv-spatial VAE (latent H/2 x W/2 x 8)": ("VAE_latent8", {**VAE, "latent_dim": 8}, 0, ("mnist", "fashion_mnist")),
    "conv-spatial VAE (latent H/2 x W/2 x 12)": ("VAE_latent12", {**VAE, "latent_dim": 12}, 0, ("cifar10",)),
    "DnCNN-10, width 32 (supervised)": ("DnCNN", {"model": "dncnn", "depth": 10, "width": 32}, 0, None),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600, help="training time per model")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--out", default="benchmarks/runs/equal_budget", help="run folders (reused when finished)")
    parser.add_argument("--table", default=None, help="also write the Markdown tables here")
    parser.add_argument("--dtype-policy", default="mixed_bfloat16", choices=training.DTYPE_POLICIES, help="for every contender")
    parser.add_argument("--fast", action="store_true", help="tiny data and budgets: checks that the script runs")
    args = parser.parse_args()
    contenders = {name: (folder, {**fields, "dtype_policy": args.dtype_policy}, steps, datasets)
                  for name, (folder, fields, steps, datasets) in CONTENDERS.items()}
    report = (f"Equal budget: {args.seconds:g} s of training per model, {args.dtype_policy} layers. "
              "PSNR dB / SSIM on the validation slice.\n\n")
    for dataset in args.datasets:
        runs = bench.train_all(dataset, Path(args.out) / args.dtype_policy, args.fast, contenders, seconds=args.seconds)
        results, seconds = bench.score_all(dataset, runs, args.fast)
        section = bench.markdown(dataset, results, seconds)
        print(section, flush=True)
        report += section + "\n"
    if args.table:
        Path(args.table).write_text(report)


if __name__ == "__main__":
    main()
