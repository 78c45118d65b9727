import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfvae import cli
from tfvae.evaluation import baselines, evaluate, scoring
from tfvae.evaluation.metrics import psnr, ssim
from tfvae.models import load_model
from tfvae.serving import saved_model

RNG = np.random.default_rng(0)
CLEAN = RNG.uniform(0.2, 0.8, (6, 16, 16, 3)).astype(np.float32)


def test_psnr_closed_form_and_agreement_with_tf_image():
    shifted = CLEAN + 0.1  # MSE 0.01 -> 20 dB
    np.testing.assert_allclose(psnr(CLEAN, shifted), 20.0, rtol=1e-5)
    noisy = np.clip(CLEAN + RNG.normal(0, 0.2, CLEAN.shape), -0.5, 1.5).astype(np.float32)
    np.testing.assert_allclose(psnr(CLEAN, noisy), tf.image.psnr(CLEAN, np.clip(noisy, 0, 1), 1.0))
    np.testing.assert_allclose(ssim(CLEAN, noisy), tf.image.ssim(CLEAN, np.clip(noisy, 0, 1), 1.0))
    np.testing.assert_allclose(ssim(CLEAN, CLEAN), 1.0, rtol=1e-6)


def test_scores_average_per_image_not_per_pixel():
    errors = np.stack([CLEAN[0] + 0.1, CLEAN[1] + 0.01]).astype(np.float32)
    assert scoring.scores(CLEAN[:2], errors)["psnr"] == pytest.approx((20.0 + 40.0) / 2, rel=1e-4)


def test_gaussian_blur_keeps_constant_images_and_smooths_noise():
    flat = np.full((2, 16, 16, 3), 0.3, np.float32)
    np.testing.assert_allclose(baselines.gaussian_blur(flat, 1.5), flat, atol=1e-6)
    smooth = np.tile(np.linspace(0, 1, 16, dtype=np.float32)[None, :, None, None], (64, 1, 16, 1))
    light = np.clip(smooth + RNG.normal(0, 0.05, smooth.shape), 0, 1).astype(np.float32)
    heavy = np.clip(smooth + RNG.normal(0, 0.3, smooth.shape), 0, 1).astype(np.float32)
    assert baselines.best_blur_width(heavy, smooth) > baselines.best_blur_width(light, smooth)


@pytest.fixture
def fake_bm3d(monkeypatch):
    """A stand-in for the optional `bm3d` package that records which of its denoisers ran."""
    calls = []
    module = type(sys)("bm3d")
    module.bm3d = lambda image, sigma_psd: calls.append(("bm3d", image.shape, sigma_psd)) or image
    module.bm3d_rgb = lambda image, sigma: calls.append(("bm3d_rgb", image.shape, sigma)) or image
    monkeypatch.setitem(sys.modules, "bm3d", module)
    return calls


def test_bm3d_on_colour_images_is_cbm3d(fake_bm3d):
    baselines.bm3d_denoise(np.zeros((2, 8, 8, 3), np.float32), 0.1)
    assert fake_bm3d == [("bm3d_rgb", (8, 8, 3), 0.1)] * 2


def test_bm3d_on_grey_images_gets_each_image_as_a_plane(fake_bm3d):
    baselines.bm3d_denoise(np.zeros((2, 8, 8, 1), np.float32), 0.2)
    assert fake_bm3d == [("bm3d", (8, 8), 0.2)] * 2


def test_bm3d_keeps_the_batch_shape(fake_bm3d):
    assert baselines.bm3d_denoise(np.zeros((2, 8, 8, 1), np.float32), 0.2).shape == (2, 8, 8, 1)


def test_bm3d_refuses_images_that_are_neither_grey_nor_rgb(fake_bm3d):
    with pytest.raises(ValueError, match=r"\(N, H, W, 1\) or \(N, H, W, 3\).*\(2, 8, 8, 4\)"):
        baselines.bm3d_denoise(np.zeros((2, 8, 8, 4), np.float32), 0.1)


def test_the_bm3d_baseline_is_named_cbm3d_for_colour():
    assert (baselines.bm3d_name(3), baselines.bm3d_name(1)) == ("CBM3D (true sigma)", "BM3D (true sigma)")


def test_a_slow_method_is_scored_on_the_first_images_of_the_same_noisy_set():
    clean = RNG.uniform(0, 1, (6, 16, 16, 1)).astype(np.float32)
    methods = {"all": lambda noisy, spec: noisy, "first": lambda noisy, spec: noisy}
    results = scoring.compare(methods, clean, ["gaussian:0.2"], seed=0, first={"first": 3})
    first_three = scoring.scores(clean[:3], scoring.add_noise(clean, "gaussian:0.2", seed=0)[:3])
    assert results["first"]["gaussian:0.2"] == first_three


def test_bm3d_rows_are_the_slow_ones():
    methods = {scoring.bm3d_row(3): None, "PCA": None}
    assert scoring.slow_rows(methods) == {scoring.bm3d_row(3): scoring.BM3D_IMAGES}


