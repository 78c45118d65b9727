"""Retrain a shipped pretrained denoising VAE from scratch: one command per model.

    python benchmarks/pretrain.py mnist --version 9      # or: make pretrained-mnist VERSION=9
    python benchmarks/pretrain.py cifar10 --version 7
    python benchmarks/pretrain.py photos --version 3     # CIFAR-10's stages, then the two photo stages

Trains the model's recipe, the configs saved_models/<model>_vae/recipe/stage-<k>.json (each one
`tfvae train --config` reads; each stage starts from the one before), stage by stage, into
runs/pretrained/<model>[-<stage>] (rerunning after an interruption resumes where the last epoch
ended; finished stages are reused), exports the last stage to saved_models/<model>_vae/<version>
in float32 (it serves on any CPU) and scores it on the validation slice next to the noisy input,
blur and PCA (evaluation.md in the last stage's run folder).
"""

import argparse
import dataclasses
import json
from pathlib import Path

from tfvae.evaluation import evaluate
from tfvae.evaluation.scoring import HEADLINE_SPECS
from tfvae.models import load_model, with_network_dtype
from tfvae.models.saving import FINAL_MODEL
from tfvae.serving import saved_model
from tfvae.training import TrainConfig, run

SAVED_MODELS = Path(__file__).resolve().parents[1] / "saved_models"
RECIPES = {
    path.parent.parent.name.removesuffix("_vae"): path.parent for path in SAVED_MODELS.glob("*/recipe/stage-1.json")
}
# The denoise_ensemble signature's copies (tfvae.serving.ensemble): quarter turns suit photos, not
# digits or clothes, which have an up.
ENSEMBLE_TRANSFORMS = {"mnist": "flip", "fashion_mnist": "flip", "cifar10": "dihedral", "photos": "dihedral"}

# --fast: tiny data, network and budgets that prove the script runs
FAST = {
    "train_size": 256,
    "validation_size": 64,
    "batch_size": 32,
    "width": 8,
    "epochs": 1,
    "steps_per_epoch": 2,
    "time_budget": None,
}


def recipe(model):
    """The TrainConfigs of `model`'s stages, in order (their run folders and `init_from` are the caller's)."""
    stages = sorted(RECIPES[model].glob("stage-*.json"), key=lambda path: int(path.stem.removeprefix("stage-")))
    return [TrainConfig.from_dict(json.loads(path.read_text())) for path in stages]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=sorted(RECIPES), help="the shipped model's name without _vae")
    parser.add_argument("--version", type=int, required=True, help="SavedModel version to write")
    parser.add_argument("--runs", default="runs/pretrained", help="where the run folders go")
    parser.add_argument("--to", default="saved_models", help="SavedModel root")
    parser.add_argument(
        "--force", action="store_true", help="replace an existing SavedModel version and its evaluation"
    )
    parser.add_argument("--fast", action="store_true", help="tiny data and budgets: checks that the script runs")
    args = parser.parse_args(argv)
    run_dir = None
    for stage, preset in enumerate(recipe(args.model), start=1):
        previous, run_dir = run_dir, Path(args.runs) / (args.model if stage == 1 else f"{args.model}-{stage}")
        config = dataclasses.replace(
            preset,
            out=str(run_dir),
            init_from=previous and str(previous),
            **(FAST if args.fast else {}),
        )
        if not (run_dir / FINAL_MODEL).exists():
            run.train(config)
    name = f"{args.model}_vae"
    model = with_network_dtype(load_model(run_dir), "float32")
    target = saved_model.export_model(
        model, args.to, name, args.version, force=args.force, ensemble_transforms=ENSEMBLE_TRANSFORMS[args.model]
    )
    evaluate.evaluate(
        target,
        config.dataset,
        "validation",
        run_dir / "evaluation",
        specs=HEADLINE_SPECS,
        limit=64 if args.fast else None,
        force=args.force,
    )
    print((run_dir / "evaluation" / "evaluation.md").read_text())


if __name__ == "__main__":
    main()
