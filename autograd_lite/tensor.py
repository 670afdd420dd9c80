"""`Tensor`: an ndarray node on the same graph core as `Value`.

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

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import rules as R
from . import tensor_rules as TR
from .engine import Node

__all__ = ["Tensor"]

_node_apply = Node._apply.__func__  # type: ignore[attr-defined]

Axis = int | tuple[int, ...] | None


class Tensor(Node):
    """An n-dimensional array in the computation graph (float64 by default, float32 supported).

    ``.data`` is the ndarray, ``.grad`` its gradient (an ndarray, or None before backward).
    ``requires_grad`` is False by default (as in PyTorch); integer and bool tensors cannot
    require grad. ``==`` is identity (tensors hash); ``<, <=, >, >=`` return bool ndarrays.

    Example:
        >>> t = Tensor([[1.0, -2.0]], requires_grad=True, label="t")
        >>> (t * t).sum().backward()
        >>> t.grad
        array([[ 2., -4.]])
    """

    __slots__ = ()
    _broadcasts = True
    _grad0 = None
    __array_priority__ = 1000.0  # ndarray (op) Tensor defers to Tensor's reflected dunders

    def __init__(self, data: Any, requires_grad: bool = False, label: str | None = None,
                 dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        elif isinstance(data, Node):
            raise TypeError(f"Tensor(data): got a {type(data).__name__}; use Tensor(v.data) to "
                            "turn a scalar Value into a constant Tensor")
        arr = _as_array(data, dtype)
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"Tensor(requires_grad=True): a {arr.dtype} tensor cannot require grad; only "
                "floating tensors have gradients. Pass dtype=np.float64 (or float32).")
        self._init(arr, (), None, None, bool(requires_grad), label or None)
        self.grad = None

    # --- node protocol hooks ---------------------------------------------------------------------
    @classmethod
    def _apply(cls, rule: Any, inputs: tuple[Node, ...], static: dict[str, Any] | None = None) -> Any:
        node = _node_apply(cls, rule, inputs, static)
        if type(node.data) is not np.ndarray:  # numpy returns scalars for 0-d results
            node.data = np.asarray(node.data)
        return node

    @classmethod
    def _constant(cls, data: Any) -> Tensor:
        return cls(data)

    def _seed(self) -> np.ndarray:
        if self.data.size != 1:
            raise RuntimeError(
                f"backward(): the output has shape {self.data.shape}, not a scalar; pass "
                "gradient= (an array of that shape, the vector of the vector-Jacobian product), "
                "or reduce it first (e.g. .sum() or .mean()).")
        return np.ones_like(self.data)

    def _check_seed(self, gradient: Any) -> Any:
        if isinstance(gradient, Tensor):
            g: Any = gradient
            shape = gradient.shape
        else:
            g = np.asarray(gradient, dtype=self.data.dtype)
            shape = g.shape
        if shape != self.data.shape:
            raise ValueError(
                f"backward(gradient=...): gradient has shape {shape} but the output has shape "
                f"{self.data.shape}; pass a gradient of the output's shape")
        return g

    def _zero_tangent(self) -> np.ndarray:
        return np.zeros_like(self.data)

    # --- array-like properties -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``.data``."""
        return self.data.shape

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
        """The number of elements."""
        return int(self.data.size)

    @property
    def T(self) -> Tensor:
        """All axes reversed (the transpose of a matrix)."""
        return self.transpose()

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        """The single element as a Python number.

        Example:
            >>> Tensor([[2.5]]).item()
            2.5
        """
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (no copy).

        Example:
            >>> Tensor([1.0, 2.0]).numpy()
            array([1., 2.])
        """
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def detach(self) -> Tensor:
        """A constant Tensor sharing the data, cut from the graph.

        Example:
            >>> Tensor([1.0], requires_grad=True).detach().requires_grad
            False
        """
        return Tensor(self.data, label=self.label)

    def __repr__(self) -> str:
        name = f", label={self.label!r}" if self.label else ""
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20,
                               prefix="Tensor(")
        op = f", op={self.op!r}" if self.op else ""
        return f"Tensor({body}{grad}{op}{name})"

    def _repr_html_(self) -> str:
        from .viz import value_html

        return value_html(self)

    __hash__ = Node.__hash__

    # --- arithmetic -----------------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _apply(R.ADD, (self, _lift(other, "+")))

    def __radd__(self, other: Any) -> Tensor:
        return _apply(R.ADD, (_lift(other, "+"), self))

    def __sub__(self, other: Any) -> Tensor:
        return _apply(R.SUB, (self, _lift(other, "-")))

    def __rsub__(self, other: Any) -> Tensor:
        return _apply(R.SUB, (_lift(other, "-"), self))

    def __mul__(self, other: Any) -> Tensor:
        return _apply(R.MUL, (self, _lift(other, "*")))

    def __rmul__(self, other: Any) -> Tensor:
        return _apply(R.MUL, (_lift(other, "*"), self))

    def __truediv__(self, other: Any) -> Tensor:
        return _apply(R.DIV, (self, _lift(other, "/")))

    def __rtruediv__(self, other: Any) -> Tensor:
        return _apply(R.DIV, (_lift(other, "/"), self))

    def __pow__(self, other: Any) -> Tensor:
        """``x ** p`` (a number: static exponent) or ``x ** y`` (a Tensor/array: elementwise)."""
        if isinstance(other, int | float) and not isinstance(other, bool):
            return _apply(R.POW, (self,), {"exponent": float(other)})
        return _apply(R.POWER, (self, _lift(other, "**")))

    def __rpow__(self, other: Any) -> Tensor:
        return _apply(R.POWER, (_lift(other, "**"), self))

    def __neg__(self) -> Tensor:
        return _apply(R.NEG, (self,))

    def __pos__(self) -> Tensor:
        return self

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(_lift(other, "@"), self)

    def __lt__(self, other: Any) -> Any:
        return self.data < _data(other)

    def __le__(self, other: Any) -> Any:
        return self.data <= _data(other)

    def __gt__(self, other: Any) -> Any:
        return self.data > _data(other)

    def __ge__(self, other: Any) -> Any:
        return self.data >= _data(other)

    # --- elementwise functions ------------------------------------------------------------------------
    def exp(self) -> Tensor:
        """e^x elementwise."""
        return _apply(R.EXP, (self,))

    def log(self) -> Tensor:
        """ln x elementwise (ln 0 = -inf, ln of a negative = nan, with a RuntimeWarning)."""
        return _apply(R.LOG, (self,))

    def sqrt(self) -> Tensor:
        """√x elementwise."""
        return _apply(R.SQRT, (self,))

    def tanh(self) -> Tensor:
        """tanh elementwise."""
        return _apply(R.TANH, (self,))

    def sigmoid(self) -> Tensor:
        """σ(x) elementwise; O(n) VJP g·σ(1 - σ)."""
        return _apply(R.SIGMOID, (self,))

    def log_sigmoid(self) -> Tensor:
        """ln σ(x) = -softplus(-x) elementwise, stable."""
        return _apply(R.LOG_SIGMOID, (self,))

    def softplus(self) -> Tensor:
        """ln(1 + e^x) elementwise, stable."""
        return _apply(R.SOFTPLUS, (self,))

    def relu(self) -> Tensor:
        """max(0, x) elementwise; derivative 0 at 0."""
        return _apply(R.RELU, (self,))

    def leaky_relu(self, alpha: float = 0.01) -> Tensor:
        """x if x > 0 else alpha·x, elementwise."""
        return _apply(R.LEAKY_RELU, (self,), {"alpha": float(alpha)})

    def abs(self) -> Tensor:
        """|x| elementwise; derivative sign(x), 0 at 0."""
        return _apply(R.ABS, (self,))

    __abs__ = abs

    def sign(self) -> Tensor:
        """sign(x) elementwise; derivative 0."""
        return _apply(R.SIGN, (self,))

    def sin(self) -> Tensor:
        """sin elementwise."""
        return _apply(R.SIN, (self,))

    def cos(self) -> Tensor:
        """cos elementwise."""
        return _apply(R.COS, (self,))

    # --- reductions -----------------------------------------------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (int, tuple or None for all)."""
        return _apply(TR.SUM, (self,), {"axis": _axis(axis, self.ndim, "sum"),
                                        "keepdims": bool(keepdims)})

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis`` (int, tuple or None for all)."""
        return _apply(TR.MEAN, (self,), {"axis": _axis(axis, self.ndim, "mean"),
                                         "keepdims": bool(keepdims)})

    # --- shape ops --------------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """Reshape (``t.reshape(2, 3)`` or ``t.reshape((2, 3))``; one -1 allowed)."""
        if len(shape) == 1 and isinstance(shape[0], Sequence):
            shape = tuple(shape[0])
        try:
            target = np.empty(self.shape, dtype=np.bool_).reshape(shape).shape
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {self.shape} "
                             f"({self.size} elements) into {shape}") from None
        return _apply(TR.RESHAPE, (self,), {"shape": target})

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes (all reversed by default), as ``np.transpose``."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], Sequence)):
            axes = tuple(axes[0]) if axes[0] is not None else ()
        perm = tuple(range(self.ndim))[::-1] if not axes else tuple(a % self.ndim for a in axes)
        if sorted(perm) != list(range(self.ndim)):
            raise ValueError(f"transpose: {axes} is not a permutation of the {self.ndim} axes of a "
                             f"tensor of shape {self.shape}")
        return _apply(TR.TRANSPOSE, (self,), {"axes": perm})

    permute = transpose

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        """Broadcast to ``shape`` (numpy rules)."""
        shape = tuple(shape)
        try:
            np.broadcast_shapes(self.shape, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {self.shape} to {shape}") from None
        return _apply(TR.BROADCAST_TO, (self,), {"shape": shape})

    # --- softmax family ---------------------------------------------------------------------------------
    def softmax(self, axis: int = -1) -> Tensor:
        """Softmax along ``axis``, max-shifted; VJP O(n)."""
        return _apply(TR.SOFTMAX, (self,), {"axis": _axis(axis, self.ndim, "softmax")})

    def log_softmax(self, axis: int = -1) -> Tensor:
        """log softmax along ``axis``, computed as x - logsumexp(x): finite at |x| = 1000."""
        return _apply(TR.LOG_SOFTMAX, (self,), {"axis": _axis(axis, self.ndim, "log_softmax")})

    def logsumexp(self, axis: Axis = -1, keepdims: bool = False) -> Tensor:
        """log Σ e^x along ``axis``, max-shifted."""
        return _apply(TR.LOGSUMEXP, (self,), {"axis": _axis(axis, self.ndim, "logsumexp"),
                                              "keepdims": bool(keepdims)})


_apply = Tensor._apply


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    if dtype is not None:
        return np.array(data, dtype=dtype)
    if isinstance(data, np.ndarray | np.generic):
        arr = np.array(data)
        return arr if arr.dtype.kind in "fiub" else arr.astype(np.float64)
    arr = np.array(data, dtype=np.float64) if not isinstance(data, bool) else np.array(data)
    return arr


def _axis(axis: Any, ndim: int, op: str) -> Any:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    for a in axes:
        if not -max(ndim, 1) <= int(a) < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} axes")
    if isinstance(axis, int | np.integer):
        return int(axis)
    return tuple(int(a) for a in axes)


def _lift(other: Any, op: str) -> Tensor:
    if isinstance(other, Tensor):
        return other
    if isinstance(other, Node):
        raise TypeError(
            f"Tensor {op} {type(other).__name__}: cannot mix a Tensor with a scalar Value in one "
            "op. Use Tensor(v.data) for a constant, or build the whole expression from Tensors.")
    try:
        return Tensor._leaf(_as_array(other, None), False)
    except (TypeError, ValueError):
        raise TypeError(f"Tensor {op} {type(other).__name__}: unsupported operand {other!r}; "
                        "use a number, an array or a Tensor") from None


def _data(other: Any) -> Any:
    return other.data if isinstance(other, Node) else other


def matmul(x: Any, y: Any) -> Tensor:
    """Matrix product with numpy semantics (1-D, 2-D and batched N-D operands).

    Example:
        >>> matmul(Tensor(np.eye(2)), Tensor([1.0, 2.0])).data
        array([1., 2.])
    """
    x, y = _lift(x, "@"), _lift(y, "@")
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 axis, got shapes {x.shape} and "
                         f"{y.shape}; use * for scalars")
    kx = x.shape[-1]
    ky = y.shape[-2] if y.ndim >= 2 else y.shape[0]
    if kx != ky:
        raise ValueError(
            f"matmul: shapes {x.shape} @ {y.shape} do not align: the last axis of the left "
            f"({kx}) must equal the {'second-to-last' if y.ndim >= 2 else 'only'} axis of the right "
            f"({ky}). Transpose one operand (.T) or check the layer sizes.")
    try:
        np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch axes of {x.shape} and {y.shape} do not broadcast") from None
    return _apply(TR.MATMUL, (x, y))
