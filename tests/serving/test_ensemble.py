import numpy as np
import pytest
import tensorflow as tf

from tfvae import cli
from tfvae.models import VAE
from tfvae.serving import ensemble, saved_model

IMAGES = np.random.default_rng(0).uniform(0, 1, (3, 8, 8, 1)).astype(np.float32)


def top_left_weighted(images):
    """A denoiser that is not orientation-equivariant: every copy gives a different answer."""
    ramp = np.arange(8, dtype=np.float32)
    return images * (1 + ramp[:, None, None] + 10 * ramp[None, :, None])


@pytest.mark.parametrize("name, copies", [("none", 1), ("flip", 2), ("dihedral", 8)])
def test_self_ensemble_is_the_mean_of_the_undone_copies(name, copies):
    assert len(ensemble.TRANSFORMS[name]) == copies
    expected = []
    for turns, mirrored in ensemble.TRANSFORMS[name]:
        x = np.rot90(IMAGES, turns, axes=(1, 2))
        x = x[:, :, ::-1] if mirrored else x
        y = top_left_weighted(np.ascontiguousarray(x))
        y = y[:, :, ::-1] if mirrored else y
        expected.append(np.rot90(y, -turns, axes=(1, 2)))
    np.testing.assert_allclose(
        ensemble.self_ensemble(top_left_weighted, IMAGES, name), np.mean(expected, axis=0), rtol=1e-6
    )


def test_an_equivariant_denoiser_is_unchanged_and_the_identity_is_kept():
    for name in ensemble.TRANSFORMS:
        np.testing.assert_allclose(ensemble.self_ensemble(lambda x: x, IMAGES, name), IMAGES, rtol=1e-6)
        np.testing.assert_allclose(ensemble.self_ensemble(tf.square, IMAGES, name), IMAGES**2, rtol=1e-6)


def test_unknown_or_unfitting_ensembles_are_refused():
    with pytest.raises(ValueError, match="self_ensemble='x8'"):
        ensemble.check_self_ensemble("x8", (8, 8, 1))
    with pytest.raises(ValueError, match=r"square images.*\(8, 16, 1\)"):
        ensemble.check_self_ensemble("dihedral", (8, 16, 1))


def test_quarter_turns_fit_a_model_of_any_size():
    ensemble.check_self_ensemble("dihedral", (8, 16, 1), size_multiple=2)


def test_the_default_ensemble_is_the_largest_that_fits():
    defaults = [ensemble.default_ensemble(shape, multiple) for shape, multiple in (((8, 16, 1), None), ((8, 16, 1), 2))]
    assert defaults == ["flip", "dihedral"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A conv-spatial VAE exported with the 8-fold ensemble: (model, loaded SavedModel, its folder)."""
    root = tmp_path_factory.mktemp("ensemble")
    model = VAE((16, 16, 1), arch="conv-spatial", width=4, latent_dim=2, seed=0)
    model.save(root / "m.keras")
    args = ["export", str(root / "m.keras"), "--name", "vae", "--to", str(root), "--ensemble-transforms", "dihedral"]
    assert cli.main(args) == 0
    return model, tf.saved_model.load(str(root / "vae" / "1")), root / "vae" / "1"


EXPORT_IMAGES = np.random.default_rng(1).uniform(0, 1, (4, 16, 16, 1)).astype(np.float32)


def test_the_ensemble_signature_serves_the_mean_of_the_copies(exported):
    model, loaded, _ = exported
    served = loaded.signatures["denoise_ensemble"](images=tf.constant(EXPORT_IMAGES))["denoised"]
    np.testing.assert_allclose(served, ensemble.self_ensemble(model, EXPORT_IMAGES, "dihedral"), atol=1e-5)


def test_serving_default_stays_the_single_pass(exported):
    model, loaded, _ = exported
    served = loaded.signatures["serving_default"](images=tf.constant(EXPORT_IMAGES))["denoised"]
    np.testing.assert_allclose(served, model(EXPORT_IMAGES), atol=1e-5)


def test_the_ensemble_takes_any_size_like_the_model(exported):
    _, loaded, _ = exported
    images = tf.random.uniform((1, 15, 22, 1))
    assert loaded.signatures["denoise_ensemble"](images=images)["denoised"].shape == (1, 15, 22, 1)


def test_the_metadata_records_the_ensemble(exported):
    _, _, folder = exported
    assert '"self_ensemble": "dihedral"' in (folder / saved_model.METADATA_FILE).read_text()


def test_no_ensemble_signature_when_asked_for_none(tmp_path):
    model = VAE((16, 16, 1), arch="conv-spatial", width=4, latent_dim=2, seed=0)
    served = saved_model.export_model(model, tmp_path, "vae", 1, ensemble_transforms="none")
    assert "denoise_ensemble" not in tf.saved_model.load(str(served)).signatures
