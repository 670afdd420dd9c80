"""Array rules of the table: linear algebra, reductions, shape ops and the softmax family.

They register into the same `RULES` table as the elementwise rules (`autograd_lite.rules`), with
the same conventions: ``forward`` on ndarrays, ``vjp(g, ans, *inputs, **static)``, ``jvp(tangents,
ans, *inputs, **static)``; static arguments are keyword-only; the engine unbroadcasts. VJPs are
written with methods shared by ndarrays and Tensors (``.sum``, ``.reshape``, ``.transpose``,
``@``), so they also run on nodes for ``create_graph=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .rules import _plus, _times, defrule, exp, raw

__all__: list[str] = []

_T = ("Tensor",)


def _norm_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(a % ndim if ndim else 0 for a in axis))


def expand_to(g: Any, shape: tuple[int, ...], axis: Any, keepdims: bool) -> Any:
    """Broadcast a reduced gradient ``g`` back to ``shape`` (the input of a reduction)."""
    if not keepdims and len(shape):
        kept = list(shape)
        for a in _norm_axis(axis, len(shape)):
            kept[a] = 1
        g = g.reshape(tuple(kept))
    return broadcast_to(g, shape)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast an array (a writable copy) or a Tensor node to ``shape``."""
    if isinstance(x, np.ndarray | np.generic | float | int):
        return np.array(np.broadcast_to(x, shape))
    return x.broadcast_to(shape)


def swap_last(x: Any) -> Any:
    """Swap the last two axes (the matrix transpose of a batch of matrices)."""
    if x.ndim < 2:
        return x
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return x.transpose(tuple(axes))


# --------------------------------------------------------------------------------------------- matmul

def _matmul_vjp(g: Any, ans: Any, x: Any, y: Any) -> tuple[Any, Any]:
    xd, yd = x.ndim, y.ndim
    if xd == 1 and yd == 1:  # inner product: g is a scalar
        return g * y, g * x
    if xd == 1:  # (n,) @ (..., n, m) -> (..., m)
        gx = (y @ g.reshape(g.shape + (1,))).reshape(g.shape[:-1] + (y.shape[-2],))
        gy = x.reshape((x.shape[0], 1)) * g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        return gx, gy
    if yd == 1:  # (..., n, m) @ (m,) -> (..., n)
        gx = g.reshape(g.shape + (1,)) * y
        gy = (swap_last(x) @ g.reshape(g.shape + (1,))).reshape(g.shape[:-1] + (y.shape[0],))
        return gx, gy
    return g @ swap_last(y), swap_last(x) @ g


MATMUL = defrule(
    "matmul", "x @ y;  ∂/∂x = g yᵀ, ∂/∂y = xᵀ g",
    forward=lambda x, y: np.matmul(x, y),
    vjp=_matmul_vjp,
    jvp=lambda t, ans, x, y: _plus(None if t[0] is None else t[0] @ y,
                                   None if t[1] is None else x @ t[1]),
    nodes=_T,
)

# ------------------------------------------------------------------------------------------ reductions

SUM = defrule(
    "sum", "Σ x over axis;  ∂/∂x = 1 (broadcast back)",
    forward=lambda x, *, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, ans, x, *, axis=None, keepdims=False: (expand_to(g, x.shape, axis, keepdims),),
    jvp=lambda t, ans, x, *, axis=None, keepdims=False: t[0].sum(axis=axis, keepdims=keepdims),
    nodes=_T,
)


def _count(shape: tuple[int, ...], axis: Any) -> int:
    n = 1
    for a in _norm_axis(axis, len(shape)):
        n *= shape[a]
    return n


MEAN = defrule(
    "mean", "(1/n) Σ x over axis;  ∂/∂x = 1/n",
    forward=lambda x, *, axis=None, keepdims=False: np.mean(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, ans, x, *, axis=None, keepdims=False: (
        expand_to(g, x.shape, axis, keepdims) * (1.0 / _count(x.shape, axis)),),
    jvp=lambda t, ans, x, *, axis=None, keepdims=False: t[0].mean(axis=axis, keepdims=keepdims),
    nodes=_T,
)

# ---------------------------------------------------------------------------------------- shape ops

RESHAPE = defrule(
    "reshape", "reshape x;  the gradient is reshaped back",
    forward=lambda x, *, shape: np.reshape(x, shape),
    vjp=lambda g, ans, x, *, shape: (g.reshape(x.shape),),
    jvp=lambda t, ans, x, *, shape: t[0].reshape(ans.shape),
    nodes=_T,
)


def _inverse_perm(axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(axes))


TRANSPOSE = defrule(
    "transpose", "permute the axes of x;  the gradient is permuted back",
    forward=lambda x, *, axes: np.transpose(x, axes),
    vjp=lambda g, ans, x, *, axes: (g.transpose(_inverse_perm(axes)),),
    jvp=lambda t, ans, x, *, axes: t[0].transpose(axes),
    nodes=_T,
)

BROADCAST_TO = defrule(
    "broadcast_to", "broadcast x to a shape;  ∂/∂x sums the broadcast axes (done by the engine)",
    forward=lambda x, *, shape: np.array(np.broadcast_to(x, shape)),
    vjp=lambda g, ans, x, *, shape: (g,),
    jvp=lambda t, ans, x, *, shape: broadcast_to(t[0], shape),
    nodes=_T,
)

# ---------------------------------------------------------------------------------- softmax family


def _logsumexp(x: np.ndarray, axis: Any = -1, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax(x: Any, axis: int = -1) -> Any:
    """softmax on an array or a node."""
    return _softmax(x, axis) if isinstance(x, np.ndarray) else x.softmax(axis=axis)


SOFTMAX = defrule(
    "softmax", "S(x)ᵢ = e^xᵢ / Σⱼ e^xⱼ;  VJP: S ⊙ (g - Σ g S), O(n), no n×n Jacobian",
    forward=lambda x, *, axis=-1: _softmax(x, axis),
    vjp=lambda g, ans, x, *, axis=-1: (ans * (g - (g * ans).sum(axis=axis, keepdims=True)),),
    jvp=lambda t, ans, x, *, axis=-1: ans * (t[0] - (t[0] * ans).sum(axis=axis, keepdims=True)),
    nodes=_T,
)

LOG_SOFTMAX = defrule(
    "log_softmax", "log S(x) = x - logsumexp(x);  VJP: g - S Σ g",
    forward=lambda x, *, axis=-1: x - _logsumexp(x, axis, keepdims=True),
    vjp=lambda g, ans, x, *, axis=-1: (g - exp(ans) * g.sum(axis=axis, keepdims=True),),
    jvp=lambda t, ans, x, *, axis=-1: t[0] - (exp(ans) * t[0]).sum(axis=axis, keepdims=True),
    nodes=_T,
)


def _lse_vjp(g: Any, ans: Any, x: Any, *, axis: Any = -1, keepdims: bool = False) -> tuple[Any]:
    s = softmax(x, axis) if axis is not None else exp(x - ans)
    if axis is None:
        return (g * s,)
    return (expand_to(g, x.shape, axis, keepdims) * s,)


LOGSUMEXP = defrule(
    "logsumexp", "log Σ e^x over axis (max-shifted);  ∂/∂x = softmax(x)",
    forward=lambda x, *, axis=-1, keepdims=False: _logsumexp(x, axis, keepdims),
    vjp=_lse_vjp,
    jvp=lambda t, ans, x, *, axis=-1, keepdims=False: (
        t[0] * softmax(x, axis)).sum(axis=axis, keepdims=keepdims),
    nodes=_T,
)

# silence "unused" for helpers other rule modules import from here
_ = (_times, raw)
