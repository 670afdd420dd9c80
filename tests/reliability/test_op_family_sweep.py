"""The red-team sweep at the API level: each op family x bad shapes, dtypes, empty and non-finite
inputs.

Every call must end in one of two ways:

* a result whose values are numpy's (nan and inf propagate as in numpy, empty stays empty), whose
  backward runs, and whose gradients have their inputs' shapes and dtypes; or
* our error: a TypeError, ValueError or IndexError whose message names the op (never numpy's
  message from deep inside, never a ZeroDivisionError, AttributeError or RecursionError).

The rule-level sweep of extreme values (every rule at ±1000, ±1e-300, 0 and its kinks) is in
test_numerical_edge_cases.py; this one goes through the public methods and functions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from autograd_lite import Tensor, clip, concatenate, matmul, maximum, minimum, stack, where


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    if x.size == 0:
        return x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _lse(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    if x.size == 0 or (axis is not None and x.shape[axis] == 0):
        return np.full(np.sum(x, axis=axis).shape, -np.inf)
    m = x.max(axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m, axis=axis)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# name: (call on Tensors, numpy reference on arrays, number of inputs)
UNARY: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "exp": (lambda t: t.exp(), np.exp),
    "log": (lambda t: t.log(), np.log),
    "sqrt": (lambda t: t.sqrt(), np.sqrt),
    "tanh": (lambda t: t.tanh(), np.tanh),
    "sigmoid": (lambda t: t.sigmoid(), _sigmoid),
    "relu": (lambda t: t.relu(), lambda x: np.maximum(x, 0)),
    "abs": (lambda t: abs(t), np.abs),
    "neg": (lambda t: -t, np.negative),
    "sin": (lambda t: t.sin(), np.sin),
    "pow": (lambda t: t ** 2, np.square),
    "leaky_relu": (lambda t: t.leaky_relu(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    "clip": (lambda t: clip(t, -1.0, 1.0), lambda x: np.clip(x, -1.0, 1.0)),
    "sum": (lambda t: t.sum(axis=-1), lambda x: np.sum(x, axis=-1)),
    "mean": (lambda t: t.mean(axis=0), lambda x: np.mean(x, axis=0)),
    "logsumexp": (lambda t: t.logsumexp(axis=-1), _lse),
    "softmax": (lambda t: t.softmax(axis=-1), _softmax),
    "log_softmax": (lambda t: t.log_softmax(axis=-1), lambda x: np.log(_softmax(x))),
    "reshape": (lambda t: t.reshape(-1), lambda x: x.reshape(-1)),
    "transpose": (lambda t: t.T, lambda x: x.T),
    "flatten": (lambda t: t.flatten(), lambda x: x.reshape(-1)),
    "getitem": (lambda t: t[..., :1], lambda x: x[..., :1]),
}
BINARY: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "power": (lambda a, b: a ** b, np.power),
    "maximum": (maximum, np.maximum),
    "minimum": (minimum, np.minimum),
    "where": (lambda a, b: where(np.ones(a.shape, bool), a, b),
              lambda a, b: np.where(True, a, b)),
    "matmul": (matmul, np.matmul),
    "concatenate": (lambda a, b: concatenate([a, b], axis=0), lambda a, b: np.concatenate([a, b], 0)),
    "stack": (lambda a, b: stack([a, b]), lambda a, b: np.stack([a, b])),
}

NON_FINITE = np.array([[np.nan, 1.0, -2.0], [np.inf, -np.inf, 0.5]])
EMPTY = [(0,), (0, 3), (3, 0)]
RAW_NUMPY = ("zero-size array", "operands could not be broadcast", "unsupported operand type",
             "object has no attribute", "cannot reshape array", "axis 2 is out of bounds",
             "not aligned", "mismatch in its core dimension", "all the input array dimensions",
             "all input arrays must have the same shape", "ufunc", "division by zero")


def _outcome(op: str, call: Callable[..., Any], ref: Callable[..., Any], *arrays: np.ndarray) -> str:
    """Run ``call`` on Tensors made from ``arrays``; check the result against ``ref`` or the error;
    return "ok" or "refused"."""
    grad = all(a.dtype.kind == "f" for a in arrays)
    ts = [Tensor(a, requires_grad=grad) for a in arrays]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # IEEE results of non-finite inputs may warn; not the point
        try:
            out = call(*ts)
        except (TypeError, ValueError, IndexError) as err:
            msg = str(err)
            assert op in msg or "Tensor" in msg, f"{op}: the error does not name the op: {msg}"
            assert not any(r in msg for r in RAW_NUMPY), f"{op}: numpy's own message: {msg}"
            return "refused"
        expected = ref(*arrays)
        assert out.shape == np.shape(expected), (op, out.shape, np.shape(expected))
        tol = 1e-6 if out.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out.data, expected, rtol=tol, atol=1e-300, equal_nan=True, err_msg=op)
        if grad and out.requires_grad:
            out.backward(gradient=np.ones(out.shape, dtype=out.dtype))
            for t in ts:
                assert t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == t.dtype, op
    return "ok"


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_families_on_empty_and_non_finite_inputs(op: str) -> None:
    call, ref = UNARY[op]
    for shape in EMPTY:
        _outcome(op, call, ref, np.zeros(shape))
    assert _outcome(op, call, ref, NON_FINITE) == "ok"  # nan/inf propagate, never an exception
    assert _outcome(op, call, ref, NON_FINITE.astype(np.float32)) == "ok"  # and float32 stays float32


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_families_on_integer_and_bool_data(op: str) -> None:
    call, ref = UNARY[op]
    for arr in (np.array([[1, -2, 3]]), np.array([[True, False, True]])):
        _outcome(op, call, ref, arr)  # a constant result, or our TypeError


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_families_on_bad_shapes(op: str) -> None:
    call, ref = BINARY[op]
    for a, b in [((2, 3), (4,)), ((3, 4), (3,)), ((2, 3), (3, 2)), ((2, 3, 4), (5, 4, 2))]:
        _outcome(op, call, ref, np.ones(a), np.ones(b))


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_families_on_empty_non_finite_and_mixed_dtypes(op: str) -> None:
    call, ref = BINARY[op]
    if op == "matmul":
        pairs = [(np.zeros((2, 0)), np.zeros((0, 3))), (np.zeros((0, 3)), np.ones((3, 2))),
                 (NON_FINITE, NON_FINITE.T)]
    else:
        pairs = [(np.zeros((0, 3)), np.zeros((0, 3))), (NON_FINITE, NON_FINITE[::-1])]
    for a, b in pairs:
        assert _outcome(op, call, ref, a, b) == "ok"
    # float32 with float64 promotes as numpy does; an integer operand is a constant
    _outcome(op, call, ref, NON_FINITE.astype(np.float32), NON_FINITE[::-1])
    _outcome(op, call, ref, np.ones((2, 3)), np.ones((2, 3), dtype=np.int64))


@pytest.mark.parametrize("bad,pattern", [
    (np.array([["a", "b"]]), r"Tensor\(data\): unsupported array dtype <U1"),
    (np.array([[1 + 1j]]), r"complex"),
    (np.array([[None, 1.0]], dtype=object), r"is None"),
    ([[1.0, 2.0], [3.0]], r"nested lists of equal lengths"),
])
def test_bad_dtypes_are_refused_when_the_tensor_is_made(bad: Any, pattern: str) -> None:
    with pytest.raises(TypeError, match=pattern):
        Tensor(bad)
    in_an_op = r"unsupported operand" if "None" not in pattern and "complex" not in pattern else pattern
    with pytest.raises(TypeError, match=r"^Tensor \+ .*" + in_an_op):
        Tensor([[1.0, 2.0]]) + bad


@pytest.mark.parametrize("call,op", [
    (lambda t: t.sum(axis=2), "sum"), (lambda t: t.mean(axis=(0, 0)), "mean"),
    (lambda t: t.softmax(axis=5), "softmax"), (lambda t: t.logsumexp(axis=-3), "logsumexp"),
    (lambda t: t.max(axis=2), "max"), (lambda t: t.reshape(4, 4), "reshape"),
    (lambda t: t.transpose(0, 0), "transpose"), (lambda t: t.broadcast_to((4, 3)), "broadcast_to"),
    (lambda t: t.squeeze(0), "squeeze"), (lambda t: t.unsqueeze(5), "unsqueeze"),
    (lambda t: t[5], "Tensor["), (lambda t: t[:, [0, 7]], "Tensor["), (lambda t: t[1.5], "Tensor index"),
    (lambda t: t.var(axis=0, ddof=2), "var"), (lambda t: Tensor(np.zeros((0,))).max(), "max"),
])
def test_bad_axes_shapes_and_indices_name_the_op(call: Callable[[Tensor], Any], op: str) -> None:
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises((TypeError, ValueError, IndexError)) as err:
        call(t)
    msg = str(err.value)
    assert op in msg, msg
    assert not any(r in msg for r in RAW_NUMPY), msg
