"""The seeds' network (hw3 part 2): autograd gradients == the hand-derived closed forms, Value == Tensor.

x -> h^a = W1 x + b1 -> h^s = LeakyReLU_α(h^a) -> o^a = W2 h^s + b2 -> o^s = softmax(o^a),
L = -log o^s_y, R̂ = mean of L, R̃ = R̂ + λ11|W1|₁ + λ12|W1|² + λ21|W2|₁ + λ22|W2|².
Rows of X are examples, so the seeds' column-vector formulas become their batched transposes.
"""

from __future__ import annotations

import numpy as np
import pytest
from autograd_lite.data import load_digits
from autograd_lite.losses import ElasticNet, cross_entropy
from autograd_lite.nn import MLP, ValueMLP
from autograd_lite.optim import Adam
from autograd_lite.train import accuracy, fit

from autograd_lite import Tensor, Value

N, D, DH, M, ALPHA = 7, 5, 6, 4, 0.1
LAMBDAS = [(0.01, 0.02), (0.03, 0.04)]  # (λ11, λ12), (λ21, λ22)
TOL = 1e-10


def _problem(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, D)), rng.integers(0, M, size=N)


def _closed_forms(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, X: np.ndarray,
                  y: np.ndarray) -> dict[str, np.ndarray]:
    """The seeds' answers, written out by hand in numpy (mean over the batch: R̂)."""
    n = len(X)
    ha = X @ W1.T + b1                                    # (a) h^a = W1 x + b1
    hs = np.where(ha >= 0, ha, ALPHA * ha)                # LeakyReLU_α
    oa = hs @ W2.T + b2                                   # (b) o^a = W2 h^s + b2
    e = np.exp(oa - oa.max(axis=1, keepdims=True))
    os_ = e / e.sum(axis=1, keepdims=True)                # (c) o^s = softmax(o^a)
    onehot = np.eye(M)[y]
    loss = np.mean(-np.log(os_[np.arange(n), y]))         # (d, e) R̂ = mean of -log o^s_y
    g_oa = (os_ - onehot) / n                             # (g) dL/do^a = o^s - onehot(y)
    g_W2 = g_oa.T @ hs                                    # (h, i) dL/dW2 = dL/do^a h^sᵀ
    g_b2 = g_oa.sum(axis=0)                               #        dL/db2 = dL/do^a
    g_hs = g_oa @ W2                                      # (j, k) dL/dh^s = W2ᵀ dL/do^a
    g_ha = g_hs * np.where(ha > 0, 1.0, ALPHA)            # (l, m) dL/dh^a = dL/dh^s ⊙ LeakyReLU'_α(h^a)
    g_W1 = g_ha.T @ X                                     # (n, o) dL/dW1 = dL/dh^a xᵀ
    g_b1 = g_ha.sum(axis=0)                               #        dL/db1 = dL/dh^a
    g_x = g_ha @ W1                                       # (p)    dL/dx = W1ᵀ dL/dh^a
    (l11, l12), (l21, l22) = LAMBDAS                      # (q) elastic net: λ sign(W) + 2 λ W
    return {
        "loss": np.array(loss), "penalty": np.array(l11 * np.abs(W1).sum() + l12 * (W1 ** 2).sum()
                                                    + l21 * np.abs(W2).sum() + l22 * (W2 ** 2).sum()),
        "o^a": g_oa, "h^s": g_hs, "h^a": g_ha, "x": g_x, "fc2.W": g_W2, "fc2.b": g_b2, "fc1.W": g_W1,
        "fc1.b": g_b1,
        "fc1.W+reg": g_W1 + l11 * np.sign(W1) + 2 * l12 * W1,
        "fc2.W+reg": g_W2 + l21 * np.sign(W2) + 2 * l22 * W2,
    }


