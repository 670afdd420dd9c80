"""Bad input gets a clear error: the op's name, the shapes or values involved, and what to do.

One test per error the reliability issue lists. Each checks the exception type AND the three parts
of its message, and that nothing was silently changed (gradients, parameters) when it raised.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from autograd_lite import Tensor, Value, no_grad


def _parts(message: str, *patterns: str) -> None:
    """Assert that every regex in ``patterns`` occurs in ``message`` (case-insensitive)."""
    for p in patterns:
        assert re.search(p, message, re.IGNORECASE | re.DOTALL), f"{p!r} not in: {message}"


# --------------------------------------------------------------------------- shapes


def test_matmul_shape_mismatch_names_op_shapes_and_fix() -> None:
    W = Tensor(np.ones((3, 4)), requires_grad=True)
    x = Tensor(np.ones((3,)))
    with pytest.raises(ValueError) as err:
        W @ x
    _parts(str(err.value), r"matmul", r"\(3, 4\)", r"\(3,\)", r"transpose|\.T|check the layer sizes")


def test_batched_matmul_batch_axes_mismatch() -> None:
    a = Tensor(np.ones((2, 3, 4)))
    b = Tensor(np.ones((5, 4, 2)))
    with pytest.raises(ValueError) as err:
        a @ b
    _parts(str(err.value), r"matmul", r"\(2, 3, 4\)", r"\(5, 4, 2\)", r"broadcast")


@pytest.mark.parametrize("op,fn", [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                                   ("div", operator.truediv), ("power", operator.pow)])
def test_broadcast_mismatch_names_op_shapes_and_fix(op: str, fn: Callable[[Any, Any], Any]) -> None:
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.full((4,), 2.0))
    with pytest.raises(ValueError) as err:
        fn(a, b)
    msg = str(err.value)
    _parts(msg, rf"^{op}:", r"\(2, 3\)", r"\(4,\)", r"do not broadcast", r"reshape|unsqueeze")
    assert "operands could not be broadcast" not in msg  # not numpy's message from deep inside


def test_broadcast_mismatch_with_a_numpy_array_operand() -> None:
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError) as err:
        a * np.ones((3, 2))
    _parts(str(err.value), r"^mul:", r"\(2, 3\)", r"\(3, 2\)", r"reshape|transpose")


def test_broadcast_functions_name_themselves() -> None:
    from autograd_lite import maximum, where

    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((2,)))
    with pytest.raises(ValueError, match=r"maximum.*\(2, 3\).*\(2,\).*broadcast"):
        maximum(a, b)
    with pytest.raises(ValueError, match=r"where.*broadcast"):
        where(np.ones((5,), bool), a, a)


def test_backward_gradient_of_wrong_shape() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(ValueError) as err:
        y.backward(gradient=np.ones((3, 2)))
    _parts(str(err.value), r"backward", r"\(3, 2\)", r"\(2, 3\)", r"pass a gradient of the output's shape")
    assert x.grad is None


# ---------------------------------------------------------------------- backward misuse


def test_backward_on_non_scalar_without_gradient() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError) as err:
        y.backward()
    _parts(str(err.value), r"backward", r"\(2, 3\)", r"not a scalar", r"gradient=", r"\.sum\(\)|\.mean\(\)")
    assert x.grad is None
    y.backward(gradient=np.ones((2, 3)))  # the fix works
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


@pytest.mark.parametrize("kind", ["Value", "Tensor"])
def test_backward_through_graph_built_under_no_grad(kind: str) -> None:
    x = Value(2.0) if kind == "Value" else Tensor([2.0], requires_grad=True)
    with no_grad():
        y = x * x
    with pytest.raises(RuntimeError) as err:
        y.backward() if kind == "Value" else y.sum().backward()
    _parts(str(err.value), r"backward", r"no_grad", r"requires_grad=True", r"outside no_grad")


def test_second_backward_through_consumed_graph_changes_nothing() -> None:
    x = Value(3.0)
    late = Value(5.0)  # a leaf created after part of the graph: visited first in the sweep
    h = x * x
    y = h * late
    y.backward()
    grads = (x.grad, late.grad)
    z = h * 2 + late  # a new graph sharing the consumed part (h)
    with pytest.raises(RuntimeError) as err:
        z.backward()
    _parts(str(err.value), r"'mul'", r"already backpropagated", r"retain_graph=True", r"recompute")
    assert (x.grad, late.grad) == grads  # all or nothing: no leaf was touched by the failed pass


def test_failed_backward_leaves_graph_reusable() -> None:
    """An error half-way through backward does not mark the graph as used."""
    from autograd_lite import AnomalyError, detect_anomaly

    x = Value(0.0)
    with detect_anomaly():
        y = x.sqrt() + x  # forward finite; the gradient of sqrt at 0 is not
        with pytest.raises(AnomalyError), pytest.warns(RuntimeWarning, match="sqrt"):
            y.backward()
    assert x.grad == 0.0
    with pytest.warns(RuntimeWarning, match=r"sqrt: the derivative is infinite"):
        y.backward()  # outside anomaly mode: IEEE result, no "already backpropagated"
    assert x.grad == math.inf


def test_backward_gradient_type_for_value() -> None:
    with pytest.raises(TypeError, match=r"backward\(gradient=.*\).*Value's seed must be a number.*str"):
        (Value(1.0) * 2).backward(gradient="one")


# ------------------------------------------------------------------ mixing node types


@pytest.mark.parametrize("fn,swap", [(operator.add, False), (operator.add, True), (operator.mul, False),
                                     (operator.mul, True), (operator.sub, False), (operator.truediv, True),
                                     (operator.pow, False)])
def test_value_tensor_mixing(fn: Callable[[Any, Any], Any], swap: bool) -> None:
    t = Tensor(np.ones(3), requires_grad=True)
    v = Value(2.0)
    with pytest.raises(TypeError) as err:
        fn(v, t) if swap else fn(t, v)
    _parts(str(err.value), r"cannot mix", r"Value", r"Tensor", r"Tensor\(v\.data\)")


def test_tensor_of_values_and_value_of_array() -> None:
    with pytest.raises(TypeError, match=r"Tensor\(data\).*Value.*Tensor\(v\.data\)"):
        Tensor(Value(1.0))
    with pytest.raises(TypeError, match=r"Value\(data\).*ndarray.*use Tensor for arrays"):
        Value(np.ones(3))
    with pytest.raises(TypeError, match=r"Value \+ ndarray.*use a number or a Value"):
        Value(1.0) + np.ones(3)


# --------------------------------------------------------------------------- numpy


@pytest.mark.parametrize("call,name", [
    (lambda t: np.arctan(t), "np.arctan"),
    (lambda t: np.add.reduce(t), "np.add.reduce"),
    (lambda t: np.exp(t, out=np.empty(3)), "np.exp"),
    (lambda t: np.cumsum(t), "np.cumsum"),
])
def test_unsupported_numpy_ufuncs_and_functions(call: object, name: str) -> None:
    t = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError) as err:
        call(t)  # type: ignore[operator]
    _parts(str(err.value), re.escape(name), r"no gradient rule", r"t\.data|np\.asarray\(t\)")


def test_supported_ufunc_keeps_the_graph() -> None:
    t = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    np.exp(t).sum().backward()
    np.testing.assert_allclose(t.grad, np.exp([0.5, 1.0]))


# ------------------------------------------------------------------------ dtypes


def test_integer_tensor_cannot_require_grad() -> None:
    with pytest.raises(TypeError) as err:
        Tensor(np.arange(3), requires_grad=True)
    _parts(str(err.value), r"requires_grad", r"int64", r"float")


# ----------------------------------------------------------------- losses: labels


def _losses() -> Any:
    """The losses module (another area's), imported lazily."""
    return pytest.importorskip("autograd_lite.losses")


@pytest.mark.parametrize("labels,patterns", [
    (np.array([0.5, 1.0, 2.0, 0.0]), [r"integer class indices", r"float64", r"astype\(int\)"]),
    (np.array([0, 1, 3, 0]), [r"label 3", r"out of range", r"3 classes", r"0\.\.2"]),
    (np.array([0, 1, -1, 0]), [r"label -1", r"out of range", r"0\.\.2"]),
    (np.array([1, 2, 3, 3]), [r"label 3", r"y - 1"]),  # 1-based course labels
    (np.array([0, 1, 2]), [r"batch of 4", r"\(4, 3\)", r"\(3,\)", r"one label per example"]),
    (["a", "b", "c", "d"], [r"integer class indices", r"dtype"]),
])
def test_cross_entropy_labels_wrong_dtype_range_or_length(labels: object, patterns: list[str]) -> None:
    losses = _losses()
    z = Tensor(np.zeros((4, 3)), requires_grad=True)
    with pytest.raises((TypeError, ValueError)) as err:
        losses.cross_entropy(z, labels)
    _parts(str(err.value), r"cross_entropy", *patterns)


def test_other_losses_check_their_targets() -> None:
    losses = _losses()
    s = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"hinge: labels must be -1 or \+1.*2 \* y - 1"):
        losses.hinge(s, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits.*\[0, 1\].*2\.0"):
        losses.binary_cross_entropy_with_logits(s, np.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"mse.*\(3,\).*\(2,\)"):
        losses.mse(s, np.zeros(2))


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "hinge"])
def test_empty_batch_is_an_error_not_a_nan(loss: str) -> None:
    losses = _losses()
    if loss == "cross_entropy":
        args: tuple = (Tensor(np.zeros((0, 3)), requires_grad=True), np.zeros(0, dtype=int))
    else:
        args = (Tensor(np.zeros(0), requires_grad=True), np.zeros(0))
    with pytest.raises(ValueError) as err:
        getattr(losses, loss)(*args)
    _parts(str(err.value), rf"{loss}", r"empty", r"0 examples", r"check")


