"""fit and History.plot in a real Jupyter kernel, as a student runs them: the saved notebook shows
the progress bar's final state (not a stale 0%) and ``history.plot()`` as a cell's last line
shows the figure once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent

CELLS = [
    "import numpy as np\n"
    "from autograd_lite import MLP, fit\n"
    "from autograd_lite.data import make_moons\n"
    "X, y = make_moons(60, seed=0)\n"
    "history = fit(MLP([2, 8, 2], seed=0), X, y, epochs=40, validation=(X, y), desc='moons')",
    "history.plot()",
]


def test_saved_notebook_shows_the_final_bar_and_one_figure(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop("PYTEST_CURRENT_TEST", None)
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=False)
    client.execute(env=env, cwd=str(tmp_path))
    bar = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("name") == "stderr")
    assert "\r" not in bar, "the saved output holds carriage-return updates"
    last = bar.strip().splitlines()[-1]
    assert last.startswith("moons: 100%|") and "40/40" in last and "val_acc=" in last
    images = [o for o in nb.cells[1].outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, f"history.plot() showed {len(images)} figures: {nb.cells[1].outputs}"
    texts = [o for o in nb.cells[1].outputs
             if "text/plain" in o.get("data", {}) and "image/png" not in o.data]
    assert texts == []  # no stray "<Figure size ...>" line either
