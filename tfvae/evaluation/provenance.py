"""Where a result comes from: the command, the date, the machine and the package versions.

Every results page and model card is written through `results_page`, so each number in the
docs sits under the command that measured it and the machine it was measured on.
"""

import contextlib
import datetime
import importlib.metadata
import os
import platform
import shlex
import sys
from pathlib import Path

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # the ones that change TensorFlow's speed
PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "numpy", "tensorflow-datasets", "bm3d", "tfvae")


def cpu() -> dict:
    """The CPU's model name, logical core count and the speed-relevant instruction set flags.

    Returns:
        dict with `model` (str), `cores` (int) and `flags` (list of str, from `CPU_FLAGS`).
    """
    model, flags = platform.processor() or "unknown", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {"model": model, "cores": os.cpu_count(), "flags": [flag for flag in CPU_FLAGS if flag in flags]}


def gpus() -> list:
    """The names of the GPUs TensorFlow can use (empty on a CPU-only machine)."""
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices("GPU")]


def versions() -> dict:
    """{package: version} of Python and the installed packages a result depends on."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


THREAD_VARIABLES = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")  # they change speed


def command_line(argv=None, environ=None) -> str:
    """The command that is running, as a user would type it (`python benchmarks/x.py ...`, `tfvae ...`),
    after the thread-count variables that were set (`OMP_NUM_THREADS=1 ...`)."""
    argv = list(sys.argv if argv is None else argv)
    environ = os.environ if environ is None else environ
    threads = [f"{name}={environ[name]}" for name in THREAD_VARIABLES if name in environ]
    program = Path(argv[0])
    if program.name == "tfvae":
        return " ".join([*threads, shlex.join(["tfvae", *argv[1:]])])
    with contextlib.suppress(ValueError):  # a program outside the working directory keeps its path
        program = program.resolve().relative_to(Path.cwd())
    return " ".join([*threads, shlex.join(["python", str(program), *argv[1:]])])


def provenance(command=None) -> dict:
    """The command, UTC date, CPU, GPUs and versions of a measurement, as JSON-ready data."""
    return {
        "command": command or command_line(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "cpu": cpu(),
        "gpus": gpus(),
        "load_average": round(os.getloadavg()[0], 2),  # other work sharing the cores slows speed figures
        "versions": versions(),
    }


def describe(record: dict) -> str:
    """Markdown lines saying how a result was measured, from a `provenance` record."""
    machine = record["cpu"]
    flags = ", ".join(machine["flags"]) or "none of " + ", ".join(CPU_FLAGS)
    packages = ", ".join(f"{name} {version}" for name, version in record["versions"].items())
    load = record.get("load_average")
    busy = f"; load average {load:g} when it started (other processes sharing the cores)" if load else ""
    return (
        f"- Command: `{record['command']}`\n"
        f"- Date: {record['date']}\n"
        f"- Machine: {machine['model']}, {machine['cores']} logical cores, CPU flags: {flags}; "
        f"GPUs: {', '.join(record['gpus']) or 'none'}{busy}\n"
        f"- Versions: {packages}\n"
    )


def results_page(path, title: str, body: str, record: dict | None = None) -> Path:
    """Write a results page: the title, the tables, then how they were measured.

    Args:
        path: the Markdown file to write (its folder is created).
        title: str, the page's heading.
        body: str, Markdown: the tables and what they say.
        record: a `provenance()` record; default: this process's.

    Returns:
        The path written.

    Example:

    >>> import tempfile
    >>> page = results_page(tempfile.mkdtemp() + "/demo.md", "Demo", "| a |\\n|---|\\n| 1 |\\n")
    >>> page.read_text().splitlines()[0]
    '# Demo'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = record or provenance()
    text = f"# {title}\n\n{body.rstrip()}\n\n## How this was measured\n\n{describe(record)}"
    path.write_text(text)
    return path


class ResultsPage:
    """Lines printed as a benchmark produces them, then written with their provenance as a results page.

    Args:
        path: the Markdown file `write` creates.
        title: str, the page's heading.

    Example:

    >>> import tempfile
    >>> page = ResultsPage(tempfile.mkdtemp() + "/speed.md", "Speed")
    >>> page.add("| model | img/s |")
    | model | img/s |
    >>> page.write().read_text().startswith("# Speed")
    True
    """

    def __init__(self, path, title: str):
        self.path = path
        self.title = title
        self.lines = []

    def add(self, line: str = "") -> None:
        """Print `line` now and keep it for the page."""
        print(line, flush=True)
        self.lines.append(line)

    def write(self) -> Path:
        """Write the page (see `results_page`); returns its path."""
        return results_page(self.path, self.title, "\n".join(self.lines))
