"""PyTorch habits that do not break numpy semantics work on `Tensor`.

``autograd_lite.tensor(...)``, ``.numpy()``, ``.item()``, ``.detach()``, ``.view()``, ``.T``, and
``dim=`` / ``keepdim=`` wherever ``axis=`` / ``keepdims=`` are. ``t.size`` stays numpy's element
count; PyTorch's ``t.size()`` gets an error pointing to ``t.shape``. Where PyTorch is installed the
same calls are compared with it; the tests pass without it.
"""

from __future__ import annotations

import numpy as np
import pytest

import autograd_lite as al
import autograd_lite.functional as F
from autograd_lite import Tensor

X = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])


def test_tensor_factory_copies_and_can_require_grad() -> None:
    src = X.copy()
    t = al.tensor(src, requires_grad=True)
    src[0, 0] = 99.0  # a copy, as torch.tensor makes
    assert isinstance(t, Tensor) and t.requires_grad and t.data[0, 0] == 1.0
    assert al.tensor([1, 2]).dtype == np.float64  # numpy's default float, not PyTorch's int64
    assert al.tensor([1.0], dtype=np.float32).dtype == np.float32
    u = al.tensor(t)
    assert not u.requires_grad and u.data is not t.data


def test_numpy_item_detach_view_and_T() -> None:
    t = al.tensor(X, requires_grad=True)
    assert t.numpy() is t.data
    assert t[1, 2].item() == -1.0
    d = t.detach()
    assert not d.requires_grad and np.array_equal(d.data, X)
    v = t.view(3, 2)
    assert v.shape == (3, 2) and t.view(-1).shape == (6,) and t.view((6, 1)).shape == (6, 1)
    (v * np.arange(6.0).reshape(3, 2)).sum().backward()
    assert t.grad.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert t.T.shape == (3, 2) and np.array_equal(t.T.data, X.T)


REDUCTIONS = ["sum", "mean", "max", "min", "var", "logsumexp"]


@pytest.mark.parametrize("op", REDUCTIONS)
@pytest.mark.parametrize("dim", [0, 1, -1, (0, 1)])
def test_dim_and_keepdim_are_axis_and_keepdims(op: str, dim: int | tuple[int, int]) -> None:
    t = Tensor(X)
    want = getattr(t, op)(axis=dim, keepdims=True).data
    assert np.array_equal(getattr(t, op)(dim=dim, keepdim=True).data, want)
    assert np.array_equal(getattr(F, op)(t, dim=dim, keepdim=True).data, want)


def test_dim_on_softmax_shapes_and_joins() -> None:
    t = Tensor(X)
    assert np.array_equal(t.softmax(dim=0).data, t.softmax(axis=0).data)
    assert np.array_equal(t.log_softmax(dim=0).data, t.log_softmax(axis=0).data)
    assert t.unsqueeze(dim=1).shape == (2, 1, 3)
    assert t.unsqueeze(1).squeeze(dim=1).shape == (2, 3)
    assert Tensor(np.zeros((2, 3, 4))).flatten(start_dim=1).shape == (2, 12)
    assert Tensor(np.zeros((2, 3, 4))).flatten(start_dim=0, end_dim=1).shape == (6, 4)
    assert al.concatenate([t, t], dim=1).shape == (2, 6)
    assert al.stack([t, t], dim=0).shape == (2, 2, 3)


def test_axis_and_dim_together_is_an_error() -> None:
    with pytest.raises(TypeError, match=r"sum: got both axis= and dim="):
        Tensor(X).sum(axis=0, dim=1)


def test_size_stays_numpys_count_and_size_call_points_to_shape() -> None:
    t = Tensor(X)
    assert t.size == 6 and isinstance(t.size, int) and t.size == X.size
    with pytest.raises(TypeError, match=r"element count \(6\).*t\.shape for the shape"):
        t.size()
    with pytest.raises(TypeError, match=r"t\.shape\[1\] for the length of axis 1"):
        t.size(1)


def test_the_same_calls_as_torch() -> None:
    torch = pytest.importorskip("torch")
    tt = torch.tensor(X, requires_grad=True)
    ours = al.tensor(X, requires_grad=True)
    for a, b in ((ours.sum(dim=1, keepdim=True), tt.sum(dim=1, keepdim=True)),
                 (ours.mean(dim=0), tt.mean(dim=0)),
                 (ours.softmax(dim=-1), tt.softmax(dim=-1)),
                 (ours.logsumexp(dim=1), tt.logsumexp(dim=1)),
                 (ours.view(3, 2).T, tt.view(3, 2).T)):
        assert a.shape == tuple(b.shape)
        assert np.allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-15)
    (ours.softmax(dim=0)[0] * ours.T[:, 1]).sum().backward()
    (tt.softmax(dim=0)[0] * tt.T[:, 1]).sum().backward()
    assert np.allclose(ours.grad, tt.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert ours[0, 1].item() == tt[0, 1].item()
