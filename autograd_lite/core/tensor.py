"""`Tensor`: an ndarray node on the same graph core as `Value`.

Every op is a thin method that hands a rule of the one table (`autograd_lite.core.rules` for the
elementwise ops shared with `Value`, `autograd_lite.core.rules` for the array ops) to the engine.

Dtypes: float64 by default (gradient checks need it); float32 is kept through every op and every
gradient (Python numbers and numpy arrays mixed into a float32 expression take its dtype; two
Tensors of different float dtypes promote as numpy does, and the gradient flowing back to the
narrower one is cast back to its dtype). Integer and bool tensors hold data (labels, masks) but
cannot require grad.

Numpy interop: ``np.asarray(t)`` is the data. A numpy ufunc or function applied to a Tensor uses
the matching rule (``np.exp(t)``, ``np.add(a, t)``, ``np.concatenate([s, t])``, ``np.sum(t)``...)
or raises a TypeError naming it: the graph is never silently dropped.

Example:
    >>> import numpy as np
    >>> from autograd_lite import Tensor
    >>> W = Tensor(np.ones((2, 3)), requires_grad=True)
    >>> x = Tensor([1.0, 2.0, 3.0])
    >>> y = (W @ x).sigmoid().sum()
    >>> y.backward()
    >>> W.grad.shape
    (2, 3)
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from . import backend as _B
from . import engine as _engine
from . import rules as R
from .engine import Node, _build, _escaped, _mode, _new

__all__ = [
    "Tensor",
    "arange",
    "clip",
    "compute",
    "concatenate",
    "eye",
    "manual_seed",
    "matmul",
    "maximum",
    "minimum",
    "one_hot",
    "ones",
    "ones_like",
    "randn",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]

_leaf = Node._leaf.__func__  # type: ignore[attr-defined]
_ndarray = np.ndarray
_asarray = np.asarray
_f64 = np.dtype(np.float64)

Axis = int | tuple[int, ...] | None
_F = TypeVar("_F", bound=Callable[..., Any])

# PyTorch's names for numpy's axis arguments; every op with an axis argument accepts both
_TORCH_NAMES = {"dim": "axis", "keepdim": "keepdims", "start_dim": "start_axis", "end_dim": "end_axis"}


def _torch_names(fn: _F) -> _F:
    """Let ``fn`` take PyTorch's ``dim=``, ``keepdim=``, ``start_dim=``, ``end_dim=`` for its
    numpy-named ``axis=``, ``keepdims=``, ``start_axis=``, ``end_axis=`` (the one place that maps
    them)."""
    own = fn.__name__

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            for theirs, ours in _TORCH_NAMES.items():
                if theirs in kwargs:
                    if ours in kwargs:
                        raise TypeError(f"{own}: got both {ours}= and {theirs}= (PyTorch's name for "
                                        f"{ours}); pass one of them")
                    kwargs[ours] = kwargs.pop(theirs)
        return fn(*args, **kwargs)

    return op  # type: ignore[return-value]


class _Size(int):
    """numpy's ``size`` (the element count, an int). Called like PyTorch's ``t.size()`` it raises
    an error that points to ``t.shape``, instead of "'int' object is not callable"."""

    __slots__ = ()

    def __call__(self, dim: int | None = None) -> Any:
        want = "t.shape for the shape" if dim is None else f"t.shape[{dim}] for the length of axis {dim}"
        raise TypeError(f"Tensor.size is numpy's element count ({int(self)}), not PyTorch's size(): "
                        f"use {want}")


class Tensor(Node):
    """An n-dimensional array in the computation graph (float64 by default, float32 supported).

    ``.data`` is the ndarray, ``.grad`` its gradient (an ndarray, or None before backward).
    ``requires_grad`` is False by default (as in PyTorch); integer and bool tensors cannot
    require grad. ``==, !=, <, <=, >, >=`` compare ``.data`` elementwise and return bool ndarrays
    (as numpy and PyTorch; tensors still hash by identity, so sets and dicts of them work).
    Iterating gives the rows (a 0-d Tensor raises); ``bool(t)`` needs exactly one element.
    ``label`` is your name for the node (shown by the graph renderer), as on `Value`.

    ``backward()`` on a scalar output seeds 1; a non-scalar output needs ``gradient=`` (an array
    of its shape: the vector of a vector-Jacobian product). Intermediates keep their ``.grad``
    (pass ``intermediate_grads=False`` to keep only the leaves', for memory).

    Example:
        >>> t = Tensor([[1.0, -2.0]], requires_grad=True, label="t")
        >>> (t * t).sum().backward()
        >>> t.grad
        array([[ 2., -4.]])
    """

    __slots__ = ("_meta", "_more", "label")  # always set by `_build` (see `Node`)
    _dict_extras = False
    _broadcasts = True
    _grad0 = None
    __array_priority__ = 1000.0  # ndarray (op) Tensor defers to Tensor's reflected dunders

    def __init__(self, data: Any, requires_grad: bool = False, label: str | None = None,
                 dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            _escaped("Tensor(t)")
            data = data.data if dtype is None else data.data.astype(dtype)
        elif isinstance(data, Node):
            raise TypeError(f"Tensor(data): got a {type(data).__name__}; use Tensor(v.data) to "
                            "turn a scalar Value into a constant Tensor")
        arr = _as_array(data, dtype)
        if requires_grad and not _B.is_float(arr):
            raise TypeError(
                f"Tensor(requires_grad=True): a {arr.dtype} tensor cannot require grad; only "
                "floating tensors have gradients. Pass dtype=np.float64 (or float32).")
        _build(self, arr, bool(requires_grad))
        self.label = label or None

    # --- node protocol hooks ---------------------------------------------------------------------
    @classmethod
    def _constant(cls, data: Any) -> Tensor:
        return cls(data)

    def _seed(self) -> np.ndarray:
        d = self.data
        if type(d) is _ndarray and d.size == 1:  # the common case first: a numpy scalar loss
            one = np.array(1, dtype=d.dtype)
            return one.reshape(d.shape) if d.ndim else one
        if self.size != 1:
            raise RuntimeError(
                f"backward(): the output has shape {self.data.shape}, not a scalar; pass "
                "gradient= (an array of that shape, the vector of the vector-Jacobian product), "
                "or reduce it first (e.g. .sum() or .mean()).")
        return _B.namespace(d).ones_like(d)  # another library's scalar

    def _check_seed(self, gradient: Any) -> Any:
        if isinstance(gradient, Tensor):
            g: Any = gradient if gradient.requires_grad else gradient.data
        elif isinstance(gradient, Node):
            raise TypeError(f"backward(gradient=...): got a {type(gradient).__name__}; the seed of "
                            "a Tensor output is an array (or a Tensor) of the output's shape")
        elif type(self.data) is not _ndarray:
            g = gradient if type(gradient) is type(self.data) else _B.like(
                _B.to_numpy(gradient), self.data)
            if g.dtype != self.data.dtype:  # torch does not promote in matmul: cast the seed
                g = _B.namespace(g).astype(g, self.data.dtype)
        else:
            try:
                g = np.asarray(gradient, dtype=self.data.dtype)
            except (TypeError, ValueError):
                raise TypeError(f"backward(gradient=...): expected an array of shape "
                                f"{self.data.shape}, got {type(gradient).__name__} {gradient!r}") from None
        shape = tuple(g.shape)
        if shape != tuple(self.data.shape):
            if math.prod(shape) == 1 and self.size == 1:
                return R._reshape(g, self.data.shape)
            raise ValueError(
                f"backward(gradient=...): gradient has shape {shape} but the output has shape "
                f"{self.data.shape}; pass a gradient of the output's shape")
        return g

    def _zero_tangent(self) -> np.ndarray:
        return _B.names(self.data).zeros_like(self.data)

    # --- array-like properties -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``.data``."""
        d = self.data
        return d.shape if type(d) is _ndarray else tuple(d.shape)

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of ``.data``."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """The number of elements, as numpy's ``size`` (PyTorch's ``t.size()`` is ``t.shape`` here).

        Example:
            >>> t = Tensor([[1.0, 2.0, 3.0]])
            >>> t.size, t.shape
            (3, (1, 3))
        """
        d = self.data
        return _Size(d.size if type(d) is _ndarray else math.prod(d.shape))

    @property
    def T(self) -> Tensor:
        """All axes reversed (the transpose of a matrix).

        Example:
            >>> Tensor([[1.0, 2.0]]).T.shape
            (2, 1)
        """
        if self.data.ndim == 2:
            return _op1(R.TRANSPOSE, self, _SWAP2)
        return self.transpose()

    def __len__(self) -> int:
        if not self.data.ndim:
            raise TypeError("len() of a 0-d Tensor (a single number): it has no length; use "
                            ".item() for the number, or .reshape(1) for a 1-element axis")
        return self.data.shape[0]

    def __iter__(self) -> Any:
        """Iterate over the first axis (``t[0], t[1], ...``, graph kept); a 0-d Tensor raises,
        as a 0-d numpy array does."""
        if not self.data.ndim:
            raise TypeError("iteration over a 0-d Tensor (a single number); use .item() for the "
                            "number, or .reshape(1) for a 1-element axis")
        return (self[i] for i in range(self.data.shape[0]))

    def item(self) -> float:
        """The single element as a Python number.

        Example:
            >>> Tensor([[2.5]]).item()
            2.5
        """
        _escaped(".item()")
        d = self.data
        return d.item() if type(d) is _ndarray else _B.to_numpy(d).item()

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (no copy for numpy data; another library's is copied to host
        memory, a Dask array computed).

        Example:
            >>> Tensor([1.0, 2.0]).numpy()
            array([1., 2.])
        """
        _escaped(".numpy()")
        return _B.to_numpy(self.data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        _escaped("np.asarray()")
        if type(self.data) is not _ndarray:
            host = _B.to_numpy(self.data)
            return host if dtype is None else host.astype(dtype)
        if copy:
            return np.array(self.data, dtype=dtype)
        return self.data if dtype is None else self.data.astype(dtype)

    def detach(self) -> Tensor:
        """A constant Tensor sharing the data, cut from the graph.

        Example:
            >>> Tensor([1.0], requires_grad=True).detach().requires_grad
            False
        """
        _escaped(".detach()")
        t = _leaf(Tensor, self.data, False)
        t.label = self.label
        return t

    def __repr__(self) -> str:
        name = f", label={self.label!r}" if self.label else ""
        grad = ", requires_grad=True" if self.requires_grad else ""
        d = self.data
        where = ""
        if type(d) is not _ndarray:  # printing computes (a lazy array) and copies to host
            dev = str(_B.device(d))
            where = f", backend={_B.library(d)!r}" + (f", device={dev!r}" if _B.library(d) in (
                "torch", "cupy", "jax") and dev != "cpu" else "")
            d = _B.to_numpy(d)
        body = np.array2string(d, precision=4, separator=", ", threshold=20, prefix="Tensor(")
        dt = f", dtype={d.dtype}" if d.dtype != _f64 else ""
        op = f", op={self.op!r}" if self.op else ""
        return f"Tensor({body}{dt}{where}{grad}{op}{name})"

    def _repr_html_(self) -> str:
        from .display import value_html

        return value_html(self)

    # == and != are elementwise, as in numpy and PyTorch (bool arrays, like <); nodes still hash by
    # identity, so sets and dicts of tensors work (``t in list_of_tensors`` does not: numpy's rule)
    def __eq__(self, other: object) -> Any:  # type: ignore[override]
        out = self.data == (other.data if isinstance(other, Node) else other)
        if _engine._on_compare is not None:  # under compile a guard, as < and > are
            _engine._on_compare(self, "==", other, out)
        return out

    def __ne__(self, other: object) -> Any:  # type: ignore[override]
        out = self.data != (other.data if isinstance(other, Node) else other)
        if _engine._on_compare is not None:
            _engine._on_compare(self, "!=", other, out)
        return out

    __hash__ = Node.__hash__

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(f"the truth value of a Tensor of shape {self.shape} is ambiguous; use "
                             "(t > 0).any() or .all() on the comparison")
        out = bool(self.data)
        if _engine._on_compare is not None:  # `if t:` under compile is a guard, as `if t > 0:` is
            _engine._on_compare(self, "!=", 0, out)
        return out

    def __float__(self) -> float:
        _escaped("float()")
        return float(self.data)

    # --- arithmetic -----------------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _binary(R.ADD, self, _lift(other, "+", self))

    def __radd__(self, other: Any) -> Tensor:
        return _binary(R.ADD, _lift(other, "+", self), self)

    def __sub__(self, other: Any) -> Tensor:
        return _binary(R.SUB, self, _lift(other, "-", self))

    def __rsub__(self, other: Any) -> Tensor:
        return _binary(R.SUB, _lift(other, "-", self), self)

    def __mul__(self, other: Any) -> Tensor:
        return _binary(R.MUL, self, _lift(other, "*", self))

    def __rmul__(self, other: Any) -> Tensor:
        return _binary(R.MUL, _lift(other, "*", self), self)

    def __truediv__(self, other: Any) -> Tensor:
        return _binary(R.DIV, self, _lift(other, "/", self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return _binary(R.DIV, _lift(other, "/", self), self)

    def __pow__(self, other: Any) -> Tensor:
        """``x ** p`` (a number: static exponent) or ``x ** y`` (a Tensor/array: elementwise).

        Example:
            >>> (Tensor([2.0, 3.0]) ** 2).data
            array([4., 9.])
        """
        if isinstance(other, int | float | np.integer | np.floating) and not isinstance(other, bool):
            return _apply(R.POW, (self,), {"exponent": float(other)})
        return _binary(R.POWER, self, _lift(other, "**", self))

    def __rpow__(self, other: Any) -> Tensor:
        return _binary(R.POWER, _lift(other, "**", self), self)

    def __neg__(self) -> Tensor:
        return _apply(R.NEG, (self,))

    def __pos__(self) -> Tensor:
        return self

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(_lift(other, "@", self), self)


    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "Tensor does not support item assignment (it would silently change a graph that "
            "was already recorded); build a new tensor with where(mask, new, t) or "
            "concatenate, or, outside any graph, write into t.data[...] directly")

    # --- elementwise functions ------------------------------------------------------------------------








    def leaky_relu(self, alpha: float = 0.01) -> Tensor:
        """x if x > 0 else alpha·x, elementwise (derivative alpha at 0 and below).

        Example:
            >>> Tensor([-1.0, 2.0]).leaky_relu(0.1).data
            array([-0.1,  2. ])
        """
        return _op1(R.LEAKY_RELU, self, {"alpha": float(alpha)})






    def clip(self, low: float | None = None, high: float | None = None) -> Tensor:
        """Clamp to [low, high] (either bound may be None); gradient 1 inside, bounds included.

        Example:
            >>> Tensor([-2.0, 0.5, 3.0]).clip(-1.0, 1.0).data
            array([-1. ,  0.5,  1. ])
        """
        return clip(self, low, high)

    def maximum(self, other: Any) -> Tensor:
        """Elementwise max with ``other`` (broadcasting); ties split the gradient evenly.

        Example:
            >>> Tensor([1.0, 5.0]).maximum(2.0).data
            array([2., 5.])
        """
        return maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        """Elementwise min with ``other`` (broadcasting); ties split the gradient evenly.

        Example:
            >>> Tensor([1.0, 5.0]).minimum(2.0).data
            array([1., 2.])
        """
        return minimum(self, other)

    def astype(self, dtype: Any) -> Tensor:
        """Cast to another float dtype (differentiable: the gradient is cast back).

        Example:
            >>> Tensor([1.0]).astype(np.float32).dtype
            dtype('float32')
        """
        if type(self.data) is not _ndarray:
            return self._astype_other(dtype)
        dt = np.dtype(dtype)
        if dt == self.data.dtype:
            return self
        if self.requires_grad and dt.kind != "f":
            raise TypeError(f"astype: cannot cast a tensor that requires grad to {dt} (gradients "
                            "exist only for floats); use .detach().astype(...)")
        return _apply(R.ASTYPE, (self,), {"dtype": dt})

    def _astype_other(self, dtype: Any) -> Tensor:
        xp = _B.namespace(self.data)
        dt = _B.dtype_in(xp, dtype)
        if dt == self.data.dtype:
            return self
        if self.requires_grad and not xp.isdtype(dt, "real floating"):
            raise TypeError(f"astype: cannot cast a tensor that requires grad to {dt} (gradients "
                            "exist only for floats); use .detach().astype(...)")
        return _apply(R.ASTYPE, (self,), {"dtype": dt})

    # --- other array libraries ----------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """The array library of ``.data``: 'numpy', 'torch', 'dask', 'cupy', ...

        Example:
            >>> Tensor([1.0]).backend
            'numpy'
        """
        return _B.library(self.data)

    @property
    def device(self) -> Any:
        """The device of ``.data`` ('cpu' for numpy and Dask; a torch.device for torch)."""
        return _B.device(self.data)

    def to(self, backend: str, device: Any = None, chunks: Any = "auto") -> Tensor:
        """This tensor's data in another array library (and device), as a differentiable copy:
        gradients flow back to this tensor in its own library. ``backend`` is 'numpy', 'torch',
        'cupy', 'dask', 'jax' or 'array_api_strict'; ``chunks`` is Dask's chunk size.

        Example:
            >>> Tensor([1.0, 2.0]).to("numpy").backend
            'numpy'
        """
        src = self.data
        out = _B.to(src, backend, device=device, chunks=chunks)
        if out is src:
            return self
        return _apply(R.TO, (self,), {"backend": backend, "device": device, "chunks": chunks})

    def compute(self) -> Tensor:
        """Evaluate a lazy (Dask) tensor's data and gradient in one pass, in place; see
        `autograd_lite.compute` for several tensors at once. Other tensors are returned as they are.

        Example:
            >>> Tensor([1.0]).compute().data
            array([1.])
        """
        compute(self)
        return self

    # --- reductions -----------------------------------------------------------------------------------
    @_torch_names
    def sum(self, axis: Axis = None, keepdims: bool = False, **unsupported: Any) -> Tensor:
        """Sum over ``axis`` (int, tuple or None for all).

        Example:
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0).data
            array([4., 6.])
        """
        _no_numpy_extras("sum", unsupported)
        return _apply(R.SUM, (self,), {"axis": _axis(axis, self.ndim, "sum"),
                                        "keepdims": bool(keepdims)})

    @_torch_names
    def mean(self, axis: Axis = None, keepdims: bool = False, **unsupported: Any) -> Tensor:
        """Mean over ``axis`` (int, tuple or None for all).

        Example:
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).mean(axis=1, keepdims=True).data
            array([[1.5],
                   [3.5]])
        """
        _no_numpy_extras("mean", unsupported)
        ax = _axis(axis, self.ndim, "mean")
        if not R._count(self.shape, ax):  # the mean of nothing: nan, as numpy and torch
            _empty_warning("mean", self, ax, "nan (as in numpy and PyTorch)")
            return self.sum(ax, keepdims) * np.nan  # (its gradient is empty: no element has one)
        return _apply(R.MEAN, (self,), {"axis": ax, "keepdims": bool(keepdims)})

    @_torch_names
    def max(self, axis: Axis = None, keepdims: bool = False, **unsupported: Any) -> Tensor:
        """Maximum over ``axis``; the gradient goes to the maximal entries (split between ties).

        Example:
            >>> Tensor([[1.0, 5.0], [7.0, 2.0]]).max(axis=1).data
            array([5., 7.])
        """
        _no_numpy_extras("max", unsupported)
        _nonempty(self, "max")
        return _apply(R.MAX, (self,), {"axis": _axis(axis, self.ndim, "max"),
                                        "keepdims": bool(keepdims)})

    @_torch_names
    def min(self, axis: Axis = None, keepdims: bool = False, **unsupported: Any) -> Tensor:
        """Minimum over ``axis``; the gradient goes to the minimal entries (split between ties).

        Example:
            >>> Tensor([[1.0, 5.0], [7.0, 2.0]]).min().data
            array(1.)
        """
        _no_numpy_extras("min", unsupported)
        _nonempty(self, "min")
        return _apply(R.MIN, (self,), {"axis": _axis(axis, self.ndim, "min"),
                                        "keepdims": bool(keepdims)})

    @_torch_names
    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0,
            **unsupported: Any) -> Tensor:
        """Variance over ``axis`` (``ddof=1`` for the unbiased estimate), as ``np.var``.

        Example:
            >>> Tensor([1.0, 2.0, 3.0, 4.0]).var().data
            array(1.25)
        """
        _no_numpy_extras("var", unsupported)
        ax = _axis(axis, self.ndim, "var")
        n = R._count(self.shape, ax)
        if n - int(ddof) <= 0:
            raise ValueError(f"var: {n} element(s) per slice with ddof={ddof} leave no degrees of "
                             "freedom; use a smaller ddof or more data")
        return _apply(R.VAR, (self,), {"axis": ax, "keepdims": bool(keepdims), "ddof": int(ddof)})

    # --- shape ops --------------------------------------------------------------------------------------
    def reshape(self, *shape: Any, **unsupported: Any) -> Tensor:
        """Reshape (``t.reshape(2, 3)`` or ``t.reshape((2, 3))``; one -1 allowed).

        Example:
            >>> Tensor([1.0, 2.0, 3.0, 4.0]).reshape(2, -1).shape
            (2, 2)
        """
        if "newshape" in unsupported or "shape" in unsupported:  # np.reshape(t, shape=...)
            shape = (unsupported.pop("shape", None) or unsupported.pop("newshape"),)
        _no_numpy_extras("reshape", unsupported)
        if len(shape) == 1 and isinstance(shape[0], Sequence):
            shape = tuple(shape[0])
        try:
            target = np.empty(self.shape, dtype=np.bool_).reshape(shape).shape
        except (TypeError, ValueError):
            raise ValueError(f"reshape: cannot reshape a tensor of shape {self.shape} "
                             f"({self.size} elements) into {shape}") from None
        if target == self.shape:
            return self
        return _apply(R.RESHAPE, (self,), {"shape": target})

    def view(self, *shape: Any) -> Tensor:
        """PyTorch's name for `reshape` (the same op: the gradient is reshaped back).

        Example:
            >>> Tensor([1.0, 2.0, 3.0, 4.0]).view(2, 2).shape
            (2, 2)
        """
        return self.reshape(*shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes (all reversed by default), as ``np.transpose``.

        Example:
            >>> Tensor(np.zeros((2, 3, 4))).transpose(2, 0, 1).shape
            (4, 2, 3)
        """
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], Sequence)):
            axes = tuple(axes[0]) if axes[0] is not None else ()
        nd = self.ndim
        if not axes:
            perm = tuple(range(nd))[::-1]
        else:
            try:
                perm = tuple(operator.index(a) % nd for a in axes)
            except (TypeError, ZeroDivisionError):
                perm = ()
        if sorted(perm) != list(range(nd)) or (axes and len(axes) != nd):
            raise ValueError(f"transpose: {axes} is not a permutation of the {nd} axes of a "
                             f"tensor of shape {self.shape}")
        return _apply(R.TRANSPOSE, (self,), {"axes": perm})

    permute = transpose

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        """Broadcast to ``shape`` (numpy rules).

        Example:
            >>> Tensor([1.0, 2.0]).broadcast_to((3, 2)).shape
            (3, 2)
        """
        shape = tuple(shape)
        try:
            ok = np.broadcast_shapes(self.shape, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"broadcast_to: cannot broadcast shape {self.shape} to {shape}")
        return _apply(R.BROADCAST_TO, (self,), {"shape": shape})

    @_torch_names
    def squeeze(self, axis: Axis = None) -> Tensor:
        """Remove axes of length 1 (all of them, or the given ones), as ``np.squeeze``.

        Example:
            >>> Tensor(np.zeros((1, 3, 1))).squeeze().shape
            (3,)
        """
        shape = self.shape
        if axis is None:
            drop = {i for i, n in enumerate(shape) if n == 1}
        else:
            ax = _axis(axis, self.ndim, "squeeze")
            drop = {a % self.ndim for a in ((ax,) if isinstance(ax, int) else ax)}
            bad = [a for a in sorted(drop) if shape[a] != 1]
            if bad:
                raise ValueError(f"squeeze: axis {bad[0]} of a tensor of shape {shape} has length "
                                 f"{shape[bad[0]]}, not 1; only length-1 axes can be removed")
        return self.reshape(tuple(n for i, n in enumerate(shape) if i not in drop))

    @_torch_names
    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a new axis of length 1 at position ``axis`` (as ``np.expand_dims``).

        Example:
            >>> Tensor([1.0, 2.0]).unsqueeze(0).shape
            (1, 2)
        """
        nd = self.ndim + 1
        if not isinstance(axis, int | np.integer) or not -nd <= axis < nd:
            raise ValueError(f"unsqueeze: axis {axis!r} is out of range for a result with {nd} axes")
        shape = list(self.shape)
        shape.insert(int(axis) % nd, 1)
        return self.reshape(tuple(shape))

    @_torch_names
    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        """Merge axes ``start_axis..end_axis`` (all by default) into one.

        Example:
            >>> Tensor(np.zeros((2, 3, 4))).flatten(1).shape
            (2, 12)
        """
        shape = self.shape
        if not shape:
            return self.reshape((1,))
        s = _axis(start_axis, self.ndim, "flatten") % self.ndim
        e = _axis(end_axis, self.ndim, "flatten") % self.ndim
        if s > e:
            raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis}")
        return self.reshape(shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])

    def __getitem__(self, index: Any) -> Tensor:
        """Basic and integer-array indexing with numpy semantics; the VJP scatter-adds, so
        repeated indices accumulate their gradients.

        Example:
            >>> t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
            >>> t[[0, 0, 2]].sum().backward()
            >>> t.grad
            array([2., 0., 1.])
        """
        idx = _index(index)
        try:
            return _apply(R.GETITEM, (self,), {"index": idx})
        except IndexError as err:
            raise IndexError(f"Tensor[{_short(index)}]: {err} (tensor of shape {self.shape})") \
                from None

    # --- softmax family ---------------------------------------------------------------------------------
    @_torch_names
    def softmax(self, axis: int = -1) -> Tensor:
        """Softmax along ``axis``, max-shifted; VJP s ⊙ (g - Σ g s), O(n).

        Example:
            >>> Tensor([0.0, 0.0]).softmax().data
            array([0.5, 0.5])
        """
        ax = _axis(axis, self.ndim, "softmax")
        if not self.size:  # an empty axis: the empty result numpy and torch give
            return self * 1.0
        return _apply(R.SOFTMAX, (self,), {"axis": ax})

    @_torch_names
    def log_softmax(self, axis: int = -1) -> Tensor:
        """log softmax along ``axis``, computed as x - logsumexp(x): finite at |x| = 1000.

        Example:
            >>> Tensor([1000.0, 0.0]).log_softmax().data
            array([    0., -1000.])
        """
        ax = _axis(axis, self.ndim, "log_softmax")
        if not self.size:  # an empty axis: the empty result numpy and torch give
            return self * 1.0
        return _apply(R.LOG_SOFTMAX, (self,), {"axis": ax})

    @_torch_names
    def logsumexp(self, axis: Axis = -1, keepdims: bool = False) -> Tensor:
        """log Σ e^x along ``axis`` (None: all), max-shifted.

        Example:
            >>> round(float(Tensor([1000.0, 1000.0]).logsumexp().data) - 1000.0, 6)
            0.693147
        """
        ax = _axis(axis, self.ndim, "logsumexp")
        if not R._count(self.shape, ax):  # log of an empty sum: -inf, as torch and scipy
            _empty_warning("logsumexp", self, ax, "-inf (as in PyTorch and scipy)")
            return self.sum(ax, keepdims) - np.inf
        return _apply(R.LOGSUMEXP, (self,), {"axis": ax, "keepdims": bool(keepdims)})

    # --- numpy protocols ---------------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """Numpy ufuncs on Tensors: differentiable ones use their rule, predicates (isnan,
        greater, ...) work on the data, anything else raises a TypeError naming the ufunc."""
        name = ufunc.__name__
        if method == "__call__" and name in _PREDICATES and not kwargs:
            return ufunc(*(_data(x) for x in inputs))
        fn = _UFUNCS.get(name)
        if method != "__call__" or fn is None or kwargs:
            what = f"np.{name}" + (f".{method}" if method != "__call__" else "")
            extra = f" with {sorted(kwargs)}" if kwargs and fn is not None else ""
            raise TypeError(
                f"{what}{extra} on a Tensor has no gradient rule in autograd_lite; use the Tensor "
                f"methods/functions (supported ufuncs: {', '.join(sorted(_UFUNCS))}), or apply it "
                "to t.data (np.asarray(t)) if you do not need the gradient")
        return fn(*inputs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """Numpy functions on Tensors: the differentiable ones map to Tensor ops, read-only ones
        (shape, allclose, argmax, ...) see the data, anything else raises a clear TypeError."""
        name = func.__name__
        fn = _FUNCTIONS.get(name)
        if fn is not None:
            return fn(*args, **kwargs)
        if name in _READ_ONLY:
            return func(*_unwrap(args), **_unwrap(kwargs))
        raise TypeError(
            f"np.{name} on a Tensor has no gradient rule in autograd_lite; use the Tensor "
            f"methods/functions (supported: {', '.join(sorted(_FUNCTIONS))}), or call it on t.data "
            "(np.asarray(t)) if you do not need the gradient")


_apply = Tensor._apply


# The plain-mode hot path (grad on, no anomaly mode, no scope, no observer, not tracing), as
# Value's: the same rule, forward and node layout as `Node._apply`, minus its generality (any
# arity, the mode bits), which costs ~1.5 us an op, as much as a small array op itself. Any
# active mode, and any error (for `_apply`'s message), goes through `Node._apply`.

def _op1(rule: Any, a: Tensor, static: dict[str, Any] | None = None) -> Tensor:
    if _mode.get():
        return _apply(rule, (a,), static)
    try:
        out = rule.forward(a.data, **static) if static else rule.forward(a.data)
    except (TypeError, ValueError, RuntimeError):
        return _apply(rule, (a,), static)  # raises again, with the op's message
    if type(out) is not _ndarray and isinstance(out, np.generic | float | int):
        out = _asarray(out)  # numpy returns scalars for 0-d results
    if a.requires_grad:
        return _build(_new(Tensor), out, True, rule, a, None, None, static)
    return _build(_new(Tensor), out, False)


def _op2(rule: Any, a: Tensor, b: Tensor) -> Tensor:
    if _mode.get():
        return _apply(rule, (a, b))
    try:
        out = rule.forward(a.data, b.data)
    except (TypeError, ValueError, RuntimeError):
        return _apply(rule, (a, b))  # raises again, with the op's message
    if type(out) is not _ndarray and isinstance(out, np.generic | float | int):
        out = _asarray(out)
    if a.requires_grad or b.requires_grad:
        return _build(_new(Tensor), out, True, rule, a, b)
    return _build(_new(Tensor), out, False)


# the unary methods without arguments come from the rule table (see `defrule`)
R.add_methods(Tensor, "Tensor", _op1)
_SWAP2 = {"axes": (1, 0)}  # shared by every 2-D .T node (static dicts are never mutated)


# ------------------------------------------------------------------------------------------ helpers

def _refused(message: str) -> TypeError:
    """The error for data that Tensor() will not convert (it would lose something)."""
    err = TypeError(message)
    err.refused = True  # type: ignore[attr-defined]  # (kept as is by `_as_lifted`)
    return err


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """``data`` as a numeric ndarray (lists and numbers become float64), refusing what a float
    array would silently lose: nodes that require grad (the graph), None (missing values) and
    complex numbers (the imaginary part)."""
    if _B.is_array_of_library(data):
        return _other_array(data, dtype)
    if isinstance(data, list | tuple):
        _refuse_nodes(data)
    if isinstance(data, complex):
        raise _refused(f"Tensor(data): {data!r} is complex; Tensors hold real numbers and the "
                       "imaginary part would be lost. Pass z.real, z.imag or abs(z) explicitly.")
    if dtype is not None:
        try:
            arr = np.array(data, dtype=dtype)
        except (TypeError, ValueError) as err:
            raise TypeError(f"Tensor(data, dtype={dtype!r}): {err}") from None
    elif isinstance(data, np.ndarray | np.generic) or isinstance(data, bool):
        arr = np.array(data)
    else:
        try:
            arr = np.array(data)
        except (TypeError, ValueError):
            arr = np.array(None)  # ragged lists and the like: the message below
        if arr.dtype.kind in "iub":
            arr = arr.astype(np.float64)
        elif arr.dtype.kind not in "fcO":  # strings of numbers convert, as np.array(..., float)
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                arr = np.array(None)
        if arr.dtype.kind == "O" and arr.ndim == 0:
            raise TypeError(
                f"Tensor(data): cannot make a float array from {type(data).__name__} "
                f"{_short(data)}; pass numbers, nested lists of equal lengths, or an ndarray")
    kind = arr.dtype.kind
    if kind == "O":
        _refuse_objects(arr)
    elif kind == "c":
        raise _refused(f"Tensor(data): a complex array ({arr.dtype}); Tensors hold real numbers and "
                       "the imaginary part would be lost. Pass z.real, z.imag or np.abs(z) explicitly.")
    if kind not in "fiub":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"Tensor(data): unsupported array dtype {arr.dtype}; use a numeric "
                            "array") from None
    return arr


def _other_array(data: Any, dtype: Any) -> Any:
    """Another array library's array, kept in its library and device (cast when dtype= asks)."""
    xp = _B.namespace(data)
    if dtype is not None:
        dt = _B.dtype_in(xp, dtype)
        if dt != data.dtype:
            data = xp.astype(data, dt)
    if _B.library(data) == "torch" and data.requires_grad:
        R._warn("Tensor(data)", "the torch tensor requires grad in torch's own autograd, which "
                "autograd_lite does not follow: its values become a new leaf (detached) and torch's "
                ".grad will not be filled", "pass x.detach() to silence this, and "
                "Tensor(x, requires_grad=True) for a gradient from autograd_lite")
        data = data.detach()
    if xp.isdtype(data.dtype, "complex floating"):
        raise _refused(f"Tensor(data): a complex array ({data.dtype}); Tensors hold real numbers")
    return data


