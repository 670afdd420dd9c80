"""Code written for micrograd runs unchanged on autograd_lite's `Value`.

The client code here is written the way micrograd's lecture, README and test suite write it
(``v._prev``, ``v._op``, hand-stepped ``_backward()``, ``Value(data, _children, _op)`` with a
``_backward`` closure, attributes stored on Values), then run on our `Value`. Where micrograd
0.1.0 is installed (the ``bench`` extra) the same code also runs on micrograd's `Value` and the
results must agree to 1e-12; where PyTorch is installed, micrograd's own torch comparison runs.
Neither is needed for the suite to pass: every test also checks hand-derived numbers.
"""

# The lecture labels each node on the line that makes it: `e = a * b; e.label = "e"`.
# ruff: noqa: E702

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from test_value import micrograd_readme_expression

import autograd_lite
from autograd_lite import Value
from autograd_lite import micrograd as amg

try:
    from micrograd import nn as mg_nn
    from micrograd.engine import Value as MgValue
except ImportError:  # micrograd is the optional peer (pip install micrograd==0.1.0)
    mg_nn = None
    MgValue = None

needs_micrograd = pytest.mark.skipif(MgValue is None, reason="micrograd 0.1.0 is not installed")
TOL = 1e-12


def close(a: float, b: float, tol: float = TOL) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def engines() -> list[Any]:
    """Our Value, plus micrograd's when it is installed: the client code runs on each."""
    found = [pytest.param(Value, id="autograd_lite")]
    if MgValue is not None:
        found.append(pytest.param(MgValue, id="micrograd"))
    return found


# ----------------------------------------------------------------- the lecture's helpers, verbatim

def trace(root: Any) -> tuple[set[Any], set[tuple[Any, Any]]]:
    # builds a set of all nodes and edges in a graph
    nodes, edges = set(), set()

    def build(v: Any) -> None:
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)
    build(root)
    return nodes, edges


def draw_dot(root: Any) -> Any:
    from graphviz import Digraph

    dot = Digraph(format="svg", graph_attr={"rankdir": "LR"})  # LR = left to right
    nodes, edges = trace(root)
    for n in nodes:
        uid = str(id(n))
        # for any value in the graph, create a rectangular ('record') node for it
        dot.node(name=uid, label="{ %s | data %.4f | grad %.4f }" % (n.label, n.data, n.grad),  # noqa: UP031
                 shape="record")
        if n._op:
            # if this value is a result of some operation, create an op node for it
            dot.node(name=uid + n._op, label=n._op)
            dot.edge(uid + n._op, uid)
    for n1, n2 in edges:
        # connect n1 to the op node of n2
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


def build_topo_order(root: Any) -> list[Any]:
    topo = []
    visited = set()

    def build_topo(v: Any) -> None:
        if v not in visited:
            visited.add(v)
            for child in v._prev:
                build_topo(child)
            topo.append(v)
    build_topo(root)
    return topo


# ------------------------------------------------------------------------ the lecture, cell by cell

def lecture_graph() -> dict[str, Value]:
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    e = a * b; e.label = "e"
    d = e + c; d.label = "d"
    f = Value(-2.0, label="f")
    L = d * f; L.label = "L"
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "L": L}


# dL/dx by hand: L = (a b + c) f
LECTURE_GRADS = {"L": 1.0, "d": -2.0, "f": 4.0, "e": -2.0, "c": -2.0, "a": 6.0, "b": -4.0}


def test_lecture_trace_reads_prev_and_op() -> None:
    g = lecture_graph()
    nodes, edges = trace(g["L"])
    assert {n.label for n in nodes} == set(LECTURE_GRADS)
    assert {(x.label, y.label) for x, y in edges} == {
        ("a", "e"), ("b", "e"), ("e", "d"), ("c", "d"), ("d", "L"), ("f", "L")}
    assert {n.label: n._op for n in nodes} == {
        "a": "", "b": "", "c": "", "f": "", "e": "*", "d": "+", "L": "*"}
    assert isinstance(g["L"]._prev, set) and g["L"]._prev == {g["d"], g["f"]}
    assert g["a"]._prev == set()


