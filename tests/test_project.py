"""Project-level promises: the README's commands, CI, and the public API's docstrings."""

from __future__ import annotations

import re
from pathlib import Path

import autograd_lite

ROOT = Path(__file__).parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    first = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first.strip().splitlines()]
    assert len(commands) == 2, "the README must open with exactly two commands (main job, tests)"
    test_command = commands[1]
    assert test_command in ci, f".ci/run must run the README's test command {test_command!r}"
    assert "pytest" in (ROOT / "scripts" / "test.sh").read_text()
    assert "ruff" in (ROOT / "scripts" / "test.sh").read_text()
    assert "mypy" in (ROOT / "scripts" / "test.sh").read_text()


def test_every_public_name_has_a_docstring_with_an_example() -> None:
    missing = []
    for name in autograd_lite.__all__:
        obj = getattr(autograd_lite, name)
        doc = getattr(obj, "__doc__", None) or ""
        if not re.search(r">>>|Example", doc):
            missing.append(name)
    assert not missing, f"public names without a docstring example: {missing}"


LAYERS = ["core", "transforms", "models", "tools"]  # bottom to top


def test_architecture_md_names_files_and_functions_that_exist() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    tree = text.split("```", 2)[1]
    folder = ""
    for line in tree.splitlines():
        m = re.match(r"\s{2}(\w+)/", line)
        if m:
            folder = m.group(1)
            assert (ROOT / "autograd_lite" / folder).is_dir(), folder
        for name in re.findall(r"(?<![/\w])(\w+\.py)\b", line):
            assert (ROOT / "autograd_lite" / folder / name).is_file(), f"{folder}/{name}"
    from autograd_lite.core import engine, rules
    for name in ("_build", "toposort", "sweep", "local_grads", "push_tangents", "unbroadcast", "observe",
                 "zero_grad", "is_finite"):
        assert hasattr(engine, name), name
    for name in ("RULES", "defrule", "add_methods"):
        assert hasattr(rules, name), name
    entry = rules.RULES["sigmoid"]
    for field in ("nodes", "method", "kink", "expr", "ufunc", "work", "need"):
        assert f"`{field}`" in text and hasattr(entry, field), field


def test_imports_only_point_down_the_layers() -> None:
    for i, layer in enumerate(LAYERS):
        above = LAYERS[i + 1:]
        for path in (ROOT / "autograd_lite" / layer).rglob("*.py"):
            src = path.read_text()
            for other in above:
                assert not re.search(rf"from \.\.+{other}\b|import autograd_lite\.{other}\b", src), \
                    f"{path.relative_to(ROOT)} imports the higher layer {other}"
            if layer == "core":
                assert not re.search(r"^\s*import graphviz|^\s*from graphviz", src, re.M), path
