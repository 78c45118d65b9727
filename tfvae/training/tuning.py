"""keras-tuner over latent size and hidden width of a VAE or autoencoder (and optionally beta,
learning rate, architecture).

    best = tune(TrainConfig(dataset="mnist", epochs=3), directory="tuning/mnist", tuner="random", max_trials=8)

Every trial is built and trained by `tfvae.training.fitting`, the path `tfvae train` takes, so a
trial and `tfvae train` with the same flags end with the same weights.

Objective `val_psnr` (max, denoising) or `val_loss` (min, the negative ELBO for density
modelling): both are what `VAE.test_step` reports, prefixed by Keras with `val_`. Rerunning with
the same `directory` continues the search (keras-tuner reloads its oracle). The best
configuration is retrained into a normal run folder, so `tfvae export` works on it.

Distributed search, the keras-tuner way: run the same command in every process with a shared
`--dir`, `KERASTUNER_ORACLE_IP` / `KERASTUNER_ORACLE_PORT` set, and `KERASTUNER_TUNER_ID=chief` in
one process (it serves the oracle, then reports and retrains) and `tuner0`, `tuner1`, ... in the
workers (they run the trials).
"""

import dataclasses
import json
import os
from pathlib import Path

import keras_tuner as kt

from tfvae.evaluation import figures
from tfvae.models.registry import MODELS
from tfvae.training import fitting, run

OBJECTIVES = {"val_psnr": "max", "val_loss": "min"}
TUNERS = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization, "hyperband": kt.Hyperband}
LATENT_DIMS = (2, 4, 8, 16)
WIDTHS = (16, 32, 64)


class DenoisingHyperModel(kt.HyperModel):
    """A tunable model (`config.model`; the registry says which) per trial: `config` with the searched hyperparameters,
    built and trained by `tfvae.training.fitting` exactly as `tfvae train` would."""

    def __init__(self, config, image_shape, steps_per_epoch, search_extra=False):
        tunable = [name for name, spec in MODELS.items() if spec.tunable]
        if not config.spec.tunable:
            raise ValueError(f"Expected model in {tunable} to tune. Received: model={config.model!r}.")
        super().__init__(name=config.model)
        self.config = config
        self.image_shape = tuple(image_shape)
        self.steps_per_epoch = steps_per_epoch
        self.search_extra = search_extra

    def trial_config(self, hp):
        """The TrainConfig of the trial with hyperparameters `hp`."""
        fields = {"latent_dim": hp.Choice("latent_dim", LATENT_DIMS), "width": hp.Choice("width", WIDTHS)}
        if self.search_extra:
            for name, choices in self.config.spec.search_extra.items():
                fields[name] = hp.Choice(name, choices)
            fields["learning_rate"] = hp.Float("learning_rate", 3e-4, 3e-3, sampling="log")
            if self.config.spec.takes_objective:
                fields["beta"] = hp.Float("beta", 0.1, 2.0, sampling="log")
        return dataclasses.replace(self.config, **fields)

    def build(self, hp):
        return fitting.build_model(self.trial_config(hp), self.image_shape, self.steps_per_epoch)

    def fit(self, hp, model, train_data, validation_data=None, callbacks=(), epochs=None, initial_epoch=0, **kwargs):
        """`tfvae.training.fitting.fit` on the tuner's streams (Hyperband sets `epochs` per bracket)."""
        config = self.trial_config(hp)
        config = dataclasses.replace(config, epochs=epochs or config.epochs)
        prepared = fitting.Prepared(model, train_data, validation_data, self.steps_per_epoch)
        return fitting.fit(prepared, config, [*callbacks, *fitting.training_callbacks(config)], initial_epoch)


def make_tuner(hypermodel, name, objective, directory, max_trials, seed, epochs):
    if name not in TUNERS:
        raise ValueError(f"Expected tuner in {sorted(TUNERS)}. Received: tuner={name!r}.")
    if objective not in OBJECTIVES:
        raise ValueError(f"Expected objective in {sorted(OBJECTIVES)}. Received: objective={objective!r}.")
    common = {
        "objective": kt.Objective(objective, OBJECTIVES[objective]),
        "directory": str(directory),
        "project_name": "search",
        "overwrite": False,
        "seed": seed,
    }
    if name == "hyperband":
        return kt.Hyperband(hypermodel, max_epochs=epochs, **common)
    return TUNERS[name](hypermodel, max_trials=max_trials, **common)


def best_trials(tuner, count=5):
    """[{trial, score, hyperparameters}] of the best finished trials."""
    return [
        {"trial": t.trial_id, "score": t.score, "hyperparameters": t.hyperparameters.values}
        for t in tuner.oracle.get_best_trials(count)
    ]


def tune(config, directory, tuner="random", max_trials=8, objective="val_psnr", search_extra=False):
    """Search, write best_trials.json and search.png into `directory`, retrain the best config to
    `config.out`; returns the best trials."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    train_images, validation_images = run.load_splits(config)
    steps_per_epoch = config.epoch_steps(len(train_images))
    hypermodel = DenoisingHyperModel(config, train_images.shape[1:], steps_per_epoch, search_extra)
    search = make_tuner(hypermodel, tuner, objective, directory, max_trials, config.seed, config.epochs)
    train_data, validation_data = fitting.make_streams(config, train_images, validation_images)
    search.search(train_data, validation_data=validation_data, epochs=config.epochs, verbose=0)
    if os.environ.get("KERASTUNER_TUNER_ID", "chief") != "chief":
        return []  # a distributed worker only runs trials; the chief reports and retrains
    trials = best_trials(search, count=len(search.oracle.trials))
    (directory / "best_trials.json").write_text(json.dumps(trials, indent=2))
    points = [
        (t["hyperparameters"]["latent_dim"], t["hyperparameters"]["width"], t["score"])
        for t in trials
        if t["score"] is not None
    ]
    figures.save(figures.search_plot(points, objective), directory / "search.png")
    best = trials[0]["hyperparameters"]
    fields = {name: best[name] for name in best}  # every searched hyperparameter is a TrainConfig field
    run.train(dataclasses.replace(config, **fields))
    return trials


def trials_table(trials):
    lines = ["| trial | score | hyperparameters |", "|---|---|---|"]
    lines += [f"| {t['trial']} | {t['score']:.3f} | {t['hyperparameters']} |" for t in trials if t["score"] is not None]
    return "\n".join(lines)