def test_lecture_draw_dot_then_hand_step_then_backward() -> None:
    pytest.importorskip("graphviz")
    g = lecture_graph()
    src = draw_dot(g["L"]).source
    assert src.count('[label="*"]') == 2 and src.count('[label="+"]') == 1  # the op nodes
    for name, op in (("e", "*"), ("d", "+"), ("L", "*")):
        assert f'{id(g[name])}{op}" -> {id(g[name])}' in src  # each op node feeds its value
    assert "grad 0.0000" in src and "grad -4.0000" not in src
    # the lecture's hand steps, from the output back
    g["L"].grad = 1.0
    g["L"]._backward()
    g["d"]._backward()
    g["e"]._backward()
    assert {k: v.grad for k, v in g.items()} == LECTURE_GRADS
    assert "{ b | data -3.0000 | grad -4.0000 }" in draw_dot(g["L"]).source
    # then backward() on the graph rebuilt, as the lecture re-runs the cell
    g = lecture_graph()
    g["L"].backward()
    assert {k: v.grad for k, v in g.items()} == LECTURE_GRADS


def lecture_neuron(tanh_by_exp: bool = False) -> dict[str, Value]:
    # inputs x1, x2; weights w1, w2; bias b
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1; x1w1.label = "x1*w1"
    x2w2 = x2 * w2; x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b; n.label = "n"
    if tanh_by_exp:
        e = (2 * n).exp()
        o = (e - 1) / (e + 1)
    else:
        o = n.tanh()
    o.label = "o"
    return {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "x1w1": x1w1, "x2w2": x2w2,
            "x1w1x2w2": x1w1x2w2, "n": n, "o": o}


def neuron_grads(g: dict[str, Value]) -> dict[str, float]:
    """The neuron's gradients by hand: do/dn = 1 - o², then the chain rule through + and *."""
    dn = 1 - g["o"].data ** 2
    return {"n": dn, "b": dn, "x1w1x2w2": dn, "x1w1": dn, "x2w2": dn,
            "x1": g["w1"].data * dn, "w1": g["x1"].data * dn,
            "x2": g["w2"].data * dn, "w2": g["x2"].data * dn}


def test_lecture_neuron_hand_stepped() -> None:
    g = lecture_neuron()
    assert close(g["o"].data, math.sqrt(0.5))
    g["o"].grad = 1.0
    g["o"]._backward()
    g["n"]._backward()
    g["b"]._backward()  # a leaf: nothing to do
    g["x1w1x2w2"]._backward()
    g["x2w2"]._backward()
    g["x1w1"]._backward()
    want = neuron_grads(g)
    for k, v in want.items():
        assert close(g[k].grad, v), k
    assert close(g["x1"].grad, -1.5) and close(g["w1"].grad, 1.0) and g["w2"].grad == 0.0


def test_lecture_topological_loop_and_backward_agree() -> None:
    g = lecture_neuron()
    topo = build_topo_order(g["o"])
    assert topo[-1] is g["o"] and len(topo) == 10
    g["o"].grad = 1.0
    for node in reversed(topo):
        node._backward()
    by_loop = {k: v.grad for k, v in g.items()}
    h = lecture_neuron()
    h["o"].backward()
    assert by_loop == {k: v.grad for k, v in h.items()}
    for k, v in neuron_grads(h).items():
        assert close(h[k].grad, v), k


def test_lecture_tanh_written_with_exp_gives_the_same_gradients() -> None:
    g, h = lecture_neuron(), lecture_neuron(tanh_by_exp=True)
    g["o"].backward()
    h["o"].backward()
    assert close(g["o"].data, h["o"].data)
    for k in ("x1", "x2", "w1", "w2", "b"):
        assert close(g[k].grad, h[k].grad), k


def test_lecture_bug_a_plus_a_accumulates() -> None:
    # the lecture's bug: b = a + a must give da = 2 (micrograd fixed it with +=)
    a = Value(3.0, label="a")
    b = a + a; b.label = "b"
    assert b._prev == {a}
    b.backward()
    assert a.grad == 2.0
    x = Value(3.0)
    y = x + x
    y.grad = 1.0
    y._backward()
    assert x.grad == 2.0


def test_hand_step_then_backward_on_the_same_graph_raises() -> None:
    # micrograd would add the gradients again on top of the hand steps (leaves and intermediates
    # alike); here backward() refuses and says why, and no gradient changes
    g = lecture_graph()
    g["L"].grad = 1.0
    g["L"]._backward()
    before = {k: v.grad for k, v in g.items()}
    with pytest.raises(RuntimeError, match=r"_backward\(\)"):
        g["L"].backward()
    assert {k: v.grad for k, v in g.items()} == before


