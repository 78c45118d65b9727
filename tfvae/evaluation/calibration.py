"""Calibrated posterior draws: the temperature at which their central 90 % interval covers 90 % of
the clean pixels.

A VAE's posterior draws can be too spread (their intervals cover more than they claim) or too
narrow. `posterior_temperature` scales the spread of z and, with a variance head, of each clean
pixel given z; coverage rises with it, so one search on held-out images finds the temperature that
makes the intervals mean what they say.

    report = calibration_report(vae, clean, ["gaussian:0.1", "gaussian:0.2"], samples=32)
    calibrated = with_config(vae, posterior_temperature=report["temperature"])
"""

from collections.abc import Callable

import numpy as np

from tfvae.data.noise import add_noise
from tfvae.evaluation.metrics import COVERAGE_LEVEL, interval_coverage
from tfvae.models.saving import with_config

TEMPERATURE_BOUNDS = (0.05, 5.0)
SEARCH_STEPS = 12  # halvings of log(100): the temperature to within 0.1 %


def calibrated_temperature(
    coverage: Callable[[float], float],
    level: float = COVERAGE_LEVEL,
    bounds: tuple = TEMPERATURE_BOUNDS,
    steps: int = SEARCH_STEPS,
) -> tuple:
    """Finds the temperature whose draws' central `level` interval covers `level` of the pixels.

    Bisection on the log temperature; coverage rises with the temperature.

    Args:
        coverage: callable, temperature -> the coverage of the draws at that temperature.
        level: float in (0, 1), the coverage sought. Defaults to `0.9`.
        bounds: tuple `(low, high)`, the temperatures searched. Defaults to `(0.05, 5.0)`.
        steps: int, bisection steps. Defaults to `12`.

    Returns:
        A tuple `(temperature, its coverage)`; a bound when the sought coverage lies beyond it.

    Examples:
        >>> import math
        >>> from tfvae.evaluation.calibration import calibrated_temperature
        >>> # draws N(0, t^2) of a value N(0, 1): the 90 % interval +-1.645 t covers erf(1.645 t / sqrt 2)
        >>> temperature, coverage = calibrated_temperature(lambda t: math.erf(1.6449 * t / math.sqrt(2)))
        >>> round(temperature, 2), round(coverage, 3)
        (1.0, 0.9)
    """
    low, high = np.log(bounds[0]), np.log(bounds[1])
    for _ in range(steps):
        middle = (low + high) / 2
        if coverage(float(np.exp(middle))) < level:
            low = middle
        else:
            high = middle
    temperature = float(np.exp((low + high) / 2))
    return temperature, coverage(temperature)


def calibration_report(model, clean: np.ndarray, specs: list, samples: int, seed: int = 0) -> dict:
    """Calibrates a VAE's posterior draws on held-out images: the temperature at which their central
    90 % interval covers 90 % of the clean pixels, pooled over the noise specs, and the coverage
    per spec at that temperature.

    Args:
        model: a `VAE` or `HierarchicalVAE`.
        clean: float32 array `(N, H, W, C)` in [0, 1], held-out clean images.
        specs: list of str, the noise specs the images are noised with (one seeded draw each).
        samples: int > 1, posterior draws per image.
        seed: int, fixes the noise and the draws. Defaults to `0`.

    Returns:
        A dict: `"temperature"` (set it with `with_config(model, posterior_temperature=...)`),
        `"samples"`, `"images"` and `"coverage_90"` ({spec: coverage at that temperature}).

    Examples:
        >>> import numpy as np
        >>> from tfvae.evaluation.calibration import calibration_report
        >>> from tfvae.models import VAE
        >>> vae = VAE((8, 8, 1), arch="conv-spatial", width=4, latent_dim=2)
        >>> clean = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype("float32")
        >>> report = calibration_report(vae, clean, ["gaussian:0.2"], samples=8)
        >>> sorted(report), 0 <= report["coverage_90"]["gaussian:0.2"] <= 1
        (['coverage_90', 'images', 'samples', 'temperature'], True)
    """
    noisy = {spec: add_noise(clean, spec, seed=seed) for spec in specs}

    def coverage_by_noise(temperature):
        tempered = with_config(model, posterior_temperature=temperature)
        return {
            spec: interval_coverage(tempered.posterior_samples(images, samples, seed).numpy(), clean)
            for spec, images in noisy.items()
        }

    temperature, _ = calibrated_temperature(lambda t: float(np.mean(list(coverage_by_noise(t).values()))))
    return {
        "temperature": temperature,
        "samples": samples,
        "images": len(clean),
        "coverage_90": coverage_by_noise(temperature),
    }
