"""Bad input at every public boundary (data loaders, Python API, SavedModel endpoint, CLI).

One row per bad input: how its files are arranged, the failing call, the error expected and a
pattern its message must match (naming what was received, or what to do). Every row also checks
that the failed call wrote, changed or deleted nothing under the test's folder.
"""

import collections
import gzip
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from fakes import write_mnist_folder, write_png

from tfvae import cli, data
from tfvae.data.pipeline import make_dataset
from tfvae.data.readers import CorruptFileError
from tfvae.models import VAE, Autoencoder
from tfvae.serving import saved_model
from tfvae.training import TrainConfig

GOOD = np.random.default_rng(0).uniform(0, 1, (8, 16, 16, 1)).astype(np.float32)
PIXELS = np.zeros((8, 8, 1), np.uint8)


def tiny_vae():
    return VAE((16, 16, 1), width=8, latent_dim=2, seed=0)


def cli_fails(*argv):
    """Run the CLI; a failure (exit code 1, message on stderr) is raised as SystemExit(1)."""
    code = cli.main([str(a) for a in argv])
    if code:
        raise SystemExit(code)


def damaged_mnist(tmp, damage):
    """An MNIST folder of gzipped IDX files whose train images are `damage(uncompressed bytes)`."""
    folder = tmp / "mnist"
    write_mnist_folder(folder)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(damage(gzip.decompress(path.read_bytes()))))
    return folder


def image_folder(tmp, files):
    """tmp/pics/train/a/ holding `files` ({name: uint8 array or raw bytes})."""
    folder = tmp / "pics" / "train" / "a"
    folder.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            write_png(folder / name, content)
    return tmp / "pics"


def foreign_folder(tmp):
    (tmp / "thesis").mkdir()
    (tmp / "thesis" / "chapter1.tex").write_text("precious")
    return tmp / "thesis"


def nearly_full_disk(monkeypatch):
    free = 5 * 2**20
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12 - free, free))


Case = collections.namedtuple("Case", "arrange act error pattern")


def case(act, error, pattern, arrange=lambda tmp: None):
    return Case(arrange, act, error, pattern)


