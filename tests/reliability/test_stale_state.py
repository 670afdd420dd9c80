"""Stale state (issue 12): a stale ``.grad`` of another shape is refused naming both shapes; a
backward that fails while adding into the leaves changes none of them (and leaves the graph
usable); reassigning ``x.data`` between forward and backward is always detected, while writes into
an array stay `detect_anomaly`'s job (README "Numerical policy").
"""

from __future__ import annotations

import numpy as np
import pytest

from autograd_lite import Tensor, Value, detect_anomaly


def test_a_stale_grad_of_another_shape_is_refused_naming_both_shapes() -> None:
    x = Tensor(np.ones(3), requires_grad=True, label="x")
    x.grad = np.ones((2, 3))  # e.g. left from a batch of another shape, or set by hand
    y = (x * x).sum()
    with pytest.raises(ValueError) as err:
        y.backward()
    msg = str(err.value)
    for part in ("'x' of shape (3,)", "a .grad of shape (2, 3)", "new gradient has shape (3,)",
                 "would broadcast", "zero_grad()"):
        assert part in msg, (part, msg)
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))  # untouched
    x.grad = None
    y.backward()  # the refused pass did not consume the graph
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_a_failing_accumulation_changes_no_leaf() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True, label="a")
    b = Tensor([3.0, 4.0], requires_grad=True, label="b")
    a.grad = np.array([10.0, 10.0])
    b.grad = np.zeros(4)  # cannot be added to b's gradient: the whole pass must not happen
    y = (a * b).sum()
    with pytest.raises(ValueError, match=r"'b' of shape \(2,\) holds a \.grad of shape \(4,\)"):
        y.backward()
    np.testing.assert_array_equal(a.grad, [10.0, 10.0])  # all or nothing (the README's promise)
    b.grad = None
    y.backward()
    np.testing.assert_array_equal(a.grad, [13.0, 14.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0])


@pytest.mark.parametrize("kind", ["Value", "Tensor"])
@pytest.mark.parametrize("which", ["leaf", "intermediate"])
def test_reassigned_data_is_always_detected(kind: str, which: str) -> None:
    x = Value(2.0, label="x") if kind == "Value" else Tensor([2.0, 3.0], requires_grad=True, label="x")
    h = x * 3.0
    h.label = "h"
    y = h * h if kind == "Value" else (h * h).sum()
    target = x if which == "leaf" else h
    target.data = target.data + 1.0  # a new object, as an optimizer step on a Value makes
    with pytest.raises(RuntimeError) as err:
        y.backward()
    msg = str(err.value)
    assert f"the data of '{target.label}'" in msg and "`.data` was reassigned" in msg
    assert "used it in the forward pass" in msg and "recompute the forward" in msg
    assert "detect_anomaly()" in msg  # where to look for the line that made the op
    assert (x.grad == 0.0) if kind == "Value" else (x.grad is None)  # nothing written


def test_reassigned_data_is_detected_by_the_transforms_too() -> None:
    x = Value(2.0, label="x")
    y = x * x
    x.data = 5.0
    from autograd_lite.transforms import gradients

    with pytest.raises(RuntimeError, match=r"'x' \(2\.0 when read, 5\.0 now\).*reassigned"):
        gradients(y, x)


def test_reassigning_an_equal_value_is_fine() -> None:
    x = Value(2.0)
    y = x * x
    x.data = 1.0 + 1.0  # another float object, the same number: the gradient is the same
    y.backward()
    assert x.grad == 4.0
    t = Tensor([1.0, 2.0], requires_grad=True)
    s = (t * t).sum()
    t.data = t.data.copy()
    s.backward()
    np.testing.assert_array_equal(t.grad, [2.0, 4.0])


def test_updates_after_backward_are_safe_and_a_retained_graph_is_guarded() -> None:
    w = Value(1.0, label="w")
    loss = w * w
    loss.backward(retain_graph=True)
    w.data -= 0.1 * w.grad  # SGD on a Value: a new float
    with pytest.raises(RuntimeError, match=r"'w' \(1\.0 when read, 0\.8 now\)"):
        loss.backward()  # the old graph would give the gradient of a function nobody computed
    assert w.grad == 2.0


def test_element_writes_are_detect_anomalys_job() -> None:
    W = Tensor(np.ones((2, 2)), requires_grad=True, label="W")
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (W @ x).sum()
    W.data[0, 0] = 5.0  # the same array object: only the anomaly mode's fingerprint sees this
    y.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 2.0])  # the documented default: current data
    with detect_anomaly():
        y2 = (W @ x).sum()
        W.data[1, 1] = 7.0
        with pytest.raises(RuntimeError, match=r"'W' \(shape \(2, 2\)\) was changed after 'matmul'"):
            y2.backward()

