"""Photos larger than the training images: `tfvae denoise` against BM3D given the true sigma.

    pip install bm3d scikit-learn          # the reference and the sample photos
    python benchmarks/photos.py saved_models/cifar10_vae/6 [--out /tmp/photos]

The photos protocol: 8-bit photos, noise clip(x + sigma N(0, 1), 0, 1) at sigma 0.05, 0.1, 0.2
and 0.3 (seeded), saved as 8-bit PNGs, denoised by `tfvae denoise` (one pass, and with
--self-ensemble), PSNR of the 8-bit output against the clean photo; BM3D (`bm3d.bm3d_rgb` /
`bm3d.bm3d`) gets the same noisy PNGs and the true sigma. The photos are the ones packages bundle,
never trained on: scikit-learn's two sample images and matplotlib's Grace Hopper, in colour and in
grey (scikit-image's images are kept for independent scoring); beside them, two synthetic
dead-leaves images (`tfvae.data.dead_leaves`, a seed no training stream uses), in colour and grey,
scored apart: a model trained on dead leaves has seen their kind. Writes a table per sigma (every
photo, the mean over the bundled photos, how many of them the model beats CBM3D on) and the
seconds `tfvae denoise` takes for a 1-megapixel photo.
"""

import argparse
import time
from pathlib import Path

import matplotlib
import numpy as np
import tensorflow as tf

from tfvae.data import dead_leaves
from tfvae.evaluation import baselines
from tfvae.evaluation.metrics import psnr
from tfvae.evaluation.provenance import ResultsPage
from tfvae.serving import files
from tfvae.serving.endpoints import load_endpoints

SIGMAS = (0.05, 0.1, 0.2, 0.3)
SYNTHETIC_SEED = 2026  # no training stream draws dead leaves with this entropy
SYNTHETIC_SIZE = (512, 768)


def sample_photos():
    """{name: uint8 (H, W, C)}: the bundled photos in RGB, and each in grey (rounded luminance)."""
    from sklearn.datasets import load_sample_images

    photos = dict(zip(("china", "flower"), load_sample_images().images))
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    photos["grace_hopper"] = tf.io.decode_jpeg(hopper.read_bytes()).numpy()
    grey = {f"{name}_grey": tf.image.rgb_to_grayscale(image).numpy() for name, image in photos.items()}
    return {**photos, **grey}


def synthetic_photos():
    """{name: uint8 (H, W, C)}: a dead-leaves image in colour and one in grey."""
    return {
        f"dead_leaves_{kind}": np.round(dead_leaves(1, *SYNTHETIC_SIZE, channels, seed=SYNTHETIC_SEED)[0] * 255).astype(
            np.uint8
        )
        for kind, channels in (("colour", 3), ("grey", 1))
    }


def seconds_per_megapixel(endpoints, folder, seed):
    """The wall-clock seconds `tfvae denoise` (one pass) takes for a 1000 x 1000 colour photo, best of 3."""
    photo = noisy_copy(np.full((1000, 1000, 3), 128, np.uint8), 0.1, seed)
    (folder / "megapixel").mkdir(parents=True, exist_ok=True)
    files.write_image(folder / "megapixel" / "photo.png", photo)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        files.denoise_files([folder / "megapixel"], folder / "megapixel_out", endpoints, force=True)
        timings.append(time.perf_counter() - start)
    return min(timings)


def noisy_copy(image, sigma, seed):
    """The 8-bit noisy photo: clip(x + sigma N(0, 1), 0, 1), rounded to 8 bits."""
    clean = image.astype(np.float64) / 255
    noisy = np.clip(clean + sigma * np.random.default_rng(seed).standard_normal(clean.shape), 0, 1)
    return np.round(noisy * 255).astype(np.uint8)


def bm3d_8bit(noisy, sigma):
    """The project's BM3D (CBM3D for colour) on one 8-bit photo, rounded back to 8 bits."""
    out = baselines.bm3d_denoise(noisy[None].astype(np.float64) / 255, sigma)[0]
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def scores(folder, name, image, sigma):
    """PSNR dB of the noisy photo, of CBM3D / BM3D and of the two `tfvae denoise` outputs in `folder`."""
    noisy = files.read_image(folder / "noisy" / f"{name}.png")
    outputs = [noisy, bm3d_8bit(noisy, sigma)]
    outputs += [files.read_image(folder / method / f"{name}.png") for method in ("one_pass", "ensemble")]
    return [psnr_8bit(image, out) for out in outputs]


def psnr_8bit(clean, output):
    return float(psnr(clean[None].astype(np.float32) / 255, output[None].astype(np.float32) / 255)[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a SavedModel folder, run folder or .keras file")
    parser.add_argument("--out", default="benchmarks/runs/photos", help="noisy and denoised PNGs go here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sigmas", type=float, nargs="+", default=SIGMAS, help="the noise levels")
    parser.add_argument("--page", default="benchmarks/results/photos.md", help="the results page to write")
    args = parser.parse_args()
    endpoints = load_endpoints(args.model)
    photos, synthetic = sample_photos(), synthetic_photos()
    methods = ["noisy input", "CBM3D / BM3D (true sigma)", "tfvae denoise", "tfvae denoise --self-ensemble"]
    page = ResultsPage(args.page, f"Photos: {args.model} against CBM3D")
    page.add(
        "The photos bundled with scikit-learn and matplotlib, in colour and in grey, never trained on; seeded "
        "Gaussian noise saved as 8-bit PNGs, denoised by `tfvae denoise`; CBM3D (colour) / BM3D (grey) given the "
        "true sigma. PSNR dB of the 8-bit outputs. Two synthetic dead-leaves images are scored apart, below the "
        "mean: a model trained on dead leaves has seen their kind."
    )
    for sigma in args.sigmas:
        folder = Path(args.out) / f"sigma{sigma:g}"
        (folder / "noisy").mkdir(parents=True, exist_ok=True)
        for index, (name, image) in enumerate({**photos, **synthetic}.items()):
            files.write_image(folder / "noisy" / f"{name}.png", noisy_copy(image, sigma, args.seed + index))
        for self_ensemble, method in ((False, "one_pass"), (True, "ensemble")):
            files.denoise_files([folder / "noisy"], folder / method, endpoints, force=True, self_ensemble=self_ensemble)

        rows = {
            f"{name} {image.shape[1]}x{image.shape[0]}": scores(folder, name, image, sigma)
            for name, image in photos.items()
        }
        ahead = sum(values[2] > values[1] for values in rows.values())
        rows["**mean**"] = list(np.mean(list(rows.values()), axis=0))
        rows.update(
            {
                f"{name} {image.shape[1]}x{image.shape[0]}": scores(folder, name, image, sigma)
                for name, image in synthetic.items()
            }
        )
        page.add(f"\n## sigma {sigma:g}\n")
        page.add("| photo | " + " | ".join(methods) + " |")
        page.add("|---" * (len(methods) + 1) + "|")
        for name, values in rows.items():
            page.add(f"| {name} | " + " | ".join(f"{value:.2f}" for value in values) + " |")
        page.add(f"\nOne pass above CBM3D / BM3D on {ahead} of the {len(photos)} bundled photos.")
    seconds = seconds_per_megapixel(endpoints, Path(args.out), args.seed)
    page.add(
        f"\n`tfvae denoise` (one pass) takes {seconds:.2f} s for a 1-megapixel colour photo "
        f"({1 / seconds:.2f} photos per second)."
    )
    page.write()


if __name__ == "__main__":
    main()
