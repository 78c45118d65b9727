"""TrainConfig as data: nested by role, read back, from a file with flags on top, checked against the registry."""

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from tfvae import cli
from tfvae.models.registry import HYPERPARAMETERS, MODELS, default_help
from tfvae.training import TrainConfig
from tfvae.training.config import SECTIONS

REPO = Path(__file__).resolve().parents[2]
RECIPE_STAGES = sorted((REPO / "saved_models").glob("*/recipe/stage-*.json"))


def default_config(name):
    """The config of model `name` with its defaults, on the targets it takes first."""
    spec = MODELS[name]
    if "clean" in spec.targets:
        return TrainConfig(model=name)
    return TrainConfig(model=name, targets="noisy", noise="none")


@pytest.mark.parametrize("name", list(MODELS))
def test_every_models_config_round_trips_through_json(name):
    config = default_config(name)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_the_json_is_nested_by_role():
    assert list(TrainConfig().to_dict()) == list(SECTIONS)


def test_the_model_section_holds_only_the_hyperparameters_set():
    assert TrainConfig(model="hvae", levels=2).to_dict()["model"] == {"name": "hvae", "levels": 2}


def test_a_flat_config_of_an_earlier_run_folder_is_read():
    flat = dataclasses.asdict(TrainConfig(model="dncnn", conv_layers=10))
    assert TrainConfig.from_dict(flat) == TrainConfig(model="dncnn", conv_layers=10)


def test_an_unknown_field_of_a_section_is_refused_naming_it():
    with pytest.raises(ValueError, match="Received unknown: optimizer.momentum"):
        TrainConfig.from_dict({"optimizer": {"momentum": 0.9}})


def test_a_field_in_the_wrong_section_is_refused_naming_it():
    with pytest.raises(ValueError, match="Received unknown: run.learning_rate"):
        TrainConfig.from_dict({"run": {"learning_rate": 0.1}})


def test_an_objective_setting_for_a_model_without_an_objective_is_refused():
    with pytest.raises(ValueError, match="Received: sigma_x=0.1"):
        TrainConfig(model="dncnn", sigma_x=0.1)


def test_a_hyperparameter_of_another_model_is_refused_naming_it():
    with pytest.raises(ValueError, match="Received: levels=2"):
        TrainConfig(model="vae", levels=2)


@pytest.mark.parametrize("stage", RECIPE_STAGES, ids=lambda path: f"{path.parent.parent.name}-{path.stem}")
def test_every_shipped_recipe_stage_is_a_config_that_names_its_data(stage):
    nested = json.loads(stage.read_text())
    assert TrainConfig.from_dict(nested).dataset == nested["data"]["dataset"]


def test_the_shipped_recipes_are_found():
    assert {path.parent.parent.name for path in RECIPE_STAGES} == {
        "mnist_vae",
        "fashion_mnist_vae",
        "cifar10_vae",
        "photos_vae",
    }


def parse_train(argv):
    return cli.train_config(cli.build_parser().parse_args(["train", *argv]))


def test_train_reads_a_config_file_and_the_flags_given_override_it(tmp_path):
    path = tmp_path / "stage.json"
    path.write_text(json.dumps(TrainConfig(model="dncnn", conv_layers=10, epochs=3).to_dict()))
    config = parse_train(["--config", str(path), "--epochs", "5", "--out", "runs/x"])
    assert config == TrainConfig(model="dncnn", conv_layers=10, epochs=5, out="runs/x")


def test_flags_not_given_do_not_override_the_config_file(tmp_path):
    path = tmp_path / "stage.json"
    path.write_text(json.dumps(TrainConfig(model="hvae", seed=3).to_dict()))
    assert parse_train(["--config", str(path)]).seed == 3


def test_without_a_config_file_the_flags_are_the_config():
    assert parse_train(["--model", "dncnn", "--width", "8"]) == TrainConfig(model="dncnn", width=8)


def test_a_config_file_that_is_not_json_is_refused_naming_it(tmp_path):
    path = tmp_path / "stage.json"
    path.write_text("model: vae")
    with pytest.raises(ValueError, match="Expected --config to be a JSON file"):
        parse_train(["--config", str(path)])


@pytest.mark.parametrize("name", HYPERPARAMETERS)
def test_each_hyperparameter_flag_names_the_defaults_the_registry_declares(name):
    help_text = "".join(cli.help_texts()["train"].split())  # argparse wraps lines, at hyphens too
    assert "".join(default_help(name).split()) in help_text


def test_the_registry_defaults_are_the_constructors():
    assert MODELS["hvae"].defaults() == {
        "levels": 3,
        "width": 64,
        "latent_dim": 8,
        "residual_blocks": 1,
        "gated": False,
        "learned_prior": False,
        "skip_connections": False,
        "pixelcnn_layers": 0,
    }


def branches_on_a_model_name(path):
    """The comparisons in `path` of anything with a registered model's name (`model == "pca"`, `in ("vae", ...)`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            constants = [c for c in ast.walk(node) if isinstance(c, ast.Constant) and c.value in MODELS]
            found += [f"{path.name}:{node.lineno}" for _ in constants[:1]]
    return found


def test_no_module_but_the_registry_branches_on_a_models_name():
    modules = [p for p in (REPO / "tfvae").rglob("*.py") if p.name != "registry.py"]
    assert [line for path in modules for line in branches_on_a_model_name(path)] == []