BAD_INPUTS = {
    # --- data loaders ---
    "truncated IDX file": case(
        lambda folder, _: data.load(str(folder)),
        CorruptFileError,
        "train-images.*truncated",
        arrange=lambda tmp: damaged_mnist(tmp, lambda raw: raw[:-100]),
    ),
    "IDX file with a wrong magic number": case(
        lambda folder, _: data.load(str(folder)),
        CorruptFileError,
        "train-images.*magic",
        arrange=lambda tmp: damaged_mnist(tmp, lambda raw: b"\x01\x02" + raw[2:]),
    ),
    "image folder with mixed sizes": case(
        lambda folder, _: data.load(str(folder)),
        ValueError,
        "share one shape.*2.png",
        arrange=lambda tmp: image_folder(tmp, {"1.png": PIXELS, "2.png": np.zeros((9, 8, 1), np.uint8)}),
    ),
    "image folder without images": case(
        lambda folder, _: data.load(str(folder)),
        FileNotFoundError,
        "no images",
        arrange=lambda tmp: image_folder(tmp, {}),
    ),
    "unreadable image file": case(
        lambda folder, _: data.load(str(folder)),
        CorruptFileError,
        "2.png.*cannot be decoded",
        arrange=lambda tmp: image_folder(tmp, {"1.png": PIXELS, "2.png": b"not a png"}),
    ),
    "unknown dataset name": case(lambda _, tmp: data.load("mnsit", data_dir=str(tmp)), data.DataNotFoundError, "mnsit"),
    # --- Python API ---
    "images of rank 3": case(lambda *_: make_dataset(GOOD[0], "gaussian", 4, 0, True), ValueError, "rank 3"),
    "uint8 images": case(
        lambda *_: make_dataset((GOOD * 255).astype(np.uint8), "gaussian", 4, 0, True), ValueError, "dtype=uint8"
    ),
    "[0, 255] float images": case(
        lambda *_: make_dataset(GOOD * 255, "gaussian", 4, 0, True), ValueError, "divide by 255"
    ),
    "NaN pixels": case(
        lambda *_: make_dataset(np.full_like(GOOD, np.nan), "gaussian", 4, 0, True), ValueError, "NaN/Inf"
    ),
    "empty batch": case(lambda *_: make_dataset(GOOD[:0], "gaussian", 4, 0, False), ValueError, "at least one image"),
    "batch larger than the data": case(
        lambda *_: make_dataset(GOOD, "gaussian", 64, 0, True), ValueError, "batch_size=64"
    ),
    "bad noise spec": case(lambda *_: make_dataset(GOOD, "gaussian:abc", 4, 0, True), ValueError, "gaussian:abc"),
    "negative sigma": case(lambda *_: make_dataset(GOOD, "gaussian:-0.1", 4, 0, True), ValueError, "-0.1"),
    "wrong channels for the model": case(
        lambda *_: tiny_vae()(np.zeros((2, 16, 16, 3), np.float32)), ValueError, r"\(N, H, W, 1\).*\(2, 16, 16, 3\)"
    ),
    "an odd height for a stride-2 latent map": case(
        lambda *_: tiny_vae()(np.zeros((2, 15, 16, 1), np.float32)), ValueError, r"multiple of 2.*\(2, 15, 16, 1\)"
    ),
    "wrong image size for a fixed-size model": case(
        lambda *_: Autoencoder((16, 16, 1), width=4, latent_dim=2)(np.zeros((2, 28, 28, 1), np.float32)),
        ValueError,
        r"\(N, 16, 16, 1\)",
    ),
    "Inf pixels into the model": case(
        lambda *_: tiny_vae()(tf.fill((1, 16, 16, 1), np.inf)), tf.errors.InvalidArgumentError, "NaN or Inf"
    ),
    "time budget <= 0": case(lambda *_: TrainConfig(time_budget=0), ValueError, "time_budget=0"),
    "NaN learning rate": case(lambda *_: TrainConfig(learning_rate=float("nan")), ValueError, "learning_rate=nan"),
    "unknown learning-rate schedule": case(
        lambda *_: TrainConfig(lr_schedule="step"), ValueError, "lr_schedule='step'"
    ),
    "unknown dtype policy": case(lambda *_: TrainConfig(dtype_policy="float16"), ValueError, "dtype_policy='float16'"),
    "bfloat16 PCA": case(
        lambda *_: TrainConfig(model="pca", dtype_policy="mixed_bfloat16"), ValueError, "float32 for model='pca'"
    ),
    "EMA momentum of 1": case(lambda *_: TrainConfig(ema=1.0), ValueError, "ema=1.0"),
    "quarter-turn ensemble of non-square images": case(
        lambda _, tmp: saved_model.export_model(
            Autoencoder((8, 16, 1), width=4, latent_dim=2), tmp / "sm", "ae", 1, ensemble_transforms="dihedral"
        ),
        ValueError,
        r"square images.*\(8, 16, 1\)",
    ),
    # --- SavedModel endpoint (serving_default of an exported VAE for 16x16x1 images) ---
    "endpoint: rank 3": case(
        lambda serve, _: serve(np.zeros((16, 16, 1), np.float32)), tf.errors.InvalidArgumentError, r"\(N, any, any, 1\)"
    ),
    "endpoint: 3 channels": case(
        lambda serve, _: serve(np.zeros((1, 16, 16, 3), np.float32)),
        tf.errors.InvalidArgumentError,
        r"\(N, any, any, 1\).*\[1 16 16 3\]",
    ),
    "endpoint: uint8": case(
        lambda serve, _: serve(np.zeros((1, 16, 16, 1), np.uint8)),
        tf.errors.InvalidArgumentError,
        "float tensor but is a uint8",
    ),
    "endpoint: [0, 255] floats": case(
        lambda serve, _: serve(np.full((1, 16, 16, 1), 255.0, np.float32)),
        tf.errors.InvalidArgumentError,
        "values above 1",
    ),
    "endpoint: empty batch": case(
        lambda serve, _: serve(np.zeros((0, 16, 16, 1), np.float32)), tf.errors.InvalidArgumentError, "N >= 1"
    ),
    # --- CLI: refused before anything is written ---
    "train into a folder that is not a run": case(
        lambda folder, _: cli_fails("train", "--out", folder),
        SystemExit,
        "not a tfvae run folder",
        arrange=foreign_folder,
    ),
    "train under a path that is a file": case(
        lambda folder, _: cli_fails("train", "--out", folder / "chapter1.tex" / "run"),
        SystemExit,
        "Cannot create the run folder",
        arrange=foreign_folder,
    ),
    "train with a negative time budget": case(
        lambda _, tmp: cli_fails("train", "--time-budget", "-5", "--out", tmp / "run"), SystemExit, "time_budget=-5"
    ),
    "train with --strategy tpu and no TPU": case(
        lambda _, tmp: cli_fails("train", "--strategy", "tpu", "--out", tmp / "run"), SystemExit, "no TPU found"
    ),
    "unknown strategy": case(lambda *_: TrainConfig(strategy="horovod"), ValueError, "strategy='horovod'"),
    "train on a nearly full disk": case(
        lambda _, tmp: cli_fails("train", "--out", tmp / "run"), SystemExit, "5 MiB free"
    ),
    "evaluate a folder that is not a model": case(
        lambda folder, tmp: cli_fails("evaluate", folder, "--dataset", "mnist", "--out", tmp / "eval"),
        SystemExit,
        "thesis",
        arrange=foreign_folder,
    ),
    "denoise with a model that does not exist": case(
        lambda folder, tmp: cli_fails("denoise", tmp / "no-model", folder, "--out", tmp / "out"),
        SystemExit,
        "no-model",
        arrange=lambda tmp: image_folder(tmp, {"1.png": PIXELS}),
    ),
}


def snapshot(folder):
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """The serving_default endpoint of an exported tiny VAE, called on a NumPy array."""
    saved = saved_model.export_model(tiny_vae(), tmp_path_factory.mktemp("export"), "vae", 1)
    signature = tf.saved_model.load(str(saved)).signatures["serving_default"]
    return lambda images: signature(images=tf.constant(images))


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gets_a_clear_error_and_writes_nothing(name, tmp_path, capsys, monkeypatch, serve, no_data_env):
    bad = BAD_INPUTS[name]
    if name == "train on a nearly full disk":
        nearly_full_disk(monkeypatch)
    arranged = serve if name.startswith("endpoint") else bad.arrange(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(bad.error, match=None if bad.error is SystemExit else bad.pattern):
        bad.act(arranged, tmp_path)
    if bad.error is SystemExit:
        message = capsys.readouterr().err
        assert message.startswith("tfvae: error: ") and len(message.strip().splitlines()) == 1, message
        assert re.search(bad.pattern, message), message
    assert snapshot(tmp_path) == before  # nothing written, changed or deleted


def test_the_table_covers_at_least_twenty_bad_inputs():
    assert len(BAD_INPUTS) >= 20
