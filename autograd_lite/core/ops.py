"""The ops as functions: ``F.softmax(t)``, ``F.sigmoid(v)``, ``F.concatenate([a, b])``...

Each function hands its input to the method of the same name, so it works on a `Tensor` and,
for the elementwise ops, on a scalar `Value` too; numpy arrays and Python numbers become constant
Tensors. ``concatenate, stack, where, maximum, minimum, clip, matmul, one_hot`` are the functions
of `autograd_lite.core.tensor`, re-exported here.

Example:
    >>> import autograd_lite.functional as F
    >>> from autograd_lite import Tensor
    >>> x = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> round(F.log_softmax(x).exp().sum().item(), 12)
    1.0
"""

from __future__ import annotations

from typing import Any

from .engine import Node
from .tensor import (
    Tensor,
    _lift,
    clip,
    concatenate,
    matmul,
    maximum,
    minimum,
    one_hot,
    stack,
    where,
)

__all__ = [
    "abs",
    "broadcast_to",
    "clip",
    "concatenate",
    "cos",
    "exp",
    "flatten",
    "leaky_relu",
    "log",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "one_hot",
    "relu",
    "reshape",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "squeeze",
    "stack",
    "sum",
    "tanh",
    "transpose",
    "unsqueeze",
    "var",
    "where",
]

Axis = int | tuple[int, ...] | None


def _node(x: Any, op: str) -> Any:
    """The node itself, or a constant Tensor for an array or a number."""
    return x if isinstance(x, Node) else _lift(x, op)


def _tensor(x: Any, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Node):
        raise TypeError(f"{op}: works on Tensors (array ops), got a {type(x).__name__}; use "
                        "Tensor(...) for arrays")
    return _lift(x, op)


# --- elementwise (Value or Tensor) -----------------------------------------------------------------

def exp(x: Any) -> Any:
    """e^x.

    Example:
        >>> from autograd_lite import Value
        >>> exp(Value(0.0)).data
        1.0
    """
    return _node(x, "exp").exp()


def log(x: Any) -> Any:
    """ln x (ln 0 = -inf with a RuntimeWarning; prefer log_softmax/log_sigmoid for probabilities).

    Example:
        >>> log([1.0]).data
        array([0.])
    """
    return _node(x, "log").log()


def sqrt(x: Any) -> Any:
    """√x.

    Example:
        >>> sqrt([9.0]).data
        array([3.])
    """
    return _node(x, "sqrt").sqrt()


def tanh(x: Any) -> Any:
    """tanh x.

    Example:
        >>> tanh([0.0]).data
        array([0.])
    """
    return _node(x, "tanh").tanh()


def sigmoid(x: Any) -> Any:
    """σ(x) = 1/(1 + e^-x), stable at any |x|; VJP g σ (1 - σ), O(n).

    Example:
        >>> sigmoid([0.0]).data
        array([0.5])
    """
    return _node(x, "sigmoid").sigmoid()


def log_sigmoid(x: Any) -> Any:
    """ln σ(x) = -softplus(-x), finite at x = -1000.

    Example:
        >>> log_sigmoid([-1000.0]).data
        array([-1000.])
    """
    return _node(x, "log_sigmoid").log_sigmoid()


def softplus(x: Any) -> Any:
    """ln(1 + e^x), stable at any |x|.

    Example:
        >>> softplus([0.0]).data.round(4)
        array([0.6931])
    """
    return _node(x, "softplus").softplus()


def relu(x: Any) -> Any:
    """max(0, x); derivative 0 at 0.

    Example:
        >>> relu([-1.0, 3.0]).data
        array([0., 3.])
    """
    return _node(x, "relu").relu()


def leaky_relu(x: Any, alpha: float = 0.01) -> Any:
    """x if x > 0 else alpha·x (the hidden layer of the seeds' MLP).

    Example:
        >>> leaky_relu([-2.0, 3.0], alpha=0.5).data
        array([-1.,  3.])
    """
    return _node(x, "leaky_relu").leaky_relu(alpha)


def abs(x: Any) -> Any:
    """|x|; derivative sign(x), 0 at 0.

    Example:
        >>> abs([-2.0]).data
        array([2.])
    """
    return _node(x, "abs").abs()


def sign(x: Any) -> Any:
    """sign(x) in {-1, 0, 1}; derivative 0.

    Example:
        >>> sign([-2.0, 0.0]).data
        array([-1.,  0.])
    """
    return _node(x, "sign").sign()