def _refuse_nodes(data: list[Any] | tuple[Any, ...]) -> None:
    """Refuse a (nested) list holding nodes that require grad: copying their numbers into a new
    leaf would cut the graph (their .grad would stay 0). Iterative, so long lists need no recursion."""
    stack: list[Any] = [data]
    while stack:
        for item in stack.pop():
            if isinstance(item, list | tuple):
                stack.append(item)
            elif isinstance(item, Node) and item.requires_grad:
                kind = type(item).__name__
                fix = ("stack([...]) or concatenate([...]) to keep the graph" if kind == "Tensor" else
                       "Value ops throughout (autograd_lite.functional works on lists of Values, "
                       "e.g. F.relu([v, w])), or Tensors from the start")
                raise _refused(
                    f"Tensor(data): the list holds {kind}s that require grad (e.g. {_short(item)}); "
                    f"Tensor() copies their numbers into a new leaf, which would cut the graph (their "
                    f".grad would stay 0). Use {fix}; for constants, pass the numbers "
                    f"([x.item() for x in ...]) or .detach() them.")


def _refuse_objects(arr: np.ndarray) -> None:
    """An object array: refuse None and complex elements instead of turning them into nan or
    dropping the imaginary part (nodes are refused by `_refuse_nodes`)."""
    for idx, item in np.ndenumerate(arr):
        if item is None:
            raise _refused(f"Tensor(data): element {idx} is None (a missing value?); Tensor() will not "
                           "guess a number for it. Replace it explicitly, e.g. with np.nan or 0.0.")
        if isinstance(item, complex | np.complexfloating):
            raise _refused(f"Tensor(data): element {idx} is complex ({item!r}); the imaginary part "
                           "would be lost. Pass z.real, z.imag or abs(z) explicitly.")
        if isinstance(item, Node) and item.requires_grad:
            _refuse_nodes([item])


