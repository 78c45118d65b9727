"""The `tfvae` console command: `tfvae.cli` imported quietly, and --help without TensorFlow.

TensorFlow 2.21 writes its start-up log lines (absl, oneDNN, CPU features) to stderr while it is
imported, whatever TF_CPP_MIN_LOG_LEVEL says. This launcher sits outside the `tfvae` package,
because importing anything in the package imports TensorFlow (`import tfvae` registers the Keras
classes), and silences stderr at the file-descriptor level for that import only: unless the user
set TF_CPP_MIN_LOG_LEVEL or passed --debug. Errors raised by the import itself still show.

`tfvae [<command>] --help` is answered from `tfvae_help.py` (generated from `tfvae.cli`'s parser by
`make cli-help`, kept in step by a test) without importing the package: a help text should not cost
TensorFlow's import.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def stderr_silenced():
    """File descriptor 2 points at /dev/null inside the block (C++ libraries write there directly)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def help_request(argv):
    """The help text `argv` asks for (`tfvae train --help`, ...), or None: no --help, or a command
    path the generated texts do not know (the real parser then reports it)."""
    from tfvae_help import HELP

    if "-h" not in argv and "--help" not in argv:
        return None
    path = ""
    for token in argv:
        extended = f"{path} {token}".strip()
        if extended in HELP:
            path = extended
        elif token != "--debug":
            break
    expects_command = any(name.startswith(f"{path} ".lstrip()) and name != path for name in HELP)
    if expects_command and not token.startswith("-"):
        return None  # an unknown command: argparse says which ones exist
    return HELP[path]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    text = help_request(argv)
    if text is not None:
        print(text, end="")
        return 0
    quiet = "--debug" not in argv and "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    with stderr_silenced() if quiet else contextlib.nullcontext():
        from tfvae import cli
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
