"""The default drawing fits a notebook cell: measured on the SVG (sizes, fonts, positions), never
on pixels. The bar (issue 16): drawn in a 1,000 px wide cell (scaled down to it if wider), the
smallest text is at least 9 px high; tooltips carry every number; cluster labels are not crossed
by edges and edge labels do not overlap."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import numpy as np
import pytest
from test_viz import SVG, deep_mlp, needs_dot, neuron, seeds_mlp, seeds_network, tiny_mlp

from autograd_lite import Value, draw_graph

pytestmark = needs_dot

CELL_PX = 1000
PX_PER_PT = 4 / 3
MODELS: dict[str, Callable[[], object]] = {"tiny 3-4-2 MLP": tiny_mlp, "seeds' network + elastic net":
                                           seeds_network, "3-8-8-8-2 MLP": deep_mlp}


def measure(svg: str) -> tuple[float, float]:
    """(width in px, smallest text in px once the picture is scaled to the cell width)."""
    root = ET.fromstring(svg)
    width = float(root.get("width", "0").removesuffix("pt")) * PX_PER_PT
    fonts = [float(t.get("font-size", "14")) * PX_PER_PT for t in root.iter(f"{SVG}text")]
    return width, min(fonts) * min(1.0, CELL_PX / width)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("edge_grads", [False, True])
def test_default_drawings_fit_a_1000_px_cell_with_text_of_9_px(name: str, edge_grads: bool) -> None:
    loss, _ = MODELS[name]()  # type: ignore[misc]
    width, smallest = measure(draw_graph(loss, edge_grads=edge_grads).svg())
    assert smallest >= 9.0, f"{name}: {width:.0f} px wide, smallest text {smallest:.1f} px"
    assert width <= 1.3 * CELL_PX, f"{name}: {width:.0f} px wide"


def test_before_the_defaults_changed_the_same_models_did_not_fit() -> None:
    """The bar is not trivially met: drawn the old way (everything expanded, left to right)
    the seeds' network is several cells wide."""
    loss, _ = seeds_network()
    width, smallest = measure(draw_graph(loss, collapse=False, rankdir="LR", fold_transpose=False).svg())
    assert width > 2 * CELL_PX and smallest < 9.0


def test_short_graphs_run_left_to_right_long_chains_top_to_bottom() -> None:
    *_, y = neuron()
    assert draw_graph(y).rankdir == "LR"
    x = Value(0.3, label="x")
    chain = x
    for _ in range(12):
        chain = chain.tanh()
    assert draw_graph(chain).rankdir == "TB"
    assert draw_graph(chain, rankdir="LR").rankdir == "LR"  # asked for: kept


def tooltips(svg: str) -> dict[str, str]:
    """Node id -> its tooltip (Graphviz writes it as the title of the node's link)."""
    out = {}
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        if g.get("class") == "node":
            link = g.find(f".//{SVG}a")
            if link is not None:
                # Graphviz writes runs of spaces as no-break spaces
                title = link.get("{http://www.w3.org/1999/xlink}title", "")
                out[g.get("id", "")] = title.replace("\xa0", " ")
    return out


def _array_after(text: str, head: str) -> np.ndarray:
    """The array printed after ``head`` in a tooltip (numpy's text, as Python literals)."""
    start = text.index(head) + len(head)
    depth = 0
    for end, ch in enumerate(text[start:], start):  # to the bracket closing the first one
        depth += (ch == "[") - (ch == "]")
        if ch == "]" and depth == 0:
            return np.array(ast.literal_eval(text[start:end + 1].strip()))
    raise AssertionError(f"no array after {head!r}")


def test_tooltips_carry_every_number_and_the_rule() -> None:
    loss, model = tiny_mlp()
    tips = tooltips(draw_graph(loss).svg())
    w_tip = next(t for t in tips.values() if t.startswith("W: parameter"))
    # the weight of fc1: every entry of its data and its gradient
    W = model.fc1.W
    assert np.array_equal(_array_after(w_tip, "data (4, 3):"), W.data)  # every digit
    assert np.array_equal(_array_after(w_tip, "grad (∂output/∂W):"), W.grad)
    matmul = next(t for t in tips.values() if t.startswith("matmul(x, Wᵀ)"))
    assert "rule: x @ y;  ∂/∂x = g yᵀ" in matmul
    *_, y = neuron()  # a scalar keeps its full precision
    y.backward()
    tips = tooltips(draw_graph(y).svg())
    assert repr(y.data) in tips["v5"] and "rule: tanh x" in tips["v5"]


