"""Array rules of the table: linear algebra, reductions, shape ops and the softmax family.

They register into the same `RULES` table as the elementwise rules (`autograd_lite.core.rules`), with
the same conventions: ``forward`` on ndarrays, ``vjp(g, ans, *inputs, **static)``, ``jvp(tangents,
ans, *inputs, **static)``; static arguments are keyword-only; the engine unbroadcasts. VJPs are
written with methods shared by ndarrays and Tensors (``.sum``, ``.reshape``, ``.transpose``,
``@``), so they also run on nodes for ``create_graph=True``.
"""

from __future__ import annotations

import math
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
    if axis is not None and not keepdims and len(shape):
        kept = list(shape)
        for a in _norm_axis(axis, len(shape)):
            kept[a] = 1
        g = g.reshape(tuple(kept))
    return broadcast_to(g, shape)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast an array (a writable copy) or a Tensor node to ``shape``."""
    if isinstance(x, np.ndarray | np.generic):
        out = np.empty(shape, dtype=x.dtype)
        out[...] = x
        return out
    if isinstance(x, float | int):
        return np.full(shape, x, dtype=np.float64)
    return x.broadcast_to(shape)


def swap_last(x: Any) -> Any:
    """Swap the last two axes (the matrix transpose of a batch of matrices)."""
    nd = x.ndim
    if nd == 2:
        return x.T
    if nd < 2:
        return x
    axes = list(range(nd))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return x.transpose(tuple(axes))


# --------------------------------------------------------------------------------------------- matmul

def _layout_like(target: Any, a: Any, b: Any) -> Any:
    """a @ b, computed as (bᵀ aᵀ)ᵀ when ``target`` is a column-major array (a transposed weight,
    ``W.T``), so the gradient has the target's layout: the transpose VJP then hands the weight a
    row-major gradient and the optimizer's update runs on contiguous memory. Same numbers."""
    if isinstance(target, np.ndarray) and not target.flags.c_contiguous and target.flags.f_contiguous:
        return (b.T @ a.T).T
    return a @ b


def _matmul_vjp(g: Any, ans: Any, x: Any, y: Any, *,
                need: tuple[bool, bool] = (True, True)) -> tuple[Any, Any]:
    xd, yd = x.ndim, y.ndim
    if xd == 2 and yd == 2:  # the common case first; skip a product nobody needs (a constant input)
        return (_layout_like(x, g, y.T) if need[0] else None), (_layout_like(y, x.T, g) if need[1] else None)
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
    "matmul", "x @ y;  ∂/∂x = g yᵀ, ∂/∂y = xᵀ g  (need: which inputs want a gradient)",
    forward=lambda x, y, *, need=(True, True): np.matmul(x, y),
    vjp=_matmul_vjp,
    jvp=lambda t, ans, x, y, *, need=(True, True): _plus(None if t[0] is None else t[0] @ y,
                                   None if t[1] is None else x @ t[1]),
    nodes=_T,
)

# ------------------------------------------------------------------------------------------ reductions

SUM = defrule(
    "sum", "Σ x over axis;  ∂/∂x = 1 (broadcast back)",
    forward=lambda x, *, axis=None, keepdims=False: np.add.reduce(x, axis=axis, keepdims=keepdims),
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
    forward=lambda x, *, axis=None, keepdims=False: x.mean(axis=axis, keepdims=keepdims),
    vjp=lambda g, ans, x, *, axis=None, keepdims=False: (
        expand_to(g, x.shape, axis, keepdims) * (1.0 / _count(x.shape, axis)),),
    jvp=lambda t, ans, x, *, axis=None, keepdims=False: t[0].mean(axis=axis, keepdims=keepdims),
    nodes=_T,
)

# ---------------------------------------------------------------------------------------- shape ops

RESHAPE = defrule(
    "reshape", "reshape x;  the gradient is reshaped back",
    forward=lambda x, *, shape: x.reshape(shape),
    vjp=lambda g, ans, x, *, shape: (g.reshape(x.shape),),
    jvp=lambda t, ans, x, *, shape: t[0].reshape(ans.shape),
    nodes=_T,
)


_INVERSE: dict[tuple[int, ...], tuple[int, ...]] = {}


