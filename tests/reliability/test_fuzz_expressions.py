"""Property-based tests over random expression trees (hypothesis).

* Values: random trees of the elementwise ops over 1-3 scalar inputs; reverse-mode gradients
  against Richardson-extrapolated central differences in float64.
* Tensors: random trees with random shapes and broadcasting (leaves of different ranks and
  size-1 axes) and the Tensor-only reductions (sum, mean, logsumexp, softmax, log_softmax);
  gradients against finite differences, and the same expression built from one `Value` per
  element (numpy object arrays broadcast them) must give the same data and the same gradients.

Domains are kept valid by construction (log, sqrt and fractional powers act on x² + ½; divisors
are y² + ½; exponents are tanh(y)), examples whose values overflow are rejected, and finite
differences are skipped at points within 1e-3 of a kink (relu, |x|, sign, leaky_relu), where
they are meaningless. CI runs 500 examples of each (deterministic); set AUTOGRAD_LITE_FUZZ_EXAMPLES
for more (and then a random seed each run).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograd_lite import Tensor, Value, no_grad

EXAMPLES = int(os.environ.get("AUTOGRAD_LITE_FUZZ_EXAMPLES", "500"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    derandomize="AUTOGRAD_LITE_FUZZ_EXAMPLES" not in os.environ,
                    suppress_health_check=[HealthCheck.too_slow])

UNARY = ["neg", "exp", "log", "sqrt", "tanh", "sigmoid", "log_sigmoid", "softplus", "relu",
         "leaky_relu", "abs", "sign", "sin", "cos", "pow0", "pow2", "pow3", "pow_half", "pow_inv",
         "pow_neg_frac"]
BINARY = ["add", "sub", "mul", "div", "power"]
REDUCE = ["sum", "mean", "logsumexp", "softmax", "log_softmax"]
KINKED = {"relu", "leaky_relu", "abs", "sign"}
LIMIT = 1e4  # reject examples whose intermediate values exceed this (overflowing exp chains)

Tree = tuple[Any, ...]


def trees(n_leaves: int, reductions: bool) -> st.SearchStrategy[Tree]:
    leaf = st.integers(0, n_leaves - 1).map(lambda i: ("leaf", i))

    def extend(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
        options = [st.tuples(st.just("u"), st.sampled_from(UNARY), children),
                   st.tuples(st.just("b"), st.sampled_from(BINARY), children, children)]
        if reductions:
            options.append(st.tuples(st.just("r"), st.sampled_from(REDUCE), children))
        return st.one_of(*options)

    return extend(extend(st.recursive(leaf, extend, max_leaves=6)))  # at least two ops


class Lib:
    """How to apply each op to one kind of operand; records kink distances and magnitudes."""

    def __init__(self) -> None:
        self.kink = np.inf  # smallest |input| seen by a kinked op
        self.biggest = 0.0  # largest |value| of any intermediate

    def method(self, x: Any, name: str, *args: Any) -> Any:
        raise NotImplementedError

    def reduce(self, x: Any, name: str) -> Any:
        raise NotImplementedError

    def data(self, x: Any) -> np.ndarray:
        raise NotImplementedError

    def note(self, x: Any) -> Any:
        d = self.data(x)
        self.biggest = max(self.biggest, float(np.max(np.abs(d))) if np.all(np.isfinite(d)) else np.inf)
        return x

    def unary(self, name: str, x: Any) -> Any:
        if name in KINKED:
            self.kink = min(self.kink, float(np.min(np.abs(self.data(x)))))
        pos = x * x + 0.5  # a positive argument for the ops with a restricted domain
        if name == "neg":
            return -x
        if name in ("log", "sqrt"):
            return self.method(pos, name)
        if name == "leaky_relu":
            return self.method(x, name, 0.1)
        if name.startswith("pow"):
            base, p = {"pow0": (x, 0.0), "pow2": (x, 2.0), "pow3": (x, 3.0), "pow_half": (pos, 0.5),
                       "pow_inv": (pos, -1.0), "pow_neg_frac": (pos, -1.5)}[name]
            return base ** p
        return self.method(x, name)

    def binary(self, name: str, x: Any, y: Any) -> Any:
        if name == "add":
            return x + y
        if name == "sub":
            return x - y
        if name == "mul":
            return x * y
        if name == "div":
            return x / (y * y + 0.5)
        return (x * x + 0.5) ** self.method(y, "tanh")  # power, with a node exponent

    def eval(self, tree: Tree, leaves: list[Any]) -> Any:
        kind = tree[0]
        if kind == "leaf":
            return leaves[tree[1]]
        if kind == "u":
            return self.note(self.unary(tree[1], self.eval(tree[2], leaves)))
        if kind == "b":
            return self.note(self.binary(tree[1], self.eval(tree[2], leaves), self.eval(tree[3], leaves)))
        return self.note(self.reduce(self.eval(tree[2], leaves), tree[1]))


class ValueLib(Lib):
    def method(self, x: Any, name: str, *args: Any) -> Any:
        return getattr(x, name)(*args)

    def data(self, x: Any) -> np.ndarray:
        return np.asarray(x.data if isinstance(x, Value) else x)


class TensorLib(Lib):
    def method(self, x: Any, name: str, *args: Any) -> Any:
        return getattr(x, name)(*args)

    def reduce(self, x: Any, name: str) -> Any:
        if name in ("softmax", "log_softmax"):
            return getattr(x, name)(-1)
        return getattr(x, name)(axis=-1, keepdims=True)

    def data(self, x: Any) -> np.ndarray:
        return np.asarray(x.data if isinstance(x, Tensor) else x)


def _vectorize(f: Callable[[Value], Value]) -> Callable[[np.ndarray], np.ndarray]:
    ufunc = np.frompyfunc(f, 1, 1)
    return lambda a: np.asarray(ufunc(a), dtype=object)


class ObjectLib(Lib):
    """The same ops on numpy object arrays of scalar Values: one Value graph per element."""

    def method(self, x: Any, name: str, *args: Any) -> Any:
        return _vectorize(lambda v: getattr(v, name)(*args))(x)

    def reduce(self, x: Any, name: str) -> Any:
        total = lambda a: np.sum(a, axis=-1, keepdims=True)
        if name == "sum":
            return total(x)
        if name == "mean":
            return total(x) * (1.0 / x.shape[-1])
        e = self.method(x, "exp")
        if name == "softmax":
            return e / total(e)
        lse = self.method(total(e), "log")
        return lse if name == "logsumexp" else x - lse

    def data(self, x: Any) -> np.ndarray:
        return np.vectorize(lambda v: v.data if isinstance(v, Value) else float(v), otypes=[float])(x)


def _quietly(fn: Callable[[], Any]) -> Any:
    """Run fn; reject the example if anything warns (an overflow, a domain edge)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = fn()
    assume(not rec)
    return out


