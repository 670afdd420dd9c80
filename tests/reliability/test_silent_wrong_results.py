"""Silent wrong results (issue 12): each case is now the right answer, or a warning or error that
names the input or op and the fix.

* Gradients that vanish without a word: the transforms warn (`ZeroGradientWarning`) when the output
  does not depend on an argument in the graph, naming the argument and the line that took the
  data out (``.data``, ``float()``, ``np.asarray``, ``.item()``, ``.detach()``).
* ``Tensor([v, w])`` of nodes that require grad, object arrays holding None, complex data: refused.
* Python protocols follow numpy / PyTorch: ``Tensor == x`` and ``!=`` are elementwise, iterating a
  0-d Tensor raises, ``bool(Value(0.0))`` is False; ``zero_grad`` takes a node, a module or an
  iterable.
* ``Value(1e200) * Value(1e200)`` warns, as the Tensor version does.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from autograd_lite import MLP, Tensor, Value, grad, jacobian, jvp, value_and_grad, vjp, where, zero_grad
from autograd_lite.transforms import ZeroGradientWarning

X0 = np.array([1.0, -2.0, 0.5])


def _zero_warnings(call: Callable[[], Any]) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in rec if issubclass(w.category, ZeroGradientWarning)]


# --------------------------------------------------------------------- gradients that vanish


CUTS: dict[str, tuple[Callable[[Any], Any], Any, str]] = {
    # name: (f, point, what the warning must say took the data out; "" = only the generic causes)
    ".data": (lambda x: (x.data ** 2).sum(), X0, ""),
    "np.asarray": (lambda x: (Tensor(np.asarray(x)) ** 2).sum(), X0, r"np\.asarray\(\) at .*test_silent"),
    "float()": (lambda x: Value(float(x)) ** 2, 3.0, r"float\(\) at .*test_silent"),
    ".item()": (lambda x: Value(x.item()) * 2.0, 3.0, r"\.item\(\) at .*test_silent"),
    ".detach()": (lambda x: (x.detach() * x.detach()).sum(), X0, r"\.detach\(\) at .*test_silent"),
    "Tensor(t)": (lambda x: (Tensor(x) * 3.0).sum(), X0, r"Tensor\(t\) at .*test_silent"),
}


@pytest.mark.parametrize("cut", sorted(CUTS))
def test_grad_of_a_cut_graph_warns_naming_the_input_and_the_cause(cut: str) -> None:
    f, x, route = CUTS[cut]
    g, messages = _zero_warnings(lambda: grad(f)(x))
    assert not np.any(g)  # the zeros are still returned (an unused argument is legitimate) ...
    assert len(messages) == 1, messages  # ... but never silently
    msg = messages[0]
    assert re.search(r"does not depend on argument 0 \('x'\)", msg), msg
    assert ".data, float(), np.asarray(), .item() or .detach()" in msg and "x.data * x.data" in msg
    if route:
        assert re.search(route, msg), msg


def test_every_transform_warns_on_a_cut_graph() -> None:
    f = CUTS[".data"][0]
    calls: dict[str, Callable[[], Any]] = {
        "value_and_grad": lambda: value_and_grad(f)(X0),
        "jacobian rev": lambda: jacobian(lambda x: Tensor(x.data * 2.0), mode="rev")(X0),
        "jacobian fwd": lambda: jacobian(lambda x: Tensor(x.data * 2.0), mode="fwd")(X0),
        "vjp": lambda: vjp(lambda x: Tensor(x.data * 2.0), X0),
        "jvp": lambda: jvp(lambda x: Tensor(x.data * 2.0), (X0,), (np.ones(3),)),
    }
    for name, call in calls.items():
        _, messages = _zero_warnings(call)
        assert any("does not depend on argument 0" in m for m in messages), (name, messages)


def test_warning_points_at_the_users_line() -> None:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        grad(lambda x: float(x) ** 2)(1.0)
    (w,) = [w for w in rec if issubclass(w.category, ZeroGradientWarning)]
    assert w.filename == __file__


def test_a_partly_cut_graph_with_a_zero_gradient_is_found_by_probing() -> None:
    # relu(x - 10) connects x with a zero slope; the rest goes through .data: the gradient is 0 but
    # the function is not flat there
    _, messages = _zero_warnings(lambda: grad(lambda x: (x - 10.0).relu() + (x * 1.0).data ** 2)(1.0))
    assert len(messages) == 1 and "the output changes with it" in messages[0], messages


@pytest.mark.parametrize("f,x", [
    (lambda x: x.relu(), -1.0),  # flat where it is evaluated
    (lambda x: x.relu(), 0.0),  # at the kink: relu'(0) = 0 by convention
    (lambda x: x.sign(), 0.5),  # sign' = 0
    (lambda x: x ** 3, 0.0),  # a stationary point
    (lambda x: (x - 3.0).relu().sum(), X0),
    (lambda x: (x * 0.0).sum(), X0),
])
def test_right_zeros_say_nothing(f: Callable[[Any], Any], x: Any) -> None:
    g, messages = _zero_warnings(lambda: grad(f)(x))
    assert not np.any(g) and messages == []


def test_zero_second_derivatives_say_nothing_unless_the_gradient_was_cut() -> None:
    from autograd_lite import hessian, hvp

    _, messages = _zero_warnings(lambda: hessian(lambda x: (2.0 * x).sum())(X0))
    assert messages == []  # the Hessian of a linear function is 0
    _, messages = _zero_warnings(lambda: grad(grad(lambda x: x.relu()))(0.7))
    assert messages == []
    _, messages = _zero_warnings(lambda: hvp(lambda x: (2.0 * x).sum(), (X0,), (X0,)))
    assert messages == []
    H, messages = _zero_warnings(lambda: hessian(lambda x: (x.data * x).sum())(X0))
    assert not np.any(H) and len(messages) == 1  # the true Hessian is 2I: the gradient was cut


def test_an_unused_argument_is_named() -> None:
    g, messages = _zero_warnings(lambda: grad(lambda x, y: x * 2.0, argnums=(0, 1))(1.0, 2.0))
    assert g == (2.0, 0.0)
    assert len(messages) == 1 and "argument 1 ('y')" in messages[0]


# --------------------------------------------------------------------- Tensor(data) refusals


@pytest.mark.parametrize("data,patterns", [
    ([Value(1.0), Value(2.0)], [r"holds Values that require grad", r"cut the graph",
                                r"\.grad would stay 0", r"functional"]),
    ([[1.0, 2.0], [Tensor([3.0, 4.0], requires_grad=True)[0], 5.0]],
     [r"holds Tensors that require grad", r"stack\(\[\.\.\.\]\)"]),
    (np.array([1.0, None], dtype=object), [r"element \(1,\) is None", r"np\.nan"]),
    ([[1.0, None]], [r"element \(0, 1\) is None"]),
    (np.array([1.0 + 2.0j]), [r"complex", r"imaginary part would be lost", r"\.real"]),
    ([1.0, 2.0j], [r"complex", r"imaginary"]),
    (3.0 + 1.0j, [r"complex"]),
])
def test_tensor_refuses_data_it_would_silently_lose(data: Any, patterns: list[str]) -> None:
    with pytest.raises(TypeError) as err:
        Tensor(data)
    for p in patterns:
        assert re.search(p, str(err.value)), (p, str(err.value))


def test_tensor_of_values_in_an_op_is_refused_too() -> None:
    with pytest.raises(TypeError, match=r"^Tensor \+ list: .*holds Values that require grad"):
        Tensor([1.0, 2.0]) + [Value(1.0), Value(2.0)]


def test_tensor_of_constants_still_works() -> None:
    np.testing.assert_array_equal(Tensor([Value(1.0, requires_grad=False), 2.0]).data, [1.0, 2.0])
    np.testing.assert_array_equal(Tensor(np.array([1.0, 2.5], dtype=object)).data, [1.0, 2.5])
    assert Tensor([1, 2]).dtype == np.float64 and Tensor(np.array([1, 2])).dtype == np.int64


# --------------------------------------------------------------------- Python protocols


def test_tensor_equality_is_elementwise_like_numpy() -> None:
    t = Tensor([0.0, 1.0, 0.0], requires_grad=True)
    np.testing.assert_array_equal(t == 0.0, [True, False, True])
    np.testing.assert_array_equal(t != 0, [False, True, False])
    np.testing.assert_array_equal(t == Tensor([0.0, 2.0, 0.0]), [True, False, True])
    y = where(t == 0, 5.0, t)  # silently wrong before: == was identity, so no entry was replaced
    np.testing.assert_array_equal(y.data, [5.0, 1.0, 5.0])
    y.sum().backward()
    np.testing.assert_array_equal(t.grad, [0.0, 1.0, 0.0])


def test_tensors_still_hash_by_identity() -> None:
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2 and {a: 1, b: 2}[b] == 2
    assert Value(1.0) != Value(1.0)  # a Value's == stays identity (micrograd's, and hashable)


def test_iterating_a_0d_tensor_raises_and_rows_keep_the_graph() -> None:
    with pytest.raises(TypeError, match=r"iteration over a 0-d Tensor.*\.item\(\)"):
        list(Tensor(1.0))
    with pytest.raises(TypeError, match=r"len\(\) of a 0-d Tensor"):
        len(Tensor(1.0))
    t = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(t)
    assert len(rows) == 2 and rows[1].shape == (2,)
    (rows[0].sum() * 2 + rows[1].sum()).backward()
    np.testing.assert_array_equal(t.grad, [[2.0, 2.0], [1.0, 1.0]])


def test_truth_values_follow_float_and_numpy() -> None:
    assert bool(Value(0.0)) is False and bool(Value(-0.0)) is False
    assert bool(Value(2.0)) is True and bool(Value(math.nan)) is True
    assert bool(Tensor(0.0)) is False and bool(Tensor([3.0])) is True
    for bad in (Tensor([1.0, 2.0]), Tensor(np.zeros(0))):
        with pytest.raises(ValueError, match=r"ambiguous.*any\(\)"):
            bool(bad)


def test_zero_grad_takes_a_node_a_module_or_an_iterable() -> None:
    v = Value(2.0)
    (v * v).backward()
    zero_grad(v)
    assert v.grad == 0.0
    t = Tensor([1.0, 2.0], requires_grad=True)
    (t * t).sum().backward()
    zero_grad(t)
    assert t.grad is None
    model = MLP([2, 3, 1])
    model(Tensor(np.ones((4, 2)))).sum().backward()
    a, b = Value(1.0), Tensor([1.0], requires_grad=True)
    (a * 2).backward()
    (b * 2).sum().backward()
    zero_grad(model, [a, (b,)])
    assert all(p.grad is None for p in model.parameters()) and a.grad == 0.0 and b.grad is None
    with pytest.raises(TypeError, match=r"zero_grad\(\): expected a Value or Tensor, a module, or an "
                                        r"iterable of them, got float"):
        zero_grad(1.5)


# --------------------------------------------------------------------- Value overflow


@pytest.mark.parametrize("make,pattern", [
    (lambda: Value(1e200) * Value(1e200), r"^mul: 1e\+200 \* 1e\+200 overflows to inf"),
    (lambda: Value(1e308) + 1e308, r"^add: 1e\+308 \+ 1e\+308 overflows to inf"),
    (lambda: Value(-1e308) - 1e308, r"^sub: .* overflows to -inf"),
    (lambda: Value(1e300) / 1e-300, r"^div: 1e\+300 / 1e-300 overflows to inf"),
    (lambda: 1e200 * Value(1e200), r"^mul: .* overflows"),
])
def test_value_overflow_warns_like_the_tensor_version(make: Callable[[], Value], pattern: str) -> None:
    with pytest.warns(RuntimeWarning, match=pattern) as rec:
        y = make()
    assert math.isinf(y.data)
    assert any(w.filename == __file__ for w in rec)  # attributed to this line, not the library
    with pytest.warns(RuntimeWarning):  # the Tensor version, for comparison
        Tensor([1e200]) * Tensor([1e200])


def test_inf_in_inf_out_says_nothing_more() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # propagating an inf that came in is not an overflow
        y = Value(math.inf) * 2.0 + 1.0
        z = Value(math.nan) - 1.0
    assert y.data == math.inf and math.isnan(z.data)
