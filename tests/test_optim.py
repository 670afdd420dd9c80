"""Optimizers: updates equal their formulas (Tensor and Value parameters), schedules, errors."""

from __future__ import annotations

import numpy as np
import pytest
from autograd_lite.nn import MLP
from autograd_lite.optim import SGD, Adam, cosine_decay, exponential_decay

from autograd_lite import Tensor, Value


def _quadratic_grads(w: Tensor) -> None:
    """Loss Σ (w - c)² with c = [1, -2, 3]: gradient 2(w - c)."""
    w.grad = None
    ((w - np.array([1.0, -2.0, 3.0])) ** 2).sum().backward()


def test_sgd_is_batch_gradient_descent() -> None:
    w = Tensor([0.0, 0.0, 0.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    data_id = id(w.data)
    _quadratic_grads(w)
    opt.step()
    np.testing.assert_allclose(w.data, [0.2, -0.4, 0.6])
    assert id(w.data) == data_id  # updated in place
    for _ in range(200):
        _quadratic_grads(w)
        opt.step()
    np.testing.assert_allclose(w.data, [1.0, -2.0, 3.0], atol=1e-12)
    assert opt.steps == 201


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_and_nesterov_follow_their_formulas(nesterov: bool) -> None:
    mu, lr = 0.9, 0.05
    w = Tensor([0.5, 1.0, -1.0], requires_grad=True)
    ref = w.data.copy()
    v = np.zeros(3)
    opt = SGD([w], lr=lr, momentum=mu, nesterov=nesterov)
    for _ in range(5):
        _quadratic_grads(w)
        g = 2 * (ref - np.array([1.0, -2.0, 3.0]))
        v = mu * v + g
        ref = ref - lr * (g + mu * v if nesterov else v)
        opt.step()
        np.testing.assert_allclose(w.data, ref, atol=1e-14)


def test_adam_follows_its_formula() -> None:
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-8
    w = Tensor([0.5, 1.0, -1.0], requires_grad=True)
    ref = w.data.copy()
    m = v = np.zeros(3)
    opt = Adam([w], lr=lr, betas=(b1, b2), eps=eps)
    for t in range(1, 6):
        _quadratic_grads(w)
        g = 2 * (ref - np.array([1.0, -2.0, 3.0]))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        ref = ref - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        opt.step()
        np.testing.assert_allclose(w.data, ref, atol=1e-14)


def test_value_parameters_are_updated_as_floats() -> None:
    a, b = Value(1.0), Value(-2.0)
    for opt in (SGD([a, b], lr=0.1, momentum=0.5), Adam([a, b], lr=0.1)):
        opt.zero_grad()
        (a * a + b * b).backward()
        opt.step()
        assert type(a.data) is float and type(b.data) is float
    assert abs(a.data) < 1.0 and abs(b.data) < 2.0


def test_zero_grad_skips_params_without_gradient_and_accepts_a_module() -> None:
    model = MLP([2, 3, 2], seed=0)
    opt = SGD(model, lr=0.1)
    assert len(opt.params) == 4
    before = model.fc1.W.data.copy()
    model.fc2.b.grad = np.ones(2)  # only one parameter has a gradient
    opt.step()
    np.testing.assert_array_equal(model.fc1.W.data, before)
    np.testing.assert_allclose(model.fc2.b.data, [-0.1, -0.1])
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_schedule_hook() -> None:
    w = Tensor([0.0], requires_grad=True)
    seen: list[tuple[int, float]] = []

    def schedule(step: int, base_lr: float) -> float:
        seen.append((step, base_lr))
        return base_lr / (1 + step)

    opt = SGD([w], lr=1.0, schedule=schedule)
    for _ in range(3):
        w.grad = np.array([1.0])
        opt.step()
    assert seen == [(0, 1.0), (1, 1.0), (2, 1.0)]
    np.testing.assert_allclose(w.data, [-(1 + 1 / 2 + 1 / 3)])
    assert exponential_decay(0.5)(3, 2.0) == 0.25
    assert cosine_decay(10, min_lr=0.1)(10, 1.0) == pytest.approx(0.1)
    assert cosine_decay(10)(0, 1.0) == 1.0
    bad = SGD([w], lr=1.0, schedule=lambda s, lr: float("nan"))
    w.grad = np.array([1.0])
    with pytest.raises(ValueError, match="schedule returned lr=nan"):
        bad.step()


def test_optimizer_errors() -> None:
    w = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        SGD([w], lr=0.0)
    with pytest.raises(ValueError, match="no parameters"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="does not require grad"):
        SGD([Tensor([1.0])], lr=0.1)
    with pytest.raises(TypeError, match="must be Tensors or Values"):
        SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="momentum must be in"):
        SGD([w], momentum=1.0)
    with pytest.raises(ValueError, match="nesterov=True needs momentum"):
        SGD([w], nesterov=True)
    with pytest.raises(ValueError, match="betas must be in"):
        Adam([w], betas=(0.9, 1.0))
    assert "momentum=0.9" in repr(SGD([w], lr=0.1, momentum=0.9))