def _close(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def test_tensor_mlp_gradients_equal_the_seeds_closed_forms() -> None:
    X, y = _problem()
    model = MLP([D, DH, M], activation="leaky_relu", alpha=ALPHA, seed=3)
    assert model.num_parameters() == DH * D + DH + M * DH + M  # n_θ of question (e)
    x = Tensor(X, requires_grad=True)
    out = model.intermediates(x)
    ha, hs, oa = out["fc1"], out["act1"], out["fc2"]
    risk = cross_entropy(oa, y)
    penalty = ElasticNet(per_layer=LAMBDAS)(model)
    (risk + penalty).backward()
    ref = _closed_forms(model.fc1.W.data, model.fc1.b.data, model.fc2.W.data, model.fc2.b.data, X, y)
    assert abs(risk.item() - ref["loss"]) < TOL
    assert abs(penalty.item() - ref["penalty"]) < TOL
    assert _close(oa.grad, ref["o^a"]) < TOL
    assert _close(hs.grad, ref["h^s"]) < TOL
    assert _close(ha.grad, ref["h^a"]) < TOL
    assert _close(x.grad, ref["x"]) < TOL
    assert _close(model.fc2.b.grad, ref["fc2.b"]) < TOL
    assert _close(model.fc1.b.grad, ref["fc1.b"]) < TOL  # biases are not penalized
    assert _close(model.fc2.W.grad, ref["fc2.W+reg"]) < TOL
    assert _close(model.fc1.W.grad, ref["fc1.W+reg"]) < TOL
    # both leaky-ReLU branches were exercised
    assert (ha.data > 0).any() and (ha.data < 0).any()


def test_elastic_net_term_alone_is_lambda_sign_plus_two_lambda_w() -> None:
    model = MLP([D, DH, M], activation="leaky_relu", alpha=ALPHA, seed=4)
    model.fc1.W.data[0, :2] = 0.0  # the subgradient of |w| at 0 is 0
    ElasticNet(per_layer=LAMBDAS)(model).backward()
    (l11, l12), (l21, l22) = LAMBDAS
    W1, W2 = model.fc1.W.data, model.fc2.W.data
    assert _close(model.fc1.W.grad, l11 * np.sign(W1) + 2 * l12 * W1) < TOL
    assert _close(model.fc2.W.grad, l21 * np.sign(W2) + 2 * l22 * W2) < TOL
    assert np.all(model.fc1.W.grad[0, :2] == 0.0)
    assert model.fc1.b.grad is None and model.fc2.b.grad is None  # weights only by default


def test_single_example_gradient_is_softmax_minus_onehot() -> None:
    model = MLP([D, DH, M], activation="leaky_relu", alpha=ALPHA, seed=5)
    X, y = _problem(8)
    logits = model(X[0])
    loss = cross_entropy(logits, int(y[0]))
    loss.backward()
    p = np.exp(logits.data - logits.data.max())
    p /= p.sum()
    assert _close(logits.grad, p - np.eye(M)[y[0]]) < TOL
    assert abs(loss.item() + np.log(p[y[0]])) < TOL


def _value_inputs(X: np.ndarray) -> list[list[Value]]:
    return [[Value(float(v)) for v in row] for row in X]


def test_value_mlp_equals_tensor_mlp_with_the_same_weights() -> None:
    X, y = _problem(9)
    tm = MLP([D, DH, M], activation="leaky_relu", alpha=ALPHA, seed=11)
    vm = ValueMLP([D, DH, M], activation="leaky_relu", alpha=ALPHA, seed=11)
    # same seed -> same initial weights; and either model loads the other's state
    for k, v in tm.state_dict().items():
        assert np.array_equal(vm.state_dict()[k], v), k
    vm.load_state_dict(MLP([D, DH, M], seed=12).state_dict())
    vm.load_state_dict(tm.state_dict())
    assert [n for n, _ in vm.named_parameters()][:2] == ["fc1.W[0,0]", "fc1.W[0,1]"]
    assert vm.num_parameters() == tm.num_parameters()

    xt = Tensor(X, requires_grad=True)
    lt = cross_entropy(tm(xt), y) + ElasticNet(per_layer=LAMBDAS)(tm)
    lt.backward()
    xv = _value_inputs(X)
    lv = cross_entropy(vm(xv), y) + ElasticNet(per_layer=LAMBDAS)(vm)
    lv.backward()
    assert isinstance(lv, Value)
    assert abs(lv.data - lt.item()) < 1e-12
    gt, gv = tm.grad_dict(), vm.grad_dict()
    assert gt.keys() == gv.keys()
    for k in gt:
        assert _close(gt[k], gv[k]) < 1e-12, k
    assert _close(xt.grad, [[v.grad for v in row] for row in xv]) < 1e-12


def test_value_cross_entropy_is_stable_at_1000() -> None:
    logits = [Value(1000.0), Value(-1000.0), Value(0.0)]
    loss = cross_entropy(logits, 1)
    loss.backward()
    assert loss.data == pytest.approx(2000.0)
    assert [v.grad for v in logits] == pytest.approx([1.0, -1.0, 0.0])


def test_seeds_network_reaches_95_percent_on_the_shipped_digits() -> None:
    X_train, y_train = load_digits(split="train")
    X_test, y_test = load_digits(split="test")
    model = MLP([64, 32, 10], activation="leaky_relu", alpha=0.01, seed=0)
    # full-batch gradients (the seeds' batch descent) with Adam steps: 96.7% here, a margin of 6 test
    # examples over the 95% bar (the CLI's default momentum descent is checked in test_cli_train.py)
    history = fit(model, X_train, y_train, optimizer=Adam(model.parameters(), lr=0.01),
                  epochs=150, regularizer=ElasticNet(per_layer=[(1e-5, 1e-4), (1e-5, 1e-4)]),
                  progress=False)
    assert history.loss[-1] < 0.1 * history.loss[0]
    assert accuracy(model, X_test, y_test) >= 0.95
