"""Numerical edge cases for every rule of the table, and the documented domain policies.

The sweep walks `RULES` (a rule added later is covered automatically; its test case in
tests/test_rules.py supplies arity, shapes and static arguments). At inputs of ±1000, ±1e-300, 0
and the kinks, each rule's forward, VJP and JVP must either be finite or come with a
`RuntimeWarning` that names the rule: never a silent inf/nan, and never numpy's anonymous
"overflow encountered in ..." as the only word on it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np
import pytest
from autograd_lite.rules import RULES
from test_rules import CASES, draw

from autograd_lite import Tensor, Value

SPECIAL = [1000.0, -1000.0, 1e-300, -1e-300, 0.0]
KINKS = {"relu": [0.0], "leaky_relu": [0.0], "abs": [0.0], "sign": [0.0], "clip": [-1.0, 0.5],
         "sqrt": [0.0], "log": [0.0]}
STATIC_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "pow": [{"exponent": p} for p in (2.5, 0.5, 0.0, 1.0, 2.0, 3.0, -1.0, -2.0, -0.5)],
}


def _finite(x: Any) -> bool:
    return x is None or bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))


def _static(name: str, shapes: tuple) -> list[dict[str, Any]]:
    if name in STATIC_VARIANTS:
        return STATIC_VARIANTS[name]
    case = CASES[name]
    return [case.static(shapes) if callable(case.static) else dict(case.static)]


def _run(rule: Any, inputs: list[Any], static: dict[str, Any]) -> tuple[list[Any], list[str]]:
    """Forward, VJP (seed 1) and JVP (all tangents 1) on raw data; the results and warnings."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ans = rule.forward(*inputs, **static)
        if isinstance(ans, np.generic):
            ans = np.asarray(ans)
        seed = np.ones_like(ans) if isinstance(ans, np.ndarray) else 1.0
        grads = rule.vjp(seed, ans, *inputs, **static)
        tangents = tuple(np.ones_like(x) if isinstance(x, np.ndarray) else 1.0 for x in inputs)
        tangent = rule.jvp(tangents, ans, *inputs, **static)
    messages = [str(w.message) for w in rec if issubclass(w.category, RuntimeWarning)]
    return [ans, *grads, tangent], messages


def _check(name: str, inputs: list[Any], static: dict[str, Any]) -> None:
    results, messages = _run(RULES[name], inputs, static)
    where = f"{name}{static or ''} at {inputs!r}"
    for m in messages:  # every warning says which op it is about
        assert m.split(":")[0] in RULES, f"{where}: a warning that names no op: {m!r}"
    if not all(_finite(r) for r in results):
        assert any(m.startswith(f"{name}:") for m in messages), (
            f"{where}: silent non-finite result {results!r} (warnings: {messages})")


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_at_extreme_inputs_is_finite_or_warns(name: str) -> None:
    rule = RULES[name]
    case = CASES[name]
    values = SPECIAL + KINKS.get(name, [])
    if "Value" in rule.nodes and case.scalar:
        for static in _static(name, ()):
            for combo in itertools.product(values, repeat=case.scalar):
                _check(name, [float(v) for v in combo], static)
    if "Tensor" in rule.nodes:
        rng = np.random.default_rng(3)
        shapes = case.shapes[0]
        base = case.make(rng, shapes) if case.make else [draw(rng, s, case) for s in shapes]
        for static in _static(name, shapes):
            for i, v in itertools.product(range(len(base)), values):
                for everywhere in (True, False):
                    inputs = [np.array(b, dtype=np.float64) for b in base]
                    if inputs[i].size == 0:
                        continue
                    if everywhere:
                        inputs[i][...] = v
                    else:
                        inputs[i].flat[0] = v
                    _check(name, inputs, static)


def test_the_sweep_walks_the_whole_table() -> None:
    assert set(CASES) == set(RULES)  # a new rule needs a case, and then it is swept here
    assert len(RULES) >= 20


# ----------------------------------------------------------------------- policies


def test_log_of_zero_policy() -> None:
    for make in (lambda: Value(0.0), lambda: Tensor([0.0], requires_grad=True)):
        x = make()
        with pytest.warns(RuntimeWarning, match=r"^log: .*-inf.*epsilon"):
            y = x.log()
        assert float(np.asarray(y.data).sum()) == -math.inf
        with warnings.catch_warnings():  # the forward's warning covers the gradient 1/0 = inf
            warnings.simplefilter("error")
            (y if isinstance(x, Value) else y.sum()).backward()
        assert float(np.asarray(x.grad).sum()) == math.inf
    x = Value(1e-320)  # finite forward (-737), but 1/x overflows: that one is said
    y = x.log()
    with pytest.warns(RuntimeWarning, match=r"^log: the derivative is infinite.*epsilon"):
        y.backward()
    with pytest.warns(RuntimeWarning, match=r"^log: .*negative.*x > 0"):
        assert math.isnan(Value(-1.0).log().data)


