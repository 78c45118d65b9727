import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfvae import cli
from tfvae.models import VAE, Autoencoder, DnCNN, fit_pca, load_model, with_network_dtype
from tfvae.serving import saved_model

IMAGES = np.random.default_rng(0).uniform(0, 1, (5, 16, 16, 1)).astype(np.float32)
MODELS = {
    "vae": lambda: VAE((16, 16, 1), arch="conv-spatial", width=8, latent_dim=2, seed=0),
    "ae": lambda: Autoencoder((16, 16, 1), arch="conv", width=8, latent_dim=4),
    "vae-bfloat16": lambda: VAE(
        (16, 16, 1), arch="conv-spatial", width=8, latent_dim=2, seed=0, network_dtype="mixed_bfloat16"
    ),
    "pca": lambda: fit_pca(np.random.default_rng(1).uniform(0, 1, (40, 16, 16, 1)).astype(np.float32), 6),
}


@pytest.mark.parametrize("kind", ["vae", "vae-bfloat16"])
def test_a_fully_convolutional_saved_model_serves_any_size_as_the_model_does(kind, tmp_path):
    from tfvae.serving.inference import denoise_whole

    model = MODELS[kind]()
    serve = tf.saved_model.load(str(saved_model.export_model(model, tmp_path, kind, 1))).signatures["serving_default"]
    images = np.random.default_rng(2).uniform(0, 1, (2, 37, 53, 1)).astype(np.float32)
    np.testing.assert_allclose(serve(images=tf.constant(images))["denoised"], denoise_whole(model, images), atol=1e-5)


def test_a_fixed_size_saved_model_refuses_other_sizes(tmp_path):
    serve = tf.saved_model.load(str(saved_model.export_model(MODELS["ae"](), tmp_path, "ae", 1))).signatures
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\(N, 16, 16, 1\).*\[2 8 8 1\]"):
        serve["serving_default"](images=tf.zeros((2, 8, 8, 1)))


@pytest.mark.parametrize("kind, multiple", [("vae", 2), ("ae", None)])
def test_the_metadata_says_which_sizes_the_model_takes(kind, multiple, tmp_path):
    target = saved_model.export_model(MODELS[kind](), tmp_path, kind, 1)
    assert json.loads((target / saved_model.METADATA_FILE).read_text())["size_multiple"] == multiple


def test_a_saved_model_exported_again_serves_the_same_outputs(tmp_path):
    first = saved_model.export_model(MODELS["vae"](), tmp_path, "vae", 1)
    again = saved_model.export_model(saved_model.load_trained_model(first), tmp_path, "vae", 2)
    outputs = [
        tf.saved_model.load(str(path)).signatures["serving_default"](images=tf.constant(IMAGES))["denoised"]
        for path in (first, again)
    ]
    np.testing.assert_array_equal(*outputs)


RELOAD = """
import json, sys
import numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
images = tf.constant(np.load(sys.argv[2]))
names = ("serving_default", "encode")
out = {n: {k: v.numpy().tolist() for k, v in loaded.signatures[n](images=images).items()} for n in names}
print(json.dumps({"modules": sorted(m for m in sys.modules if m.startswith("tfvae")), **out}))
"""


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_saved_model_reloads_without_tfvae_and_matches_keras(kind, tmp_path):
    model = MODELS[kind]()
    target = saved_model.export_model(model, tmp_path, kind, 1)
    assert target == tmp_path / kind / "1" and (target / "saved_model.pb").exists()
    np.save(tmp_path / "x.npy", IMAGES)
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, str(target), str(tmp_path / "x.npy")], capture_output=True, text=True, check=True
    )
    served = json.loads(result.stdout.splitlines()[-1])
    assert served["modules"] == []  # loading needed no tfvae code
    np.testing.assert_allclose(served["serving_default"]["denoised"], model(IMAGES), atol=1e-5)
    encoded = model.encode(IMAGES)
    expected = dict(zip(("z_mean", "z_log_var"), encoded)) if kind.startswith("vae") else {"z": encoded}
    assert set(served["encode"]) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(served["encode"][name], value, atol=1e-5)


