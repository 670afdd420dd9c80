"""Changing ``.data`` of a node that backward still needs: the policy, tested.

Default (the fast path, README "Numerical policy"): the graph keeps references, not copies. Every
op remembers the data objects it read, so *reassigning* ``x.data = ...`` between forward and
backward always raises, naming the op and the input. Writes into an array (element writes, and
``-=``, which numpy does in place) keep the object: backward uses the data as it is when backward
runs. Optimizers update after backward, which is safe. Inside ``detect_anomaly()`` every op also
fingerprints what it read and backward raises an error naming the op, the changed input and the
line that created the op (assignment, ``-=`` and element writes alike), before any gradient is
written.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from autograd_lite import Tensor, Value, detect_anomaly


def test_default_policy_reassigned_value_data_raises() -> None:
    a = Value(2.0, label="a")
    b = a * a  # d/da = 2a: with a's new data it would be the gradient of nothing computed
    a.data = 3.0
    with pytest.raises(RuntimeError, match=r"'a' \(2\.0 when read, 3\.0 now\).*'mul'.*reassigned"):
        b.backward()
    assert a.grad == 0.0  # nothing written


def test_default_policy_backward_reads_current_tensor_data() -> None:
    W = Tensor(np.ones((2, 2)), requires_grad=True)
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (W @ x).sum()
    W.data[0, 0] = 5.0  # an element write
    y.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 2.0])  # column sums of the new W


def test_optimizer_updates_after_backward_are_safe() -> None:
    optim = pytest.importorskip("autograd_lite.optim")
    w = Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    for step in range(3):
        with detect_anomaly():  # would raise if the update touched data a pending graph needs
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            opt.step()
        np.testing.assert_allclose(w.data, np.array([1.0, -2.0]) * 0.8 ** (step + 1))


@pytest.mark.parametrize("how", ["assign", "augmented", "element"])
def test_anomaly_mode_detects_changed_tensor_data(how: str) -> None:
    W = Tensor(np.ones((2, 3)), requires_grad=True, label="W")
    x = Tensor(np.ones(3), requires_grad=True)
    with detect_anomaly():
        y = (W @ x).tanh().sum()
        if how == "assign":
            W.data = np.zeros((2, 3))
        elif how == "augmented":
            W.data -= 0.1  # what an optimizer step does
        else:
            W.data[1, 2] = 7.0
        with pytest.raises(RuntimeError) as err:
            y.backward()
    msg = str(err.value)
    assert "the data of 'W' (shape (2, 3)) was changed after 'matmul' used it" in msg
    assert "optimizer.step() after loss.backward()" in msg and "recompute the forward" in msg
    assert f"{__file__}:" in msg and "(W @ x).tanh().sum()" in msg  # where the op was made
    assert W.grad is None and x.grad is None  # nothing written


def test_anomaly_mode_detects_changed_value_data_and_names_values() -> None:
    a = Value(2.0, label="a")
    with detect_anomaly():
        b = (a * 3.0).tanh()
        a.data -= 0.5
        with pytest.raises(RuntimeError, match=r"'a' \(2\.0 when read, 1\.5 now\).*'mul'"):
            b.backward()
    assert a.grad == 0.0


def test_anomaly_mode_detects_a_changed_intermediate() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        h = x * 2.0
        y = h.exp().sum()
        h.data[0] = 100.0
        with pytest.raises(RuntimeError, match=r"the output of 'mul'.*changed after 'exp'"):
            y.backward()


def test_anomaly_mode_no_false_alarms() -> None:
    from autograd_lite import where

    x = Value(1.0)
    with detect_anomaly():
        x.data = 2.0  # changed BEFORE it is used: fine
        y = x * x
        y.backward()
        x.data = 5.0  # changed AFTER backward: fine
    assert x.grad == 4.0
    n = Tensor([np.nan, 1.0], requires_grad=True)  # nan data that stays as it is
    with detect_anomaly():
        m = where(np.array([False, True]), n, 0.0).sum()  # the nan is not selected: finite
        m.backward()
    np.testing.assert_array_equal(n.grad, [0.0, 1.0])
    assert math.isnan(n.data[0])


def test_retained_graph_then_step_then_second_backward_is_caught() -> None:
    optim = pytest.importorskip("autograd_lite.optim")
    w = Tensor([1.0, 2.0], requires_grad=True, label="w")
    opt = optim.SGD([w], lr=0.5)
    with detect_anomaly():
        loss = (w * w).sum()
        loss.backward(retain_graph=True)
        opt.step()
        with pytest.raises(RuntimeError, match=r"'w'.*changed after 'mul'"):
            loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])  # only the first pass counted