def test_empty_batch_in_fit() -> None:
    nn = pytest.importorskip("autograd_lite.nn")
    train = pytest.importorskip("autograd_lite.train")
    model = nn.MLP([2, 3, 2])
    with pytest.raises(ValueError, match=r"fit: no training examples"):
        train.fit(model, np.zeros((0, 2)), np.zeros(0, dtype=int), epochs=1)


# ------------------------------------------------------------------- optimizers


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
@pytest.mark.parametrize("lr", [math.nan, math.inf, -math.inf, 0.0, -0.1])
def test_non_finite_or_non_positive_learning_rate(opt: str, lr: float) -> None:
    optim = pytest.importorskip("autograd_lite.optim")
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError) as err:
        getattr(optim, opt)([w], lr=lr)
    _parts(str(err.value), rf"^{opt}:", r"lr", re.escape(str(float(lr))), r"finite number > 0")


def test_learning_rate_made_non_finite_later_is_caught_before_the_update() -> None:
    optim = pytest.importorskip("autograd_lite.optim")
    w = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.lr = math.nan  # set by hand, e.g. from a bad computation
    with pytest.raises(ValueError) as err:
        opt.step()
    _parts(str(err.value), r"SGD", r"lr", r"nan", r"finite")
    np.testing.assert_array_equal(w.data, [1.0, 1.0])  # parameters untouched

    sched = optim.SGD([w], lr=0.1, schedule=lambda step, lr: math.inf)
    with pytest.raises(ValueError, match=r"SGD: the schedule returned lr=inf at step 0.*finite"):
        sched.step()
    np.testing.assert_array_equal(w.data, [1.0, 1.0])


# --------------------------------------------------------------- gradient checks


def test_float32_gradient_check_is_refused_or_flagged() -> None:
    gradcheck = pytest.importorskip("autograd_lite.gradcheck")
    x = Tensor(np.linspace(0.1, 1.0, 5).astype(np.float32), requires_grad=True, label="x")
    loss = (x * x).tanh().sum()
    with pytest.warns(gradcheck.GradCheckWarning) as rec:
        report = gradcheck.check_grad(loss)
    msg = " ".join(str(w.message) for w in rec) + repr(report)
    _parts(msg, r"float32", r"finite differences", r"float64")
