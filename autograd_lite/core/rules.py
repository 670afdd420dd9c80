"""The rule table: every op's forward, VJP (reverse mode) and JVP (forward mode), side by side.

One entry per op in `RULES`. Each entry has a one-line maths docstring (``doc``) that the graph
renderer can show. Conventions (ARCHITECTURE.md at the project root has the full entry format):

* ``forward(*inputs, **static)`` works on raw data (a Python float or an ndarray).
* ``vjp(g, ans, *inputs, **static)`` returns a tuple aligned with the inputs, ``None`` meaning
  "no gradient to this input". It never unbroadcasts: the engine reduces every edge.
* ``jvp(tangents, ans, *inputs, **static)`` gets a tuple of input tangents aligned with the inputs
  (``None`` = zero tangent) and returns the output tangent.
* Rules are pure and written with operators and the dispatching functions below, which work on
  floats, arrays *and* nodes: run on nodes (``create_graph=True``), a rule builds the graph of the
  gradient, so derivatives of any order come from the same table.

Domain policy (documented in the README): out-of-domain inputs give IEEE results like numpy
(``log(0) = -inf``, ``log(-1) = nan``, ``sqrt(-1) = nan``, a negative base with a non-integer
exponent gives nan, ``exp`` overflows to ``inf``) and always emit a `RuntimeWarning` naming the op,
the value and the fix; `detect_anomaly` turns them into errors. ``0 ** 0 = 1``.

Derivatives at kinks follow one convention: relu'(0) = 0, abs'(0) = sign(0) = 0,
leaky_relu'(0) = alpha, sign' = 0 everywhere.
"""

from __future__ import annotations

import functools
import math
import operator
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import backend as _B
from . import engine as _engine
from .engine import Node, is_finite

__all__ = ["RULES", "Rule", "defrule"]


class Rule:
    """One row of the rule table: the maths (forward, VJP, JVP, a one-line doc) and what the
    tools need to know about the op (see `defrule`)."""

    __slots__ = ("doc", "expr", "forward", "jvp", "kink", "method", "name", "need", "nodes", "symbol",
                 "ufunc", "vjp", "work")

    def __init__(self, name: str, doc: str, forward: Callable[..., Any], vjp: Callable[..., Any],
                 jvp: Callable[..., Any], **meta: Any) -> None:
        self.name, self.doc, self.forward, self.vjp, self.jvp = name, doc, forward, vjp, jvp
        self.nodes: tuple[str, ...] = meta.get("nodes", ("Value", "Tensor"))
        self.method: str | None = meta.get("method")
        self.kink: str | None = meta.get("kink")
        self.expr: tuple[str, ...] = meta.get("expr", ())
        self.ufunc: str | None = meta.get("ufunc")
        self.work: Callable[..., int] | None = meta.get("work")
        self.need: bool = meta.get("need", False)
        self.symbol: str | Callable[..., str] = meta.get("symbol") or name

    def __repr__(self) -> str:
        return f"Rule({self.name!r}: {self.doc})"


RULES: dict[str, Rule] = {}


def defrule(name: str, doc: str, *, forward: Callable[..., Any], vjp: Callable[..., Any],
            jvp: Callable[..., Any], nodes: tuple[str, ...] = ("Value", "Tensor"),
            method: str | None = None, kink: str | None = None, expr: tuple[str, ...] = (),
            ufunc: str | None = None, work: Callable[..., int] | None = None,
            need: bool = False, symbol: str | Callable[..., str] | None = None) -> Rule:
    """Add one op to the rule table and return its entry.

    Metadata, read by the rest of the package instead of lists of op names:

    * ``nodes``: the node types that have the op ("Value", "Tensor"); ``method``: its method name
      on them (unary ops without static arguments get the method generated from the entry, and
      every method is also a function in `autograd_lite.functional`).
    * ``kink``: where the derivative jumps: "zero" (at input 0) or "tie" (where two inputs are
      equal); `check_grad` warns when an input sits near it.
    * ``expr``: the names the command line's expression language offers it under.
    * ``ufunc``: the numpy ufunc a Tensor answers with this rule (``np.exp(t)``).
    * ``work``: multiply-adds of one forward call from the input data, for `cost_report` (default:
      the size of the largest operand).
    * ``need``: the VJP takes ``need=`` (which inputs want a gradient) from the engine, to skip
      work nobody asked for; it is never stored on the node.
    * ``symbol``: the op in micrograd's notation, read by ``node._op`` (``'+'``, ``'ReLU'``): a
      string, or a function of the static arguments (``'**2'``); the rule's name by default.

    Example:
        >>> from autograd_lite.core.rules import RULES
        >>> print(RULES["sigmoid"].doc)
        σ(x) = 1/(1 + e^-x);  σ'(x) = σ(x)(1 - σ(x))
    """
    if name in RULES:
        raise ValueError(f"rule {name!r} is already defined")
    r = Rule(name, doc, forward, vjp, jvp, nodes=nodes, method=method, kink=kink, expr=expr,
             ufunc=ufunc, work=work, need=need, symbol=symbol)
    RULES[name] = r
    return r


def add_methods(cls: type, kind: str, call: Callable[[Rule, Any], Any] | None = None, *,
                make: Callable[[Rule], Callable[[Any], Any]] | None = None) -> None:
    """Give node class ``cls`` a method ``x.<method>()`` for every unary rule of node ``kind``
    whose method it does not define by hand (those take arguments): ``call(rule, x)``, or the
    method ``make(rule)`` returns."""
    if make is None:
        assert call is not None, "add_methods: give call or make"
        make = functools.partial(_method, call=call)
    for r in RULES.values():
        if r.method and kind in r.nodes and not hasattr(cls, r.method):
            setattr(cls, r.method, make(r))
    cls.__abs__ = cls.abs  # type: ignore[attr-defined]


def _method(rule: Rule, call: Callable[[Rule, Any], Any]) -> Callable[[Any], Any]:
    def method(self: Any) -> Any:
        return call(rule, self)

    method.__name__ = method.__qualname__ = str(rule.method)
    method.__doc__ = f"{rule.doc}  (elementwise; the rule table's entry {rule.name!r})"
    return method


# ---------------------------------------------------------------------------------------------
# Dispatching elementary functions: float -> math, ndarray -> numpy, node -> its method.
# ---------------------------------------------------------------------------------------------

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _warn(op: str, what: str, fix: str) -> None:
    """Warn "op: what; fix", attributed to the innermost line of user code (not to this package)."""
    level = 2
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(f"{op}: {what}; {fix}", RuntimeWarning, stacklevel=level)


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray | np.generic)


def _array_warn(op: str, bad: Any, what: str, fix: str) -> None:
    if type(bad) is np.ndarray or isinstance(bad, np.generic | bool):
        if np.any(bad):
            _warn(op, f"{int(np.sum(bad))} input(s) {what}", fix)
    elif _B.any_true(bad):  # another library's mask (a lazy one is checked when computed)
        _warn(op, f"{_B.count_true(bad)} input(s) {what}", fix)


def _foreign(x: Any) -> bool:
    """An array of another library than numpy (torch, dask, ...): not a number, ndarray or node."""
    return not isinstance(x, np.ndarray | np.generic | float | int | Node)


_np = _B.names  # numpy for numpy data, the adapter with numpy's names for another library's


# numpy-style array methods on any library's array, or on a node (where they build the graph)
def _reshape(x: Any, shape: Any) -> Any:
    return _B.reshape(x, tuple(shape)) if _foreign(x) else x.reshape(shape)


def _permute(x: Any, axes: Any) -> Any:
    return _B.namespace(x).permute_dims(x, tuple(axes)) if _foreign(x) else x.transpose(axes)


def _mT(x: Any) -> Any:
    return _B.namespace(x).permute_dims(x, (1, 0)) if _foreign(x) else x.T


def _sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    if _foreign(x):
        return _B.namespace(x).sum(x, axis=axis, keepdims=keepdims)
    return x.sum(axis=axis, keepdims=keepdims)