def _size(tree: Tree) -> int:
    """The number of ops in a tree (leaves do not count)."""
    return 0 if tree[0] == "leaf" else 1 + sum(_size(t) for t in tree[2:])


def _richardson(f: Callable[[float], float], x: float, h: float = 1e-4) -> float:
    d1 = (f(x + h) - f(x - h)) / (2 * h)
    d2 = (f(x + h / 2) - f(x - h / 2)) / h
    return (4 * d2 - d1) / 3


def _close(auto: np.ndarray, ref: np.ndarray, rtol: float, what: str) -> None:
    scale = 1.0 + float(np.max(np.abs(ref)))
    np.testing.assert_allclose(auto, ref, rtol=rtol, atol=rtol * scale, err_msg=what)


# ----------------------------------------------------------------------------- Values


@SETTINGS
@given(tree=trees(3, reductions=False),
       xs=st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=3, max_size=3))
def test_value_expressions_autodiff_matches_finite_differences(tree: Tree, xs: list[float]) -> None:
    lib = ValueLib()
    leaves = [Value(x) for x in xs]
    out = _quietly(lambda: lib.eval(tree, leaves))
    assume(isinstance(out, Value) and lib.biggest < LIMIT)
    _quietly(out.backward)
    event(f"ops in the tree: {_size(tree)}")
    if lib.kink < 1e-3:
        event("at a kink: finite differences skipped")
        return  # a kink within reach of the finite differences: no reference there

    def f(i: int, xi: float) -> float:
        args = [Value(x) for x in xs]
        args[i] = Value(xi)
        with no_grad():
            return ValueLib().eval(tree, args).data

    for i, x in enumerate(xs):
        num = _quietly(lambda i=i, x=x: _richardson(lambda v: f(i, v), x))
        _close(np.asarray(leaves[i].grad), np.asarray(num), 1e-5, f"d/dx{i} of {tree} at {xs}")


