"""The public API's docstrings: their examples run, and they document every argument, return value and error.

The public API is what the docs site renders: every name in `tfvae.data.__all__`, `tfvae.models.__all__` and
`tfvae.training.__all__`, the serving and evaluation entry points in ENTRY_POINTS, and the public methods of the
model classes (and of TrainConfig), inherited ones included. Keras hooks the models override (KERAS_HOOKS) are
Keras' to document: they only need a one-line summary.
"""

import ast
import doctest
import importlib
import inspect
import logging
import re
import textwrap
from pathlib import Path

import pytest

import tfvae
from tfvae import data, models, training
from tfvae.evaluation import density, evaluate, metrics
from tfvae.serving import endpoints, files, saved_model

PACKAGES = (data, models, training)
ENTRY_POINTS = (
    endpoints.load_endpoints,
    endpoints.Endpoints,
    saved_model.export_model,
    files.denoise_files,
    evaluate.evaluate,
    metrics.psnr,
    metrics.ssim,
    density.density_scores,
)
CLASSES_WITH_METHODS = (
    models.VAE,
    models.HierarchicalVAE,
    models.Autoencoder,
    models.PCA,
    models.DnCNN,
    models.Noise2Void,
    models.Sampling,
    models.Objective,
    training.TrainConfig,
)
KERAS_HOOKS = {
    "build",
    "call",
    "compile_from_config",
    "compute_output_shape",
    "from_config",
    "get_compile_config",
    "get_config",
    "load_own_variables",
    "metrics",
    "save_own_variables",
    "set_weights",
    "test_step",
    "train_step",
}
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
SECTION = re.compile(r"^(Args|Keyword Args|Returns|Raises|Examples|Yields|Attributes):\s*$")
ITEM = re.compile(r"^ {4}(\*{0,2}[\w.]+)(?: \([^)]*\))?:")


class Public:
    """One public object: its test id, the object, the module that defines it and its dotted name there."""

    def __init__(self, obj, module, qualname):
        self.obj, self.module, self.qualname = obj, module, qualname

    @property
    def id(self):
        return f"{self.module}.{self.qualname}"

    @property
    def is_constant(self):
        return not (callable(self.obj) or isinstance(self.obj, property))

    @property
    def docstring(self):
        return attribute_docstring(self.module, self.qualname) if self.is_constant else self.obj.__doc__ or ""


def attribute_docstring(module_name, name):
    """The string literal right after `name = ...` at the top level of `module_name` (how mkdocstrings documents
    a constant)."""
    tree = ast.parse(Path(importlib.import_module(module_name).__file__).read_text())
    for statement, following in zip(tree.body, tree.body[1:]):
        targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
        named = any(isinstance(t, ast.Name) and t.id == name for t in targets)
        if named and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            return following.value.value
    return ""


def defining_module(package, name):
    """The module a package's `__init__` imports `name` from."""
    tree = ast.parse(Path(package.__file__).read_text())
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and any(alias.name == name for alias in statement.names):
            return statement.module
    raise AssertionError(f"{package.__name__}.__init__ does not import {name}")


def public_objects():
    found = []
    for package in PACKAGES:
        for name in package.__all__:
            obj = getattr(package, name)
            module = getattr(obj, "__module__", None) if inspect.isclass(obj) or callable(obj) else None
            found.append(Public(obj, module or defining_module(package, name), name))
    found += [Public(obj, obj.__module__, obj.__qualname__) for obj in ENTRY_POINTS]
    return found


def public_methods(hooks=False):
    """The public methods (and properties) of CLASSES_WITH_METHODS and of their tfvae bases, each once; with
    `hooks`, the KERAS_HOOKS among them instead."""
    found = {}
    for cls in CLASSES_WITH_METHODS:
        for base in cls.__mro__:
            if not base.__module__.startswith("tfvae."):
                continue
            for name, value in vars(base).items():
                function = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
                if name.startswith("_") or not (inspect.isfunction(function) or isinstance(function, property)):
                    continue
                if (name in KERAS_HOOKS) == hooks:
                    found[(base, name)] = Public(function, base.__module__, f"{base.__qualname__}.{name}")
    return list(found.values())


PUBLIC = public_objects() + public_methods()
HOOKS = public_methods(hooks=True)


def sections(docstring):
    """{section title: the lines indented under it} of a Google-style docstring."""
    found, current = {}, None
    for line in inspect.cleandoc(docstring).splitlines():
        match = SECTION.match(line)
        if match:
            current = found.setdefault(match.group(1), [])
        elif line and not line[0].isspace():
            current = None
        elif current is not None:
            current.append(line)
    return found


