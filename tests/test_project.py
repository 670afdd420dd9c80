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