@pytest.mark.parametrize("V", engines())
def test_hand_stepping_twice_accumulates_as_micrograd_does(V: Any) -> None:
    a, b = V(2.0), V(-3.0)
    y = a * b
    y.grad = 1.0
    y._backward()
    y._backward()  # a second step adds again: micrograd's numbers, by design of _backward
    assert (a.grad, b.grad) == (-6.0, 4.0)
    a._backward()  # a leaf's step does nothing
    assert (a.grad, b.grad) == (-6.0, 4.0)


@needs_micrograd
def test_manual_topological_loop_matches_micrograd_on_an_mlp_loss() -> None:
    """The lecture's full manual backprop loop (`_backward()` in reverse topological order) over a
    whole MLP loss: every parameter's gradient equals micrograd's."""
    grads = []
    for V, nn in ((Value, amg), (MgValue, mg_nn)):
        random.seed(7)
        model = nn.MLP(3, [4, 4, 1])
        xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
        ys = [1.0, -1.0, -1.0, 1.0]
        loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))
        loss.grad = 1.0
        for node in reversed(build_topo_order(loss)):
            node._backward()
        grads.append((loss.data, [p.grad for p in model.parameters()]))
        assert isinstance(loss, V)
    (l1, g1), (l2, g2) = grads
    assert close(l1, l2)
    assert len(g1) == len(g2) == 41
    assert all(close(a, b) for a, b in zip(g1, g2))


# ------------------------------------------------------------------------- micrograd's op strings

def test_op_strings_are_micrograds() -> None:
    a, b = Value(2.0), Value(-3.0)
    assert (a + b)._op == "+"
    assert (a * b)._op == "*"
    assert (a ** 2)._op == "**2"
    assert (a ** -1)._op == "**-1"
    assert (a ** 0.5)._op == "**0.5"
    assert a.relu()._op == "ReLU"
    assert a.tanh()._op == "tanh"
    assert a.exp()._op == "exp"
    assert a._op == ""
    # ops micrograd builds from two nodes are one node here, named by their symbol
    assert (a - b)._op == "-"
    assert (a / b)._op == "/"


@needs_micrograd
def test_graph_structure_matches_micrograd_for_its_primitive_ops() -> None:
    """With micrograd's primitives (+, *, **k, relu) both engines build the same graph: the
    same number of nodes, the same op strings, the same parent sets."""
    def build(V: Any) -> Any:
        x, y = V(1.5), V(-0.5)
        z = (x * y + 2) ** 2 + (x + y).relu() * 3
        return z + z * x

    def shape(root: Any) -> list[tuple[str, tuple[str, ...]]]:
        nodes, _ = trace(root)
        return sorted((n._op, tuple(sorted(p._op for p in n._prev))) for n in nodes)

    ours, theirs = build(Value), build(MgValue)
    assert shape(ours) == shape(theirs)
    assert close(ours.data, theirs.data)


# ---------------------------------------------------------- Value(data, _children, _op) and closures

def sigmoid_op(V: Any, v: Any) -> Any:
    """A new op written the micrograd way: a node built with its children, and a closure."""
    s = 1 / (1 + math.exp(-v.data))
    out = V(s, (v,), "sigmoid")

    def _backward() -> None:
        v.grad += s * (1 - s) * out.grad
    out._backward = _backward
    return out


def mul_op(V: Any, a: Any, b: Any) -> Any:
    out = V(a.data * b.data, (a, b), "mymul")

    def _backward() -> None:
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad
    out._backward = _backward
    return out


def with_sigmoid(base: Any) -> Any:
    """micrograd's extension pattern: a subclass whose method builds `out` and sets its closure."""
    class SigValue(base):
        def sigmoid(self) -> Any:
            return sigmoid_op(SigValue, self)  # out = SigValue(s, (self,), "sigmoid"), a closure

    return SigValue


@pytest.mark.parametrize("V", engines())
def test_subclass_adding_an_op_gets_its_gradient(V: Any) -> None:
    SigValue = with_sigmoid(V)
    x = SigValue(0.0)
    y = x.sigmoid()
    assert y._op == "sigmoid" and y._prev == {x}
    y.backward()
    assert x.grad == 0.25
    x2 = SigValue(1.0)
    z = x2.sigmoid() * 2 + x2  # the custom node inside a bigger graph, x2 used twice
    z.backward()
    s = 1 / (1 + math.exp(-1.0))
    assert close(x2.grad, 2 * s * (1 - s) + 1)