# ---------------------------------------------------------------------------- Tensors


@st.composite
def broadcast_leaves(draw: st.DrawFn) -> list[np.ndarray]:
    base = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    arrays = []
    for _ in range(3):
        drop = draw(st.integers(0, len(base) - 1))  # fewer leading axes
        shape = [1 if draw(st.booleans()) and draw(st.booleans()) else n for n in base[drop:]]
        arrays.append(draw(hnp.arrays(np.float64, tuple(shape),
                                      elements=st.floats(-2.0, 2.0, allow_nan=False))))
    return arrays


@SETTINGS
@given(tree=trees(3, reductions=True), arrays=broadcast_leaves(), seed=st.integers(0, 2**32 - 1))
def test_tensor_expressions_match_finite_differences_and_values(tree: Tree, arrays: list[np.ndarray],
                                                                seed: int) -> None:
    lib = TensorLib()
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = _quietly(lambda: lib.eval(tree, leaves))
    assume(isinstance(out, Tensor) and lib.biggest < LIMIT)
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)
    loss = (out * weights).sum()
    _quietly(loss.backward)
    grads = [np.zeros_like(a) if t.grad is None else t.grad for a, t in zip(arrays, leaves)]

    # the same expression, one scalar Value per element, broadcast by numpy object arrays
    olib = ObjectLib()
    objs = [np.asarray(_vectorize(Value)(a), dtype=object) for a in arrays]
    vout = _quietly(lambda: olib.eval(tree, objs))
    if lib.kink > 1e-7:  # else a last-bit difference between the two forwards may flip a kink
        np.testing.assert_allclose(olib.data(vout), out.data, rtol=1e-9, atol=1e-12,
                                   err_msg=f"forward of {tree}: Value vs Tensor")
        vloss = np.sum(vout * weights)
        if isinstance(vloss, Value):  # else no Value depends on an input
            _quietly(vloss.backward)
            for i, o in enumerate(objs):
                vg = np.vectorize(lambda v: v.grad, otypes=[float])(o)
                _close(grads[i], vg, 1e-8, f"input {i} of {tree}: Tensor grad vs Value grads")

    event(f"ops in the tree: {_size(tree)}")
    event(f"output shape: {out.shape}")
    if lib.kink < 1e-3:
        event("at a kink: finite differences skipped")
        return

    def f(i: int, idx: tuple[int, ...], xi: float) -> float:
        args = [a.copy() for a in arrays]
        args[i][idx] = xi
        with no_grad():
            res = TensorLib().eval(tree, [Tensor(a) for a in args])
        return float(np.sum(np.broadcast_to(res.data, weights.shape) * weights))

    for i, a in enumerate(arrays):
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            num[idx] = _quietly(lambda i=i, idx=idx, x=a[idx]: _richardson(lambda v: f(i, idx, v), x))
        _close(grads[i], num, 1e-5, f"input {i} {a.shape} of {tree}: autodiff vs finite differences")
