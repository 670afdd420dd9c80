"""Losses and regularizers: values, gradients, stability at |x| = 1000, reductions, label checks."""

from __future__ import annotations

import numpy as np
import pytest
from autograd_lite.engine import toposort
from autograd_lite.losses import (
    ElasticNet,
    binary_cross_entropy_with_logits,
    cross_entropy,
    elastic_net,
    hinge,
    l1,
    l2,
    mse,
    nll_loss,
)
from autograd_lite.nn import MLP, ValueMLP

from autograd_lite import Tensor, Value

RNG = np.random.default_rng(0)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_cross_entropy_value_and_gradient() -> None:
    z = RNG.normal(size=(6, 4))
    y = RNG.integers(0, 4, 6)
    logits = Tensor(z, requires_grad=True)
    loss = cross_entropy(logits, y)
    loss.backward()
    p = _softmax(z)
    assert loss.item() == pytest.approx(np.mean(-np.log(p[np.arange(6), y])), abs=1e-14)
    np.testing.assert_allclose(logits.grad, (p - np.eye(4)[y]) / 6, rtol=0, atol=1e-15)


def test_cross_entropy_is_logsumexp_minus_picked_logit_never_log_softmax() -> None:
    logits = Tensor(RNG.normal(size=(3, 5)), requires_grad=True)
    ops = {n.op for n in toposort(cross_entropy(logits, [0, 1, 2]))}
    assert "softmax_cross_entropy" in ops  # one fused op: logsumexp(o) - o_y, VJP softmax - onehot
    assert not ops & {"softmax", "log_softmax", "log"}


def test_cross_entropy_stable_at_1000() -> None:
    z = Tensor([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]], requires_grad=True)
    loss = cross_entropy(z, [1, 2], reduction="none")
    np.testing.assert_allclose(loss.data, [2000.0, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(z.grad, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], atol=1e-300)
    assert np.isfinite(z.grad).all()


def test_reductions() -> None:
    z = Tensor(RNG.normal(size=(5, 3)))
    y = np.array([0, 1, 2, 1, 0])
    per = cross_entropy(z, y, reduction="none")
    assert per.shape == (5,)
    assert cross_entropy(z, y, reduction="sum").item() == pytest.approx(per.data.sum())
    assert cross_entropy(z, y).item() == pytest.approx(per.data.mean())
    with pytest.raises(ValueError, match="reduction must be one of"):
        cross_entropy(z, y, reduction="avg")


def test_label_validation_errors() -> None:
    z = Tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match=r"labels must be integer class indices 0..3, got dtype float64 \(use "
                                        r"y.astype\(int\)\)"):
        cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="dtype bool"):
        cross_entropy(z, np.array([True, False, True]))
    with pytest.raises(ValueError, match=r"batch of 3 examples .* labels have shape \(2,\)"):
        cross_entropy(z, [0, 1])
    with pytest.raises(ValueError, match=r"label 4 is out of range for 4 classes.*pass y - 1"):
        cross_entropy(z, [1, 2, 4])
    with pytest.raises(ValueError, match="label -1 is out of range"):
        cross_entropy(z, [1, -1, 0])
    with pytest.raises(ValueError, match="must be one integer"):
        cross_entropy(Tensor(np.zeros(4)), [1, 2])
    with pytest.raises(ValueError, match=r"shape \(n, m\) or \(m,\)"):
        cross_entropy(Tensor(np.zeros((2, 3, 4))), [0, 1])
    with pytest.raises(ValueError, match="out of range"):
        cross_entropy([[Value(0.0), Value(1.0)]], [2])


def test_nll_loss_matches_cross_entropy() -> None:
    z = Tensor(RNG.normal(size=(4, 3)), requires_grad=True)
    y = [2, 0, 1, 1]
    a = nll_loss(z.log_softmax(), y)
    b = cross_entropy(z, y)
    assert a.item() == pytest.approx(b.item(), abs=1e-14)
    a.backward()
    g = z.grad.copy()
    z.grad = None
    b.backward()
    np.testing.assert_allclose(g, z.grad, atol=1e-15)


def test_mse_is_the_seeds_definition() -> None:
    q, p = 4, 3
    Y_hat = Tensor(RNG.normal(size=(q, p)), requires_grad=True)
    Y = RNG.normal(size=(q, p))
    loss = mse(Y_hat, Y)
    loss.backward()
    assert loss.item() == pytest.approx(((Y_hat.data - Y) ** 2).sum() / (q * p), abs=1e-14)
    np.testing.assert_allclose(Y_hat.grad, 2 / (q * p) * (Y_hat.data - Y), atol=1e-15)
    assert mse(Y_hat, Y, reduction="sum").item() == pytest.approx(((Y_hat.data - Y) ** 2).sum())
    # the seeds' linear layer: C = mse(XW + b, Y); dC/dW = 2/(qp) Xᵀ(XW + b - Y), dC/db = 2/(qp) 1ᵀ(...)
    X = RNG.normal(size=(q, 5))
    W = Tensor(RNG.normal(size=(5, p)), requires_grad=True)
    b = Tensor(RNG.normal(size=(p,)), requires_grad=True)
    mse(Tensor(X) @ W + b, Y).backward()
    r = X @ W.data + b.data - Y
    np.testing.assert_allclose(W.grad, 2 / (q * p) * X.T @ r, atol=1e-14)
    np.testing.assert_allclose(b.grad, 2 / (q * p) * r.sum(axis=0), atol=1e-14)
    with pytest.raises(ValueError, match=r"predictions have shape \(4, 3\) but targets have shape \(3,\)"):
        mse(Y_hat, np.zeros(3))


