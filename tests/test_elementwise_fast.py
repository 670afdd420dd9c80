"""The numpy fast paths of the elementwise rules give the numbers and the warnings of the plain forms."""

from __future__ import annotations

import math
import warnings

import numpy as np

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