def test_comparison_is_identical_across_calls():
    methods = {
        "noisy input": lambda noisy, spec: noisy,
        "blur": lambda noisy, spec: baselines.gaussian_blur(noisy, 1.0),
    }
    first = scoring.compare(methods, CLEAN, scoring.NOISE_GRID, seed=3)
    assert first == scoring.compare(methods, CLEAN, scoring.NOISE_GRID, seed=3)
    assert first != scoring.compare(methods, CLEAN, scoring.NOISE_GRID, seed=4)
    assert set(first["blur"]) == set(scoring.NOISE_GRID)


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def evaluations(tiny_vae_run, fake_data_root, tmp_path_factory):
    """`tfvae evaluate` of the tiny run and of its SavedModel, on the generated MNIST."""
    root = tmp_path_factory.mktemp("evaluations")
    served = saved_model.export_model(load_model(tiny_vae_run), root / "served", "vae", 1)
    kwargs = {"dataset": "mnist", "specs": SPECS, "limit": 64, "posterior_samples": 4, "iw_samples": 10}
    kwargs["data_dir"] = str(fake_data_root)
    return {
        "run": (evaluate.evaluate(tiny_vae_run, out=root / "run", calibrate=True, **kwargs), root / "run"),
        "saved": (evaluate.evaluate(served, out=root / "saved", **kwargs), root / "saved"),
    }


SPECS = ("gaussian:0.3", "salt_pepper:0.1")


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("metric", ["psnr", "ssim"])
def test_a_saved_model_scores_what_its_run_scores(evaluations, spec, metric):
    run_scores, saved_scores = (evaluations[kind][0]["denoising"]["model"][spec][metric] for kind in ("run", "saved"))
    assert saved_scores == pytest.approx(run_scores, abs=1e-4)


def test_the_baselines_are_the_same_for_a_run_and_its_saved_model(evaluations):
    assert evaluations["saved"][0]["denoising"]["PCA"] == evaluations["run"][0]["denoising"]["PCA"]


def test_density_is_scored_for_a_keras_vae_only(evaluations):
    assert ("density" in evaluations["run"][0], "density" in evaluations["saved"][0]) == (True, False)


def test_the_report_gives_the_nll_with_its_standard_error(evaluations):
    assert "(standard error) nats" in (evaluations["run"][1] / "evaluation.md").read_text()


def test_the_share_of_the_nll_the_latents_carry_is_their_kl_over_the_nll(evaluations):
    results = evaluations["run"][0]
    share = results["latent_usage"]["kl_total_nats"] / results["density"]["nll_nats"]
    assert results["latent_usage"]["share_of_nll"] == pytest.approx(share)


def test_uncertainty_is_the_spread_of_the_requested_posterior_samples(evaluations):
    uncertainty = evaluations["saved"][0]["uncertainty"]
    assert uncertainty["by_noise"]["gaussian:0.3"]["mean_pixel_std"] > 0 and uncertainty["samples"] == 4


def test_uncertainty_is_reported_at_every_noise_level_scored(evaluations):
    assert set(evaluations["saved"][0]["uncertainty"]["by_noise"]) == {*SPECS, "gaussian:0.3"}


def test_the_coverage_of_the_draws_interval_is_a_fraction_of_the_pixels(evaluations):
    coverage = [row["coverage_90"] for row in evaluations["saved"][0]["uncertainty"]["by_noise"].values()]
    assert all(0 <= value <= 1 for value in coverage)


def test_calibration_reports_a_temperature_and_the_coverage_at_it_per_noise(evaluations):
    calibration = evaluations["run"][0]["calibration"]
    assert calibration["temperature"] > 0 and set(calibration["coverage_90"]) == set(SPECS)


def test_the_report_names_the_calibrated_temperature(evaluations):
    assert "posterior_temperature" in (evaluations["run"][1] / "evaluation.md").read_text()


def test_a_saved_model_calibrates_to_its_runs_temperature(evaluations, fake_data_root, tmp_path):
    served = evaluations["saved"][0]["model"]
    kwargs = {"specs": SPECS, "limit": 64, "posterior_samples": 4, "data_dir": str(fake_data_root)}
    results = evaluate.evaluate(served, "mnist", out=tmp_path, calibrate=True, **kwargs)
    expected = evaluations["run"][0]["calibration"]["temperature"]
    assert results["calibration"]["temperature"] == pytest.approx(expected, rel=1e-3)


def test_calibrating_with_one_posterior_draw_is_refused(evaluations, tmp_path):
    with pytest.raises(ValueError, match="posterior_samples > 1 to calibrate"):
        evaluate.evaluate(evaluations["saved"][0]["model"], "mnist", out=tmp_path, posterior_samples=1, calibrate=True)


def test_the_report_states_the_coverage(evaluations):
    assert "coverage of the central 90 % interval" in (evaluations["saved"][1] / "evaluation.md").read_text()


@pytest.mark.parametrize(
    "name",
    [
        "evaluation.json",
        "evaluation.md",
        "psnr_vs_sigma.png",
        "denoised.png",
        "latent_scatter.png",
        "interpolation.png",
        "samples.png",
        "uncertainty.png",
    ],
)
def test_evaluating_a_saved_model_writes_every_figure(evaluations, name):
    assert (evaluations["saved"][1] / name).exists()


def test_limit_scores_that_many_images(evaluations):
    assert json.loads((evaluations["run"][1] / "evaluation.json").read_text())["images"] == 64


def test_evaluate_command_refuses_to_overwrite_a_report(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "evaluation.json").write_text("{}")
    assert cli.main(["evaluate", str(tmp_path), "--dataset", "mnist", "--out", str(tmp_path / "out")]) == 1
    assert "already holds an evaluation" in capsys.readouterr().err
    assert (tmp_path / "out" / "evaluation.json").read_text() == "{}"
