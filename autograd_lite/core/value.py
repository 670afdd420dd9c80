"""`Value`: a scalar node holding a Python float; micrograd-compatible.

Every op is a thin dunder or method that hands the rule from `autograd_lite.core.rules` to the engine.

Example:
    >>> from autograd_lite import Value
    >>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
    >>> c = (a * b + a ** 2).tanh()
    >>> c.backward()
    >>> round(a.grad, 6), round(b.grad, 6)
    (0.070651, 0.141302)
"""

from __future__ import annotations

from typing import Any

from . import rules as R
from .engine import Node, _build, _mode, _new

__all__ = ["Value"]

class Value(Node):
    """A scalar in the computation graph: ``.data`` (float), ``.grad`` (float), ``.label``, ``.op``.

    ``Value(x)`` requires grad by default (as in micrograd); Python numbers mixed into an
    expression become constants that do not. ``==`` is identity (nodes are hashable, as in
    micrograd); ``<``, ``<=``, ``>``, ``>=`` compare ``.data`` and return plain bools.

    Example:
        >>> x = Value(3.0, label="x")
        >>> y = 2 * x ** 2 + 1
        >>> y.backward()
        >>> y.data, x.grad
        (19.0, 12.0)
    """

    __slots__ = ()

    def __init__(self, data: float | int | Value, _children: tuple[Any, ...] = (), _op: str = "",
                 label: str | None = None, *, requires_grad: bool = True) -> None:
        if isinstance(data, Value):
            data = data.data
        if isinstance(data, bool) or not isinstance(data, int | float):
            try:
                data = float(data)  # numpy scalars, Fractions, ...
            except (TypeError, ValueError):
                raise TypeError(
                    f"Value(data): expected a real number, got {type(data).__name__} {data!r}; "
                    "use Tensor for arrays") from None
        _build(self, float(data), requires_grad)
        self.label = label or None

    # --- node protocol hooks ---------------------------------------------------------------------
    _grad0 = 0.0

    @classmethod
    def _constant(cls, data: Any) -> Value:
        return cls(data, requires_grad=False)

    def _seed(self) -> float:
        return 1.0

    def _check_seed(self, gradient: Any) -> float:
        try:
            return float(gradient)
        except (TypeError, ValueError):
            raise TypeError(f"backward(gradient=...): a Value's seed must be a number, got "
                            f"{type(gradient).__name__}") from None

    def _zero_tangent(self) -> float:
        return 0.0

    # --- conversions ---------------------------------------------------------------------------------
    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    def _repr_html_(self) -> str:
        from .display import value_html

        return value_html(self)

    def __float__(self) -> float:
        return self.data

    def item(self) -> float:
        """The float in this node.

        Example:
            >>> Value(1.5).item()
            1.5
        """
        return self.data

    def detach(self) -> Value:
        """A constant copy of this value, cut from the graph.

        Example:
            >>> Value(2.0).detach().requires_grad
            False
        """
        return Value(self.data, requires_grad=False, label=self.label)

    # --- arithmetic -----------------------------------------------------------------------------------
    def __add__(self, other: Any) -> Value:
        if other.__class__ is not Value:
            other = _lift(other, "+")
        return _op2(R.ADD, self, other)

    def __radd__(self, other: Any) -> Value:
        return _op2(R.ADD, _lift(other, "+"), self)

    def __sub__(self, other: Any) -> Value:
        if other.__class__ is not Value:
            other = _lift(other, "-")
        return _op2(R.SUB, self, other)

    def __rsub__(self, other: Any) -> Value:
        return _op2(R.SUB, _lift(other, "-"), self)

    def __mul__(self, other: Any) -> Value:
        if other.__class__ is not Value:
            other = _lift(other, "*")
        return _op2(R.MUL, self, other)

    def __rmul__(self, other: Any) -> Value:
        return _op2(R.MUL, _lift(other, "*"), self)

    def __truediv__(self, other: Any) -> Value:
        if other.__class__ is not Value:
            other = _lift(other, "/")
        return _op2(R.DIV, self, other)

    def __rtruediv__(self, other: Any) -> Value:
        return _op2(R.DIV, _lift(other, "/"), self)

    def __pow__(self, other: Any) -> Value:
        """``x ** n`` (a number: a static exponent) or ``x ** y`` (a Value: differentiable in y).

        A negative base with a non-integer exponent gives nan (with a RuntimeWarning).
        """
        if isinstance(other, Value):
            return _op2(R.POWER, self, other)
        if isinstance(other, int | float) and not isinstance(other, bool):
            return _apply(R.POW, (self,), {"exponent": float(other)})
        raise TypeError(f"Value ** {type(other).__name__}: the exponent must be a number or a "
                        "Value")

    def __rpow__(self, other: Any) -> Value:
        return _op2(R.POWER, _lift(other, "**"), self)

    def __neg__(self) -> Value:
        return _op1(R.NEG, self)

    def __pos__(self) -> Value:
        return self

    __hash__ = Node.__hash__

    # --- elementary functions -------------------------------------------------------------------------








    def leaky_relu(self, alpha: float = 0.01) -> Value:
        """x if x > 0 else alpha·x; derivative alpha at 0 and below."""
        return _apply(R.LEAKY_RELU, (self,), {"alpha": float(alpha)})







_apply = Value._apply
_leaf = Node._leaf.__func__  # type: ignore[attr-defined]


# The scalar hot path. In the plain mode (grad on, no anomaly mode, no module scope) a Value op
# is built here directly: the same rule table entry and the same node layout as
# `Node._apply`, minus its generality (any arity, static arguments, modes), which costs ~25% of
# an op on a scalar graph. Any active mode goes through `Node._apply`.

def _op2(rule: Any, a: Value, b: Value) -> Value:
    if _mode.get():
        return _apply(rule, (a, b))
    if a.requires_grad or b.requires_grad:
        return _build(_new(Value), rule.forward(a.data, b.data), True, rule, a, b)
    return _build(_new(Value), rule.forward(a.data, b.data), False)


def _op1(rule: Any, a: Value) -> Value:
    if _mode.get():
        return _apply(rule, (a,))
    if a.requires_grad:
        return _build(_new(Value), rule.forward(a.data), True, rule, a)
    return _build(_new(Value), rule.forward(a.data), False)


# the unary methods without arguments come from the rule table (see `defrule`)
R.add_methods(Value, "Value", _op1)


def _lift(other: Any, op: str) -> Value:
    if isinstance(other, Value):
        return other
    if other.__class__ is float or other.__class__ is int:
        return _leaf(Value, float(other), False)
    if isinstance(other, Node):
        raise TypeError(
            f"Value {op} {type(other).__name__}: cannot mix a scalar Value with a Tensor in one op. "
            "Wrap the scalar as a Tensor (Tensor(v.data)) or use Tensor ops throughout.")
    try:
        return Value(float(other), requires_grad=False)
    except (TypeError, ValueError):
        raise TypeError(f"Value {op} {type(other).__name__}: unsupported operand {other!r}; use a "
                        "number or a Value") from None

