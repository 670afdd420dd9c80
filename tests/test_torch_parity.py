"""Where PyTorch is installed: every Tensor op matches torch.autograd to 1e-10 in float64.

Skipped when torch is not importable (it is never required). Each case builds the same function
in both libraries, pulls back the same random cotangent and compares values and gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import autograd_lite as al

torch = pytest.importorskip("torch")
tnf = torch.nn.functional

Fn = Callable[..., Any]

# name: (autograd_lite fn, torch fn, input shapes, low, high)
CASES: dict[str, tuple[Fn, Fn, list[tuple[int, ...]], float, float]] = {
    "add_bcast": (lambda a, b: a + b, lambda a, b: a + b, [(3, 1), (1, 4)], -2, 2),
    "sub_bcast": (lambda a, b: a - b, lambda a, b: a - b, [(5,), (2, 5)], -2, 2),
    "mul_scalar_array": (lambda a, b: a * b, lambda a, b: a * b, [(), (2, 3)], -2, 2),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [(2, 3), (3,)], 0.5, 2),
    "pow_const": (lambda a: a ** 2.5, lambda a: a ** 2.5, [(4,)], 0.3, 2),
    "power": (lambda a, b: a ** b, lambda a, b: a ** b, [(2, 3), (2, 3)], 0.3, 2),
    "neg": (lambda a: -a, lambda a: -a, [(3,)], -2, 2),
    "exp": (lambda a: a.exp(), torch.exp, [(2, 3)], -2, 2),
    "log": (lambda a: a.log(), torch.log, [(2, 3)], 0.2, 3),
    "sqrt": (lambda a: a.sqrt(), torch.sqrt, [(2, 3)], 0.2, 3),
    "tanh": (lambda a: a.tanh(), torch.tanh, [(2, 3)], -2, 2),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid, [(2, 3)], -4, 4),
    "log_sigmoid": (lambda a: a.log_sigmoid(), tnf.logsigmoid, [(2, 3)], -4, 4),
    "softplus": (lambda a: a.softplus(), tnf.softplus, [(2, 3)], -4, 4),
    "relu": (lambda a: a.relu(), torch.relu, [(2, 3)], -2, 2),
    "leaky_relu": (lambda a: a.leaky_relu(0.1), lambda a: tnf.leaky_relu(a, 0.1), [(2, 3)], -2, 2),
    "abs": (lambda a: a.abs(), torch.abs, [(2, 3)], -2, 2),
    "sin": (lambda a: a.sin(), torch.sin, [(4,)], -2, 2),
    "cos": (lambda a: a.cos(), torch.cos, [(4,)], -2, 2),
    "clip": (lambda a: a.clip(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), [(3, 4)], -2, 2),
    "maximum": (al.maximum, torch.maximum, [(3, 1), (1, 4)], -2, 2),
    "minimum": (al.minimum, torch.minimum, [(3, 4), (4,)], -2, 2),
    "where": (lambda a, b: al.where(a.data > 0, a, b),
              lambda a, b: torch.where(a > 0, a, b), [(3, 4), (4,)], -2, 2),
    "matmul_2d": (lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 5)], -2, 2),
    "matmul_batched": (lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4, 5)], -2, 2),
    "matmul_bcast_batch": (lambda a, b: a @ b, lambda a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)], -2, 2),
    "matmul_vec_mat": (lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (4, 2)], -2, 2),
    "matmul_mat_vec": (lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4,)], -2, 2),
    "matmul_dot": (lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (4,)], -2, 2),
    "sum_axis": (lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), [(3, 4)], -2, 2),
    "sum_keep": (lambda a: a.sum(axis=(0, 2), keepdims=True),
                 lambda a: a.sum(dim=(0, 2), keepdim=True), [(2, 3, 4)], -2, 2),
    "mean": (lambda a: a.mean(axis=-1), lambda a: a.mean(dim=-1), [(3, 4)], -2, 2),
    "mean_all": (lambda a: a.mean(), lambda a: a.mean(), [(3, 4)], -2, 2),
    "max_axis": (lambda a: a.max(axis=1), lambda a: a.amax(dim=1), [(3, 4)], -2, 2),
    "min_all": (lambda a: a.min(), lambda a: a.amin(), [(3, 4)], -2, 2),
    "var": (lambda a: a.var(axis=0), lambda a: a.var(dim=0, unbiased=False), [(5, 3)], -2, 2),
    "var_ddof1": (lambda a: a.var(ddof=1), lambda a: a.var(), [(5, 3)], -2, 2),
    "reshape": (lambda a: a.reshape(6, 2), lambda a: a.reshape(6, 2), [(3, 4)], -2, 2),
    "transpose": (lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1), [(2, 3, 4)], -2, 2),
    "T": (lambda a: a.T, lambda a: a.T, [(3, 4)], -2, 2),
    "broadcast_to": (lambda a: a.broadcast_to((2, 3, 4)), lambda a: a.expand(2, 3, 4), [(3, 1)], -2, 2),
    "squeeze": (lambda a: a.squeeze(), lambda a: a.squeeze(), [(1, 3, 1)], -2, 2),
    "unsqueeze": (lambda a: a.unsqueeze(1), lambda a: a.unsqueeze(1), [(3, 2)], -2, 2),
    "flatten": (lambda a: a.flatten(1), lambda a: a.flatten(1), [(2, 3, 4)], -2, 2),
    "getitem_basic": (lambda a: a[1:, ::2], lambda a: a[1:, ::2], [(3, 4)], -2, 2),
    "getitem_int_array": (lambda a: a[np.array([0, 2, 2, 0]), np.array([1, 1, 3, 1])],
                          lambda a: a[torch.tensor([0, 2, 2, 0]), torch.tensor([1, 1, 3, 1])],
                          [(3, 4)], -2, 2),
    "concatenate": (lambda a, b: al.concatenate([a, b], axis=1),
                    lambda a, b: torch.cat([a, b], dim=1), [(2, 3), (2, 2)], -2, 2),
    "stack": (lambda a, b: al.stack([a, b], axis=-1),
              lambda a, b: torch.stack([a, b], dim=-1), [(2, 3), (2, 3)], -2, 2),
    "softmax": (lambda a: a.softmax(axis=-1), lambda a: torch.softmax(a, dim=-1), [(3, 5)], -3, 3),
    "softmax_axis0": (lambda a: a.softmax(axis=0), lambda a: torch.softmax(a, dim=0), [(3, 5)], -3, 3),
    "log_softmax": (lambda a: a.log_softmax(), lambda a: torch.log_softmax(a, dim=-1), [(3, 5)], -3, 3),
    "logsumexp": (lambda a: a.logsumexp(axis=1), lambda a: torch.logsumexp(a, dim=1), [(3, 5)], -3, 3),
    "logsumexp_all": (lambda a: a.logsumexp(axis=None),
                      lambda a: torch.logsumexp(a.reshape(-1), dim=0), [(3, 5)], -3, 3),
    "softmax_at_1000": (lambda a: (a * 1000.0).softmax(), lambda a: torch.softmax(a * 1000.0, dim=-1),
                        [(2, 4)], -1, 1),
    "log_softmax_at_1000": (lambda a: (a * 1000.0).log_softmax(),
                            lambda a: torch.log_softmax(a * 1000.0, dim=-1), [(2, 4)], -1, 1),
}


def _inputs(name: str, shapes: list[tuple[int, ...]], low: float, high: float) -> list[np.ndarray]:
    rng = np.random.default_rng(sum(map(ord, name)))
    xs = [rng.uniform(low, high, size=s) for s in shapes]
    if name in ("maximum", "minimum", "max_axis", "min_all", "clip", "abs", "relu", "leaky_relu"):
        xs = [x + np.where(np.abs(x) < 0.05, 0.1, 0.0) for x in xs]  # keep off kinks and ties
    return xs


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_autograd(name: str) -> None:
    f_al, f_torch, shapes, low, high = CASES[name]
    xs = _inputs(name, shapes, low, high)
    a_in = [al.Tensor(x, requires_grad=True) for x in xs]
    t_in = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    a_out = f_al(*a_in)
    t_out = f_torch(*t_in)
    np.testing.assert_allclose(a_out.data, t_out.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = np.random.default_rng(7).normal(size=a_out.shape)
    a_out.backward(gradient=g)
    t_out.backward(torch.tensor(g))
    for i, (a, t) in enumerate(zip(a_in, t_in)):
        assert a.grad is not None and a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=f"{name}: gradient of input {i}")


def test_second_derivative_matches_torch() -> None:
    x0 = np.random.default_rng(3).normal(size=(2, 3))
    a = al.Tensor(x0, requires_grad=True)
    t = torch.tensor(x0, requires_grad=True)
    ya = (a.softmax() * a.sigmoid()).sum() + a[np.array([0, 0]), np.array([1, 1])].sum() ** 2
    yt = (torch.softmax(t, -1) * torch.sigmoid(t)).sum() + t[[0, 0], [1, 1]].sum() ** 2
    ya.backward(create_graph=True)
    (gt,) = torch.autograd.grad(yt, t, create_graph=True)
    ga = a.grad
    np.testing.assert_allclose(ga.data, gt.detach().numpy(), rtol=1e-10, atol=1e-10)
    a.grad = None
    (ga * ga).sum().backward()
    (ht,) = torch.autograd.grad((gt * gt).sum(), t)
    np.testing.assert_allclose(a.grad, ht.numpy(), rtol=1e-10, atol=1e-10)
