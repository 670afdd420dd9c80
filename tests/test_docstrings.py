"""Every public name has a docstring with a runnable example.

"Public" means: every name in ``autograd_lite.__all__``, and every name in the ``__all__`` of
``autograd_lite.functional``, ``nn``, ``losses``, ``optim`` and ``data`` (and of the modules that
define the toolkit: ``functional.ops``, ``functional.transforms``, ``value``, ``tensor``, ``train``,
``cost``). An example is a doctest (``>>>`` lines that doctest can parse, not all skipped); the
examples themselves run in the test command through ``--doctest-modules`` (pyproject's pytest
options), in the module that defines each object.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from types import ModuleType

import pytest

import autograd_lite

MODULES = ["autograd_lite", "autograd_lite.functional", "autograd_lite.nn", "autograd_lite.losses",
           "autograd_lite.optim", "autograd_lite.data",
           # the modules behind those names, held to the same standard
           "autograd_lite.functional.ops", "autograd_lite.functional.transforms", "autograd_lite.value",
           "autograd_lite.tensor", "autograd_lite.train", "autograd_lite.cost", "autograd_lite.micrograd"]
PARSER = doctest.DocTestParser()


def _public(module: ModuleType) -> list[str]:
    names = list(getattr(module, "__all__", []))
    assert names, f"{module.__name__} has an empty __all__: list its public names"
    return names


def _examples(obj: object) -> list[doctest.Example]:
    doc = inspect.getdoc(obj) or ""
    return [e for e in PARSER.get_examples(doc)
            if not e.options.get(doctest.SKIP, False)]


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_have_docstrings_with_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing, unknown = [], []
    for name in _public(module):
        if not hasattr(module, name):
            unknown.append(name)
            continue
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            continue
        if not _examples(obj):
            missing.append(name)
    assert not unknown, f"{module_name}.__all__ names what the module does not have: {unknown}"
    assert not missing, f"{module_name}: public names without a docstring example: {missing}"


@pytest.mark.parametrize("module_name", MODULES)
def test_module_docstrings_have_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert _examples(module), f"{module_name}: the module docstring needs an example"


def test_examples_are_collected_by_the_doctest_run() -> None:
    # every public object is defined in a module of the package, which --doctest-modules runs
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in _public(module):
            obj = getattr(module, name)
            home = getattr(obj, "__module__", None) or ""
            if inspect.isfunction(obj) or inspect.isclass(obj):
                assert home.startswith("autograd_lite"), f"{module_name}.{name} is defined in {home!r}"


def test_the_package_exports_the_derivative_toolkit() -> None:
    for name in ("Value", "Tensor", "grad", "jvp", "vjp", "jacobian", "hessian", "hvp", "check_grad",
                 "draw_graph", "no_grad"):
        assert name in autograd_lite.__all__, f"autograd_lite.__all__ lacks {name}"
