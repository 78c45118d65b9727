"""`tfvae evaluate`: score a run or an exported SavedModel against the baselines; write the report.

Writes to `out`: evaluation.json, evaluation.md, psnr_vs_sigma.png, denoised.png
(noisy / denoised / |error| / clean), and when the model has the endpoints: latent_scatter.png,
interpolation.png, samples.png, uncertainty.png (`samples` > 1: per-pixel std of decoded
posterior samples).
"""

import json
from pathlib import Path

import numpy as np

from tfvae.data import sources
from tfvae.data.images import check_images
from tfvae.data.noise import add_noise
from tfvae.evaluation import density, figures
from tfvae.evaluation.scoring import (
    HEADLINE_SIGMAS,
    HEADLINE_SPECS,
    NOISE_GRID,
    baseline_methods,
    compare,
    markdown_table,
    predict_in_batches,
)
from tfvae.serving.endpoints import load_endpoints

MODEL_NAME = "model"
UNCERTAINTY_NOISE = "gaussian:0.3"


def evaluate(
    model_path,
    dataset,
    split="validation",
    out="evaluation",
    specs=NOISE_GRID,
    seed=0,
    limit=None,
    samples=0,
    density_samples=0,
    data_dir=None,
    force=False,
    binarize=False,
    ensemble=False,
):
    """Evaluate `model_path` on `split` of `dataset`; returns the results dict written to out/evaluation.json.

    `ensemble` scores the model's self-ensemble (the SavedModel's denoise_ensemble) instead of its
    single pass. `binarize` replaces each clean image by one seeded Bernoulli sample of its pixels (dynamically
    binarized MNIST, the setting of the density literature: NLL in nats comparable with it).
    """
    out = Path(out)
    if (out / "evaluation.json").exists() and not force:
        raise FileExistsError(
            f"{out} already holds an evaluation; pass --force to overwrite it or choose another --out."
        )
    endpoints = load_endpoints(model_path)
    if ensemble and endpoints.denoise_ensemble is None:
        raise ValueError(f"Expected a model with a self-ensemble. Received: {model_path} without one.")
    denoise = endpoints.denoise_ensemble if ensemble else endpoints.denoise
    evaluated = sources.load(dataset, split, data_dir=data_dir, seed=seed)
    clean, labels = evaluated.images[:limit], evaluated.labels[:limit]
    if binarize:
        clean = (np.random.default_rng(seed).uniform(size=clean.shape) < clean).astype(np.float32)
    train_images = sources.load(dataset, "train", data_dir=data_dir, seed=seed).images
    validation_images = sources.load(dataset, "validation", data_dir=data_dir, seed=seed).images
    methods, settings = baseline_methods(train_images, validation_images, specs, seed)
    methods[MODEL_NAME] = lambda noisy, spec: predict_in_batches(denoise, noisy)
    results = {
        "model": str(model_path),
        "dataset": dataset,
        "split": split,
        "images": len(clean),
        "seed": seed,
        "binarized": binarize,
        "self_ensemble": ensemble,
        "baseline_settings": settings,
        "denoising": compare(methods, clean, specs, seed),
    }
    if density_samples and endpoints.is_density_model:
        results["density"] = density.density_scores(endpoints.model, clean, samples=density_samples, seed=seed)
        results["latent_usage"] = density.latent_usage(endpoints.model, clean)
    out.mkdir(parents=True, exist_ok=True)
    if endpoints.can_sample and samples > 1:
        results["uncertainty"] = uncertainty_report(endpoints, clean[:256], seed, samples, out)
    (out / "evaluation.json").write_text(json.dumps(results, indent=2))
    (out / "evaluation.md").write_text(summary(results, specs))
    draw_figures(endpoints, results, clean, labels, out, seed)
    return results


def summary(results, specs):
    lines = [
        f"Evaluation of {results['model']} on {results['dataset']} / {results['split']} "
        f"({results['images']} images, seed {results['seed']}): PSNR dB / SSIM.",
        "",
        markdown_table(results["denoising"], specs),
    ]
    if "uncertainty" in results:
        u = results["uncertainty"]
        lines += [
            f"Uncertainty ({u['samples']} posterior samples, {u['noise']}): "
            f"mean per-pixel std {u['mean_pixel_std']:.4f}; "
            f"correlation of std with |error| {u['std_error_correlation']:.2f}.",
            "",
        ]
    if "density" in results:
        d, usage = results["density"], results["latent_usage"]
        lines += [
            f"ELBO {d['elbo_nats']:.2f} nats; importance-weighted NLL (k={d['samples']}) {d['nll_nats']:.2f} "
            f"+- {d['nll_standard_error_nats']:.2f} (standard error) nats "
            f"= {d['nll_bits_per_dim']:.4f} bits/dim; KL {usage['kl_total_nats']:.2f} nats; "
            f"active units {usage['active_units']} of {usage['latent_dimensions']}.",
        ]
        if len(usage["levels"]) > 1:
            lines += [
                f"  level {number}: KL {level['kl_nats']:.2f} nats, active units {level['active_units']} "
                f"of {level['latent_dimensions']}"
                for number, level in enumerate(usage["levels"], start=1)
            ]
        lines.append("")
    return "\n".join(lines)


