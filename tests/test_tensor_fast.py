"""The Tensor plain-mode fast paths give what the general path gives, and keep its errors.

Outside every mode (no scope, anomaly mode, observer or tracing) the elementwise and matrix ops
and ``cross_entropy`` build their nodes without `Node._apply`; any mode takes `Node._apply`. Both
must give bit for bit the same values, gradients and node layout, and the same error messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from autograd_lite import Tensor, cross_entropy, detect_anomaly
from autograd_lite.core import engine

RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 3))
Y = np.array([0, 2, 1, 1, 0, 2])


def _params() -> list[Tensor]:
    rng = np.random.default_rng(1)
    return [Tensor(rng.standard_normal(s), requires_grad=True) for s in ((4, 3), (4,), (3, 4), (3,))]


def _step(ps: list[Tensor], x: Any, y: Any) -> Tensor:
    W1, b1, W2, b2 = ps
    h = (Tensor(x) @ W1.T + b1).leaky_relu(0.1)
    o = (h * 2.0 - 1.0) / 3.0 @ W2.T + b2
    return cross_entropy(o.tanh() * 5.0, y)


def _run(ctx: Callable[[], Any] | None, x: Any = X, y: Any = Y) -> tuple[Tensor, list[Tensor]]:
    ps = _params()
    if ctx is None:
        loss = _step(ps, x, y)
    else:
        with ctx():
            loss = _step(ps, x, y)
    loss.backward()
    return loss, ps


@pytest.mark.parametrize("mode", [lambda: engine.scope("outer"), detect_anomaly],
                         ids=["scope", "anomaly"])
def test_plain_and_general_paths_agree_bit_for_bit(mode: Callable[[], Any]) -> None:
    fast, fps = _run(None)
    slow, sps = _run(mode)
    assert fast.data.tobytes() == slow.data.tobytes()
    for f, s in zip(fps, sps):
        assert f.grad is not None and s.grad is not None
        assert f.grad.tobytes() == s.grad.tobytes()
        assert f.grad.flags.c_contiguous == s.grad.flags.c_contiguous
    assert fast.op == slow.op == "softmax_cross_entropy"
    assert fast._static is not None and slow._static is not None
    assert fast._static.keys() == slow._static.keys() and fast._static["mean"] == slow._static["mean"]
    assert fast._static["labels"].dtype == slow._static["labels"].dtype
    assert np.array_equal(fast._static["labels"], slow._static["labels"])


def test_plain_nodes_have_the_general_layout() -> None:
    a = Tensor(X, requires_grad=True)
    b = Tensor(np.ones(3))
    for build in (lambda: a + b, lambda: a.leaky_relu(0.2), lambda: a.T, lambda: a @ b, lambda: a.exp()):
        fast = build()
        with engine.scope("s"):
            slow = build()
        assert fast.data.tobytes() == slow.data.tobytes()
        assert fast._rule is slow._rule and fast._static == slow._static
        assert fast.requires_grad == slow.requires_grad
        assert fast._parents == slow._parents
        assert fast._ad is slow._ad
        assert fast._meta is None and slow._meta is not None
    c = Tensor(np.ones(3)) + b  # nothing requires grad: a constant, no parents kept
    assert not c.requires_grad and c._parents == () and c._rule is None


def test_plain_cross_entropy_is_tagged_as_its_scope() -> None:
    loss, _ = _run(None)
    assert loss._meta is not None
    assert loss._meta["scope"] == ("cross_entropy",) and loss._meta["owners"] == (None,)
    with engine.scope("net"):
        inner = cross_entropy(Tensor(X, requires_grad=True), Y)
    assert inner._meta is not None and inner._meta["scope"] == ("net", "cross_entropy")


def test_plain_cross_entropy_under_no_grad_is_a_constant() -> None:
    from autograd_lite import no_grad

    z = Tensor(X, requires_grad=True)
    with no_grad():
        loss = cross_entropy(z, Y)
    assert not loss.requires_grad
    assert loss.data.tobytes() == cross_entropy(z, Y).data.tobytes()


@pytest.mark.parametrize("labels, error, match", [
    (np.array([0, 2, 1, 1, 0, 3]), ValueError, r"label 3 is out of range for 3 classes.*pass y - 1"),
    (np.array([0, 2, 1, -1, 0, 2]), ValueError, "label -1 is out of range"),
    (np.array([0, 2, 1, 1, 0, 2 ** 63], dtype=np.uint64), ValueError, "out of range for 3 classes"),
    (np.array([0, 7, 1, 1, 0, 2], dtype=np.int8), ValueError, "label 7 is out of range"),
    (np.array([0, 2, 1, 1, 0, -5], dtype=np.int32), ValueError, "label -5 is out of range"),
    (Y.astype(float), TypeError, r"integer class indices.*y.astype\(int\)"),
    (Y.astype(bool), TypeError, "integer class indices"),
    (Y[:5], ValueError, r"batch of 6 examples.*shape \(5,\)"),
    (Y.reshape(2, 3), ValueError, r"labels have shape \(2, 3\)"),
])
def test_plain_cross_entropy_label_errors(labels: Any, error: type[Exception], match: str) -> None:
    z = Tensor(X, requires_grad=True)
    with pytest.raises(error, match=match):
        cross_entropy(z, labels)
    with engine.scope("outer"), pytest.raises(error, match=match):  # the general path: the same
        cross_entropy(z, labels)


def test_plain_cross_entropy_keeps_its_own_copy_of_the_labels() -> None:
    z = Tensor(X, requires_grad=True)
    y = Y.copy()
    loss = cross_entropy(z, y)
    y[:] = 0  # changed after the forward: the gradient still uses the labels the loss saw
    loss.backward()
    ref = Tensor(X, requires_grad=True)
    cross_entropy(ref, Y).backward()
    assert z.grad is not None and ref.grad is not None
    assert z.grad.tobytes() == ref.grad.tobytes()


def test_plain_cross_entropy_stays_stable_and_exact_at_1000() -> None:
    z = Tensor([[1000.0, 0.0], [-1000.0, 1000.0], [0.0, 0.0]], requires_grad=True)
    loss = cross_entropy(z, [0, 0, 1])
    loss.backward()
    assert loss.item() == pytest.approx((0.0 + 2000.0 + np.log(2.0)) / 3)
    assert z.grad is not None and np.isfinite(z.grad).all()


def test_plain_cross_entropy_non_finite_logits_match_the_general_path() -> None:
    z = np.array([[np.inf, 0.0], [1.0, 2.0], [np.nan, 1.0]])
    with pytest.warns(RuntimeWarning, match="invalid value"):  # numpy's nan warning, both ways
        fast = cross_entropy(Tensor(z), [0, 1, 0])
    with engine.scope("outer"), pytest.warns(RuntimeWarning, match="invalid value"):
        slow = cross_entropy(Tensor(z), [0, 1, 0])
    assert np.array_equal(fast.data, slow.data, equal_nan=True)


def test_plain_ops_raise_the_general_messages() -> None:
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="add: shapes \\(2, 3\\) and \\(4,\\) do not broadcast"):
        a + Tensor(np.ones(4))
    with pytest.raises(ValueError, match="do not align"):
        a @ Tensor(np.ones((2, 3)))
    i = Tensor(np.array([1, 2, 3]))
    with engine.scope("s"), pytest.raises(TypeError) as general:
        i ** Tensor(np.array([-1, 2, 3]))
    with pytest.raises(TypeError) as plain:
        i ** Tensor(np.array([-1, 2, 3]))
    assert str(plain.value) == str(general.value)


def test_plain_ops_in_anomaly_mode_still_raise() -> None:
    a = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    from autograd_lite import AnomalyError

    with pytest.warns(RuntimeWarning, match="log: 1 input"):
        a.log()  # plain mode: the rule's warning
    with detect_anomaly(), pytest.warns(RuntimeWarning), pytest.raises(AnomalyError, match="log"):
        a.log()


@pytest.mark.parametrize("left_t, right_t", [(False, True), (True, False), (True, True), (False, False)])
def test_matmul_gradients_keep_the_weights_layout_and_numbers(left_t: bool, right_t: bool) -> None:
    rng = np.random.default_rng(3)
    A = Tensor(rng.standard_normal((5, 4) if left_t else (4, 5)), requires_grad=True)
    B = Tensor(rng.standard_normal((6, 5) if right_t else (5, 6)), requires_grad=True)
    g = rng.standard_normal((4, 6))
    a, b = (A.T if left_t else A), (B.T if right_t else B)
    (a @ b).backward(g)
    ga, gb = g @ b.data.T, a.data.T @ g  # the VJP's formulas, whatever the layout
    assert A.grad is not None and B.grad is not None
    assert A.grad.tobytes() == (ga.T if left_t else ga).tobytes()
    assert B.grad.tobytes() == (gb.T if right_t else gb).tobytes()
    assert A.grad.flags.c_contiguous and B.grad.flags.c_contiguous  # row-major for the update


def test_matmul_of_two_matrices_keeps_its_checks() -> None:
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) @ \(2, 3\) do not align"):
        a @ Tensor(np.ones((2, 3)))
    f32 = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    out = a @ f32  # mixed dtypes still promote, and the gradient is cast back
    out.sum().backward()
    assert out.dtype == np.float64 and f32.grad is not None and f32.grad.dtype == np.float32


def test_accumulating_into_an_existing_leaf_grad_still_checks_its_shape() -> None:
    w = Tensor(np.ones(3), requires_grad=True)
    (w * 2.0).sum().backward()
    (w * 2.0).sum().backward()
    assert w.grad is not None and np.array_equal(w.grad, [4.0, 4.0, 4.0])
    w.grad = np.ones(2)  # a stale .grad of another shape: refused, nothing written
    with pytest.raises(ValueError, match=r"holds a \.grad of shape"):
        (w * 2.0).sum().backward()


def test_plain_graphs_keep_the_consumed_and_changed_data_errors() -> None:
    W = Tensor(np.ones((2, 3)), requires_grad=True)
    x = Tensor(np.ones((4, 3)))
    loss = cross_entropy(x @ W.T, np.array([0, 1, 0, 1]))
    loss.backward()
    with pytest.raises(RuntimeError, match="already backpropagated"):
        loss.backward()
    loss = cross_entropy(x @ W.T, np.array([0, 1, 0, 1]))
    x.data = np.zeros((4, 3))  # reassigned behind the graph
    g = W.grad.copy()  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match="was changed after 'matmul' used it"):
        loss.backward()
    assert W.grad is not None and np.array_equal(W.grad, g)  # all or nothing: nothing written
