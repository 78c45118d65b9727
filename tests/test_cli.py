import re
import subprocess
import sys

import pytest
from fakes import write_mnist_folder

from tfvae import cli


def test_data_info_reports_counts_and_origin(tmp_path, capsys, no_data_env):
    write_mnist_folder(tmp_path / "mnist", train=40, test=10)
    args = ["data", "info", "mnist", "--data-dir", str(tmp_path), "--no-download", "--validation-size", "5"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "train: 35 images (28, 28, 1) float32" in out and "validation: 5 images" in out
    assert "test: 10 images" in out and "train-images-idx3-ubyte.gz" in out


def test_noise_preview_writes_a_png_and_never_overwrites(tmp_path, capsys, no_data_env):
    write_mnist_folder(tmp_path / "mnist")
    out = tmp_path / "grid.png"
    args = [
        "noise",
        "preview",
        "mnist",
        "--data-dir",
        str(tmp_path),
        "--validation-size",
        "8",
        "--count",
        "4",
        "--out",
        str(out),
    ]
    assert cli.main(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = out.stat().st_mtime_ns
    assert cli.main(args) == 1
    assert "already exists" in capsys.readouterr().err and out.stat().st_mtime_ns == before
    assert cli.main(args + ["--force", "--noise", "block:0.5"]) == 0


def test_errors_are_one_line_without_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfvae.cli",
            "noise",
            "preview",
            str(tmp_path),
            "--noise",
            "gaussian:-1",
            "--out",
            str(tmp_path / "x.png"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("tfvae: error")]
    assert len(lines) == 1 and "gaussian:-1" in lines[0] and "Traceback" not in result.stderr


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "data" in out and "noise" in out and "tfvae noise preview" in out


def run_console_command(argv, env):
    """The installed `tfvae` console command (the quiet launcher), next to this Python."""
    import os

    command = os.path.join(os.path.dirname(sys.executable), "tfvae")
    return subprocess.run([command, *argv], capture_output=True, text=True, env=env, timeout=300)


def test_the_console_command_prints_no_tensorflow_start_up_lines(fake_data_root):
    import os

    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = run_console_command(["data", "info", "mnist", "--data-dir", str(fake_data_root), "--no-download"], env)
    assert result.returncode == 0 and not TF_START_UP_LINE.search(result.stderr), result.stderr


# TensorFlow's C++ log lines ("I0000 00:00:... cpu_feature_guard.cc...") and its oneDNN notice; which
# of them a start prints depends on the CPU (the oneDNN notice needs AVX-512)
TF_START_UP_LINE = re.compile(r"^[IWEF]\d{4} |oneDNN|absl::InitializeLog", re.M)


def test_debug_shows_tensorflows_start_up_lines(fake_data_root):
    import os

    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = run_console_command(["--debug", "data", "info", "mnist", "--data-dir", str(fake_data_root)], env)
    assert TF_START_UP_LINE.search(result.stderr), result.stderr


def test_generated_help_texts_match_the_parser():
    import tfvae_help

    if sys.version_info[:2] != tfvae_help.RENDERED_BY:
        pytest.skip(f"tfvae_help.py was rendered by Python {tfvae_help.RENDERED_BY}'s argparse")
    assert cli.help_texts() == tfvae_help.HELP, "tfvae_help.py is stale: run `make cli-help`"


def test_help_is_answered_without_importing_tensorflow():
    code = "import sys, tfvae_command; tfvae_command.main(['train', '--help']); print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "--grey-fraction" in result.stdout and result.stdout.endswith("False\n"), result.stdout + result.stderr


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (["--help"], ""),
        (["--debug", "-h"], ""),
        (["data", "info", "--help"], "data info"),
        (["denoise", "model.keras", "photo.png", "--help"], "denoise"),
        (["train", "--dataset", "cifar10", "-h"], "train"),
    ],
)
def test_a_help_request_finds_its_command(argv, path):
    import tfvae_command
    import tfvae_help

    assert tfvae_command.help_request(argv) == tfvae_help.HELP[path]


@pytest.mark.parametrize("argv", [["train", "--out", "x"], ["bogus", "--help"], ["data", "bogus", "-h"]])
def test_no_help_request_leaves_argv_to_the_parser(argv):
    import tfvae_command

    assert tfvae_command.help_request(argv) is None


@pytest.mark.parametrize(
    ("command", "old", "new"),
    [
        (["evaluate", "run", "--dataset", "mnist"], "--samples", "posterior_samples"),
        (["evaluate", "run", "--dataset", "mnist"], "--density-samples", "iw_samples"),
        (["denoise", "model", "in.png", "--out", "out"], "--samples", "posterior_samples"),
    ],
)
def test_a_renamed_flag_still_sets_its_new_name(command, old, new):
    args = cli.build_parser().parse_args([*command, old, "7"])
    assert getattr(args, new) == 7


def test_a_renamed_flag_warns_naming_its_new_name(capsys):
    cli.build_parser().parse_args(["evaluate", "run", "--dataset", "mnist", "--density-samples", "7"])
    assert "--density-samples is deprecated and goes in the next release; use --iw-samples" in capsys.readouterr().err


def test_the_old_name_of_the_ensemble_transforms_still_sets_them(capsys):
    args = cli.build_parser().parse_args(["export", "run", "--name", "m", "--self-ensemble", "flip"])
    assert (args.ensemble_transforms, "use --ensemble-transforms" in capsys.readouterr().err) == ("flip", True)