def closure_graph(V: Any) -> tuple[Any, ...]:
    x, w, b = V(0.5), V(-1.5), V(0.25)
    h = x * w + b
    s = sigmoid_op(V, h)
    y = s * s + s * x + mul_op(V, x, x)  # s and x each used several times
    return y, x, w, b, h, s


def test_closure_op_agrees_with_the_built_in_op() -> None:
    y, x, w, b, h, s = closure_graph(Value)
    y.backward()
    x0, w0, b0 = Value(0.5), Value(-1.5), Value(0.25)
    h0 = x0 * w0 + b0
    s0 = h0.sigmoid()
    y0 = s0 * s0 + s0 * x0 + x0 * x0
    y0.backward()
    assert close(y.data, y0.data)
    for got, want in ((x, x0), (w, w0), (b, b0), (h, h0), (s, s0)):
        assert close(got.grad, want.grad)


@needs_micrograd
def test_closure_op_matches_micrograd() -> None:
    ours, theirs = closure_graph(Value), closure_graph(MgValue)
    ours[0].backward()
    theirs[0].backward()
    assert close(ours[0].data, theirs[0].data)
    for a, b in zip(ours[1:4], theirs[1:4]):  # the leaves x, w, b
        assert close(a.grad, b.grad)


def test_closure_contributions_reach_the_parents_once() -> None:
    x = Value(2.0)
    x.grad = 10.0  # leaves accumulate: the closure's share is added once, on top
    y = mul_op(Value, x, x)  # the same parent twice
    assert y._prev == {x}
    y.backward()
    assert x.grad == 10.0 + 4.0
    h = x * 3.0  # an intermediate parent: its grad is dy/dh, written once
    y2 = sigmoid_op(Value, h)
    y2.backward()
    s = y2.data
    assert close(h.grad, s * (1 - s)) and close(y2.grad, 1.0)
    assert close(x.grad, 14.0 + 3 * s * (1 - s))


def test_closure_graph_backpropagated_twice_raises() -> None:
    y, x, *_ = closure_graph(Value)
    y.backward()
    first = x.grad
    with pytest.raises(RuntimeError, match="already backpropagated"):
        y.backward()
    assert x.grad == first


def test_closure_that_raises_leaves_every_gradient_unchanged() -> None:
    x = Value(1.0)
    out = Value(2.0, (x,), "broken")

    def _backward() -> None:
        x.grad += 1.0
        raise ZeroDivisionError("in the user's closure")
    out._backward = _backward
    y = out * 3 + x
    with pytest.raises(ZeroDivisionError):
        y.backward()
    assert x.grad == 0.0
    out._backward = lambda: None  # fixed (a closure that passes nothing on): backward now works
    y.backward()
    assert x.grad == 1.0


def test_node_with_children_but_no_closure_is_an_error_not_a_zero() -> None:
    x = Value(1.0)
    out = Value(math.sin(x.data), (x,), "sin")
    assert out._prev == {x} and out._op == "sin"
    with pytest.raises(RuntimeError, match=r"'sin'.*_backward"):
        (out * 2).backward()
    assert x.grad == 0.0


def test_closure_op_cannot_be_differentiated_twice() -> None:
    x = Value(0.3)
    y = sigmoid_op(Value, x * x)
    with pytest.raises(RuntimeError, match=r"create_graph.*'sigmoid'"):
        y.backward(create_graph=True)


def test_closure_node_under_no_grad_is_a_constant() -> None:
    x = Value(0.3)
    with autograd_lite.no_grad():
        y = sigmoid_op(Value, x)
    assert not y.requires_grad


# ---------------------------------------------------------------- attributes and optimizer state

def test_attributes_can_be_attached_to_values() -> None:
    v = Value(1.0)
    v.color = "red"
    v.m = 0
    assert (v.color, v.m) == ("red", 0)
    w = v * 2
    w.note = "scaled"
    assert w.note == "scaled"


class Momentum:
    """A client optimizer that keeps its state on the parameters themselves (``p.m``)."""

    def __init__(self, params: list[Any], lr: float = 0.05, beta: float = 0.9) -> None:
        self.params, self.lr, self.beta = params, lr, beta
        for p in params:
            p.m = 0

    def step(self) -> None:
        for p in self.params:
            p.m = self.beta * p.m + (1 - self.beta) * p.grad
            p.data -= self.lr * p.m


