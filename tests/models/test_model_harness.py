"""One harness over the model registry (`tfvae.models.registry.MODELS`), the same checks for every model.

Each registered model, built tiny: it builds and `compile()`s with its own defaults; a few `fit` steps lower its
loss on a fixed batch; a `.keras` round trip and a SavedModel loaded in a fresh Python process without tfvae give
its outputs back; a bad hyperparameter raises naming the value received. A newly registered model gets all of it
from one entry in `TINY` (and fails every check until it has one).
"""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from fakes import stroke_images

from tfvae.data import add_noise
from tfvae.models import fit_pca, load_model
from tfvae.models.registry import MODELS
from tfvae.serving.saved_model import export_model

IMAGE_SHAPE = (16, 16, 1)
CLEAN = (stroke_images(16, size=IMAGE_SHAPE[0], seed=0)[..., None] / 255).astype(np.float32)
NOISY = add_noise(CLEAN, "gaussian:0.2", seed=0)  # the fixed batch every check uses
FIT_STEPS = 10  # steps on the whole fixed batch, with the optimizer of compile(): Adam(1e-3)

# Registry name -> the hyperparameters of a tiny instance (the smallest sizes of the docstring examples; dncnn,
# n2v and n2n keep one middle layer, so that batch norm is in what is saved and exported).
TINY = {
    "pca": {"n_components": 2},
    "ae": {"width": 4, "latent_dim": 2},
    "vae": {"width": 4, "latent_dim": 2},
    "hvae": {"levels": 2, "width": 4, "latent_dim": 2, "residual_blocks": 0},
    "dncnn": {"conv_layers": 3, "width": 4},
    "n2v": {"conv_layers": 3, "width": 4},
    "n2n": {"conv_layers": 3, "width": 4},
}


# Real bugs these checks found: (model, hyperparameter, bad value) -> what is wrong. A bool passes their
# `isinstance(value, int)` checks (Architecture and HierarchicalVAE refuse bools), and the config keeps the bool.
def build(name, **changes):
    """The tiny instance of the registered model `name`, with `changes` to its TINY hyperparameters."""
    if name not in TINY:
        pytest.fail(f"Expected TINY to hold the tiny constructor arguments of {name!r}, a registered model.")
    kwargs = {**TINY[name], **changes}
    if MODELS[name].closed_form is not None:  # fitted in closed form (fit_pca), not by fit
        return fit_pca(CLEAN, **kwargs)
    return MODELS[name].model_class(IMAGE_SHAPE, **kwargs)


def training_targets(name):
    """What `tfvae train` would give the model as targets: the clean images when it takes clean targets, else (it
    learns from noisy images alone) the noisy images themselves, what `make_dataset` yields for `--targets noisy
    --noise none`."""
    return CLEAN if "clean" in MODELS[name].targets else NOISY


def random_state(model):
    """The model's random streams (SeedGenerator states): its variables that are not weights."""
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def fixed_batch_loss(model, targets, state):
    """The model's own loss (`evaluate`, its test_step) on the fixed batch, its random streams rewound to `state`,
    so that two calls differ only by the weights (a VAE's loss draws eps)."""
    for variable, value in zip(random_state(model), state, strict=True):
        variable.assign(value)
    return model.evaluate(NOISY, targets, batch_size=len(NOISY), verbose=0, return_dict=True)["loss"]


class Zoo:
    """The tiny models, each built and compiled once (`built`), then trained once (`trained`), on first use."""

    def __init__(self):
        self.models = {}
        self.losses = {}  # name -> (before, after) its FIT_STEPS of fit

    def built(self, name):
        """The tiny `name` compiled with its own defaults: `compile()`."""
        if name not in self.models:
            keras.utils.set_random_seed(0)
            self.models[name] = build(name)
            self.models[name].compile()
        return self.models[name]

    def trained(self, name):
        """The built model after FIT_STEPS of `fit` on the fixed batch (as built when fitted in closed form)."""
        model = self.built(name)
        if MODELS[name].closed_form is not None or name in self.losses:
            return model
        targets = training_targets(name)
        state = [variable.numpy() for variable in random_state(model)]
        before = fixed_batch_loss(model, targets, state)
        repeated = [np.concatenate([images] * FIT_STEPS) for images in (NOISY, targets)]  # one epoch: less overhead
        model.fit(*repeated, batch_size=len(NOISY), shuffle=False, verbose=0)
        self.losses[name] = (before, fixed_batch_loss(model, targets, state))
        return model


