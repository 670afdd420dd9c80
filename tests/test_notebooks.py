"""Execute every teaching notebook in a real Jupyter kernel and check what it produced.

Each ``notebooks/NN_name.py`` (jupytext py:percent) is converted to a notebook in a temporary
directory and run top to bottom by nbclient with the installed ``python3`` kernel (ipykernel), the
way a student runs it: inline matplotlib (the Agg-based ``matplotlib_inline`` backend, set through
MPLBACKEND so a headless machine never needs a display) and tqdm bars drawn as text on stderr (no
widget frontend needed). A notebook passes when no cell raises, no cell prints a warning, and it
produced at least the plots (``image/png``) and graph drawings (``image/svg+xml``) listed in
EXPECTED. Each notebook has a wall-time budget; the budgets add up to 3 minutes, so the notebooks
together stay under 3 minutes.

Set ``AUTOGRAD_LITE_NOTEBOOK_OUT=<dir>`` to keep the executed ``.ipynb`` files (with their outputs).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"

# minimum number of each output kind per notebook, and the wall-time budget in seconds
EXPECTED: dict[str, dict[str, Any]] = {
    "01_quick_start": {"image/png": 2, "image/svg+xml": 3, "budget": 25},
    "02_derivatives_of_basic_functions": {"image/png": 5, "image/svg+xml": 0, "budget": 30},
    "03_backprop_one_hidden_layer_mlp": {"image/png": 2, "image/svg+xml": 1, "budget": 45},
    "04_matrix_calculus": {"image/png": 2, "image/svg+xml": 1, "budget": 30},
    "05_training_on_real_data": {"image/png": 4, "image/svg+xml": 1, "budget": 50},
}
TOTAL_BUDGET = 180.0

WARNING = re.compile(r"\b\w*(Warning|Error)\b:|Traceback")
TQDM_BAR = re.compile(r"\d+%\|")
WIDGET = "application/vnd.jupyter.widget-view+json"


def _sources() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))


def test_the_five_notebooks_are_there_and_budgeted() -> None:
    names = [p.stem for p in _sources()]
    assert names == sorted(EXPECTED), f"notebooks/ holds {names}, expected {sorted(EXPECTED)}"
    assert sum(e["budget"] for e in EXPECTED.values()) <= TOTAL_BUDGET


def test_sources_are_py_percent_notebooks() -> None:
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        assert "format_name: percent" in text, f"{path.name}: not a jupytext py:percent file"
        nb = jupytext.reads(text, fmt="py:percent")
        kinds = {c.cell_type for c in nb.cells}
        assert kinds == {"markdown", "code"}, f"{path.name}: needs both markdown and code cells"
        # the first cell is the title
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip().startswith("# ")


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # silence the debugger notice of frozen modules
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def _outputs(nb: Any) -> list[dict[str, Any]]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def _count(nb: Any, mime: str) -> int:
    return sum(1 for out in _outputs(nb) if mime in out.get("data", {}))


def _stderr(nb: Any) -> str:
    return "".join(out.get("text", "") for out in _outputs(nb)
                   if out.get("output_type") == "stream" and out.get("name") == "stderr")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_executes_and_draws(name: str, tmp_path: Path) -> None:
    path = NOTEBOOK_DIR / f"{name}.py"
    assert path.exists(), f"missing notebook source {path}"
    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute(env=_kernel_env(), cwd=str(tmp_path))
    seconds = time.perf_counter() - start
    keep = os.environ.get("AUTOGRAD_LITE_NOTEBOOK_OUT")
    if keep:
        import nbformat

        Path(keep).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(Path(keep) / f"{name}.ipynb"))

    errors = [f"{out.get('ename')}: {out.get('evalue')}" for out in _outputs(nb)
              if out.get("output_type") == "error"]
    assert not errors, f"{name}: error outputs {errors}"
    # a bar's own text may mention nothing alarming; any warning or traceback is a defect
    stderr = "\n".join(line for line in _stderr(nb).splitlines() if not TQDM_BAR.search(line))
    assert not WARNING.search(stderr), f"{name}: the notebook printed a warning or error:\n{stderr}"
    for mime in ("image/png", "image/svg+xml"):
        got, want = _count(nb, mime), EXPECTED[name][mime]
        hint = " (is Graphviz's `dot` installed? scripts/test.sh installs it)" if "svg" in mime else ""
        assert got >= want, f"{name}: {got} {mime} outputs, expected at least {want}{hint}"
    if name.startswith("05"):  # a text bar on stderr, or a widget (with its text fallback)
        widgets = [out for out in _outputs(nb) if WIDGET in out.get("data", {})]
        assert TQDM_BAR.search(_stderr(nb)) or widgets, f"{name}: no progress bar was drawn"
    budget = EXPECTED[name]["budget"]
    assert seconds < budget, f"{name} took {seconds:.1f} s, over its budget of {budget} s"
    print(f"{name}: {seconds:.1f} s", file=sys.stderr)
