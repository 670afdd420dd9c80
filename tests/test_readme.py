"""The README's promises are tested: its Python examples run and print what it says they print,
its links point at files that exist, and its graph picture is what its command draws.

Convention for the README's ```python blocks: the blocks run in order in one namespace (in a
temporary working directory); every line the code prints must be announced, in order, by a
``# => <printed text>`` comment on the line that prints it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPECT = re.compile(r"#\s*=>\s?(.*)$")
#: the packages of optional extras a README example may import (a block without them is skipped)
OPTIONAL = {"dask", "distributed", "array_api_compat", "array_api_strict"}


def _blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README) if lang == language]


def _expected_lines(block: str) -> list[str]:
    return [m.group(1).rstrip() for line in block.splitlines() if (m := EXPECT.search(line))]


def test_readme_python_blocks_run_and_print_what_they_claim(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks("python")
    assert len(blocks) >= 3, "the README should show a short example, arrays/transforms and check_grad"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    missing: list[str] = []
    for i, block in enumerate(blocks):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
        except ModuleNotFoundError as err:  # the Dask example needs the backends extra
            if str(err.name).split(".")[0] not in OPTIONAL:
                raise
            missing.append(f"block {i + 1} needs {err.name}")
            continue
        printed = [line.rstrip() for line in out.getvalue().splitlines()]
        assert printed == _expected_lines(block), f"README python block {i + 1} printed {printed}"
    if missing:  # every other block ran and printed what it claims
        pytest.skip(f"README {', '.join(missing)}: pip install 'autograd_lite[backends]'")


def test_the_first_example_is_ten_lines() -> None:
    first = _blocks("python")[0]
    code = [line for line in first.splitlines() if line.strip()]
    assert len(code) <= 10, f"the first example has {len(code)} lines"
    assert "backward()" in first and ".grad" in first


def test_readme_keeps_its_required_sections() -> None:
    for heading in ("## Backward semantics", "## Numerical policy", "## Benchmarks", "## Notebooks",
                    "## Checking a hand-derived gradient",
                    "## Compared with micrograd, HIPS autograd, PyTorch and JAX"):
        assert heading in README, f"README lost its section {heading!r}"
    table = README.split("## Compared with", 1)[1].split("\n## ", 1)[0]
    header = next(line for line in table.splitlines() if line.startswith("| |"))
    for peer in ("micrograd", "HIPS autograd", "PyTorch", "JAX"):
        assert peer in header
    assert "weaker" in table, "the comparison must say where autograd_lite is weaker"


def test_readme_links_point_at_files_that_exist() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert any(link.startswith("notebooks/") for link in local)
    for link in local:
        assert (ROOT / link).exists(), f"README links to {link}, which does not exist"
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        assert f"notebooks/{notebook.name}" in README, f"README does not link {notebook.name}"


def _svg_texts(svg: str) -> list[str]:
    return sorted(re.sub(r"\s+", " ", t).strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot program")
def test_the_graph_picture_is_what_the_readme_command_draws(tmp_path: Path) -> None:
    commands = [line for block in _blocks("bash") for line in block.splitlines()
                if "autograd_lite graph" in line and "docs/graph.svg" in line]
    assert len(commands) == 1, "the README shows the command that drew docs/graph.svg"
    argv = commands[0].split("#")[0].split()
    assert argv[:3] == ["python", "-m", "autograd_lite"]
    # the expression is quoted in the README: rebuild argv from the quoted string
    expression = re.search(r'"([^"]+)"', commands[0])
    assert expression is not None
    rest = commands[0].split(expression.group(0), 1)[1].split()
    out = tmp_path / "graph.svg"
    rest[rest.index("-o") + 1] = str(out)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "autograd_lite", "graph", expression.group(1), *rest],
                   check=True, capture_output=True, env=env, cwd=tmp_path)
    committed = (ROOT / "docs" / "graph.svg").read_text(encoding="utf-8")
    assert _svg_texts(out.read_text(encoding="utf-8")) == _svg_texts(committed)


def test_readme_command_lines_parse() -> None:
    import shlex

    from autograd_lite.__main__ import build_parser

    lines = [line.split("  #")[0].strip() for block in _blocks("bash") for line in block.splitlines()
             if line.startswith("python -m autograd_lite")]
    assert lines, "the README shows the command line"
    parser = build_parser()
    for line in lines:
        args = parser.parse_args(shlex.split(line)[3:])
        assert callable(args.func), line