def test_binary_cross_entropy_with_logits() -> None:
    z = Tensor([-3.0, 0.5, 2.0, 1000.0, -1000.0], requires_grad=True)
    t = np.array([0.0, 1.0, 0.3, 0.0, 1.0])
    loss = binary_cross_entropy_with_logits(z, t, reduction="sum")
    loss.backward()
    s = 1 / (1 + np.exp(-z.data[:3]))
    ref = -(t[:3] * np.log(s) + (1 - t[:3]) * np.log(1 - s)).sum() + 1000.0 + 1000.0
    assert loss.item() == pytest.approx(ref, rel=1e-14)
    sig = np.array([*s, 1.0, 0.0])
    np.testing.assert_allclose(z.grad, sig - t, atol=1e-15)
    with pytest.raises(ValueError, match=r"targets must be probabilities in \[0, 1\]"):
        binary_cross_entropy_with_logits(z, [0, 1, 2, 0, 1])


def test_hinge() -> None:
    s = Tensor([2.0, 0.5, -0.2, -3.0], requires_grad=True)
    loss = hinge(s, [1, 1, -1, 1], reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(0.0 + 0.5 + 0.8 + 4.0)
    np.testing.assert_allclose(s.grad, [0.0, -1.0, 1.0, -1.0])
    with pytest.raises(ValueError, match="labels must be -1 or"):
        hinge(s, [0, 1, 1, 0])


def test_l1_l2_subgradient_zero_at_zero() -> None:
    W = Tensor([[0.0, -2.0], [3.0, 0.5]], requires_grad=True)
    r = l1([W]) + l2(W)
    r.backward()
    assert r.item() == pytest.approx(5.5 + 13.25)
    np.testing.assert_allclose(W.grad, np.sign(W.data) + 2 * W.data)
    assert W.grad[0, 0] == 0.0
    v, z = Value(-1.5), Value(0.0)
    rv = l1([v, z]) + l2([v, z])
    rv.backward()
    assert rv.data == pytest.approx(1.5 + 2.25)
    assert (v.grad, z.grad) == (pytest.approx(-1.0 - 3.0), 0.0)
    with pytest.raises(ValueError, match="no parameters"):
        l1([])
    with pytest.raises(TypeError, match="mix Tensors and Values"):
        l1([W, v])


def test_elastic_net_global_per_layer_and_biases() -> None:
    model = MLP([3, 4, 2], seed=0)
    model.fc1.b.data[:] = 1.0
    W1, W2 = model.fc1.W.data, model.fc2.W.data
    glob = elastic_net(model, l1=0.1, l2=0.2)
    ref = 0.1 * (np.abs(W1).sum() + np.abs(W2).sum()) + 0.2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
    assert glob.item() == pytest.approx(ref, abs=1e-14)
    with_b = elastic_net(model, l1=0.1, l2=0.2, biases=True)
    assert with_b.item() == pytest.approx(ref + 0.1 * 4 + 0.2 * 4, abs=1e-14)
    pen = ElasticNet(per_layer=[(0.0, 0.5), (0.3, 0.0)])
    assert [name for name, _ in pen.layers(model)] == ["fc1", "fc2"]
    assert pen(model).item() == pytest.approx(0.5 * (W1 ** 2).sum() + 0.3 * np.abs(W2).sum(), abs=1e-14)
    # the scalar twin groups its Values by layer the same way
    vm = ValueMLP([3, 4, 2], seed=0)
    assert [(n, len(p)) for n, p in pen.layers(vm)] == [("fc1", 12), ("fc2", 8)]
    assert pen(vm).data == pytest.approx(pen(MLP([3, 4, 2], seed=0)).item(), abs=1e-12)


def test_elastic_net_errors() -> None:
    model = MLP([3, 4, 4, 2])
    with pytest.raises(ValueError, match=r"per_layer has 2 .* 3 weight layers"):
        ElasticNet(per_layer=[(0.1, 0.1), (0.1, 0.1)])(model)
    with pytest.raises(ValueError, match="finite and >= 0"):
        ElasticNet(l1=-1.0)
    with pytest.raises(ValueError, match="not both"):
        ElasticNet(l1=0.1, per_layer=[(0.1, 0.1)])
    zero = ElasticNet()(model)
    assert zero.item() == 0.0 and zero.requires_grad
