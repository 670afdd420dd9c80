"""The rule table: every op's forward, VJP (reverse mode) and JVP (forward mode), side by side.

One entry per op in `RULES`. Each entry has a one-line maths docstring (``doc``) that the graph
renderer can show. Conventions (see ARCHITECTURE.md):

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

import math
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["RULES", "Rule", "defrule"]


class Rule:
    """One row of the rule table."""

    __slots__ = ("doc", "forward", "jvp", "name", "nodes", "vjp")

    def __init__(self, name: str, doc: str, forward: Callable[..., Any], vjp: Callable[..., Any],
                 jvp: Callable[..., Any], nodes: tuple[str, ...]) -> None:
        self.name = name
        self.doc = doc
        self.forward = forward
        self.vjp = vjp
        self.jvp = jvp
        self.nodes = nodes

    def __repr__(self) -> str:
        return f"Rule({self.name!r}: {self.doc})"


RULES: dict[str, Rule] = {}


def defrule(name: str, doc: str, *, forward: Callable[..., Any], vjp: Callable[..., Any],
            jvp: Callable[..., Any], nodes: tuple[str, ...] = ("Value", "Tensor")) -> Rule:
    """Add one op to the rule table and return its entry.

    ``nodes`` says which node types use the rule (for the table-driven tests).

    Example:
        >>> from autograd_lite.core.rules import RULES
        >>> print(RULES["sigmoid"].doc)
        σ(x) = 1/(1 + e^-x);  σ'(x) = σ(x)(1 - σ(x))
    """
    if name in RULES:
        raise ValueError(f"rule {name!r} is already defined")
    r = Rule(name, doc, forward, vjp, jvp, nodes)
    RULES[name] = r
    return r


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
    if bad.any():
        _warn(op, f"{int(np.sum(bad))} input(s) {what}", fix)


def exp(x: Any) -> Any:
    """e^x on a float, an array or a node; overflow gives inf with a RuntimeWarning."""
    if type(x) is float:
        try:
            return math.exp(x)
        except OverflowError:
            _warn("exp", f"exp({x!r}) overflows to inf", "use softplus/logsumexp/log_sigmoid "
                  "for stable forms, or scale the input")
            return math.inf
    if _is_array(x):
        with np.errstate(over="ignore"):
            out = np.exp(x)
        _array_warn("exp", np.isinf(out) & ~np.isinf(x), "overflow to inf",
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
    if _is_array(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(x)
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
    if _is_array(x):
        with np.errstate(invalid="ignore"):
            out = np.sqrt(x)
        _array_warn("sqrt", x < 0, "are negative (sqrt = nan)", "sqrt is defined for x >= 0")
        return out
    return x.sqrt()


def tanh(x: Any) -> Any:
    """tanh x (stable at any |x|)."""
    if type(x) is float:
        return math.tanh(x)
    if _is_array(x):
        return np.tanh(x)
    return x.tanh()


def sigmoid(x: Any) -> Any:
    """σ(x), two-branch: exp is only taken of -|x|, so nothing overflows at |x| = 1000."""
    if type(x) is float:
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    if _is_array(x):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0, e) / (1.0 + e)
    return x.sigmoid()


def softplus(x: Any) -> Any:
    """ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), finite at any |x|."""
    if type(x) is float:
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    if _is_array(x):
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return x.softplus()


def sin(x: Any) -> Any:
    """sin x."""
    if type(x) is float:
        return math.sin(x)
    if _is_array(x):
        return np.sin(x)
    return x.sin()


def cos(x: Any) -> Any:
    """cos x."""
    if type(x) is float:
        return math.cos(x)
    if _is_array(x):
        return np.cos(x)
    return x.cos()


def raw(x: Any) -> Any:
    """The data under a node (or the value itself)."""
    return x if type(x) is float or _is_array(x) else getattr(x, "data", x)


def sign(x: Any) -> Any:
    """sign as raw data (+1, -1, 0): a constant, so its own derivative is zero."""
    x = raw(x)
    if type(x) is float:
        return (x > 0) - (x < 0) + 0.0
    return np.sign(x)


def step(x: Any, at_zero: float = 0.0) -> Any:
    """1{x > 0} as raw data (``at_zero`` at exactly 0): the derivative of relu."""
    x = raw(x)
    if type(x) is float:
        return 1.0 if x > 0 else (at_zero if x == 0 else 0.0)
    out = (x > 0).astype(x.dtype if x.dtype.kind == "f" else np.float64)
    if at_zero:
        out[x == 0] = at_zero
    return out


def select(cond: Any, a: float, b: float, like: Any = None) -> Any:
    """a where cond else b, as raw data (cond a bool or bool array), in the float dtype of
    ``like`` when that is a float array (so float32 stays float32)."""
    if isinstance(cond, bool | np.bool_):
        return a if cond else b
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
                return np.true_divide(a, b)
        return a / b
    if _is_array(b) or _is_array(a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return a / b
    return a / b


def _finite(x: Any) -> bool:
    """True for finite raw data (and for nodes: their own ops report on create_graph paths)."""
    if type(x) is float:
        return x - x == 0  # False for inf and nan
    if _is_array(x):
        return bool(np.isfinite(x).all())
    return True


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
    kind = "nan" if any(np.isnan(raw(o)).any() for o in outs) else "infinite"
    where = ", ".join(repr(x) if type(x) is float else f"an array of shape {np.shape(x)}"
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
    forward=lambda x, y: x + y,
    vjp=lambda g, ans, x, y: (g, g),
    jvp=lambda t, ans, x, y: _plus(t[0], t[1]),
)

SUB = defrule(
    "sub", "x - y;  ∂/∂x = 1, ∂/∂y = -1",
    forward=lambda x, y: x - y,
    vjp=lambda g, ans, x, y: (g, -g),
    jvp=lambda t, ans, x, y: _plus(t[0], None if t[1] is None else -t[1]),
)

MUL = defrule(
    "mul", "x · y;  ∂/∂x = y, ∂/∂y = x",
    forward=lambda x, y: x * y,
    vjp=lambda g, ans, x, y: (g * y, g * x),
    jvp=lambda t, ans, x, y: _plus(_times(t[0], y), _times(t[1], x)),
)


def _div(x: Any, y: Any) -> Any:
    if type(y) is float:
        if y == 0.0:
            _warn("div", f"{x!r} / 0", "division by zero gives inf or nan; check the divisor")
            if x == 0 or x != x:
                return math.nan
            return math.copysign(math.inf, x) * math.copysign(1.0, y)
        return x / y
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.true_divide(x, y)
    _array_warn("div", np.asarray(y) == 0, "are zero divisors (result inf or nan)",
                "check the divisor")
    return out


_DIV_FIX = "the divisor is 0 or so small that 1/y² overflows; keep it away from 0 (add an epsilon)"

DIV = defrule(
    "div", "x / y;  ∂/∂x = 1/y, ∂/∂y = -x/y²",
    forward=_div,
    vjp=_guarded("div", _DIV_FIX, lambda g, ans, x, y: (quot(g, y), quot(-g * ans, y))),
    jvp=_guarded("div", _DIV_FIX, lambda t, ans, x, y: _plus(
        None if t[0] is None else quot(t[0], y), None if t[1] is None else quot(-t[1] * ans, y)),
        tangent=True),
)

NEG = defrule(
    "neg", "-x;  d/dx = -1",
    forward=lambda x: -x,
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
        _array_warn(op, np.isinf(out) & np.isfinite(inputs[0]) & np.isfinite(inputs[1]),
                    "overflow to inf", "scale the base down, or work with logarithms (y·log x)")
    return out


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
    return _overflow_check("pow", fpow(x, exponent), np.where(x == 0, 1.0, x), exponent)


def _pow_const_grad(x: Any, exponent: float) -> Any:
    """n x^(n-1), with the n = 0 case exactly 0 (so 0 ** 0 has derivative 0)."""
    if exponent == 0:
        return 0.0 * x
    if exponent == 1:
        return 1.0 + 0.0 * x
    return exponent * fpow(x, exponent - 1)


_POW_FIX = ("x ** p with p < 1 has an infinite slope at x = 0 (and 1/x^k overflows near 0); keep the "
            "base away from 0, e.g. (x + eps) ** p")

POW = defrule(
    "pow", "x^n (constant n);  d/dx = n x^(n-1)",
    forward=_pow_const,
    vjp=_guarded("pow", _POW_FIX, lambda g, ans, x, *, exponent: (g * _pow_const_grad(x, exponent),)),
    jvp=_guarded("pow", _POW_FIX, lambda t, ans, x, *, exponent: t[0] * _pow_const_grad(x, exponent),
                 tangent=True),
)


def _log_base(x: Any) -> Any:
    """ln x where x > 0; 0 where x == 0 (the limit of x^y ln x for y > 0); nan for x < 0."""
    d = raw(x)
    if type(d) is float:
        if d > 0:
            return log(x)
        return 0.0 if d == 0 else math.nan
    if _is_array(x):  # raw data; a Tensor node goes on to the node path (create_graph)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, np.log(np.where(d > 0, d, 1.0)), np.where(d == 0, 0.0, np.nan))
    safe = x.data > 0
    if bool(np.all(safe)):
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
    _array_warn("power", (np.asarray(x) < 0) & (np.asarray(y) != np.round(y)),
                "are negative bases with non-integer exponents (nan)", "use abs(x) ** y")
    _array_warn("power", (np.asarray(x) == 0) & (np.asarray(y) < 0),
                "are 0 with a negative exponent (inf)", "keep the base away from 0")
    return _overflow_check("power", fpow(x, y), np.where(np.asarray(x) == 0, 1.0, x), y)


def _power_dx(x: Any, y: Any) -> Any:
    """y x^(y-1), exactly 0 where y = 0 (x^0 = 1 is constant, also at x = 0)."""
    if type(y) is float:
        return 0.0 if y == 0 else y * fpow(x, y - 1.0)
    if _is_array(y) and _is_array(x):
        return np.where(y == 0, 0.0, y * fpow(x, y - 1.0))
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
)

EXP = defrule(
    "exp", "e^x;  d/dx = e^x",
    forward=exp,
    vjp=lambda g, ans, x: (g * ans,),
    jvp=lambda t, ans, x: t[0] * ans,
)

LOG = defrule(
    "log", "ln x;  d/dx = 1/x",
    forward=log,
    vjp=_guarded("log", "1/x is infinite at 0 and overflows near 0; add a small epsilon",
                 lambda g, ans, x: (quot(g, x),)),
    jvp=_guarded("log", "1/x is infinite at 0 and overflows near 0; add a small epsilon",
                 lambda t, ans, x: quot(t[0], x), tangent=True),
)

_SQRT_FIX = ("√x has an infinite slope at x = 0; keep the argument positive, e.g. sqrt(x + eps) "
             "for a norm")

SQRT = defrule(
    "sqrt", "√x;  d/dx = 1/(2√x)",
    forward=sqrt,
    vjp=_guarded("sqrt", _SQRT_FIX, lambda g, ans, x: (quot(g, 2.0 * ans),)),
    jvp=_guarded("sqrt", _SQRT_FIX, lambda t, ans, x: quot(t[0], 2.0 * ans), tangent=True),
)

TANH = defrule(
    "tanh", "tanh x;  d/dx = 1 - tanh²(x)",
    forward=tanh,
    vjp=lambda g, ans, x: (g * (1.0 - ans * ans),),
    jvp=lambda t, ans, x: t[0] * (1.0 - ans * ans),
)

SIGMOID = defrule(
    "sigmoid", "σ(x) = 1/(1 + e^-x);  σ'(x) = σ(x)(1 - σ(x))",
    forward=sigmoid,
    vjp=lambda g, ans, x: (g * ans * (1.0 - ans),),
    jvp=lambda t, ans, x: t[0] * ans * (1.0 - ans),
)

LOG_SIGMOID = defrule(
    "log_sigmoid", "ln σ(x) = -softplus(-x);  d/dx = σ(-x) = 1 - σ(x)",
    forward=lambda x: -softplus(-x),
    vjp=lambda g, ans, x: (g * sigmoid(-x),),
    jvp=lambda t, ans, x: t[0] * sigmoid(-x),
)

SOFTPLUS = defrule(
    "softplus", "softplus(x) = ln(1 + e^x);  d/dx = σ(x)",
    forward=softplus,
    vjp=lambda g, ans, x: (g * sigmoid(x),),
    jvp=lambda t, ans, x: t[0] * sigmoid(x),
)


def _relu(x: Any) -> Any:
    if type(x) is float:
        return x if x > 0 else 0.0
    return np.maximum(x, 0)


RELU = defrule(
    "relu", "rect(x) = max(0, x);  rect'(x) = 1{x > 0} (0 at 0)",
    forward=_relu,
    vjp=lambda g, ans, x: (g * step(x),),
    jvp=lambda t, ans, x: t[0] * step(x),
)


def _leaky_relu(x: Any, *, alpha: float) -> Any:
    if type(x) is float:
        return x if x > 0 else alpha * x
    return np.where(x > 0, x, alpha * x)


LEAKY_RELU = defrule(
    "leaky_relu", "LeakyReLU(x) = x if x > 0 else αx;  d/dx = 1{x > 0} + α 1{x ≤ 0}",
    forward=_leaky_relu,
    vjp=lambda g, ans, x, *, alpha: (g * select(raw(x) > 0, 1.0, alpha, raw(x)),),
    jvp=lambda t, ans, x, *, alpha: t[0] * select(raw(x) > 0, 1.0, alpha, raw(x)),
)


def _abs(x: Any) -> Any:
    return abs(x) if type(x) is float else np.abs(x)


ABS = defrule(
    "abs", "|x|;  d/dx = sign(x) (0 at 0)",
    forward=_abs,
    vjp=lambda g, ans, x: (g * sign(x),),
    jvp=lambda t, ans, x: t[0] * sign(x),
)

SIGN = defrule(
    "sign", "sign(x) = 1{x > 0} - 1{x < 0};  d/dx = 0",
    forward=sign,
    vjp=lambda g, ans, x: (None,),
    jvp=lambda t, ans, x: 0.0 * t[0],
)

SIN = defrule(
    "sin", "sin x;  d/dx = cos x",
    forward=sin,
    vjp=lambda g, ans, x: (g * cos(x),),
    jvp=lambda t, ans, x: t[0] * cos(x),
)

COS = defrule(
    "cos", "cos x;  d/dx = -sin x",
    forward=cos,
    vjp=lambda g, ans, x: (-g * sin(x),),
    jvp=lambda t, ans, x: -t[0] * sin(x),
)
