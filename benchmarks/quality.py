"""Every model of the path: PCA, AE, DAE, the write-up's MLP VAE and the conv VAEs trained on one
step budget per dataset (`bench.BENCH`), scored on the validation slice next to the baselines;
writes a results page (quality_<dataset>.md) and a PSNR-vs-sigma figure per dataset.

    python benchmarks/quality.py                                    # both datasets (about an hour each on 2 cores)
    python benchmarks/quality.py --datasets mnist --pages my_results/
    python benchmarks/quality.py --fast --out /tmp/q --pages /tmp/q   # seconds: proves the script works (CI)

Finished runs in --out are reused, so an interrupted benchmark continues.
"""

import argparse
from pathlib import Path

import bench

from tfvae.evaluation import figures
from tfvae.evaluation.provenance import results_page
from tfvae.evaluation.scoring import HEADLINE_SIGMAS, HEADLINE_SPECS


def save_figure(dataset, results, figure_dir):
    """`figure_dir`/<dataset>_psnr_vs_sigma.png: one PSNR curve per method."""
    Path(figure_dir).mkdir(parents=True, exist_ok=True)
    curves = {
        name: (HEADLINE_SIGMAS, [by_spec[s]["psnr"] for s in HEADLINE_SPECS]) for name, by_spec in results.items()
    }
    figure = figures.curves(
        curves, "Gaussian noise sigma", "PSNR (dB)", f"{dataset}: blind denoisers on the validation slice"
    )
    figures.save(figure, Path(figure_dir) / f"{dataset}_psnr_vs_sigma.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--out", default="benchmarks/runs", help="run folders (finished ones are reused)")
    parser.add_argument("--pages", default="benchmarks/results", help="write quality_<dataset>.md into this folder")
    parser.add_argument("--figures", default="benchmarks/results", help="write PSNR-vs-sigma figures into this folder")
    parser.add_argument("--fast", action="store_true", help="tiny data and budgets: checks that the script runs")
    args = parser.parse_args()
    for dataset in args.datasets:
        runs = bench.train_all(dataset, args.out, args.fast, bench.BENCH)
        results, seconds = bench.score_all(dataset, runs, args.fast)
        section = bench.markdown(dataset, results, seconds)
        print(section, flush=True)
        save_figure(dataset, results, args.figures)
        report = (
            "PSNR dB / SSIM on the validation slice (5,000 train images never trained on), blind models, "
            f"PSNR of clip(output, 0, 1).\n\n{section}"
        )
        results_page(Path(args.pages) / f"quality_{dataset}.md", f"Every model of the path: {dataset}", report)


if __name__ == "__main__":
    main()
