"""Denoising scores on a fixed, seeded grid of noise levels, for a model and the baselines.

Every method sees the same noisy images (noise fixed by seed); baselines' settings (blur width,
PCA components) are tuned per noise level on validation images noised with another seed.
Scores follow the benchmark protocol: tf.image PSNR / SSIM of clip(output, 0, 1), max_val 1,
per image, then averaged.
"""

import numpy as np

from tfvae.data.noise import Noise, add_noise, parse_noise
from tfvae.evaluation import baselines
from tfvae.evaluation.metrics import psnr, ssim
from tfvae.models.pca import best_component_count, pca_model, principal_components

HEADLINE_SIGMAS = (0.1, 0.2, 0.3, 0.5)
HEADLINE_SPECS = tuple(f"gaussian:{sigma:g}" for sigma in HEADLINE_SIGMAS)
NOISE_GRID = (*HEADLINE_SPECS, "salt_pepper:0.1", "salt_pepper:0.3", "poisson:30", "masking:0.5")
PCA_FIT_IMAGES = 20000
BM3D_IMAGES = 200  # about a second per small image: BM3D is scored on the first images of a set
TUNING_IMAGES = 500


def predict_in_batches(denoise, images, batch_size=256):
    """`denoise` (a model or function on float32 batches) applied to `images` batch by batch, as NumPy."""
    return np.concatenate([np.asarray(denoise(images[i : i + batch_size])) for i in range(0, len(images), batch_size)])


def scores(clean, denoised):
    """Mean per-image PSNR and SSIM of `denoised` (clipped to [0, 1]) against `clean`."""
    return {"psnr": float(np.mean(psnr(clean, denoised))), "ssim": float(np.mean(ssim(clean, denoised)))}


def denoising_scores(denoise, clean, specs=HEADLINE_SPECS, seed=0, batch_size=256):
    """{spec: {"psnr", "ssim", "noisy_psnr", "noisy_ssim"}} of one denoiser (used by training runs)."""
    results = {}
    for spec in specs:
        noisy = add_noise(clean, spec, seed=seed)
        noisy_scores = scores(clean, noisy)
        results[spec] = {
            **scores(clean, predict_in_batches(denoise, noisy, batch_size)),
            "noisy_psnr": noisy_scores["psnr"],
            "noisy_ssim": noisy_scores["ssim"],
        }
    return results


def gaussian_sigma(spec):
    """The sigma of a fixed-level Gaussian spec, else None."""
    noise = parse_noise(spec)
    fixed_gaussian = isinstance(noise, Noise) and noise.family == "gaussian" and noise.low == noise.high
    return noise.low if fixed_gaussian else None


def baseline_methods(train_images, validation_images, specs, seed):
    """{name: f(noisy, spec) -> denoised or None (not applicable)} and the settings chosen per spec."""
    mean, vectors, _ = principal_components(train_images[:PCA_FIT_IMAGES])
    tune_clean = validation_images[:TUNING_IMAGES]
    settings, pcas = {}, {}
    for spec in specs:
        tune_noisy = add_noise(tune_clean, spec, seed=seed + 1)  # not the noise that is scored
        width = baselines.best_blur_width(tune_noisy, tune_clean)
        components = best_component_count(mean, vectors, tune_noisy, tune_clean)
        settings[spec] = {"blur_width": width, "pca_components": components}
        pcas[spec] = pca_model(train_images.shape[1:], mean, vectors, components)
    methods = {
        "noisy input": lambda noisy, spec: noisy,
        "Gaussian blur": lambda noisy, spec: predict_in_batches(
            lambda x: baselines.gaussian_blur(x, settings[spec]["blur_width"]), noisy
        ),
        "PCA": lambda noisy, spec: predict_in_batches(pcas[spec], noisy),
    }
    if baselines.bm3d_available():
        methods[bm3d_row(train_images.shape[-1])] = lambda noisy, spec: (
            baselines.bm3d_denoise(noisy, gaussian_sigma(spec)) if gaussian_sigma(spec) else None
        )
    return methods, settings


def bm3d_row(channels: int) -> str:
    """The table row of BM3D (CBM3D on colour) in `baseline_methods`: scored on the first images only."""
    return f"{baselines.bm3d_name(channels)}, first {BM3D_IMAGES} images"


def slow_rows(methods) -> dict:
    """{name: image count} of the methods in `methods` that `compare` scores on the first images only."""
    return {name: BM3D_IMAGES for name in methods if name in (bm3d_row(1), bm3d_row(3))}


def compare(methods, clean, specs, seed, first=None):
    """{method: {spec: {"psnr", "ssim"}}} with every method scored on the same noisy images.

    `first` ({method name: count}) scores a slow method (BM3D) on the first `count` of those
    noisy images only; its table row should say so.
    """
    first = first or {}
    results = {name: {} for name in methods}
    for spec in specs:
        noisy = add_noise(clean, spec, seed=seed)
        for name, method in methods.items():
            count = first.get(name, len(clean))
            denoised = method(noisy[:count], spec)
            if denoised is not None:
                results[name][spec] = scores(clean[:count], denoised)
    return results


def markdown_table(results, specs):
    """Rows: methods; columns: noise specs; cells: PSNR dB / SSIM."""
    lines = ["| method | " + " | ".join(specs) + " |", "|---|" + "---|" * len(specs)]
    for name, by_spec in results.items():
        cells = [f"{by_spec[s]['psnr']:.2f} / {by_spec[s]['ssim']:.3f}" if s in by_spec else "-" for s in specs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
