"""Every model of the path: PCA, AE, DAE, the write-up's MLP VAE and the conv VAEs trained on one
step budget per dataset (`bench.BENCH`), scored on the validation slice next to the baselines;
writes the results page and a PSNR-vs-sigma figure per dataset.

    python benchmarks/quality.py                                    # full run, by hand (about an hour on 2 cores)
    python benchmarks/quality.py --datasets mnist --table quality.md
    python benchmarks/quality.py --fast --out /tmp/q --table /tmp/q/quality.md   # seconds: proves the script works (CI)

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
    parser.add_argument("--table", default="benchmarks/results/quality.md", help="the results page to write")
    parser.add_argument("--figures", default="benchmarks/results", help="write PSNR-vs-sigma figures into this folder")
    parser.add_argument("--fast", action="store_true", help="tiny data and budgets: checks that the script runs")
    args = parser.parse_args()
    report = (
        "PSNR dB / SSIM on the validation slice (5,000 train images never trained on), blind models, "
        "PSNR of clip(output, 0, 1).\n\n"
    )
    for dataset in args.datasets:
        runs = bench.train_all(dataset, args.out, args.fast, bench.BENCH)
        results, seconds = bench.score_all(dataset, runs, args.fast)
        section = bench.markdown(dataset, results, seconds)
        print(section, flush=True)
        report += section + "\n"
        save_figure(dataset, results, args.figures)
    results_page(args.table, "Every model of the path", report)


if __name__ == "__main__":
    main()
