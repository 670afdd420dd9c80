"""Crashes, hangs and small API edges (issue 12).

* ``copy.deepcopy`` / ``pickle`` of a deep graph: refused with "call .detach()" at once (no
  RecursionError); leaves and modules pickle and copy.
* ``check_grad`` on a large input warns up front with the estimated cost, and ``fast_mode`` (random
  directions) gives the same verdict as the full check.
* Empty tensors: ``mean`` is nan, ``logsumexp`` over an empty axis -inf (with our warning),
  ``softmax`` / ``log_softmax`` empty; gradients are empty arrays; no bare numpy error.
* Bare ``@no_grad``; ``check_grad`` of a function that writes into its input says so.
"""

from __future__ import annotations

import copy
import pickle
import time
import warnings
from typing import Any

import numpy as np
import pytest

from autograd_lite import (
    MLP,
    GradCheckWarning,
    Tensor,
    Value,
    ValueMLP,
    check_grad,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
)

# --------------------------------------------------------------------- copies of graphs


def _deep(n: int) -> Value:
    y = Value(1.0, label="x")
    for _ in range(n):
        y = y * 1.0
    return y


@pytest.mark.parametrize("how", ["deepcopy", "copy", "pickle"])
def test_a_deep_graph_is_refused_at_once_with_the_fix(how: str) -> None:
    y = _deep(100_000)
    do = {"deepcopy": copy.deepcopy, "copy": copy.copy, "pickle": pickle.dumps}[how]
    with pytest.raises(TypeError) as err:
        do(y)
    msg = str(err.value)
    assert "cannot pickle or copy the result of 'mul'" in msg and "Call .detach()" in msg
    assert "leaves (inputs, parameters) and modules pickle and copy fine" in msg
    assert isinstance(pickle.loads(pickle.dumps(y.detach())), Value)  # the fix works


def test_leaves_pickle_and_copy_with_their_state() -> None:
    v = Value(1.5, label="v")
    v.grad = 0.25
    t = Tensor([[1.0, 2.0]], requires_grad=True, label="t")
    t.grad = np.array([[3.0, 4.0]])
    for node in (v, t):
        for c in (pickle.loads(pickle.dumps(node)), copy.deepcopy(node), copy.copy(node)):
            assert type(c) is type(node) and c is not node
            assert c.label == node.label and c.requires_grad and c.is_leaf
            np.testing.assert_array_equal(c.data, node.data)
            np.testing.assert_array_equal(c.grad, node.grad)
    d = copy.deepcopy(t)
    d.data[0, 0] = 9.0
    assert t.data[0, 0] == 1.0  # a deep copy owns its data
    (d * d).sum().backward()  # and is a working leaf
    np.testing.assert_array_equal(d.grad, [[3.0 + 18.0, 4.0 + 4.0]])


@pytest.mark.parametrize("make", [lambda: MLP([2, 3, 1]), lambda: ValueMLP([2, 3, 1])])
def test_modules_pickle_and_copy(make: Any) -> None:
    model = make()
    x = np.array([[0.3, -0.7]])
    before = model(Tensor(x)).data if isinstance(model, MLP) else model(list(x[0]))[0].data
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        got = clone(Tensor(x)).data if isinstance(model, MLP) else clone(list(x[0]))[0].data
        np.testing.assert_allclose(got, before)
        assert all(p is not q for p, q in zip(clone.parameters(), model.parameters()))


# --------------------------------------------------------------------- check_grad cost and speed


def test_check_grad_warns_up_front_with_the_estimated_cost() -> None:
    calls = []

    def f(x: Any) -> Any:  # the first (timed) call is slow; the finite differences are not
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.02)
        return (x * x).sum()

    with pytest.warns(GradCheckWarning) as rec:
        check_grad(f, np.ones(300))
    (w,) = [w for w in rec if "finite differences will evaluate" in str(w.message)]
    msg = str(w.message)
    assert "600 times (2 per element of 300 elements)" in msg and "fast_mode=True" in msg
    assert w.filename == __file__


def test_a_quick_check_does_not_warn_about_cost() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_grad(lambda x: (x * x).sum(), np.ones(50), expected=lambda x: 2 * x).ok


A = np.random.default_rng(0).standard_normal((3, 30))
X = np.random.default_rng(1).standard_normal(30)
F = {"scalar": lambda x: 0.5 * ((Tensor(A) @ x).tanh() ** 2).sum(),
     "vector": lambda x: (Tensor(A) @ x).tanh()}


def _right(kind: str) -> Any:
    def hand(x: np.ndarray) -> np.ndarray:
        t = np.tanh(A @ x)
        return A.T @ (t * (1 - t * t)) if kind == "scalar" else (1 - t * t)[:, None] * A
    return hand


@pytest.mark.parametrize("kind", ["scalar", "vector"])
@pytest.mark.parametrize("slip", [None, "one element", "everywhere"])
def test_fast_mode_gives_the_full_checks_verdict(kind: str, slip: str | None) -> None:
    def hand(x: np.ndarray) -> np.ndarray:
        h = _right(kind)(x)
        if slip == "one element":
            h = h.copy()
            h.flat[7] += 1e-3
        elif slip == "everywhere":
            h = 2 * h
        return h

    full = check_grad(F[kind], X, expected=hand)
    fast = check_grad(F[kind], X, expected=hand, fast_mode=True)
    assert fast.ok == full.ok == (slip is None)
    assert fast["x"].status == full["x"].status
    if slip:  # the failing element and the message are the full check's, exact
        assert fast["x"].worst_index == full["x"].worst_index
        assert fast["x"].message == full["x"].message
    else:
        assert "fast mode" in fast["x"].message


