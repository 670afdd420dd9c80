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

from collections.abc import Callable
from typing import Any

from . import engine as E
from . import rules as R
from .engine import _NO_GRAD, Node, _build, _counter, _escaped, _mode, _new

__all__ = ["Value"]

# The scalar hot path. In the plain mode (grad on, no anomaly mode, no module scope, no trace) a
# Value op is built right in its method: the rule table's forward, then the slots `_build` fills,
# written out (a call less per node, and no branches for arities the op does not have: together
# ~35% of building a scalar node). tests/test_fast_engine.py checks that these nodes equal
# `_build`'s slot for slot. Any active mode goes through `Node._apply`.
_MAX = 1.7976931348623157e308
_mode_get = _mode.get  # bound once: a lookup less per op


def _binary(rule: R.Rule, sym: str) -> tuple[Callable[[Value, Any], Value], Callable[[Value, Any], Value]]:
    """``x <sym> y`` for a Value ``x`` and its reflected form (``2 * x``), from the table's rule."""
    forward = rule.forward

    def op(self: Value, other: Any) -> Value:
        if other.__class__ is not Value:
            if other.__class__ is float:  # `_lift`'s constant leaf, built here: a call less (y * 0.5)
                c = _new(Value)
                c._flags = 0
                c.data = other
                c.grad = 0.0
                c.requires_grad = False
                c._a = c._b = c._rule = c._static = c._g = None
                c._id = next(_counter)
                other = c
            else:
                other = _lift(other, sym)
        if _mode_get():
            return _apply(rule, (self, other))
        ad = self.data
        bd = other.data
        out = forward(ad, bd)
        if not -_MAX <= out <= _MAX:  # inf or nan; the cheapest test
            _overflowed(rule, ad, bd, out=out)
        node = _new(Value)
        node._flags = 0
        node._g = None
        node.data = out
        node.grad = 0.0
        node._static = None
        if self.requires_grad or other.requires_grad:
            node.requires_grad = True
            node._a = self
            node._b = other
            node._ad = ad
            node._bd = bd
            node._rule = rule
        else:  # from constants only: a constant
            node.requires_grad = False
            node._a = node._b = node._rule = None
        node._id = next(_counter)
        return node

    def rop(self: Value, other: Any) -> Value:
        return op(_lift(other, sym), self)

    name = {"div": "truediv", "power": "pow"}.get(rule.name, rule.name)
    op.__name__, rop.__name__ = f"__{name}__", f"__r{name}__"
    op.__qualname__, rop.__qualname__ = f"Value.__{name}__", f"Value.__r{name}__"
    return op, rop


def _unary(rule: R.Rule) -> Callable[[Value], Value]:
    """``x.<method>()`` for a unary rule without static arguments, built as `_binary` builds."""
    forward = rule.forward

    def method(self: Value) -> Value:
        if _mode_get():
            return _apply(rule, (self,))
        ad = self.data
        node = _new(Value)
        node._flags = 0
        node._g = None
        node.data = forward(ad)
        node.grad = 0.0
        node._b = node._static = None
        if self.requires_grad:
            node.requires_grad = True
            node._a = self
            node._ad = ad
            node._rule = rule
        else:
            node.requires_grad = False
            node._a = node._rule = None
        node._id = next(_counter)
        return node

    method.__name__ = method.__qualname__ = str(rule.method or rule.name)
    method.__doc__ = f"{rule.doc}  (elementwise; the rule table's entry {rule.name!r})"
    return method


_power, _rpower = _binary(R.POWER, "**")



