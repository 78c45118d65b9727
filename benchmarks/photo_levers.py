"""The photo levers side by side: models fine-tuned one lever at a time on the same budget, on the
bundled photos (the protocol of `photos.py`) and on CIFAR-10.

    python benchmarks/photo_levers.py saved_models/photos_vae/2 runs/u30/baseline runs/u30/dead_leaves \
        runs/u30/dilated runs/u30/noise_level [--page benchmarks/results/photo_levers.md]

Per model: the mean PSNR of one pass over the bundled photos (colour and grey, 8-bit noisy PNGs)
per sigma, on how many of them it beats CBM3D / BM3D given the true sigma, and the PSNR on the
first CIFAR-10 validation images (so a lever that helps photos is seen to keep CIFAR-10). A model
with the noise-level input is scored twice: blind (the level estimated, as `tfvae denoise` does)
and given the true sigma.
"""

import argparse
import functools

import numpy as np
from photos import SIGMAS, bm3d_8bit, noisy_copy, psnr_8bit, sample_photos

from tfvae.data import sources
from tfvae.evaluation.provenance import ResultsPage
from tfvae.evaluation.scoring import denoising_scores
from tfvae.serving import files
from tfvae.serving.inference import padded_call, single_pass
from tfvae.serving.saved_model import load_trained_model

CIFAR_SIGMAS = (0.1, 0.2, 0.3)


def denoisers(path):
    """{row name: (model, f(batch, sigma) -> denoised batch)} of the model at `path`: blind, and given
    the true sigma when it has the noise-level input."""
    model = load_trained_model(path)
    rows = {path: (model, lambda batch, sigma: single_pass(model)(batch))}
    if getattr(model, "noise_level_input", False):

        def given(batch, sigma):
            return padded_call(lambda b: model.denoise_once(b, noise_level=sigma), batch, model.size_multiple)

        rows[f"{path} (sigma given)"] = (model, given)
    return rows


def photo_scores(model, denoise, noisy_photos, sigma):
    """PSNR dB of one pass over each noisy photo."""
    return [
        psnr_8bit(
            clean, files.denoise_pixels(noisy, lambda b: denoise(b, sigma), model.image_shape, model.size_multiple)[0]
        )
        for clean, noisy in noisy_photos
    ]


def cells(model, denoise, noisy, reference, cifar, seed):
    """The table cells of one denoiser: photos per sigma (mean PSNR, photos ahead of CBM3D), CIFAR-10 per sigma."""
    row = []
    for sigma in SIGMAS:
        values = photo_scores(model, denoise, noisy[sigma], sigma)
        ahead = sum(value > bm3d for value, bm3d in zip(values, reference[sigma]))
        row.append(f"{np.mean(values):.2f} ({ahead}/{len(values)})")
    for sigma in CIFAR_SIGMAS:
        spec = f"gaussian:{sigma:g}"
        row.append(
            f"{denoising_scores(functools.partial(denoise, sigma=sigma), cifar, [spec], seed=seed)[spec]['psnr']:.2f}"
        )
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="SavedModel folders, run folders or .keras files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cifar-images", type=int, default=500, help="CIFAR-10 validation images scored")
    parser.add_argument("--page", default="benchmarks/results/photo_levers.md", help="the results page to write")
    args = parser.parse_args()
    photos = sample_photos()
    noisy = {
        sigma: [(image, noisy_copy(image, sigma, args.seed + index)) for index, image in enumerate(photos.values())]
        for sigma in SIGMAS
    }
    reference = {
        sigma: [psnr_8bit(clean, bm3d_8bit(image, sigma)) for clean, image in noisy[sigma]] for sigma in SIGMAS
    }
    cifar = sources.load("cifar10", "validation", seed=args.seed).images[: args.cifar_images]

    header = [f"photos sigma {sigma:g}" for sigma in SIGMAS] + [f"CIFAR-10 sigma {sigma:g}" for sigma in CIFAR_SIGMAS]
    lines = ["| model | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    lines.append(
        "| CBM3D / BM3D (true sigma) | " + " | ".join(f"{np.mean(reference[s]):.2f}" for s in SIGMAS) + " |" * 4
    )
    for path in args.models:
        for name, (model, denoise) in denoisers(path).items():
            row = cells(model, denoise, noisy, reference, cifar, args.seed)
            lines.append(f"| `{name}` | " + " | ".join(row) + " |")
            print(lines[-1], flush=True)

    page = ResultsPage(args.page, "Photo levers, one at a time")
    page.add(
        f"PSNR dB of one pass. Photos: the mean over the {len(photos)} bundled photos (colour and grey, never trained "
        "on; seeded Gaussian noise saved as 8-bit PNGs, as in `photos.py`), in brackets on how many the model beats "
        f"CBM3D / BM3D given the true sigma. CIFAR-10: the first {len(cifar)} validation images. A model with the "
        "noise-level input is scored blind (its level estimated, as `tfvae denoise` does) and given the true sigma.\n"
    )
    for line in lines:
        page.add(line)
    page.write()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
