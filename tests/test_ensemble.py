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
    ensemble.check_self_ensemble("flip", (8, 16, 1))


def test_exported_self_ensemble_serves_the_mean_and_records_it(tmp_path):
    model = VAE((16, 16, 1), arch="conv-spatial", width=4, latent_dim=2, seed=0)
    images = np.random.default_rng(1).uniform(0, 1, (4, 16, 16, 1)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    assert (
        cli.main(
            ["export", str(tmp_path / "m.keras"), "--name", "vae", "--to", str(tmp_path), "--self-ensemble", "dihedral"]
        )
        == 0
    )
    loaded = tf.saved_model.load(str(tmp_path / "vae" / "1"))
    served = loaded.signatures["serving_default"](images=tf.constant(images))["denoised"]
    np.testing.assert_allclose(served, ensemble.self_ensemble(model, images, "dihedral"), atol=1e-5)
    assert np.abs(served - model(images)).max() > 1e-4  # really averaged, not the single pass
    z = loaded.signatures["encode"](images=tf.constant(images))["z_mean"]
    np.testing.assert_allclose(z, model.encode(images)[0], atol=1e-5)  # encode / decode are unchanged
    assert '"self_ensemble": "dihedral"' in (tmp_path / "vae" / "1" / saved_model.METADATA_FILE).read_text()
