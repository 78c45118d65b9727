"""Denoising scores on a fixed, seeded grid of noise levels (the benchmark protocol)."""

import numpy as np

from tfvae.metrics import psnr, ssim
from tfvae.noise import add_noise

HEADLINE_SIGMAS = (0.1, 0.2, 0.3, 0.5)
HEADLINE_SPECS = tuple(f"gaussian:{sigma:g}" for sigma in HEADLINE_SIGMAS)


def predict_in_batches(denoise, images, batch_size=256):
    """`denoise` (a model or function on float32 batches) applied to `images` batch by batch, as NumPy."""
    return np.concatenate([np.asarray(denoise(images[i : i + batch_size])) for i in range(0, len(images), batch_size)])


def denoising_scores(denoise, clean, specs=HEADLINE_SPECS, seed=0, batch_size=256):
    """{spec: {"psnr", "ssim", "noisy_psnr", "noisy_ssim"}}: means over images, same noise for every caller."""
    scores = {}
    for spec in specs:
        noisy = add_noise(clean, spec, seed=seed)
        denoised = predict_in_batches(denoise, noisy, batch_size)
        scores[spec] = {
            "psnr": float(np.mean(psnr(clean, denoised))),
            "ssim": float(np.mean(ssim(clean, denoised))),
            "noisy_psnr": float(np.mean(psnr(clean, noisy))),
            "noisy_ssim": float(np.mean(ssim(clean, noisy))),
        }
    return scores
