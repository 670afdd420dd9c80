"""Second derivatives through every rule of the table, and Hessians against closed forms.

`test_second_derivative_of_every_rule` walks `RULES` with the cases of tests/test_rules.py (new
rules get their `Case` there): for f(x) = <c, rule(x)> it builds the gradient with
``backward(create_graph=True)``, differentiates <∇f, u> again (reverse over reverse), and pushes u
through the gradient graph with the JVP rules (`hvp`, forward over reverse). Both must equal the
central finite difference of the first derivative along u. Piecewise-linear rules (relu, abs,
sign, leaky_relu) must give exactly zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from autograd_lite.functional.transforms import gradients
from autograd_lite.rules import RULES
from rulecheck import Case, draw
from test_rules import CASES, EXTRA, _static

from autograd_lite import Tensor, Value, grad, hessian, hvp, jacobian

ZERO_SECOND = {"relu", "abs", "sign", "leaky_relu"}
EPS = 1e-5


def _runs(name: str) -> list[tuple[type, tuple, dict]]:
    case = CASES[name]
    rule = RULES[name]
    runs: list[tuple[type, tuple, dict]] = []
    if case.scalar:
        runs.append((Value, ((),) * case.scalar, _static(case, ())))
    if "Tensor" in rule.nodes:
        runs.extend((Tensor, shapes, _static(case, shapes)) for shapes in case.shapes)
        runs.extend((Tensor, shapes, static) for n, shapes, static in EXTRA if n == name)
    return runs


def _inputs(cls: type, shapes: tuple, case: Case, rng: np.random.Generator) -> list[Any]:
    if cls is Value:
        return [float(draw(rng, (), case)) for _ in shapes]
    return list(case.make(rng, shapes) if case.make else [draw(rng, s, case) for s in shapes])


def _first_derivative(rule: Any, cls: type, datas: list[Any], static: dict, c: Any,
                      create_graph: bool) -> tuple[list[Any], list[Any]]:
    nodes = [Value(d) if cls is Value else Tensor(d, requires_grad=True) for d in datas]
    out = cls._apply(rule, tuple(nodes), static)
    y = out * c if cls is Value else (out * c).sum()
    y.backward(create_graph=create_graph)
    return nodes, [n.grad for n in nodes]


def _raw(g: Any, like: Any) -> np.ndarray:
    if g is None:
        return np.zeros(np.shape(like))
    return np.asarray(g.data if hasattr(g, "data") else g, dtype=np.float64) + np.zeros(np.shape(like))


@pytest.mark.parametrize("name", sorted(RULES))
def test_second_derivative_of_every_rule(name: str) -> None:
    if name not in CASES:
        pytest.skip("no Case yet: tests/test_rules.py::test_every_rule_has_a_case reports it")
    case = CASES[name]
    rule = RULES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    for cls, shapes, static in _runs(name):
        datas = _inputs(cls, shapes, case, rng)
        ans = rule.forward(*datas, **static)
        c = float(rng.normal()) if cls is Value else rng.normal(size=np.shape(ans))
        us = [float(rng.normal()) if cls is Value else rng.normal(size=np.shape(d)) for d in datas]
        where = f"{name} ({cls.__name__}, shapes {shapes}, static {static})"

        # reverse over reverse: the engine's create_graph gradient, differentiated again
        nodes, grads = _first_derivative(rule, cls, datas, static, c, create_graph=True)
        s: Any = 0.0
        for g, u in zip(grads, us):
            if g is not None and not (cls is Value and not isinstance(g, Value)):
                s = s + (g * u if cls is Value else (g * u).sum())
        if isinstance(s, Value | Tensor) and s.requires_grad:
            rr = [_raw(h, d) for h, d in zip(gradients(s, nodes), datas)]
        else:
            rr = [np.zeros(np.shape(d)) for d in datas]

        # forward over reverse: the tangents pushed through the gradient graph (JVP rules on nodes)
        def f(*xs: Any, rule: Any = rule, static: dict = static, c: Any = c) -> Any:
            out = type(xs[0])._apply(rule, xs, static)
            return out * c if isinstance(out, Value) else (out * c).sum()

        _, hv = hvp(f, datas, us)
        fr = [_raw(h, d) for h, d in zip(hv if len(datas) > 1 else (hv,), datas)]

        # central differences of the first derivative along u
        plus = _first_derivative(rule, cls, [d + EPS * u for d, u in zip(datas, us)], static, c, False)[1]
        minus = _first_derivative(rule, cls, [d - EPS * u for d, u in zip(datas, us)], static, c, False)[1]
        numeric = [(_raw(p, d) - _raw(m, d)) / (2 * EPS) for p, m, d in zip(plus, minus, datas)]

        for i, (a, b, n) in enumerate(zip(rr, fr, numeric)):
            np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-7,
                                       err_msg=f"{where}: reverse-over-reverse H·u, input {i}")
            np.testing.assert_allclose(b, n, rtol=1e-5, atol=1e-7,
                                       err_msg=f"{where}: forward-over-reverse H·u, input {i}")
            if name in ZERO_SECOND:
                assert not np.any(a) and not np.any(b), f"{where}: second derivative must be 0"


def test_every_rule_is_walked() -> None:
    """The walk above covers the whole table (a rule without a case is skipped, and test_rules fails)."""
    walked = {n for n in RULES if n in CASES and _runs(n)}
    assert walked == set(RULES) & set(CASES)
    assert {"tanh", "sigmoid", "softmax", "log_softmax", "matmul", "pow"} <= walked


# ------------------------------------------------------------------------------ closed-form Hessians

def test_grad_of_grad_scalar() -> None:
    d2 = grad(grad(lambda x: x.tanh()))
    for x in (-1.3, 0.2, 2.0):
        t = np.tanh(x)
        assert d2(x) == pytest.approx(-2 * t * (1 - t * t), rel=1e-12)
    d3 = grad(grad(grad(lambda x: x.sigmoid())))
    s = 1 / (1 + np.exp(-0.3))
    assert d3(0.3) == pytest.approx(s * (1 - s) * (1 - 6 * s + 6 * s * s), rel=1e-10)
    assert grad(grad(lambda x: x.relu()))(0.7) == 0.0
    assert grad(grad(lambda x: abs(x) + x.sign()))(-0.7) == 0.0


def test_hessian_least_squares_is_AtA() -> None:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 3))
    b = rng.normal(size=5)
    H = hessian(lambda x: 0.5 * ((A @ x - b) ** 2).sum())(rng.normal(size=3))
    np.testing.assert_allclose(H, A.T @ A, rtol=1e-12, atol=1e-12)


def test_hessian_of_two_parameter_logistic_loss() -> None:
    """L(w) = Σ_i softplus(-y_i wᵀx_i); H = Σ_i σ(z_i)(1 - σ(z_i)) x_i x_iᵀ with z_i = wᵀx_i."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 2))
    y = np.where(rng.random(8) < 0.5, -1.0, 1.0)
    w = np.array([0.3, -0.7])

    def loss(w: Tensor) -> Tensor:
        return (-(X @ w) * y).softplus().sum()

    z = X @ w
    s = 1 / (1 + np.exp(-z))
    H_closed = (X.T * (s * (1 - s))) @ X
    np.testing.assert_allclose(hessian(loss)(w), H_closed, rtol=1e-10, atol=1e-12)
    # the same loss written with log σ on two scalar Values: blocks of the tuple hessian
    def loss2(w1: Value, w2: Value) -> Value:
        total: Any = 0.0
        for (a, b), yi in zip(X, y):
            total = total - ((w1 * a + w2 * b) * yi).log_sigmoid()
        return total

    blocks = hessian(loss2, argnums=(0, 1))(0.3, -0.7)
    np.testing.assert_allclose(np.array(blocks, dtype=float), H_closed, rtol=1e-10, atol=1e-12)