def test_fast_mode_falls_back_to_the_full_differences_when_autodiff_disagrees() -> None:
    # sign has derivative 0 by convention but the finite differences see its jump at 0
    with pytest.warns(GradCheckWarning) as rec:
        r = check_grad(lambda x: (x.sign() * 1e-3 + x).sum(), np.array([0.0, 1.0, 2.0, 3.0]),
                       fast_mode=True)
    assert any("running the full check of its 4 elements" in str(w.message) for w in rec)
    assert r["x"].status == "NUMERIC" and r["x"].worst_index == (0,)
    assert np.isfinite(r["x"].numeric).all()  # the full differences, element by element


def test_fast_mode_on_a_graph_and_on_a_large_input_is_quick() -> None:
    W = Tensor(np.ones((3, 4)), requires_grad=True, label="W")
    loss = ((W @ Tensor(np.arange(4.0))).tanh() ** 2).sum()
    loss.backward()
    assert check_grad(loss, expected={"W": W.grad}, fast_mode=True).ok
    assert not check_grad(loss, expected={"W": 1.01 * W.grad}, fast_mode=True).ok
    x = np.random.default_rng(2).standard_normal(200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no cost warning in fast mode
        r = check_grad(lambda x: (x * x).sum(), x, expected=lambda x: 2 * x, fast_mode=True)
    assert r.ok


# --------------------------------------------------------------------- empty tensors


@pytest.mark.parametrize("shape,axis", [((0,), None), ((3, 0), 1), ((0, 4), 0)])
def test_mean_of_nothing_is_nan_with_a_warning(shape: tuple[int, ...], axis: Any) -> None:
    x = Tensor(np.zeros(shape), requires_grad=True)
    with pytest.warns(RuntimeWarning, match=r"^mean: the tensor of shape .* has no elements"):
        m = x.mean(axis=axis)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.mean(np.zeros(shape), axis=axis)
    np.testing.assert_array_equal(m.data, ref)  # nan, as numpy (and torch)
    m.sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize("shape,axis,out_shape", [((0,), -1, ()), ((3, 0), 1, (3,)), ((0, 2), 0, (2,)),
                                                  ((0,), None, ())])
def test_logsumexp_over_an_empty_axis_is_minus_inf(shape: tuple[int, ...], axis: Any,
                                                   out_shape: tuple[int, ...]) -> None:
    x = Tensor(np.zeros(shape), requires_grad=True)
    with pytest.warns(RuntimeWarning, match=r"^logsumexp: .* has no elements.*-inf"):
        y = x.logsumexp(axis=axis)
    assert y.shape == out_shape and np.all(y.data == -np.inf)  # log of an empty sum, as torch
    y.sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_an_empty_axis_is_empty(op: str) -> None:
    x = Tensor(np.zeros((3, 0)), requires_grad=True)
    y = getattr(x, op)(axis=-1)
    assert y.shape == (3, 0)
    y.sum().backward()
    assert x.grad.shape == (3, 0)


def test_empty_reductions_in_anomaly_mode_raise_an_anomaly() -> None:
    from autograd_lite import AnomalyError

    with detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AnomalyError, match="result is nan"):
            Tensor(np.zeros(0), requires_grad=True).mean()


# --------------------------------------------------------------------- small API edges


def test_bare_no_grad_decorator_works_like_called() -> None:
    @no_grad
    def bare(x: Value) -> Value:
        assert not is_grad_enabled()
        return x * 2

    @no_grad()
    def called(x: Value) -> Value:
        return x * 2

    @enable_grad
    def back_on(x: Value) -> Value:
        return x * 2

    x = Value(1.0)
    assert bare.__name__ == "bare"
    assert not bare(x).requires_grad and not called(x).requires_grad
    with no_grad():
        assert back_on(x).requires_grad
    assert is_grad_enabled()


def test_bare_detect_anomaly_decorator() -> None:
    from autograd_lite import AnomalyError

    @detect_anomaly
    def f(x: Value) -> Value:
        return x * float("inf")

    with pytest.raises(AnomalyError):
        f(Value(1.0))


@pytest.mark.parametrize("how", ["element", "augmented", "reassign", "argument"])
def test_check_grad_of_a_function_that_mutates_its_input_says_so(how: str) -> None:
    def f(x: Any, buf: np.ndarray) -> Any:
        y = (x * x).sum()
        if how == "element":
            x.data[0] = 0.0
        elif how == "augmented":
            x.data *= 2.0
        elif how == "reassign":
            x.data = x.data + 1.0
        else:
            buf += 1
        return y

    with pytest.raises(ValueError) as err:
        check_grad(f, np.array([1.0, 2.0]), np.zeros(2, dtype=int))
    msg = str(err.value)
    name = "buf" if how == "argument" else "x"
    assert f"f changed its input '{name}' in place (at (0,):" in msg
    assert "would blame autodiff" in msg and "on a copy" in msg
