import tracemalloc

import numpy as np
import pytest
import tensorflow as tf
from fakes import write_png
from PIL import Image

from tfvae import cli
from tfvae.models import VAE, fit_pca
from tfvae.serving import files, inference, saved_model
from tfvae.serving.endpoints import Endpoints, load_endpoints


def standin(channels, size_multiple=None, denoise=lambda batch: np.asarray(batch) / 2):
    """Endpoints of a stand-in denoiser (every pixel halved unless told otherwise)."""
    return Endpoints(
        denoise=denoise, model_class="stand-in", image_shape=(16, 16, channels), size_multiple=size_multiple
    )


def png_header(path):
    """(bit depth, colour type) from a PNG's IHDR chunk."""
    raw = path.read_bytes()
    return raw[24], raw[25]


def denoise_one(tmp_path, name, pixels, endpoints, write=write_png):
    source = tmp_path / "in" / name
    write(source, pixels)
    files.denoise_files([source], tmp_path / "out", endpoints, progress=False)
    return tmp_path / "out" / name


GREY = np.random.default_rng(0).integers(0, 256, (20, 30, 1), dtype=np.uint8)
RGBA = np.random.default_rng(1).integers(0, 256, (20, 30, 4), dtype=np.uint8)


def test_grey_through_an_rgb_model_comes_back_grey(tmp_path):
    out = denoise_one(tmp_path, "g.png", GREY, standin(3))
    assert files.read_image(out).shape == (20, 30, 1)


def test_rgb_through_a_grey_model_is_denoised_channel_by_channel(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = denoise_one(tmp_path, "c.png", rgb, standin(1))
    np.testing.assert_allclose(files.read_image(out), rgb / 2, atol=0.51)  # within rounding to 8 bits


def test_rgba_keeps_its_alpha_unchanged(tmp_path):
    out = denoise_one(tmp_path, "a.png", RGBA, standin(3))
    np.testing.assert_array_equal(files.read_image(out)[..., 3], RGBA[..., 3])


def test_rgba_colour_is_denoised(tmp_path):
    out = denoise_one(tmp_path, "a.png", RGBA, standin(3))
    np.testing.assert_allclose(files.read_image(out)[..., :3], RGBA[..., :3] / 2, atol=0.51)


def test_grey_with_alpha_keeps_both_channels(tmp_path):
    grey_alpha = np.concatenate([GREY, RGBA[..., 3:]], axis=-1)
    out = denoise_one(tmp_path, "ga.png", grey_alpha, standin(3))
    np.testing.assert_array_equal(files.read_image(out)[..., 1], grey_alpha[..., 1])


def test_a_16_bit_png_is_written_back_in_16_bits(tmp_path):
    deep = np.random.default_rng(3).integers(0, 65536, (20, 30, 1), dtype=np.uint16)
    out = denoise_one(tmp_path, "d.png", deep, standin(1, denoise=lambda batch: batch))
    assert png_header(out) == (16, 0)


def test_a_16_bit_png_keeps_its_precision(tmp_path):
    deep = np.random.default_rng(3).integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    out = denoise_one(tmp_path, "d.png", deep, standin(3, denoise=lambda batch: batch))
    np.testing.assert_array_equal(files.read_image(out), deep)  # not rounded to 8-bit levels


def test_a_jpeg_comes_back_a_jpeg(tmp_path):
    def write_jpeg(path, pixels):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tf.io.encode_jpeg(pixels).numpy())

    out = denoise_one(tmp_path, "p.jpg", np.repeat(GREY, 3, axis=-1), standin(3), write=write_jpeg)
    assert out.read_bytes()[:2] == b"\xff\xd8"


