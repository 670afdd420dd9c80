"""The scalar `Value` engine: semantics, micrograd compatibility, stability, conventions."""

from __future__ import annotations

import math
import threading
import warnings

import pytest
from autograd_lite.engine import push_tangents

from autograd_lite import Value, no_grad


def micrograd_readme_expression(V: type) -> tuple:
    """The expression from micrograd's README, written only with micrograd's API."""
    a = V(-4.0)
    b = V(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return a, b, g


def test_micrograd_code_runs_unchanged_and_matches() -> None:
    a, b, g = micrograd_readme_expression(Value)
    # the figures micrograd's README prints
    assert f"{g.data:.4f}" == "24.7041"
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"
    micrograd = pytest.importorskip("micrograd.engine")
    ma, mb, mg = micrograd_readme_expression(micrograd.Value)
    assert g.data == pytest.approx(mg.data, rel=1e-12)
    assert a.grad == pytest.approx(ma.grad, rel=1e-12)
    assert b.grad == pytest.approx(mb.grad, rel=1e-12)


def test_micrograd_neuron_style_code() -> None:
    x = [Value(1.0), Value(-2.0)]
    w = [Value(0.5), Value(0.25)]
    act = sum((wi * xi for wi, xi in zip(w, x)), Value(0.1))
    out = act.tanh()
    out.backward()
    t = math.tanh(0.5 - 0.5 + 0.1)
    assert out.data == pytest.approx(t)
    assert w[1].grad == pytest.approx((1 - t * t) * -2.0)
    assert x[0].grad == pytest.approx((1 - t * t) * 0.5)
    assert isinstance(out.exp(), Value) and isinstance(2.0 - out, Value) and isinstance(1 / out, Value)


def test_attributes_and_repr() -> None:
    x = Value(2, label="x")
    assert x.data == 2.0 and isinstance(x.data, float)
    assert x.grad == 0.0 and x.op == "" and x.label == "x" and x.is_leaf
    y = x * 3
    assert y.op == "mul" and not y.is_leaf
    assert "x" in repr(x) and "2" in repr(x)
    with pytest.raises(TypeError, match="real number"):
        Value("two")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exponent"):
        x ** "a"  # type: ignore[operator]


def test_comparisons_return_plain_bools() -> None:
    a, b = Value(1.0), Value(2.0)
    for r in (a < b, a <= 1.0, b > a, b >= 3):
        assert type(r) is bool
    assert (a < b) and not (b < a)
    assert a == a and a != Value(1.0)  # == is identity, so nodes hash
    assert len({a, b, a}) == 2


# --------------------------------------------------------------------------- DAG accumulation

def test_sum_of_paths() -> None:
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    x = Value(3.0)
    (x + x).backward()
    assert x.grad == 2.0
    # diamond: y = a*b where a = x+1, b = x*2  -> dy/dx = b + 2a
    x = Value(1.5)
    a = x + 1
    b = x * 2
    y = a * b
    y.backward()
    assert x.grad == pytest.approx(b.data + 2 * a.data)
    assert a.grad == b.data and b.grad == a.data


def test_node_reused_1000_times() -> None:
    x = Value(0.5)
    h = x.tanh()
    total = sum((h * float(i) for i in range(1000)), Value(0.0))
    total.backward()
    assert h.grad == pytest.approx(sum(range(1000)))
    assert x.grad == pytest.approx(sum(range(1000)) * (1 - math.tanh(0.5) ** 2))


# ------------------------------------------------------------------------- backward semantics

def test_intermediate_grads_are_set() -> None:
    x = Value(2.0, label="x")
    h = x * x
    y = h.exp()
    y.backward()
    assert h.grad == pytest.approx(math.exp(4.0))
    assert y.grad == 1.0
    x2 = Value(2.0)
    h2 = x2 * x2
    y2 = h2.exp()
    y2.backward(intermediate_grads=False)
    assert x2.grad == pytest.approx(x.grad) and h2.grad == 0.0


def test_leaves_accumulate_across_graphs_intermediates_do_not() -> None:
    w = Value(3.0)
    for _ in range(3):  # three mini-batches
        (w * 2.0).backward()
    assert w.grad == 6.0
    w.zero_grad()
    assert w.grad == 0.0


def test_second_backward_on_same_graph_raises_not_doubles() -> None:
    x = Value(2.0)
    y = x * x + 1
    y.backward()
    assert x.grad == 4.0
    with pytest.raises(RuntimeError, match=r"already backpropagated.*retain_graph=True"):
        y.backward()
    assert x.grad == 4.0  # unchanged: nothing silently doubled


def test_retain_graph_allows_explicit_accumulation() -> None:
    x = Value(2.0)
    h = x * x
    y = h + 1
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == 8.0  # leaves accumulate, as explicitly asked
    assert h.grad == 1.0  # intermediates are overwritten, never doubled


def test_backward_without_grad_raises() -> None:
    with no_grad():
        y = Value(2.0) * 3
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_no_grad_context_decorator_and_detach() -> None:
    x = Value(1.0)
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y.op == ""

    @no_grad()
    def f(v: Value) -> Value:
        return v * 2

    assert not f(x).requires_grad
    assert (x * 2).requires_grad
    d = x.detach()
    z = d * x
    z.backward()
    assert x.grad == 1.0 and d.grad == 0.0


def test_no_grad_is_per_thread() -> None:
    seen: dict[str, bool] = {}
    inside = threading.Event()
    release = threading.Event()

    def worker() -> None:
        inside.wait()
        seen["other"] = (Value(1.0) * 2).requires_grad
        release.set()

    t = threading.Thread(target=worker)
    t.start()
    with no_grad():
        inside.set()
        release.wait(5)
        seen["here"] = (Value(1.0) * 2).requires_grad
    t.join()
    assert seen == {"other": True, "here": False}


# -------------------------------------------------------------------- scale and memory

def test_chain_of_a_million_nodes_default_recursion_limit() -> None:
    import sys

    limit = sys.getrecursionlimit()
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0
    assert sys.getrecursionlimit() == limit


def test_dropped_graph_is_freed_by_reference_counting() -> None:
    import gc
    import tracemalloc

    gc.collect()
    gc.disable()  # prove no cycle collector is needed
    try:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        x = Value(1.0)
        y = x
        for _ in range(100_000):
            y = (y * 1.0001).tanh()
        y.backward()
        held = tracemalloc.get_traced_memory()[0] - base
        del y
        left = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    finally:
        gc.enable()
    assert held > 10_000_000  # the graph really was big
    assert left < held * 0.01, f"{left} bytes still held after dropping the graph"


# ---------------------------------------------------------------- stability and conventions

@pytest.mark.parametrize("x", [1000.0, -1000.0])
def test_stable_ops_at_pm_1000(x: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("tanh", "sigmoid", "softplus", "log_sigmoid"):
            v = Value(x)
            out = getattr(v, name)()
            out.backward()
            assert math.isfinite(out.data) and math.isfinite(v.grad), name
    assert Value(-1000.0).log_sigmoid().data == pytest.approx(-1000.0)
    assert Value(1000.0).softplus().data == pytest.approx(1000.0)


def test_log_sigmoid_is_minus_softplus_of_minus_x() -> None:
    for x in (-30.0, -1.0, 0.0, 2.5, 40.0):
        assert Value(x).log_sigmoid().data == pytest.approx(-Value(-x).softplus().data, rel=1e-14)
        assert Value(x).sigmoid().data == pytest.approx(0.5 * (math.tanh(x / 2) + 1), rel=1e-12)


def test_exp_overflow_policy() -> None:
    with pytest.warns(RuntimeWarning, match=r"exp.*overflow.*softplus"):
        y = Value(1000.0).exp()
    assert y.data == math.inf


def test_domain_policy_warns() -> None:
    with pytest.warns(RuntimeWarning, match=r"log.*-inf"):
        assert Value(0.0).log().data == -math.inf
    with pytest.warns(RuntimeWarning, match="negative"):
        assert math.isnan(Value(-1.0).log().data)
    with pytest.warns(RuntimeWarning, match="non-integer exponent"):
        assert math.isnan((Value(-2.0) ** 0.5).data)
    with pytest.warns(RuntimeWarning, match="non-integer exponent"):
        assert math.isnan((Value(-2.0) ** Value(0.5)).data)
    z = Value(0.0)
    y = z**0
    y.backward()
    assert y.data == 1.0 and z.grad == 0.0  # 0 ** 0 = 1, derivative 0
    assert (Value(-2.0) ** 3).data == -8.0  # integer exponent on a negative base is fine


def test_kink_conventions() -> None:
    for name, expected in (("relu", 0.0), ("abs", 0.0), ("sign", 0.0)):
        x = Value(0.0)
        getattr(x, name)().backward()
        assert x.grad == expected, name
    x = Value(0.0)
    x.leaky_relu(0.2).backward()
    assert x.grad == 0.2
    x = Value(-3.0)
    x.leaky_relu().backward()
    assert x.grad == 0.01  # default alpha


def test_value_exponent_gradient() -> None:
    x, y = Value(2.0), Value(3.0)
    z = x**y
    z.backward()
    assert z.data == 8.0
    assert x.grad == pytest.approx(3 * 4.0)
    assert y.grad == pytest.approx(8.0 * math.log(2.0))
    b = Value(1.5)
    (2.0**b).backward()
    assert b.grad == pytest.approx(2.0**1.5 * math.log(2.0))


def test_forward_mode_matches_reverse_mode() -> None:
    x, w = Value(0.3), Value(-1.2)
    y = ((w * x).sigmoid() + x.sin() * w.cos() + (x * x + 1).log()) / (1 + w.exp())
    y.backward(retain_graph=True)
    assert push_tangents(y, {x: 1.0}) == pytest.approx(x.grad, rel=1e-12)
    assert push_tangents(y, {w: 1.0}) == pytest.approx(w.grad, rel=1e-12)


def test_second_derivative_through_create_graph() -> None:
    x = Value(0.7)
    y = x.tanh()
    y.backward(create_graph=True)
    dydx = x.grad
    assert isinstance(dydx, Value)
    x.grad = 0.0
    dydx.backward()
    t = math.tanh(0.7)
    assert x.grad == pytest.approx(-2 * t * (1 - t * t), rel=1e-12)