@pytest.fixture(scope="module")
def zoo():
    """The module's models: each built, compiled and trained once."""
    return Zoo()


RELOAD = """
import pathlib, sys, traceback
import numpy as np
import tensorflow as tf

root = pathlib.Path(sys.argv[1])
images = tf.constant(np.load(root / "images.npy"))
for name in sys.argv[2:]:
    try:
        serve = tf.saved_model.load(str(root / name / "1")).signatures["serving_default"]
        np.save(root / f"{name}.npy", serve(images=images)["denoised"].numpy())
    except Exception:
        (root / f"{name}.error").write_text(traceback.format_exc())
loaded = sorted(module for module in sys.modules if module.split(".")[0] == "tfvae")
sys.exit(f"Expected no tfvae module in the serving process. Received: {loaded}." if loaded else 0)
"""


@pytest.fixture(scope="module")
def served(zoo, tmp_path_factory):
    """Registry name -> serving_default's `denoised` on the fixed batch, as one fresh Python process that never
    imports tfvae computes it from the model's export (one process for all: TensorFlow's start-up is seconds of
    CPU); or the error that stopped the export or the load."""
    root = tmp_path_factory.mktemp("served")
    np.save(root / "images.npy", NOISY)
    results = {}
    for name in (name for name in MODELS if name in TINY):
        try:
            # serving_default only: the self-ensemble's 8 passes would quadruple the export's tracing
            export_model(zoo.trained(name), root, name, 1, ensemble_transforms="none")
        except Exception as error:  # reported by that model's test only
            results[name] = f"export_model failed: {error!r}"
    exported = [name for name in MODELS if name in TINY and name not in results]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    child = subprocess.run(
        [sys.executable, "-c", RELOAD, str(root), *exported], cwd=root, env=env, capture_output=True, text=True
    )
    if child.returncode:
        pytest.fail(f"The serving process failed ({child.returncode}): {child.stderr[-3000:]}")
    for name in exported:
        error = root / f"{name}.error"
        results[name] = error.read_text() if error.exists() else np.load(root / f"{name}.npy")
    return results


REGISTERED = pytest.mark.parametrize("name", list(MODELS))


@REGISTERED
def test_it_builds_and_compiles_with_its_own_defaults(name, zoo):
    model = zoo.built(name)
    assert model.built and model.compiled


@REGISTERED
def test_a_few_fit_steps_lower_its_loss_on_a_fixed_batch(name, zoo):
    if MODELS[name].closed_form is not None:
        pytest.skip(f"{name} is fitted in closed form (fit_pca), not trained by fit")
    zoo.trained(name)
    before, after = zoo.losses[name]
    assert after < before


@REGISTERED
def test_a_keras_round_trip_gives_the_same_outputs(name, zoo, tmp_path):
    model = zoo.trained(name)
    model.save(tmp_path / f"{name}.keras")
    restored = load_model(tmp_path / f"{name}.keras")
    np.testing.assert_allclose(restored(NOISY), model(NOISY), rtol=1e-6, atol=1e-7)


@REGISTERED
def test_its_saved_model_serves_its_outputs_in_a_process_without_tfvae(name, zoo, served):
    expected = zoo.trained(name)(NOISY)
    if isinstance(served[name], str):
        pytest.fail(served[name])
    np.testing.assert_allclose(served[name], expected, rtol=1e-5, atol=1e-6)


BAD_HYPERPARAMETERS = [
    pytest.param(
        name,
        key,
        bad,
        id=f"{name}-{key}={bad}",
    )
    for name in MODELS
    for key in TINY.get(name, {"width": None})  # a model without an entry fails in build()
    for bad in (-1, True)  # every size here is a count >= 0, and a bool is not a count
]


@pytest.mark.parametrize("name, key, bad", BAD_HYPERPARAMETERS)
def test_a_bad_hyperparameter_raises_naming_the_value(name, key, bad):
    with pytest.raises(ValueError, match=re.escape(f"Received: {key}={bad!r}")):
        build(name, **{key: bad})


@REGISTERED
def test_an_unknown_keyword_raises_naming_it(name):
    with pytest.raises((TypeError, ValueError), match="tiny_setting"):
        build(name, tiny_setting=3)