def test_a_collapsed_module_lists_its_rules_and_numbers_on_hover() -> None:
    loss, model = seeds_network()
    tips = tooltips(draw_graph(loss).svg())
    fc1 = next(t for t in tips.values() if t.startswith("fc1: Linear"))
    assert "rule matmul: x @ y" in fc1 and "rule add: x + y" in fc1
    W = model.fc1.W  # the 64 x 64 weights and their gradient, in full
    assert np.array_equal(_array_after(fc1, "W data: "), W.data)
    assert np.array_equal(_array_after(fc1, "W grad: "), W.grad)


# ---- geometry: cluster labels and edge labels -------------------------------------------------

# Helvetica / Arial advance widths in 1/1000 em (what Graphviz lays out with, through the
# metric-compatible Liberation Sans); other characters count as a digit.
_WIDTHS = {**dict.fromkeys("0123456789", 556), **dict.fromkeys(" .,:;|!il'", 270),
           **dict.fromkeys("-()[]", 333), **dict.fromkeys("mwMW", 833),
           **dict.fromkeys("ABCDEFGHKNOPQRSUVXYZ", 667), "x": 500, "∂": 500}


def _box(text: ET.Element) -> tuple[float, float, float, float]:
    """The box of an SVG text, from Helvetica's character widths and the font size."""
    size = float(text.get("font-size", "14"))
    x, y = float(text.get("x", "0")), float(text.get("y", "0"))
    width = sum(_WIDTHS.get(ch, 556) for ch in (text.text or "").strip()) / 1000 * size
    anchor = text.get("text-anchor", "start")
    x0 = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
    return x0, y - 0.75 * size, x0 + width, y + 0.2 * size


def _curve_points(d: str) -> list[tuple[float, float]]:
    """Points along a Graphviz edge path (M then cubic Bézier segments), 20 per segment."""
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    pts = list(zip(nums[0::2], nums[1::2]))
    out = [pts[0]]
    for i in range(1, len(pts) - 2, 3):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        for k in range(1, 21):
            t = k / 20
            a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3
            out.append((a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0],
                        a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]))
    return out


def _overlap(a: tuple[float, ...], b: tuple[float, ...], gap: float = 2.0) -> bool:
    """True when the boxes overlap or come closer than ``gap`` points."""
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def geometry(svg: str) -> tuple[list[tuple[str, tuple[float, ...]]], list[list[tuple[float, float]]],
                                 list[tuple[str, tuple[float, ...]]]]:
    root = ET.fromstring(svg)
    clusters, paths, labels = [], [], []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "cluster" or (g.get("id") or "").startswith("label_cluster"):
            clusters += [(t.text or "", _box(t)) for t in g.iter(f"{SVG}text")]
        elif g.get("class") == "edge":
            paths += [_curve_points(p.get("d", "")) for p in g.iter(f"{SVG}path")]
            labels += [(t.text or "", _box(t)) for t in g.iter(f"{SVG}text")]
    return clusters, paths, labels


CASES: dict[str, Callable[[], object]] = {
    "neuron": lambda: draw_graph(_neuron_done(), edge_grads=True),
    "tiny MLP": lambda: draw_graph(tiny_mlp()[0], edge_grads=True),
    "tiny MLP, transposes drawn": lambda: draw_graph(tiny_mlp()[0], edge_grads=True, fold_transpose=False),
    "seeds' network": lambda: draw_graph(seeds_network()[0], edge_grads=True),
    "seeds' network expanded": lambda: draw_graph(seeds_network()[0], edge_grads=True, collapse=False),
    "hand-written seeds MLP": lambda: draw_graph(_seeds_done(), edge_grads=True),
    "3-8-8-8-2 MLP": lambda: draw_graph(deep_mlp()[0], edge_grads=True),
    "3-8-8-8-2 MLP expanded": lambda: draw_graph(deep_mlp()[0], edge_grads=True, collapse=False),
}


def _neuron_done() -> Value:
    *_, y = neuron()
    y.backward()
    return y


def _seeds_done() -> object:
    loss, _ = seeds_mlp()
    loss.backward()  # type: ignore[attr-defined]
    return loss


@pytest.mark.parametrize("case", list(CASES))
def test_cluster_labels_are_not_crossed_and_edge_labels_do_not_overlap(case: str) -> None:
    svg = CASES[case]().svg()  # type: ignore[attr-defined]
    clusters, paths, labels = geometry(svg)
    for name, box in clusters:
        crossing = [p for path in paths for p in path
                    if box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]]
        assert not crossing, f"{case}: an edge crosses the label of cluster {name!r}"
    for i, (a, box_a) in enumerate(labels):
        for b, box_b in labels[i + 1:]:
            assert not _overlap(box_a, box_b), f"{case}: edge labels {a!r} and {b!r} overlap"
    assert labels or case == "3-8-8-8-2 MLP"  # collapsed into layers: no value-to-value edge