def draw_figures(endpoints, results, clean, labels, out, seed):
    sigmas = [
        s for s, spec in zip(HEADLINE_SIGMAS, HEADLINE_SPECS) if all(spec in r for r in results["denoising"].values())
    ]
    curves = {
        name: (sigmas, [by_spec[f"gaussian:{s:g}"]["psnr"] for s in sigmas])
        for name, by_spec in results["denoising"].items()
    }
    if sigmas:
        title = f"{results['dataset']} {results['split']}: denoising quality"
        figures.save(figures.curves(curves, "Gaussian noise sigma", "PSNR (dB)", title), out / "psnr_vs_sigma.png")
    shown = clean[:8]
    rows = {}
    for spec in ("gaussian:0.1", "gaussian:0.3", "gaussian:0.5"):
        noisy = add_noise(shown, spec, seed=seed)
        denoised = np.clip(predict_in_batches(endpoints.denoise, noisy), 0, 1)
        rows[f"noisy {spec}"] = noisy
        rows[f"denoised {spec}"] = denoised
        rows[f"|error| {spec}"] = np.abs(denoised - shown)
    rows["clean"] = shown
    figures.save(figures.image_grid(rows, title="noisy / denoised / |error| / clean"), out / "denoised.png")
    if not endpoints.has_latent:
        return
    latents = endpoints.encode(clean[:2000])
    z = latents.get("z_mean", latents.get("z"))
    flat = z.reshape(len(z), -1)
    centered = flat - flat.mean(axis=0)
    projection = centered @ np.linalg.svd(centered, full_matrices=False)[2][:2].T
    figures.save(
        figures.scatter(projection, labels[: len(z)], "latent means, 2-D PCA projection"), out / "latent_scatter.png"
    )
    steps = np.linspace(0, 1, 8, dtype=np.float32).reshape(-1, *([1] * (z.ndim - 1)))
    rows = {f"{i} -> {j}": endpoints.decode((1 - steps) * z[i] + steps * z[j]) for i, j in ((0, 1), (2, 3), (4, 5))}
    figures.save(
        figures.image_grid(rows, title="decoded straight lines between two images' latents"), out / "interpolation.png"
    )
    if endpoints.can_sample:
        prior = np.random.default_rng(seed).standard_normal((16, *z.shape[1:])).astype(np.float32)
        rows = {"samples": endpoints.decode(prior[:8]), "": endpoints.decode(prior[8:])}
        figures.save(figures.image_grid(rows, title="decoded z ~ N(0, I)"), out / "samples.png")


def uncertainty_report(endpoints, clean, seed, samples, out):
    """Summary of the posterior spread (how unsure, and whether unsure where wrong); draws uncertainty.png."""
    noisy, mean, std = posterior_spread(endpoints, clean, seed, samples)
    scale = max(float(std[:8].max()), 1e-6)
    rows = {
        f"noisy {UNCERTAINTY_NOISE}": noisy[:8],
        "posterior mean": mean[:8],
        f"std (x{1 / scale:.0f})": std[:8] / scale,
        "clean": clean[:8],
    }
    figures.save(
        figures.image_grid(rows, title=f"uncertainty from {samples} posterior samples"), out / "uncertainty.png"
    )
    return {
        "noise": UNCERTAINTY_NOISE,
        "samples": samples,
        "images": len(clean),
        "mean_pixel_std": float(std.mean()),
        "std_error_correlation": float(np.corrcoef(std.ravel(), np.abs(mean - clean).ravel())[0, 1]),
    }


def posterior_spread(endpoints, clean, seed, samples, batch_size=256):
    """(noisy, mean, per-pixel std) of `samples` decoded posterior draws per noisy image: from the
    `sample_posterior` signature (every level of a hierarchical VAE), or for SavedModels exported
    before it, from encode and decode."""
    noisy = add_noise(check_images(clean), UNCERTAINTY_NOISE, seed=seed)
    if endpoints.sample_posterior is not None:
        drawn = [
            endpoints.sample_posterior(noisy[i : i + batch_size], samples) for i in range(0, len(noisy), batch_size)
        ]
        return noisy, *(np.concatenate([np.asarray(d[key]) for d in drawn]) for key in ("mean", "std"))
    latents = endpoints.encode(noisy)
    rng = np.random.default_rng(seed)
    draws = np.stack(
        [
            endpoints.decode(
                latents["z_mean"]
                + np.exp(0.5 * latents["z_log_var"]) * rng.standard_normal(latents["z_mean"].shape).astype(np.float32)
            )
            for _ in range(samples)
        ]
    )
    return noisy, draws.mean(axis=0), draws.std(axis=0)
