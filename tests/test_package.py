import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import tfvae

REPO = Path(__file__).resolve().parents[1]


def test_the_version_is_the_installed_distributions():
    assert tfvae.__version__ == importlib.metadata.version("tfvae")


def test_import_tfvae_alone_lets_keras_load_a_run(tiny_vae_run):
    script = (
        f"import keras, tfvae; print(type(keras.saving.load_model({str(tiny_vae_run / 'model.keras')!r})).__name__)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "VAE", result.stderr[-2000:]


def test_the_public_api_reaches_each_role():
    assert (tfvae.data.load, tfvae.models.VAE, tfvae.training.TrainConfig, tfvae.training.train) == (
        tfvae.data.sources.load,
        tfvae.models.vae.VAE,
        tfvae.training.config.TrainConfig,
        tfvae.training.run.train,
    )


def test_the_docs_layout_names_every_module_of_the_package():
    layout = (REPO / "docs" / "concepts" / "layout.md").read_text()
    modules = {p.relative_to(REPO / "tfvae") for p in (REPO / "tfvae").rglob("*.py") if p.name != "__init__.py"}
    named = set(re.findall(r"[\w/]+\.py|\w+\b", layout))
    missing = sorted(str(m) for m in modules if m.name not in named and m.stem not in named)
    assert not missing


def test_the_tests_mirror_the_package():
    roles = {p.name for p in (REPO / "tfvae").iterdir() if (p / "__init__.py").is_file()}
    assert roles - {p.name for p in (REPO / "tests").iterdir() if p.is_dir()} == set()
