"""Equal wall-clock budget: our best VAE against the supervised DnCNN baseline, the same seconds of
training each on this machine, scored on the validation slice next to the noisy input and blur.

    python benchmarks/equal_budget.py --seconds 600                # about 25 min per dataset here
    python benchmarks/equal_budget.py --fast --out /tmp/eb         # seconds: proves the script works (CI)

The contenders (`bench.EQUAL_BUDGET`, beside this script) train under the same --dtype-policy
(default auto: bfloat16 layers where the CPU computes bfloat16 natively). Finished runs in
--out/<dtype policy> are reused, so an interrupted benchmark continues.
"""

import argparse
import dataclasses
from pathlib import Path

import bench

from tfvae.evaluation.provenance import results_page
from tfvae.models.precision import DTYPE_POLICIES


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600, help="training time per model")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--out", default="benchmarks/runs/equal_budget", help="run folders (reused when finished)")
    parser.add_argument("--table", default="benchmarks/results/equal_budget.md", help="the results page to write")
    parser.add_argument("--dtype-policy", default="auto", choices=DTYPE_POLICIES, help="for every contender")
    parser.add_argument("--fast", action="store_true", help="tiny data and budgets: checks that the script runs")
    args = parser.parse_args()
    contenders = {
        name: dataclasses.replace(entry, config=dataclasses.replace(entry.config, dtype_policy=args.dtype_policy))
        for name, entry in bench.EQUAL_BUDGET.items()
    }
    report = (
        f"Equal budget: {args.seconds:g} s of training per model, dtype policy {args.dtype_policy}. "
        "PSNR dB / SSIM on the validation slice.\n\n"
    )
    for dataset in args.datasets:
        runs = bench.train_all(dataset, Path(args.out) / args.dtype_policy, args.fast, contenders, seconds=args.seconds)
        results, seconds = bench.score_all(dataset, runs, args.fast)
        section = bench.markdown(dataset, results, seconds)
        print(section, flush=True)
        report += section + "\n"
    results_page(args.table, "Equal budget: the VAE against a supervised DnCNN", report)


if __name__ == "__main__":
    main()
