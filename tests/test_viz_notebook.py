"""In a real Jupyter kernel: a graph displays as HTML (an <img> of the SVG) with SVG and PNG
alongside, a node as an HTML card, the backward steps as a player, and without `dot` the display
is a notice instead of a traceback. Then the executed notebook is read the ways notebooks are
read: exported by nbconvert, with scripts stripped (an untrusted view), and, when chromium is
installed, opened in a headless browser."""

from __future__ import annotations

import base64
import html.parser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

HAS_DOT = subprocess.run(["which", "dot"], capture_output=True).returncode == 0
ROOT = Path(__file__).parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

CELLS = [
    # 0: a graph, displayed as the cell's value
    """
from autograd_lite import Value, draw_backward_steps, draw_graph
x = Value(0.5, label="x"); w = Value(-1.0, label="w"); b = Value(2.0, label="b")
y = (w * x + b).tanh(); y.label = "y"
y.backward()
draw_graph(y, edge_grads=True)
""",
    # 1: a node's compact card
    "x",
    # 2: the backward pass, step by step
    "draw_backward_steps(y)",
    # 3: dot hidden from PATH (and the optional WebAssembly renderer off): a notice, no traceback
    """
import os
os.environ["PATH"] = ""
os.environ["AUTOGRAD_LITE_NO_WASM"] = "1"
draw_graph(y)
""",
]


@pytest.fixture(scope="module")
def executed() -> Any:
    if not HAS_DOT:
        pytest.skip("Graphviz `dot` is not installed")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src.strip()) for src in CELLS]
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return nb


def _result(nb: Any, cell: int) -> dict[str, Any]:
    outs = [o for o in nb.cells[cell].outputs if o.output_type == "execute_result"]
    assert len(outs) == 1, nb.cells[cell].outputs
    return dict(outs[0]["data"])


def test_graph_displays_as_html_svg_and_png_in_a_jupyter_kernel(executed: Any) -> None:
    data = _result(executed, 0)
    assert set(data) == {"text/html", "image/svg+xml", "image/png", "text/plain"}
    titles = [t.text for t in ET.fromstring(data["image/svg+xml"]).iter("{http://www.w3.org/2000/svg}title")]
    assert {"v0", "v5"} <= set(titles)
    assert base64.b64decode(data["image/png"])[:4] == b"\x89PNG"
    assert "data:image/svg+xml;base64," in data["text/html"]

    card = _result(executed, 1)
    assert "text/html" in card and "autograd-lite-node" in card["text/html"]
    assert "grad -0.180707" in card["text/html"]

    steps = _result(executed, 2)
    assert steps["text/html"].count('class="agl-frame"') == 3  # tanh, add, mul

    notice = executed.cells[3].outputs
    assert [o.output_type for o in notice] == ["execute_result"]  # no error output
    data = notice[0]["data"]
    assert "image/svg+xml" not in data
    assert "apt-get install graphviz" in data["text/html"] and "digraph" in data["text/plain"]


class _Untrusted(html.parser.HTMLParser):
    """What an untrusted notebook view keeps of an HTML output: no scripts and no inline SVG
    (JupyterLab's sanitizer drops both); the <img> tags and their data URIs stay."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.inline_svg = 0
        self.details = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        self.inline_svg += tag == "svg"
        self.details += tag == "details"


def test_untrusted_views_still_show_the_picture(executed: Any) -> None:
    view = _Untrusted()
    data = _result(executed, 0)
    view.feed(data["text/html"])
    assert view.inline_svg == 0 and len(view.images) == 1  # the picture needs neither
    svg = base64.b64decode(view.images[0].split(",", 1)[1]).decode("utf-8")
    assert svg == data["image/svg+xml"]
    steps = _Untrusted()
    steps.feed(_result(executed, 2)["text/html"])
    assert len(steps.images) == 3  # without the player's script, every step one under the other


def test_nbconvert_html_export_shows_graph_and_steps(executed: Any, tmp_path: Path) -> None:
    exporter = pytest.importorskip("nbconvert").HTMLExporter()
    body, _ = exporter.from_notebook_node(executed)
    assert body.count('class="autograd-lite-graph"') == 1 and body.count('class="agl-frame"') == 3
    page = tmp_path / "exported.html"
    page.write_text(body, encoding="utf-8")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium) for the browser check")
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          "--disable-background-networking", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    # the scripts ran: the graph became inline SVG (its tooltips work) and the player is shown
    graph = dom.split('class="autograd-lite-graph"', 1)[1].split("</div>", 1)[0]
    assert "<svg" in graph and "<img" not in graph.split("<details", 1)[0]
    player = dom.split('class="autograd-lite-steps"', 1)[1]
    assert 'class="agl-controls" style="display: block' in player
    assert player.count('style="margin-bottom: 8px; display: none;"') == 2  # steps 2 and 3 hidden
