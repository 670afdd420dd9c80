"""In a real Jupyter kernel: a graph shows as SVG, a node as an HTML card, and without `dot` the
display is a notice instead of a traceback."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

HAS_DOT = subprocess.run(["which", "dot"], capture_output=True).returncode == 0
ROOT = Path(__file__).parents[1]

CELLS = [
    # 0: a graph, displayed as the cell's value
    """
from autograd_lite import Value, draw_graph
x = Value(0.5, label="x"); w = Value(-1.0, label="w"); b = Value(2.0, label="b")
y = (w * x + b).tanh(); y.label = "y"
y.backward()
draw_graph(y, edge_grads=True)
""",
    # 1: a node's compact card
    "x",
    # 2: dot hidden from PATH (and the optional WebAssembly renderer off): a notice, no traceback
    """
import os
os.environ["PATH"] = ""
os.environ["AUTOGRAD_LITE_NO_WASM"] = "1"
draw_graph(y)
""",
]


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")
def test_graph_displays_as_svg_in_a_jupyter_kernel(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src.strip()) for src in CELLS]
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()

    graph_out = [o for o in nb.cells[0].outputs if o.output_type == "execute_result"]
    assert len(graph_out) == 1
    svg = graph_out[0]["data"]["image/svg+xml"]
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert {"v0", "o5", "v5"} <= set(titles)

    card = nb.cells[1].outputs[0]["data"]
    assert "text/html" in card and "autograd-lite-node" in card["text/html"]
    assert "grad -0.180707" in card["text/html"]

    notice = nb.cells[2].outputs
    assert [o.output_type for o in notice] == ["execute_result"]  # no error output
    data = notice[0]["data"]
    assert "image/svg+xml" not in data
    assert "apt-get install graphviz" in data["text/html"] and "digraph" in data["text/plain"]