def sin(x: Any) -> Any:
    """sin x.

    Example:
        >>> sin([0.0]).data
        array([0.])
    """
    return _node(x, "sin").sin()


def cos(x: Any) -> Any:
    """cos x.

    Example:
        >>> cos([0.0]).data
        array([1.])
    """
    return _node(x, "cos").cos()


# --- softmax family ----------------------------------------------------------------------------------

def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax along ``axis`` (max-shifted); VJP s ⊙ (g - Σ g s), never an n×n Jacobian.

    Example:
        >>> softmax([1.0, 1.0]).data
        array([0.5, 0.5])
    """
    return _tensor(x, "softmax").softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``: finite at |x| = 1000 (use it for cross-entropy).

    Example:
        >>> log_softmax([0.0, 1000.0]).data
        array([-1000.,     0.])
    """
    return _tensor(x, "log_softmax").log_softmax(axis)


def logsumexp(x: Any, axis: Axis = -1, keepdims: bool = False) -> Tensor:
    """log Σ e^x along ``axis`` (None: all), max-shifted.

    Example:
        >>> round(logsumexp([0.0, 0.0]).item(), 4)
        0.6931
    """
    return _tensor(x, "logsumexp").logsumexp(axis, keepdims)


# --- reductions ----------------------------------------------------------------------------------------

def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Σ over ``axis`` (None: all).

    Example:
        >>> sum([[1.0, 2.0], [3.0, 4.0]], axis=1).data
        array([3., 7.])
    """
    return _tensor(x, "sum").sum(axis, keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (None: all).

    Example:
        >>> mean([1.0, 2.0, 6.0]).data
        array(3.)
    """
    return _tensor(x, "mean").mean(axis, keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; the gradient goes to the maximal entries (ties split it).

    Example:
        >>> max([[1.0, 5.0], [7.0, 2.0]], axis=0).data
        array([7., 5.])
    """
    return _tensor(x, "max").max(axis, keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; the gradient goes to the minimal entries (ties split it).

    Example:
        >>> min([3.0, -1.0, 2.0]).data
        array(-1.)
    """
    return _tensor(x, "min").min(axis, keepdims)


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis`` (``ddof=1``: unbiased), as ``np.var``.

    Example:
        >>> var([1.0, 3.0]).data
        array(1.)
    """
    return _tensor(x, "var").var(axis, keepdims, ddof)


# --- shape ops -------------------------------------------------------------------------------------------

def reshape(x: Any, shape: tuple[int, ...]) -> Tensor:
    """Reshape (one -1 allowed).

    Example:
        >>> reshape([1.0, 2.0, 3.0, 4.0], (2, 2)).shape
        (2, 2)
    """
    return _tensor(x, "reshape").reshape(shape)


def transpose(x: Any, axes: tuple[int, ...] | None = None) -> Tensor:
    """Permute the axes (all reversed by default).

    Example:
        >>> transpose([[1.0, 2.0]]).shape
        (2, 1)
    """
    return _tensor(x, "transpose").transpose(axes)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Tensor:
    """Broadcast to ``shape``; the gradient sums the broadcast axes.

    Example:
        >>> broadcast_to([1.0, 2.0], (2, 2)).data
        array([[1., 2.],
               [1., 2.]])
    """
    return _tensor(x, "broadcast_to").broadcast_to(shape)


def squeeze(x: Any, axis: Axis = None) -> Tensor:
    """Remove length-1 axes.

    Example:
        >>> squeeze([[1.0], [2.0]]).shape
        (2,)
    """
    return _tensor(x, "squeeze").squeeze(axis)


def unsqueeze(x: Any, axis: int) -> Tensor:
    """Insert a length-1 axis at ``axis``.

    Example:
        >>> unsqueeze([1.0, 2.0], -1).shape
        (2, 1)
    """
    return _tensor(x, "unsqueeze").unsqueeze(axis)


def flatten(x: Any, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes ``start_axis..end_axis`` into one (all by default).

    Example:
        >>> flatten([[1.0, 2.0], [3.0, 4.0]]).shape
        (4,)
    """
    return _tensor(x, "flatten").flatten(start_axis, end_axis)


_exported = (clip, concatenate, matmul, maximum, minimum, one_hot, stack, where)