def _mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    if _foreign(x):
        return _B.namespace(x).mean(x, axis=axis, keepdims=keepdims)
    return x.mean(axis=axis, keepdims=keepdims)


def _astype(x: Any, dtype: Any) -> Any:
    if _foreign(x):
        xp = _B.namespace(x)
        return xp.astype(x, _B.dtype_in(xp, dtype))
    return x.astype(dtype)


def exp(x: Any) -> Any:
    """e^x on a float, an array or a node; overflow gives inf with a RuntimeWarning."""
    if type(x) is float:
        try:
            return math.exp(x)
        except OverflowError:
            _warn("exp", f"exp({x!r}) overflows to inf", "use softplus/logsumexp/log_sigmoid "
                  "for stable forms, or scale the input")
            return math.inf
    if _is_array(x) or _foreign(x):
        xn = np if type(x) is np.ndarray else _np(x)
        with np.errstate(over="ignore"):
            out = xn.exp(x)
        _array_warn("exp", xn.isinf(out) & ~xn.isinf(x), "overflow to inf",
                    "use softplus/logsumexp/log_softmax for stable forms, or scale the input")
        return out
    return x.exp()


def log(x: Any) -> Any:
    """ln x; ln 0 = -inf and ln(x < 0) = nan, each with a RuntimeWarning."""
    if type(x) is float:
        if x > 0:
            return math.log(x)
        if x == 0:
            _warn("log", "log(0) = -inf", "add a small epsilon, or use a fused op "
                  "(log_softmax, log_sigmoid, cross_entropy) instead of log of a probability")
            return -math.inf
        if x != x:
            return x
        _warn("log", f"log({x!r}) of a negative number is nan", "log is defined for x > 0")
        return math.nan
    if _is_array(x) or _foreign(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (np if type(x) is np.ndarray else _np(x)).log(x)
        if is_finite(out):  # no 0 (-inf) and no negative (nan) input: nothing to report
            return out
        _array_warn("log", x == 0, "are 0 (log = -inf)", "add a small epsilon, or use a fused op "
                    "(log_softmax, log_sigmoid, cross_entropy)")
        _array_warn("log", x < 0, "are negative (log = nan)", "log is defined for x > 0")
        return out
    return x.log()


def sqrt(x: Any) -> Any:
    """√x; √(x < 0) = nan with a RuntimeWarning."""
    if type(x) is float:
        if x >= 0:
            return math.sqrt(x)
        if x != x:
            return x
        _warn("sqrt", f"sqrt({x!r}) of a negative number is nan", "sqrt is defined for x >= 0")
        return math.nan
    if _is_array(x) or _foreign(x):
        with np.errstate(invalid="ignore"):
            out = (np if type(x) is np.ndarray else _np(x)).sqrt(x)
        _array_warn("sqrt", x < 0, "are negative (sqrt = nan)", "sqrt is defined for x >= 0")
        return out
    return x.sqrt()




def _plain(name: str, scalar: Callable[[float], float], array: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A dispatching function for an op that needs no domain warnings (defined everywhere)."""

    def fn(x: Any) -> Any:
        if type(x) is float:
            return scalar(x)
        if _is_array(x):
            return array(x)
        if _foreign(x):
            return getattr(_B.namespace(x), name)(x)
        return getattr(x, name)()

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{name} x on a float, an array or a node (defined and stable at every x)."
    return fn


tanh = _plain("tanh", math.tanh, np.tanh)
sin = _plain("sin", math.sin, np.sin)
cos = _plain("cos", math.cos, np.cos)


def sigmoid(x: Any) -> Any:
    """σ(x), two-branch: exp is only taken of -|x|, so nothing overflows at |x| = 1000."""
    if type(x) is float:
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    if type(x) is np.ndarray and x.ndim and x.dtype.kind == "f":
        # the same numbers, bit for bit: the numerator e^min(x, 0) is 1 or e^-|x| without a
        # select (np.where is slow on mixed signs), in two buffers reused in place
        num = np.minimum(x, 0.0)
        np.exp(num, out=num)
        d = np.abs(x)
        np.negative(d, out=d)
        np.exp(d, out=d)
        d += 1.0
        return np.divide(num, d, out=d)
    if _is_array(x) or _foreign(x):
        xn = np if type(x) is np.ndarray else _np(x)
        e = xn.exp(-xn.abs(x))
        return xn.where(x >= 0, 1.0, e) / (1.0 + e)
    return x.sigmoid()


def softplus(x: Any) -> Any:
    """ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), finite at any |x|."""
    if type(x) is float:
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    if _is_array(x) or _foreign(x):
        xn = np if type(x) is np.ndarray else _np(x)
        return xn.maximum(x, 0.0) + xn.log1p(xn.exp(-xn.abs(x)))
    return x.softplus()






def raw(x: Any) -> Any:
    """The data under a node (or the value itself)."""
    return x if type(x) is float or _is_array(x) else getattr(x, "data", x)


def sign(x: Any) -> Any:
    """sign as raw data (+1, -1, 0): a constant, so its own derivative is zero."""
    x = raw(x)
    if type(x) is float:
        return (x > 0) - (x < 0) + 0.0
    return _np(x).sign(x)


def step(x: Any, at_zero: float = 0.0) -> Any:
    """1{x > 0} as raw data (``at_zero`` at exactly 0): the derivative of relu."""
    x = raw(x)
    if type(x) is float:
        return 1.0 if x > 0 else (at_zero if x == 0 else 0.0)
    if type(x) is not np.ndarray and _foreign(x):
        xp = _B.namespace(x)
        out = xp.astype(x > 0, x.dtype if _B.is_float(x) else xp.float64)
        return xp.where(x == 0, xp.full_like(out, at_zero), out) if at_zero else out
    out = (x > 0).astype(x.dtype if x.dtype.kind == "f" else np.float64)
    if at_zero:
        out[x == 0] = at_zero
    return out


def select(cond: Any, a: float, b: float, like: Any = None) -> Any:
    """a where cond else b, as raw data (cond a bool or bool array), in the float dtype of
    ``like`` when that is a float array (so float32 stays float32)."""
    if isinstance(cond, bool | np.bool_):
        return a if cond else b
    if type(cond) is not np.ndarray and _foreign(cond):
        xp = _B.namespace(cond)
        dt = like.dtype if like is not None and _B.is_float(like) else xp.float64
        return xp.where(cond, xp.full_like(cond, a, dtype=dt), xp.full_like(cond, b, dtype=dt))
    out = np.where(cond, a, b)
    dtype = getattr(like, "dtype", None)
    return out.astype(dtype, copy=False) if dtype is not None and dtype.kind == "f" else out


def fpow(x: Any, p: Any) -> Any:
    """x ** p with IEEE results on floats (inf, nan) where Python would raise or go complex."""
    if type(x) is float:
        try:
            r = x ** p
        except ZeroDivisionError:
            return math.inf
        except OverflowError:
            odd = p == int(p) and int(p) % 2 == 1
            return math.copysign(math.inf, x) if odd else math.inf
        return math.nan if type(r) is complex else r
    if _is_array(x):
        with np.errstate(all="ignore"):
            return np.power(x, p)
    if _foreign(x):
        return _np(x).power(x, p)
    return x ** p


def quot(a: Any, b: Any) -> Any:
    """a / b with IEEE results on floats (±inf, nan) where Python would raise."""
    if type(b) is float:
        if b == 0.0:
            a = raw(a)
            if type(a) is float:
                if a == 0 or a != a:
                    return math.nan
                return math.copysign(math.inf, a) * math.copysign(1.0, b)
            with np.errstate(divide="ignore", invalid="ignore"):
                return _np(a).true_divide(a, b)
        return a / b
    if _is_array(b) or _is_array(a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return a / b
    return a / b


def _finite(x: Any) -> bool:
    """Finite raw data; a node counts as finite (on create_graph paths its own ops report)."""
    return isinstance(x, Node) or is_finite(x)


def _guarded(op: str, fix: str, fn: Callable[..., Any], tangent: bool = False) -> Callable[..., Any]:
    """Wrap a VJP (or, with ``tangent=True``, a JVP) whose derivative can be infinite or undefined
    at finite inputs (a pole, a vertical tangent): the IEEE result is kept, and a `RuntimeWarning`
    naming ``op``, the place and ``fix`` is emitted instead of numpy's anonymous one (or none).
    Inputs that are already non-finite were reported by the forward pass and are not reported again.
    """

    def checked(g: Any, ans: Any, *inputs: Any, **static: Any) -> Any:
        if type(ans) is float:  # Value path: float arithmetic never warns; a quick finite test
            out = fn(g, ans, *inputs, **static)
            if tangent:
                if out is None or out - out == 0:
                    return out
            elif all(o is None or o - o == 0 for o in out):
                return out
        else:
            with np.errstate(all="ignore"):
                out = fn(g, ans, *inputs, **static)
            if all(_finite(o) for o in ((out,) if tangent else out) if o is not None):
                return out
        _report(op, fix, out, g, ans, inputs, tangent)
        return out

    checked.__doc__ = fn.__doc__
    return checked


def _report(op: str, fix: str, out: Any, g: Any, ans: Any, inputs: tuple[Any, ...],
            tangent: bool) -> None:
    """The warning of `_guarded`: only for a derivative that blew up at finite inputs."""
    seeds = [t for t in g if t is not None] if tangent else [g]
    if not all(_finite(x) for x in (*seeds, ans, *inputs)):
        return
    outs = [o for o in ((out,) if tangent else out) if o is not None and not _finite(o)]
    kind = "nan" if any(_B.any_true(_np(raw(o)).isnan(raw(o))) for o in outs) else "infinite"
    where = ", ".join(repr(x) if type(x) is float else f"an array of shape {tuple(x.shape)}"
                      for x in inputs)
    _warn(op, f"the derivative is {kind} at the input(s) {where}", fix)


def _plus(a: Any, b: Any) -> Any:
    """Sum of two tangents where ``None`` means zero."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _times(t: Any, k: Any) -> Any:
    return None if t is None else t * k


# ---------------------------------------------------------------------------------------------
# Elementwise rules, shared by Value (floats) and Tensor (arrays).
# ---------------------------------------------------------------------------------------------

ADD = defrule(
    "add", "x + y;  ∂/∂x = 1, ∂/∂y = 1",
    forward=operator.add,  # x + y, without a Python frame (the scalar hot path)
    vjp=lambda g, ans, x, y: (g, g),
    jvp=lambda t, ans, x, y: _plus(t[0], t[1]),
    symbol="+",
)

SUB = defrule(
    "sub", "x - y;  ∂/∂x = 1, ∂/∂y = -1",
    forward=operator.sub,  # x - y, without a Python frame (the scalar hot path)
    vjp=lambda g, ans, x, y: (g, -g),
    jvp=lambda t, ans, x, y: _plus(t[0], None if t[1] is None else -t[1]),
    symbol="-",
)

MUL = defrule(
    "mul", "x · y;  ∂/∂x = y, ∂/∂y = x",
    forward=operator.mul,  # x * y, without a Python frame (the scalar hot path)
    vjp=lambda g, ans, x, y: (g * y, g * x),
    jvp=lambda t, ans, x, y: _plus(_times(t[0], y), _times(t[1], x)),
    symbol="*",
)
_engine._register_inline(ADD)  # the sweep applies these inline (the same formulas)
_engine._register_inline(MUL)


def _div(x: Any, y: Any) -> Any:
    if type(y) is float:
        if y == 0.0:
            _warn("div", f"{x!r} / 0", "division by zero gives inf or nan; check the divisor")
            if x == 0 or x != x:
                return math.nan
            return math.copysign(math.inf, x) * math.copysign(1.0, y)
        return x / y
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x / y if _foreign(x) or _foreign(y) else np.true_divide(x, y)
    if is_finite(out):  # a zero divisor would give ±inf or nan somewhere in out
        return out
    _array_warn("div", (y == 0) if _foreign(y) else np.asarray(y) == 0,
                "are zero divisors (result inf or nan)", "check the divisor")
    return out


def _div_vjp(g: Any, ans: Any, x: Any, y: Any) -> tuple[Any, Any]:
    if type(g) is np.ndarray and type(ans) is np.ndarray and type(y) is np.ndarray \
            and g.dtype == ans.dtype == y.dtype and g.shape == ans.shape and ans.ndim:
        gx = np.divide(g, y)
        gy = np.multiply(gx, ans)  # -(g/y)·(x/y): one pass less than (-g·ans)/y, as accurate,
        np.negative(gy, out=gy)  # and finite where only g·ans overflows
        return (gx, gy)
    return (quot(g, y), quot(-g * ans, y))


_DIV_FIX = "the divisor is 0 or so small that 1/y² overflows; keep it away from 0 (add an epsilon)"

DIV = defrule(
    "div", "x / y;  ∂/∂x = 1/y, ∂/∂y = -x/y²",
    forward=_div,
    vjp=_guarded("div", _DIV_FIX, _div_vjp),
    jvp=_guarded("div", _DIV_FIX, lambda t, ans, x, y: _plus(
        None if t[0] is None else quot(t[0], y), None if t[1] is None else quot(-t[1] * ans, y)),
        tangent=True),
    symbol="/",
)

NEG = defrule(
    "neg", "-x;  d/dx = -1",
    forward=operator.neg,
    vjp=lambda g, ans, x: (-g,),
    jvp=lambda t, ans, x: -t[0],
)


def _overflow_check(op: str, out: Any, *inputs: Any) -> Any:
    """Warn when a power of finite inputs overflowed to ±inf (float ** raises, numpy is silent)."""
    if _finite(out) or not all(_finite(x) for x in inputs):
        return out
    if type(out) is float:
        if out != out:
            return out  # nan: a negative base with a non-integer exponent, reported already
        _warn(op, f"{inputs[0]!r} ** {inputs[1]!r} overflows to {out!r}", "scale the base down, "
              "or work with logarithms (y·log x) instead of x ** y")
    else:
        xn = _np(out)
        _array_warn(op, xn.isinf(out) & _finite_mask(inputs[0], out) & _finite_mask(inputs[1], out),
                    "overflow to inf", "scale the base down, or work with logarithms (y·log x)")
    return out


def _finite_mask(x: Any, ref: Any) -> Any:
    """isfinite(x) for an array of ``ref``'s library, or a number (True/False)."""
    return math.isfinite(x) if isinstance(x, float | int) else _np(ref).isfinite(x)


def _pow_const(x: Any, *, exponent: float) -> Any:
    if type(x) is float:
        if x < 0 and exponent != int(exponent):
            _warn("pow", f"{x!r} ** {exponent!r}: a negative base with a non-integer exponent "
                  "is nan", "use abs(x) ** p, or an integer exponent")
        elif x == 0 and exponent < 0:
            _warn("pow", f"0 ** {exponent!r} = inf", "keep the base away from 0")
            return fpow(x, exponent)
        return _overflow_check("pow", fpow(x, exponent), x, exponent)
    if exponent != int(exponent):
        _array_warn("pow", x < 0, f"are negative bases for the non-integer exponent {exponent} "
                    "(nan)", "use abs(x) ** p, or an integer exponent")
    if exponent < 0:
        _array_warn("pow", x == 0, f"are 0 with the negative exponent {exponent} (inf)",
                    "keep the base away from 0")
    return _overflow_check("pow", fpow(x, exponent), _np(x).where(x == 0, 1.0, x), exponent)


def _pow_const_grad(x: Any, exponent: float) -> Any:
    """n x^(n-1), with the n = 0 case exactly 0 (so 0 ** 0 has derivative 0)."""
    if exponent == 0:
        return 0.0 * x
    if exponent == 1:
        return 1.0 + 0.0 * x
    return exponent * fpow(x, exponent - 1)


_POW_FIX = ("x ** p with p < 1 has an infinite slope at x = 0 (and 1/x^k overflows near 0); keep the "
            "base away from 0, e.g. (x + eps) ** p")

def _pow_symbol(*, exponent: float) -> str:
    """micrograd's f'**{exponent}' for an exponent stored as a float: '**2', '**-1', '**0.5'."""
    return f"**{int(exponent) if float(exponent).is_integer() else exponent}"


POW = defrule(
    "pow", "x^n (constant n);  d/dx = n x^(n-1)",
    forward=_pow_const,
    vjp=_guarded("pow", _POW_FIX, lambda g, ans, x, *, exponent: (g * _pow_const_grad(x, exponent),)),
    jvp=_guarded("pow", _POW_FIX, lambda t, ans, x, *, exponent: t[0] * _pow_const_grad(x, exponent),
                 tangent=True),
    symbol=_pow_symbol,
)


def _log_base(x: Any) -> Any:
    """ln x where x > 0; 0 where x == 0 (the limit of x^y ln x for y > 0); nan for x < 0."""
    d = raw(x)
    if type(d) is float:
        if d > 0:
            return log(x)
        return 0.0 if d == 0 else math.nan
    if _is_array(x) or _foreign(x):  # raw data; a Tensor node goes on to the node path
        xn = _np(d)
        with np.errstate(divide="ignore", invalid="ignore"):
            zero_or_nan = xn.where(d == 0, xn.zeros_like(d), xn.full_like(d, math.nan))  # d's dtype
            return xn.where(d > 0, xn.log(xn.where(d > 0, d, 1.0)), zero_or_nan)
    safe = x.data > 0
    if (not _B.is_lazy(safe) and not _B.any_true(~safe)) if _foreign(safe) else bool(np.all(safe)):
        return log(x)
    return log(x * safe + (1.0 - safe * 1.0)) * safe  # node path (create_graph) with zeros


def _power(x: Any, y: Any) -> Any:
    if type(x) is float:
        if x < 0 and y != int(y):
            _warn("power", f"{x!r} ** {y!r}: a negative base with a non-integer exponent is nan",
                  "use abs(x) ** y")
        elif x == 0 and y < 0:
            _warn("power", f"0 ** {y!r} = inf", "keep the base away from 0")
            return fpow(x, y)
        return _overflow_check("power", fpow(x, y), x, y)
    if _foreign(x) or _foreign(y):
        xn = _np(x if _foreign(x) else y)
        xa, ya = xn._arrays(x, y)
    else:
        xn, xa, ya = np, np.asarray(x), np.asarray(y)
    _array_warn("power", (xa < 0) & (ya != xn.round(ya)),
                "are negative bases with non-integer exponents (nan)", "use abs(x) ** y")
    _array_warn("power", (xa == 0) & (ya < 0),
                "are 0 with a negative exponent (inf)", "keep the base away from 0")
    return _overflow_check("power", fpow(x, y), xn.where(xa == 0, 1.0, xa), y)


def _power_dx(x: Any, y: Any) -> Any:
    """y x^(y-1), exactly 0 where y = 0 (x^0 = 1 is constant, also at x = 0)."""
    if type(y) is float:
        return 0.0 if y == 0 else y * fpow(x, y - 1.0)
    if (_is_array(y) or _foreign(y)) and (_is_array(x) or _foreign(x)):
        return _np(y).where(y == 0, 0.0, y * fpow(x, y - 1.0))
    return y * fpow(x, y - 1.0)  # nodes (create_graph)


_POWER_FIX = ("the slope in x is infinite at x = 0 for y < 1, and a negative base has no derivative in "
              "y (x ** y is real only at integer y); keep the base positive, or use abs(x) ** y, or a "
              "constant exponent (x ** 3)")

POWER = defrule(
    "power", "x^y (y a node);  ∂/∂x = y x^(y-1), ∂/∂y = x^y ln x",
    forward=_power,
    vjp=_guarded("power", _POWER_FIX,
                 lambda g, ans, x, y: (g * _power_dx(x, y), g * ans * _log_base(x))),
    jvp=_guarded("power", _POWER_FIX, lambda t, ans, x, y: _plus(
        _times(t[0], _power_dx(x, y)), _times(t[1], ans * _log_base(x))), tangent=True),
    symbol="**",
)

EXP = defrule(
    "exp", "e^x;  d/dx = e^x",
    forward=exp,
    vjp=lambda g, ans, x: (g * ans,),
    jvp=lambda t, ans, x: t[0] * ans,
    method="exp", expr=("exp",), ufunc="exp",
)

LOG = defrule(
    "log", "ln x;  d/dx = 1/x",
    forward=log,
    vjp=_guarded("log", "1/x is infinite at 0 and overflows near 0; add a small epsilon",
                 lambda g, ans, x: (quot(g, x),)),
    jvp=_guarded("log", "1/x is infinite at 0 and overflows near 0; add a small epsilon",
                 lambda t, ans, x: quot(t[0], x), tangent=True),
    method="log", expr=("log", "ln"), ufunc="log",
)

_SQRT_FIX = ("√x has an infinite slope at x = 0; keep the argument positive, e.g. sqrt(x + eps) "
             "for a norm")

SQRT = defrule(
    "sqrt", "√x;  d/dx = 1/(2√x)",
    forward=sqrt,
    vjp=_guarded("sqrt", _SQRT_FIX, lambda g, ans, x: (quot(g, 2.0 * ans),)),
    jvp=_guarded("sqrt", _SQRT_FIX, lambda t, ans, x: quot(t[0], 2.0 * ans), tangent=True),
    method="sqrt", expr=("sqrt",), ufunc="sqrt",
)

TANH = defrule(
    "tanh", "tanh x;  d/dx = 1 - tanh²(x)",
    forward=tanh,
    vjp=lambda g, ans, x: (g * (1.0 - ans * ans),),
    jvp=lambda t, ans, x: t[0] * (1.0 - ans * ans),
    method="tanh", expr=("tanh",), ufunc="tanh",
)

SIGMOID = defrule(
    "sigmoid", "σ(x) = 1/(1 + e^-x);  σ'(x) = σ(x)(1 - σ(x))",
    forward=sigmoid,
    vjp=lambda g, ans, x: (g * ans * (1.0 - ans),),
    jvp=lambda t, ans, x: t[0] * ans * (1.0 - ans),
    method="sigmoid", expr=("sigmoid",),
)

LOG_SIGMOID = defrule(
    "log_sigmoid", "ln σ(x) = -softplus(-x);  d/dx = σ(-x) = 1 - σ(x)",
    forward=lambda x: -softplus(-x),
    vjp=lambda g, ans, x: (g * sigmoid(-x),),
    jvp=lambda t, ans, x: t[0] * sigmoid(-x),
    method="log_sigmoid", expr=("log_sigmoid",),
)

SOFTPLUS = defrule(
    "softplus", "softplus(x) = ln(1 + e^x);  d/dx = σ(x)",
    forward=softplus,
    vjp=lambda g, ans, x: (g * sigmoid(x),),
    jvp=lambda t, ans, x: t[0] * sigmoid(x),
    method="softplus", expr=("softplus",),
)


def _relu(x: Any) -> Any:
    if type(x) is float:
        return x if x > 0 else 0.0
    if _foreign(x):
        return _np(x).maximum(x, 0.0)
    return np.maximum(x, 0)


RELU = defrule(
    "relu", "rect(x) = max(0, x);  rect'(x) = 1{x > 0} (0 at 0)",
    forward=_relu,
    vjp=lambda g, ans, x: (g * step(x),),
    jvp=lambda t, ans, x: t[0] * step(x),
    method="relu", kink="zero", expr=("relu",),
    symbol="ReLU",
)
_engine._register_inline(RELU)  # for a scalar: g * (1.0 if x > 0 else 0.0), the same numbers


def _leaky_relu(x: Any, *, alpha: float) -> Any:
    if type(x) is float:
        return x if x > 0 else alpha * x
    if type(x) is np.ndarray:
        if x.dtype.kind == "f" and 0 < alpha <= 1:
            return np.maximum(x, alpha * x)  # the same numbers as the select (±0, ±inf, nan too)
        return np.where(x > 0, x, alpha * x)
    return _np(x).where(x > 0, x, alpha * x)


def _leaky_relu_vjp(g: Any, ans: Any, x: Any, *, alpha: float) -> tuple[Any]:
    if type(x) is np.ndarray and type(g) is np.ndarray and g.dtype == x.dtype and g.shape == x.shape:
        return (np.where(x > 0, g, alpha * g),)  # g·1 and g·alpha, without the factor array
    return (g * select(raw(x) > 0, 1.0, alpha, raw(x)),)


LEAKY_RELU = defrule(
    "leaky_relu", "LeakyReLU(x) = x if x > 0 else αx;  d/dx = 1{x > 0} + α 1{x ≤ 0}",
    forward=_leaky_relu,
    vjp=_leaky_relu_vjp,
    jvp=lambda t, ans, x, *, alpha: t[0] * select(raw(x) > 0, 1.0, alpha, raw(x)),
    method="leaky_relu", kink="zero", expr=("leaky_relu",),
)


def _abs(x: Any) -> Any:
    return abs(x) if type(x) is float else _np(x).abs(x)


ABS = defrule(
    "abs", "|x|;  d/dx = sign(x) (0 at 0)",
    forward=_abs,
    vjp=lambda g, ans, x: (g * sign(x),),
    jvp=lambda t, ans, x: t[0] * sign(x),
    method="abs", kink="zero", expr=("abs",), ufunc="absolute",
)

SIGN = defrule(
    "sign", "sign(x) = 1{x > 0} - 1{x < 0};  d/dx = 0",
    forward=sign,
    vjp=lambda g, ans, x: (None,),
    jvp=lambda t, ans, x: 0.0 * t[0],
    method="sign", kink="zero", expr=("sign",), ufunc="sign",
)

SIN = defrule(
    "sin", "sin x;  d/dx = cos x",
    forward=sin,
    vjp=lambda g, ans, x: (g * cos(x),),
    jvp=lambda t, ans, x: t[0] * cos(x),
    method="sin", expr=("sin",), ufunc="sin",
)

COS = defrule(
    "cos", "cos x;  d/dx = -sin x",
    forward=cos,
    vjp=lambda g, ans, x: (-g * sin(x),),
    jvp=lambda t, ans, x: -t[0] * sin(x),
    method="cos", expr=("cos",), ufunc="cos",
)


# ---------------------------------------------------------------------------------------------
# Array rules (Tensor only): linear algebra, reductions, shape ops, the softmax family, indexing.
# ---------------------------------------------------------------------------------------------

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
        g = _reshape(g, tuple(kept))
    return broadcast_to(g, shape)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast an array (a writable copy) or a Tensor node to ``shape``."""
    if isinstance(x, np.ndarray | np.generic):
        out = np.empty(shape, dtype=x.dtype)
        out[...] = x
        return out
    if isinstance(x, float | int):
        return np.full(shape, x, dtype=np.float64)
    if _foreign(x):
        return _B.namespace(x).broadcast_to(x, tuple(shape))
    return x.broadcast_to(shape)


def swap_last(x: Any) -> Any:
    """Swap the last two axes (the matrix transpose of a batch of matrices)."""
    nd = x.ndim
    if nd == 2:
        return _mT(x)
    if nd < 2:
        return x
    axes = list(range(nd))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return _permute(x, tuple(axes))


# --------------------------------------------------------------------------------------------- matmul

def _column_major(target: Any) -> bool:
    """``target`` is a column-major (and not also row-major) ndarray: a transposed weight, ``W.T``."""
    if not isinstance(target, np.ndarray):
        return False
    flags = target.flags
    return flags.f_contiguous and not flags.c_contiguous


def _matmul_vjp(g: Any, ans: Any, x: Any, y: Any, *,
                need: tuple[bool, bool] = (True, True)) -> tuple[Any, Any]:
    xd, yd = x.ndim, y.ndim
    if xd == 2 and yd == 2:  # the common case first; skip a product nobody needs (a constant input)
        # g yᵀ and xᵀ g; for a column-major operand (W.T) computed as (y gᵀ)ᵀ and (gᵀ x)ᵀ, so its
        # gradient has its layout: the transpose VJP then hands the weight a row-major gradient
        # and the optimizer's update runs on contiguous memory. Same numbers.
        gx = gy = None
        if need[0]:
            gx = (y @ g.T).T if _column_major(x) else g @ y.T
        if need[1]:
            gy = (g.T @ x).T if _column_major(y) else x.T @ g
        return gx, gy
    if xd == 1 and yd == 1:  # inner product: g is a scalar
        return g * y, g * x
    if xd == 1:  # (n,) @ (..., n, m) -> (..., m)
        gs = tuple(g.shape)
        gx = _reshape(y @ _reshape(g, gs + (1,)), gs[:-1] + (y.shape[-2],))
        gy = _reshape(x, (x.shape[0], 1)) * _reshape(g, gs[:-1] + (1, gs[-1]))
        return gx, gy
    if yd == 1:  # (..., n, m) @ (m,) -> (..., n)
        gs = tuple(g.shape)
        gx = _reshape(g, gs + (1,)) * y
        gy = _reshape(swap_last(x) @ _reshape(g, gs + (1,)), gs[:-1] + (y.shape[0],))
        return gx, gy
    return g @ swap_last(y), swap_last(x) @ g


def _matmul_madds(x: Any, y: Any) -> int:
    """Multiply-adds of one x @ y (numpy semantics: 1-d operands, broadcast batches)."""
    xs, ys = tuple(raw(x).shape), tuple(raw(y).shape)
    x2 = (1, *xs) if len(xs) == 1 else xs
    y2 = (*ys, 1) if len(ys) == 1 else ys
    batch = np.broadcast_shapes(x2[:-2], y2[:-2])
    return int(np.prod(batch, dtype=np.int64)) * x2[-2] * x2[-1] * y2[-1]


MATMUL = defrule(
    "matmul", "x @ y;  ∂/∂x = g yᵀ, ∂/∂y = xᵀ g",
    forward=operator.matmul,  # np.matmul on ndarrays; every array library has @
    vjp=_matmul_vjp,
    jvp=lambda t, ans, x, y: _plus(None if t[0] is None else t[0] @ y, None if t[1] is None else x @ t[1]),
    nodes=_T, work=_matmul_madds, need=True,
    symbol="@",
)

# ------------------------------------------------------------------------------------------ reductions

SUM = defrule(
    "sum", "Σ x over axis;  ∂/∂x = 1 (broadcast back)",
    forward=lambda x, *, axis=None, keepdims=False: (
        np.add.reduce(x, axis=axis, keepdims=keepdims) if type(x) is np.ndarray else _sum(x, axis, keepdims)),
    vjp=lambda g, ans, x, *, axis=None, keepdims=False: (expand_to(g, x.shape, axis, keepdims),),
    jvp=lambda t, ans, x, *, axis=None, keepdims=False: _sum(t[0], axis, keepdims),
    nodes=_T,
    method="sum",
)


def _count(shape: tuple[int, ...], axis: Any) -> int:
    n = 1
    for a in _norm_axis(axis, len(shape)):
        n *= shape[a]
    return n


def _mean_forward(x: Any, *, axis: Any = None, keepdims: bool = False) -> Any:
    if type(x) is np.ndarray and x.dtype.kind == "f" and x.dtype.itemsize >= 4:
        # what np.mean does (a sum, then / n) without its Python-level wrapper
        reduce: Any = _add  # (numpy's overloads cannot type a keepdims known only at run time)
        # (the / operator: np.true_divide's call costs ~1 us more on the scalar a full mean gives)
        return reduce(x, axis=axis, keepdims=keepdims) / (x.size if axis is None else _count(x.shape, axis))
    return _mean(x, axis, keepdims)


def _mean_vjp(g: Any, ans: Any, x: Any, *, axis: Any = None, keepdims: bool = False) -> tuple[Any]:
    k = 1.0 / _count(x.shape, axis)
    if isinstance(g, np.ndarray):  # scale the small gradient, then broadcast: the same numbers
        return (expand_to(g * k, x.shape, axis, keepdims),)
    return (expand_to(g, x.shape, axis, keepdims) * k,)


MEAN = defrule(
    "mean", "(1/n) Σ x over axis;  ∂/∂x = 1/n",
    forward=_mean_forward,
    vjp=_mean_vjp,
    jvp=lambda t, ans, x, *, axis=None, keepdims=False: _mean(t[0], axis, keepdims),
    nodes=_T,
    method="mean",
)

# ---------------------------------------------------------------------------------------- shape ops

RESHAPE = defrule(
    "reshape", "reshape x;  the gradient is reshaped back",
    forward=lambda x, *, shape: _reshape(x, shape),
    vjp=lambda g, ans, x, *, shape: (_reshape(g, x.shape),),
    jvp=lambda t, ans, x, *, shape: _reshape(t[0], ans.shape),
    nodes=_T,
    method="reshape",
)


_INVERSE: dict[tuple[int, ...], tuple[int, ...]] = {}


def _inverse_perm(axes: tuple[int, ...]) -> tuple[int, ...]:
    inv = _INVERSE.get(axes)
    if inv is None:
        inv = _INVERSE[axes] = tuple(int(i) for i in np.argsort(axes))
    return inv


TRANSPOSE = defrule(
    "transpose", "permute the axes of x;  the gradient is permuted back",
    # (an ndarray first: `_permute`'s library test costs as much as the view)
    forward=lambda x, *, axes: x.transpose(axes) if type(x) is np.ndarray else _permute(x, axes),
    vjp=lambda g, ans, x, *, axes: (
        g.transpose(_inverse_perm(axes)) if type(g) is np.ndarray else _permute(g, _inverse_perm(axes)),),
    jvp=lambda t, ans, x, *, axes: _permute(t[0], axes),
    nodes=_T,
    method="transpose",
)

BROADCAST_TO = defrule(
    "broadcast_to", "broadcast x to a shape;  ∂/∂x sums the broadcast axes (done by the engine)",
    forward=lambda x, *, shape: broadcast_to(x, shape),
    vjp=lambda g, ans, x, *, shape: (g,),
    jvp=lambda t, ans, x, *, shape: broadcast_to(t[0], shape),
    nodes=_T,
    method="broadcast_to",
)

# ---------------------------------------------------------------------------------- softmax family


def _shift(x: np.ndarray, axis: Any) -> np.ndarray:
    """The max along ``axis`` (kept), replaced by 0 where it is ±inf or nan (so x - m stays exact)."""
    if type(x) is not np.ndarray and _foreign(x):  # (no cheap test that would not force a lazy array)
        xp = _B.namespace(x)
        m = xp.max(x, axis=axis, keepdims=True)
        return xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    m = x.max(axis=axis, keepdims=True)
    if not math.isfinite(m.sum()):  # one cheap test; a false alarm (overflowing sum) is harmless
        m = np.where(np.isfinite(m), m, 0.0)
    return m


def _logsumexp(x: np.ndarray, axis: Any = -1, keepdims: bool = False) -> np.ndarray:
    m = _shift(x, axis)
    if type(x) is not np.ndarray and _foreign(x):
        xp = _B.namespace(x)
        out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
        return out if keepdims else _reshape(out, _reduced(x.shape, axis))
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    out += m
    return out if keepdims else np.squeeze(out, axis=axis)


_max = np.maximum.reduce
_add = np.add.reduce


def _reduced(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    gone = _norm_axis(axis, len(shape))
    return tuple(n for i, n in enumerate(shape) if i not in gone)


def _log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    # shifted by the row max (a row that is all -inf or holds +inf has no log-softmax: nan, as torch)
    if type(x) is not np.ndarray and _foreign(x):
        xp = _B.namespace(x)
        z = x - xp.max(x, axis=axis, keepdims=True)
        return z - xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=True))
    z = x - _max(x, axis=axis, keepdims=True)
    z -= np.log(_add(np.exp(z), axis=axis, keepdims=True))
    return z


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    if type(x) is not np.ndarray and _foreign(x):
        xp = _B.namespace(x)
        e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        return e / xp.sum(e, axis=axis, keepdims=True)
    e = np.exp(x - _max(x, axis=axis, keepdims=True))
    e /= _add(e, axis=axis, keepdims=True)
    return e


def _sum_keep(g: Any, axis: Any) -> Any:
    """Σ g over ``axis`` with the axis kept, on an array (no Python wrapper) or a node."""
    if isinstance(g, np.ndarray):
        return _add(g, axis=axis, keepdims=True)
    return _sum(g, axis, True)


def _exp_of_log(x: Any) -> Any:
    """e^x for x ≤ 0 (a log-probability): no overflow check needed on arrays."""
    return np.exp(x) if isinstance(x, np.ndarray) else exp(x)


def softmax(x: Any, axis: int = -1) -> Any:
    """softmax on an array or a node."""
    return x.softmax(axis=axis) if isinstance(x, Node) else _softmax(x, axis)  # type: ignore[attr-defined]


SOFTMAX = defrule(
    "softmax", "S(x)ᵢ = e^xᵢ / Σⱼ e^xⱼ;  VJP: S ⊙ (g - Σ g S), O(n), no n×n Jacobian",
    forward=lambda x, *, axis=-1: _softmax(x, axis),
    vjp=lambda g, ans, x, *, axis=-1: (ans * (g - _sum_keep(g * ans, axis)),),
    jvp=lambda t, ans, x, *, axis=-1: ans * (t[0] - _sum(t[0] * ans, axis, True)),
    nodes=_T,
    method="softmax",
)

LOG_SOFTMAX = defrule(
    "log_softmax", "log S(x) = x - logsumexp(x);  VJP: g - S Σ g",
    forward=_log_softmax,
    vjp=lambda g, ans, x, *, axis=-1: (g - _exp_of_log(ans) * _sum_keep(g, axis),),
    jvp=lambda t, ans, x, *, axis=-1: t[0] - _sum(_exp_of_log(ans) * t[0], axis, True),
    nodes=_T,
    method="log_softmax",
)


def _lse_vjp(g: Any, ans: Any, x: Any, *, axis: Any = -1, keepdims: bool = False) -> tuple[Any]:
    # softmax(x) is recomputed, max-shifted: taking it from the result, e^(x - ans), would carry
    # the rounding of ans (ulp(|x|)) into every entry: 1e-12 relative at |x| = 1e4
    s = softmax(x, axis) if axis is not None else exp(x - ans)
    if axis is None:
        return (g * s,)
    return (expand_to(g, x.shape, axis, keepdims) * s,)


LOGSUMEXP = defrule(
    "logsumexp", "log Σ e^x over axis (max-shifted);  ∂/∂x = softmax(x)",
    forward=lambda x, *, axis=-1, keepdims=False: _logsumexp(x, axis, keepdims),
    vjp=_lse_vjp,
    jvp=lambda t, ans, x, *, axis=-1, keepdims=False: _sum(t[0] * softmax(x, axis), axis, keepdims),
    nodes=_T,
    method="logsumexp",
)


def _label_index(labels: Any, ndim: int) -> Any:
    """The index picking o_y in each row: (rows, labels) for a batch, the label for one example."""
    return (np.arange(len(labels)), labels) if ndim == 2 else int(labels)


def _picked(z: Any, labels: Any) -> Any:
    """z[rows, labels] (o_y in each row); on another library as a one-hot sum (the array API has
    no integer-array indexing across two axes)."""
    if type(z) is not np.ndarray and _foreign(raw(z)):
        return _sum(z * _onehot(labels, raw(z)), -1)
    return z[_label_index(labels, z.ndim)]


def _onehot(labels: Any, like: Any) -> Any:
    """onehot(labels) of like's shape, library, dtype and device (a constant)."""
    onehot = np.zeros(tuple(like.shape), dtype=np.float64)
    onehot[_label_index(labels, onehot.ndim)] = 1.0
    return _B.like(onehot, like) if _foreign(like) else onehot.astype(_dtype_of(like), copy=False)


# softmax(z) of a small batch's forward, handed to its VJP instead of being recomputed there:
# {id(z): (z, softmax, o_y's flat positions)}, one entry, popped (atomically) by the first VJP
# that reads this very z; any other VJP (a retained second pass, another z, nodes) recomputes.
# Same numbers either way.
_SCE_MEMO: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_SCE_MEMO_MAX = 1 << 16  # elements: bounds what the memo keeps alive


_ROW_STARTS: dict[tuple[int, int], np.ndarray] = {}


def _row_starts(n: int, k: int) -> np.ndarray:
    """0, k, 2k, ... (n of them), read-only: the same constant for every batch of one shape."""
    starts = _ROW_STARTS.get((n, k))
    if starts is None:
        if len(_ROW_STARTS) > 64:  # a few batch shapes in practice: bound it anyway
            _ROW_STARTS.clear()
        starts = np.arange(0, n * k, k)
        starts.flags.writeable = False
        _ROW_STARTS[(n, k)] = starts
    return starts


def _sce_forward(z: np.ndarray, *, labels: Any, mean: bool = False) -> Any:
    out = _sce_rows(z, labels)
    return _mean_forward(out) if mean else out  # mean: the batch's mean folded in (one node, not two)


def _sce_rows(z: np.ndarray, labels: Any) -> Any:
    if type(z) is np.ndarray and z.ndim == 2 and z.size <= _SCE_MEMO_MAX:
        # With few classes, numpy's row max and row sum run ~3x faster on a column-major copy.
        # The max is exact either way; below 8 terms numpy adds a float32/64 row in order in
        # either layout, so the sum is the same too (not float16: row-major it accumulates in
        # float32). The softmax itself stays row-major: a column-major gradient would change the
        # rounding of the matrix products it meets next.
        k = z.shape[1]
        few = k < 8 and z.dtype.itemsize >= 4
        m = _max(np.asfortranarray(z) if k <= 16 else z, axis=-1, keepdims=True)
        if math.isfinite(_add(m, axis=None)):  # (else _logsumexp's shift, and no memo)
            e = np.subtract(z, m, order="C")  # C order: the VJP writes through its flat view
            np.exp(e, out=e)
            se = _add(np.asfortranarray(e) if few else e, axis=-1, keepdims=True)
            lse = np.log(se)
            lse += m
            flat = _row_starts(z.shape[0], k) + labels  # o_y's positions in the flattened rows
            out = lse.reshape(-1) - z.reshape(-1)[flat]  # (flat indexing: ~3x cheaper than pairs)
            e /= se  # bit for bit _softmax(z): its max is m
            _SCE_MEMO.clear()
            _SCE_MEMO[id(z)] = (z, e, flat)
            return out
    return _logsumexp(z, -1) - _picked(z, labels)


def _sce_vjp(g: Any, ans: Any, z: Any, *, labels: Any, mean: bool = False) -> tuple[Any]:
    """(softmax(z) - onehot(y)) g in one pass (g / n for each row with ``mean``). softmax is the
    forward's (from the memo) or recomputed max-shifted, never taken from L: e^(z - (L + z_y))
    would carry L's rounding (1e-12 relative at |z| = 1e4)."""
    memo = _SCE_MEMO.pop(id(z), None) if type(z) is np.ndarray else None
    if memo is not None and memo[0] is z:  # the forward's own contiguous softmax, and o_y's places
        s = memo[1]
        s.reshape(-1)[memo[2]] -= 1.0
    else:
        s = softmax(z, -1)
        if isinstance(s, np.ndarray):
            s[_label_index(labels, z.ndim)] -= 1.0  # s is a fresh array: the one-hot off in place
        else:  # nodes (create_graph) or another library: a constant one-hot
            s = s - _onehot(labels, raw(z))
    # the mean's VJP hands each row g·(1/n): the same numbers as the separate mean node
    g = g * (1.0 / z.shape[0]) if mean else _reshape(g, tuple(g.shape) + (1,))
    if isinstance(s, np.ndarray) and isinstance(g, np.ndarray | np.generic) and g.dtype == s.dtype:
        s *= g  # still our fresh array: scale it in place
        return (s,)
    return (s * g,)


def _sce_jvp(t: Any, ans: Any, z: Any, *, labels: Any, mean: bool = False) -> Any:
    rows = _sum(t[0] * softmax(z, -1), -1) - _picked(t[0], labels)
    return _mean(rows) if mean else rows


SOFTMAX_CROSS_ENTROPY = defrule(
    "softmax_cross_entropy",
    "L = logsumexp(o) - o_y per row (labels y constant);  ∂L/∂o = softmax(o) - onehot(y)",
    forward=_sce_forward,
    vjp=_sce_vjp,
    jvp=_sce_jvp,
    nodes=_T,
)

# ------------------------------------------------------------------------------ elementwise, Tensor-only


def _dtype_of(x: Any) -> Any:
    """The float dtype to build raw masks in (so float32 graphs stay float32)."""
    d = raw(x)
    if _foreign(d):
        return d.dtype if _B.is_float(d) else _B.namespace(d).float64
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
    return _astype(m, _dtype_of(d))


CLIP = defrule(
    "clip", "clip(x, low, high);  d/dx = 1{low ≤ x ≤ high} (1 at the bounds, as PyTorch)",
    forward=lambda x, *, low=None, high=None: _np(x).clip(x, low, high),
    vjp=lambda g, ans, x, *, low=None, high=None: (g * _inside(x, low, high),),
    jvp=lambda t, ans, x, *, low=None, high=None: t[0] * _inside(x, low, high),
    nodes=_T,
    method="clip",
)


def _share(x: Any, y: Any, larger: bool) -> Any:
    """The part of the gradient of max(x, y) (or min) that goes to x: 1, 0, or ½ at ties."""
    xd, yd = raw(x), raw(y)
    win = (xd > yd) if larger else (xd < yd)
    w = _astype(win, _dtype_of(win if isinstance(xd, float | int) else xd))
    tie = xd == yd
    if _foreign(tie):  # (no test that would force a lazy array)
        return w + 0.5 * _astype(tie, w.dtype)
    if np.any(tie):
        w = w + 0.5 * tie.astype(w.dtype)  # not 0.5 * tie: that is float64 for float32 inputs
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


def _minmax_rule(name: str, fn: Any, larger: bool) -> Rule:
    x_wins, y_wins = ("x > y", "y > x") if larger else ("x < y", "y < x")
    return defrule(
        name, f"{name[:3]}(x, y) elementwise;  ∂/∂x = 1{{{x_wins}}}, ∂/∂y = 1{{{y_wins}}}, ½ each at ties",
        forward=fn, vjp=_minmax_vjp(larger), jvp=_minmax_jvp(larger), nodes=_T, kink="tie")


MAXIMUM = _minmax_rule("maximum", lambda x, y: _np(y if _foreign(y) else x).maximum(x, y), True)
MINIMUM = _minmax_rule("minimum", lambda x, y: _np(y if _foreign(y) else x).minimum(x, y), False)


def _mask(cond: Any, like: Any) -> Any:
    like = raw(like)
    if _foreign(cond):  # a condition of another library (a Dask or GPU mask): used where it lives
        return _astype(cond, _dtype_of(like))
    if _foreign(like):
        return _B.like(np.asarray(cond, dtype=np.float64), like)
    return np.asarray(cond).astype(_dtype_of(like))


def _where(cond: Any, x: Any, y: Any) -> Any:
    ref = x if _foreign(x) else y
    if _foreign(cond):
        return _np(cond).where(cond, x, y)
    if not _foreign(ref):
        return np.where(cond, x, y)
    xp = _B.namespace(ref)
    c = xp.asarray(np.asarray(cond, dtype=bool)) if _B.is_lazy(ref) else \
        xp.asarray(np.asarray(cond, dtype=bool), device=_B.device(ref))
    return _np(ref).where(c, x, y)


def _where_vjp(g: Any, ans: Any, x: Any, y: Any, *, cond: Any) -> tuple[Any, Any]:
    m = _mask(cond, ans)
    return g * m, g * (1.0 - m)


WHERE = defrule(
    "where", "where(c, x, y) = x if c else y (c constant);  ∂/∂x = 1{c}, ∂/∂y = 1{not c}",
    forward=lambda x, y, *, cond: _where(cond, x, y),
    vjp=_where_vjp,
    jvp=lambda t, ans, x, y, *, cond: _plus(_times(t[0], _mask(cond, ans)),
                                            _times(t[1], 1.0 - _mask(cond, ans))),
    nodes=_T,
)

ASTYPE = defrule(
    "astype", "cast x to another float dtype;  the gradient is cast back to x's dtype",
    forward=lambda x, *, dtype: _astype(x, dtype),
    vjp=lambda g, ans, x, *, dtype: (_astype(g, x.dtype),),
    jvp=lambda t, ans, x, *, dtype: _astype(t[0], dtype),
    nodes=_T,
    method="astype",
)



def _to_vjp(g: Any, ans: Any, x: Any, **static: Any) -> tuple[Any]:
    home = raw(x)
    back = _B.library(home)
    if isinstance(g, Node):  # create_graph: the move back is itself a graph op
        return (g.to(back, device=None if back == "dask" else _B.device(home)),)  # type: ignore[attr-defined]
    return (_B.to(g, back, device=None if back in ("numpy", "dask") else _B.device(home)),)


TO = defrule(
    "to", "x moved to another array library or device;  the gradient moves back",
    forward=lambda x, *, backend, device=None, chunks="auto": _B.to(x, backend, device, chunks),
    vjp=_to_vjp,
    jvp=lambda t, ans, x, *, backend, device=None, chunks="auto": (
        t[0].to(backend, device=device, chunks=chunks) if isinstance(t[0], Node)  # type: ignore[attr-defined]
        else _B.to(t[0], backend, device, chunks)),
    nodes=_T,
)

# ------------------------------------------------------------------------- max, min, var reductions


def _argmax_share(x: Any, ans: Any, axis: Any, keepdims: bool) -> Any:
    """Where x attains its reduced max/min, as weights summing to 1 per reduced slice (ties split)."""
    xd = raw(x)
    m = raw(ans)
    if not keepdims and axis is not None:
        m = _np(m).expand_dims(m, _norm_axis(axis, xd.ndim))
    hit = _astype(xd == m, _dtype_of(xd))
    return hit / _sum(hit, axis, True)


def _extreme_rule(name: str, word: str) -> Any:
    return defrule(
        name, f"{word} of x over axis;  ∂/∂x = 1 at the {word}imum (split evenly between ties)",
        forward=lambda x, *, axis=None, keepdims=False: getattr(_np(x), name)(
            x, axis=axis, keepdims=keepdims),
        vjp=lambda g, ans, x, *, axis=None, keepdims=False: (
            expand_to(g, x.shape, axis, keepdims) * _argmax_share(x, ans, axis, keepdims),),
        jvp=lambda t, ans, x, *, axis=None, keepdims=False: _sum(
            t[0] * _argmax_share(x, ans, axis, keepdims), axis, keepdims),
        nodes=_T,
        method=name,
    )


MAX = _extreme_rule("max", "max")
MIN = _extreme_rule("min", "min")


def _centred(x: Any, axis: Any, ddof: int) -> Any:
    """2 (x - mean(x)) / (n - ddof): the derivative of var(x) with respect to x."""
    n = _count(x.shape, axis) - ddof
    return (x - _mean(x, axis, True)) * (2.0 / n)


VAR = defrule(
    "var", "(1/(n - ddof)) Σ (x - x̄)² over axis;  ∂/∂x = 2 (x - x̄)/(n - ddof)",
    forward=lambda x, *, axis=None, keepdims=False, ddof=0: _np(x).var(x, axis=axis, keepdims=keepdims,
                                                                        ddof=ddof),
    vjp=lambda g, ans, x, *, axis=None, keepdims=False, ddof=0: (
        expand_to(g, x.shape, axis, keepdims) * _centred(x, axis, ddof),),
    jvp=lambda t, ans, x, *, axis=None, keepdims=False, ddof=0: _sum(
        t[0] * _centred(x, axis, ddof), axis, keepdims),
    nodes=_T,
    method="var",
)

# ---------------------------------------------------------------------------------------- indexing


def _basic(index: tuple[Any, ...]) -> bool:
    """True when ``index`` picks every element at most once, so a plain assignment scatters it
    exactly: no arrays, a boolean mask, or an integer array that is strictly increasing and
    non-negative (``arange``: the rows of a picked label) among same-length 1-d arrays."""
    arrays = [i for i in index if isinstance(i, np.ndarray)]
    if not arrays:
        return True
    if len(arrays) == 1 and arrays[0].dtype == bool:
        return True
    if any(a.ndim != 1 or a.dtype.kind not in "iu" or len(a) != len(arrays[0]) for a in arrays):
        return False
    return any(len(a) < 2 or (a[0] >= 0 and bool(np.all(a[1:] > a[:-1]))) for a in arrays)


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
    if _foreign(g):
        return _B.scatter_add(g, index, tuple(shape), _basic(index))
    return type(g)._apply(SCATTER_ADD, (g,), {"index": index, "shape": tuple(shape)})


def _pick(x: Any, index: Any) -> Any:
    """x[index] on an array of any library or a node."""
    return _B.getitem(x, index) if _foreign(x) else x[index]


GETITEM = defrule(
    "getitem", "x[index] (basic or integer-array index);  VJP scatter-adds g into zeros at index",
    forward=lambda x, *, index: _pick(x, index),
    vjp=lambda g, ans, x, *, index: (scatter_add(g, index, x.shape),),
    jvp=lambda t, ans, x, *, index: _pick(t[0], index),
    nodes=_T,
)

SCATTER_ADD = defrule(
    "scatter_add", "zeros(shape) with x added at index (repeats add);  VJP: g[index]",
    forward=lambda x, *, index, shape: scatter_add(x, index, shape),
    vjp=lambda g, ans, x, *, index, shape: (_pick(g, index),),
    jvp=lambda t, ans, x, *, index, shape: scatter_add(t[0], index, shape),
    nodes=_T,
)

# --------------------------------------------------------------------------------- concatenate, stack


def _join(items: list[Any], axis: int, how: str) -> Any:
    """np.concatenate / np.stack on arrays; the same rule on nodes when any item is a node."""
    nodes = [x for x in items if isinstance(x, Node)]
    if not nodes:
        xn = _np(next((x for x in items if _foreign(x)), items[0]))
        return xn.concatenate(items, axis) if how == "concatenate" else xn.stack(items, axis)
    cls = type(nodes[0])
    lifted = tuple(x if isinstance(x, Node) else cls._constant(x) for x in items)
    return cls._apply(RULES[how], lifted, {"axis": axis})


def _fill(ts: tuple[Any, ...], xs: tuple[Any, ...]) -> list[Any]:
    """Tangents with None (zero) replaced by zeros of the matching input's shape."""
    return [_np(raw(x)).zeros_like(raw(x)) if t is None else t for t, x in zip(ts, xs)]


def _concat_vjp(g: Any, ans: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    lead = (slice(None),) * (axis % ans.ndim)
    out = []
    start = 0
    for x in xs:
        stop = start + x.shape[axis]
        out.append(g[(*lead, slice(start, stop), Ellipsis)])
        start = stop
    return tuple(out)


def _join_rule(name: str, doc: str, fn: Callable[..., Any], vjp: Callable[..., Any]) -> Rule:
    return defrule(name, doc, forward=lambda *xs, axis: fn(xs, axis), vjp=vjp,
                   jvp=lambda t, ans, *xs, axis: _join(_fill(t, xs), axis, name), nodes=_T)


CONCATENATE = _join_rule("concatenate", "join x₁, …, x_k along an axis;  VJP: the matching slices of g",
                         lambda xs, axis: _join(list(xs), axis, "concatenate"), _concat_vjp)


def _stack_vjp(g: Any, ans: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    lead = (slice(None),) * (axis % ans.ndim)
    return tuple(g[(*lead, i, Ellipsis)] for i in range(len(xs)))


STACK = _join_rule("stack", "stack x₁, …, x_k along a new axis;  VJP: g taken at each position of that axis",
                   lambda xs, axis: _join(list(xs), axis, "stack"), _stack_vjp)
