"""`tfvae evaluate`: score a run or an exported SavedModel against the baselines; write the report.

Writes to `out`: evaluation.json, evaluation.md, psnr_vs_sigma.png, denoised.png
(noisy / denoised / |error| / clean), and when the model has the endpoints: latent_scatter.png,
interpolation.png, samples.png, uncertainty.png (`posterior_samples` > 1: per-pixel std of decoded
posterior samples).
"""

import json
from pathlib import Path

import numpy as np

from tfvae.data import sources
from tfvae.data.images import check_images
from tfvae.data.noise import add_noise
from tfvae.evaluation import calibration, density, figures
from tfvae.evaluation.metrics import interval_coverage, std_error_correlation
from tfvae.evaluation.scoring import (
    HEADLINE_SIGMAS,
    HEADLINE_SPECS,
    NOISE_GRID,
    baseline_methods,
    compare,
    markdown_table,
    predict_in_batches,
    slow_rows,
)
from tfvae.serving.endpoints import load_endpoints
from tfvae.serving.saved_model import load_trained_model

MODEL_NAME = "model"
CALIBRATION_IMAGES = 200
UNCERTAINTY_NOISE = "gaussian:0.3"


def evaluate(
    model_path: str | Path,
    dataset: str,
    split: str = "validation",
    out: str | Path = "evaluation",
    specs: tuple = NOISE_GRID,
    seed: int = 0,
    limit: int | None = None,
    posterior_samples: int = 0,
    iw_samples: int = 0,
    data_dir: str | None = None,
    force: bool = False,
    binarize: bool = False,
    self_ensemble: bool = False,
    calibrate: bool = False,
) -> dict:
    """Scores a trained model against the baselines on one split of a dataset: `tfvae evaluate`.

    Every method (the noisy input, a Gaussian blur and PCA tuned per noise level on the
    validation slice, BM3D when installed (CBM3D on colour, on the first `scoring.BM3D_IMAGES`
    images), the model) denoises the same seeded noisy images;
    the scores are per-image PSNR and SSIM, averaged. Writes evaluation.json, evaluation.md and
    the figures (see the module docstring) to `out`.

    Args:
        model_path: str or path, a run folder, a `.keras` file or an exported SavedModel.
        dataset: str, what `tfvae.data.load` reads, e.g. `"mnist"` or a path.
        split: str, the split scored, one of `tfvae.data.SPLITS`. Defaults to `"validation"`.
        out: str or path, the folder the report goes to. Defaults to `"evaluation"`.
        specs: tuple of str, the noise specs scored. Defaults to `NOISE_GRID` (Gaussian sigma
            0.1 to 0.5, salt and pepper, Poisson, masking).
        seed: int, fixes the noise and the validation slice. Defaults to `0`.
        limit: int or None, score the first `limit` images only. Defaults to `None` (all).
        posterior_samples: int, with more than 1 (a VAE), also report the spread of that many
            posterior draws per image (uncertainty.png). Defaults to `0`.
        iw_samples: int, with more than 0 (a Keras VAE), also report the ELBO and the
            importance-weighted NLL with that many draws (its k), and the latent usage. Defaults
            to `0`.
        data_dir: str or None, a folder searched first for the dataset. Defaults to `None`.
        force: bool, overwrite an earlier evaluation in `out`. Defaults to `False`.
        binarize: bool, replace each clean image by one seeded Bernoulli sample of its pixels
            (dynamically binarized MNIST, the setting of the density literature). Defaults to
            `False`.
        self_ensemble: bool, score the model's self-ensemble instead of its single pass. Defaults to
            `False`.
        calibrate: bool, with `posterior_samples` > 1 and a VAE: also find the
            `posterior_temperature` at which the draws' central 90 % interval covers 90 % of the
            clean pixels over `specs` (`tfvae.evaluation.calibration`), on the first
            `CALIBRATION_IMAGES` images. Defaults to `False`.

    Returns:
        The results written to `out/evaluation.json`: `"denoising"` maps each method to
            `{spec: {"psnr", "ssim"}}`; also the settings, and `"density"`, `"latent_usage"`
            and `"uncertainty"` when asked for.

    Raises:
        FileExistsError: if `out` holds an evaluation and `force` is False.
        ValueError: if `self_ensemble` is asked of a model without a self-ensemble, or the data or
            the split are invalid (see `tfvae.data.load`).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from tfvae.evaluation.evaluate import evaluate
        >>> from tfvae.models import DnCNN
        >>> def write_idx(path, array):  # MNIST's file format: a magic number, the shape, the bytes
        ...     header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
        ...     return path.write_bytes(header + array.astype(np.uint8).tobytes())
        >>> data = Path(tempfile.mkdtemp())  # enough train images for the 5000-image validation slice
        >>> pixels = np.random.default_rng(0).integers(0, 256, (5010, 12, 12))
        >>> for prefix, count in (("train", 5010), ("t10k", 4)):
        ...     _ = write_idx(data / f"{prefix}-images-idx3-ubyte", pixels[:count])
        ...     _ = write_idx(data / f"{prefix}-labels-idx1-ubyte", np.zeros(count))
        >>> model_file = Path(tempfile.mkdtemp()) / "dncnn.keras"
        >>> DnCNN((12, 12, 1), conv_layers=2, width=4).save(model_file)
        >>> results = evaluate(
        ...     model_file, str(data), split="test", out=tempfile.mkdtemp(), specs=("salt_pepper:0.1",), limit=1
        ... )
        >>> results["images"], sorted(results["denoising"]["model"]["salt_pepper:0.1"])
        (1, ['psnr', 'ssim'])
    """
    out = Path(out)
    if (out / "evaluation.json").exists() and not force:
        raise FileExistsError(
            f"{out} already holds an evaluation; pass --force to overwrite it or choose another --out."
        )
    endpoints = load_endpoints(model_path)
    # A SavedModel has no Keras model in its endpoints: rebuilt from its variables, calibration sets its temperature.
    keras_model = (endpoints.model or load_trained_model(model_path)) if calibrate else None
    if calibrate and (posterior_samples < 2 or not hasattr(keras_model, "posterior_samples")):
        raise ValueError(
            "Expected a VAE (a run folder, .keras file or tfvae SavedModel) and posterior_samples > 1 to calibrate. "
            f"Received: {model_path} ({type(keras_model).__name__}), posterior_samples={posterior_samples}."
        )
    if self_ensemble and endpoints.denoise_ensemble is None:
        raise ValueError(f"Expected a model with a self-ensemble. Received: {model_path} without one.")
    denoise = endpoints.denoise_ensemble if self_ensemble else endpoints.denoise
    evaluated = sources.load(dataset, split, data_dir=data_dir, seed=seed)
    clean, labels = evaluated.images[:limit], evaluated.labels[:limit]
    if binarize:
        clean = density.binarized(clean, seed)
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
        "self_ensemble": self_ensemble,
        "baseline_settings": settings,
        "denoising": compare(methods, clean, specs, seed, slow_rows(methods)),
    }
    if iw_samples and endpoints.is_density_model:
        results["density"] = density.density_scores(endpoints.model, clean, samples=iw_samples, seed=seed)
        results["latent_usage"] = density.latent_usage(endpoints.model, clean)
        results["latent_usage"]["share_of_nll"] = density.latent_share(results["latent_usage"], results["density"])
    out.mkdir(parents=True, exist_ok=True)
    if endpoints.can_sample and posterior_samples > 1:
        results["uncertainty"] = uncertainty_report(endpoints, clean[:256], specs, seed, posterior_samples, out)
    if calibrate:
        results["calibration"] = calibration.calibration_report(
            keras_model, clean[:CALIBRATION_IMAGES], list(specs), posterior_samples, seed
        )
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
            f"Uncertainty ({u['samples']} posterior samples of {u['images']} images):",
            "",
            "| noise | mean per-pixel std | coverage of the central 90 % interval | corr(std, abs. error) |",
            "|---|---|---|---|",
            *(
                f"| {spec} | {r['mean_pixel_std']:.4f} | {r['coverage_90']:.3f} | {r['std_error_correlation']:.2f} |"
                for spec, r in u["by_noise"].items()
            ),
            "",
        ]
    if "calibration" in results:
        c = results["calibration"]
        lines += [
            f"Calibration ({c['samples']} posterior samples of {c['images']} images): posterior_temperature "
            f"{c['temperature']:.3f} makes the central 90 % interval cover "
            + ", ".join(f"{coverage:.3f} ({spec})" for spec, coverage in c["coverage_90"].items())
            + " (`tfvae export --posterior-temperature`).",
            "",
        ]
    if "density" in results:
        d, usage = results["density"], results["latent_usage"]
        lines += [
            f"ELBO {d['elbo_nats']:.2f} nats; importance-weighted NLL (k={d['samples']}) {d['nll_nats']:.2f} "
            f"+- {d['nll_standard_error_nats']:.2f} (standard error) nats "
            f"= {d['nll_bits_per_dim']:.4f} bits/dim; KL {usage['kl_total_nats']:.2f} nats "
            f"({usage['share_of_nll']:.1%} of the NLL carried by the latents); "
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


def uncertainty_report(endpoints, clean, specs, seed, samples, out):
    """How unsure the posterior draws are and whether they know it, per noise spec: the mean
    per-pixel std, the coverage of their central 90 % interval and the std's correlation with the
    error; draws uncertainty.png (at `UNCERTAINTY_NOISE`)."""
    by_noise = {}
    for spec in dict.fromkeys([*specs, UNCERTAINTY_NOISE]):
        noisy = add_noise(check_images(clean), spec, seed=seed)
        draws = posterior_draws(endpoints, noisy, seed, samples)
        by_noise[spec] = {
            "mean_pixel_std": float(draws.std(axis=1).mean()),
            "coverage_90": interval_coverage(draws, clean),
            "std_error_correlation": std_error_correlation(draws, clean),
        }
        if spec == UNCERTAINTY_NOISE:
            mean, std = draws.mean(axis=1), draws.std(axis=1)
            scale = max(float(std[:8].max()), 1e-6)
            rows = {f"noisy {spec}": noisy[:8], "posterior mean": mean[:8], f"std (x{1 / scale:.0f})": std[:8] / scale}
            rows["clean"] = clean[:8]
            title = f"uncertainty from {samples} posterior samples"
            figures.save(figures.image_grid(rows, title=title), out / "uncertainty.png")
    return {"samples": samples, "images": len(clean), "by_noise": by_noise}


def posterior_draws(endpoints, noisy, seed, samples, batch_size=256):
    """`samples` posterior draws per noisy image, (N, K, H, W, C): from the `sample_posterior`
    signature (every level of a hierarchical VAE, each pixel's own uncertainty with a variance
    head), or for SavedModels exported before it, decoded from encode's posterior."""
    if endpoints.sample_posterior is not None:
        return np.concatenate(
            [
                np.asarray(endpoints.sample_posterior(noisy[i : i + batch_size], samples)["samples"])
                for i in range(0, len(noisy), batch_size)
            ]
        )
    latents = endpoints.encode(noisy)
    rng = np.random.default_rng(seed)
    draws = [
        endpoints.decode(
            latents["z_mean"]
            + np.exp(0.5 * latents["z_log_var"]) * rng.standard_normal(latents["z_mean"].shape).astype(np.float32)
        )
        for _ in range(samples)
    ]
    return np.stack(draws, axis=1)
