"""`tfvae bench`: train every model of the PCA -> AE -> DAE -> VAE path on one step budget per
dataset, score them all on the validation slice next to the baselines, write a table and figure.

Each model is a blind denoiser (trained on gaussian:0-0.5; the plain autoencoder clean -> clean).
Budgets are in steps (batch 128), so the numbers do not depend on machine load; the table also
shows each model's wall-clock training time. Finished runs are reused: rerunning continues.
"""

import dataclasses
import json
from pathlib import Path

from tfvae.data import sources
from tfvae.evaluation import baselines, figures, provenance
from tfvae.evaluation.scoring import (
    HEADLINE_SIGMAS,
    HEADLINE_SPECS,
    baseline_methods,
    bm3d_row,
    compare,
    predict_in_batches,
    slow_rows,
)
from tfvae.models.saving import FINAL_MODEL, load_model
from tfvae.training import recipes
from tfvae.training.run import train

STEPS_PER_EPOCH = 250


def budget(entry, fast, seconds=None):
    """The TrainConfig fields of `entry`'s budget: tiny (`fast`), `seconds` of wall-clock, or its steps."""
    if fast:
        return recipes.FAST
    if seconds:
        return {"epochs": 10**6, "steps_per_epoch": STEPS_PER_EPOCH, "time_budget": seconds}
    return {
        "epochs": max(1, entry.steps // STEPS_PER_EPOCH),
        "steps_per_epoch": min(entry.steps, STEPS_PER_EPOCH) or None,
    }


def train_all(dataset, out, fast, entries=recipes.BENCH, seconds=None):
    """Train (or reuse) every entry that runs on `dataset`, for its steps or, given `seconds`, for
    that wall-clock time each; returns {name: run folder}."""
    runs = {}
    for name, entry in entries.items():
        if entry.datasets and dataset not in entry.datasets:
            continue
        run_dir = Path(out) / dataset / entry.folder
        if not (run_dir / FINAL_MODEL).exists():
            config = dataclasses.replace(
                entry.config, dataset=dataset, out=str(run_dir), **budget(entry, fast, seconds)
            )
            train(config)
        runs[name] = run_dir
    return runs


def score_all(dataset, runs, fast, seed=0):
    """{method: {spec: scores}} on the validation slice: noisy input, Gaussian blur, then every run."""
    validation_size = recipes.FAST["validation_size"] if fast else sources.DEFAULT_VALIDATION_SIZE
    clean = sources.load(dataset, "validation", validation_size=validation_size, seed=seed).images
    methods = {"noisy input": lambda noisy, spec: noisy}
    tuned, _ = (
        baseline_methods(clean, clean, HEADLINE_SPECS, seed)
        if fast
        else baseline_methods(sources.load(dataset, "train", seed=seed).images, clean, HEADLINE_SPECS, seed)
    )
    methods["Gaussian blur (width tuned per sigma)"] = tuned["Gaussian blur"]
    if baselines.bm3d_available():
        methods[bm3d_row(clean.shape[-1])] = tuned[bm3d_row(clean.shape[-1])]
    for name, run_dir in runs.items():
        model = load_model(run_dir)
        methods[name] = lambda noisy, spec, model=model: predict_in_batches(model.predict_on_batch, noisy)
    results = compare(methods, clean, HEADLINE_SPECS, seed, slow_rows(methods))
    seconds = {
        name: json.loads((run_dir / "metrics.json").read_text())["train_seconds"] for name, run_dir in runs.items()
    }
    return results, seconds


def markdown(dataset, results, seconds):
    header = "| model | train s | " + " | ".join(f"sigma {s:g}" for s in HEADLINE_SIGMAS) + " |"
    lines = [f"## {dataset}", "", header, "|---|---|" + "---|" * len(HEADLINE_SIGMAS)]
    for name, by_spec in results.items():
        cells = [f"{by_spec[s]['psnr']:.2f} / {by_spec[s]['ssim']:.3f}" for s in HEADLINE_SPECS]
        lines.append(f"| {name} | {seconds.get(name, 0):.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(datasets, out, fast=False, table=None, figure_dir=None):
    """Train, score, print and write everything; returns the Markdown report."""
    report = (
        "PSNR dB / SSIM on the validation slice (5,000 train images never trained on), blind models, "
        "PSNR of clip(output, 0, 1).\n\n"
    )
    for dataset in datasets:
        results, seconds = score_all(dataset, train_all(dataset, out, fast), fast)
        section = markdown(dataset, results, seconds)
        print(section, flush=True)
        report += section + "\n"
        if figure_dir:
            Path(figure_dir).mkdir(parents=True, exist_ok=True)
            curves = {
                name: (HEADLINE_SIGMAS, [by_spec[s]["psnr"] for s in HEADLINE_SPECS])
                for name, by_spec in results.items()
            }
            figure = figures.curves(
                curves, "Gaussian noise sigma", "PSNR (dB)", f"{dataset}: blind denoisers on the validation slice"
            )
            figures.save(figure, Path(figure_dir) / f"{dataset}_psnr_vs_sigma.png")
    if table:
        provenance.results_page(table, "Every model of the path", report)
    return report