def _inverse_perm(axes: tuple[int, ...]) -> tuple[int, ...]:
    inv = _INVERSE.get(axes)
    if inv is None:
        inv = _INVERSE[axes] = tuple(int(i) for i in np.argsort(axes))
    return inv


TRANSPOSE = defrule(
    "transpose", "permute the axes of x;  the gradient is permuted back",
    forward=lambda x, *, axes: x.transpose(axes),
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


def _shift(x: np.ndarray, axis: Any) -> np.ndarray:
    """The max along ``axis`` (kept), replaced by 0 where it is ±inf or nan (so x - m stays exact)."""
    m = x.max(axis=axis, keepdims=True)
    if not math.isfinite(m.sum()):  # one cheap test; a false alarm (overflowing sum) is harmless
        m = np.where(np.isfinite(m), m, 0.0)
    return m


def _logsumexp(x: np.ndarray, axis: Any = -1, keepdims: bool = False) -> np.ndarray:
    m = _shift(x, axis)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    out += m
    return out if keepdims else np.squeeze(out, axis=axis)


_max = np.maximum.reduce
_add = np.add.reduce


def _log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    # shifted by the row max (a row that is all -inf or holds +inf has no log-softmax: nan, as torch)
    z = x - _max(x, axis=axis, keepdims=True)
    z -= np.log(_add(np.exp(z), axis=axis, keepdims=True))
    return z


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - _max(x, axis=axis, keepdims=True))
    e /= _add(e, axis=axis, keepdims=True)
    return e


def _sum_keep(g: Any, axis: Any) -> Any:
    """Σ g over ``axis`` with the axis kept, on an array (no Python wrapper) or a node."""
    if isinstance(g, np.ndarray):
        return _add(g, axis=axis, keepdims=True)
    return g.sum(axis=axis, keepdims=True)


def _exp_of_log(x: Any) -> Any:
    """e^x for x ≤ 0 (a log-probability): no overflow check needed on arrays."""
    return np.exp(x) if isinstance(x, np.ndarray) else exp(x)


def softmax(x: Any, axis: int = -1) -> Any:
    """softmax on an array or a node."""
    return _softmax(x, axis) if isinstance(x, np.ndarray) else x.softmax(axis=axis)


SOFTMAX = defrule(
    "softmax", "S(x)ᵢ = e^xᵢ / Σⱼ e^xⱼ;  VJP: S ⊙ (g - Σ g S), O(n), no n×n Jacobian",
    forward=lambda x, *, axis=-1: _softmax(x, axis),
    vjp=lambda g, ans, x, *, axis=-1: (ans * (g - _sum_keep(g * ans, axis)),),
    jvp=lambda t, ans, x, *, axis=-1: ans * (t[0] - (t[0] * ans).sum(axis=axis, keepdims=True)),
    nodes=_T,
)