def _short(x: Any) -> str:
    r = repr(x)
    return r if len(r) < 60 else r[:57] + "..."


def _axis(axis: Any, ndim: int, op: str) -> Any:
    if axis is None:
        return None
    if axis.__class__ is int and -ndim <= axis < ndim:  # the common case, checked cheaply
        return axis
    try:
        axes = (operator.index(axis),) if not isinstance(axis, Sequence) else tuple(
            operator.index(a) for a in axis)
    except TypeError:
        raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}") from None
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} axes")
    if len({a % max(ndim, 1) for a in axes}) != len(axes):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    if not isinstance(axis, Sequence):
        return axes[0]
    return axes


def _empty_warning(op: str, t: Tensor, axis: Axis, value: str) -> None:
    where = "" if axis is None else f" along axis {axis}"
    R._warn(op, f"the tensor of shape {t.shape} has no elements{where}, so the result is {value}",
            "check the batch or the slicing that made it empty")


def _nonempty(t: Tensor, op: str) -> None:
    if _B.size(t.data) == 0:
        raise ValueError(f"{op}: the tensor of shape {t.shape} is empty (no {op}imum exists)")


_NUMPY_EXTRAS_OK = {"out": None, "dtype": None, "where": True, "initial": None}


def _no_numpy_extras(op: str, extras: dict[str, Any]) -> None:
    """Accept numpy's extra keyword arguments only at their defaults (np.sum(t) passes out=None)."""
    for k, v in extras.items():
        if k not in _NUMPY_EXTRAS_OK or v is not _NUMPY_EXTRAS_OK[k]:
            raise TypeError(f"{op}: the argument {k}={_short(v)} is not supported on a Tensor "
                            "(axis and keepdims are, or PyTorch's dim and keepdim)")


