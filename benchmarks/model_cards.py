"""Score a shipped model and write its numbers into its card: saved_models/<name>/card.json and README.md.

    python benchmarks/model_cards.py mnist_vae               # one card
    python benchmarks/model_cards.py --all                   # every shipped model
    python benchmarks/model_cards.py mnist_vae --images 500  # a quick look (still written to the card)

A denoiser is scored through its SavedModel signatures (`serving_default`, `denoise_ensemble`) on the
first `--images` images of its dataset's validation slice, with seeded Gaussian noise at sigma 0.1 /
0.2 / 0.3 / 0.5, next to the noisy input, Gaussian blur and PCA (their settings tuned per sigma on
validation images noised with another seed); PSNR dB / SSIM of clip(output, 0, 1) per image,
averaged, with the standard error of the mean PSNR. A density model is scored by its ELBO and
importance-weighted NLL on the first 1,000 validation images (MNIST binarized, CIFAR-10 as 8-bit
values). A denoiser that samples its posterior (`sample_posterior`) also gets the calibration of its
draws on the first 200 images: the coverage of their central 90 % interval and the correlation of
their std with the error. Each card also gets the scores of a small seeded slice, which
`tests/serving/test_export.py` recomputes. card.json holds every number; the block between the
markers in its README.md, and the project README's table of models, are rendered from the cards.
"""

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

from tfvae.data import sources
from tfvae.data.noise import add_noise
from tfvae.evaluation import density
from tfvae.evaluation.metrics import interval_coverage, psnr, ssim, std_error_correlation
from tfvae.evaluation.provenance import describe, provenance
from tfvae.evaluation.scoring import HEADLINE_SIGMAS, HEADLINE_SPECS, baseline_methods, predict_in_batches
from tfvae.models import load_model
from tfvae.serving.endpoints import load_endpoints

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "saved_models"
BEGIN, END = "<!-- numbers: written by benchmarks/model_cards.py from card.json -->", "<!-- /numbers -->"
TABLE_BEGIN, TABLE_END = "<!-- models: written by benchmarks/model_cards.py from the cards -->", "<!-- /models -->"
SLICE_IMAGES = 500  # seeded random validation images for the denoisers' slice test
DENSITY_IMAGES, DENSITY_SAMPLES = 1000, 1000
DENSITY_SLICE_IMAGES, DENSITY_SLICE_SAMPLES = 200, 10
CALIBRATION_IMAGES, CALIBRATION_SAMPLES, CALIBRATION_BATCH = 200, 32, 50
SAMPLING_COUNT = 64  # images the density model draws for the card's sampling time


def read_card(name):
    return json.loads((ROOT / name / "card.json").read_text())


def denoiser_slice(clean, seed=0):
    """The card slice: SLICE_IMAGES validation images drawn with `seed` (the test draws the same)."""
    return clean[np.random.default_rng(seed).choice(len(clean), SLICE_IMAGES, replace=False)]


def score_rows(methods, clean, seed):
    """{method: {"psnr": [per sigma], "psnr_se": [...], "ssim": [...]}} on one seeded noisy copy per sigma."""
    rows = {name: {"psnr": [], "psnr_se": [], "ssim": []} for name in methods}
    for spec in HEADLINE_SPECS:
        noisy = add_noise(clean, spec, seed=seed)
        for name, method in methods.items():
            denoised = np.clip(method(noisy, spec), 0, 1)
            per_image = np.asarray(psnr(clean, denoised))
            rows[name]["psnr"].append(round(float(per_image.mean()), 3))
            rows[name]["psnr_se"].append(round(float(per_image.std(ddof=1) / np.sqrt(len(per_image))), 3))
            rows[name]["ssim"].append(round(float(np.mean(ssim(clean, denoised))), 4))
    return rows


def score_posterior(sample_posterior, clean, seed):
    """{"coverage_90": [per sigma], "std_error_correlation": [...]} of the draws of `sample_posterior`."""
    scores = {"images": len(clean), "samples": CALIBRATION_SAMPLES, "coverage_90": [], "std_error_correlation": []}
    for spec in HEADLINE_SPECS:
        noisy = add_noise(clean, spec, seed=seed)
        draws = predict_in_batches(
            lambda batch: sample_posterior(batch, CALIBRATION_SAMPLES)["samples"], noisy, CALIBRATION_BATCH
        )
        scores["coverage_90"].append(round(interval_coverage(draws, clean), 4))
        scores["std_error_correlation"].append(round(std_error_correlation(draws, clean), 4))
    return scores


