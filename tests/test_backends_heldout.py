"""Held-out checks of the array-library backends, written apart from tests/test_backends.py.

Every op and small composition runs on torch, array_api_strict and Dask arrays; its gradients
must equal autograd_lite's on numpy (and torch.autograd's on the same torch tensors) to 1e-12 in
float64, stay in the input's library, and keep float32. Then: a training loop on the strict
referee, Dask laziness under a scheduler that refuses to run, and the error messages of misuse.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import Tensor
from autograd_lite.core import backend as B

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the torch comparisons are skipped; the numpy ones still run
    torch = None  # type: ignore[assignment]

_rng = np.random.default_rng(7)
A, Bm = _rng.normal(size=(3, 4)), _rng.normal(size=(3, 4))
P = np.abs(A) + 0.5
M, V = _rng.normal(size=(4, 5)), _rng.normal(size=4)
BA, BB, T3 = _rng.normal(size=(2, 3, 4)), _rng.normal(size=(2, 4, 5)), _rng.normal(size=(2, 3, 4))
TIES, TIES2 = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), np.array([[1.0, 0.0, 3.0], [3.0, 2.0, 5.0]])
LABELS, IDX, MASK = np.array([0, 3, 1]), np.array([0, 2, 2, 1]), A > 0
W12, W6 = np.arange(12.0).reshape(4, 3), np.arange(6.0).reshape(1, 2, 3)


def _t(x: np.ndarray) -> Any:
    return torch.as_tensor(x)


# name: (autograd_lite function, the same in torch or None, inputs)
CASES: dict[str, tuple[Any, Any, list[np.ndarray]]] = {
    "add_sub": (lambda a, b: (3.0 - a + b * 2.0).sum(), lambda a, b: (3.0 - a + b * 2.0).sum(), [A, Bm]),
    "div": (lambda a, b: (a / (b * b + 1.0)).sum(), lambda a, b: (a / (b * b + 1.0)).sum(), [A, Bm]),
    "rdiv": (lambda a: (2.0 / a).sum(), lambda a: (2.0 / a).sum(), [P]),
    "pow_int": (lambda a: (a**3).sum(), lambda a: (a**3).sum(), [A]),
    "pow_frac": (lambda a: (a**1.5).sum(), lambda a: (a**1.5).sum(), [P]),
    "power_nodes": (lambda a, b: (a**b).sum(), lambda a, b: (a**b).sum(), [P, Bm]),
    "rpow": (lambda a: (2.0**a).sum(), lambda a: (2.0**a).sum(), [A]),
    "log_sqrt": (lambda a: (a.log() * a.sqrt()).sum(), lambda a: (a.log() * a.sqrt()).sum(), [P]),
    "abs_relu": (lambda a: ((a.abs() + a.relu()) * a).sum(), lambda a: ((a.abs() + a.relu()) * a).sum(), [A]),
    "leaky_relu": (lambda a: (a.leaky_relu(0.1) * a).sum(), lambda a: (F.leaky_relu(a, 0.1) * a).sum(), [A]),
    "sigmoid_softplus": (
        lambda a: (a.sigmoid() * a.softplus()).sum(),
        lambda a: (a.sigmoid() * F.softplus(a)).sum(),
        [A],
    ),
    "log_sigmoid": (lambda a: (a.log_sigmoid() * a).sum(), lambda a: (F.logsigmoid(a) * a).sum(), [A]),
    "trig_exp": (
        lambda a: (a.tanh() * a.sin() + a.cos() * a.exp()).sum(),
        lambda a: (a.tanh() * a.sin() + a.cos() * a.exp()).sum(),
        [A],
    ),
    "clip": (lambda a: (a.clip(-0.5, 0.5) * a).sum(), lambda a: (a.clamp(-0.5, 0.5) * a).sum(), [A]),
    "max_min_ties": (
        lambda a, b: (ag.maximum(a, b) * ag.minimum(a, b) + 3 * ag.maximum(a, b)).sum(),
        lambda a, b: (torch.maximum(a, b) * torch.minimum(a, b) + 3 * torch.maximum(a, b)).sum(),
        [TIES, TIES2],
    ),
    "where": (
        lambda a, b: ag.where(MASK, a, b * 2.0).sum(),
        lambda a, b: torch.where(_t(MASK), a, b * 2.0).sum(),
        [A, Bm],
    ),
    "matmul_2d": (lambda a, m: ((a @ m) ** 2).sum(), lambda a, m: ((a @ m) ** 2).sum(), [A, M]),
    "matmul_1d_2d": (lambda v, m: ((v @ m) ** 2).sum(), lambda v, m: ((v @ m) ** 2).sum(), [V, M]),
    "matmul_2d_1d": (lambda a, v: ((a @ v) ** 2).sum(), lambda a, v: ((a @ v) ** 2).sum(), [A, V]),
    "matmul_1d_1d": (lambda v, w: (v @ w) ** 2, lambda v, w: (v @ w) ** 2, [V, V * 2]),
    "matmul_batched": (lambda a, b: ((a @ b) ** 2).sum(), lambda a, b: ((a @ b) ** 2).sum(), [BA, BB]),
    "matmul_broadcast": (lambda a, m: ((a @ m) ** 2).sum(), lambda a, m: ((a @ m) ** 2).sum(), [BA, M]),
    "sum_axes_keep": (
        lambda x: (x.sum(axis=(0, 2), keepdims=True) ** 2 * x).sum(),
        lambda x: (x.sum(dim=(0, 2), keepdim=True) ** 2 * x).sum(),
        [T3],
    ),
    "mean_axes": (
        lambda x: (x.mean(axis=(0, 2)) ** 2).sum(),
        lambda x: (x.mean(dim=(0, 2)) ** 2).sum(),
        [T3],
    ),
    "var_axes": (
        lambda x: (x.var(axis=(1, 2), keepdims=True) ** 2).sum(),
        lambda x: (x.var(dim=(1, 2), keepdim=True, correction=0) ** 2).sum(),
        [T3],
    ),
    "var_ddof": (
        lambda x: (x.var(axis=1, ddof=1) ** 2).sum(),
        lambda x: (x.var(dim=1, correction=1) ** 2).sum(),
        [T3],
    ),
    "max_axis": (lambda x: (x.max(axis=1) ** 2).sum(), lambda x: (x.amax(dim=1) ** 2).sum(), [T3]),
    "min_axes_keep": (
        lambda x: (x.min(axis=(0, 2), keepdims=True) * x).sum(),
        lambda x: (x.amin(dim=(0, 2), keepdim=True) * x).sum(),
        [T3],
    ),
    "reshape_T": (
        lambda x: ((x.reshape(4, 3).T * x) ** 2).sum(),
        lambda x: ((x.reshape(4, 3).T * x) ** 2).sum(),
        [A],
    ),
    "transpose": (
        lambda x: (x.transpose(2, 0, 1) ** 3).sum(),
        lambda x: (x.permute(2, 0, 1) ** 3).sum(),
        [T3],
    ),
    "broadcast_to": (
        lambda v: (v.broadcast_to((3, 4)) * A).sum(),
        lambda v: (v.broadcast_to((3, 4)) * _t(A)).sum(),
        [V],
    ),
    "squeeze_flatten": (
        lambda x: (x.unsqueeze(1).squeeze(1).flatten() ** 2).sum(),
        lambda x: (x.unsqueeze(1).squeeze(1).flatten() ** 2).sum(),
        [T3],
    ),
    "getitem_int_slice": (
        lambda x: (x[1, 1:3] ** 2).sum() + x[0, -1],
        lambda x: (x[1, 1:3] ** 2).sum() + x[0, -1],
        [A],
    ),
    "getitem_repeated": (
        lambda x: (x[IDX] ** 2 * W12).sum(),
        lambda x: (x[_t(IDX)] ** 2 * _t(W12)).sum(),
        [A.T.copy()],
    ),
    "getitem_two_arrays": (
        lambda x: (x[IDX[:3], np.array([0, 0, 1])] ** 2).sum(),
        lambda x: (x[_t(IDX[:3]), _t(np.array([0, 0, 1]))] ** 2).sum(),
        [A],
    ),
    "getitem_mask": (lambda x: (x[MASK] ** 3).sum(), lambda x: (x[_t(MASK)] ** 3).sum(), [A]),
    "getitem_newaxis_ellipsis": (
        lambda x: (x[None, ..., 1] ** 2 * W6).sum(),
        lambda x: (x[None, ..., 1] ** 2 * _t(W6)).sum(),
        [T3],
    ),
    "getitem_negative_step": (lambda x: (x[::-1, 1::2] ** 2 * W6.reshape(3, 2)).sum(), None, [A]),
    "concat_stack": (
        lambda a, b: (ag.concatenate([a, b], axis=1) ** 2).sum() + (ag.stack([a, b]).sum(axis=0) ** 3).sum(),
        lambda a, b: (torch.cat([a, b], dim=1) ** 2).sum() + (torch.stack([a, b]).sum(dim=0) ** 3).sum(),
        [A, Bm],
    ),
    "softmax": (lambda x: (x.softmax(axis=1) * Bm).sum(), lambda x: (x.softmax(dim=1) * _t(Bm)).sum(), [A]),
    "log_softmax": (
        lambda x: (x.log_softmax(axis=0) * Bm).sum(),
        lambda x: (x.log_softmax(dim=0) * _t(Bm)).sum(),
        [A],
    ),
    "logsumexp": (
        lambda x: (x.logsumexp(axis=(0, 2)) ** 2).sum(),
        lambda x: (x.logsumexp(dim=(0, 2)) ** 2).sum(),
        [T3],
    ),
    "cross_entropy": (lambda x: ag.cross_entropy(x, LABELS), lambda x: F.cross_entropy(x, _t(LABELS)), [A]),
    "cross_entropy_sum": (
        lambda x: ag.cross_entropy(x, LABELS, reduction="sum"),
        lambda x: F.cross_entropy(x, _t(LABELS), reduction="sum"),
        [A],
    ),
    "mse": (lambda x: ag.mse(x, Bm), lambda x: F.mse_loss(x, _t(Bm)), [A]),
}


def _library_or_skip(lib: str) -> None:
    pytest.importorskip("array_api_compat", reason="the backends need array-api-compat")
    pytest.importorskip({"dask": "dask.array"}.get(lib, lib), reason=f"{lib} is not installed")


def _grads(fn: Any, arrays: list[np.ndarray], lib: str, dtype: Any) -> tuple[list[Any], Tensor]:
    ts = [Tensor(a.astype(dtype)).to(lib) if lib != "numpy" else Tensor(a.astype(dtype)) for a in arrays]
    for t in ts:
        t.requires_grad = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no op here may warn: the inputs are in every domain
        out = fn(*ts)
        out.backward()
    return [t.grad for t in ts], out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lib", ["torch", "array_api_strict", "dask"])
@pytest.mark.parametrize("name", list(CASES))
def test_gradients_equal_numpy_and_stay_in_their_library(name: str, lib: str, dtype: Any) -> None:
    _library_or_skip(lib)
    fn, _, arrays = CASES[name]
    want, ref_out = _grads(fn, arrays, "numpy", dtype)
    got, out = _grads(fn, arrays, lib, dtype)
    assert B.library(out.data) == lib
    tol = 1e-12 if dtype is np.float64 else 2e-5
    for g, w, a in zip(got, want, arrays, strict=True):
        assert B.library(g) == lib, f"{name}: the gradient left {lib}"
        host = B.to_numpy(g)
        assert host.dtype == dtype and w.dtype == dtype, f"{name}: gradient dtype {host.dtype}, {w.dtype}"
        assert host.shape == a.shape
        np.testing.assert_allclose(host, w, rtol=tol, atol=tol)
    np.testing.assert_allclose(B.to_numpy(out.data), ref_out.data, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c[1] is not None])
def test_torch_backed_gradients_equal_torch_autograd(name: str) -> None:
    pytest.importorskip("torch", reason="the torch.autograd referee needs PyTorch")
    pytest.importorskip("array_api_compat", reason="the backends need array-api-compat")
    fn, ref, arrays = CASES[name]
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref(*leaves).backward()
    got, _ = _grads(fn, arrays, "torch", np.float64)
    for g, leaf in zip(got, leaves, strict=True):
        assert isinstance(g, torch.Tensor) and g.dtype == torch.float64
        torch.testing.assert_close(g, leaf.grad, rtol=1e-12, atol=1e-12)


def test_second_derivatives_on_torch_equal_torch_autograd() -> None:
    pytest.importorskip("torch", reason="the torch.autograd referee needs PyTorch")
    pytest.importorskip("array_api_compat", reason="the backends need array-api-compat")
    x = Tensor(torch.tensor(A), requires_grad=True)
    (x.sin() * x**3 + x.softplus()).sum().backward(create_graph=True)
    g = x.grad
    x.zero_grad()
    (g**2).sum().backward()
    xr = torch.tensor(A, requires_grad=True)
    (gr,) = torch.autograd.grad((xr.sin() * xr**3 + F.softplus(xr)).sum(), xr, create_graph=True)
    (h,) = torch.autograd.grad((gr**2).sum(), xr)
    torch.testing.assert_close(x.grad, h, rtol=1e-12, atol=1e-12)
    hess = ag.hessian(lambda t: (t.sin() * t**3).sum())(Tensor(torch.tensor(V)))
    want = torch.autograd.functional.hessian(lambda t: (t.sin() * t**3).sum(), torch.tensor(V))
    torch.testing.assert_close(hess.data, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_mlp_training_on_array_api_strict_equals_numpy(opt: str) -> None:
    _library_or_skip("array_api_strict")
    from autograd_lite.data import make_moons
    from autograd_lite.nn import MLP

    X, y = make_moons(64, noise=0.1, seed=0)
    kw: dict[str, Any] = {"lr": 0.1, "momentum": 0.9} if opt == "SGD" else {"lr": 0.01}
    weights, losses = [], []
    for lib in ("numpy", "array_api_strict"):
        model = MLP([2, 8, 8, 2], activation="tanh", seed=0)
        model = model.to(lib) if lib != "numpy" else model
        data = Tensor(X).to(lib)
        optimizer = getattr(ag.optim, opt)(model.parameters(), **kw)
        for _ in range(10):
            optimizer.zero_grad()
            loss = ag.cross_entropy(model(data), y) + ag.elastic_net(model, l1=1e-3, l2=1e-3)
            loss.backward()
            optimizer.step()
        assert {B.library(p.data) for p in model.parameters()} == {lib}
        weights.append([p.numpy() for p in model.parameters()])
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], abs=1e-12)
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# --- Dask: nothing computes before it is asked ---------------------------------------------------


@pytest.fixture
def refuse_compute() -> Any:
    """A Dask callback that fails any computation started inside the ``with`` block."""
    pytest.importorskip("dask.array", reason="dask is not installed")
    from dask.callbacks import Callback

    class Refuse(Callback):  # type: ignore[misc]
        def _start(self, dsk: Any) -> None:
            raise AssertionError("a Dask computation ran while the graph was being built")

    return Refuse


def _dask_x() -> Any:
    import dask.array as da

    return da.from_array(_rng.normal(size=(40, 3)), chunks=(10, 3))


LAZY_STEPS = {
    "cross_entropy": lambda X, w: ag.cross_entropy(Tensor(X) @ w, np.arange(40) % 2),
    "bce": lambda X, w: ag.losses.binary_cross_entropy_with_logits((Tensor(X) @ w)[:, 0], np.ones(40)),
    "softmax_logsumexp": lambda X, w: (
        (Tensor(X) @ w).softmax(axis=1) + (Tensor(X) @ w).logsumexp(axis=1)[:, None]
    ).sum(),
    "max_var_clip": lambda X, w: (
        (Tensor(X) @ w).max(axis=0).sum()
        + (Tensor(X) @ w).var(axis=0).sum()
        + (Tensor(X) @ w).clip(-0.1, 0.1).sum()
    ),
    "getitem_arrays": lambda X, w: (Tensor(X) @ w)[np.array([1, 1, 5]), np.array([0, 1, 1])].sum(),
    "power_log_sqrt": lambda X, w: (
        ((Tensor(X) @ w).abs() + 1.0).log().sum() + ((Tensor(X) @ w) ** 2 + 1.0).sqrt().sum()
    ),
    "numpy_constants": lambda X, w: ((Tensor(X) @ w) * np.array([1.0, 2.0]) + np.ones((40, 2))).sum(),
    "concat_reshape": lambda X, w: (
        ag.concatenate([Tensor(X) @ w, Tensor(np.ones((1, 2)))]).reshape(2, 41).sum()
    ),
}


@pytest.mark.parametrize("name", list(LAZY_STEPS))
def test_dask_forward_and_backward_do_not_compute(name: str, refuse_compute: Any) -> None:
    X = _dask_x()
    w = Tensor(np.linspace(-1, 1, 6).reshape(3, 2), requires_grad=True, label="w")
    with refuse_compute():
        loss = LAZY_STEPS[name](X, w)
        loss.backward()
    assert B.is_lazy(w.grad) and B.is_lazy(loss.data)
    ag.compute(loss, w)  # then it computes the loss and the gradient, and they equal numpy's
    assert type(w.grad) is np.ndarray
    w2 = Tensor(w.numpy(), requires_grad=True)
    eager = LAZY_STEPS[name](np.asarray(X), w2)
    eager.backward()
    np.testing.assert_allclose(w.grad, w2.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(loss.item(), eager.item(), rtol=1e-12)


def test_where_with_a_dask_condition_stays_lazy(refuse_compute: Any) -> None:
    X = _dask_x()
    with refuse_compute():
        t = Tensor(X, requires_grad=True)
        out = ag.where(X > 0, t * 2.0, 0.0).sum()
        out.backward()
    ag.compute(out, t)
    Xn = np.asarray(X)
    np.testing.assert_allclose(out.item(), 2 * Xn[Xn > 0].sum(), rtol=1e-12)
    np.testing.assert_allclose(t.grad, 2.0 * (Xn > 0))


def test_dask_bool_mask_index_has_known_shape_and_gradient() -> None:
    pytest.importorskip("dask.array", reason="dask is not installed")
    X = _dask_x()
    mask = np.asarray(X) > 0
    t = Tensor(X, requires_grad=True)
    y = t[mask]
    assert y.shape == (int(mask.sum()),)  # was (nan,): Dask's unknown size, then a raw crash
    (y**2).sum().backward()
    np.testing.assert_allclose(B.to_numpy(t.grad), np.where(mask, 2 * np.asarray(X), 0.0), rtol=1e-12)


def test_dask_float32_keeps_float32_next_to_numpy_constants() -> None:
    pytest.importorskip("dask.array", reason="dask is not installed")
    import dask.array as da

    d = Tensor(da.ones(4, dtype="float32", chunks=2), requires_grad=True)
    out = d * np.float64(2.0) + np.ones(4)
    assert out.dtype == np.float32  # as numpy- and torch-backed Tensors do
    out.sum().backward()
    assert d.grad.dtype == np.float32


def test_compute_warns_naming_the_nan_output() -> None:
    pytest.importorskip("dask.array", reason="dask is not installed")
    w = Tensor(np.ones((3, 2)), requires_grad=True, label="w")
    loss = (Tensor(_dask_x()) @ w).log().sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # building warns of nothing: the values are not known yet
        loss.backward()
    with pytest.warns(RuntimeWarning, match=r"compute: the output of 'sum' .* 1 nan"):
        ag.compute(loss, w)
    assert not B.is_lazy(w.grad)


def test_mixing_torch_and_dask_names_both() -> None:
    _library_or_skip("torch")
    _library_or_skip("dask")
    import dask.array as da

    with pytest.raises(TypeError, match=r"add: .*torch.*dask.*\.to\("):
        Tensor(torch.ones(2)) + Tensor(da.ones(2, chunks=1))


# --- misuse: our message, never a raw one from inside a library -----------------------------------


@pytest.mark.parametrize(
    "op", ["__add__", "__sub__", "__mul__", "__truediv__", "__pow__", "__matmul__", "__radd__", "__rmul__"]
)
def test_numpy_tensor_with_a_raw_torch_array_names_both(op: str) -> None:
    _library_or_skip("torch")
    with pytest.raises(TypeError, match=r"live in (numpy and torch|torch on cpu and numpy)"):  # was an
        # AttributeError from deep inside (torch's dtype has no .kind)
        getattr(Tensor(np.ones((2, 2))), op)(torch.ones(2, 2))
    with pytest.raises(TypeError, match=r"live in (numpy and torch|torch on cpu and numpy)"):
        getattr(Tensor(torch.ones(2, 2)), op)(Tensor(np.ones((2, 2))))


def test_torch_broadcast_error_is_ours() -> None:
    _library_or_skip("torch")
    with pytest.raises(ValueError, match=r"add: shapes \(2, 2\) and \(3,\) do not broadcast"):
        Tensor(torch.ones(2, 2)) + Tensor(torch.ones(3))


def test_torch_float32_seed_on_float64_output() -> None:
    _library_or_skip("torch")
    x = Tensor(torch.tensor(A[:, :3]), requires_grad=True)
    (x @ x.T).backward(gradient=torch.ones(3, 3, dtype=torch.float32))  # was torch's dtype error
    assert x.grad.dtype == torch.float64
    y = Tensor(A[:, :3], requires_grad=True)
    (y @ y.T).backward(gradient=np.ones((3, 3), dtype=np.float32))
    np.testing.assert_allclose(x.grad.numpy(), y.grad, rtol=1e-12)


def test_to_a_missing_device_is_our_error() -> None:
    _library_or_skip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the move succeeds")
    with pytest.raises(RuntimeError, match=r"to\('torch', device='cuda'\): that device is not available"):
        Tensor(np.ones(2)).to("torch", device="cuda")


def test_compile_of_a_pure_function_of_its_inputs() -> None:
    def f(x: Tensor) -> Tensor:  # reads no global and no closure: the path checker is empty
        return (x.sin() * x**3).sum()

    x = Tensor(A, requires_grad=True)
    compiled = ag.compile(f)
    value = compiled(x)
    want = Tensor(A, requires_grad=True)
    f(want).backward()
    assert float(value) == pytest.approx(f(Tensor(A)).item(), rel=1e-15)
    np.testing.assert_allclose(x.grad, want.grad, rtol=1e-15)


@pytest.mark.xfail(strict=True, reason="integer Tensors on array_api_strict: t * 1.5 and t.mean() raise "
                   "array_api_strict's own TypeError (int64 and float64 cannot be promoted; mean needs "
                   "floats) from deep inside; numpy and torch give 3.0 and 1.5")
def test_integer_tensor_on_array_api_strict_acts_as_on_numpy() -> None:
    _library_or_skip("array_api_strict")
    import array_api_strict as xs

    t = Tensor(xs.asarray([1, 2]))
    assert B.to_numpy((t * 1.5).data).tolist() == [1.5, 3.0]
    assert t.mean().item() == 1.5