def train_micrograd_demo(nn: Any, steps: int = 6) -> tuple[list[float], list[float]]:
    """micrograd's demo loop: an MLP, hinge loss + L2, on a few fixed points."""
    random.seed(1337)
    model = nn.MLP(2, [8, 8, 1])
    opt = Momentum(model.parameters())
    xs = [[0.2, 1.0], [-1.0, 0.4], [1.5, -0.3], [0.1, -0.9], [-0.6, -0.6], [1.1, 0.7]]
    ys = [1, -1, 1, -1, -1, 1]
    losses = []
    for _ in range(steps):
        scores = [model(x) for x in xs]
        data_loss = sum((1 + -yi * si).relu() for yi, si in zip(ys, scores)) * (1.0 / len(xs))
        reg = 1e-4 * sum(p * p for p in model.parameters())
        loss = data_loss + reg
        model.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
    return losses, [p.data for p in model.parameters()]


def test_optimizer_with_state_on_values_trains() -> None:
    losses, params = train_micrograd_demo(amg)
    assert losses[-1] < losses[0]
    assert len(params) == (2 + 1) * 8 + (8 + 1) * 8 + 9


@needs_micrograd
def test_optimizer_with_state_on_values_matches_micrograd() -> None:
    (l1, p1), (l2, p2) = train_micrograd_demo(amg), train_micrograd_demo(mg_nn)
    assert all(close(a, b) for a, b in zip(l1, l2))
    assert all(close(a, b) for a, b in zip(p1, p2))


# ---------------------------------------------------------------------------- micrograd's nn shapes

def test_mlp_one_output_is_a_value() -> None:
    model = amg.MLP(2, [4, 1])
    y = model([1.0, -1.0])
    assert isinstance(y, Value)
    loss = (y - 0.5) ** 2  # `m(x) - y` works: no one-element list in the way
    loss.backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    assert len(amg.MLP(2, [4, 3])([1.0, -1.0])) == 3


def test_micrograd_import_paths() -> None:
    from autograd_lite.micrograd.engine import Value as EngineValue
    from autograd_lite.micrograd.nn import MLP

    assert EngineValue is Value and MLP is amg.MLP


def test_mlp_wrong_signature_says_which_to_use() -> None:
    with pytest.raises(TypeError, match=r"MLP\(2, \[16, 16, 1\]\)"):
        amg.MLP([2, 16, 1], 1)
    with pytest.raises(TypeError, match=r"autograd_lite\.micrograd\.MLP\(2, \[4, 1\]\)"):
        autograd_lite.ValueMLP(2, [4, 1])


def test_value_mlp_keeps_its_own_signature_and_list_output() -> None:
    out = autograd_lite.ValueMLP([2, 4, 1], seed=0)([1.0, -1.0])
    assert isinstance(out, list) and len(out) == 1


@needs_micrograd
def test_mlp_weights_outputs_and_repr_match_micrograd() -> None:
    random.seed(42)
    ours = amg.MLP(3, [4, 4, 1])
    random.seed(42)
    theirs = mg_nn.MLP(3, [4, 4, 1])
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    assert repr(ours) == repr(theirs)
    x = [2.0, 3.0, -1.0]
    yo, yt = ours(x), theirs(x)
    yo.backward()
    yt.backward()
    assert close(yo.data, yt.data)
    assert all(close(a.grad, b.grad) for a, b in zip(ours.parameters(), theirs.parameters()))
    ours.zero_grad()
    assert all(p.grad == 0.0 for p in ours.parameters())


# --------------------------------------------------------------- micrograd's own test suite, adapted
# The same expressions as micrograd's test/test_engine.py, run on our Value; compared with PyTorch
# (as micrograd does) when it is installed, with micrograd itself when it is installed, and always
# with the results micrograd's README publishes.

