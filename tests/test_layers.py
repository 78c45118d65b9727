"""The package's layers import downward only.

Each module of tfvae/ may import the tfvae modules of its own layer and of the layers below it, never one
above: LAYERS, lowest first. The sources are read with `ast` (nothing is imported), and every import counts:
at the top, inside a function, under `TYPE_CHECKING`. The top-level `tfvae/__init__.py` gathers the package
and may import every layer; nothing else may import it.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tfvae"
# io: the atomic file replace; serving sits below evaluation, whose `evaluate` scores a SavedModel
# through serving's client (`load_endpoints`); training scores its runs with evaluation.
LAYERS = ("io", "data", "models", "serving", "evaluation", "training", "cli")
TOP = len(LAYERS)  # the package itself, `tfvae/__init__.py`: above every layer


def module_name(path):
    """`tfvae.models.vae` for tfvae/models/vae.py, `tfvae.models` for tfvae/models/__init__.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(path) for path in PACKAGE.rglob("*.py") if path != PACKAGE / "__init__.py")


def layer(name):
    """The rank of the tfvae module `name` in LAYERS (TOP for `tfvae` itself), or None outside tfvae."""
    parts = name.split(".")
    if parts[0] != "tfvae":
        return None
    if len(parts) == 1:
        return TOP
    if parts[1] not in LAYERS:
        raise AssertionError(f"{name} is in no layer: add tfvae.{parts[1]} to LAYERS in tests/test_layers.py")
    return LAYERS.index(parts[1])


def imports(module):
    """(line, the module imported, the statement as written) of every import in `module`'s source."""
    path = PACKAGE.parent / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, f"import {alias.name}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            names = ", ".join(alias.name for alias in node.names)
            statement = f"from {'.' * node.level}{node.module or ''} import {names}"
            if base == "tfvae":  # `from tfvae import data`: the layers named (anything else is the package's)
                found += [
                    (node.lineno, f"tfvae.{alias.name}" if alias.name in LAYERS else "tfvae", statement)
                    for alias in node.names
                ]
            else:
                found.append((node.lineno, base if node.level else node.module, statement))
    return found


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_its_layer_and_below(module):
    own = layer(module)
    upward = [
        f"line {line}: `{statement}` ({LAYERS[rank] if rank < TOP else 'the whole package'} is above {LAYERS[own]})"
        for line, imported, statement in imports(module)
        if (rank := layer(imported)) is not None and rank > own
    ]
    assert not upward, f"{module} imports upward (order: {' < '.join(LAYERS)}):\n" + "\n".join(upward)


def test_every_layer_is_a_part_of_the_package():
    parts = {name.split(".")[1] for name in MODULES}
    assert parts == set(LAYERS)