class Value(Node):
    """A scalar in the computation graph: ``.data`` (float), ``.grad`` (float), ``.label``, ``.op``.

    ``Value(x)`` requires grad by default (as in micrograd); Python numbers mixed into an
    expression become constants that do not. ``==`` is identity (nodes are hashable, as in
    micrograd); ``<``, ``<=``, ``>``, ``>=`` compare ``.data`` and return plain bools, and
    ``bool(v)`` is ``bool(v.data)``, as for a float (``Value(0.0)`` is false). A finite result
    that overflows to inf (``Value(1e200) * 1e200``) warns, as numpy does for Tensors.

    Example:
        >>> x = Value(3.0, label="x")
        >>> y = 2 * x ** 2 + 1
        >>> y.backward()
        >>> y.data, x.grad
        (19.0, 12.0)
    """

    # a __dict__ for what client code attaches (optimizer state such as ``p.m``, a colour): one
    # more pointer per node; the dict itself is made only when something is attached
    __slots__ = ("__dict__",)

    def __init__(self, data: float | int | Value, _children: tuple[Any, ...] = (), _op: str = "",
                 label: str | None = None, *, requires_grad: bool = True) -> None:
        if isinstance(data, Value):
            _escaped("Value(v)")
            data = data.data
        if isinstance(data, bool) or not isinstance(data, int | float):
            try:
                data = float(data)  # numpy scalars, Fractions, ...
            except (TypeError, ValueError):
                raise TypeError(
                    f"Value(data): expected a real number, got {type(data).__name__} {data!r}; "
                    "use Tensor for arrays") from None
        if _children:
            self._init_op(float(data), _children, _op, requires_grad)
        else:
            _build(self, float(data), requires_grad)
        if label:  # else the class default, None (no instance dict made)
            self.label = label

    def _init_op(self, data: float, children: Any, op: Any, requires_grad: bool) -> None:
        """micrograd's ``Value(data, _children, _op)``: a node whose gradient comes from the
        ``_backward`` closure the caller sets next (see `_ClosureRule`)."""
        parents = tuple(children)
        for c in parents:
            if not isinstance(c, Value):
                raise TypeError(f"Value(data, _children, _op): every child must be a Value, got "
                                f"{type(c).__name__} {c!r}")
        if requires_grad and not _mode.get() & _NO_GRAD and any(c.requires_grad for c in parents):
            n = len(parents)
            _build(self, data, True, None, parents[0] if n < 3 else None, parents[1] if n == 2 else None,
                   parents if n > 2 else None)
            self._rule = _ClosureRule(self, str(op), None)
        else:  # from constants only, or under no_grad: a constant, as any op's result would be
            _build(self, data, False)

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

    def _set_closure(self, fn: Any) -> None:
        # ``out._backward = fn``: micrograd's way to give a node its gradient
        if not callable(fn):
            raise TypeError(f"Value._backward = {fn!r}: expected a function of no arguments that adds "
                            "this node's gradient into its children's .grad")
        rule = self._rule
        if rule is not None:
            if isinstance(rule, _ClosureRule):
                rule.fn = fn
            else:  # an op's node whose gradient the user replaces, as micrograd allows
                self._rule = _ClosureRule(self, self._op, fn)
                self._static = None
            self._check_closure(fn)
        elif self.requires_grad:
            raise TypeError(
                "Value._backward = ...: this Value is a leaf (built without children), so the "
                "closure would have no inputs to send gradients to. Build the node with its "
                "inputs, out = Value(data, (x, y), 'myop'), then set out._backward.")
        # else a constant (built from constants, or under no_grad): no gradient flows through it

    def _check_closure(self, fn: Any) -> None:
        """Warn when the closure holds a Value that is not a child: backward() sends gradients
        along the children only, so what the closure adds into that Value would be lost."""
        parents = self._parents
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:  # a cell not filled yet
                continue
            if isinstance(v, Value) and v is not self and not any(v is p for p in parents):
                R._warn(self.op, f"the _backward closure uses {v!r}, which is not one of the node's "
                        "_children, so backward() would not pass a gradient to it",
                        "list every Value the op reads in _children: Value(data, (x, y), op)")

    @staticmethod
    def _nonfinite(rule: Any, inputs: tuple[Node, ...], out: float) -> None:
        _overflowed(rule, *[x.data for x in inputs], out=out)

    # --- conversions ---------------------------------------------------------------------------------
    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    def _repr_html_(self) -> str:
        from .display import value_html

        return value_html(self)

    def __float__(self) -> float:
        _escaped("float()")
        return self.data

    def __bool__(self) -> bool:
        out = self.data != 0.0  # as bool(float): 0.0 is false, nan is true
        if E._on_compare is not None:  # `if v:` under compile is a guard, as `if v > 0:` is
            E._on_compare(self, "!=", 0.0, out)
        return out

    def item(self) -> float:
        """The float in this node.

        Example:
            >>> Value(1.5).item()
            1.5
        """
        _escaped(".item()")
        return self.data

    def detach(self) -> Value:
        """A constant copy of this value, cut from the graph.

        Example:
            >>> Value(2.0).detach().requires_grad
            False
        """
        _escaped(".detach()")
        return Value(self.data, requires_grad=False, label=self.label)

    # --- arithmetic -----------------------------------------------------------------------------------
    __add__, __radd__ = _binary(R.ADD, "+")
    __sub__, __rsub__ = _binary(R.SUB, "-")
    __mul__, __rmul__ = _binary(R.MUL, "*")
    __truediv__, __rtruediv__ = _binary(R.DIV, "/")

    def __pow__(self, other: Any) -> Value:
        """``x ** n`` (a number: a static exponent) or ``x ** y`` (a Value: differentiable in y).

        A negative base with a non-integer exponent gives nan (with a RuntimeWarning).
        """
        if isinstance(other, Value):
            return _power(self, other)
        if isinstance(other, int | float) and not isinstance(other, bool):
            return _apply(R.POW, (self,), {"exponent": float(other)})
        raise TypeError(f"Value ** {type(other).__name__}: the exponent must be a number or a "
                        "Value")

    def __rpow__(self, other: Any) -> Value:
        return _rpower(self, other)

    __neg__ = _unary(R.NEG)

    def __pos__(self) -> Value:
        return self

    __hash__ = Node.__hash__

    # --- elementary functions -------------------------------------------------------------------------








    def leaky_relu(self, alpha: float = 0.01) -> Value:
        """x if x > 0 else alpha·x; derivative alpha at 0 and below."""
        return _apply(R.LEAKY_RELU, (self,), {"alpha": float(alpha)})