def _lift(other: Any, op: str, like: Tensor | None = None) -> Tensor:
    """A Tensor for ``other``; numbers and float arrays take ``like``'s float dtype."""
    if isinstance(other, Tensor):
        return other
    cls = other.__class__
    if like is not None and type(like.data) is not _ndarray:
        return _lift_other(other, op, like)
    if like is not None and (cls is float or cls is int):
        dt = like.data.dtype
        return _leaf(Tensor, np.array(other, dtype=dt if dt.kind == "f" else _f64), False)
    if isinstance(other, Node):
        raise TypeError(
            f"Tensor {op} {type(other).__name__}: cannot mix a Tensor with a scalar Value in one "
            "op. Use Tensor(v.data) for a constant, or build the whole expression from Tensors.")
    if _B.is_array_of_library(other):  # next to numpy data: check_same names both libraries
        return _leaf(Tensor, other, False)
    arr = _as_lifted(other, op)
    if like is not None and arr.dtype.kind == "f" and like.data.dtype.kind == "f" \
            and arr.dtype != like.data.dtype:
        arr = arr.astype(like.data.dtype)
    return _leaf(Tensor, arr, False)


def _lift_other(other: Any, op: str, like: Tensor) -> Tensor:
    """`_lift` next to a Tensor of another library: numbers and numpy constants move to it."""
    if isinstance(other, Node):
        return _lift(other, op)
    ref = like.data
    if _B.is_array_of_library(other):
        return _leaf(Tensor, other, False)
    arr = _as_lifted(other, op)
    if _B.is_lazy(ref):  # Dask takes numpy; constants take a float ref's dtype, as on torch
        if arr.dtype.kind == "f" and _B.is_float(ref):
            return _leaf(Tensor, arr.astype(ref.dtype), False)
        return _leaf(Tensor, arr if arr.ndim else arr.astype(_f64), False)
    if arr.dtype.kind in "fiu" and _B.is_float(ref):
        return _leaf(Tensor, _B.like(arr, ref), False)
    return _leaf(Tensor, _B.namespace(ref).asarray(arr, device=_B.device(ref)), False)


