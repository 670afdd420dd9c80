"""Tensor behaviour: construction, dtypes, backward semantics, indexing, numpy interop, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as al
import autograd_lite.functional as F
from autograd_lite import Tensor, Value, no_grad


def leaf(a: object, dtype: object = None) -> Tensor:
    return Tensor(np.asarray(a, dtype=dtype or np.float64), requires_grad=True)


def numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


# --- construction and properties -------------------------------------------------------------------

def test_constructor_defaults_and_properties() -> None:
    t = Tensor([[1, 2, 3], [4, 5, 6]], label="t")
    assert t.dtype == np.float64 and t.shape == (2, 3) and t.ndim == 2 and t.size == 6
    assert t.label == "t" and not t.requires_grad and t.grad is None and t.is_leaf
    assert t.T.shape == (3, 2) and t.T.data[2, 1] == 6.0
    assert Tensor([[2.5]]).item() == 2.5
    assert t.numpy() is t.data and np.asarray(t) is t.data
    assert Tensor(3.0).shape == ()
    assert "label='t'" in repr(t)
    f32 = Tensor([1.0, 2.0], dtype=np.float32)
    assert f32.dtype == np.float32 and "float32" in repr(f32)


def test_integer_and_bool_tensors_cannot_require_grad() -> None:
    assert Tensor(np.arange(3)).dtype.kind == "i"  # integer data is kept (labels)
    with pytest.raises(TypeError, match="cannot require grad"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="cannot require grad"):
        Tensor(np.array([True, False]), requires_grad=True)
    with pytest.raises(TypeError, match="cannot require grad"):
        al.zeros(3, dtype=np.int64, requires_grad=True)


def test_bad_data_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="Tensor"):
        Tensor("abc")
    with pytest.raises(TypeError, match="Tensor"):
        Tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="Value"):
        Tensor(Value(1.0))


def test_factories() -> None:
    assert np.array_equal(al.zeros(2, 3).data, np.zeros((2, 3)))
    assert np.array_equal(al.ones((2,)).data, np.ones(2))
    assert np.array_equal(al.arange(1, 4).data, [1.0, 2.0, 3.0]) and al.arange(3).dtype == np.float64
    assert np.array_equal(al.eye(3).data, np.eye(3))
    assert al.zeros(2, dtype=np.float32).dtype == np.float32
    w = al.randn(3, 4, seed=1, requires_grad=True, label="W")
    assert w.requires_grad and w.label == "W" and w.shape == (3, 4)
    assert np.array_equal(w.data, np.random.default_rng(1).standard_normal((3, 4)))
    assert np.array_equal(al.randn(2, rng=np.random.default_rng(5)).data,
                          np.random.default_rng(5).standard_normal(2))
    al.manual_seed(3)
    a = al.randn(4).data
    b = al.randn(4).data
    al.manual_seed(3)
    assert np.array_equal(al.randn(4).data, a) and not np.array_equal(a, b)
    assert al.zeros_like(w).shape == (3, 4) and al.ones_like(np.zeros(2)).data.sum() == 2


# --- backward semantics ------------------------------------------------------------------------------

def test_non_scalar_backward_needs_gradient() -> None:
    x = leaf([1.0, 2.0])
    y = x * x
    with pytest.raises(RuntimeError, match="not a scalar"):
        y.backward()
    y.backward(gradient=np.array([1.0, 10.0]))
    assert np.allclose(x.grad, [2.0, 40.0])


def test_backward_gradient_shape_is_checked() -> None:
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\)"):
        y.backward(gradient=np.ones(3))
    with pytest.raises(TypeError, match="expected an array"):
        y.backward(gradient="x")


def test_intermediates_keep_grad_unless_asked() -> None:
    x = leaf([1.0, -2.0])
    h = x * 3
    y = (h * h).sum()
    y.backward()
    assert np.allclose(h.grad, 2 * h.data) and np.allclose(x.grad, 18 * x.data)
    x2 = leaf([1.0, -2.0])
    h2 = x2 * 3
    (h2 * h2).sum().backward(intermediate_grads=False)
    assert h2.grad is None and np.allclose(x2.grad, 18 * x2.data)


def test_requires_grad_propagates_and_no_grad_detach() -> None:
    x = leaf([1.0])
    c = Tensor([2.0])
    assert (x * c).requires_grad and not (c * c).requires_grad
    with no_grad():
        assert not (x * c).requires_grad
    d = x.detach()
    assert not d.requires_grad and d.data is x.data
    with pytest.raises(RuntimeError, match="does not depend"):
        (c * 2).sum().backward()


def test_leaves_accumulate_and_broadcast_reduces_once() -> None:
    b = leaf([1.0, 2.0, 3.0])
    X = Tensor(np.ones((4, 3)))
    (X + b).sum().backward()
    assert np.array_equal(b.grad, [4.0, 4.0, 4.0])
    (X * b).sum().backward()
    assert np.array_equal(b.grad, [8.0, 8.0, 8.0])  # leaves accumulate across graphs


def test_mixing_value_and_tensor_raises() -> None:
    with pytest.raises(TypeError, match="cannot mix"):
        Tensor([1.0]) + Value(1.0)
    with pytest.raises(TypeError, match="cannot mix"):
        Value(1.0) * Tensor([1.0])


def test_operands_on_either_side() -> None:
    x = leaf([1.0, 2.0])
    a = np.array([3.0, 4.0])
    for y, expect in [(2 + x, [3, 4]), (x - 1, [0, 1]), (1 - x, [0, -1]), (a * x, [3, 8]),
                      (x / 2, [0.5, 1]), (2 / x, [2, 1]), (x ** 2, [1, 4]), (2 ** x, [2, 4]),
                      (a - x, [2, 2]), (-x, [-1, -2]), (x @ a, 11.0), (a @ x, 11.0)]:
        assert isinstance(y, Tensor)
        assert np.allclose(y.data, expect)


# --- dtypes -----------------------------------------------------------------------------------------------

def test_float32_kept_through_ops_and_gradients() -> None:
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.1]], dtype=np.float32), requires_grad=True)
    W = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    h = (x @ W + 1.0) * 2 - np.ones(3)
    h = h.relu().tanh().sigmoid().softplus()
    h = (h / 3).exp().log().sqrt().softmax().log_softmax().clip(-10.0, 0.0)
    loss = (h.maximum(-5.0) ** 2).var() + h[0].sum() + h.max() + x.abs().mean()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and W.grad.dtype == np.float32


def test_float32_leaky_relu_gradient() -> None:
    x = Tensor(np.array([-1.0, 2.0], dtype=np.float32), requires_grad=True)
    x.leaky_relu(0.1).sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_float_dtypes_cast_the_gradient_back() -> None:
    x32 = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y64 = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    z = (x32 * y64).sum()
    assert z.dtype == np.float64
    z.backward()
    assert x32.grad.dtype == np.float32 and y64.grad.dtype == np.float64
    assert np.allclose(x32.grad, [3.0, 4.0])
    assert x32.astype(np.float64).dtype == np.float64 and x32.astype(np.float32) is x32


# --- reductions, shapes, indexing ----------------------------------------------------------------------

@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "var"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, True), (-1, False), ((0, 2), False)])
def test_reductions_match_numpy_and_finite_differences(op: str, axis: object, keepdims: bool) -> None:
    x0 = np.random.default_rng(0).permutation(24).reshape(2, 3, 4) / 7.0
    x = leaf(x0)
    y = getattr(x, op)(axis=axis, keepdims=keepdims)
    assert np.allclose(y.data, getattr(np, op)(x0, axis=axis, keepdims=keepdims))
    w = np.random.default_rng(1).normal(size=y.shape)
    (y * w).sum().backward()
    num = numeric_grad(lambda a: float((getattr(np, op)(a, axis=axis, keepdims=keepdims) * w).sum()), x0)
    assert np.allclose(x.grad, num, atol=1e-6)


def test_max_splits_the_gradient_between_ties() -> None:
    x = leaf([1.0, 3.0, 3.0])
    x.max().backward()
    assert np.array_equal(x.grad, [0.0, 0.5, 0.5])
    a, b = leaf([1.0, 2.0]), leaf([1.0, 0.0])
    al.maximum(a, b).sum().backward()
    assert np.array_equal(a.grad, [0.5, 1.0]) and np.array_equal(b.grad, [0.5, 0.0])


def test_shape_ops() -> None:
    x = leaf(np.arange(6.0).reshape(1, 2, 3))
    assert x.squeeze().shape == (2, 3) and x.squeeze(0).shape == (2, 3)
    assert x.unsqueeze(-1).shape == (1, 2, 3, 1) and x.unsqueeze(0).shape == (1, 1, 2, 3)
    assert x.flatten().shape == (6,) and x.flatten(1).shape == (1, 6)
    assert x.permute(2, 0, 1).shape == (3, 1, 2) and x.reshape(3, -1).shape == (3, 2)
    assert x.broadcast_to((4, 2, 3)).shape == (4, 2, 3)
    (x.squeeze().T.flatten() * np.arange(6.0)).sum().backward()
    assert np.array_equal(x.grad, np.arange(6.0).reshape(3, 2).T.reshape(1, 2, 3))
    with pytest.raises(ValueError, match="length 2, not 1"):
        x.squeeze(1)
    with pytest.raises(ValueError, match="cannot reshape"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="out of range"):
        x.sum(axis=3)
    with pytest.raises(ValueError, match="cannot broadcast"):
        x.broadcast_to((2, 2))


def test_indexing_basic_and_integer_arrays_scatter_add() -> None:
    x0 = np.arange(12.0).reshape(3, 4)
    x = leaf(x0)
    rows = np.array([0, 2, 2, 0, 2])
    cols = np.array([1, 1, 1, 3, 0])
    y = x[rows, cols] * np.arange(1.0, 6.0)
    assert np.array_equal(y.data, x0[rows, cols] * np.arange(1.0, 6.0))
    y.sum().backward()
    expect = np.zeros((3, 4))
    np.add.at(expect, (rows, cols), np.arange(1.0, 6.0))
    assert np.array_equal(x.grad, expect) and expect[2, 1] == 5.0  # repeated index: 2 + 3
    z = leaf(x0)
    (z[1:, ::2].sum() + z[..., -1].sum() + z[z.data > 9].sum() + z[Tensor(np.array([1]))].sum()).backward()
    ref = np.zeros((3, 4))
    ref[1:, ::2] += 1
    ref[..., -1] += 1
    ref[x0 > 9] += 1
    ref[1] += 1
    assert np.array_equal(z.grad, ref)
    assert [float(r.sum().item()) for r in Tensor(x0)] == [6.0, 22.0, 38.0]  # iteration stops
    with pytest.raises(IndexError, match=r"shape \(3, 4\)"):
        x[5]
    with pytest.raises(IndexError, match="integer or bool"):
        x[np.array([0.5])]
    with pytest.raises(TypeError, match="item assignment"):
        x[0] = 1.0


def test_indexing_second_derivative_through_scatter() -> None:
    x = leaf([1.0, 2.0, 3.0])
    y = (x[[0, 0, 2]] ** 3).sum()  # y = 2 x0^3 + x2^3
    (gx,) = [None]
    y.backward(create_graph=True)
    gx = x.grad
    assert np.allclose(gx.data, [6.0, 0.0, 27.0])
    x.grad = None
    (gx * np.array([1.0, 1.0, 1.0])).sum().backward()
    assert np.allclose(x.grad, [12.0, 0.0, 18.0])  # d/dx of (6 x0^2 + 3 x2^2)


def test_concatenate_and_stack() -> None:
    a, b = leaf(np.ones((2, 3))), leaf(np.zeros((1, 3)))
    c = al.concatenate([a, b], axis=0)
    assert c.shape == (3, 3)
    (c * np.arange(9.0).reshape(3, 3)).sum().backward()
    assert np.array_equal(a.grad, np.arange(6.0).reshape(2, 3))
    assert np.array_equal(b.grad, [[6.0, 7.0, 8.0]])
    p, q = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    s = al.stack([p, q], axis=1)
    assert np.array_equal(s.data, [[1.0, 3.0], [2.0, 4.0]])
    (s * np.array([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert np.array_equal(p.grad, [1.0, 3.0]) and np.array_equal(q.grad, [2.0, 4.0])
    with pytest.raises(ValueError, match="must agree"):
        al.concatenate([a, leaf(np.ones((2, 2)))], axis=0)
    with pytest.raises(ValueError, match="same shape"):
        al.stack([p, leaf([1.0])])


def test_where_clip_maximum_minimum() -> None:
    x = leaf([-2.0, -0.5, 0.5, 2.0])
    y = al.where(x > 0, x * 2, x * -1).sum() + x.clip(-1.0, 1.0).sum() + al.minimum(x, 0.0).sum()
    y.backward()
    assert np.array_equal(x.grad, [-1 + 0 + 1, -1 + 1 + 1, 2 + 1 + 0, 2 + 0 + 0])
    with pytest.raises(ValueError, match="at least one"):
        x.clip()
    with pytest.raises(ValueError, match="do not broadcast"):
        al.maximum(x, np.ones(3))


def test_one_hot_validates_labels() -> None:
    assert np.array_equal(al.one_hot([1, 0], 3).data, [[0, 1, 0], [1, 0, 0]])
    assert al.one_hot(np.array([[0, 1]]), 2).shape == (1, 2, 2)
    with pytest.raises(ValueError, match="1-based"):
        al.one_hot([1, 2, 3], 3)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        al.one_hot([-1], 3)
    with pytest.raises(ValueError, match="whole numbers"):
        al.one_hot([0.5], 3)
    with pytest.raises(ValueError, match="positive int"):
        al.one_hot([0], 0)


def test_matmul_shapes_and_errors() -> None:
    for sx, sy in [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                   ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2))]:
        rng = np.random.default_rng(0)
        x0, y0 = rng.normal(size=sx), rng.normal(size=sy)
        x, y = leaf(x0), leaf(y0)
        out = x @ y
        assert np.allclose(out.data, x0 @ y0)
        w = rng.normal(size=out.shape)
        (out * w).sum().backward()
        gx = numeric_grad(lambda a, y0=y0, w=w: float(((a @ y0) * w).sum()), x0)
        gy = numeric_grad(lambda b, x0=x0, w=w: float(((x0 @ b) * w).sum()), y0)
        assert np.allclose(x.grad, gx, atol=1e-6) and np.allclose(y.grad, gy, atol=1e-6)
    with pytest.raises(ValueError, match="do not align"):
        leaf(np.ones((2, 3))) @ leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match="at least 1 axis"):
        al.matmul(leaf(1.0), leaf([1.0]))


# --- softmax family: O(n) and stable -------------------------------------------------------------------

def test_softmax_family_is_stable_at_1000() -> None:
    x = leaf([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = x.softmax()
        ls = x.log_softmax()
        lse = x.logsumexp(axis=-1)
        sg = x.sigmoid()
        (s.sum() + ls[0, 0] + lse.sum() + sg.sum() + x.softplus().sum()).backward()
    assert np.allclose(s.data[0], [1.0, 0.0, 0.0]) and np.allclose(s.data[1], 1 / 3)
    assert np.allclose(ls.data[0], [0.0, -1000.0, -2000.0])
    assert np.allclose(lse.data, [1000.0, -1000.0 + np.log(3)])
    assert np.all(np.isfinite(x.grad))


def test_softmax_vjp_is_the_o_n_formula() -> None:
    x0 = np.random.default_rng(2).normal(size=6)
    g = np.random.default_rng(3).normal(size=6)
    x = leaf(x0)
    x.softmax().backward(gradient=g)
    s = np.exp(x0) / np.exp(x0).sum()
    jac = np.diag(s) - np.outer(s, s)  # only here, to check the O(n) rule against the definition
    assert np.allclose(x.grad, jac.T @ g)


# --- numpy interop -------------------------------------------------------------------------------------

def test_numpy_ufuncs_use_the_rules() -> None:
    x = leaf([0.5, 1.5])
    y = np.exp(x) + np.log(x) * np.tanh(x) - np.sqrt(x) / np.add(x, 1.0)
    assert isinstance(y, Tensor)
    y = np.multiply(np.array([2.0, 3.0]), y)  # ndarray first: still a Tensor
    assert isinstance(y, Tensor)
    np.sum(y).backward()
    x0 = x.data.copy()

    def f(a: np.ndarray) -> float:
        inner = np.exp(a) + np.log(a) * np.tanh(a) - np.sqrt(a) / (a + 1)
        return float((np.array([2.0, 3.0]) * inner).sum())

    assert np.allclose(x.grad, numeric_grad(f, x0), atol=1e-6)
    assert isinstance(np.array([1.0, 2.0]) + x, Tensor) and isinstance(np.matmul(x, x), Tensor)
    assert np.array_equal(np.isfinite(x), [True, True]) and np.array_equal(np.greater(x, 1.0), [False, True])


def test_numpy_functions_map_to_tensor_ops_or_raise() -> None:
    x = leaf(np.arange(6.0).reshape(2, 3))
    for out in [np.concatenate([x, x]), np.stack([x, x]), np.mean(x, axis=0), np.max(x),
                np.reshape(x, (3, 2)), np.transpose(x), np.where(x.data > 1, x, 0.0), np.clip(x, 0, 1)]:
        assert isinstance(out, Tensor) and out.requires_grad
    assert np.shape(x) == (2, 3) and np.allclose(x, x.data) and int(np.argmax(x)) == 5
    with pytest.raises(TypeError, match=r"np\.cumsum"):
        np.cumsum(x)
    with pytest.raises(TypeError, match=r"np\.arctan"):
        np.arctan(x)
    with pytest.raises(TypeError, match=r"np\.add\.reduce"):
        np.add.reduce(x)
    with pytest.raises(TypeError, match="out"):
        np.exp(x, out=np.empty((2, 3)))


def test_functional_ops_work_on_values_and_tensors() -> None:
    v = Value(0.3)
    assert abs(F.sigmoid(v).data - 1 / (1 + np.exp(-0.3))) < 1e-15
    t = F.leaky_relu(leaf([-1.0, 2.0]), alpha=0.2)
    assert np.allclose(t.data, [-0.2, 2.0])
    assert np.allclose(F.softmax(np.array([0.0, 0.0])).data, [0.5, 0.5])
    assert F.var([1.0, 3.0]).item() == 1.0 and F.flatten(np.ones((2, 2))).shape == (4,)
    with pytest.raises(TypeError, match="Tensors"):
        F.softmax(Value(1.0))


# --- broadcasting, generated ----------------------------------------------------------------------------

@st.composite
def broadcast_pair(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    out = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    a = [n if draw(st.booleans()) else 1 for n in out]
    b = [n if draw(st.booleans()) else 1 for n in out]
    return tuple(a[draw(st.integers(0, len(a))):]), tuple(b[draw(st.integers(0, len(b))):])


@settings(max_examples=40, deadline=None)
@given(broadcast_pair(), st.sampled_from(["add", "sub", "mul", "div", "maximum"]))
def test_broadcast_gradients_have_the_parents_shapes(shapes: tuple, op: str) -> None:
    sa, sb = shapes
    rng = np.random.default_rng(0)
    a0, b0 = rng.uniform(1, 2, size=sa), rng.uniform(3, 4, size=sb)
    a, b = leaf(a0), leaf(b0)
    fn = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
          "maximum": np.maximum}[op]
    out = fn(a, b)
    w = rng.normal(size=out.shape)
    (out * w).sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    assert np.allclose(a.grad, numeric_grad(lambda x: float((fn(x, b0) * w).sum()), a0), atol=1e-6)
    assert np.allclose(b.grad, numeric_grad(lambda y: float((fn(a0, y) * w).sum()), b0), atol=1e-6)


def test_backward_through_a_scalar_index() -> None:
    """The seeds' loss written with o^a_y picks one element: its 0-d gradient scatters back."""
    oa = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (oa.logsumexp() - oa[2]).backward()
    s = np.exp(oa.data) / np.exp(oa.data).sum()
    np.testing.assert_allclose(oa.grad, s - np.array([0.0, 0.0, 1.0]), rtol=1e-12)
    t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (t[0] * 2).backward()
    np.testing.assert_array_equal(t.grad, [2.0, 0.0, 0.0])