def test_hvp_matches_hessian_times_vector() -> None:
    rng = np.random.default_rng(2)
    W = rng.normal(size=(4, 3))

    def f(x: Tensor) -> Tensor:
        return (W @ x).tanh().softmax().log().sum() + (x ** 3).sum()

    x = rng.normal(size=3)
    v = rng.normal(size=3)
    g, hv = hvp(f, (x,), (v,))
    np.testing.assert_allclose(g, grad(f)(x), rtol=1e-12)
    np.testing.assert_allclose(hv, hessian(f)(x) @ v, rtol=1e-9, atol=1e-12)
    H = hessian(f)(x)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_jacobian_of_gradient_in_both_modes() -> None:
    """Forward over reverse and reverse over reverse give the same Hessian."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 3))

    def f(x: Tensor) -> Tensor:
        return (A @ x).sigmoid().sum() * (x * x).sum()

    x = rng.normal(size=3)
    np.testing.assert_allclose(jacobian(grad(f), mode="fwd")(x), jacobian(grad(f), mode="rev")(x),
                               rtol=1e-10, atol=1e-12)


def test_third_order_through_nested_jacobians() -> None:
    """Nodes all the way down: the Jacobian of a Hessian is the third-derivative tensor.

    f = Σx³ + (Σx²)(Σx):  ∂³f/∂i∂j∂k = 6δ_ijk + 2(δ_ij + δ_ik + δ_jk)."""
    T = jacobian(hessian(lambda x: (x ** 3).sum() + (x * x).sum() * x.sum()))(np.array([1.0, 2.0]))
    d = np.eye(2)
    expected = 2 * (d[:, :, None] + d[:, None, :] + d[None, :, :])
    expected[0, 0, 0] += 6.0
    expected[1, 1, 1] += 6.0
    np.testing.assert_allclose(T, expected, atol=1e-12)