def _as_lifted(other: Any, op: str) -> np.ndarray:
    try:
        return _as_array(other, None)
    except TypeError as err:
        if getattr(err, "refused", False):
            raise _refused(f"Tensor {op} {type(other).__name__}: {err}") from None
        raise TypeError(f"Tensor {op} {type(other).__name__}: unsupported operand {_short(other)}; "
                        "use a number, an array or a Tensor") from None


def _binary(rule: Any, a: Tensor, b: Tensor) -> Tensor:
    """A two-input elementwise op; mixed float dtypes promote with a differentiable cast."""
    ad, bd = a.data, b.data
    if type(ad) is not _ndarray or type(bd) is not _ndarray:
        _B.check_same(rule.name, (ad, bd))
    da = ad.dtype
    db = bd.dtype
    if da is not db and da != db:
        a, b = _promote((a, b))
    return _op2(rule, a, b)


def _promote(items: Sequence[Tensor]) -> tuple[Tensor, ...]:
    """Cast the inputs that require grad to the common float dtype (so gradients cast back)."""
    if any(type(t.data) is not _ndarray for t in items):
        datas = [t.data for t in items]
        _B.check_same("promote", datas)
        target = _B.namespace(next(d for d in datas if type(d) is not _ndarray)).result_type(
            *[d.dtype for d in datas])
    else:
        target = np.result_type(*[t.data.dtype for t in items])
    return tuple(t.astype(target) if t.requires_grad and t.data.dtype != target else t
                 for t in items)