class _ClosureRule(R.Rule):
    """The rule of one node built micrograd's way: ``Value(data, _children, _op)`` and an
    ``out._backward`` closure that adds into the children's ``.grad``.

    In `backward()` the node joins the ordinary iterative sweep as its own rule: the VJP runs the
    closure against zeroed children's gradients, reads what it added and puts the children's
    gradients back, so the closure's contributions reach each child once and through the same
    accumulation as every other edge (leaves add, intermediates are overwritten, all or
    nothing). Not in the rule table: such an op has no forward rule, no JVP, no second derivative.
    """

    __slots__ = ("fn", "node")

    def __init__(self, node: Value, op: str, fn: Any) -> None:
        super().__init__(op or "closure", "an op given by a micrograd-style _backward closure",
                         self._no_forward, self._vjp, self._no_jvp, nodes=("Value",), symbol=op)
        self.symbol = op  # '' stays '' (micrograd's default op string)
        self.node = node  # a cycle, like the closure's own reference to `out`: the collector frees it
        self.fn = fn

    def _no_forward(self, *inputs: Any) -> Any:
        raise RuntimeError(f"the op '{self.name}' was built from a number (Value(data, _children, _op)): "
                           "it has no forward rule, so it cannot be re-evaluated at other inputs "
                           "(as check_grad's finite differences do); write it from Value ops to "
                           "check it numerically")

    def _no_jvp(self, *args: Any) -> Any:
        raise RuntimeError(f"forward mode (jvp): the op '{self.name}' is a micrograd-style _backward "
                           "closure, which gives reverse-mode gradients only; write it from Value ops")

    def _closure(self) -> Any:
        if self.fn is None:
            raise RuntimeError(
                f"backward(): the node '{self.name}' was built with Value(data, _children, _op) but "
                "has no _backward closure, so its children would silently get no gradient. Set "
                "out._backward to a function that adds d(out)/d(child) * out.grad into each child's "
                ".grad (micrograd's pattern), or build the op from Value ops.")
        return self.fn

    def step(self) -> None:
        """A hand step (micrograd's ``out._backward()``): the closure itself."""
        self._closure()()

    def _vjp(self, g: Any, ans: Any, *inputs: Any) -> tuple[Any, ...]:
        if isinstance(g, Node):
            raise RuntimeError(
                f"backward(create_graph=True): the op '{self.name}' is a micrograd-style _backward "
                "closure, which computes numbers, not a graph of its derivative; write it from Value "
                "ops to differentiate it twice")
        fn = self._closure()
        node = self.node
        parents = node._parents
        unique = list(dict.fromkeys(parents))  # a child listed twice is one node to read back
        saved = [p.grad for p in unique]
        own = node.grad
        try:
            for p in unique:
                p.grad = 0.0
            node.grad = g
            fn()
            got = {p: p.grad for p in unique}
        finally:
            for p, old in zip(unique, saved):
                p.grad = old
            node.grad = own
        return tuple(got.pop(p, None) for p in parents)  # a repeated child gets its share once


_apply = Value._apply
_leaf = Node._leaf.__func__  # type: ignore[attr-defined]


_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def _overflowed(rule: Any, *xs: float, out: float) -> None:
    """Warn when finite inputs of + - * / gave ±inf (float arithmetic is silent; numpy warns for
    arrays). The other ops warn in their rules; a nan or inf input just propagates."""
    sym = _SYMBOLS.get(rule.name)
    if sym is None or out != out or not all(x - x == 0 for x in xs) or (sym == "/" and xs[1] == 0):
        return
    R._warn(rule.name, f"{xs[0]!r} {sym} {xs[1]!r} overflows to {out!r}",
            "scale the values down (normalise the inputs, lower the learning rate), or work with "
            "logarithms; detect_anomaly() turns this into an error")


# the unary methods without arguments come from the rule table (see `defrule`)
R.add_methods(Value, "Value", make=_unary)


def _lift(other: Any, op: str) -> Value:
    if isinstance(other, Value):
        return other
    if other.__class__ is float or other.__class__ is int:  # a constant leaf, as `_build` makes it
        node = _new(Value)
        node._flags = 0
        node._g = None
        node.data = float(other)
        node.grad = 0.0
        node.requires_grad = False
        node._a = node._b = node._rule = node._static = None
        node._id = next(_counter)
        return node
    if isinstance(other, Node):
        raise TypeError(
            f"Value {op} {type(other).__name__}: cannot mix a scalar Value with a Tensor in one op. "
            "Wrap the scalar as a Tensor (Tensor(v.data)) or use Tensor ops throughout.")
    try:
        return Value(float(other), requires_grad=False)
    except (TypeError, ValueError):
        raise TypeError(f"Value {op} {type(other).__name__}: unsupported operand {other!r}; use a "
                        "number or a Value") from None

