"""The `tfvae` command line: thin glue over the package's modules.

    tfvae data info mnist                                   # counts, shape, range, origin
    tfvae data info path/to/cifar-10-batches-bin            # train, validation and test splits
    tfvae noise preview cifar10 --out noise.png             # one row per noise family
    tfvae noise preview mnist --noise gaussian:0.3 --noise salt_pepper:0.1 --out grid.png
    tfvae train --model vae --arch conv-spatial --dataset mnist --noise gaussian:0-0.5 \
        --epochs 100 --time-budget 600 --seed 0 --out runs/mnist_vae
    tfvae train --model dncnn --conv-layers 17 --dataset mnist --out runs/mnist_dncnn     # the supervised baseline
    TF_CONFIG='{"cluster": {"worker": ["h1:2222", "h2:2222"]}, "task": {"type": "worker", "index": 0}}' \
        tfvae train --strategy multiworker --out /shared/runs/big        # once per worker, own index
    tfvae export runs/mnist_vae --name mnist_vae --version 1 --to saved_models
    tfvae export runs/cifar10_vae --name cifar10_vae --version 7 --ensemble-transforms dihedral   # 8 copies
    tfvae evaluate runs/mnist_vae --dataset mnist --split validation --out runs/mnist_vae/eval
    tfvae evaluate saved_models/mnist_vae/8 --dataset mnist --split test --posterior-samples 16 --out eval_test
    tfvae denoise saved_models/cifar10_vae/6 photos/ scan.png --out denoised/ [--self-ensemble]   # any size
    tfvae sample saved_models/mnist_vae/8 -n 64 --out samples.png
    tfvae tune --dataset mnist --tuner random --max-trials 8 --epochs 3 --dir tuning/mnist --out runs/mnist_best

Datasets are found in --data-dir, $TFVAE_DATA_DIR/<name>, /usr/share/datasets/fashion-mnist,
then TFDS. Errors print one line and exit 1; --debug shows the traceback.
"""

import argparse
import dataclasses
import json
import os
import sys
import time
import typing
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging as absl_logging

from tfvae.data import noise, noisy_copy, sources
from tfvae.evaluation import evaluate, figures
from tfvae.models import precision, with_config, with_network_dtype
from tfvae.models.objective import INFERENCE_SETTINGS
from tfvae.serving import ensemble, files, saved_model
from tfvae.serving.endpoints import load_endpoints
from tfvae.training import TrainConfig, run

DEFAULT_PREVIEW_SPECS = [name for name in noise.FAMILIES if name != "none"]


def _output_file(path, force):
    """Refuse to overwrite an existing file unless --force; create the parent folder."""
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; pass --force to overwrite it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _load(args, split):
    return sources.load(
        args.source, split, data_dir=args.data_dir, validation_size=args.validation_size, download=not args.no_download
    )


def data_info(args):
    for split in ("train", "validation", "test"):
        try:
            loaded = _load(args, split)
        except sources.DataNotFoundError as error:
            if split != "test":
                raise
            print(f"{split:>10}: not available ({error})")
            continue
        images = loaded.images
        print(
            f"{split:>10}: {len(images)} images {images.shape[1:]} {images.dtype} "
            f"range [{images.min():.3f}, {images.max():.3f}] mean {images.mean():.4f} std {images.std():.4f} "
            f"classes {len(np.unique(loaded.labels))} from {loaded.origin}"
        )


def data_noisy_copy(args):
    out = noisy_copy.write_noisy_copy(
        args.source, args.noise, args.out, seed=args.seed, data_dir=args.data_dir, force=args.force
    )
    print(f"wrote {out} (train with --dataset {out} --targets noisy --noise none --noise-model gaussian:auto)")