def _data(other: Any) -> Any:
    return other.data if isinstance(other, Node) else other


def _unwrap(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, list | tuple):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _index(index: Any) -> tuple[Any, ...]:
    """Normalise an index to a tuple of ints, slices, None, Ellipsis and int/bool ndarrays."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
    for i in items:
        if isinstance(i, Node):
            i = i.data
        if isinstance(i, list):
            i = np.asarray(i)
            if i.size == 0:
                i = i.astype(np.intp)
        if isinstance(i, np.ndarray):
            if i.dtype.kind not in "iub":
                raise IndexError(f"Tensor index: arrays used as indices must be of integer or bool "
                                 f"type, got {i.dtype}; use .astype(int) on the labels")
            if i.ndim == 0 and i.dtype.kind in "iu":
                i = int(i)
        elif isinstance(i, np.integer):
            i = int(i)
        elif not (i is None or i is Ellipsis or isinstance(i, int | slice)):
            raise IndexError(f"Tensor index: unsupported index {_short(i)} of type "
                             f"{type(i).__name__}; use ints, slices, None, ..., or int/bool arrays")
        out.append(i)
    return tuple(out)


# -------------------------------------------------------------------------------------- factories

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the Generator that `randn` uses by default (seeded with 0 at import); returns it.

    Example:
        >>> _ = manual_seed(1); a = randn(2).data
        >>> _ = manual_seed(1); bool((randn(2).data == a).all())
        True
    """
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    try:
        out = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"shape must be ints, got {shape!r}") from None
    if any(n < 0 for n in out):
        raise ValueError(f"negative dimensions are not allowed: {out}")
    return out


def _made(arr: np.ndarray, requires_grad: bool, label: str | None) -> Tensor:
    if requires_grad and not _B.is_float(arr):
        raise TypeError(f"requires_grad=True: a {arr.dtype} tensor cannot require grad; use a "
                        "float dtype")
    t = _leaf(Tensor, arr, bool(requires_grad))
    t.label = label or None
    return t


def tensor(data: Any, *, dtype: Any = None, requires_grad: bool = False,
           label: str | None = None) -> Tensor:
    """PyTorch's ``torch.tensor(data, requires_grad=...)``: a new leaf Tensor holding a copy of
    ``data``. Numbers and lists become float64 (numpy's default float, not PyTorch's float32);
    an ndarray keeps its dtype; ``dtype=`` takes numpy's names (``np.float32``, ``"float32"``).

    Example:
        >>> import autograd_lite as al
        >>> t = al.tensor([[1.0, 2.0]], requires_grad=True)
        >>> (t * t).sum().backward(); t.grad
        array([[2., 4.]])
    """
    if isinstance(data, Tensor):
        data = data.data.copy()
    return Tensor(data, requires_grad=requires_grad, label=label, dtype=dtype)


def zeros(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False,
          label: str | None = None) -> Tensor:
    """A Tensor of zeros (``zeros(2, 3)`` or ``zeros((2, 3))``).

    Example:
        >>> zeros(2, 3).shape
        (2, 3)
    """
    return _made(np.zeros(_shape(shape), dtype=dtype), requires_grad, label)


def ones(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False,
         label: str | None = None) -> Tensor:
    """A Tensor of ones (``ones(2, 3)`` or ``ones((2, 3))``).

    Example:
        >>> ones(2).data
        array([1., 1.])
    """
    return _made(np.ones(_shape(shape), dtype=dtype), requires_grad, label)


