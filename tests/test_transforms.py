"""grad, value_and_grad, vjp, jvp, jacobian (fwd and rev): results, types, no side effects, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from autograd_lite.functional.transforms import gradients
from autograd_lite.rules import RULES

from autograd_lite import Tensor, Value, grad, jacobian, jvp, no_grad, value_and_grad, vjp


def numeric_jacobian(f: Callable[..., Any], args: list[Any], i: int, eps: float = 1e-6) -> np.ndarray:
    """Central differences of f (on plain arrays lifted to constant Tensors) w.r.t. argument i."""

    def call(a: list[Any]) -> np.ndarray:
        with no_grad():
            out = f(*[Tensor(x) if isinstance(x, np.ndarray) else Value(x) for x in a])
        return np.asarray(out.data, dtype=np.float64)

    x = np.asarray(args[i], dtype=np.float64)
    out_shape = call(args).shape
    J = np.zeros(out_shape + x.shape)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        ap, am = list(args), list(args)
        ap[i] = xp if x.shape else float(xp)
        am[i] = xm if x.shape else float(xm)
        J[(..., *idx)] = (call(ap) - call(am)) / (2 * eps)
    return J


# ----------------------------------------------------------------------------------------- grad

def test_grad_of_floats_arrays_and_nodes() -> None:
    assert grad(lambda x: x * x * x)(2.0) == 12.0
    assert isinstance(grad(lambda x: x * x)(2.0), float)
    g = grad(lambda x: (x * x).sum())(np.array([1.0, -2.0]))
    assert isinstance(g, np.ndarray)
    np.testing.assert_array_equal(g, [2.0, -4.0])
    np.testing.assert_array_equal(grad(lambda x: (x * x).sum())([1, 2]), [2.0, 4.0])  # ints lifted
    # nodes in, nodes out (differentiable again)
    v = Value(3.0)
    gv = grad(lambda x: x * x)(v)
    assert isinstance(gv, Value) and gv.data == 6.0 and gv.requires_grad
    t = Tensor([1.0, 2.0], requires_grad=True)
    gt = grad(lambda x: (x ** 3).sum())(t)
    assert isinstance(gt, Tensor)
    np.testing.assert_array_equal(gt.data, [3.0, 12.0])


def test_grad_argnums_and_kwargs() -> None:
    def f(x: Any, y: Any, scale: float = 1.0) -> Any:
        return (x * y).sum() * scale

    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    gx, gy = grad(f, argnums=(0, 1))(x, y, scale=2.0)
    np.testing.assert_array_equal(gx, 2 * y)
    np.testing.assert_array_equal(gy, 2 * x)
    np.testing.assert_array_equal(grad(f, argnums=-1)(x, y), x)
    # an argument left out of argnums is passed through untouched (an array here)
    np.testing.assert_array_equal(grad(lambda x, A: (A @ x).sum())(x, np.eye(2) * 3), [3.0, 3.0])


def test_value_and_grad_and_aux() -> None:
    val, g = value_and_grad(lambda x: (x.exp()).sum())(np.zeros(3))
    assert val == 3.0 and isinstance(val, float)
    np.testing.assert_array_equal(g, np.ones(3))
    (val, aux), g = value_and_grad(lambda x: (x * x, "note"), has_aux=True)(3.0)
    assert (val, aux, g) == (9.0, "note", 6.0)
    g, aux = grad(lambda x: (x * 2, {"k": 1}), has_aux=True)(1.0)
    assert g == 2.0 and aux == {"k": 1}


def test_grad_of_constant_function_is_zero() -> None:
    from autograd_lite.transforms import ZeroGradientWarning

    with pytest.warns(ZeroGradientWarning, match="does not depend on argument 0"):  # and says so
        assert grad(lambda x: 5.0)(1.0) == 0.0
    with pytest.warns(ZeroGradientWarning):
        np.testing.assert_array_equal(grad(lambda x: Tensor(2.0))(np.ones(3)), np.zeros(3))
    with pytest.warns(ZeroGradientWarning, match="argument 0 \\('x'\\)"):
        np.testing.assert_array_equal(grad(lambda x, y: (y * y).sum(), argnums=0)(np.ones(2), np.ones(2)),
                                      np.zeros(2))


def test_transforms_have_no_side_effects_on_user_nodes() -> None:
    W = Tensor(np.eye(2), requires_grad=True, label="W")
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = W @ x
    loss = (h * h).sum()
    gh = grad(lambda h: (h * h).sum())(h)          # h: an intermediate of the user's graph
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    assert W.grad is None and x.grad is None and h.grad is None
    (gW,) = gradients(loss, (W,))
    np.testing.assert_array_equal(gW, np.outer(2 * h.data, x.data))
    assert W.grad is None
    loss.backward()                                 # the graph is still usable: not consumed
    np.testing.assert_array_equal(W.grad, gW)


def test_grad_works_inside_no_grad() -> None:
    with no_grad():
        assert grad(lambda x: x.sin())(0.0) == 1.0


def test_gradients_total_derivative_through_several_paths() -> None:
    x = Value(2.0)
    h = x * x
    y = h * x + h          # x³ + x²
    gx, gh = gradients(y, (x, h))
    assert gx == 3 * 4 + 2 * 2 and gh == 2.0 + 1.0
    with pytest.raises(ValueError, match="not a scalar"):
        gradients(Tensor([1.0, 2.0], requires_grad=True) * 2, Tensor([1.0]))


# ------------------------------------------------------------------------------------------ vjp / jvp

def test_vjp_rows_of_the_jacobian_and_reuse() -> None:
    rng = np.random.default_rng(0)
    B = rng.normal(size=(3, 4))
    out, vjp_fn = vjp(lambda x: B @ x, np.ones(4))
    np.testing.assert_allclose(out, B @ np.ones(4))
    for k in range(3):                               # vjp_fn can be called many times
        (row,) = vjp_fn(np.eye(3)[k])
        np.testing.assert_allclose(row, B[k])
    _, vjp2 = vjp(lambda x, y: (x * y, x.sum()), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    gx, gy = vjp2((np.array([1.0, 1.0]), np.array(2.0)))
    np.testing.assert_array_equal(gx, [5.0, 6.0])
    np.testing.assert_array_equal(gy, [1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        vjp_fn(np.ones(2))


def test_jvp_is_true_forward_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """jvp must run the JVP rules only: make every VJP rule explode while it runs."""

    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("jvp called a VJP rule")

    for rule in RULES.values():
        monkeypatch.setattr(rule, "vjp", boom)
    rng = np.random.default_rng(1)
    W = rng.normal(size=(3, 4))
    x, u = rng.normal(size=4), rng.normal(size=4)
    out, t = jvp(lambda x: (W @ x).tanh().softmax(), (x,), (u,))
    monkeypatch.undo()
    J = jacobian(lambda x: (W @ x).tanh().softmax())(x)
    np.testing.assert_allclose(t, J @ u, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(out, np.exp(np.tanh(W @ x)) / np.exp(np.tanh(W @ x)).sum())


def test_jvp_scalars_tuple_outputs_and_errors() -> None:
    assert jvp(lambda x, y: x * y + y.exp(), (2.0, 0.0), (1.0, 1.0)) == (1.0, 3.0)  # y·dx + (x + eʸ)·dy
    outs, tans = jvp(lambda x: (x.sin(), x.cos()), (0.0,), (1.0,))
    assert outs == (0.0, 1.0) and tans == (1.0, 0.0)
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        jvp(lambda x: x * 2, (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match="one tangent per primal"):
        jvp(lambda x: x * 2, (np.ones(3),), ())


def test_reverse_over_forward() -> None:
    """The tangent of a jvp on nodes is itself differentiable: d/dx [f'(x)·1] = f''(x)."""
    f = lambda x: x.sin() * x
    d2 = grad(lambda x: jvp(f, (x,), (1.0,))[1])
    x = 0.8
    assert d2(x) == pytest.approx(2 * np.cos(x) - x * np.sin(x), rel=1e-12)


# ------------------------------------------------------------------------------------------ jacobian

def _check_jacobian(f: Callable[..., Any], args: list[Any], argnums: Any = 0,
                    expected: Any = None, rtol: float = 1e-6) -> None:
    rev = jacobian(f, argnums, mode="rev")(*args)
    fwd = jacobian(f, argnums, mode="fwd")(*args)
    nums = (argnums,) if isinstance(argnums, int) else argnums
    rev_t = (rev,) if isinstance(argnums, int) else rev
    fwd_t = (fwd,) if isinstance(argnums, int) else fwd
    for k, i in enumerate(nums):
        np.testing.assert_allclose(fwd_t[k], rev_t[k], rtol=1e-12, atol=1e-14,
                                   err_msg=f"fwd and rev disagree for argument {i}")
        np.testing.assert_allclose(rev_t[k], numeric_jacobian(f, args, i), rtol=rtol, atol=1e-8,
                                   err_msg=f"Jacobian disagrees with finite differences, argument {i}")
        if expected is not None:
            np.testing.assert_allclose(rev_t[k], expected[k], rtol=1e-12, atol=1e-14)


def test_jacobian_of_affine_map_is_B() -> None:
    rng = np.random.default_rng(2)
    B, c = rng.normal(size=(3, 5)), rng.normal(size=3)
    _check_jacobian(lambda x: B @ x + c, [rng.normal(size=5)], expected=[B])


def test_jacobian_of_softmax_is_diag_s_minus_ssT() -> None:
    x = np.array([0.5, -1.0, 2.0, 0.1])
    s = np.exp(x) / np.exp(x).sum()
    _check_jacobian(lambda x: x.softmax(), [x], expected=[np.diag(s) - np.outer(s, s)])


def test_jacobian_of_seed_network() -> None:
    """y = σ(Σ_i w_i v_i(Σ_j w_ij x_j)) with σ = v_i = tanh (td-chain-rule seed), w.r.t. (w, W)."""
    rng = np.random.default_rng(3)
    H, N = 4, 3
    w, W, x = rng.normal(size=H), rng.normal(size=(H, N)), rng.normal(size=N)

    def f(w: Any, W: Any, x: Any) -> Any:
        return (w @ (W @ x).tanh()).tanh()

    v = np.tanh(W @ x)
    y = np.tanh(w @ v)
    dw = (1 - y * y) * v                                     # ∂y/∂w_i = σ'(·) v_i
    dW = (1 - y * y) * np.outer(w * (1 - v * v), x)          # ∂y/∂w_ij = σ'(·) w_i v_i'(·) x_j
    _check_jacobian(f, [w, W, x], argnums=(0, 1), expected=[dw, dW])
    # a batch of observations: a vector output, Jacobians of shape (batch, H) and (batch, H, N)
    X = rng.normal(size=(5, N))
    batch = lambda w, W, X: ((X @ W.T).tanh() @ w).tanh()
    _check_jacobian(batch, [w, W, X], argnums=(0, 1, 2))


def test_jacobian_of_scalar_value_functions() -> None:
    J = jacobian(lambda x, y: (x * y, x + y.exp()), argnums=(0, 1), mode="fwd")(2.0, 0.0)
    assert J == ((0.0, 2.0), (1.0, 1.0))
    assert jacobian(lambda x, y: (x * y, x + y.exp()), argnums=(0, 1), mode="rev")(2.0, 0.0) == J


def test_jacobian_keeps_float32() -> None:
    x = np.ones(3, dtype=np.float32)
    J = jacobian(lambda x: x * 2.0)(x)
    np.testing.assert_array_equal(J, 2 * np.eye(3))


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="must return a scalar"):
        grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(ValueError, match="argnums"):
        grad(lambda x: x, argnums=3)(1.0)
    with pytest.raises(TypeError, match="argument 0 of type str"):
        grad(lambda x: x)("a")
    with pytest.raises(ValueError, match="mode='rev'"):
        jacobian(lambda x: x, mode="backward")
    with pytest.raises(TypeError, match="returned a str"):
        grad(lambda x: "x")(1.0)


def test_jvp_and_hvp_refuse_a_bare_array_with_the_fix() -> None:
    import numpy as np
    import pytest

    from autograd_lite import hvp, jvp

    x, v = np.array([1.0, 2.0]), np.array([1.0, 1.0])
    with pytest.raises(TypeError, match=r"must be a tuple.*\(x,\), \(v,\)"):
        hvp(lambda t: (t**3).sum(), x, v)
    with pytest.raises(TypeError, match="must be a tuple"):
        jvp(lambda t: t * t, x, (v,))
    g, hv = hvp(lambda t: (t**3).sum(), [x], [v])
    np.testing.assert_allclose(g, 3 * x**2)
    np.testing.assert_allclose(hv, 6 * x * v)
