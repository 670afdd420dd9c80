"""`compile` on numpy Tensor graphs: the ops the replay writes out as numpy expressions (matmul,
transpose, leaky_relu, the reduction of broadcast gradients) give eager's numbers bit for bit,
and a replay whose input arrays changed type, shape, dtype or layout retraces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from autograd_lite import Tensor, cross_entropy
from autograd_lite import compile as al_compile
from autograd_lite.core.engine import unbroadcast
from autograd_lite.transforms.compile import _reduce_numpy


def _identical(a: Any, b: Any) -> bool:
    """Same type, dtype, shape, memory layout and bits."""
    return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
            and a.strides == b.strides and bool(np.array_equal(a, b, equal_nan=True)))


def _eager(fn: Callable[..., Tensor], params: list[Tensor], *args: Any) -> tuple[Any, list[Any]]:
    for p in params:
        p.grad = None
    out = fn(*args)
    out.backward()
    return out.data, [p.grad for p in params]


def _compiled(cf: Any, params: list[Tensor], *args: Any) -> tuple[Any, list[Any]]:
    for p in params:
        p.grad = None
    return cf(*args), [p.grad for p in params]


def _agree_over_calls(fn: Callable[..., Tensor], params: list[Tensor], *args: Any,
                      calls: int = 3) -> Any:
    """fn compiled gives eager's output and gradients bit for bit on the trace and on replays
    (the parameters change between calls); returns the compiled function."""
    cf = al_compile(fn)
    for _ in range(calls):
        want = _eager(fn, params, *args)
        got = _compiled(cf, params, *args)
        assert _identical(got[0], want[0])
        assert all(_identical(g, w) for g, w in zip(got[1], want[1]))
        for p in params:  # in place, as the optimizers do
            p.data -= 0.1 * p.grad.astype(p.data.dtype)
    assert cf.stats["traces"] == 1 and cf.stats["hits"] == calls - 1
    return cf


def _names(cf: Any) -> set[str]:
    """The globals the (single) replay of a compiled function calls."""
    (entry,) = next(iter(cf._cache.values()))
    return set(entry.replay.__code__.co_names)


def _mlp(rng: np.random.Generator, dtype: Any = np.float64, bias_shape: tuple[int, ...] = (10,)
         ) -> tuple[list[Tensor], Tensor, np.ndarray]:
    def t(*shape: int) -> Tensor:
        return Tensor(rng.normal(size=shape).astype(dtype), requires_grad=True)
    params = [t(10, 3), t(*bias_shape), t(4, 10), t(4)]
    return params, Tensor(rng.normal(size=(50, 3)).astype(dtype)), rng.integers(0, 4, size=50)


def _mlp_step(params: list[Tensor], y: np.ndarray) -> Callable[[Tensor], Tensor]:
    W1, b1, W2, b2 = params

    def step(x: Tensor) -> Tensor:
        h = (x @ W1.T + b1).leaky_relu(0.01)
        return cross_entropy(h @ W2.T + b2, y)
    return step


@pytest.mark.parametrize("bias_shape", [(10,), (1, 10), ()])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_mlp_step_is_written_in_numpy_and_equals_eager(bias_shape: tuple[int, ...],
                                                           dtype: Any) -> None:
    params, X, y = _mlp(np.random.default_rng(1), dtype, bias_shape)
    cf = _agree_over_calls(_mlp_step(params, y), params, X)
    names = _names(cf)
    assert {"_max", "_where", "_sum"} <= names and "_unb" not in names
    assert params[1].grad.shape == bias_shape and params[0].grad.flags.c_contiguous


def test_a_transposed_weight_input_gets_the_eager_layout_and_numbers() -> None:
    rng = np.random.default_rng(2)
    W = Tensor(rng.normal(size=(4, 3)).T, requires_grad=True)  # column-major (3, 4): x @ W
    A = Tensor(rng.normal(size=(4, 6)).T, requires_grad=True)  # column-major (6, 4): A @ V
    V = Tensor(rng.normal(size=(4, 5)), requires_grad=True)
    x = Tensor(rng.normal(size=(6, 3)))

    def f(x: Tensor) -> Tensor:
        return ((x @ W) @ V + A @ V).leaky_relu(0.2).sum()

    assert W.data.flags.f_contiguous and A.data.flags.f_contiguous
    _agree_over_calls(f, [W, A, V], x)
    cf = al_compile(f)
    for layout in (np.ascontiguousarray, np.asfortranarray) * 2:  # the rule's layout, both ways
        W.data, A.data = layout(W.data), layout(A.data)
        want = _eager(f, [W, A, V], x)
        got = _compiled(cf, [W, A, V], x)
        assert _identical(got[0], want[0]) and all(map(_identical, got[1], want[1]))
    # the layout changed: traced, not replayed stale; then each layout replays its own recording
    assert cf.stats["traces"] == 2 and cf.stats["hits"] == 2


def test_batched_matmul_and_other_transposes_equal_eager() -> None:
    rng = np.random.default_rng(3)
    A = Tensor(rng.normal(size=(4, 5, 2)), requires_grad=True)
    B = Tensor(rng.normal(size=(4, 3, 5)), requires_grad=True)
    x = Tensor(rng.normal(size=(4, 3, 5)))

    def f(x: Tensor) -> Tensor:
        y = (x @ A).transpose(2, 0, 1)  # (2, 4, 3)
        z = (B @ A).transpose(0, 2, 1) + y.transpose(1, 0, 2)  # 3-d matmul: the rule's own call
        return (z * z).sum()

    _agree_over_calls(f, [A, B], x)


def test_leaky_relu_outside_the_written_case_equals_eager() -> None:
    rng = np.random.default_rng(4)
    W32 = Tensor(rng.normal(size=(3, 3)).astype(np.float32), requires_grad=True)
    W64 = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    x = Tensor(rng.normal(size=(5, 3)).astype(np.float32))

    def f(x: Tensor) -> Tensor:
        h = (x @ W32).leaky_relu(0.1)  # float32 node, float64 gradient: the rule's own VJP
        return ((h @ W64).leaky_relu(1.5) + (x @ W32).leaky_relu(0.3)[:, :2]).sum()

    _agree_over_calls(f, [W32, W64], x)


def test_written_reductions_are_unbroadcast() -> None:
    rng = np.random.default_rng(5)
    cases = [((50, 10), (10,)), ((50, 10), (1, 10)), ((50, 10), ()), ((5, 4, 3), (4, 1)),
             ((5, 4, 3), (1, 3)), ((5, 4, 3), (1, 1, 1)), ((6, 3), (6, 1)), ((6, 3), (6, 3))]
    for gshape, shape in cases:
        g = rng.normal(size=gshape)
        text = _reduce_numpy("g", g, shape)
        assert text is not None
        got = eval(text, {"_sum": np.add.reduce, "g": g})
        assert _identical(got, unbroadcast(g, shape)), (gshape, shape, text)
    assert _reduce_numpy("g", [1.0], (1,)) is None  # not an ndarray: the engine's call


def test_a_parameter_of_another_shape_or_dtype_retraces() -> None:
    rng = np.random.default_rng(6)
    b = Tensor(np.zeros(3), requires_grad=True)
    x = Tensor(rng.normal(size=(4, 3)))

    def f(x: Tensor) -> Tensor:
        return (x + b).leaky_relu(0.1).sum()

    cf = al_compile(f)
    for data in (np.zeros(3), np.zeros((1, 3)), np.zeros(3, dtype=np.float32), np.zeros(3)):
        b.data = data
        want = _eager(f, [b], x)
        got = _compiled(cf, [b], x)
        assert _identical(got[0], want[0]) and _identical(got[1][0], want[1][0])
    assert cf.stats["traces"] == 3 and cf.stats["hits"] == 1
    assert "changed type, shape, dtype or memory layout (the recording was made for a float64" \
        " ndarray of shape (3,)" in cf.stats["retrace_reasons"][0]
    cf(Tensor(rng.normal(size=(7, 3))))  # a new batch size: a new key
    assert cf.stats["traces"] == 4


def test_a_100_step_training_loop_equals_eager() -> None:
    runs = []
    for compiled in (False, True):
        params, X, y = _mlp(np.random.default_rng(7))
        step = _mlp_step(params, y)
        run = al_compile(step) if compiled else step
        losses = []
        for _ in range(100):
            for p in params:
                p.grad = None
            out = run(X)
            if not compiled:
                out.backward()
                out = out.data
            losses.append(float(out))
            for p in params:
                p.data -= 0.05 * p.grad
        runs.append((losses, [p.data.copy() for p in params]))
    (l0, p0), (l1, p1) = runs
    assert np.allclose(l0, l1, rtol=1e-12, atol=1e-12) and l0[-1] < l0[0]
    assert all(np.allclose(a, b, rtol=1e-12, atol=1e-12) for a, b in zip(p0, p1))


def test_a_stale_grad_of_another_shape_is_refused_as_in_eager() -> None:
    """A .grad set by hand to another shape would broadcast into a wrong gradient: the replay
    refuses it with eager backward's message instead of adding."""
    W = Tensor(np.ones((3, 2)), requires_grad=True)
    x = Tensor(np.ones((4, 3)))
    cf = al_compile(lambda x: (x @ W).sum())
    for _ in range(2):  # the trace, then a replay
        W.grad = np.zeros((1, 2))
        with pytest.raises(ValueError, match=r"holds a \.grad of shape \(1, 2\)"):
            cf(x)
