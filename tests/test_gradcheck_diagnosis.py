"""check_grad's diagnosis: each kind of slip gets exactly its explanation, and nothing else does.

For each kind (constant factor, transposed, missing/extra path, missing chain factor, wrong
elementwise derivative, regularization slip, wrong axis, and the shape explanations) a wrong formula
written the way a student writes it must get that diagnosis; the correct formulas and unrelated
wrong ones (noise, a permutation, the right formula at another point, the seeds' EN 2.17 answer)
must get none. The networks are the seeds' one-hidden-layer MLP (hw2: relu, hw3: leaky relu,
softmax, NLL, elastic net with lambda_11, lambda_12, lambda_21, lambda_22).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from autograd_lite import Tensor, Value, check_grad
from autograd_lite.tools import diagnosis as diagnosis_module

LAM = (0.05, 0.2, 0.03, 0.1)  # lambda_11, lambda_12, lambda_21, lambda_22


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def net(d: int = 3, dh: int = 4, m: int = 4, seed: int = 0, act: str = "relu", alpha: float = 0.1,
        lam: tuple[float, ...] = (0.0,) * 4) -> SimpleNamespace:
    """One example through the seeds' MLP: parameters, forward values, the correct gradients, and
    the loss as a function of (W1, b1, W2, b2, x) built from Tensors with labelled intermediates."""
    rng = np.random.default_rng(seed)
    v = SimpleNamespace(alpha=alpha, lam=lam)
    v.W1, v.b1 = rng.normal(size=(dh, d)), rng.normal(size=dh) * 0.5
    v.W2, v.b2 = rng.normal(size=(m, dh)), rng.normal(size=m) * 0.5
    v.x, v.onehot = rng.normal(size=d), np.eye(m)[1]
    v.ha = v.W1 @ v.x + v.b1
    assert np.all(np.abs(v.ha) > 1e-2) and np.any(v.ha > 0) and np.any(v.ha < 0)
    slope = (v.ha > 0) * 1.0 if act == "relu" else np.where(v.ha > 0, 1.0, alpha)
    v.hs = v.ha * slope
    v.oa = v.W2 @ v.hs + v.b2
    v.g_oa = softmax(v.oa) - v.onehot
    v.g_hs = v.W2.T @ v.g_oa
    v.g_ha = v.g_hs * slope
    pen1 = lam[0] * np.sign(v.W1) + 2 * lam[1] * v.W1
    pen2 = lam[2] * np.sign(v.W2) + 2 * lam[3] * v.W2
    v.g = {"oa": v.g_oa, "hs": v.g_hs, "ha": v.g_ha, "W2": np.outer(v.g_oa, v.hs) + pen2,
           "b2": v.g_oa, "W1": np.outer(v.g_ha, v.x) + pen1, "b1": v.g_ha, "x": v.W1.T @ v.g_ha}

    def loss(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, x: Tensor) -> Tensor:
        ha = W1 @ x + b1
        ha.label = "ha"
        hs = ha.relu() if act == "relu" else ha.leaky_relu(alpha)
        hs.label = "hs"
        oa = W2 @ hs + b2
        oa.label = "oa"
        L = -(oa.log_softmax() * v.onehot).sum()
        if any(lam):
            L = (L + lam[0] * W1.abs().sum() + lam[1] * (W1 ** 2).sum()
                 + lam[2] * W2.abs().sum() + lam[3] * (W2 ** 2).sum())
        return L

    v.loss = loss
    v.params = (v.W1, v.b1, v.W2, v.b2, v.x)
    return v


def check(v: SimpleNamespace, **expected: Any) -> Any:
    return check_grad(v.loss, *v.params, expected=expected)


def diagnosed(report: Any, name: str) -> Any:
    e = report[name]
    assert e.status in ("WRONG", "SHAPE"), repr(report)
    assert e.diagnosis is not None, f"{name}: no diagnosis\n{report!r}"
    return e.diagnosis


# ------------------------------------------------------------------------------ no false explanations

def test_correct_formulas_get_no_diagnosis() -> None:
    for v in (net(), net(act="leaky", seed=2), net(seed=5, lam=LAM)):
        r = check(v, **v.g)
        assert r.ok, repr(r)
        assert all(e.diagnosis is None for e in r)
        assert "diagnosis" not in repr(r) and "diagnosis" not in r._repr_html_()


def unrelated(v: SimpleNamespace) -> list[tuple[str, str, np.ndarray]]:
    rng = np.random.default_rng(99)
    other = net(seed=7)  # the right formulas, evaluated at another point
    return [
        ("noise", "W1", v.g["W1"] + 0.05 * rng.normal(size=v.W1.shape)),
        ("relative noise", "hs", v.g["hs"] * (1 + 0.1 * rng.normal(size=v.g_hs.shape))),
        ("a permutation", "W2", np.roll(v.g["W2"], 1, axis=1)),
        ("another point", "ha", other.g["ha"]),
        ("another point", "W2", other.g["W2"]),
        ("a constant added", "b2", v.g["b2"] + 0.1),
        ("EN 2.17 (hw2): the indices of the two sums mixed", "x",
         sum(v.g_oa[k] * v.W2[k, k] * (v.ha[k] > 0) * v.W1[k, :] for k in range(4))),
    ]


@pytest.mark.parametrize("case", range(7))
def test_unrelated_wrong_formulas_get_no_diagnosis(case: int) -> None:
    v = net()
    what, name, formula = unrelated(v)[case]
    r = check(v, **{name: formula})
    assert r[name].status == "WRONG", what
    assert r[name].diagnosis is None, f"{what}: false explanation {r[name].diagnosis}"


def test_no_diagnosis_when_autodiff_itself_disagrees_with_finite_differences() -> None:
    """A detached path makes autodiff wrong: explaining the user's formula from it would mislead."""
    r = check_grad(lambda x: (x * x.detach()).sum(), np.array([1.0, 2.0]), expected=np.array([2.0, 4.0]))
    assert r["x"].status == "WRONG" and r["x"].diagnosis is None