def test_a_cmyk_jpeg_is_refused_by_name(tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(RGBA, mode="CMYK").save(tmp_path / "in" / "print.jpg")
    with pytest.raises(ValueError, match=r"print.jpg: a CMYK JPEG"):
        files.denoise_files([tmp_path / "in"], tmp_path / "out", standin(3), progress=False)


def test_a_corrupt_file_is_named_and_the_others_are_written(tmp_path):
    write_png(tmp_path / "in" / "a.png", GREY)
    (tmp_path / "in" / "b.png").write_bytes(b"not a png")
    write_png(tmp_path / "in" / "c.png", GREY)
    with pytest.raises(ValueError, match=r"1 of 3 images failed \(2 written\).*b.png: cannot be decoded"):
        files.denoise_files([tmp_path / "in"], tmp_path / "out", standin(1), progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]


def test_a_folder_reports_its_progress_image_by_image(tmp_path, capsys):
    for name in ("a.png", "b.png"):
        write_png(tmp_path / "in" / name, GREY)
    files.denoise_files([tmp_path / "in"], tmp_path / "out", standin(1))
    assert [line.split()[0] for line in capsys.readouterr().err.splitlines()] == ["[1/2]", "[2/2]"]


@pytest.mark.parametrize("size", [(5, 5), (300, 201), (2000, 2000)])
def test_a_fully_convolutional_saved_model_denoises_any_size_in_its_size(tmp_path, size):
    model = VAE((16, 16, 3), width=4, latent_dim=2, seed=0)
    served = saved_model.export_model(model, tmp_path / "served", "vae", 1, ensemble_transforms="none")
    out = denoise_one(tmp_path, "big.png", np.zeros((*size, 3), np.uint8), load_endpoints(served))
    assert files.read_image(out).shape == (*size, 3)


def test_the_self_ensemble_flag_uses_the_ensemble_signature(tmp_path):
    seen = []
    endpoints = standin(1)
    endpoints.denoise_ensemble = lambda batch: seen.append(batch.shape) or np.asarray(batch)
    write_png(tmp_path / "in" / "a.png", GREY)
    files.denoise_files([tmp_path / "in"], tmp_path / "out", endpoints, self_ensemble=True, progress=False)
    assert seen


def test_the_self_ensemble_flag_needs_a_model_with_one(tmp_path):
    write_png(tmp_path / "in" / "a.png", GREY)
    with pytest.raises(ValueError, match="self-ensemble"):
        files.denoise_files([tmp_path / "in"], tmp_path / "out", standin(1), self_ensemble=True, progress=False)


def test_denoise_command_writes_same_names_and_never_overwrites(tmp_path, capsys):
    model = fit_pca(np.random.default_rng(1).uniform(0, 1, (40, 16, 16, 1)).astype(np.float32), 6)
    served = saved_model.export_model(model, tmp_path / "served", "pca", 1)
    inputs = tmp_path / "in"
    write_png(inputs / "a.png", np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    write_png(inputs / "b.png", np.random.default_rng(3).integers(0, 256, (16, 16, 1), dtype=np.uint8))
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    assert cli.main(["denoise", str(served), str(inputs), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    assert files.read_image(tmp_path / "out" / "a.png").shape == (20, 30, 3)
    assert cli.main(["denoise", str(served), str(inputs), "--out", str(inputs)]) == 1
    assert "would overwrite its input" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before
    assert cli.main(["denoise", str(served), str(inputs), "--out", str(tmp_path / "out")]) == 1
    assert "already exists" in capsys.readouterr().err


def test_unreadable_and_missing_inputs(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot be decoded"):
        files.read_image(tmp_path / "bad.png")
    with pytest.raises(FileNotFoundError, match="no such file"):
        files.list_images([tmp_path / "missing.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No images"):
        files.list_images([tmp_path / "empty"])


def test_sample_command_draws_a_grid_for_vaes_only(tmp_path, capsys):
    vae = VAE((16, 16, 1), arch="conv", width=8, latent_dim=4)
    vae.save(tmp_path / "vae.keras")
    assert cli.main(["sample", str(tmp_path / "vae.keras"), "-n", "12", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert "12 samples decoded in" in capsys.readouterr().out
    fit_pca(np.random.default_rng(1).uniform(0, 1, (40, 16, 16, 1)).astype(np.float32), 6).save(tmp_path / "pca.keras")
    assert cli.main(["sample", str(tmp_path / "pca.keras"), "--out", str(tmp_path / "p.png")]) == 1
    assert "Expected a model that samples (a VAE)" in capsys.readouterr().err


# === --posterior-samples: posterior draws of a VAE for a user's images ===
def sampling_standin(channels, size_multiple=None):
    """Endpoints whose draw k of an image is the image times (k + 1) / 4: known mean and std."""

    def sample_posterior(images, count):
        draws = np.stack([np.asarray(images) * (k + 1) / 4 for k in range(count)], axis=1)
        return {"samples": draws, "mean": draws.mean(1), "std": draws.std(1)}

    endpoints = standin(channels, size_multiple)
    endpoints.sample_posterior = sample_posterior
    return endpoints


SAMPLED = np.full((20, 30, 1), 200, np.uint8)


@pytest.fixture
def sampled(tmp_path):
    """A grey image through an RGB stand-in with --posterior-samples 3 --write-samples: {name: pixels}."""
    write_png(tmp_path / "in" / "g.png", SAMPLED)
    out = tmp_path / "out"
    files.denoise_files(
        [tmp_path / "in"], out, sampling_standin(3), posterior_samples=3, write_samples=True, progress=False
    )
    return {path.name: files.read_image(path) for path in out.iterdir()}


def test_samples_write_the_mean_the_std_and_each_draw(sampled):
    assert sorted(sampled) == ["g.png", "g.sample1.png", "g.sample2.png", "g.sample3.png", "g.std.png"]


def test_the_output_is_the_mean_of_the_draws(sampled):
    assert int(sampled["g.png"][0, 0, 0]) == 100  # 200 * mean(1, 2, 3) / 4


def test_the_std_map_is_the_spread_of_the_draws_in_intensity_units(sampled):
    assert int(sampled["g.std.png"][0, 0, 0]) == round(200 * np.std([1, 2, 3]) / 4)


def test_each_draw_keeps_the_inputs_mode(sampled):
    assert sampled["g.sample3.png"].shape == (20, 30, 1) and int(sampled["g.sample3.png"][0, 0, 0]) == 150


def test_samples_through_tiles_of_a_fixed_size_model(tmp_path):
    write_png(tmp_path / "in" / "c.png", np.full((40, 50, 3), 200, np.uint8))
    files.denoise_files([tmp_path / "in"], tmp_path / "out", sampling_standin(3), posterior_samples=2, progress=False)
    assert int(files.read_image(tmp_path / "out" / "c.std.png").max()) == 25  # 200 * std(1/4, 2/4)


def test_samples_without_write_samples_write_only_the_mean_and_std(tmp_path):
    write_png(tmp_path / "in" / "g.png", SAMPLED)
    written = files.denoise_files(
        [tmp_path / "in"], tmp_path / "out", sampling_standin(1), posterior_samples=4, progress=False
    )
    assert sorted(p.name for p in written) == ["g.png", "g.std.png"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"posterior_samples": -1}, "Received: -1"),
        ({"posterior_samples": 2, "self_ensemble": True}, "not both"),
        ({"write_samples": True}, "Expected --posterior-samples K"),
    ],
)
def test_bad_sample_requests_are_refused(tmp_path, kwargs, message):
    write_png(tmp_path / "in" / "g.png", SAMPLED)
    with pytest.raises(ValueError, match=message):
        files.denoise_files([tmp_path / "in"], tmp_path / "out", sampling_standin(1), progress=False, **kwargs)


def test_a_model_without_a_posterior_cannot_sample(tmp_path):
    write_png(tmp_path / "in" / "g.png", SAMPLED)
    with pytest.raises(ValueError, match="a posterior to sample"):
        files.denoise_files([tmp_path / "in"], tmp_path / "out", standin(1), posterior_samples=2, progress=False)


def test_the_cli_samples_a_vae_savedmodel(tmp_path):
    vae = VAE((16, 16, 1), arch="conv-spatial", width=8, latent_dim=2, seed=0)
    model = saved_model.export_model(vae, tmp_path / "sm", "vae", 1)
    write_png(tmp_path / "in" / "g.png", np.random.default_rng(0).integers(0, 256, (21, 34, 1), dtype=np.uint8))
    args = ["denoise", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--posterior-samples", "3"]
    assert cli.main([*args, "--write-samples"]) == 0
    assert files.read_image(tmp_path / "out" / "g.sample2.png").shape == (21, 34, 1)


def identity(batch):
    """A stand-in denoiser that changes nothing: what comes back is what the tiling and blending did."""
    return np.asarray(batch)


def test_a_photo_larger_than_one_pass_comes_back_pixel_for_pixel_through_the_tiles(monkeypatch):
    monkeypatch.setattr(inference, "MAX_WHOLE_PIXELS", 64 * 64)
    monkeypatch.setattr(inference, "LARGE_TILE", 64)
    pixels = np.random.default_rng(0).integers(0, 65536, (150, 203, 4), dtype=np.uint16)  # RGBA, 16 bit
    np.testing.assert_array_equal(files.denoise_pixels(pixels, identity, (32, 32, 3), 8)[0], pixels)


def test_denoising_a_12_megapixel_photo_holds_tiles_not_copies_of_it():
    pixels = np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    tracemalloc.start()
    files.denoise_pixels(pixels, identity, (32, 32, 3), 8)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * pixels.nbytes  # the output is one copy; a float32 copy of the photo alone would be four
