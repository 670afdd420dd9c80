"""check_grad: the forms of `expected`, graph mode, the report (text, HTML, raise), warnings, errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from autograd_lite.gradcheck import Comparison

from autograd_lite import GradCheckError, GradCheckWarning, Tensor, Value, check_grad


def mlp() -> tuple[Any, tuple[np.ndarray, ...], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(size=(3, 2)), rng.normal(size=3)
    W2, b2 = rng.normal(size=(2, 3)), rng.normal(size=2)
    x, onehot = np.array([0.7, -1.1]), np.array([0.0, 1.0])

    def loss(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
        ha = W1 @ x + b1
        ha.label = "ha"
        hs = ha.tanh()
        hs.label = "hs"
        oa = W2 @ hs + b2
        oa.label = "oa"
        return -(oa.log_softmax() * onehot).sum()

    ha = W1 @ x + b1
    hs = np.tanh(ha)
    oa = W2 @ hs + b2
    s = np.exp(oa) / np.exp(oa).sum()
    g = {"oa": s - onehot}
    g["W2"], g["b2"] = np.outer(g["oa"], hs), g["oa"]
    g["hs"] = W2.T @ g["oa"]
    g["ha"] = g["hs"] * (1 - hs * hs)
    g["W1"], g["b1"] = np.outer(g["ha"], x), g["ha"]
    return loss, (W1, b1, W2, b2), g


def test_expected_forms_all_agree() -> None:
    loss, p, g = mlp()
    names = ("W1", "b1", "W2", "b2")
    as_tuple = tuple(g[n] for n in names)
    for expected in (as_tuple, list(as_tuple), g, lambda W1, b1, W2, b2: g,
                     lambda *a: as_tuple, lambda hs, oa: {"W2": np.outer(oa - oa + g["oa"], hs)}):
        r = check_grad(loss, *p, expected=expected)
        assert r.ok, repr(r)
    r = check_grad(loss, *p, expected=g)
    assert [e.name for e in r] == ["W1", "b1", "W2", "b2", "oa", "hs", "ha"]
    assert [e.kind for e in r][-3:] == ["intermediate"] * 3
    assert all(e.hand is not None for e in r)


def test_expected_function_by_names_receives_forward_values() -> None:
    loss, p, _ = mlp()
    seen: dict[str, Any] = {}

    def hand(hs: np.ndarray, oa: np.ndarray, W2: np.ndarray) -> dict[str, np.ndarray]:
        seen.update(hs=hs, oa=oa, W2=W2)
        return {"hs": W2.T @ (np.exp(oa) / np.exp(oa).sum() - [0.0, 1.0])}

    assert check_grad(loss, *p, expected=hand).ok
    np.testing.assert_allclose(seen["hs"], np.tanh(p[0] @ [0.7, -1.1] + p[1]))
    np.testing.assert_array_equal(seen["W2"], p[2])


def test_graph_mode_after_backward() -> None:
    loss, p, g = mlp()
    nodes = [Tensor(a, requires_grad=True, label=n) for a, n in zip(p, ("W1", "b1", "W2", "b2"))]
    L = loss(*nodes)
    L.backward()
    before = {n.label: n.grad.copy() for n in nodes}
    r = check_grad(L, expected={"oa": g["oa"], "ha": g["ha"], "W1": g["W1"]})
    assert r.ok and [e.name for e in r] == ["oa", "ha", "W1"]
    assert r["W1"].kind == "parameter" and r["oa"].kind == "intermediate"
    for n in nodes:  # the user's gradients are untouched, and the graph data too
        np.testing.assert_array_equal(n.grad, before[n.label])
    # no expected: every labelled node and every unlabelled leaf that requires grad
    u = Tensor([0.5], requires_grad=True)
    r = check_grad((L * u).sum())
    assert r.ok and {"W1", "b1", "W2", "b2", "ha", "hs", "oa", "leaf0"} <= {e.name for e in r}
    bad = check_grad(L, expected={"ha": g["ha"] * 2})
    assert bad["ha"].status == "WRONG"


def test_value_graphs_and_value_inputs() -> None:
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    d = (c + a ** 2).tanh()
    t = np.tanh(-6.0 + 4.0)
    r = check_grad(d, expected={"c": 1 - t * t, "a": (1 - t * t) * (-3.0 + 4.0), "b": (1 - t * t) * 2.0})
    assert r.ok, repr(r)
    r = check_grad(lambda a, b: (a * b + a ** 2).tanh(), a, b, expected=((1 - t * t) * 1.0, (1 - t * t) * 2))
    assert r.ok and [e.name for e in r] == ["a", "b"]        # names from the Values' labels
    assert a.grad == 0.0                                     # inputs are copied, never touched


def test_report_text_html_and_raise() -> None:
    loss, p, g = mlp()
    wrong = dict(g, W2=g["W2"] + 1.0)
    r = check_grad(loss, *p, expected=wrong)
    assert not r.ok and [e.name for e in r.failed] == ["W2"]
    text = repr(r)
    assert "1 of 7 FAILED" in text and "WRONG" in text and "worst index" in text
    assert "W2: your formula disagrees with autodiff at" in text
    page = r._repr_html_()
    assert page.count("background:#fdd") == 2              # the failing row and its message row
    assert "<table>" in page and "WRONG" in page
    with pytest.raises(GradCheckError, match="W2"):
        r.raise_if_failed()
    ok = check_grad(loss, *p, expected=g)
    assert ok.raise_if_failed() is ok and "all passed" in repr(ok) and "#fdd" not in ok._repr_html_()
    with pytest.raises(KeyError, match="entries"):
        ok["nope"]


def test_worst_index_is_the_most_violating_element() -> None:
    c = Comparison.of(np.array([1.0, 100.5, 0.1]), np.array([1.0, 100.0, 0.0]), rtol=1e-5, atol=1e-7)
    assert c.worst == (2,)          # 0.1 off where the truth is 0 beats 0.5 off on 100
    assert c.max_abs == 0.5 and not c.ok
    nan = Comparison.of(np.array([np.nan, 1.0]), np.array([1.0, 1.0]), 1e-5, 1e-7)
    assert nan.worst == (0,) and not nan.ok


def test_detects_engine_or_numeric_disagreement() -> None:
    """A function whose autodiff is wrong on purpose (a detached path) is flagged NUMERIC."""
    r = check_grad(lambda x: (x * x.detach()).sum(), np.array([1.0, 2.0]))
    assert r["x"].status == "NUMERIC" and not r.ok


def test_warnings_float32_and_kinks() -> None:
    with pytest.warns(GradCheckWarning, match="float32"):
        r = check_grad(lambda x: (x * x).sum(), np.array([1.0, 2.0], dtype=np.float32), expected=[2.0, 4.0])
    assert r.ok and any("float32" in w for w in r.warnings)
    with pytest.warns(GradCheckWarning, match="abs"):
        check_grad(lambda x: abs(x).sum(), np.array([1e-9, 1.0]))
    with pytest.warns(GradCheckWarning, match="maximum"):
        check_grad(lambda x, y: x.maximum(y).sum() if hasattr(x, "maximum") else x.sum(),
                   np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a smooth function far from kinks: no warning at all
        assert check_grad(lambda x: x.relu().sum(), np.array([0.5, -0.5])).ok


def test_jacobian_mode_and_passthrough_inputs() -> None:
    B = np.arange(6.0).reshape(2, 3)
    r = check_grad(lambda x, k: (B @ x) * k, np.ones(3), 3, expected=3 * B)
    assert r.ok and len(r) == 1 and r["x"].kind == "jacobian" and r["x"].shape == (2, 3)
    labels = np.array([0, 1])
    r = check_grad(lambda z, y: -(z.log_softmax() * np.eye(2)[y]).sum(), np.array([0.2, 0.4]), labels[1])
    assert r.ok and [e.name for e in r] == ["z"]


def test_clear_errors() -> None:
    loss, p, _ = mlp()
    with pytest.raises(KeyError, match="known names"):
        check_grad(loss, *p, expected={"zz": 1.0})
    with pytest.raises(ValueError, match="tuple aligned"):
        check_grad(loss, *p, expected=np.ones(2))
    with pytest.raises(TypeError, match="give no inputs"):
        check_grad(Value(1.0) * 2, 1.0)
    with pytest.raises(ValueError, match="no float input"):
        check_grad(lambda k: Value(1.0) * k, 3)
    with pytest.raises(ValueError, match="distinct"):
        x = Value(1.0)
        h1, h2 = x * 2, x * 3
        h1.label = h2.label = "h"
        check_grad(h1 * h2, expected={"h": 1.0})
    with pytest.raises(TypeError, match="function or an output node"):
        check_grad(3.0)