def score_denoiser(card, images, seed=0):
    """The denoising scores of a card's SavedModel and the baselines, and its slice's scores."""
    endpoints = load_endpoints(Path(__file__).resolve().parents[1] / card["artifact"])
    signatures = {"serving_default": endpoints.denoise}
    if endpoints.denoise_ensemble is not None:
        signatures["denoise_ensemble"] = endpoints.denoise_ensemble
    validation = sources.load(card["dataset"], "validation", seed=seed).images
    train = sources.load(card["dataset"], "train", seed=seed).images
    baselines, _ = baseline_methods(train, validation, HEADLINE_SPECS, seed)
    methods = {name: baselines[name] for name in ("noisy input", "Gaussian blur", "PCA")}
    for name, signature in signatures.items():
        methods[name] = lambda noisy, spec, signature=signature: predict_in_batches(signature, noisy)
    slice_methods = {name: methods[name] for name in signatures}
    scores = {
        "split": "validation",
        "images": min(images, len(validation)),
        "sigmas": list(HEADLINE_SIGMAS),
        "methods": score_rows(methods, validation[:images], seed),
        "slice": {
            "images": SLICE_IMAGES,
            "seed": seed,
            "psnr": {
                k: v["psnr"] for k, v in score_rows(slice_methods, denoiser_slice(validation, seed), seed).items()
            },
        },
    }
    if endpoints.sample_posterior is not None:
        scores["posterior"] = score_posterior(endpoints.sample_posterior, validation[:CALIBRATION_IMAGES], seed)
    return scores


def score_density(card, samples=DENSITY_SAMPLES, seed=0):
    """ELBO, importance-weighted NLL and latent usage of the density model, and its slice's NLL."""
    model = load_model(Path(__file__).resolve().parents[1] / card["artifact"])
    images, protocol = density.protocol_images(
        sources.load(card["dataset"], "validation", seed=seed).images, card["dataset"], seed
    )
    scores = density.density_scores(model, images[:DENSITY_IMAGES], samples=samples, seed=seed)
    usage = density.latent_usage(model, images[:DENSITY_IMAGES])
    usage.pop("kl_per_dimension")  # thousands of numbers: the card keeps the totals per level
    small = density.density_scores(model, images[:DENSITY_SLICE_IMAGES], samples=DENSITY_SLICE_SAMPLES, seed=seed)
    model.sample(SAMPLING_COUNT, seed=seed)  # traced once: the timing is of drawing, not of building the graph
    start = time.perf_counter()
    model.sample(SAMPLING_COUNT, seed=seed + 1)
    return {
        "split": "validation",
        "images": DENSITY_IMAGES,
        "protocol": protocol,
        "samples": samples,
        "density": scores,
        "latent_usage": usage,
        "slice": {"images": DENSITY_SLICE_IMAGES, "samples": DENSITY_SLICE_SAMPLES, "nll_nats": small["nll_nats"]},
        "sampling": {"images": SAMPLING_COUNT, "seconds": round(time.perf_counter() - start, 2)},
    }