LOG_SOFTMAX = defrule(
    "log_softmax", "log S(x) = x - logsumexp(x);  VJP: g - S Σ g",
    forward=_log_softmax,
    vjp=lambda g, ans, x, *, axis=-1: (g - _exp_of_log(ans) * _sum_keep(g, axis),),
    jvp=lambda t, ans, x, *, axis=-1: t[0] - (_exp_of_log(ans) * t[0]).sum(axis=axis, keepdims=True),
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

# ------------------------------------------------------------------------------ elementwise, Tensor-only


def _dtype_of(x: Any) -> Any:
    """The float dtype to build raw masks in (so float32 graphs stay float32)."""
    d = raw(x)
    dt = getattr(d, "dtype", None)
    return dt if dt is not None and dt.kind == "f" else np.float64


def _inside(x: Any, low: Any, high: Any) -> Any:
    """1{low ≤ x ≤ high} as raw data in x's float dtype (a bound of None is open)."""
    d = raw(x)
    if low is None:
        m = d <= high
    elif high is None:
        m = d >= low
    else:
        m = (d >= low) & (d <= high)
    return m.astype(_dtype_of(d))


CLIP = defrule(
    "clip", "clip(x, low, high);  d/dx = 1{low ≤ x ≤ high} (1 at the bounds, as PyTorch)",
    forward=lambda x, *, low=None, high=None: np.clip(x, low, high),
    vjp=lambda g, ans, x, *, low=None, high=None: (g * _inside(x, low, high),),
    jvp=lambda t, ans, x, *, low=None, high=None: t[0] * _inside(x, low, high),
    nodes=_T,
)


def _share(x: Any, y: Any, larger: bool) -> Any:
    """The part of the gradient of max(x, y) (or min) that goes to x: 1, 0, or ½ at ties."""
    xd, yd = raw(x), raw(y)
    win = (xd > yd) if larger else (xd < yd)
    w = win.astype(_dtype_of(xd))
    tie = xd == yd
    if np.any(tie):
        w = w + 0.5 * tie
    return w


def _minmax_vjp(larger: bool) -> Any:
    def vjp(g: Any, ans: Any, x: Any, y: Any) -> tuple[Any, Any]:
        w = _share(x, y, larger)
        return g * w, g * (1.0 - w)
    return vjp


def _minmax_jvp(larger: bool) -> Any:
    def jvp(t: Any, ans: Any, x: Any, y: Any) -> Any:
        w = _share(x, y, larger)
        return _plus(_times(t[0], w), _times(t[1], 1.0 - w))
    return jvp


MAXIMUM = defrule(
    "maximum", "max(x, y) elementwise;  ∂/∂x = 1{x > y}, ∂/∂y = 1{y > x}, ½ each at ties",
    forward=np.maximum,
    vjp=_minmax_vjp(True),
    jvp=_minmax_jvp(True),
    nodes=_T,
)

MINIMUM = defrule(
    "minimum", "min(x, y) elementwise;  ∂/∂x = 1{x < y}, ∂/∂y = 1{y < x}, ½ each at ties",
    forward=np.minimum,
    vjp=_minmax_vjp(False),
    jvp=_minmax_jvp(False),
    nodes=_T,
)


def _mask(cond: Any, like: Any) -> Any:
    return np.asarray(cond).astype(_dtype_of(like))


def _where_vjp(g: Any, ans: Any, x: Any, y: Any, *, cond: Any) -> tuple[Any, Any]:
    m = _mask(cond, ans)
    return g * m, g * (1.0 - m)


WHERE = defrule(
    "where", "where(c, x, y) = x if c else y (c constant);  ∂/∂x = 1{c}, ∂/∂y = 1{not c}",
    forward=lambda x, y, *, cond: np.where(cond, x, y),
    vjp=_where_vjp,
    jvp=lambda t, ans, x, y, *, cond: _plus(_times(t[0], _mask(cond, ans)),
                                            _times(t[1], 1.0 - _mask(cond, ans))),
    nodes=_T,
)

ASTYPE = defrule(
    "astype", "cast x to another float dtype;  the gradient is cast back to x's dtype",
    forward=lambda x, *, dtype: x.astype(dtype),
    vjp=lambda g, ans, x, *, dtype: (g.astype(x.dtype),),
    jvp=lambda t, ans, x, *, dtype: t[0].astype(dtype),
    nodes=_T,
)

# ------------------------------------------------------------------------- max, min, var reductions


def _argmax_share(x: Any, ans: Any, axis: Any, keepdims: bool) -> Any:
    """Where x attains its reduced max/min, as weights summing to 1 per reduced slice (ties split)."""
    xd = raw(x)
    m = raw(ans)
    if not keepdims and axis is not None:
        m = np.expand_dims(m, _norm_axis(axis, xd.ndim))
    hit = (xd == m).astype(_dtype_of(xd))
    return hit / hit.sum(axis=axis, keepdims=True)


def _extreme_rule(name: str, fn: Any, word: str) -> Any:
    return defrule(
        name, f"{word} of x over axis;  ∂/∂x = 1 at the {word}imum (split evenly between ties)",
        forward=lambda x, *, axis=None, keepdims=False: fn(x, axis=axis, keepdims=keepdims),
        vjp=lambda g, ans, x, *, axis=None, keepdims=False: (
            expand_to(g, x.shape, axis, keepdims) * _argmax_share(x, ans, axis, keepdims),),
        jvp=lambda t, ans, x, *, axis=None, keepdims=False: (
            t[0] * _argmax_share(x, ans, axis, keepdims)).sum(axis=axis, keepdims=keepdims),
        nodes=_T,
    )


MAX = _extreme_rule("max", np.max, "max")
MIN = _extreme_rule("min", np.min, "min")


def _centred(x: Any, axis: Any, ddof: int) -> Any:
    """2 (x - mean(x)) / (n - ddof): the derivative of var(x) with respect to x."""
    n = _count(x.shape, axis) - ddof
    return (x - x.mean(axis=axis, keepdims=True)) * (2.0 / n)


VAR = defrule(
    "var", "(1/(n - ddof)) Σ (x - x̄)² over axis;  ∂/∂x = 2 (x - x̄)/(n - ddof)",
    forward=lambda x, *, axis=None, keepdims=False, ddof=0: np.var(x, axis=axis, keepdims=keepdims,
                                                                    ddof=ddof),
    vjp=lambda g, ans, x, *, axis=None, keepdims=False, ddof=0: (
        expand_to(g, x.shape, axis, keepdims) * _centred(x, axis, ddof),),
    jvp=lambda t, ans, x, *, axis=None, keepdims=False, ddof=0: (
        t[0] * _centred(x, axis, ddof)).sum(axis=axis, keepdims=keepdims),
    nodes=_T,
)

# ---------------------------------------------------------------------------------------- indexing


def _basic(index: tuple[Any, ...]) -> bool:
    """True when ``index`` holds no arrays (so every element is picked at most once)."""
    for i in index:
        if isinstance(i, np.ndarray):
            return False
    return True


def scatter_add(g: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    """zeros(shape) with ``g`` added at ``index`` (repeated indices add up); arrays or nodes."""
    if isinstance(g, np.ndarray | np.generic):  # numpy returns scalars for 0-d results
        g = np.asarray(g)
        out = np.zeros(shape, dtype=g.dtype)
        if _basic(index):
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out
    return g._scatter_add(index, shape)


GETITEM = defrule(
    "getitem", "x[index] (basic or integer-array index);  VJP scatter-adds g into zeros at index",
    forward=lambda x, *, index: x[index],
    vjp=lambda g, ans, x, *, index: (scatter_add(g, index, x.shape),),
    jvp=lambda t, ans, x, *, index: t[0][index],
    nodes=_T,
)

SCATTER_ADD = defrule(
    "scatter_add", "zeros(shape) with x added at index (repeats add);  VJP: g[index]",
    forward=lambda x, *, index, shape: scatter_add(x, index, shape),
    vjp=lambda g, ans, x, *, index, shape: (g[index],),
    jvp=lambda t, ans, x, *, index, shape: scatter_add(t[0], index, shape),
    nodes=_T,
)

# --------------------------------------------------------------------------------- concatenate, stack


def _join(items: list[Any], axis: int, how: str) -> Any:
    """np.concatenate / np.stack on arrays; the Tensor op when any item is a node."""
    for x in items:
        if not isinstance(x, np.ndarray | np.generic | float | int):
            return getattr(type(x), "_" + how)(items, axis)
    return np.concatenate(items, axis) if how == "concatenate" else np.stack(items, axis)


def _fill(ts: tuple[Any, ...], xs: tuple[Any, ...]) -> list[Any]:
    """Tangents with None (zero) replaced by zeros of the matching input's shape."""
    return [np.zeros_like(raw(x)) if t is None else t for t, x in zip(ts, xs)]


def _concat_vjp(g: Any, ans: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    lead = (slice(None),) * (axis % ans.ndim)
    out = []
    start = 0
    for x in xs:
        stop = start + x.shape[axis]
        out.append(g[(*lead, slice(start, stop))])
        start = stop
    return tuple(out)


CONCATENATE = defrule(
    "concatenate", "join x₁, …, x_k along an axis;  VJP: the matching slices of g",
    forward=lambda *xs, axis: np.concatenate(xs, axis),
    vjp=_concat_vjp,
    jvp=lambda t, ans, *xs, axis: _join(_fill(t, xs), axis, "concatenate"),
    nodes=_T,
)


def _stack_vjp(g: Any, ans: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    lead = (slice(None),) * (axis % ans.ndim)
    return tuple(g[(*lead, i)] for i in range(len(xs)))


STACK = defrule(
    "stack", "stack x₁, …, x_k along a new axis;  VJP: g taken at each position of that axis",
    forward=lambda *xs, axis: np.stack(xs, axis),
    vjp=_stack_vjp,
    jvp=lambda t, ans, *xs, axis: _join(_fill(t, xs), axis, "stack"),
    nodes=_T,
)