def noise_preview(args):
    families = [noise.parse_noise(spec) for spec in args.noise or DEFAULT_PREVIEW_SPECS]  # bad specs fail first
    out = _output_file(args.out, args.force)
    clean = _load(args, "validation").images
    clean = clean[np.random.default_rng(args.seed).choice(len(clean), args.count, replace=False)]
    rows = {"clean": clean}
    for family in families:
        rows[family.spec] = noise.add_noise(clean, family, seed=args.seed)
    figures.save(figures.image_grid(rows, title=f"{args.source}: clean vs noisy (seed {args.seed})"), out)
    print(f"wrote {out}")


def train_config(args):
    """The TrainConfig of `--config FILE.json` (a run's config.json, or any part of one) with the
    flags given on top; without --config, the flags on top of the defaults."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    given = {name: value for name, value in vars(args).items() if name in fields}  # only flags given: SUPPRESS
    if args.config is None:
        return TrainConfig(**given)
    try:
        nested = json.loads(Path(args.config).read_text())
    except OSError as error:
        raise FileNotFoundError(f"Cannot read --config {args.config}: {error.strerror}.") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"Expected --config to be a JSON file. Received: {args.config} ({error}).") from None
    if not isinstance(nested, dict):
        raise ValueError(f"Expected --config to hold a JSON object. Received: {type(nested).__name__}.")
    return TrainConfig.from_dict(nested, **given)


def train(args):
    config = train_config(args)
    run_dir = run.train(config)
    print(f"wrote {run_dir}")


def export_run(args):
    model = saved_model.load_trained_model(args.model_path)
    if args.dtype_policy:
        model = with_network_dtype(model, args.dtype_policy)
    inference = {name: getattr(args, name) for name in INFERENCE_SETTINGS if getattr(args, name) is not None}
    model = with_config(model, **inference)
    target = saved_model.export_model(
        model, args.to, args.name, args.version, force=args.force, ensemble_transforms=args.ensemble_transforms
    )
    print(f"wrote {target}")


def evaluate_model(args):
    evaluate.evaluate(
        args.model_path,
        args.dataset,
        args.split,
        args.out,
        specs=args.noise or evaluate.NOISE_GRID,
        seed=args.seed,
        limit=args.limit,
        posterior_samples=args.posterior_samples,
        iw_samples=args.iw_samples,
        data_dir=args.data_dir,
        force=args.force,
        binarize=args.binarize,
        self_ensemble=args.self_ensemble,
        calibrate=args.calibrate,
    )
    print((Path(args.out) / "evaluation.md").read_text())


def denoise(args):
    endpoints = load_endpoints(args.model_path)
    written = files.denoise_files(
        args.inputs,
        args.out,
        endpoints,
        force=args.force,
        self_ensemble=args.self_ensemble,
        posterior_samples=args.posterior_samples,
        write_samples=args.write_samples,
    )
    print(f"wrote {len(written)} images to {args.out}")


def sample(args):
    out = _output_file(args.out, args.force)
    if args.count < 1:
        raise ValueError(f"Expected --count >= 1. Received: --count {args.count}.")
    endpoints = load_endpoints(args.model_path)
    if not endpoints.can_sample:
        raise ValueError(
            f"Expected a model that samples (a VAE). Received: {args.model_path}, a {endpoints.model_class}."
        )
    z = np.random.default_rng(args.seed).standard_normal((args.count, *endpoints.latent_shape)).astype(np.float32)
    start = time.perf_counter()
    images = endpoints.decode(z)  # an autoregressive decoder draws its pixels one after another here
    seconds = time.perf_counter() - start
    rows = {f"{i + 1}-{min(i + 8, args.count)}": images[i : i + 8] for i in range(0, args.count, 8)}
    figures.save(figures.image_grid(rows, title=f"decoded z ~ N(0, I), seed {args.seed}"), out)
    print(f"wrote {out} ({args.count} samples decoded in {seconds:.2f} s)")


def tune(args):
    from tfvae.training import tuning  # keras-tuner is imported only when searching

    config = train_config(args)
    trials = tuning.tune(
        config,
        args.dir,
        tuner=args.tuner,
        max_trials=args.max_trials,
        objective=args.objective,
        search_extra=args.search_extra,
    )
    print(tuning.trials_table(trials))
    print(
        f"best configuration retrained into {config.out}; "
        f"trials in {args.dir}/best_trials.json, plot {args.dir}/search.png"
    )


class DeprecatedFlag(argparse.Action):
    """An old flag name kept for one release: sets the new flag's value and says it was renamed."""

    def __init__(self, option_strings, dest, renamed_to, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.renamed_to = renamed_to

    def __call__(self, parser, namespace, values, option_string=None):
        print(
            f"tfvae: warning: {option_string} is deprecated and goes in the next release; use {self.renamed_to}.",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def add_renamed_flag(parser, flag, old_flag, help):
    """An integer `flag` (default 0) that `old_flag`, its deprecated name, also sets."""
    parser.add_argument(flag, type=int, default=0, help=help)
    dest = flag.removeprefix("--").replace("-", "_")
    parser.add_argument(old_flag, type=int, dest=dest, action=DeprecatedFlag, renamed_to=flag, help=argparse.SUPPRESS)


def add_dataclass_flags(parser, config_class):
    """One --flag per dataclass field, with the field's type, default and help (defined once), and
    --config. A flag not given stays out of the parsed arguments, so that it does not override --config."""
    parser.add_argument(
        "--config", help="a JSON config (a run folder's config.json, or part of one); the flags given override it"
    )
    for field in dataclasses.fields(config_class):
        kind = typing.get_type_hints(config_class)[field.name]
        kind = next((k for k in typing.get_args(kind) if k is not type(None)), kind)  # Optional[X] -> X
        flag = "--" + field.name.replace("_", "-")
        # None means "the model's default", which the help text itself names
        help_text = field.metadata["help"] + ("" if field.default is None else f" (default: {field.default})")
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=help_text)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfvae", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    source = argparse.ArgumentParser(add_help=False)
    source.add_argument("source", help="mnist | fashion_mnist | cifar10 | a local path | several joined with '+'")
    source.add_argument("--data-dir", help="folder searched first for <name>/ (also TFDS's data_dir)")
    source.add_argument("--no-download", action="store_true", help="never let TFDS download")
    source.add_argument(
        "--validation-size",
        type=int,
        default=sources.DEFAULT_VALIDATION_SIZE,
        help="train images held out for validation",
    )

    data_commands = commands.add_parser("data", help="inspect datasets").add_subparsers(dest="action", required=True)
    data_commands.add_parser("info", parents=[source], help="counts, shape, value range, origin").set_defaults(
        run=data_info
    )
    copy_command = data_commands.add_parser(
        "noisy-copy",
        help="a fixed noisy copy of the train files, to learn without clean images",
        description=noisy_copy.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=noise.SPEC_HELP,
    )
    copy_command.add_argument("source", help="mnist | fashion_mnist | cifar10 | a local path: its train files")
    copy_command.add_argument("--data-dir", help="folder searched first for <name>/")
    copy_command.add_argument("--noise", required=True, help="noise spec, e.g. gaussian:0.05-0.5 (sigma per image)")
    copy_command.add_argument("--out", required=True, help="a new folder")
    copy_command.add_argument("--seed", type=int, default=0, help="fixes the noise")
    copy_command.add_argument("--force", action="store_true", help="replace an earlier noisy copy in --out")
    copy_command.set_defaults(run=data_noisy_copy)

    noise_commands = commands.add_parser("noise", help="noise families").add_subparsers(dest="action", required=True)
    preview = noise_commands.add_parser(
        "preview", parents=[source], help="grid of clean vs noisy images", epilog=noise.SPEC_HELP
    )
    preview.add_argument("--noise", action="append", help="a noise spec, repeatable (default: every family)")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.add_argument("--count", type=int, default=8, help="images per row")
    preview.add_argument("--seed", type=int, default=0)
    preview.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    preview.set_defaults(run=noise_preview)

    train_command = commands.add_parser("train", help="train a model into a run folder", epilog=noise.SPEC_HELP)
    add_dataclass_flags(train_command, TrainConfig)
    train_command.set_defaults(run=train)

    export_command = commands.add_parser("export", help="write a run's model as a SavedModel for TF Serving")
    export_command.add_argument(
        "model_path",
        metavar="MODEL",
        help="a finished run folder, a .keras file or a tfvae SavedModel (exported again)",
    )
    export_command.add_argument("--name", required=True, help="model name (the TF Serving model folder)")
    export_command.add_argument("--version", type=int, default=1, help="integer version folder")
    export_command.add_argument("--to", default="saved_models", help="base folder")
    export_command.add_argument("--force", action="store_true", help="replace an existing version")
    ensemble_help = (
        "the denoise_ensemble signature (the self-ensemble) averages the denoised flipped (flip) or flipped and "
        "rotated (dihedral) copies; none: no such signature (default: the largest that fits the model)"
    )
    export_command.add_argument("--ensemble-transforms", choices=sorted(ensemble.TRANSFORMS), help=ensemble_help)
    export_command.add_argument(
        "--self-ensemble",
        choices=sorted(ensemble.TRANSFORMS),
        dest="ensemble_transforms",
        action=DeprecatedFlag,
        renamed_to="--ensemble-transforms",
        help=argparse.SUPPRESS,
    )
    export_command.add_argument(
        "--dtype-policy",
        choices=[p for p in precision.DTYPE_POLICIES if p != "auto"],
        help="compute the layers in this policy (default: as trained; float32 serves anywhere)",
    )
    export_command.add_argument(
        "--mmse-samples",
        type=int,
        help="VAE: serving_default returns the mean of this many decoded posterior draws, the MMSE estimate "
        "(0: the posterior mean decoded once; default: as trained, 0)",
    )
    export_command.add_argument(
        "--posterior-temperature",
        type=float,
        help="VAE: scale the spread of the posterior draws of z by this (sample_posterior and the MMSE "
        "estimate), e.g. the temperature `tfvae evaluate --calibrate` found (default: as set, 1)",
    )
    export_command.set_defaults(run=export_run)

    evaluate_command = commands.add_parser(
        "evaluate", help="score a run or SavedModel next to the baselines", epilog=noise.SPEC_HELP
    )
    evaluate_command.add_argument("model_path", metavar="RUN_OR_SAVEDMODEL")
    evaluate_command.add_argument("--dataset", required=True, help="the dataset the model was trained for")
    evaluate_command.add_argument("--split", default="validation", choices=["validation", "test"])
    evaluate_command.add_argument("--data-dir")
    evaluate_command.add_argument(
        "--noise", action="append", help="a noise spec, repeatable (default: the grid of the README)"
    )
    evaluate_command.add_argument("--limit", type=int, help="score only the first N images")
    add_renamed_flag(
        evaluate_command, "--posterior-samples", "--samples", help="posterior draws for the uncertainty figure"
    )
    add_renamed_flag(
        evaluate_command, "--iw-samples", "--density-samples", help="k of the importance-weighted NLL (VAE; e.g. 1000)"
    )
    evaluate_command.add_argument(
        "--binarize", action="store_true", help="score seeded Bernoulli samples of the images (binarized MNIST)"
    )
    evaluate_command.add_argument(
        "--self-ensemble", action="store_true", help="score the self-ensemble (denoise_ensemble) instead of one pass"
    )
    evaluate_command.add_argument(
        "--calibrate",
        action="store_true",
        help="with --posterior-samples and a VAE: find the posterior temperature at which the "
        "draws' central 90 %% interval covers 90 %% of the clean pixels",
    )
    evaluate_command.add_argument("--seed", type=int, default=0)
    evaluate_command.add_argument("--out", default="evaluation", help="report folder")
    evaluate_command.add_argument("--force", action="store_true", help="overwrite an earlier report in --out")
    evaluate_command.set_defaults(run=evaluate_model)

    denoise_command = commands.add_parser(
        "denoise",
        help="denoise your own image files",
        description=files.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    denoise_command.add_argument("model_path", metavar="MODEL", help="a run folder, .keras file or SavedModel folder")
    denoise_command.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    denoise_command.add_argument("--out", required=True, help="folder for the denoised images (same names)")
    denoise_command.add_argument("--force", action="store_true", help="overwrite existing outputs (never inputs)")
    denoise_command.add_argument(
        "--self-ensemble", action="store_true", help="average the denoised flipped / rotated copies (2 or 8 passes)"
    )
    add_renamed_flag(
        denoise_command,
        "--posterior-samples",
        "--samples",
        help="VAE: K posterior draws; the output is their mean (MMSE), plus <name>.std.<ext>, their per-pixel std",
    )
    denoise_command.add_argument(
        "--write-samples", action="store_true", help="with --posterior-samples: also write each draw"
    )
    denoise_command.set_defaults(run=denoise)

    sample_command = commands.add_parser("sample", help="decode random latents of a VAE into a grid")
    sample_command.add_argument(
        "model_path", metavar="MODEL", help="a VAE run folder, .keras file or SavedModel folder"
    )
    sample_command.add_argument("-n", "--count", type=int, default=64)
    sample_command.add_argument("--out", required=True, help="PNG file to write")
    sample_command.add_argument("--seed", type=int, default=0)
    sample_command.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    sample_command.set_defaults(run=sample)

    tune_command = commands.add_parser(
        "tune", help="keras-tuner search over latent size and width", epilog=noise.SPEC_HELP
    )
    add_dataclass_flags(tune_command, TrainConfig)
    tune_command.add_argument("--dir", required=True, help="search folder (rerun to resume)")
    tune_command.add_argument("--tuner", default="random", help="random | bayesian | hyperband")
    tune_command.add_argument("--max-trials", type=int, default=8)
    tune_command.add_argument("--objective", default="val_psnr", help="val_psnr (max) | val_loss (min, negative ELBO)")
    tune_command.add_argument(
        "--search-extra", action="store_true", help="also search beta, learning rate, architecture (hvae: levels)"
    )
    tune_command.set_defaults(run=tune)
    return parser


HELP_COLUMNS = 100  # the width of the help texts in tfvae_help.py, whatever the terminal
HELP_MODULE = Path(__file__).resolve().parent.parent / "tfvae_help.py"


def help_texts():
    """{command path ("" for `tfvae`, "data info", ...): its --help text}, for every command."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_COLUMNS)  # argparse's formatter takes its width from here
    try:
        texts, pending = {}, [("", build_parser())]
        while pending:
            path, parser = pending.pop()
            texts[path] = parser.format_help()
            for action in parser._actions:  # argparse keeps a parser's subcommands only here
                if isinstance(action, argparse._SubParsersAction):
                    pending += [(f"{path} {name}".strip(), sub) for name, sub in action.choices.items()]
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return dict(sorted(texts.items()))


def write_help_module(path=HELP_MODULE):
    """Write the help texts as the TensorFlow-free module the `tfvae` launcher answers --help from."""
    lines = [
        '"""The --help text of every `tfvae` command. Generated by `make cli-help` from tfvae/cli.py; do not edit."""',
        "",
        f"RENDERED_BY = {tuple(sys.version_info[:2])!r}  # argparse's layout differs between Python versions",
        "HELP = {",
        *(f"    {path!r}: {text!r}," for path, text in help_texts().items()),
        "}",
        "",
    ]
    Path(path).write_text("\n".join(lines))


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not args.debug and "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        # TensorFlow's and TFDS's Python-side log notices (retracing, dataset folders); warnings stay
        tf.get_logger().setLevel("ERROR")
        absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        args.run(args)
    except Exception as error:  # one line for users; --debug for developers
        if args.debug:
            raise
        print(f"tfvae: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