def zeros_like(t: Any, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape and dtype of ``t`` (a Tensor or an array).

    Example:
        >>> zeros_like(Tensor([1.0, 2.0])).data
        array([0., 0.])
    """
    d = _data(t)
    return _made(_B.names(d).zeros_like(d), requires_grad, None)


def ones_like(t: Any, requires_grad: bool = False) -> Tensor:
    """Ones with the shape and dtype of ``t`` (a Tensor or an array).

    Example:
        >>> ones_like(Tensor([1.0, 2.0])).data
        array([1., 1.])
    """
    d = _data(t)
    return _made(_B.names(d).ones_like(d), requires_grad, None)


def randn(*shape: Any, seed: int | None = None, rng: np.random.Generator | None = None,
          scale: float = 1.0, dtype: Any = np.float64, requires_grad: bool = False,
          label: str | None = None) -> Tensor:
    """Standard normal samples times ``scale``, drawn from a seeded Generator.

    ``seed`` makes a fresh Generator for this call; ``rng`` uses yours; otherwise the module's
    Generator (seeded with 0 at import, reseed with `manual_seed`).

    Example:
        >>> bool((randn(2, 3, seed=7).data == randn(2, 3, seed=7).data).all())
        True
    """
    gen = rng if rng is not None else (np.random.default_rng(seed) if seed is not None else _rng)
    arr = gen.standard_normal(_shape(shape))
    if scale != 1.0:
        arr *= scale
    return _made(arr.astype(dtype, copy=False), requires_grad, label)


def arange(start: float, stop: float | None = None, step: float = 1, *, dtype: Any = np.float64,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop), as ``np.arange`` (float64 by default).

    Example:
        >>> arange(3).data
        array([0., 1., 2.])
    """
    arr = np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(
        start, dtype=dtype)
    return _made(arr, requires_grad, None)


def eye(n: int, m: int | None = None, *, dtype: Any = np.float64,
        requires_grad: bool = False) -> Tensor:
    """The n×m identity matrix (square by default).

    Example:
        >>> eye(2).data
        array([[1., 0.],
               [0., 1.]])
    """
    return _made(np.eye(n, m, dtype=dtype), requires_grad, None)


def one_hot(labels: Any, m: int, *, dtype: Any = np.float64) -> Tensor:
    """Rows of the m×m identity picked by integer ``labels`` in 0..m-1 (a constant Tensor).

    The result has shape ``labels.shape + (m,)``. Labels must be integers in [0, m): course
    notation with classes 1..m needs ``labels - 1``.

    Example:
        >>> one_hot([0, 2], 3).data
        array([[1., 0., 0.],
               [0., 0., 1.]])
    """
    lab = np.asarray(_data(labels))
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise ValueError(f"one_hot: the number of classes m must be a positive int, got {m!r}")
    if lab.dtype.kind == "f":
        if lab.size and not np.all(np.isfinite(lab) & (lab == np.round(lab))):
            raise ValueError("one_hot: labels must be whole numbers, got non-integer values "
                             f"{_short(lab[~(np.isfinite(lab) & (lab == np.round(lab)))][:5])}")
        lab = lab.astype(np.intp)
    elif lab.dtype.kind not in "iu" and lab.size:
        raise TypeError(f"one_hot: labels must be integers, got dtype {lab.dtype}")
    lab = lab.astype(np.intp, copy=False)
    bad = (lab < 0) | (lab >= m)
    if bad.any():
        hint = (" (labels look 1-based: pass labels - 1)" if lab.size and lab.min() >= 1
                and lab.max() == m else "")
        raise ValueError(f"one_hot: labels must lie in 0..{m - 1} for m={m}, got "
                         f"{_short(np.unique(lab[bad])[:5].tolist())}{hint}")
    return _made(np.eye(m, dtype=dtype)[lab], False, None)


# -------------------------------------------------------------------------------- ops as functions

def matmul(x: Any, y: Any) -> Tensor:
    """Matrix product with numpy semantics (1-D, 2-D and batched N-D operands).

    Example:
        >>> matmul(Tensor(np.eye(2)), Tensor([1.0, 2.0])).data
        array([1., 2.])
    """
    if x.__class__ is not Tensor or y.__class__ is not Tensor:
        x = _lift(x, "@", y if isinstance(y, Tensor) else None)
        y = _lift(y, "@", x)
    xd = x.data
    yd = y.data
    xs = xd.shape
    ys = yd.shape
    if (len(xs) == 2 and len(ys) == 2 and xs[1] == ys[0] and type(xd) is _ndarray
            and type(yd) is _ndarray and xd.dtype is yd.dtype):  # two matrices: the checks below pass
        return _op2(R.MATMUL, x, y)
    if not xs or not ys:
        raise ValueError(f"matmul: operands must have at least 1 axis, got shapes {xs} and "
                         f"{ys}; use * for scalars")
    kx = xs[-1]
    ky = ys[-2] if len(ys) >= 2 else ys[0]
    if kx != ky:
        raise ValueError(
            f"matmul: shapes {xs} @ {ys} do not align: the last axis of the left "
            f"({kx}) must equal the {'second-to-last' if len(ys) >= 2 else 'only'} axis of the right "
            f"({ky}). Transpose one operand (.T) or check the layer sizes.")
    if len(xs) > 2 or len(ys) > 2:
        try:
            np.broadcast_shapes(xs[:-2], ys[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch axes of {xs} and {ys} do not broadcast") from None
    if type(xd) is not _ndarray or type(yd) is not _ndarray:
        _B.check_same("matmul", (xd, yd))
    if xd.dtype != yd.dtype:
        x, y = _promote((x, y))
    return _op2(R.MATMUL, x, y)


def _pair(x: Any, y: Any, op: str) -> tuple[Tensor, Tensor]:
    a = _lift(x, op, y if isinstance(y, Tensor) else None)
    b = _lift(y, op, a)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast") from None
    return a, b


def maximum(x: Any, y: Any) -> Tensor:
    """Elementwise max(x, y) with broadcasting; at ties each side gets half the gradient.

    Example:
        >>> maximum(Tensor([1.0, 4.0]), Tensor([3.0, 2.0])).data
        array([3., 4.])
    """
    a, b = _pair(x, y, "maximum")
    return _binary(R.MAXIMUM, a, b)


def minimum(x: Any, y: Any) -> Tensor:
    """Elementwise min(x, y) with broadcasting; at ties each side gets half the gradient.

    Example:
        >>> minimum(Tensor([1.0, 4.0]), 2.0).data
        array([1., 2.])
    """
    a, b = _pair(x, y, "minimum")
    return _binary(R.MINIMUM, a, b)


def where(cond: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``cond`` is true, else ``y`` (broadcasting); ``cond`` is a constant mask.

    Example:
        >>> t = Tensor([-1.0, 2.0], requires_grad=True)
        >>> where(t > 0, t, 0.0).data
        array([0., 2.])
    """
    c = _data(cond)
    other = _B.is_array_of_library(c)  # kept where it lives (a Dask mask is not computed here)
    if other:
        xp = _B.namespace(c)
        boolean, numeric = xp.isdtype(c.dtype, "bool"), xp.isdtype(c.dtype, "numeric")
    else:
        c = np.asarray(c)
        boolean, numeric = c.dtype == np.bool_, c.dtype.kind in "iuf"
    if not boolean:
        if not numeric:
            raise TypeError(f"where: the condition must be a bool array, got dtype {c.dtype}")
        c = c != 0
    a, b = _pair(x, y, "where")
    if other:
        _B.check_same("where", (c, a.data, b.data))
    try:
        np.broadcast_shapes(_B.shape(c), a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: the condition {c.shape} and the branches {a.shape}, {b.shape} "
                         "do not broadcast") from None
    if type(a.data) is not _ndarray or type(b.data) is not _ndarray:
        _B.check_same("where", (a.data, b.data))
    da, db = a.data.dtype, b.data.dtype
    if da != db:
        a, b = _promote((a, b))
    return _apply(R.WHERE, (a, b), {"cond": c})


def clip(x: Any, low: float | None = None, high: float | None = None) -> Tensor:
    """Clamp to [low, high] (None: no bound on that side); gradient 1{low ≤ x ≤ high}.

    Example:
        >>> clip(Tensor([-2.0, 0.5, 3.0]), 0.0, None).data
        array([0. , 0.5, 3. ])
    """
    t = _lift(x, "clip")
    if low is None and high is None:
        raise ValueError("clip: give at least one of low and high")
    for name, v in (("low", low), ("high", high)):
        if v is not None and (np.ndim(v) != 0 or isinstance(v, Node)):
            raise TypeError(f"clip: {name} must be a number (a constant bound), got {_short(v)}; "
                            "for tensor bounds use maximum/minimum")
    lo = None if low is None else float(low)
    hi = None if high is None else float(high)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"clip: low={lo} is greater than high={hi}")
    return _apply(R.CLIP, (t,), {"low": lo, "high": hi})


def _gather(items: Any, op: str) -> tuple[Tensor, ...]:
    if isinstance(items, Tensor | np.ndarray):
        raise TypeError(f"{op}: expected a sequence of tensors, got a single "
                        f"{type(items).__name__}; pass a list such as [a, b]")
    seq = list(items)
    if not seq:
        raise ValueError(f"{op}: needs at least one tensor")
    like = next((t for t in seq if isinstance(t, Tensor)), None)
    ts = tuple(_lift(t, op, like) for t in seq)
    if any(type(t.data) is not _ndarray for t in ts):
        _B.check_same(op, [t.data for t in ts])
    dts = {t.data.dtype for t in ts}
    if len(dts) > 1:
        ts = _promote(ts)
    return ts


@_torch_names
def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; the VJP hands each input its slice of g.

    Example:
        >>> concatenate([Tensor([1.0]), Tensor([2.0, 3.0])]).data
        array([1., 2., 3.])
    """
    ts = _gather(tensors, "concatenate")
    nd = ts[0].ndim
    if nd == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
    ax = _axis(axis, nd, "concatenate")
    ref = ts[0].shape
    for t in ts:
        if t.ndim != nd or any(n != r for i, (n, r) in enumerate(zip(t.shape, ref)) if i != ax % nd):
            raise ValueError(f"concatenate: shapes {[t.shape for t in ts]} must agree on every axis "
                             f"but axis {ax}")
    if len(ts) == 1:
        return ts[0]
    return _apply(R.CONCATENATE, ts, {"axis": ax % nd})


@_torch_names
def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Stack tensors of one shape along a new axis.

    Example:
        >>> stack([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])], axis=1).data
        array([[1., 3.],
               [2., 4.]])
    """
    ts = _gather(tensors, "stack")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in ts]}")
    nd = ts[0].ndim + 1
    ax = _axis(axis, nd, "stack")
    return _apply(R.STACK, ts, {"axis": ax % nd})


# ------------------------------------------------------------------------------- numpy dispatch

def _u(method: str) -> Callable[[Any], Tensor]:
    return lambda x: getattr(_lift(x, method), method)()


def _ufunc_power(x: Any, y: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x ** (y if not isinstance(y, np.ndarray) or y.ndim else y.item())
    return _lift(x, "**", y) ** y


_UFUNCS: dict[str, Callable[..., Tensor]] = {
    "add": lambda x, y: _lift(x, "+", y if isinstance(y, Tensor) else None) + y,
    "subtract": lambda x, y: _lift(x, "-", y if isinstance(y, Tensor) else None) - y,
    "multiply": lambda x, y: _lift(x, "*", y if isinstance(y, Tensor) else None) * y,
    "divide": lambda x, y: _lift(x, "/", y if isinstance(y, Tensor) else None) / y,
    "power": _ufunc_power,
    "matmul": matmul,
    "maximum": maximum,
    "minimum": minimum,
    "negative": lambda x: -_lift(x, "-"),
    "positive": lambda x: _lift(x, "+"),
    "square": lambda x: _lift(x, "square") ** 2,
    # and each rule that names the numpy ufunc it answers
    **{r.ufunc: _u(str(r.method)) for r in R.RULES.values() if r.ufunc},
}

# ufuncs without a gradient that only read the data (comparisons, predicates)
_PREDICATES = frozenset({
    "isfinite", "isnan", "isinf", "signbit", "greater", "greater_equal", "less", "less_equal",
    "equal", "not_equal", "logical_and", "logical_or", "logical_not", "logical_xor",
})


def _np_sum(a: Any, axis: Axis = None, **kw: Any) -> Tensor:
    return _lift(a, "sum").sum(axis, **kw)


def _np_mean(a: Any, axis: Axis = None, **kw: Any) -> Tensor:
    return _lift(a, "mean").mean(axis, **kw)


def _np_max(a: Any, axis: Axis = None, **kw: Any) -> Tensor:
    return _lift(a, "max").max(axis, **kw)


def _np_min(a: Any, axis: Axis = None, **kw: Any) -> Tensor:
    return _lift(a, "min").min(axis, **kw)


def _np_var(a: Any, axis: Axis = None, **kw: Any) -> Tensor:
    return _lift(a, "var").var(axis, **kw)


def _np_transpose(a: Any, axes: Any = None) -> Tensor:
    return _lift(a, "transpose").transpose(axes)


def _np_squeeze(a: Any, axis: Axis = None) -> Tensor:
    return _lift(a, "squeeze").squeeze(axis)


def _np_expand_dims(a: Any, axis: int) -> Tensor:
    return _lift(a, "expand_dims").unsqueeze(axis)


def _np_clip(a: Any, a_min: Any = None, a_max: Any = None, **kw: Any) -> Tensor:
    _no_numpy_extras("clip", kw)
    return clip(a, a_min, a_max)


def _np_where(cond: Any, x: Any = None, y: Any = None) -> Tensor:
    if x is None or y is None:
        raise TypeError("np.where(cond) with one argument on a Tensor: use np.nonzero(t.data)")
    return where(cond, x, y)


_FUNCTIONS: dict[str, Callable[..., Tensor]] = {
    "sum": _np_sum,
    "mean": _np_mean,
    "max": _np_max,
    "amax": _np_max,
    "min": _np_min,
    "amin": _np_min,
    "var": _np_var,
    "reshape": lambda a, *shape, **kw: _lift(a, "reshape").reshape(*shape, **kw),
    "transpose": _np_transpose,
    "squeeze": _np_squeeze,
    "expand_dims": _np_expand_dims,
    "broadcast_to": lambda a, shape: _lift(a, "broadcast_to").broadcast_to(shape),
    "concatenate": lambda arrays, axis=0: concatenate(arrays, axis),
    "stack": lambda arrays, axis=0: stack(arrays, axis),
    "where": _np_where,
    "clip": _np_clip,
    "matmul": matmul,
}

# numpy functions whose result has no gradient: they read the data
_READ_ONLY = frozenset({
    "shape", "ndim", "size", "allclose", "isclose", "array_equal", "array_equiv", "argmax",
    "argmin", "argsort", "nonzero", "count_nonzero", "result_type", "may_share_memory",
    "shares_memory", "iscomplexobj", "isrealobj", "array_repr", "array_str", "array2string",
    "any", "all", "unique", "searchsorted",
})


def compute(*items: Any) -> tuple[Any, ...]:
    """Evaluate lazy (Dask) tensors in one pass: the data and the ``.grad`` of every Tensor given
    (or of every parameter of a module given) are computed together by one ``dask.compute`` and
    written back as numpy arrays. Returns each item's data. The finiteness checks that eager ops
    run as they go (nan, inf) run here, on the computed values, naming the tensor.

    Example:
        >>> t = Tensor([1.0, 2.0])
        >>> compute(t)[0]
        array([1., 2.])
    """
    tensors: list[Tensor] = []
    for item in items:
        if isinstance(item, Tensor):
            tensors.append(item)
        elif hasattr(item, "parameters"):
            tensors.extend(p for p in item.parameters() if isinstance(p, Tensor))
        else:
            raise TypeError(f"compute: expected Tensors or modules, got {type(item).__name__}")
    slots = [(t, name) for t in tensors for name in ("data", "grad")
             if _B.is_lazy(getattr(t, name))]
    if slots:
        import dask

        values = dask.compute(*(getattr(t, name) for t, name in slots))
        for (t, name), v in zip(slots, values):
            v = np.asarray(v)
            setattr(t, name, v)
            if v.dtype.kind == "f" and not np.isfinite(v).all():
                what = "its gradient" if name == "grad" else "its value"
                who = repr(t.label) if t.label else (f"the output of '{t.op}'" if t.op else "a tensor")
                R._warn("compute", f"{who} of shape {v.shape}: {what} holds {int(np.isnan(v).sum())} "
                        f"nan and {int(np.isinf(v).sum())} inf", "look for log/sqrt/division at 0, "
                        "exp overflow or a too large learning rate; run a small slice eagerly "
                        "(numpy) under detect_anomaly() to find the op")
    return tuple(t.data for t in tensors)
