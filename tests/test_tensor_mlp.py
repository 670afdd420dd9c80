"""The seeds' one-hidden-layer MLP (hw3 part 2) built from Values and from Tensors agrees to 1e-12.

h^a = W1 x + b1, h^s = leaky_relu(h^a), o^a = W2 h^s + b2, o^s = softmax(o^a), L = -log o^s_y,
averaged over 5 samples; same weights in both engines. Also checked against the hand-derived
gradients of the seeds (dL/do^a = o^s - onehot(y), ...).
"""

from __future__ import annotations

import numpy as np
import pytest

from autograd_lite import Tensor, Value, one_hot

D, DH, M, N, ALPHA = 4, 6, 3, 5, 0.1


@pytest.fixture(scope="module")
def problem() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    return {"x": rng.normal(size=(N, D)), "y": rng.integers(0, M, size=N),
            "W1": rng.normal(size=(DH, D)), "b1": rng.normal(size=DH) * 0.1,
            "W2": rng.normal(size=(M, DH)), "b2": rng.normal(size=M) * 0.1}


def value_mlp(p: dict[str, np.ndarray]) -> tuple[Value, dict[str, list], list[list[Value]]]:
    W1 = [[Value(float(w)) for w in row] for row in p["W1"]]
    b1 = [Value(float(b)) for b in p["b1"]]
    W2 = [[Value(float(w)) for w in row] for row in p["W2"]]
    b2 = [Value(float(b)) for b in p["b2"]]
    total = Value(0.0, requires_grad=False)
    has = []
    for x, y in zip(p["x"], p["y"]):
        ha = [sum((w * float(xi) for w, xi in zip(row, x)), b) for row, b in zip(W1, b1)]
        hs = [h.leaky_relu(ALPHA) for h in ha]
        oa = [sum((w * h for w, h in zip(row, hs)), b) for row, b in zip(W2, b2)]
        es = [o.exp() for o in oa]
        os_ = [e / sum(es[1:], es[0]) for e in es]  # o^s = softmax(o^a), literally
        total = total + (-os_[int(y)].log())
        has.append(ha)
    return total * (1.0 / N), {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, has


def tensor_mlp(p: dict[str, np.ndarray], stable: bool) -> tuple[Tensor, dict[str, Tensor], Tensor]:
    params = {k: Tensor(p[k], requires_grad=True, label=k) for k in ("W1", "b1", "W2", "b2")}
    X = Tensor(p["x"], label="x")
    ha = X @ params["W1"].T + params["b1"]
    hs = ha.leaky_relu(ALPHA)
    oa = hs @ params["W2"].T + params["b2"]
    if stable:
        L = -(oa.log_softmax() * one_hot(p["y"], M)).sum() / N
    else:
        L = -oa.softmax().log()[np.arange(N), p["y"]].mean()  # the seeds' L = -log o^s_y
    return L, params, ha


@pytest.mark.parametrize("stable", [False, True])
def test_value_and_tensor_mlps_agree_to_1e_12(problem: dict[str, np.ndarray], stable: bool) -> None:
    Lv, vparams, vha = value_mlp(problem)
    Lv.backward()
    Lt, tparams, tha = tensor_mlp(problem, stable)
    Lt.backward()
    assert abs(Lv.data - Lt.item()) < 1e-12
    for k, t in tparams.items():
        vg = np.array([[v.grad for v in row] for row in vparams[k]] if k.startswith("W")
                      else [v.grad for v in vparams[k]])
        assert t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad, vg, rtol=0, atol=1e-12, err_msg=k)
    # an intermediate: dL/dh^a, as a student would compare it with the hand derivation
    vg_ha = np.array([[h.grad for h in row] for row in vha])
    np.testing.assert_allclose(tha.grad, vg_ha, rtol=0, atol=1e-12)


def test_tensor_mlp_matches_the_seeds_hand_derived_gradients(problem: dict[str, np.ndarray]) -> None:
    L, params, ha = tensor_mlp(problem, stable=True)
    L.backward()
    x, y = problem["x"], problem["y"]
    W1, b1, W2, b2 = (problem[k] for k in ("W1", "b1", "W2", "b2"))
    h_a = x @ W1.T + b1
    h_s = np.where(h_a > 0, h_a, ALPHA * h_a)
    o_a = h_s @ W2.T + b2
    o_s = np.exp(o_a - o_a.max(1, keepdims=True))
    o_s /= o_s.sum(1, keepdims=True)
    g_oa = (o_s - np.eye(M)[y]) / N                      # dL/do^a = o^s - onehot(y)
    g_ha = (g_oa @ W2) * np.where(h_a > 0, 1.0, ALPHA)   # dL/dh^a = W2^T dL/do^a ⊙ LeakyReLU'
    hand = {"W2": g_oa.T @ h_s, "b2": g_oa.sum(0), "W1": g_ha.T @ x, "b1": g_ha.sum(0)}
    for k, g in hand.items():
        np.testing.assert_allclose(params[k].grad, g, rtol=0, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(ha.grad, g_ha, rtol=0, atol=1e-12)