def sanity_check(V: Any) -> tuple[float, float]:
    x = V(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    return y.data, x.grad


def more_ops(V: Any) -> tuple[float, float, float]:
    a, b, g = micrograd_readme_expression(V)  # micrograd's test_more_ops expression
    return g.data, a.grad, b.grad


def test_sanity_check() -> None:
    assert sanity_check(Value) == (-20.0, 46.0)


def test_more_ops() -> None:
    g, da, db = more_ops(Value)
    assert close(g, 24.70408163265306) and close(da, 138.83381924198252) and close(db, 645.5772594752186)


@needs_micrograd
def test_micrograd_suite_matches_micrograd() -> None:
    assert sanity_check(Value) == sanity_check(MgValue)
    assert all(close(a, b) for a, b in zip(more_ops(Value), more_ops(MgValue)))


def test_micrograd_suite_against_torch() -> None:
    torch = pytest.importorskip("torch")
    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert sanity_check(Value) == (y.data.item(), x.grad.item())

    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    gmg, amg_grad, bmg_grad = more_ops(Value)
    tol = 1e-6  # micrograd's own tolerance against torch
    assert abs(gmg - g.data.item()) < tol
    assert abs(amg_grad - a.grad.item()) < tol
    assert abs(bmg_grad - b.grad.item()) < tol


@pytest.mark.parametrize("fn", ["tanh", "exp"])
def test_unary_fns_against_torch(fn: str) -> None:
    torch = pytest.importorskip("torch")
    for x in (-1.0, 0.123, 2.0):
        xv = Value(x)
        yv = getattr(Value, fn)(xv)
        yv.backward()
        xt = torch.Tensor([x]).double()
        xt.requires_grad = True
        yt = getattr(torch.Tensor, fn)(xt)
        yt.backward()
        assert abs(yv.data - yt.data.item()) < 1e-6
        assert abs(xv.grad - xt.grad.item()) < 1e-6


# --------------------------------------------------------------------- the same interface elsewhere

def test_closure_setter_refuses_what_cannot_work() -> None:
    with pytest.raises(TypeError, match="leaf"):
        Value(1.0)._backward = lambda: None
    y = Value(1.0) * 2
    with pytest.raises(TypeError, match="function"):
        y._backward = 3.0
    t = autograd_lite.Tensor([1.0], requires_grad=True) * 2
    with pytest.raises(TypeError, match="defrule"):
        t._backward = lambda: None


def test_replacing_the_backward_of_a_built_in_op() -> None:
    # micrograd lets client code swap a node's step; backward() then uses the new closure
    x = Value(3.0)
    y = x * x
    assert y._op == "*"

    def _backward() -> None:
        x.grad += 100.0 * y.grad
    y._backward = _backward
    (y + 1).backward()
    assert x.grad == 100.0 and y._op == "*"


def test_closure_op_through_the_transforms_and_check_grad() -> None:
    from autograd_lite import check_grad, grad

    s = 1 / (1 + math.exp(-1.0))
    assert close(grad(lambda v: sigmoid_op(Value, v * 2))(0.5), 2 * s * (1 - s))
    x = Value(0.5)
    y = sigmoid_op(Value, x)
    y.backward()
    with pytest.raises(RuntimeError, match="check_grad"):
        check_grad(y)


def test_tensor_nodes_have_prev_op_and_hand_steps() -> None:
    import numpy as np

    W = autograd_lite.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = autograd_lite.Tensor([10.0, 20.0], requires_grad=True)
    h = W @ np.array([1.0, -1.0])
    y = h + b  # b is broadcast: its hand-stepped gradient is reduced to its shape
    assert h._op == "@" and y._op == "+" and y._prev == {h, b}
    y.grad = np.ones(2)
    y._backward()
    h._backward()
    assert b.grad.tolist() == [1.0, 1.0]
    assert W.grad.tolist() == [[1.0, -1.0], [1.0, -1.0]]


def test_closure_op_with_three_children() -> None:
    x, y, z = Value(1.0), Value(2.0), Value(3.0)
    out = Value(x.data * y.data * z.data, (x, y, z), "prod3")

    def _backward() -> None:
        x.grad += y.data * z.data * out.grad
        y.grad += x.data * z.data * out.grad
        z.grad += x.data * y.data * out.grad
    out._backward = _backward
    assert out._prev == {x, y, z}
    (out * x).backward()  # x reaches the output twice
    assert (x.grad, y.grad, z.grad) == (12.0, 3.0, 2.0)


def test_closure_using_a_value_outside_its_children_warns() -> None:
    x, w = Value(1.0), Value(2.0)
    out = Value(x.data * w.data, (x,), "scaled")  # w is read but not listed

    def _backward() -> None:
        x.grad += w.data * out.grad
        w.grad += x.data * out.grad
    with pytest.warns(RuntimeWarning, match=r"scaled: the _backward closure uses Value\(data=2"):
        out._backward = _backward
