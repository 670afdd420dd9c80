"""The numpy fast paths of the elementwise rules give the numbers and the warnings of the plain forms."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

from autograd_lite import Tensor, Value
from autograd_lite.core import rules as R

EDGES = [-1000.0, -745.0, -720.0, -30.0, -1e-300, -0.0, 0.0, 1e-300, 0.5, 30.0, 720.0, 1000.0,
         math.inf, -math.inf, math.nan]


def two_branch(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def test_array_sigmoid_is_the_two_branch_formula_bit_for_bit() -> None:
    x = np.array(EDGES + list(np.random.default_rng(0).normal(size=50) * 40))
    assert np.array_equal(R.sigmoid(x), two_branch(x), equal_nan=True)
    assert np.array_equal(R.sigmoid(x.reshape(5, -1)), two_branch(x).reshape(5, -1), equal_nan=True)
    x32 = x.astype(np.float32)
    assert R.sigmoid(x32).dtype == np.float32
    assert np.array_equal(R.sigmoid(x32), two_branch(x32), equal_nan=True)
    scalar = np.array([Value(v).sigmoid().data for v in x])  # math.exp vs numpy's: within an ulp
    assert np.allclose(R.sigmoid(x), scalar, rtol=4e-16, atol=0, equal_nan=True)
    assert R.sigmoid(np.array(-2.0)) == two_branch(np.array(-2.0))  # 0-d: the plain form


def test_sigmoid_is_finite_with_zero_gradient_at_1000() -> None:
    t = Tensor([-1000.0, 1000.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t.sigmoid().sum().backward()
    assert np.array_equal(t.grad, [0.0, 0.0])


@pytest.mark.parametrize("bad,message", [(0.0, "are 0"), (-1.0, "are negative")])
def test_log_still_names_zero_and_negative_inputs(bad: float, message: str) -> None:
    with pytest.warns(RuntimeWarning, match=f"log: 1 input\\(s\\) {message}"):
        Tensor([1.0, bad, 2.0]).log()


def test_div_still_names_zero_divisors_even_when_broadcast() -> None:
    with pytest.warns(RuntimeWarning, match="div: 1 input\\(s\\) are zero divisors"):
        Tensor(np.ones((3, 2))) / Tensor([1.0, 0.0])


def test_no_warning_for_finite_results_and_non_finite_inputs_stay_quiet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Tensor([0.5, 2.0]).log()
        Tensor([1.0, 2.0]) / Tensor([3.0, 4.0])
        Tensor([math.inf, math.nan]).log()  # inf and nan in, as numpy: nothing new to report


def test_div_gradient_is_the_plain_formula_and_warns_at_a_tiny_divisor() -> None:
    rng = np.random.default_rng(3)
    x, y, g = rng.normal(size=(3, 4)), rng.uniform(0.5, 2, size=4), rng.normal(size=(3, 4))
    a, b = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    (a / b).backward(gradient=g)
    assert np.array_equal(a.grad, g / y)
    assert np.allclose(b.grad, ((-g * (x / y)) / y).sum(axis=0), rtol=1e-14, atol=0)
    n = Tensor(4.0, requires_grad=True)  # 0-d: numpy hands back scalars, the plain formula runs
    (Tensor(2.0) / n).backward()
    assert n.grad == -2.0 / 16.0
    ten = Tensor([10.0], requires_grad=True)  # g·ans = 1e309 overflows, the gradient does not
    (Tensor([1e300]) / ten).backward(gradient=np.array([1e10]))
    assert np.allclose(ten.grad, [-1e308], rtol=1e-14)
    b2 = Tensor([1e-200, 1.0], requires_grad=True)
    with pytest.warns(RuntimeWarning, match="div: the derivative is infinite"):
        (Tensor([1.0, 1.0]) / b2).sum().backward()


def test_is_finite_sees_inf_and_nan_behind_a_finite_looking_sum() -> None:
    from autograd_lite.core.engine import is_finite

    assert is_finite(np.array([1e308, 1e308]))  # the sum overflows: the exact test answers
    assert not is_finite(np.array([1.0, math.inf, -math.inf]))
    assert not is_finite(np.array([[1.0], [math.nan]]))
    assert is_finite(np.zeros((0, 3)))


@pytest.mark.parametrize("k", [2, 3, 7, 8, 12])  # below 8 classes the fast path works column-major
def test_cross_entropy_hands_its_softmax_to_the_vjp_with_the_recomputed_numbers(k: int) -> None:
    from autograd_lite import cross_entropy

    rng = np.random.default_rng(5)
    z1, z2 = rng.normal(size=(6, k)) * 30, rng.normal(size=(6, k))
    y = rng.integers(0, k, size=6)
    want = R._softmax(z1) - np.eye(k)[y]
    rows = R._logsumexp(z1, -1) - z1[np.arange(6), y]  # the general path's per-row losses
    assert np.array_equal(cross_entropy(Tensor(z1), y, reduction="none").data, rows)
    assert cross_entropy(Tensor(z1), y).data == R._mean_forward(rows)
    a, b = Tensor(z1, requires_grad=True), Tensor(z2, requires_grad=True)
    la = cross_entropy(a, y, reduction="sum")
    lb = cross_entropy(b, y, reduction="sum")  # the memo now holds b's softmax, not a's
    la.backward(retain_graph=True)
    assert np.array_equal(a.grad, want)
    la.backward()  # a second, retained pass recomputes: the same numbers again
    assert np.array_equal(a.grad, 2 * want)
    lb.backward()
    assert np.array_equal(b.grad, R._softmax(z2) - np.eye(k)[y])
    f = Tensor(np.asfortranarray(z1), requires_grad=True)  # column-major logits: the same
    cross_entropy(f, y, reduction="sum").backward()
    assert np.array_equal(f.grad, want)
    big = Tensor([[1000.0, -1000.0], [np.inf, 0.0]], requires_grad=True)  # no memo past a non-finite max
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cross_entropy(big, [0, 1], reduction="sum").backward()
    assert np.array_equal(big.grad[0], [0.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (-1, True), ((0, 2), False)])
def test_mean_fast_path_is_numpys_mean_bit_for_bit(dtype: Any, axis: Any, keepdims: bool) -> None:
    x = (np.random.default_rng(7).normal(size=(3, 5, 7)) * 100).astype(dtype)
    ans = R.MEAN.forward(x, axis=axis, keepdims=keepdims)
    want = x.mean(axis=axis, keepdims=keepdims)
    assert np.asarray(ans).dtype == want.dtype and np.array_equal(ans, want)
    g = np.random.default_rng(8).normal(size=np.shape(want)).astype(dtype)
    (got,) = R.MEAN.vjp(g, ans, x, axis=axis, keepdims=keepdims)
    assert got.dtype == dtype and np.array_equal(
        got, R.expand_to(g, x.shape, axis, keepdims) * (1.0 / R._count(x.shape, axis)))
    got[...] = 0  # a writable buffer of its own


@pytest.mark.parametrize("alpha", [0.01, 0.5, 1.0, 0.0, 2.0, -0.3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_leaky_relu_fast_paths_are_the_select_bit_for_bit(alpha: float, dtype: Any) -> None:
    x = np.array(EDGES + list(np.random.default_rng(9).normal(size=30)), dtype=dtype)
    g = np.random.default_rng(10).normal(size=x.shape).astype(dtype)
    with np.errstate(all="ignore"):
        want = np.where(x > 0, x, alpha * x)
        got = R.LEAKY_RELU.forward(x, alpha=alpha)
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))  # -0.0 stays -0.0
        (gx,) = R.LEAKY_RELU.vjp(g, got, x, alpha=alpha)
    assert np.array_equal(gx, g * R.select(x > 0, 1.0, alpha, x), equal_nan=True)


@pytest.mark.parametrize("labels,bad", [
    ([0, 2, 1], "2"), ([0, -1, 1], "-1"),
    (np.array([0, 2**63 + 5, 1], dtype=np.uint64), "9223372036854775813")])
def test_label_range_check_in_one_pass_still_names_the_label(labels: Any, bad: str) -> None:
    from autograd_lite import cross_entropy

    with pytest.raises(ValueError, match=f"label {bad} is out of range for 2 classes"):
        cross_entropy(Tensor(np.zeros((3, 2))), labels)


def test_cross_entropy_mean_folded_into_the_fused_op_is_the_separate_mean_bit_for_bit() -> None:
    from autograd_lite import cross_entropy
    from autograd_lite.core.engine import toposort

    rng = np.random.default_rng(11)
    z, y = rng.normal(size=(7, 4)) * 5, rng.integers(0, 4, size=7)
    a, b = Tensor(z, requires_grad=True), Tensor(z, requires_grad=True)
    fused, plain = cross_entropy(a, y), cross_entropy(b, y, reduction="none").mean()
    assert [n.op for n in toposort(fused) if n.op] == ["softmax_cross_entropy"]
    assert fused.item() == plain.item()
    fused.backward()
    plain.backward()
    assert np.array_equal(a.grad, b.grad)
    # second order (create_graph) through the folded mean: the same as through the two nodes
    ga, gb = Tensor(z, requires_grad=True), Tensor(z, requires_grad=True)
    for t, loss in ((ga, cross_entropy(ga, y)), (gb, cross_entropy(gb, y, reduction="none").mean())):
        loss.backward(create_graph=True)
        g1 = t.grad
        t.grad = None
        (g1 * g1).sum().backward()
    assert np.allclose(ga.grad, gb.grad, rtol=1e-13, atol=1e-16)