def items(docstring, *titles):
    """The names documented in the sections `titles` (stars stripped)."""
    found = sections(docstring)
    return {m.group(1).lstrip("*") for title in titles for line in found.get(title, []) if (m := ITEM.match(line))}


def signature_parameters(item):
    """The parameters to document: a class's constructor's, a function's; not self, *args or **kwargs."""
    function = item.obj.__init__ if inspect.isclass(item.obj) else item.obj
    if isinstance(function, property):
        return []
    skipped = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = list(inspect.signature(function).parameters.values())
    if inspect.isclass(item.obj) or "." in item.qualname:  # the bound instance (or class) goes unnamed
        parameters = parameters[1:]
    return [p.name for p in parameters if p.kind not in skipped]


def own_body(function):
    """The AST nodes of `function`'s own body: not those of the functions, lambdas and classes it defines."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    nodes, pending = [], list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        nodes.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return nodes


def returns_a_value(function):
    return any(
        isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value)
        for node in own_body(function)
    )


def _is_none(node):
    return isinstance(node, ast.Constant) and node.value is None


def raised_names(function):
    """The exception classes `function` raises itself (`raise Name(...)`), by name."""
    names = set()
    for node in own_body(function):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exception = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            names.add(ast.unparse(exception).rsplit(".", 1)[-1])
    return names


def checked_functions(item):
    """The code whose raises the docstring of `item` documents: a class's constructor (and dataclass checks)."""
    if isinstance(item.obj, property):
        return [item.obj.fget]
    if not inspect.isclass(item.obj):
        return [item.obj]
    own = [vars(item.obj).get(name) for name in ("__init__", "__post_init__")]
    # A dataclass's generated __init__ has no source file, and checks nothing.
    return [f for f in own if inspect.isfunction(f) and f.__code__.co_filename != "<string>"]


@pytest.mark.parametrize("item", PUBLIC, ids=lambda item: item.id)
def test_the_examples_run(item):
    # Empty globals: the examples import what they use, as a reader copying them would.
    if item.is_constant:
        tests = [doctest.DocTestParser().get_doctest(item.docstring, {}, item.id, None, 0)]
    else:
        tests = doctest.DocTestFinder(recurse=False).find(item.obj, item.id, module=False, globs={})
    report = []
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for test in tests:
        runner.run(test, out=report.append)
    assert sum(len(test.examples) for test in tests), f"{item.id} has no example"
    assert runner.failures == 0, "".join(report)


@pytest.mark.parametrize("item", PUBLIC, ids=lambda item: item.id)
def test_every_argument_is_documented(item):
    if item.is_constant:
        return
    parameters = signature_parameters(item)
    documented = items(item.docstring, "Args", "Keyword Args")
    if parameters:
        assert "Args" in sections(item.docstring), f"{item.id} has no Args: section"
    missing = [name for name in parameters if name not in documented]
    assert not missing, f"{item.id}: Args: does not name {missing}"


@pytest.mark.parametrize("item", PUBLIC, ids=lambda item: item.id)
def test_what_comes_back_and_what_raises_is_documented(item):
    if item.is_constant:
        return
    found = sections(item.docstring)
    # A class documents its constructor, and a property reads as an attribute: neither has a Returns section.
    if inspect.isfunction(item.obj) and returns_a_value(item.obj):
        assert "Returns" in found, f"{item.id} returns a value but has no Returns: section"
    raised = set().union(*(raised_names(function) for function in checked_functions(item)))
    documented = items(item.docstring, "Raises")
    missing = sorted(raised - documented)
    assert not missing, f"{item.id} raises {missing} without naming them in Raises:"


@pytest.mark.parametrize("item", HOOKS, ids=lambda item: item.id)
def test_keras_hooks_keep_a_one_line_summary(item):
    assert (item.obj.__doc__ or "").strip(), f"{item.id} has no docstring"


def test_mkdocstrings_parses_every_docstring_without_a_warning(caplog):
    """What the docs site renders: griffe (mkdocstrings-python's parser) reads each docstring as mkdocs.yml has it
    (Google style; a type given in the Args text rather than in the signature is no warning)."""
    griffe = pytest.importorskip("griffe")
    package = griffe.load("tfvae", search_paths=[str(Path(tfvae.__file__).parents[1])])
    caplog.set_level(logging.WARNING, logger="griffe")
    unparsed = []
    for item in PUBLIC:
        obj = package[item.id.removeprefix("tfvae.")]
        if obj.docstring is None:
            unparsed.append(item.id)
            continue
        kinds = {section.kind.value for section in obj.docstring.parse("google", warn_missing_types=False)}
        if "examples" not in kinds:
            unparsed.append(f"{item.id} (no examples section)")
    warnings = [record.getMessage() for record in caplog.records if record.name.startswith("griffe")]
    assert not unparsed and not warnings, unparsed + warnings
