"""Shared fixtures: tiny synthetic data for unit tests, the real data for integration tests."""

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def real_data_dir():
    """TFVAE_DATA_DIR or ../shared/data; skip when absent, except under CI where it must exist."""
    for candidate in (os.environ.get("TFVAE_DATA_DIR"), REPO.parent / "shared" / "data"):
        if candidate and Path(candidate, "mnist").is_dir():
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


@pytest.fixture
def no_data_env(monkeypatch):
    """No TFVAE_DATA_DIR: only what a test points at is found."""
    monkeypatch.delenv("TFVAE_DATA_DIR", raising=False)


@pytest.fixture
def images():
    """32 smooth random images, float32 in [0, 1], 16x16x1."""
    rng = np.random.default_rng(0)
    return rng.uniform(0.2, 0.8, (32, 16, 16, 1)).astype(np.float32)
