"""Shared fixtures: generated data in real file formats for unit and integration tests, the real
data where it is the point (readers on real files, the shipped models' quality)."""

import contextlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fakes import TINY, write_stroke_mnist

REPO = Path(__file__).resolve().parents[1]


def real_data_dir():
    """TFVAE_DATA_DIR or ../shared/data; skip when absent, except under CI where it must exist."""
    for candidate in (os.environ.get("TFVAE_DATA_DIR"), REPO.parent / "shared" / "data"):
        if candidate and Path(candidate, "mnist").is_dir() and not Path(candidate, "GENERATED").exists():
            return Path(candidate)
    message = "real data not found in TFVAE_DATA_DIR or ../shared/data"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (required under CI=true)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def real_data_root():
    """The folder of the real data (for fixtures wider than one test)."""
    return real_data_dir()


@pytest.fixture
def real_data(monkeypatch, real_data_root):
    monkeypatch.setenv("TFVAE_DATA_DIR", str(real_data_root))
    return real_data_root


@pytest.fixture(scope="session")
def fake_data_root(tmp_path_factory):
    """A data folder holding a generated MNIST (`fakes.write_stroke_mnist`: 6,000 train, 500 test)."""
    root = tmp_path_factory.mktemp("generated_data")
    (root / "GENERATED").write_text("tests/fakes.py wrote this folder")
    write_stroke_mnist(root / "mnist")
    return root


@pytest.fixture
def fake_data(monkeypatch, fake_data_root):
    """TFVAE_DATA_DIR points at the generated data: `mnist` means the generated MNIST."""
    monkeypatch.setenv("TFVAE_DATA_DIR", str(fake_data_root))
    return fake_data_root


@pytest.fixture(scope="session")
def tiny_vae_run(fake_data_root, tmp_path_factory):
    """A finished run folder: a width-8 conv-spatial VAE, 2 epochs of 8 steps on the generated MNIST."""
    from tfvae import cli

    out = tmp_path_factory.mktemp("tiny_vae_run") / "run"
    assert cli.main(["train", *TINY, "--data-dir", str(fake_data_root), "--epochs", "2", "--out", str(out)]) == 0
    return out


@pytest.fixture
def no_data_env(monkeypatch):
    """No TFVAE_DATA_DIR: only what a test points at is found."""
    monkeypatch.delenv("TFVAE_DATA_DIR", raising=False)


@pytest.fixture
def images():
    """32 smooth random images, float32 in [0, 1], 16x16x1."""
    rng = np.random.default_rng(0)
    return rng.uniform(0.2, 0.8, (32, 16, 16, 1)).astype(np.float32)


@pytest.fixture
def spawn(tmp_path):
    """start(name, command, **popen_kwargs) -> Popen with output to tmp_path/<name>.log (a file, so a
    child that logs a lot never blocks on a full pipe); every child still running at the end of the
    test is killed. `log(name)` reads the end of a child's output."""
    children = []
    with contextlib.ExitStack() as logs:

        def start(name, command, **kwargs):
            log = logs.enter_context(open(tmp_path / f"{name}.log", "w"))
            children.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **kwargs))
            return children[-1]

        start.log = lambda name: (tmp_path / f"{name}.log").read_text()[-3000:]
        yield start
        for process in children:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
