import numpy as np
import pytest
from fakes import write_png

from tfvae import cli
from tfvae.models import VAE, fit_pca
from tfvae.serving import files, saved_model


def halve(batch):
    """A stand-in denoiser that shows where each tile went: every pixel halved."""
    return batch / 2


@pytest.mark.parametrize("size", [(16, 16), (40, 23), (5, 7), (1, 1)])
def test_any_size_is_tiled_and_stitched_back(size):
    image = np.random.default_rng(0).uniform(0, 1, (*size, 1)).astype(np.float32)
    seen = []
    out = files.denoise_image(image, lambda batch: seen.append(batch.shape) or halve(batch), (16, 16, 1))
    assert out.shape == image.shape
    np.testing.assert_allclose(out, image / 2, atol=1e-7)
    assert all(shape[1:] == (16, 16, 1) for shape in seen)


def test_channels_are_matched_or_refused():
    grey = np.full((4, 4, 1), 0.5, np.float32)
    assert files.match_channels(grey, 3, "g.png").shape == (4, 4, 3)
    rgb = np.stack([np.full((4, 4), v, np.float32) for v in (1.0, 0.0, 0.0)], axis=-1)
    np.testing.assert_allclose(files.match_channels(rgb, 1, "r.png"), 0.2989, atol=1e-3)  # luminance of red
    with pytest.raises(ValueError, match="has 4 channels; the model takes 3"):
        files.match_channels(np.zeros((4, 4, 4), np.float32), 3, "rgba.png")


def test_denoise_command_writes_same_names_and_never_overwrites(tmp_path, capsys):
    model = fit_pca(np.random.default_rng(1).uniform(0, 1, (40, 16, 16, 1)).astype(np.float32), 6)
    served = saved_model.export_model(model, tmp_path / "served", "pca", 1)
    inputs = tmp_path / "in"
    write_png(inputs / "a.png", np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    write_png(inputs / "b.png", np.random.default_rng(3).integers(0, 256, (16, 16, 1), dtype=np.uint8))
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    assert cli.main(["denoise", str(served), str(inputs), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    assert files.read_image(tmp_path / "out" / "a.png").shape == (20, 30, 1)
    assert cli.main(["denoise", str(served), str(inputs), "--out", str(inputs)]) == 1
    assert "would overwrite its input" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before
    assert cli.main(["denoise", str(served), str(inputs), "--out", str(tmp_path / "out")]) == 1
    assert "already exists" in capsys.readouterr().err


def test_unreadable_and_missing_inputs(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="bad.png: cannot be decoded"):
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
    fit_pca(np.random.default_rng(1).uniform(0, 1, (40, 16, 16, 1)).astype(np.float32), 6).save(tmp_path / "pca.keras")
    assert cli.main(["sample", str(tmp_path / "pca.keras"), "--out", str(tmp_path / "p.png")]) == 1
    assert "Expected a model that samples (a VAE)" in capsys.readouterr().err