def test_zero_to_the_zero_is_one_with_derivative_zero() -> None:
    for x in (Value(0.0), Tensor([0.0, 0.0], requires_grad=True)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = x ** 0
            (y if isinstance(x, Value) else y.sum()).backward()
        assert np.all(np.asarray(y.data) == 1.0) and np.all(np.asarray(x.grad) == 0.0)
    # x ** y with y a node: both partial derivatives are 0 at (0, 0), silently (they are finite)
    x, e = Value(0.0), Value(0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = x ** e
        z.backward()
    assert (z.data, x.grad, e.grad) == (1.0, 0.0, 0.0)
    xt, et = Tensor([0.0, 2.0], requires_grad=True), Tensor([0.0, 0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (xt ** et).sum().backward()
    np.testing.assert_array_equal(xt.grad, [0.0, 0.0])
    np.testing.assert_allclose(et.grad, [0.0, math.log(2.0)])


def test_negative_base_with_non_integer_exponent() -> None:
    with pytest.warns(RuntimeWarning, match=r"^pow: -8\.0 \*\* 0\.5.*nan.*abs\(x\)"):
        assert math.isnan((Value(-8.0) ** 0.5).data)
    with pytest.warns(RuntimeWarning, match=r"^pow: 1 input\(s\) are negative bases.*abs\(x\)"):
        t = Tensor([-8.0, 4.0]) ** 0.5
    assert math.isnan(t.data[0]) and t.data[1] == 2.0
    with pytest.warns(RuntimeWarning, match=r"^power: .*negative base.*non-integer"):
        assert math.isnan((Value(-8.0) ** Value(1.5)).data)
    # an integer exponent on a negative base is fine, and so is its derivative in x ...
    x = Value(-2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x ** 3
        y.backward()
    assert (y.data, x.grad) == (-8.0, 12.0)
    # ... but a learned exponent has no derivative at a negative base: nan, and said so
    x, e = Value(-2.0), Value(3.0)
    z = x ** e
    with pytest.warns(RuntimeWarning, match=r"^power: the derivative is nan.*negative base"):
        z.backward()
    assert z.data == -8.0 and x.grad == 12.0 and math.isnan(e.grad)


def test_infinite_slopes_at_zero_warn() -> None:
    x = Value(0.0)
    y = x.sqrt()
    with pytest.warns(RuntimeWarning, match=r"^sqrt: the derivative is infinite.*sqrt\(x \+ eps\)"):
        y.backward()
    assert x.grad == math.inf
    x = Value(0.0)
    y = x ** 0.5
    with pytest.warns(RuntimeWarning, match=r"^pow: the derivative is infinite.*\(x \+ eps\) \*\* p"):
        y.backward()
    with pytest.warns(RuntimeWarning, match=r"^div: the derivative is infinite.*divisor"):
        (Value(1.0) / Value(1e-300)).backward()


def test_overflowing_powers_warn() -> None:
    with pytest.warns(RuntimeWarning, match=r"^pow: 1e\+200 \*\* 2\.0 overflows to inf"):
        assert (Value(1e200) ** 2).data == math.inf
    with pytest.warns(RuntimeWarning, match=r"^power: 1 input\(s\) overflow to inf"):
        Tensor([1000.0, 2.0]) ** Tensor([1000.0, 2.0])


@pytest.mark.parametrize("x", [1000.0, -1000.0, 1e-300, -1e-300, 0.0])
def test_stable_ops_exact_at_extremes_value_and_tensor(x: float) -> None:
    s = 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
    expected = {  # name: (value, derivative), from closed forms
        "tanh": (math.tanh(x), 1.0 - math.tanh(x) ** 2),
        "sigmoid": (s, s * (1.0 - s)),
        "softplus": (max(x, 0.0) + math.log1p(math.exp(-abs(x))), s),
        "log_sigmoid": (min(x, 0.0) - math.log1p(math.exp(-abs(x))), 1.0 - s),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, (val, der) in expected.items():
            v = Value(x)
            out = getattr(v, name)()
            out.backward()
            assert out.data == pytest.approx(val, rel=1e-15, abs=1e-300), name
            assert v.grad == pytest.approx(der, rel=1e-15, abs=1e-300), name
            t = Tensor([x, x], requires_grad=True)
            getattr(t, name)().sum().backward()
            np.testing.assert_allclose(getattr(t, name)().data, [val, val], rtol=1e-15, atol=1e-300)
            np.testing.assert_allclose(t.grad, [der, der], rtol=1e-15, atol=1e-300)


def test_softmax_family_at_pm_1000_and_1e4() -> None:
    for big in (1000.0, 1e4):
        z = np.array([[big, big - 1.0, -big], [-big, 0.0, big]])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for name in ("softmax", "log_softmax", "logsumexp"):
                t = Tensor(z, requires_grad=True)
                out = getattr(t, name)()
                g = np.arange(1.0, 1.0 + out.data.size).reshape(out.data.shape)
                out.backward(gradient=g)
                assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(t.grad)), name
        shifted = z - z.max(axis=1, keepdims=True)
        sm = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(Tensor(z).softmax().data, sm, rtol=1e-14, atol=1e-300)


def test_underflow_to_zero_is_silent_and_exact_enough() -> None:
    x = Value(1e-300)
    y = x * x  # 1e-600 underflows to 0: a representable rounding, not an anomaly
    y.backward()
    assert y.data == 0.0 and x.grad == 2e-300
    s = Value(1e-300).sqrt()
    assert s.data == pytest.approx(1e-150, rel=1e-15)


@pytest.mark.parametrize("kind", ["Value", "Tensor"])
def test_kink_conventions(kind: str) -> None:
    def grad_at(name: str, x0: float, **kw: float) -> float:
        if kind == "Value":
            v = Value(x0)
            getattr(v, name)(**kw).backward()
            return v.grad
        t = Tensor([x0], requires_grad=True)
        getattr(t, name)(**kw).sum().backward()
        return 0.0 if t.grad is None else float(t.grad[0])  # None: no gradient reached t

    assert grad_at("relu", 0.0) == 0.0
    assert grad_at("abs", 0.0) == 0.0
    assert grad_at("sign", 0.0) == 0.0
    assert grad_at("leaky_relu", 0.0, alpha=0.2) == 0.2
    assert grad_at("relu", 1e-300) == 1.0 and grad_at("relu", -1e-300) == 0.0


def test_tensor_ties_and_bounds() -> None:
    from autograd_lite import clip, maximum, minimum

    t = Tensor([2.0, 2.0, 1.0], requires_grad=True)
    t.max().backward()
    np.testing.assert_array_equal(t.grad, [0.5, 0.5, 0.0])  # split between ties
    a, b = Tensor([1.0, 3.0], requires_grad=True), Tensor([1.0, 0.0], requires_grad=True)
    maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1.0])
    np.testing.assert_array_equal(b.grad, [0.5, 0.0])
    a.grad = b.grad = None
    minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0.0])
    c = Tensor([-1.0, 0.5, 0.0, 2.0], requires_grad=True)
    clip(c, -1.0, 0.5).sum().backward()
    np.testing.assert_array_equal(c.grad, [1.0, 1.0, 1.0, 0.0])  # 1 at the bounds


def test_cross_entropy_with_logits_of_1e4_is_finite_and_exact() -> None:
    losses = pytest.importorskip("autograd_lite.losses")
    z = np.array([[1e4, 1e4 - 1.0, -1e4], [-1e4, 1e4, 0.0]])
    y = np.array([1, 2])
    t = Tensor(z, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = losses.cross_entropy(t, y)
        loss.backward()
    # row 0: lse = 1e4 + log(1 + e^-1) (+ e^-2e4, far below rounding); picked 1e4 - 1
    # row 1: lse = 1e4 (+ log(1 + e^-1e4 + e^-2e4) = 0 in float64); picked 0
    expected = ((1.0 + math.log1p(math.exp(-1.0))) + 1e4) / 2
    assert float(loss.data) == pytest.approx(expected, rel=1e-15)
    p = 1.0 / (1.0 + math.exp(-1.0))
    softmax = np.array([[p, 1.0 - p, 0.0], [0.0, 1.0, 0.0]])
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(t.grad, (softmax - onehot) / 2, rtol=1e-15, atol=1e-300)
    # the Value path (lists of Values) agrees
    rows = [[Value(float(v)) for v in row] for row in z]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vloss = losses.cross_entropy(rows, y)
        vloss.backward()
    assert vloss.data == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose([[v.grad for v in row] for row in rows], t.grad, rtol=1e-14,
                               atol=1e-300)
