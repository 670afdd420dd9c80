"""The "silent wrong" property (issue 12): for random graphs, a gradient that comes back all zero
for an input the output depends on (by finite differences) must come with a warning naming that
input. Never silent zeros.

The random expression trees mix the elementwise ops with the ways users cut a graph without
meaning to: ``.data``, ``float()``, ``.item()``, ``np.asarray()``, ``.detach()`` and ``Tensor(t)``,
anywhere in the tree, so some inputs reach the output only through cut paths, some partly, some
not at all. `grad` is asked for every input; central differences in float64 say whether the
output depends on it. Points within a hair of a kink (relu, abs, sign), where finite differences
mean nothing and a zero derivative is the convention, are skipped, as in test_fuzz_expressions.py.
CI runs a fixed set of examples (deterministic); AUTOGRAD_LITE_FUZZ_EXAMPLES sets more.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from autograd_lite import Tensor, Value, grad, no_grad
from autograd_lite.transforms import ZeroGradientWarning

EXAMPLES = int(os.environ.get("AUTOGRAD_LITE_FUZZ_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    derandomize="AUTOGRAD_LITE_FUZZ_EXAMPLES" not in os.environ,
                    suppress_health_check=[HealthCheck.too_slow])

UNARY = ["neg", "tanh", "sigmoid", "sin", "square", "log", "relu", "abs", "sign"]
BINARY = ["add", "sub", "mul", "div"]
CUTS = ["data", "float", "item", "asarray", "detach", "copy"]
KINKED = {"relu", "abs", "sign"}
N = 2  # inputs

Tree = tuple[Any, ...]


def trees() -> st.SearchStrategy[Tree]:
    leaf = st.integers(0, N - 1).map(lambda i: ("leaf", i))

    def extend(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
        return st.one_of(st.tuples(st.just("u"), st.sampled_from(UNARY), children),
                         st.tuples(st.just("b"), st.sampled_from(BINARY), children, children),
                         st.tuples(st.just("c"), st.sampled_from(CUTS), children))

    return extend(st.recursive(leaf, extend, max_leaves=5))


class Eval:
    """Evaluates a tree on Values or Tensors; records how close kinked ops come to their kink."""

    def __init__(self, tensor: bool) -> None:
        self.tensor = tensor
        self.kink = np.inf

    def cut(self, x: Any, how: str) -> Any:
        if self.tensor:
            return {"data": lambda: Tensor(x.data), "float": lambda: Tensor(x.data.copy()),
                    "item": lambda: Tensor([v.item() for v in x]), "asarray": lambda: Tensor(np.asarray(x)),
                    "detach": x.detach, "copy": lambda: Tensor(x)}[how]()
        return {"data": lambda: Value(x.data), "float": lambda: Value(float(x)),
                "item": lambda: Value(x.item()), "asarray": lambda: Value(float(np.asarray(x.data))),
                "detach": x.detach, "copy": lambda: Value(x)}[how]()

    def unary(self, x: Any, op: str) -> Any:
        if op in KINKED:
            d = np.abs(np.asarray(x.data, dtype=np.float64))
            self.kink = min(self.kink, float(d.min()) / max(1e-3, 1e-4 * (1.0 + float(d.max()))))
        if op == "square":
            return x * x
        if op == "log":
            return (x * x + 0.5).log()
        if op == "neg":
            return -x
        return getattr(x, op)()

    def binary(self, x: Any, y: Any, op: str) -> Any:
        if op == "div":
            return x / (y * y + 0.5)
        return {"add": x + y, "sub": x - y, "mul": x * y}[op]

    def __call__(self, tree: Tree, xs: tuple[Any, ...]) -> Any:
        kind = tree[0]
        if kind == "leaf":
            return xs[tree[1]]
        if kind == "u":
            return self.unary(self(tree[2], xs), tree[1])
        if kind == "c":
            return self.cut(self(tree[2], xs), tree[1])
        return self.binary(self(tree[2], xs), self(tree[3], xs), tree[1])


def _f(tree: Tree, ev: Eval) -> Any:
    def f(*xs: Any) -> Any:
        out = ev(tree, xs)
        return out.sum() if ev.tensor else out
    return f


def _value(f: Any, xs: list[Any], tensor: bool) -> float:
    with no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodes = [Tensor(x) if tensor else Value(x, requires_grad=False) for x in xs]
        return float(f(*nodes).data)


def _depends(f: Any, xs: list[Any], i: int, tensor: bool, h: float = 1e-5) -> float:
    """max |∂f/∂x_i| by central differences (one element at a time for arrays)."""
    base = np.asarray(xs[i], dtype=np.float64)
    biggest = 0.0
    for idx in np.ndindex(*base.shape):
        up, down = base.copy(), base.copy()
        up[idx] += h
        down[idx] -= h
        p = _value(f, [*xs[:i], up if tensor else float(up), *xs[i + 1:]], tensor)
        m = _value(f, [*xs[:i], down if tensor else float(down), *xs[i + 1:]], tensor)
        biggest = max(biggest, abs(p - m) / (2 * h))
    return biggest


def _check(tree: Tree, xs: list[Any], tensor: bool) -> None:
    ev = Eval(tensor)
    f = _f(tree, ev)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            y = _value(f, xs, tensor)
            gs = grad(f, argnums=tuple(range(N)))(*xs)
        except (OverflowError, FloatingPointError):
            assume(False)
    assume(np.isfinite(y) and abs(y) < 1e4 and ev.kink > 1.0)  # no point near a kink
    said = [str(w.message) for w in rec if issubclass(w.category, ZeroGradientWarning)]
    for i in range(N):
        slope = _depends(f, xs, i, tensor)
        assume(np.isfinite(slope))
        zero = not np.any(gs[i])
        if zero and slope > 1e-3 * (1.0 + abs(y)):
            event("all-zero gradient of an input the output depends on")
            assert any(f"argument {i}" in m for m in said), (
                f"silent zero gradient for input {i} of {tree} at {xs}: finite differences give "
                f"|df/dx| ~ {slope:.3g}; warnings: {said}")
        elif zero:
            event("all-zero gradient, flat by finite differences")


@SETTINGS
@given(tree=trees(), xs=st.lists(st.floats(-2.0, 2.0), min_size=N, max_size=N))
def test_no_silent_zero_gradient_for_values(tree: Tree, xs: list[float]) -> None:
    _check(tree, xs, tensor=False)


@SETTINGS
@given(tree=trees(), seed=st.integers(0, 2**16))
def test_no_silent_zero_gradient_for_tensors(tree: Tree, seed: int) -> None:
    rng = np.random.default_rng(seed)
    _check(tree, [rng.uniform(-2.0, 2.0, size=3) for _ in range(N)], tensor=True)