def test_endpoints_take_any_batch_size_and_decode_round_trips(tmp_path):
    model = MODELS["vae"]()
    loaded = tf.saved_model.load(str(saved_model.export_model(model, tmp_path, "vae", 3)))
    assert set(loaded.signatures) == {"serving_default", "denoise_ensemble", "encode", "decode", "sample_posterior"}
    for count in (1, 4):
        out = loaded.signatures["serving_default"](images=tf.constant(IMAGES[:count]))["denoised"]
        assert out.shape == (count, 16, 16, 1)
    z = loaded.signatures["encode"](images=tf.constant(IMAGES[:2]))["z_mean"]
    np.testing.assert_allclose(loaded.signatures["decode"](z=z)["images"], model(IMAGES[:2]), atol=1e-5)


def test_bad_input_to_the_endpoint_is_a_clear_error(tmp_path):
    loaded = tf.saved_model.load(str(saved_model.export_model(MODELS["vae"](), tmp_path, "vae", 1)))
    serve = loaded.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="values above 1"):
        serve(images=tf.constant(IMAGES * 255))
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Inf"):
        serve(images=tf.constant(np.full((1, 16, 16, 1), np.nan, np.float32)))
    for bad in (IMAGES[..., 0], np.zeros((2, 16, 16, 3), np.float32)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected images of shape \(N, any, any, 1\)"):
            serve(images=tf.constant(bad))
    for bad in (IMAGES[..., 0], np.zeros((2, 16, 16, 3), np.float32), np.zeros((2, 8, 8, 1), np.float32)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected images of shape \(N, 16, 16, 1\)"):
            loaded.signatures["encode"](images=tf.constant(bad))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected z of shape \(N, 8, 8, 2\)"):
        loaded.signatures["decode"](z=tf.zeros((1, 4, 4, 2)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor but is a uint8"):
        serve(images=tf.constant(IMAGES.astype(np.uint8)))


def test_existing_version_is_kept_without_force(tmp_path, capsys):
    model = MODELS["pca"]()
    model.save(tmp_path / "pca.keras")
    args = ["export", str(tmp_path / "pca.keras"), "--name", "pca", "--to", str(tmp_path / "served")]
    assert cli.main(args) == 0
    before = (tmp_path / "served/pca/1/saved_model.pb").stat().st_mtime_ns
    assert cli.main(args) == 1 and "already exists" in capsys.readouterr().err
    assert (tmp_path / "served/pca/1/saved_model.pb").stat().st_mtime_ns == before
    assert cli.main(args + ["--force"]) == 0
    assert sorted(p.name for p in (tmp_path / "served/pca").iterdir()) == ["1"]  # no partial folder left


def test_missing_model_and_bad_version(tmp_path):
    with pytest.raises(FileNotFoundError, match="No trained model"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="version=0"):
        saved_model.export_model(MODELS["pca"](), tmp_path, "pca", 0)


def test_warmup_requests_parse_and_run_against_the_signature(tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2

    target = saved_model.export_model(MODELS["vae"](), tmp_path, "vae", 1)
    serve = tf.saved_model.load(str(target)).signatures["serving_default"]
    records = list(tf.data.TFRecordDataset(str(target / saved_model.WARMUP_FILE)).as_numpy_iterator())
    assert 1 <= len(records) <= 1000
    for record in records:
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        assert request.model_spec.name == "vae" and request.model_spec.signature_name == "serving_default"
        images = tf.make_ndarray(request.inputs["images"])
        assert serve(images=tf.constant(images))["denoised"].shape == images.shape


def test_saved_model_cli_lists_the_signatures(tmp_path):
    target = saved_model.export_model(MODELS["vae"](), tmp_path, "vae", 1)
    cli_path = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli_path, "show", "--dir", str(target), "--tag_set", "serve"], capture_output=True, text=True, check=True
    )
    for name in ("serving_default", "denoise_ensemble", "encode", "decode"):
        assert f'"{name}"' in shown.stdout


def test_keras_round_trip_keeps_weights_and_optimizer_state(tmp_path):
    import keras

    vae = MODELS["vae"]()
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(IMAGES, IMAGES, epochs=2, batch_size=5, verbose=0)
    vae.save(tmp_path / "vae.keras")
    restored = keras.models.load_model(tmp_path / "vae.keras", safe_mode=True)
    assert int(restored.optimizer.iterations) == int(vae.optimizer.iterations) == 2
    for saved, loaded in zip(vae.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(saved, loaded)
    for saved, loaded in zip(vae.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(saved, loaded)


def test_dncnn_exports_only_the_denoise_endpoints(tmp_path):
    model = DnCNN((16, 16, 1), conv_layers=3, width=4)
    loaded = tf.saved_model.load(str(saved_model.export_model(model, tmp_path, "dncnn", 1)))
    assert set(loaded.signatures) == {"serving_default", "denoise_ensemble"}
    np.testing.assert_allclose(
        loaded.signatures["serving_default"](images=tf.constant(IMAGES))["denoised"], model(IMAGES), atol=1e-6
    )
    assert json.loads((tmp_path / "dncnn" / "1" / saved_model.METADATA_FILE).read_text())["latent_shape"] == []


def test_export_can_serve_a_bfloat16_model_in_float32(tmp_path):
    trained = MODELS["vae-bfloat16"]()
    trained.save(tmp_path / "bf16.keras")
    assert (
        cli.main(
            [
                "export",
                str(tmp_path / "bf16.keras"),
                "--name",
                "vae",
                "--to",
                str(tmp_path),
                "--dtype-policy",
                "float32",
            ]
        )
        == 0
    )
    assert (
        json.loads((tmp_path / "vae" / "1" / saved_model.METADATA_FILE).read_text())["config"]["network_dtype"]
        == "float32"
    )
    served = tf.saved_model.load(str(tmp_path / "vae" / "1")).signatures["serving_default"](images=tf.constant(IMAGES))[
        "denoised"
    ]
    as_float32 = with_network_dtype(trained, "float32")
    assert {layer.compute_dtype for layer in as_float32._flatten_layers()} == {"float32"}
    np.testing.assert_allclose(served, as_float32(IMAGES), atol=1e-5)
    # Same weights, only rounding differs: bfloat16 keeps 8 bits of mantissa.
    np.testing.assert_allclose(served, trained(IMAGES), atol=3e-2)
    assert np.abs(served - trained(IMAGES)).max() > 0
    with pytest.raises(ValueError, match="Expected a network model.*Received: PCA"):
        with_network_dtype(MODELS["pca"](), "float32")


def test_export_sets_the_posterior_temperature_the_served_draws_use(tmp_path):
    trained = MODELS["vae"]()
    trained.save(tmp_path / "vae.keras")
    args = ["export", str(tmp_path / "vae.keras"), "--name", "vae", "--to", str(tmp_path)]
    assert cli.main([*args, "--posterior-temperature", "0.5"]) == 0
    metadata = json.loads((tmp_path / "vae" / "1" / saved_model.METADATA_FILE).read_text())
    assert metadata["config"]["posterior_temperature"] == 0.5


REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in (REPO / "saved_models").glob("*/*/saved_model.pb"))
ALL_CARDS = [json.loads(path.read_text()) for path in sorted((REPO / "saved_models").glob("*/card.json"))]
CARDS = {f"{card['name']}/{card['version']}": card for card in ALL_CARDS if card["format"] == "saved_model"}
CARD_SLICE_TOLERANCE_DB = 0.02  # the same images and noise as the card's slice: only float rounding differs


def test_every_shipped_model_has_a_card():
    assert sorted(CARDS) == SHIPPED


@pytest.fixture(scope="module")
def card_slice(real_data_root):
    """(dataset, size) -> the seeded random validation slice that benchmarks/model_cards.py scored."""
    from tfvae import data

    @functools.cache
    def draw(dataset, size):
        clean = data.load(dataset, "validation", data_dir=str(real_data_root)).images
        return clean[np.random.default_rng(0).choice(len(clean), size, replace=False)]

    return draw


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_model_has_the_denoise_and_latent_signatures(name):
    # sample_posterior too from photos_vae/2 on; the earlier three were exported before it existed
    loaded = tf.saved_model.load(str(REPO / "saved_models" / name))
    assert {"serving_default", "denoise_ensemble", "encode", "decode"} <= set(loaded.signatures)


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("signature", ["serving_default", "denoise_ensemble"])
@pytest.mark.parametrize("sigma_index", range(4))
def test_a_shipped_model_scores_its_card_on_a_slice(name, signature, sigma_index, card_slice):
    from tfvae.data.noise import add_noise
    from tfvae.evaluation.metrics import psnr

    card = CARDS[name]
    clean = card_slice(card["dataset"], card["scores"]["slice"]["images"])
    noisy = add_noise(
        clean, f"gaussian:{card['scores']['sigmas'][sigma_index]:g}", seed=card["scores"]["slice"]["seed"]
    )
    serve = tf.saved_model.load(str(REPO / card["artifact"]))
    denoised = np.clip(serve.signatures[signature](images=tf.constant(noisy))["denoised"], 0, 1)
    expected = card["scores"]["slice"]["psnr"][signature][sigma_index]
    assert float(np.mean(psnr(clean, denoised))) == pytest.approx(expected, abs=CARD_SLICE_TOLERANCE_DB)


POSTERIOR_CARDS = sorted(name for name, card in CARDS.items() if "posterior" in card.get("scores", {}))
COVERAGE_TOLERANCE = 0.01  # fresh draws of 32 per pixel on the card's images: a few thousandths apart


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.parametrize("name", POSTERIOR_CARDS)
def test_a_shipped_posterior_covers_as_its_card_says(name, real_data_root):
    from tfvae import data
    from tfvae.data.noise import add_noise
    from tfvae.evaluation.metrics import interval_coverage
    from tfvae.evaluation.scoring import predict_in_batches

    card = CARDS[name]
    posterior = card["scores"]["posterior"]
    clean = data.load(card["dataset"], "validation", data_dir=str(real_data_root)).images[: posterior["images"]]
    noisy = add_noise(clean, f"gaussian:{card['scores']['sigmas'][0]:g}", seed=0)
    serve = tf.saved_model.load(str(REPO / card["artifact"]))
    sample = serve.signatures["sample_posterior"]
    draws = predict_in_batches(
        lambda batch: sample(images=tf.constant(batch), samples=posterior["samples"])["samples"], noisy, 50
    )
    assert interval_coverage(draws, clean) == pytest.approx(posterior["coverage_90"][0], abs=COVERAGE_TOLERANCE)


@pytest.fixture
def earlier_export(tmp_path):
    """A SavedModel as tfvae 0.1 wrote it: its tfvae.json without capabilities, `depth` in the config."""
    target = saved_model.export_model(MODELS["vae"](), tmp_path, "vae", 1)
    metadata_file = target / saved_model.METADATA_FILE
    metadata = json.loads(metadata_file.read_text())
    for key in ("capabilities", "size_multiple"):
        del metadata[key]
    metadata["config"]["depth"] = metadata["config"].pop("residual_blocks")
    metadata_file.write_text(json.dumps(metadata))
    return target


def test_an_earlier_export_is_refused_with_the_command_that_mends_it(earlier_export):
    from tfvae.serving.endpoints import load_endpoints

    with pytest.raises(ValueError, match="earlier tfvae.*tfvae export"):
        load_endpoints(earlier_export)


def test_an_earlier_export_can_be_exported_again(earlier_export, tmp_path):
    from tfvae.serving.endpoints import load_endpoints

    again = saved_model.export_model(saved_model.load_trained_model(earlier_export), tmp_path, "vae", 2)
    assert load_endpoints(again).size_multiple == 2


DENSITY_CARDS = {card["name"]: card for card in ALL_CARDS if card["task"] == "density"}


@pytest.mark.parametrize("name", sorted(DENSITY_CARDS))
def test_a_shipped_density_model_has_the_likelihood_of_its_scoring_protocol(name):
    from tfvae.evaluation import density

    card = DENSITY_CARDS[name]
    binary = card["dataset"] in density.BINARIZED_DATASETS
    likelihood = load_model(REPO / card["artifact"]).objective.likelihood
    assert (likelihood == "bernoulli") == binary, f"{likelihood} for {card['dataset']}"


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.parametrize("name", sorted(DENSITY_CARDS))
def test_a_shipped_density_model_scores_its_card_nll_on_a_slice(name, real_data_root):
    from tfvae import data
    from tfvae.evaluation import density

    card = DENSITY_CARDS[name]
    card_slice = card["scores"]["slice"]
    validation = data.load(card["dataset"], "validation", data_dir=str(real_data_root)).images
    images, _ = density.protocol_images(validation, card["dataset"])  # as benchmarks/model_cards.py scores them
    scores = density.density_scores(
        load_model(REPO / card["artifact"]), images[: card_slice["images"]], samples=card_slice["samples"]
    )
    assert scores["nll_nats"] == pytest.approx(card_slice["nll_nats"], abs=0.05, rel=1e-5)  # float rounding only