def test_diagnose_false_skips_it() -> None:
    v = net()
    wrong = {"W2": 2 * v.g["W2"]}
    assert check(v, **wrong)["W2"].diagnosis is not None
    r = check_grad(v.loss, *v.params, expected=wrong, diagnose=False)
    assert r["W2"].status == "WRONG" and r["W2"].diagnosis is None


# --------------------------------------------------------------------------------- one test per kind

def test_constant_factors() -> None:
    v = net()
    for k, words in [(2.0, "factor of 2"), (0.5, "half of autodiff"), (-1.0, "sign flipped"),
                     (3.0, "3 × autodiff in every entry")]:
        d = diagnosed(check(v, W1=k * v.g["W1"]), "W1")
        assert d.kind == "factor" and d.factor == pytest.approx(k) and words in d.text, d.text
    B = np.arange(6.0).reshape(2, 3)   # a Jacobian too
    d = diagnosed(check_grad(lambda x: 2 * (B @ x), np.ones(3), expected=B), "x")
    assert d.kind == "factor" and d.factor == 0.5
    # a scalar: only the listed factors, never "any constant" from a single number
    assert check_grad(lambda x: x * x, 1.5, expected=3.0 * 0.7)["x"].diagnosis is None
    assert check_grad(lambda x: x * x, 1.5, expected=-3.0)["x"].diagnosis.factor == -1.0


