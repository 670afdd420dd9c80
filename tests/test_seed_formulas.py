"""Every formula of the course seeds (../shared/seeds) checked with check_grad, right and wrong.

The correct hand derivation must pass; the classic mistakes (the transposed dL/dW2, rect'(z) = z,
a missing 2 in the L2 term, the L1 term subtracted) must fail with the right worst index. The
last part transcribes the students' answers in hw2-solutions-{en,fr}-mlp-relu.txt as numpy and
records which are wrong, found with the library.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from autograd_lite import GradCheckWarning, Tensor, check_grad

RTOL, ATOL = 1e-5, 1e-7


def sigma(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def worst_index(wrong: np.ndarray, right: np.ndarray) -> tuple[int, ...]:
    """The element that violates |wrong - right| <= atol + rtol |right| the most."""
    ratio = np.abs(wrong - right) / (ATOL + RTOL * np.abs(right))
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))


# ---------------------------------------------------------------------------- the one-hidden-layer MLP

def make_net(d: int = 3, dh: int = 4, m: int = 4, seed: int = 0, act: str = "relu",
             alpha: float = 0.1) -> SimpleNamespace:
    """Parameters, one example, and the forward values in numpy (hw2/hw3 notation)."""
    rng = np.random.default_rng(seed)
    v = SimpleNamespace(d=d, dh=dh, m=m, alpha=alpha, act=act)
    v.W1, v.b1 = rng.normal(size=(dh, d)), rng.normal(size=dh) * 0.5
    v.W2, v.b2 = rng.normal(size=(m, dh)), rng.normal(size=m) * 0.5
    v.x, v.y = rng.normal(size=d), 1
    v.onehot = np.eye(m)[v.y]
    v.ha = v.W1 @ v.x + v.b1
    assert np.all(np.abs(v.ha) > 1e-2), "keep the example away from the kink"
    v.hs = np.maximum(v.ha, 0) if act == "relu" else np.where(v.ha >= 0, v.ha, alpha * v.ha)
    v.oa = v.W2 @ v.hs + v.b2
    v.os = softmax(v.oa)
    # the correct backward pass, by hand
    v.g_oa = v.os - v.onehot
    v.g_W2, v.g_b2 = np.outer(v.g_oa, v.hs), v.g_oa
    v.g_hs = v.W2.T @ v.g_oa
    v.g_ha = v.g_hs * ((v.ha > 0) if act == "relu" else np.where(v.ha >= 0, 1.0, alpha))
    v.g_W1, v.g_b1 = np.outer(v.g_ha, v.x), v.g_ha
    v.g_x = v.W1.T @ v.g_ha
    return v


def net_loss(v: SimpleNamespace, lam: tuple[float, float] = (0.0, 0.0)) -> Any:
    """L(W1, b1, W2, b2) built from Tensors, with the intermediates labelled as in the homework."""

    def loss(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
        ha = W1 @ v.x + b1
        ha.label = "ha"
        hs = ha.relu() if v.act == "relu" else ha.leaky_relu(v.alpha)
        hs.label = "hs"
        oa = W2 @ hs + b2
        oa.label = "oa"
        L = -(oa.log_softmax() * v.onehot).sum()
        if any(lam):
            L = L + lam[0] * abs(W1).sum() + lam[1] * (W1 ** 2).sum()
        return L

    return loss


def params(v: SimpleNamespace) -> tuple[np.ndarray, ...]:
    return v.W1, v.b1, v.W2, v.b2


# ---------------------------------------------------------------------------- one test per formula

def test_sigmoid_derivative() -> None:
    for x in (-3.0, -0.4, 0.0, 1.7):
        check_grad(lambda x: x.sigmoid(), x, expected=lambda x: sigma(x) * (1 - sigma(x))).raise_if_failed()
    xs = np.linspace(-4, 4, 7)
    check_grad(lambda x: x.sigmoid(), xs, expected=np.diag(sigma(xs) * (1 - sigma(xs)))).raise_if_failed()
    r = check_grad(lambda x: x.sigmoid(), xs, expected=np.diag(sigma(xs)))   # σ' = σ: wrong
    assert r["x"].status == "WRONG"
    assert r["x"].worst_index == worst_index(np.diag(sigma(xs)), np.diag(sigma(xs) * (1 - sigma(xs))))


def test_softmax_jacobian_is_diag_s_minus_ssT() -> None:
    x = np.array([0.3, -1.2, 2.0, 0.5])
    s = softmax(x)
    check_grad(lambda x: x.softmax(), x, expected=np.diag(s) - np.outer(s, s)).raise_if_failed()
    wrong = np.diag(s * (1 - s))            # treating softmax as elementwise: off-diagonal terms lost
    r = check_grad(lambda x: x.softmax(), x, expected=wrong)
    assert r["x"].status == "WRONG"
    i, j = r["x"].worst_index
    assert i != j and (i, j) == worst_index(wrong, np.diag(s) - np.outer(s, s))


def test_dL_doa_is_os_minus_onehot() -> None:
    v = make_net()
    check_grad(lambda oa: -(oa.log_softmax() * v.onehot).sum(), v.oa,
               expected=lambda oa: softmax(oa) - v.onehot).raise_if_failed()
    # and as a named intermediate of the whole network
    check_grad(net_loss(v), *params(v), expected={"oa": v.os - v.onehot}).raise_if_failed()


def test_dL_dW2_outer_product_and_the_transposed_mistake() -> None:
    v = make_net(dh=4, m=4)
    check_grad(net_loss(v), *params(v), expected={"W2": np.outer(v.g_oa, v.hs), "b2": v.g_oa,
                                                  "hs": v.g_hs, "ha": v.g_ha,
                                                  "W1": v.g_W1, "b1": v.g_b1}).raise_if_failed()
    wrong = np.outer(v.hs, v.g_oa)          # (h^s)(dL/do^a)ᵀ: transposed (square here, so it runs)
    r = check_grad(net_loss(v), *params(v), expected={"W2": wrong})
    assert not r.ok and r["W2"].status == "WRONG" and r.failed == [r["W2"]]
    assert r["W2"].worst_index == worst_index(wrong, v.g_W2)
    i, j = r["W2"].worst_index
    assert i != j
    vals = r["W2"].values_at_worst()
    assert vals["hand"] == pytest.approx(wrong[i, j]) and vals["autodiff"] == pytest.approx(v.g_W2[i, j])
    # non-square: the shape gives it away
    v = make_net(dh=5, m=3, seed=1)
    r = check_grad(net_loss(v), *params(v), expected={"W2": np.outer(v.hs, v.g_oa)})
    assert r["W2"].status == "SHAPE" and "transposed" in r["W2"].message and r["W2"].worst_index is None


def test_leaky_relu_derivative() -> None:
    alpha = 0.1
    z = np.array([-2.0, -0.3, 0.4, 1.5])
    check_grad(lambda z: z.leaky_relu(alpha), z,
               expected=np.diag(np.where(z >= 0, 1.0, alpha))).raise_if_failed()
    v = make_net(act="leaky", alpha=alpha, seed=2)
    check_grad(net_loss(v), *params(v), expected={"ha": v.g_hs * np.where(v.ha >= 0, 1.0, alpha),
                                                  "W1": np.outer(v.g_ha, v.x)}).raise_if_failed()
    # forgetting α (using the plain relu derivative) is caught where h^a < 0
    r = check_grad(net_loss(v), *params(v), expected={"ha": v.g_hs * (v.ha > 0)})
    assert r["ha"].status == "WRONG" and v.ha[r["ha"].worst_index] < 0


def test_rect_prime_z_instead_of_indicator_is_flagged() -> None:
    v = make_net(seed=3)
    wrong = v.g_hs * np.where(v.ha > 0, v.ha, 0.0)      # rect'(z) = z for z > 0
    r = check_grad(net_loss(v), *params(v), expected={"ha": wrong})
    assert r["ha"].status == "WRONG"
    assert r["ha"].worst_index == worst_index(wrong, v.g_ha)
    # the worst unit is the active one whose pre-activation is farthest from 1 (where z = 1{z>0})
    active = np.flatnonzero(v.ha > 0)
    assert r["ha"].worst_index == (int(active[np.argmax(np.abs(v.ha[active] - 1) * np.abs(v.g_hs[active]))]),)


def elastic(l11: float, l12: float) -> Any:
    return lambda W1: l11 * abs(W1).sum() + l12 * (W1 ** 2).sum()


def test_elastic_net_gradient_and_its_two_mistakes() -> None:
    rng = np.random.default_rng(4)
    W1 = rng.normal(size=(4, 3))
    l11, l12 = 0.05, 0.2
    right = l11 * np.sign(W1) + 2 * l12 * W1
    check_grad(elastic(l11, l12), W1, expected=right).raise_if_failed()
    # a missing 2 in the L2 term: most wrong where |W1| is largest
    r = check_grad(elastic(l11, l12), W1, expected=l11 * np.sign(W1) + l12 * W1)
    assert r["W1"].status == "WRONG"
    assert r["W1"].worst_index == np.unravel_index(np.argmax(np.abs(W1)), W1.shape)
    # the L1 term subtracted: off by 2 λ11 everywhere, relatively worst where |W1| is smallest (the
    # sign term dominates there and the hand value has the wrong sign)
    wrong = -l11 * np.sign(W1) + 2 * l12 * W1
    r = check_grad(elastic(l11, l12), W1, expected=wrong)
    assert r["W1"].status == "WRONG"
    assert r["W1"].worst_index == np.unravel_index(np.argmin(np.abs(W1)), W1.shape)
    assert r["W1"].worst_index == worst_index(wrong, right)
    # inside the regularised network loss too
    v = make_net(seed=5)
    lam = (l11, l12)
    check_grad(net_loss(v, lam), *params(v),
               expected={"W1": v.g_W1 + l11 * np.sign(v.W1) + 2 * l12 * v.W1}).raise_if_failed()
    assert not check_grad(net_loss(v, lam), *params(v),
                          expected={"W1": v.g_W1 - l11 * np.sign(v.W1) + 2 * l12 * v.W1}).ok


def test_least_squares_gradient() -> None:
    rng = np.random.default_rng(6)
    A, b, x = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=3)
    f = lambda x: 0.5 * ((A @ x - b) ** 2).sum()
    check_grad(f, x, expected=lambda x: A.T @ (A @ x - b)).raise_if_failed()
    assert check_grad(f, x, expected=lambda x: 2 * A.T @ (A @ x - b))["x"].status == "WRONG"
    # and with respect to A and b: (Ax - b) xᵀ and -(Ax - b)
    g = lambda A, b: 0.5 * ((A @ x - b) ** 2).sum()
    check_grad(g, A, b, expected=(np.outer(A @ x - b, x), -(A @ x - b))).raise_if_failed()


def test_jacobian_of_affine_map() -> None:
    rng = np.random.default_rng(7)
    B, c, x = rng.normal(size=(3, 5)), rng.normal(size=3), rng.normal(size=5)
    check_grad(lambda x: B @ x + c, x, expected=B).raise_if_failed()
    r = check_grad(lambda x: B @ x + c, x, expected=B.T)
    assert r["x"].status == "SHAPE" and r["x"].kind == "jacobian"


def test_matrix_factorisation_gradient() -> None:
    rng = np.random.default_rng(8)
    M, P, Q = rng.normal(size=(4, 5)), rng.normal(size=(4, 2)), rng.normal(size=(2, 5))
    f = lambda P, Q: 0.5 * ((M - P @ Q) ** 2).sum()
    R = lambda P, Q: M - P @ Q
    check_grad(f, P, Q, expected=lambda P, Q: {"P": -R(P, Q) @ Q.T, "Q": -P.T @ R(P, Q)}).raise_if_failed()
    r = check_grad(f, P, Q, expected=lambda P, Q: {"P": R(P, Q) @ Q.T, "Q": -P.T @ R(P, Q)})
    assert r["P"].status == "WRONG" and r["Q"].ok


# ---------------------------------------------------------------------------- the students' answers
# Each answer is transcribed as numpy from hw2-solutions-en-mlp-relu.txt (EN) and
# hw2-solutions-fr-mlp-relu.txt (FR) and checked against the network; the verdict is recorded.
# The network is square (d_h = m = 4) so that the dimensionally inconsistent answers run at all.

def _dot_1d(a: np.ndarray, b: np.ndarray) -> Any:
    return np.dot(np.transpose(a), b)


ANSWERS: list[tuple[str, str, Any, bool]] = [
    # (id, checked name, formula of the forward values v, correct?)
    ("EN 2.7-2.8 grad_oa = os - onehot", "oa", lambda v: v.os - v.onehot, True),
    ("EN 2.9 row k: dL/dW2_k = (os_k - onehot_k) h^s", "W2",
     lambda v: np.stack([(v.os[k] - v.onehot[k]) * v.hs for k in range(v.m)]), True),
    ("EN 2.10 grad_W2 = numpy.dot(numpy.transpose(grad_oa), h_s)", "W2",
     lambda v: _dot_1d(v.g_oa, v.hs), False),
    ("EN 2.9 grad_b2 = grad_oa", "b2", lambda v: v.g_oa, True),
    ("EN 2.11 dL/dh^s_j = sum_k (os_k - onehot_k) W2_kj", "hs",
     lambda v: np.array([sum(v.g_oa[k] * v.W2[k, j] for k in range(v.m)) for j in range(v.dh)]), True),
    ("EN 2.12 dL/dh^s_j = (w_j^(2))^T (os - onehot), w_j the j-th row", "hs",
     lambda v: np.array([v.W2[j, :] @ v.g_oa for j in range(v.dh)]), False),
    ("EN 2.13 dh^s_j/dh^a_j = h^a_j if h^a_j > 0 (rect'(z) = z)", "ha",
     lambda v: v.g_hs * np.where(v.ha > 0, v.ha, 0.0), False),
    ("EN 2.13 final: dL/dh^a_j = sum_k (...) W2_kj I(h^a_j > 0)", "ha", lambda v: v.g_hs * (v.ha > 0), True),
    ("EN 2.15 row j: dL/dW1_j = dL/dh^a_j x", "W1",
     lambda v: np.stack([v.g_ha[j] * v.x for j in range(v.dh)]), True),
    ("EN 2.17 dL/dx = sum_k (os_k - onehot_k) W2_k I(h^a > 0) W1_k (k for outputs and hidden units)",
     "x", lambda v: sum(v.g_oa[k] * v.W2[k, k] * (v.ha[k] > 0) * v.W1[k, :] for k in range(v.m)), False),
    ("FR B.7-8 grad_oa = os - onehot", "oa", lambda v: v.os - v.onehot, True),
    ("FR B.10 grad_W2 = np.dot(grad_oa, hs.T), (m,1) and (d_h,1) columns", "W2",
     lambda v: np.dot(v.g_oa[:, None], v.hs[:, None].T), True),
    ("FR B.10 the same code on 1-D arrays (hs.T does nothing): an inner product", "W2",
     lambda v: np.dot(v.g_oa, v.hs.T), False),
    ("FR B.12 grad_hs = np.dot(W2.T, grad_oa)", "hs", lambda v: np.dot(v.W2.T, v.g_oa), True),
    ("FR B.14 grad_ha = np.multiply(grad_hs, 1{h^a > 0})", "ha",
     lambda v: np.multiply(v.g_hs, v.ha > 0), True),
    ("FR B.16 grad_W1 = np.dot(grad_ha, x.T), columns", "W1",
     lambda v: np.dot(v.g_ha[:, None], v.x[:, None].T), True),
    ("FR B.16 grad_b1 = grad_ha", "b1", lambda v: v.g_ha, True),
    ("FR B.17 dL/dx = (W1)^T dL/dh^a", "x", lambda v: v.W1.T @ v.g_ha, True),
]


def net_loss_with_x(v: SimpleNamespace) -> Any:
    base = net_loss(v)

    def loss(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, x: Tensor) -> Tensor:
        v.x, saved = x, v.x
        try:
            return base(W1, b1, W2, b2)
        finally:
            v.x = saved

    return loss


@pytest.mark.parametrize("answer,name,formula,correct", ANSWERS, ids=[a[0][:40] for a in ANSWERS])
def test_student_answer(answer: str, name: str, formula: Any, correct: bool) -> None:
    v = make_net(d=3, dh=4, m=4, seed=11)
    r = check_grad(net_loss_with_x(v), *params(v), v.x, expected={name: formula(v)})
    assert r.ok is correct, f"{answer}: expected {'correct' if correct else 'wrong'}\n{r!r}"


def test_student_regularised_gradients() -> None:
    """EN 2.18 subtracts the L1 term (and drops the λ's): wrong. FR B.18 is right."""
    v = make_net(seed=12)
    l11, l12 = 0.05, 0.2
    loss = net_loss(v, (l11, l12))
    en = v.g_W1 + 2 * l12 * v.W1 - l11 * np.sign(v.W1)           # EN, with the λ's given back
    en_literal = v.g_W1 + 2 * v.W1 - np.sign(v.W1)               # EN as written
    fr = v.g_W1 + l11 * np.sign(v.W1) + 2 * l12 * v.W1          # FR B.18
    assert not check_grad(loss, *params(v), expected={"W1": en}).ok
    assert not check_grad(loss, *params(v), expected={"W1": en_literal}).ok
    check_grad(loss, *params(v), expected={"W1": fr}).raise_if_failed()


def test_student_parameter_counts() -> None:
    """EN 2.5: n_θ = (d_h + 1) d + (m + 1) d_h is wrong; FR B.5: d_h d + d_h + m d_h + m is right."""
    d, dh, m = 5, 4, 3
    v = make_net(d=d, dh=dh, m=m)
    counted = sum(Tensor(p).size for p in params(v))
    assert counted == dh * d + dh + m * dh + m                  # FR
    assert counted != (dh + 1) * d + (m + 1) * dh               # EN


def test_student_scalar_derivatives_part_a() -> None:
    """Part A of both solutions: σ', tanh', abs', rect', ∇||x||², ∇||x||₁ are all right."""
    x = np.array([-1.5, -0.2, 0.3, 2.0])
    for f, d in [(lambda x: x.sigmoid(), sigma(x) * (1 - sigma(x))),
                 (lambda x: x.tanh(), 1 - np.tanh(x) ** 2),
                 (lambda x: abs(x), np.sign(x)),
                 (lambda x: x.relu(), (x > 0) * 1.0)]:
        check_grad(f, x, expected=np.diag(d)).raise_if_failed()
    check_grad(lambda x: (x ** 2).sum(), x, expected=2 * x).raise_if_failed()
    check_grad(lambda x: abs(x).sum(), x, expected=np.sign(x)).raise_if_failed()


def test_check_at_a_kink_warns() -> None:
    """rect at exactly 0: the check warns that finite differences mean nothing there."""
    with pytest.warns(GradCheckWarning, match="relu"):
        r = check_grad(lambda x: x.relu().sum(), np.array([0.0, 1.0]), expected=np.array([0.0, 1.0]))
    assert r["x"].status == "NUMERIC"


def test_linear_layer_mse_answers() -> None:
    """mse-and-linear-layer-gradients-fr.txt: Q4/Q5 matrix forms are right; Q3's dL/dX_ij =
    dL/df_ij Σ_u W_uj is wrong (it should be Σ_l dL/df_il W_jl, i.e. G Wᵀ)."""
    rng = np.random.default_rng(13)
    q, n, p = 4, 3, 3
    X, W = rng.normal(size=(q, n)), rng.normal(size=(n, p))
    b, Y = rng.normal(size=(1, p)), rng.normal(size=(q, p))
    C = lambda X, W, b: ((X @ W + b - Y) ** 2).mean()
    G = 2 / (q * p) * (X @ W + b - Y)                      # dC/dŶ for C = 1/(qp) ΣΣ (Ŷ - Y)²
    check_grad(C, X, W, b, expected=(G @ W.T, X.T @ G, np.ones((1, q)) @ G)).raise_if_failed()
    q3 = G * W.sum(axis=0)                                 # Q3: dL/df_ij Σ_u W_uj
    r = check_grad(C, X, W, b, expected={"X": q3})
    assert r["X"].status == "WRONG" and r["W"].ok and r["b"].ok
