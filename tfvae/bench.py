"""`tfvae bench`: train every model of the PCA -> AE -> DAE -> VAE path on one step budget per
dataset, score them all on the validation slice next to the baselines, write a table and figure.

Each model is a blind denoiser (trained on gaussian:0-0.5; the plain autoencoder clean -> clean).
Budgets are in steps (batch 128), so the numbers do not depend on machine load; the table also
shows each model's wall-clock training time. Finished runs are reused: rerunning continues.
"""

import json
from pathlib import Path

from tfvae import baselines, data, plots, training
from tfvae.evaluation import HEADLINE_SIGMAS, HEADLINE_SPECS, baseline_methods, compare, predict_in_batches
from tfvae.export import load_model

# name -> (run folder name, TrainConfig fields, training steps, datasets it runs on (None: all))
MODELS = {
    "PCA (k chosen on validation)": ("PCA", {"model": "pca"}, 0, None),
    "AE conv (clean -> clean)": ("AE_conv", {"model": "ae", "arch": "conv", "noise": "none"}, 1000, None),
    "DAE conv": ("DAE_conv", {"model": "ae", "arch": "conv"}, 1000, None),
    "seed MLP VAE 784-400-20, BCE": (
        "seed_MLP_VAE_784-400-20,_BCE", {"model": "vae", "arch": "mlp", "width": 400, "latent_dim": 20, "likelihood": "bernoulli"}, 2000, None),
    "conv VAE (global latent 16)": ("conv_VAE", {"model": "vae", "arch": "conv", "latent_dim": 16}, 1000, None),
    "conv-spatial VAE (latent H/2 x W/2 x 4)": ("conv-spatial_VAE", {"model": "vae", "arch": "conv-spatial"}, 2000, None),
    "conv-residual VAE (latent H x W x 3)": ("conv-residual_VAE", {"model": "vae", "arch": "conv-residual", "latent_dim": 3}, 2000, None),
    "conv-spatial VAE, sigma_x 0.02, 3000 steps": (
        "conv-spatial_VAE_sigma0.02", {"model": "vae", "arch": "conv-spatial", "sigma_x": 0.02}, 3000, ("cifar10",)),
}
STEPS_PER_EPOCH = 250
FAST_BUDGET = {"train_size": 512, "validation_size": 128, "epochs": 1, "steps_per_epoch": 2}


def train_all(dataset, out, fast, models=MODELS, seconds=None):
    """Train (or reuse) every model, for its steps or, given `seconds`, for that wall-clock time
    each; returns {name: run folder}."""
    runs = {}
    for name, (folder, fields, steps, datasets) in models.items():
        if datasets and dataset not in datasets:
            continue
        run_dir = Path(out) / dataset / folder
        if not (run_dir / training.FINAL_MODEL).exists():
            if fast:
                budget = FAST_BUDGET
            elif seconds:
                budget = {"epochs": 10**6, "steps_per_epoch": STEPS_PER_EPOCH, "time_budget": seconds}
            else:
                budget = {"epochs": max(1, steps // STEPS_PER_EPOCH), "steps_per_epoch": min(steps, STEPS_PER_EPOCH) or None}
            training.train(training.TrainConfig(dataset=dataset, out=str(run_dir), **{**fields, **budget}))
        runs[name] = run_dir
    return runs


def score_all(dataset, runs, fast, seed=0):
    """{method: {spec: scores}} on the validation slice: noisy input, Gaussian blur, then every run."""
    validation_size = FAST_BUDGET["validation_size"] if fast else data.DEFAULT_VALIDATION_SIZE
    clean = data.load(dataset, "validation", validation_size=validation_size, seed=seed).images
    methods = {"noisy input": lambda noisy, spec: noisy}
    tuned, _ = baseline_methods(clean, clean, HEADLINE_SPECS, seed) if fast else baseline_methods(
        data.load(dataset, "train", seed=seed).images, clean, HEADLINE_SPECS, seed)
    methods["Gaussian blur (width tuned per sigma)"] = tuned["Gaussian blur"]
    if baselines.bm3d_available():
        methods["BM3D"] = tuned["BM3D"]
    for name, run_dir in runs.items():
        model = load_model(run_dir)
        methods[name] = lambda noisy, spec, model=model: predict_in_batches(model.predict_on_batch, noisy)
    results = compare(methods, clean, HEADLINE_SPECS, seed)
    seconds = {name: json.loads((run_dir / "metrics.json").read_text())["train_seconds"] for name, run_dir in runs.items()}
    return results, seconds


def markdown(dataset, results, seconds):
    header = "| model | train s | " + " | ".join(f"sigma {s:g}" for s in HEADLINE_SIGMAS) + " |"
    lines = [f"### {dataset}", "", header, "|---|---|" + "---|" * len(HEADLINE_SIGMAS)]
    for name, by_spec in results.items():
        cells = [f"{by_spec[s]['psnr']:.2f} / {by_spec[s]['ssim']:.3f}" for s in HEADLINE_SPECS]
        lines.append(f"| {name} | {seconds.get(name, 0):.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(datasets, out, fast=False, table=None, figures=None):
    """Train, score, print and write everything; returns the Markdown report."""
    report = ("PSNR dB / SSIM on the validation slice (5,000 train images never trained on), blind models, "
              "PSNR of clip(output, 0, 1).\n\n")
    for dataset in datasets:
        results, seconds = score_all(dataset, train_all(dataset, out, fast), fast)
        section = markdown(dataset, results, seconds)
        print(section, flush=True)
        report += section + "\n"
        if figures:
            Path(figures).mkdir(parents=True, exist_ok=True)
            curves = {name: (HEADLINE_SIGMAS, [by_spec[s]["psnr"] for s in HEADLINE_SPECS]) for name, by_spec in results.items()}
            figure = plots.curves(curves, "Gaussian noise sigma", "PSNR (dB)", f"{dataset}: blind denoisers on the validation slice")
            plots.save(figure, Path(figures) / f"{dataset}_psnr_vs_sigma.png")
    if table:
        Path(table).parent.mkdir(parents=True, exist_ok=True)
        Path(table).write_text(report)
    return report