def denoising_table(scores):
    sigmas = scores["sigmas"]
    lines = [
        f"Validation slice, first {scores['images']:,} images, PSNR dB (+- standard error) / SSIM:",
        "",
        "| method | " + " | ".join(f"sigma {s:g}" for s in sigmas) + " |",
        "|---|" + "---|" * len(sigmas),
    ]
    for name, row in scores["methods"].items():
        cells = [f"{p:.2f} +- {e:.2f} / {s:.3f}" for p, e, s in zip(row["psnr"], row["psnr_se"], row["ssim"])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def posterior_table(posterior, sigmas):
    lines = [
        f"Posterior draws (`sample_posterior`, {posterior['samples']} per image, first {posterior['images']} "
        "images): the share of clean pixels inside the draws' central 90 % interval (calibrated: 0.9), and "
        "the correlation over pixels of the draws' std with the error of their mean:",
        "",
        "| | " + " | ".join(f"sigma {s:g}" for s in sigmas) + " |",
        "|---|" + "---|" * len(sigmas),
        "| coverage of the 90 % interval | " + " | ".join(f"{c:.3f}" for c in posterior["coverage_90"]) + " |",
        "| corr(std, abs. error) | " + " | ".join(f"{c:.3f}" for c in posterior["std_error_correlation"]) + " |",
    ]
    return "\n".join(lines)


def density_table(scores):
    d, usage = scores["density"], scores["latent_usage"]
    lines = [
        f"First {scores['images']:,} validation images, {scores['protocol']}, k = {scores['samples']:,} draws:",
        "",
        "| ELBO nats | NLL nats (+- standard error) | bits/dim | KL nats | share of the NLL in the latents |",
        "|---|---|---|---|---|",
        f"| {d['elbo_nats']:.2f} | {d['nll_nats']:.2f} +- {d['nll_standard_error_nats']:.2f} | "
        f"{d['nll_bits_per_dim']:.4f} | {usage['kl_total_nats']:.2f} | {density.latent_share(usage, d):.1%} |",
    ]
    lines += ["", "| level (1 is the finest) | KL nats | active units |", "|---|---|---|"]
    lines += [
        f"| {i} | {level['kl_nats']:.2f} | {level['active_units']:,} of {level['latent_dimensions']:,} |"
        for i, level in enumerate(usage["levels"], start=1)
    ]
    if "sampling" in scores:  # cards scored before it was measured lack it
        sampling = scores["sampling"]
        lines += [
            "",
            f"Drawing {sampling['images']} images (`sample`, as `tfvae sample`) takes {sampling['seconds']:.2f} s.",
        ]
    return "\n".join(lines)


def render(card):
    """The generated block of a card's README: summary, scores, how they were measured, training, history."""
    scores = card.get("scores")
    training = card["training"]
    parts = [BEGIN, "", f"**{card['name']}/{card['version']}**: {card['summary']}", "", "### Scores", ""]
    if scores is None:
        parts.append(f"Not scored yet: `python benchmarks/model_cards.py {card['name']}`.")
    else:
        parts.append(density_table(scores) if card["task"] == "density" else denoising_table(scores))
        if "posterior" in scores:
            parts += ["", posterior_table(scores["posterior"], scores["sigmas"])]
        parts += ["", describe(scores["provenance"]).rstrip()]
    parts += [
        "",
        "### Training",
        "",
        f"- {training['steps']:,} steps of batch {training['batch_size']} in {training['stages']} stage(s); "
        f"the last stage took {training['last_stage_seconds']:,} s on {training['machine']}.",
        f"- Retrain: `{training['retrain']}`",
    ]
    if card["history"]:
        parts += ["", "### Earlier versions", ""] + history_table(card)
    return "\n".join([*parts, "", END])


HISTORY_COLUMNS = {  # task: (caption, score column, a history entry's score cell)
    "density": (
        "Validation NLL in nats (k as their cards state), from their cards.",
        "NLL nats",
        lambda entry: f"{entry['nll_nats']:.2f}",
    ),
    "denoising": (
        "Validation PSNR dB at sigma 0.1 / 0.2 / 0.3 / 0.5, from their cards.",
        "PSNR dB",
        lambda entry: " / ".join(f"{p:.2f}" for p in entry["psnr"]),
    ),
}


def history_table(card):
    """The earlier versions' headline scores, from their cards: validation PSNR per sigma, or NLL."""
    caption, column, cell = HISTORY_COLUMNS[card["task"]]
    lines = [caption, "", f"| version | what changed | {column} |", "|---|---|---|"]
    return lines + [f"| `{h['model']}` | {h['change']} | {cell(h)} |" for h in card["history"]]


def headline(card):
    """A card's headline number for the README: one pass PSNR per sigma, or the density model's NLL."""
    scores = card.get("scores")
    if scores is None:
        return "not scored yet"
    if card["task"] == "density":
        d = scores["density"]
        return f"NLL {d['nll_nats']:.2f} nats, {d['nll_bits_per_dim']:.3f} bits/dim (k = {scores['samples']:,})"
    return " / ".join(f"{p:.2f}" for p in scores["methods"]["serving_default"]["psnr"]) + " dB"


def models_table():
    """The README's table of shipped models, from every card.json."""
    lines = [
        TABLE_BEGIN,
        "| model | for | validation score (sigma 0.1 / 0.2 / 0.3 / 0.5, one pass) | card |",
        "|---|---|---|---|",
    ]
    for path in sorted(ROOT.glob("*/card.json")):
        card = json.loads(path.read_text())
        link = f"[card](saved_models/{card['name']}/README.md)"
        lines.append(f"| `{card['artifact']}` | {card['summary']} | {headline(card)} | {link} |")
    return "\n".join([*lines, TABLE_END])


def replace_block(path, begin, end, block):
    """Replace the text between the markers `begin` and `end` (included) in `path` by `block`."""
    text = path.read_text()
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"Expected {path} to hold the markers {begin} ... {end}.")
    path.write_text(pattern.sub(lambda _: block, text))


def write_card(name, card):
    (ROOT / name / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    replace_block(ROOT / name / "README.md", BEGIN, END, render(card))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="shipped models (folders of saved_models/ with a card.json)")
    parser.add_argument("--all", action="store_true", help="every shipped model")
    parser.add_argument("--images", type=int, default=sources.DEFAULT_VALIDATION_SIZE, help="validation images")
    parser.add_argument(
        "--density-samples", type=int, default=DENSITY_SAMPLES, help="importance samples k of the density model's NLL"
    )
    parser.add_argument("--render-only", action="store_true", help="rewrite the README blocks from card.json")
    args = parser.parse_args(argv)
    names = sorted(p.parent.name for p in ROOT.glob("*/card.json")) if args.all else args.names
    unknown = [name for name in names if not (ROOT / name / "card.json").exists()]
    if unknown or not names:
        parser.error(f"expected shipped model names (folders of {ROOT} with a card.json); received {names}")
    for name in names:
        card = read_card(name)
        if not args.render_only:
            record = provenance()
            card["scores"] = (
                score_density(card, args.density_samples)
                if card["task"] == "density"
                else score_denoiser(card, args.images)
            )
            card["scores"]["provenance"] = record
        write_card(name, card)
        replace_block(REPO / "README.md", TABLE_BEGIN, TABLE_END, models_table())
        print(f"{name}: card written", flush=True)


if __name__ == "__main__":
    main()