def batch_risk(n: int = 8, seed: int = 2) -> SimpleNamespace:
    """hw3's regularized empirical risk over a batch: mean NLL + elastic net on both layers."""
    rng = np.random.default_rng(seed)
    b = SimpleNamespace(n=n)
    b.X, b.Y = rng.normal(size=(n, 4)), np.eye(3)[rng.integers(0, 3, size=n)]
    b.params = (rng.normal(size=(5, 4)), rng.normal(size=5) * 0.1, rng.normal(size=(3, 5)),
                rng.normal(size=3) * 0.1)

    def risk(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
        Oa = (b.X @ W1.T + b1).relu() @ W2.T + b2
        data = (Oa.logsumexp(axis=1) - (Oa * b.Y).sum(axis=1)).mean()
        return (data + LAM[0] * W1.abs().sum() + LAM[1] * (W1 ** 2).sum()
                + LAM[2] * W2.abs().sum() + LAM[3] * (W2 ** 2).sum())

    def hand(W1: Any, b1: Any, W2: Any, b2: Any, *, scale: float = 1.0, axis: int = 1,
             lam: tuple[float, ...] = LAM) -> tuple[np.ndarray, ...]:
        Ha = b.X @ W1.T + b1
        Hs = np.maximum(Ha, 0)
        G_oa = (softmax(Hs @ W2.T + b2, axis) - b.Y) / n * scale
        G_ha = (G_oa @ W2) * (Ha > 0)
        return (G_ha.T @ b.X + lam[0] * np.sign(W1) + 2 * lam[1] * W1, G_ha.sum(axis=0),
                G_oa.T @ Hs + LAM[2] * np.sign(W2) + 2 * LAM[3] * W2, G_oa.sum(axis=0))

    b.risk, b.hand = risk, hand
    return b


def test_batch_mean_factors() -> None:
    b = batch_risk()
    assert check_grad(b.risk, *b.params, expected=b.hand).ok
    r = check_grad(b.risk, *b.params, expected=lambda *p: b.hand(*p, scale=b.n))
    for name in ("W1", "b1", "W2", "b2"):  # with the penalty (W) and without (b): the data term's 1/n
        d = diagnosed(r, name)
        assert d.kind == "factor" and "missing the 1/n of the mean" in d.text and "8" in d.text
    r = check_grad(b.risk, *b.params, expected=lambda *p: b.hand(*p, scale=1 / b.n))
    assert "an extra 1/n" in diagnosed(r, "b2").text


def test_transposed_square_and_not() -> None:
    v = net(dh=4, m=4)
    d = diagnosed(check(v, W2=np.outer(v.hs, v.g_oa)), "W2")   # square: only the values tell
    assert d.kind == "transposed" and "transpose of the gradient" in d.text
    # graph mode: the same slip on a parameter of a graph the user built and backpropagated
    nodes = [Tensor(p, requires_grad=True, label=k) for p, k in zip(v.params, ("W1", "b1", "W2", "b2", "x"))]
    L = v.loss(*nodes)
    L.backward()
    r = check_grad(L, expected={"W2": np.outer(v.hs, v.g_oa), "oa": v.g_oa})
    assert r["W2"].kind == "parameter" and r["W2"].diagnosis.kind == "transposed" and r["oa"].ok
    v = net(dh=5, m=3, seed=1)
    r = check(v, W2=np.outer(v.hs, v.g_oa))
    d = diagnosed(r, "W2")
    assert r["W2"].status == "SHAPE" and d.kind == "transposed" and "match after .T" in d.text


def test_transposed_weight_inside_the_chain() -> None:
    """EN 2.12 (hw2): dL/dh^s_j = (w_j)ᵀ (o^s - onehot) with w_j a row: W2 used for W2ᵀ."""
    v = net(dh=4, m=4)
    d = diagnosed(check(v, hs=v.W2 @ v.g_oa), "hs")
    assert d.kind == "transposed" and "multiplies by W2 where the chain rule has W2ᵀ" in d.text
    d = diagnosed(check(v, W1=np.outer((v.W2 @ v.g_oa) * (v.ha > 0), v.x)), "W1")
    assert d.kind == "transposed" and d.where == "matmul(hs)"


def two_uses() -> tuple[Any, np.ndarray, dict[str, np.ndarray]]:
    """TD question 4: x reaches L along three paths (h1 = W x, h2 = tanh(V x), and x ⊙ x)."""
    rng = np.random.default_rng(0)
    W, V, x0 = rng.normal(size=(3, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)

    def f(x: Tensor) -> Tensor:
        h1 = W @ x
        h1.label = "h1"
        h2 = (V @ x).tanh()
        h2.label = "h2"
        return (h1 * h2).sum() + (x * x).sum()

    h1, h2 = W @ x0, np.tanh(V @ x0)
    paths = {"h1": W.T @ h2, "h2": V.T @ (h1 * (1 - h2 ** 2)), "square": 2 * x0}
    return f, x0, paths


def test_missing_extra_and_lone_paths() -> None:
    f, x0, p = two_uses()
    total = p["h1"] + p["h2"] + p["square"]
    assert check_grad(f, x0, expected=total).ok
    for hand, words in [(p["h1"] + p["square"], "without the path through matmul -> h2"),
                        (total + p["square"], "path counted twice"),
                        (p["h1"], "the path through h1 alone")]:
        d = diagnosed(check_grad(f, x0, expected=hand), "x")
        assert d.kind == "path" and words in d.text, d.text
        assert "x has 3 uses" in d.text or "counted twice" in d.text
    # scalar graphs too: a = 1.5, y = a sin(a) + e^a, the a cos(a) of the product rule forgotten
    a = Value(1.5, label="a")
    y = a * a.sin() + a.exp()
    d = diagnosed(check_grad(y, expected={"a": float(np.sin(1.5) + np.exp(1.5))}), "a")
    assert d.kind == "path" and "sin" in d.text


def test_missing_chain_factors() -> None:
    v = net()
    d = diagnosed(check(v, ha=v.g_hs), "ha")
    assert d.kind == "chain factor" and "the ReLU mask" in d.text
    d = diagnosed(check(v, W1=np.outer(v.g_hs, v.x), x=v.W1.T @ v.g_hs), "W1")   # further up too
    assert d.kind == "chain factor" and d.where == "relu(ha)"
    z = np.array([-1.2, 0.3, 2.0])
    s, t = 1 / (1 + np.exp(-z)), np.tanh(z)
    w = np.array([1.0, -2.0, 0.5])
    for f, hand, words in [(lambda z: (z.sigmoid() * w).sum(), w, "σ'(z) = σ(z)(1 - σ(z))"),
                           (lambda z: (z.tanh() * w).sum(), w, "1 - tanh²(z)")]:
        d = diagnosed(check_grad(f, z, expected=hand), "z")
        assert d.kind == "chain factor" and words in d.text
    assert check_grad(lambda z: (z.sigmoid() * w).sum(), z, expected=w * s * (1 - s)).ok
    assert check_grad(lambda z: (z.tanh() * w).sum(), z, expected=w * (1 - t * t)).ok


def test_wrong_elementwise_derivatives() -> None:
    v = net()
    d = diagnosed(check(v, ha=v.g_hs * v.ha * (v.ha > 0)), "ha")   # EN 2.13 (hw2): rect'(z) = z
    assert d.kind == "derivative" and "rect'(ha) = ha instead of 1[ha > 0]" in d.text
    v = net(act="leaky", seed=2)
    d = diagnosed(check(v, ha=v.g_hs * np.where(v.ha > 0, v.alpha, 1.0)), "ha")
    assert d.kind == "derivative" and "slope on the wrong side" in d.text
    d = diagnosed(check(v, ha=v.g_hs * (v.ha > 0)), "ha")
    assert d.kind == "derivative" and "the slope 0.1 for ha ≤ 0 is missing" in d.text
    z, w = np.array([-1.2, 0.3, 2.0]), np.array([1.0, -2.0, 0.5])
    s, t = 1 / (1 + np.exp(-z)), np.tanh(z)
    for f, hand, words in [(lambda z: (z.sigmoid() * w).sum(), w * s * (1 + s), "σ(1 + σ)"),
                           (lambda z: (z.tanh() * w).sum(), w * (1 - t), "1 - tanh(z) instead"),
                           (lambda z: (z.tanh() * w).sum(), w * (1 - z * z), "the pre-activation")]:
        d = diagnosed(check_grad(f, z, expected=hand), "z")
        assert d.kind == "derivative" and words in d.text, d.text


def test_regularization_slips() -> None:
    v = net(seed=5, lam=LAM)
    data, W = np.outer(v.g_ha, v.x), v.W1
    s = np.sign(W)
    l11, l12, l21, l22 = LAM
    cases = [
        (data + 2 * l12 * W - l11 * s, "the L1 term with the wrong sign"),
        (data + 2 * W - s, "2 W1 - sign(W1) instead of 0.4 W1 + 0.05 sign(W1)"),   # EN 2.18 as written
        (data + 2 * l11 * W + l12 * s, "λ1 and λ2 swapped"),
        (data + 2 * l22 * W + l21 * s, "another layer's coefficients: your formula uses those of W2"),
        (data + l12 * W + l11 * s, "the 2 of the L2 term is missing"),
        (data, "the penalty's gradient 0.4 W1 + 0.05 sign(W1) is missing"),
    ]
    for hand, words in cases:
        d = diagnosed(check(v, W1=hand), "W1")
        assert d.kind == "regularization" and words in d.text, d.text
    d = diagnosed(check(v, b1=v.g_ha + l11 * np.sign(v.b1) + 2 * l12 * v.b1), "b1")
    assert d.kind == "regularization" and "a penalised b1" in d.text and "biases are not" in d.text


def test_softmax_over_the_wrong_axis() -> None:
    b = batch_risk()
    r = check_grad(b.risk, *b.params, expected=lambda *p: b.hand(*p, axis=0))
    for name in ("W1", "W2", "b2"):
        d = diagnosed(r, name)
        assert d.kind == "axis" and "softmax over axis 0 instead of axis 1" in d.text


def test_bias_summed_over_the_wrong_axis() -> None:
    rng = np.random.default_rng(3)
    W, b0 = rng.normal(size=(3, 3)), rng.normal(size=3)
    for rows in (4, 3):   # (4,) vs (3,) is a SHAPE; a square batch gives a WRONG
        X = rng.normal(size=(rows, 3))
        G = 1 - np.tanh(X @ W + b0) ** 2
        r = check_grad(lambda b, X=X: (X @ W + b).tanh().sum(), b0, expected=G.sum(axis=1))
        d = diagnosed(r, "b")
        assert r["b"].status == ("SHAPE" if rows == 4 else "WRONG")
        assert d.kind == "axis" and "sums over axis 0 (the rows); your formula sums over axis 1" in d.text


def test_shape_explanations() -> None:
    d = diagnosed(check_grad(lambda x: (x * x).sum(), np.ones(3), expected=2 * np.ones((3, 1))), "x")
    assert d.kind == "reshape" and "matches after a reshape" in d.text
    xs = np.array([0.3, -0.2])
    d = diagnosed(check_grad(lambda x: x.tanh(), xs, expected=1 - np.tanh(xs) ** 2), "x")
    assert d.kind == "jacobian" and "not scalar" in d.text and "diagonal" in d.text
    v = net(dh=4, m=4)   # EN 2.10 (hw2): numpy.dot(numpy.transpose(grad_oa), h_s) on 1-D arrays
    d = diagnosed(check(v, W2=np.dot(np.transpose(v.g_oa), v.hs)), "W2")
    assert d.kind == "inner product" and "trace of the gradient" in d.text
    B = np.arange(6.0).reshape(2, 3)
    assert check_grad(lambda x: B @ x, np.ones(3), expected=np.ones(3))["x"].diagnosis is None


# --------------------------------------------------------------------------------- report and cost

def test_diagnosis_in_text_html_and_as_data() -> None:
    v = net(dh=4, m=4)
    r = check(v, W2=np.outer(v.hs, v.g_oa), b2=v.g_oa)
    d = r["W2"].diagnosis
    assert d.kind == "transposed" and str(d) == d.text and d.candidate is not None
    np.testing.assert_allclose(d.candidate, np.outer(v.hs, v.g_oa))
    assert f"  W2: diagnosis: {d.text}" in repr(r)
    page = r._repr_html_()
    assert "diagnosis: transposed" in page and page.count("background:#fdd") == 3   # row, message, diagnosis
    assert r["b2"].diagnosis is None


def test_the_cost_is_a_few_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """One reverse sweep shared by the report, one forward sweep per diagnosed entry, and one
    sub-graph sweep per local slip that passes the screen (here: the one that fits)."""
    reverse: list[int] = []
    forward: list[int] = []
    real_gradients, real_tangents = diagnosis_module.gradients, diagnosis_module._tangents
    monkeypatch.setattr(diagnosis_module, "gradients",
                        lambda *a, **k: reverse.append(1) or real_gradients(*a, **k))
    monkeypatch.setattr(diagnosis_module, "_tangents",
                        lambda *a, **k: forward.append(1) or real_tangents(*a, **k))
    v = net()
    wrong = v.g_hs * v.ha * (v.ha > 0)
    r = check(v, ha=wrong, W1=np.outer(wrong, v.x), b1=wrong, x=v.W1.T @ wrong, W2=2 * v.g["W2"])
    assert [e.diagnosis.kind for e in r.failed] == ["derivative", "derivative", "factor", "derivative",
                                                    "derivative"]
    assert len(forward) == 4            # W2's factor needs no graph sweep
    # the shared sweep + a confirmation for W1, b1 and x (ha is the relu's own input: no sweep)
    assert len(reverse) == 1 + 3
