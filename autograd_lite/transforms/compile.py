"""`compile(fn)`: record the graph ``fn(*args)`` builds once, then replay it without building nodes.

The first call runs ``fn`` eagerly (so it gives the eager answer), backpropagates from its output
like ``output.backward()``, and records the graph: every op node in creation order, the leaves it
read, and each comparison made on a node (``v > 0``: a guard). From that recording it writes one
straight-line Python function: each op's forward and VJP from the rule table, called directly on
the floats or arrays (the commonest scalar ops written out inline, from the one `_INLINE` table),
then the leaves' gradients. Later calls with the same structure run that function instead of
building the graph again: far less overhead per op, the same numbers (it runs the same operations
in the same order, so the results match eager bit for bit, which every trace checks once).

What a call replays, and what makes it trace again (never a silently stale answer):

* Nodes passed as arguments (`Value`, `Tensor`, in lists, tuples or dicts) are inputs: a call
  reads their current ``.data`` and fills their ``.grad`` if they require it. A new structure
  retraces: other shapes, dtypes, ``requires_grad``, number or nesting of arguments. So does a
  Tensor whose array has another type, shape, dtype or memory layout (strides) than at the trace.
* Everything else passed (numbers, arrays, strings, other objects) is a constant of the trace,
  compared with the trace's on every call (arrays by content, objects by identity): a new value
  retraces. To replay on new data, pass it as a Tensor (or Values).
* Leaves ``fn`` reaches itself (a model's parameters in its closure or globals) are read at each
  call (so optimizer updates are seen) and checked to be the same objects, found by the same path
  (``model.fc1.W``, ``layers[0][2]``), through containers of the same lengths; numbers stored on
  the objects along the way (a penalty weight, a flag) and in the names ``fn`` uses are checked too,
  and so are the numpy arrays and lists of numbers found there (data a trace would bake in, as
  ``Tensor(X)`` of a global ``X``): the same object, with the same content (arrays of up to 10^6
  elements; a larger one changed in place goes unseen: call ``.clear()``, or pass it as a Tensor).
* A comparison on a node during the trace (``if x > 0:``, ``if x:``, ``max(values)``) is a
  guard: a call where its outcome flips runs ``fn`` eagerly again and records that branch too.
* fn writing ``.grad`` or a leaf's ``.data`` itself (``zero_grad()``, ``backward()``,
  ``p.grad = 0.0``, a parameter update), drawing random numbers (numpy's or Python's global
  generators, or one fn holds: a random mini-batch), or changing an array, list or dict it
  reaches (``log.append(x)``), does what a replay cannot redo: such a
  recording runs every call eagerly, with a `CompileWarning` (only ``p.grad = None`` by hand
  over a ``None`` goes unseen: use ``zero_grad()``). fn calling ``backward()`` on its own output
  is an error: compile does that itself.
* What cannot be seen: Python reading a node's data or gradient (``.data``, ``float(v)``,
  ``.item()``, ``.grad``), random numbers from other sources (torch, an unreachable generator),
  or state the checks above do not cover. Its value at the trace is baked in.
  ``compile(fn, check=True)`` runs every call eagerly as well and raises `CompileCheckError` if
  the two disagree; a constant Tensor made from an input's data inside fn
  (``Tensor(x)``) is refused (those calls run eagerly, with a `CompileWarning`).

Only the leaves get ``.grad`` (intermediates are not built). Calls inside ``no_grad``,
``detect_anomaly`` or an observer (cost counting) run ``fn`` eagerly, and so does a pattern with
an op outside the rule table (a micrograd-style ``_backward`` closure). The cache holds
``cache_size`` recordings (least recently used dropped). Compile cost: the first call runs fn
eagerly, then writes and compiles the code, about 25 µs per node (1.8 s for a 68,818-node scalar
step); ``.stats`` reports traces, replays, seconds spent and why each retrace happened.

Example:
    >>> from autograd_lite import Value, compile
    >>> w = Value(2.0)
    >>> f = compile(lambda x: (w * x).tanh() + w * w)
    >>> x = Value(0.5, requires_grad=False)
    >>> round(f(x), 6), round(w.grad, 6)
    (4.761594, 4.209987)
    >>> w.grad = 0.0
    >>> x.data = -1.0
    >>> round(f(x), 6), round(w.grad, 6), f.stats["traces"]
    (3.035972, 3.929349, 1)
"""

from __future__ import annotations

import builtins
import contextvars
import functools
import math
import pickle
import random
import re
import threading
import time
import types
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import backend as _B
from ..core import engine as E
from ..core import rules as R
from ..core.engine import Node, toposort, unbroadcast

__all__ = ["CompileCheckError", "CompileWarning", "Compiled", "compile"]

_py_compile = builtins.compile


class CompileWarning(RuntimeWarning):
    """A compiled function met something it cannot replay exactly; the message says what and the fix."""


class CompileCheckError(AssertionError):
    """``compile(fn, check=True)``: the replay and the eager run disagree (fn reads data Python-side)."""


# The ops the generated code writes out instead of calling the rule: forward, one VJP per input,
# the node kinds. Placeholders: {x}, {y} inputs, {ans} result, {g} incoming gradient. Each template
# performs the rule's own operations in the rule's order (no warning path of the rule is skipped:
# `exp` still goes through the rule's dispatcher), so replays match eager bit for bit;
# tests/test_compile.py checks every template against the rule table.
_INLINE: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "add": ("{x} + {y}", ("{g}", "{g}"), ("Value", "Tensor")),
    "sub": ("{x} - {y}", ("{g}", "-{g}"), ("Value", "Tensor")),
    "mul": ("{x} * {y}", ("{g} * {y}", "{g} * {x}"), ("Value", "Tensor")),
    "neg": ("-{x}", ("-{g}",), ("Value", "Tensor")),
    "tanh": ("_tanh({x})", ("{g} * (1.0 - {ans} * {ans})",), ("Value", "Tensor")),
    "exp": ("_exp({x})", ("{g} * {ans}",), ("Value", "Tensor")),
    "sigmoid": ("_sigmoid({x})", ("{g} * {ans} * (1.0 - {ans})",), ("Value", "Tensor")),
    "relu": ("({x} if {x} > 0 else 0.0)", ("{g} * (1.0 if {x} > 0 else 0.0)",), ("Value",)),
}
_INLINE_NAMES = {"_tanh": R.tanh, "_exp": R.exp, "_sigmoid": R.sigmoid}


# ------------------------------------------------------------------------------------ the trace hooks

_recorder: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "autograd_lite_compile_recorder", default=None)
_hook_lock = threading.Lock()
_tracing = 0  # traces running in the process (the comparison hook is installed while > 0)


def _on_compare(node: Node, op: str, other: Any, result: Any) -> None:
    """Record a comparison made on a node while this context traces: (time, node, op, other, result)."""
    guards = _recorder.get()
    if guards is not None:
        guards.append((next(E._counter), node, op, other, result))


def _on_grad_write(what: str) -> None:
    """Record that fn itself wrote .grad (zero_grad, backward, a hand step) while this context traces."""
    guards = _recorder.get()
    if guards is not None:
        guards.append(f"fn calls {what} itself")


def _start_trace(guards: list[Any]) -> tuple[contextvars.Token[Any], contextvars.Token[int]]:
    global _tracing
    with _hook_lock:
        _tracing += 1
        E._on_compare = _on_compare
        E._on_grad_write = _on_grad_write
    return _recorder.set(guards), E._mode.set(E._mode.get() | E._RECORD)


def _end_trace(tokens: tuple[contextvars.Token[Any], contextvars.Token[int]]) -> None:
    global _tracing
    E._mode.reset(tokens[1])
    _recorder.reset(tokens[0])
    with _hook_lock:
        _tracing -= 1
        if not _tracing:
            E._on_compare = None
            E._on_grad_write = None


# ------------------------------------------------------------------------- arguments: key and inputs

_SCALARS = (bool, int, float, complex, str, bytes, type(None))
_CONTAINERS = (list, tuple, dict)
_CONTAINER_SET = frozenset(_CONTAINERS)


def _flatten(tree: Any) -> tuple[list[Any], list[Any]]:
    """(structure tokens, leaves), depth first: lists, tuples and dicts are containers."""
    tokens: list[Any] = []
    leaves: list[Any] = []
    stack = [tree]
    while stack:
        x = stack.pop()
        t = type(x)
        if t is list or t is tuple:
            tokens.append((t, len(x)))
            stack.extend(reversed(x))
        elif t is dict:
            keys = tuple(x)
            tokens.append((dict, keys))
            stack.extend(x[k] for k in reversed(keys))
        else:
            tokens.append(None)
            leaves.append(x)
    return tokens, leaves


def _unflatten(tokens: list[Any], leaves: list[Any]) -> Any:
    """The inverse of `_flatten`, with (possibly replaced) leaves."""
    built: list[Any] = []
    pending = list(leaves)
    for tok in reversed(tokens):
        if tok is None:
            built.append(pending.pop())
            continue
        kind, spec = tok
        n = len(spec) if kind is dict else spec
        items = [built.pop() for _ in range(n)]
        built.append(dict(zip(spec, items)) if kind is dict else kind(items))
    return built[0]


def _constant_key(x: Any) -> Any:
    """The key of an argument leaf that is neither a node nor an ndarray (`_Call` keys those
    inline): its value (or its identity)."""
    t = type(x)
    if t is float:
        return (t, x) if x == x and x else (t, repr(x))  # nan equals itself, -0.0 is not 0.0
    if t in _SCALARS:
        return (t, x)
    if isinstance(x, np.generic):
        return (t, x.tobytes())
    return ("object", id(x))


class _Call:
    """One call's arguments: the cache key, the argument nodes, the constant objects."""

    __slots__ = ("key", "nodes", "objects")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        # (one pass, no helper call per node: this runs on every call of a compiled function)
        leaves: Any
        if not kwargs and _CONTAINER_SET.isdisjoint(map(type, args)):  # flat positional: no walk
            tokens: Any = len(args)
            leaves = args
        else:
            flat, leaves = _flatten((args, kwargs))
            tokens = tuple(flat)
        seen: dict[int, int] = {}
        keys: list[Any] = []
        nodes: list[Node] = []
        objects: list[Any] = []
        for i, x in enumerate(leaves):
            if isinstance(x, Node):
                first = seen.setdefault(id(x), i)
                if first != i:  # the same node twice is another graph than two nodes
                    keys.append(("same", first))
                    continue
                d = x.data
                keys.append((type(x), getattr(d, "shape", None), getattr(d, "dtype", None),
                             x.requires_grad))
                nodes.append(x)
            elif type(x) is np.ndarray:  # labels or a mask passed at every call: keyed inline,
                # by the dtype itself (dtype.str builds a string: ~5 us a call after numpy work)
                keys.append((np.ndarray, x.shape, x.dtype, x.tobytes()))
            else:
                k = _constant_key(x)
                keys.append(k)
                if k[0] == "object":
                    objects.append(x)
        self.nodes, self.objects = nodes, objects
        self.key = (tokens, tuple(keys))


# ------------------------------------------------------------------ the leaves fn reaches by itself

_LIBRARY = ("autograd_lite", "numpy", "builtins", "math", "functools")
_MAX_VISITS = 20_000  # objects looked at when searching fn's closure and globals, per trace
# arrays fn reaches by name or attribute are checked at every call: the same object always, and
# the same content (against a copy) up to this size; a larger one changed in place goes unseen
_ARRAY_COPY_MAX = 1_000_000


def _code_names(code: types.CodeType) -> set[str]:
    """Every name a code object (and the lambdas and comprehensions inside it) looks up."""
    names: set[str] = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return names


def _function_roots(fn: Any, expr: str, show: str) -> list[tuple[str, str, Any]]:
    """(expression, display name, object) of what a Python function can reach: its closure
    cells, its defaults, and the globals its code names."""
    out: list[tuple[str, str, Any]] = []
    code = fn.__code__
    for i, (name, cell) in enumerate(zip(code.co_freevars, fn.__closure__ or ())):
        try:
            out.append((f"{expr}.__closure__[{i}].cell_contents", name, cell.cell_contents))
        except ValueError:  # an empty cell
            continue
    for i, d in enumerate(fn.__defaults__ or ()):
        out.append((f"{expr}.__defaults__[{i}]", f"{show} default {i}", d))
    g = fn.__globals__
    for name in sorted(_code_names(code)):
        if name in g:
            out.append((f"{expr}.__globals__[{name!r}]", name, g[name]))
    return out


def _roots(fn: Any, objects: list[Any]) -> list[tuple[str, str, Any]]:
    """Where fn finds objects: the constant objects among its arguments, and what fn (a function,
    a bound method, a partial or a callable object) holds."""
    out = [(f"O[{k}]", f"argument object {k}", obj) for k, obj in enumerate(objects)]
    if isinstance(fn, functools.partial):
        out += [(f"F.args[{i}]", f"partial argument {i}", a) for i, a in enumerate(fn.args)]
        out += [(f"F.keywords[{k!r}]", f"partial argument {k}", v) for k, v in fn.keywords.items()]
        out.append(("F.func", "the partial's function", fn.func))
    elif isinstance(fn, types.MethodType):
        out += [("F.__self__", "self", fn.__self__), ("F.__func__", "the method", fn.__func__)]
    elif isinstance(fn, types.FunctionType):
        out += _function_roots(fn, "F", "fn")
    else:
        out.append(("F", "the callable", fn))
    return out


def _children(obj: Any, expr: str, show: str) -> list[tuple[str, str, Any, bool]]:
    """(expression, display, child, scalar-guarded) of the objects a search walks into."""
    t = type(obj)
    small = t in (list, tuple, dict) and len(obj) <= 16  # a long list of numbers: one check of it all
    if t is list or t is tuple:
        return [(f"{expr}[{i}]", f"{show}[{i}]", x, small) for i, x in enumerate(obj)]
    if t is dict:
        return [(f"{expr}[{k!r}]", f"{show}[{k!r}]", v, small) for k, v in obj.items()
                if type(k) in (str, int)]
    if isinstance(obj, types.FunctionType):
        if (obj.__module__ or "").split(".")[0] in _LIBRARY:
            return []
        return [(e, f"{show}: {s}", o, True) for e, s, o in _function_roots(obj, expr, show)]
    if isinstance(obj, type | types.ModuleType | types.BuiltinFunctionType | Node | np.ndarray):
        return []
    d = getattr(obj, "__dict__", None)
    if type(d) is not dict or t.__module__.split(".")[0] in _LIBRARY[1:]:
        return []
    return [(f"{expr}.__dict__[{k!r}]", f"{show}.{k}", v, True) for k, v in d.items()
            if type(k) is str]


class _Paths:
    """How fn reached the leaves it read (and the numbers stored along the way), written as one
    generated function that re-checks them at every call."""

    def __init__(self, fn: Any, objects: list[Any], wanted: list[Node]) -> None:
        want = {id(n): n for n in wanted}
        records: list[tuple[int, str, str, Any]] = []  # (parent, expression, display, object)
        checks: list[tuple[int, str, Any]] = []  # (record, kind, expected)
        seen: set[int] = set()
        queue = [(-1, e, s, o, True) for e, s, o in _roots(fn, objects)]
        head = 0
        while head < len(queue) and len(records) < _MAX_VISITS:
            parent, expr, show, obj, scalar = queue[head]
            head += 1
            if isinstance(obj, _SCALARS):
                if scalar:
                    records.append((parent, expr, show, obj))
                    checks.append((len(records) - 1, "value", obj))
                continue
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            records.append((parent, expr, show, obj))
            me = len(records) - 1
            if id(obj) in want:
                checks.append((me, "is", want.pop(id(obj))))
                continue
            if type(obj) is np.ndarray:
                if scalar:  # an array fn reaches by name or attribute: data the trace may bake in
                    copy = obj.copy() if obj.size <= _ARRAY_COPY_MAX else None
                    checks.append((me, "array", (obj, copy)))
                continue
            if type(obj) in (list, tuple, dict):
                checks.append((me, "len", len(obj)))
            if type(obj) in (list, tuple) and len(obj) > 16 and all(type(x) in _SCALARS for x in obj):
                checks.append((me, "seq", obj.copy() if type(obj) is list else obj))  # data: by content
                continue
            queue.extend((me, e, s, o, sc) for e, s, o, sc in _children(obj, expr, show))
        self.missing = list(want.values())
        for n in self.missing:  # read directly by the replay: only their flag can be checked
            records.append((-1, "", n.label or "a leaf fn reached", n))
            checks.append((len(records) - 1, "flag", n))
        self.check = self._write(records, checks)

    @staticmethod
    def _write(records: list[tuple[int, str, str, Any]], checks: list[tuple[int, str, Any]]
               ) -> Callable[[Any, list[Any]], str | None]:
        """The generated checker: returns None when every path holds, else what changed."""
        needed: set[int] = set()
        for rec, _, _ in checks:
            while rec >= 0 and rec not in needed:
                needed.add(rec)
                rec = records[rec][0]
        ns: dict[str, Any] = {"_same": _same, "_eq": _same_content}
        lines = ["def _check(F, O):", "    try:", "        pass"]  # a body even when no path is checked
        for i in sorted(needed):
            parent, expr, _, leaf = records[i]
            if not expr:  # a leaf no path reaches: the object itself
                ns[f"_n{i}"] = leaf
                lines.append(f"        a{i} = _n{i}")
                continue
            base = expr if parent < 0 else f"a{parent}" + expr[len(records[parent][1]):]
            lines.append(f"        a{i} = {base}")
        for j, (rec, kind, expected) in enumerate(checks):
            show = records[rec][2]
            ns[f"_x{j}"] = expected
            if kind in ("is", "flag"):  # the same leaf, still wanting (or not) a gradient as then
                if kind == "is":
                    lines.append(f"        if a{rec} is not _x{j}: return {show + ' is another object'!r}")
                rg = bool(expected.requires_grad)
                lines.append(f"        if a{rec}.requires_grad is not {rg}: return "
                             f"{f'{show}.requires_grad changed (was {rg})'!r}")
            elif kind == "array":
                arr, copy = expected
                ns[f"_x{j}"], ns[f"_xc{j}"] = arr, copy
                lines.append(f"        if a{rec} is not _x{j}: return {show + ' is another array'!r}")
                if copy is not None:
                    lines.append(f"        if not _eq(_x{j}, _xc{j}): return "
                                 f"{show + ' was changed in place'!r}")
            elif kind == "seq":
                lines.append(f"        if a{rec} != _x{j}: return {show + ' changed'!r}")
            elif kind == "len":
                lines.append(f"        if len(a{rec}) != _x{j}: return "
                             f"{f'{show} changed length (was {expected})'!r}")
            else:
                lines.append(f"        if not _same(a{rec}, _x{j}): return "
                             f"{f'{show} changed (was {_short(expected)})'!r}")
        lines += ["    except Exception as err:",
                  "        return f'a path fn used is gone ({type(err).__name__}: {err})'",
                  "    return None"]
        exec(_py_compile("\n".join(lines), "<compile: path checks>", "exec"), ns)
        return ns["_check"]  # type: ignore[no-any-return]


def _same_content(a: np.ndarray, b: np.ndarray) -> bool:
    nan = a.dtype.kind in "fc"
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=nan))


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (nan equals nan)."""
    return type(a) is type(b) and (a == b or (a != a and b != b))


def _short(x: Any) -> str:
    r = repr(x)
    return r if len(r) <= 40 else r[:37] + "..."


# ----------------------------------------------------------------------------- the generated replay

class _UnsupportedError(Exception):
    """What makes a trace impossible to replay (the call then runs eagerly, with a warning)."""


def _as0(x: Any) -> Any:
    """What `Node._apply` does to a Tensor op's 0-d result: a numpy scalar becomes a 0-d array."""
    return x if type(x) is np.ndarray else np.asarray(x)


def _same_array(a: Any, b: Any) -> bool:
    return bool(np.array_equal(a, b))


def _tensor_seed(dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.array(1, dtype=dtype).reshape(shape)


class _StaleError(Exception):
    """Raised inside a replay that meets something its trace did not (the call then runs eagerly)."""


def _stale() -> None:
    raise _StaleError


class _MovedError(_StaleError):
    """An input array of a Tensor replay is not of its trace's type, shape, dtype or strides."""


def _moved(what: str) -> None:
    raise _MovedError(what)


def _no_gradient(vjp: Callable[..., Any], g: Any, node: Node, parents: tuple[Node, ...]
                 ) -> tuple[list[bool], Any]:
    """Which inputs a VJP sends no gradient (None) to, found by calling it once at the trace
    (None comes from the rule itself or from need=, never from the numbers), and what it returned
    (None if it raised). ``g``: the trace's gradient if known, else a stand-in."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            out = vjp(g, node.data, *[p.data for p in parents])
        except Exception:
            return [False] * len(parents), None
    return [o is None for o in out], out


def _fortran(a: np.ndarray) -> bool:
    """The test `rules._column_major` makes: a column-major array (a transposed weight)."""
    return not a.flags.c_contiguous and a.flags.f_contiguous


def _arrays(node: Node) -> list[np.ndarray] | None:
    """The inputs' arrays of a Tensor op when every one is a plain numpy array, else None."""
    ds = [p.data for p in node._parents]
    return ds if node._broadcasts and all(type(d) is np.ndarray for d in ds) else None


def _number(a: Any) -> str | None:
    """A Python number as a literal that gives the same object's value, else None."""
    return repr(a) if type(a) in (float, int) and math.isfinite(a) else None


def _forward_numpy(node: Node, names: list[str]) -> str | None:
    """The forward of a numpy Tensor op written as the numpy expression its rule evaluates on
    these inputs (the rule's branch chosen here from the trace's types, dtypes and shapes, which a
    replay re-checks on its inputs), or None for the rule's own call."""
    ds = _arrays(node)
    if ds is None:
        return None
    name, static = node._rule.name, node._static or {}
    if name == "matmul":  # operator.matmul
        return f"{names[0]} @ {names[1]}"
    if name == "transpose":  # rules._permute on an ndarray
        axes = static["axes"]
        if type(axes) is not tuple or not all(type(a) is int for a in axes):
            return None
        return f"{names[0]}.T" if ds[0].ndim == 2 and axes == (1, 0) else f"{names[0]}.transpose({axes!r})"
    if name == "leaky_relu":  # rules._leaky_relu's float branch
        alpha = static["alpha"]
        lit = _number(alpha)
        if lit is None or ds[0].dtype.kind != "f" or not 0 < alpha <= 1:
            return None
        return f"_max({names[0]}, {lit} * {names[0]})"
    return None


def _vjp_numpy(node: Node, g: str, gval: Any, names: list[str]) -> list[str | None] | None:
    """The VJP parts of a numpy Tensor op as the numpy expressions its rule evaluates on the
    trace's arrays (``gval``: the gradient the trace sent), or None for the rule's own call."""
    ds = _arrays(node)
    if ds is None or type(gval) is not np.ndarray:
        return None
    name, static = node._rule.name, node._static or {}
    if name == "matmul" and ds[0].ndim == 2 and ds[1].ndim == 2:  # rules._matmul_vjp, 2-d case
        x, y = names
        need = [p.requires_grad for p in node._parents]  # what the sweep passes as need=
        gx = (f"({y} @ {g}.T).T" if _fortran(ds[0]) else f"{g} @ {y}.T") if need[0] else None
        gy = (f"({g}.T @ {x}).T" if _fortran(ds[1]) else f"{x}.T @ {g}") if need[1] else None
        return [gx, gy]
    if name == "transpose":
        axes = static["axes"]
        if type(axes) is not tuple or not all(type(a) is int for a in axes):
            return None
        inv = R._inverse_perm(axes)
        return [f"{g}.T" if gval.ndim == 2 and inv == (1, 0) else f"{g}.transpose({inv!r})"]
    if name == "leaky_relu":  # rules._leaky_relu_vjp's array branch
        lit = _number(static["alpha"])
        if lit is None or gval.dtype != ds[0].dtype or gval.shape != ds[0].shape:
            return None
        return [f"_where({names[0]} > 0, {g}, {lit} * {g})"]
    return None


def _reduce_numpy(part: str, val: Any, shape: tuple[int, ...]) -> str | None:
    """`engine.unbroadcast` of a numpy gradient part of known shape, written out: nothing when it
    has the shape already, else the same reduction (``ndarray.sum`` is ``np.add.reduce``), or
    None when unbroadcast would take another path."""
    if type(val) is not np.ndarray:
        return None
    gshape = val.shape
    if gshape == shape:
        return part
    if len(gshape) == len(shape) + 1 and gshape[1:] == shape:
        return f"_sum({part}, axis=0)"
    if len(gshape) < len(shape):
        return None
    axes = E.summed_axes(gshape, shape)
    if not axes:
        return None
    text = f"_sum({part}, axis={axes!r}, keepdims=True)"
    kept = tuple(1 if i in axes else n for i, n in enumerate(gshape))
    return text if kept == shape else f"{text}.reshape({shape!r})"


class _Writer:
    """Writes the replay of one trace: forward in creation order with the guards where they were
    made, then backward in the order of `engine.sweep`, then the leaves' gradients.

    To keep the generated code short (Python compiles ~10^5 lines a second), a result used once,
    by an op whose VJP does not read it, is written into its user's expression instead of a line
    of its own (a neuron's weighted sum becomes one line), float constants are literals, and a
    gradient that is just another node's gradient is not copied. The operations and their order
    are unchanged.

    In a Tensor graph the commonest numpy ops (matmul, transpose, leaky_relu, the reduction of a
    broadcast gradient) are written as the numpy expression their rule evaluates for the trace's
    arrays, without the rule's dispatch. To choose it, the writer runs each backward line on the
    trace's values as it writes it (``env``), so it knows every gradient's type, dtype and shape;
    the replay re-checks type, shape, dtype and strides of each input array (a change retraces),
    and given those, numpy's results have the same types, shapes and layouts as at the trace.
    """

    _DEPTH = 60  # the most ops nested in one expression (the compiler recurses on depth)

    def __init__(self, order: list[Node], kinds: dict[Node, tuple[Any, ...]]) -> None:
        self.order, self.kinds = order, kinds
        self.index = {n: i for i, n in enumerate(order)}
        self.ns: dict[str, Any] = {**_INLINE_NAMES, "_unb": unbroadcast, "_as0": _as0,
                                   "_eq": _same_array, "_stale": _stale, "_moved": _moved,
                                   "_nd": np.ndarray, "_max": np.maximum, "_where": np.where,
                                   "_sum": np.add.reduce}
        # the trace's value of each name the backward writes (Tensor graphs only; None: unknown)
        self.env: dict[str, Any] | None = {} if any(n._broadcasts for n in order) else None
        self.lines = ["def _replay(D):"]
        self.expr: dict[Node, tuple[str, int]] = {}  # what stands for a node's value, and its depth
        self.acc: dict[Node, str] = {}  # gradient accumulators
        self.parts: dict[Node, int] = {}

    @staticmethod
    def template(node: Node) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
        tmpl = _INLINE.get(node._rule.name)
        kind = "Tensor" if node._broadcasts else "Value"
        return tmpl if tmpl is not None and kind in tmpl[2] and not node._static else None

    def inlinable(self, outputs: list[Node], kept: set[Node]) -> set[Node]:
        """Ops whose value can be written into their only user's expression."""
        uses: dict[Node, int] = {}
        read: set[Node] = set(outputs) | kept  # values the backward (or a guard) reads by name
        for node in self.order:
            if self.kinds[node][0] != "op":
                continue
            ps = node._parents
            for p in ps:
                uses[p] = uses.get(p, 0) + 1
            tmpl = self.template(node)
            if tmpl is None:
                read.update(ps)
                read.add(node)
                continue
            refs = "".join(tmpl[1])
            if "{x}" in refs:
                read.add(ps[0])
            if "{y}" in refs:
                read.add(ps[-1])
            if "{ans}" in refs:
                read.add(node)
        return {n for n in self.order if self.kinds[n][0] == "op" and uses.get(n) == 1
                and n not in read and self.template(n) is not None}

    def value(self, node: Node, i: int) -> tuple[str, int]:
        """A literal or a name for a constant of the trace."""
        d = node.data
        if type(d) is float and math.isfinite(d):
            return repr(d), 0
        self.ns[f"_k{i}"] = d
        return f"_k{i}", 0

    def forward(self, guards: list[tuple[Any, ...]], outputs: list[Node]) -> None:
        kept = {g[1] for g in guards} | {g[3] for g in guards if isinstance(g[3], Node)}
        inline = self.inlinable(outputs, kept)
        gi = 0
        for i, node in enumerate(self.order):
            while gi < len(guards) and guards[gi][0] < node._id:
                self.guard(guards[gi], gi)
                gi += 1
            kind = self.kinds[node]
            if kind[0] == "K":
                self.expr[node] = self.value(node, i)
                continue
            if kind[0] == "D":
                text, depth = f"D[{kind[1]}]", 0
            else:
                text, depth = self.op(node, i)
            if node in inline and depth < self._DEPTH:
                self.expr[node] = (f"({text})", depth)
            else:
                self.lines.append(f"    v{i} = {text}")
                self.expr[node] = (f"v{i}", 0)
                if self.env is not None:
                    self.env[f"v{i}"] = node.data
                if kind[0] == "D" and node._broadcasts:
                    self.check_input(node, f"v{i}", kind[1])
        for j in range(gi, len(guards)):
            self.guard(guards[j], j)

    def check_input(self, node: Node, name: str, k: int) -> None:
        """The replay stops (and the call retraces) when an input array is not of the trace's
        type, shape, dtype and strides: the written-out numpy ops were chosen for those."""
        d = node.data
        self.ns[f"_ty{k}"] = type(d)
        test = f"type({name}) is not _ty{k}"
        was = type(d).__name__
        if type(d) is np.ndarray:
            self.ns[f"_dt{k}"] = d.dtype
            test += (f" or {name}.shape != {d.shape!r} or {name}.dtype != _dt{k}"
                     f" or {name}.strides != {d.strides!r}")
            was = f"{d.dtype} {was} of shape {d.shape}, strides {d.strides}"
        self.ns[f"_w{k}"] = (f"the data of {_describe(node)} changed type, shape, dtype or memory "
                             f"layout (the recording was made for a {was})")
        self.lines.append(f"    if {test}: _moved(_w{k})")

    def guard(self, g: tuple[Any, ...], j: int) -> None:
        _, node, op, other, result = g
        if isinstance(other, Node):
            rhs = self.expr[other][0]
        elif type(other) in (float, int) and math.isfinite(other):
            rhs = repr(other)
        else:
            self.ns[f"_c{j}"] = other
            rhs = f"_c{j}"
        test = f"{self.expr[node][0]} {op} {rhs}"
        if isinstance(result, bool):
            cond = f"not ({test})" if result else test
        else:
            self.ns[f"_r{j}"] = result
            cond = f"not _eq({test}, _r{j})"
        self.lines.append(f"    if {cond}: return None")

    def op(self, node: Node, i: int) -> tuple[str, int]:
        rule = node._rule
        args = [self.expr[p] for p in node._parents]
        depth = 1 + max((d for _, d in args), default=0)
        names = [a for a, _ in args]
        tmpl = self.template(node)
        special = None if tmpl is not None else _forward_numpy(node, names)
        if tmpl is not None:
            text = tmpl[0].format(x=names[0], y=names[-1])
        elif special is not None:
            text = special
        else:
            self.ns[f"_f{i}"] = (functools.partial(rule.forward, **node._static) if node._static
                                 else rule.forward)
            text = f"_f{i}({', '.join(names)})"
        if node._broadcasts and node.data.ndim == 0:
            text = f"_as0({text})"
        return text, depth

    def backward(self, root: Node) -> list[Node]:
        """The sweep, written out; returns the leaves (inputs) whose gradients are returned."""
        i = self.index[root]
        d = root.data
        if root._broadcasts:  # a fresh copy of the seed each call: the gradients may hold it
            self.ns["_one"] = _tensor_seed(d.dtype, d.shape)
            seed = "_one.copy()"
        else:
            seed = "1.0"
        self.parts = self.count(root)
        self.acc[root] = f"g{i}"
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # the trace warned already
            warnings.simplefilter("ignore")
            self.write(f"    g{i} = {seed}")
            for j in range(len(self.order) - 1, -1, -1):
                node = self.order[j]
                if node in self.acc and self.kinds[node][0] == "op":
                    self.step(node, j)
        return [n for n in self.order if self.kinds[n][0] == "D" and n in self.acc]

    def write(self, line: str) -> None:
        """Append a backward line, and run it on the trace's values (what later lines are chosen on)."""
        self.lines.append(line)
        if self.env is not None:
            try:
                exec(line.strip(), self.ns, self.env)
            except Exception:  # not known from here on: the rules' own calls are written
                self.env = None

    def known(self, expr: str) -> Any:
        """The trace's value of an expression over the names written so far (None if unknown)."""
        if self.env is None:
            return None
        try:
            return eval(expr, self.ns, self.env)
        except Exception:
            return None

    def receives(self, p: Node) -> bool:
        return p.requires_grad and self.kinds[p][0] != "K"

    def count(self, root: Node) -> dict[Node, int]:
        """How many gradient parts each node will receive (to spot single-part gradients)."""
        n: dict[Node, int] = {root: 1}
        for node in reversed(self.order):
            if node in n and self.kinds[node][0] == "op":
                for p in node._parents:
                    if self.receives(p):
                        n[p] = n.get(p, 0) + 1
        return n

    def step(self, node: Node, j: int) -> None:
        """One node of the sweep: its VJP, and each part added into its parent's accumulator."""
        parents = node._parents
        g = self.acc[node]
        names = [self.expr[p][0] for p in parents]
        tmpl = self.template(node)
        gval = self.known(g)
        special = None if tmpl is not None else _vjp_numpy(node, g, gval, names)
        parts: list[str | None]
        if tmpl is not None:
            parts = [t.format(g=g, x=names[0], y=names[-1], ans=self.expr[node][0]) for t in tmpl[1]]
        elif special is not None:
            parts = special
        else:
            parts = self.rule_call(node, j, g, gval, names)
        for k, p in enumerate(parents):
            part = parts[k]
            if part is None or not self.receives(p):
                continue
            if node._broadcasts:
                part = self.reduce(part, p.data.shape, p.data.shape != node.data.shape)
            self.add(p, part)

    def rule_call(self, node: Node, j: int, g: str, gval: Any, names: list[str]) -> list[str | None]:
        """A VJP through the rule's own function: one line, its parts read from the tuple."""
        rule, parents = node._rule, node._parents
        static = dict(node._static or {})
        if rule.need:  # as the sweep passes it: which inputs want a gradient
            static["need"] = tuple(p.requires_grad for p in parents)
        vjp = functools.partial(rule.vjp, **static) if static else rule.vjp
        self.ns[f"_b{j}"] = vjp
        self.lines.append(f"    t{j} = _b{j}({g}, {self.expr[node][0]}, {', '.join(names)})")
        missing, out = _no_gradient(vjp, node.data if gval is None else gval, node, parents)
        if self.env is not None:
            if gval is None or out is None:
                self.env = None
            else:
                self.env[f"t{j}"] = out
        parts: list[str | None] = []
        for k, none in enumerate(missing):
            if none:  # no gradient to this input at the trace: make sure it stays so
                self.lines.append(f"    if t{j}[{k}] is not None: _stale()")
            parts.append(None if none else f"t{j}[{k}]")
        return parts

    def reduce(self, part: str, shape: tuple[int, ...], differs: bool) -> str:
        """A gradient part reduced to its input's shape, as the sweep's `unbroadcast` does;
        written out when the part's value at the trace is known, else the call (when the
        shapes of the node and the input differ)."""
        val = self.known(part)
        text = _reduce_numpy(part, val, shape) if val is not None else None
        if text is not None:
            return text
        if val is not None and getattr(val, "shape", shape) != shape:
            differs = True
        return f"_unb({part}, {shape!r})" if differs else part

    def add(self, p: Node, expr: str) -> None:
        """Add one part into p's accumulator exactly as the sweep does: the first part is stored
        (not copied when it is already a name and the only part), later parts are added."""
        if p in self.acc:
            self.write(f"    {self.acc[p]} = {self.acc[p]} + ({expr})")
        elif self.parts[p] == 1 and expr.isidentifier():
            self.acc[p] = expr
        else:
            self.acc[p] = f"g{self.index[p]}"
            self.write(f"    {self.acc[p]} = {expr}")

    def finish(self, outputs: list[Node], grads: list[Node], name: str) -> Callable[[list[Any]], Any]:
        outs = "".join(f"{self.expr[n][0]}, " for n in outputs)
        gs = "".join(f"{self.acc[n]}, " for n in grads)
        self.lines.append(f"    return ({outs}), ({gs})")
        if any(n._broadcasts for n in self.order):
            self.lines = _free_early(self.lines)
        code = _py_compile("\n".join(self.lines), f"<compiled {name}>", "exec")
        exec(code, self.ns)
        return self.ns["_replay"]  # type: ignore[no-any-return]


_NAME = re.compile(r"\b[vgt][0-9]+\b")


def _free_early(lines: list[str]) -> list[str]:
    """Delete each array as soon as its last reader has run, as eager frees a gradient once its
    node is done: a replay that kept every temporary to the end would hold more memory and send
    large blocks back to the system at each return (fresh pages, faulted in again next call)."""
    last: dict[str, int] = {}
    for i, line in enumerate(lines):
        for name in _NAME.findall(line):
            last[name] = i
    dead: dict[int, list[str]] = {}
    for name, i in last.items():
        if i < len(lines) - 1:  # read by the return: kept
            dead.setdefault(i, []).append(name)
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i in dead:
            out.append(f"    del {', '.join(sorted(dead[i]))}")
    return out


# ------------------------------------------------------------------------------- one recording

def _eager_backward(root: Node | None) -> dict[Node, Any]:
    """``root.backward()``, returning each leaf's gradient of this pass (before it is added in)."""
    if root is None:
        return {}
    if root._flags:  # consumed: fn ran backward() through its own output
        raise RuntimeError(
            "compile(fn): fn called backward() on the output it returns, but compile does that "
            "itself: a call returns fn's result and fills .grad like output.backward(). Let fn "
            "compute and return the loss only, and keep zero_grad(), backward() and the parameter "
            "update outside it (or call fn without compile).")
    grads = E.sweep({root: root._seed()}, consume=next(E._passes), keep=True, root=root)
    E.store_grads([(leaf, E._accumulated(leaf, g)) for leaf, g in grads.items()])
    return grads


def _data(out_tokens: list[Any], out_leaves: list[Any]) -> Any:
    """What fn returned, with every node replaced by its data."""
    return _unflatten(out_tokens, [x.data if isinstance(x, Node) else x for x in out_leaves])


class _Entry:
    """One recording: the replay function, what it reads, where its gradients go, its checks."""

    __slots__ = ("arg_targets", "eager", "guards", "leaf_targets", "leaves", "lines", "objects",
                 "out_slots", "out_tokens", "outs", "paths", "replay", "single", "size")

    replay: Callable[[list[Any]], Any]
    leaves: list[Node]  # what fn reached by itself, read at every call (after the argument nodes)
    arg_targets: list[int]  # argument nodes whose gradients the replay returns, then...
    leaf_targets: list[Node]  # ...these leaves'
    out_tokens: list[Any]
    outs: list[Any]  # what fn returned, nodes left as None (filled by the replay)
    out_slots: list[int]
    single: bool  # fn returned one node (no structure to rebuild)
    paths: _Paths
    size: int
    lines: int
    guards: int

    def __init__(self) -> None:
        self.eager: str | None = None  # why this pattern runs eagerly, if it does
        self.objects: list[Any] = []  # the constant objects of the call, kept so ids stay unique

    def run(self, call: _Call) -> tuple[Any, list[Node], tuple[Any, ...]] | None:
        """Replay on this call's data: (what fn returns, the gradient targets, their gradients),
        or None when a guard flipped."""
        res = self.replay([n.data for n in call.nodes] + [n.data for n in self.leaves])
        if res is None:
            return None
        outs, grads = res
        nodes = call.nodes
        targets = [nodes[k] for k in self.arg_targets] + self.leaf_targets if self.arg_targets \
            else self.leaf_targets
        if self.single:  # fn returned one node
            return outs[0], targets, grads
        leaves = list(self.outs)
        for k, v in zip(self.out_slots, outs):
            leaves[k] = v
        return _unflatten(self.out_tokens, leaves), targets, grads


def _classify(order: list[Node], call: _Call, start: int) -> tuple[dict[Node, Any], list[Node]]:
    """How the replay gets each node: an op it recomputes, an input it reads (``D``), or a
    constant of the trace (``K``); and the leaves fn reached by itself."""
    arg_pos = {id(n): k for k, n in enumerate(call.nodes)}
    kinds: dict[Node, Any] = {}
    reached: list[Node] = []
    for node in order:
        rule = node._rule
        if not isinstance(node.data, np.ndarray | np.generic | float | int):
            raise _UnsupportedError(f"the graph holds {_B.library(node.data)} arrays; compile replays "
                                    "numpy graphs, so calls on other array libraries run eagerly")
        if rule is not None and node._id > start:
            if R.RULES.get(rule.name) is not rule:
                raise _UnsupportedError(f"the op '{rule.name}' is not an entry of the rule table (a "
                                   "hand-written _backward?); compile replays rule-table ops only")
            kinds[node] = ("op",)
        elif rule is not None and node.requires_grad:
            raise _UnsupportedError(f"fn uses the result of '{rule.name}', built before the call, whose "
                               "graph backward would also run through; build it inside fn (or pass "
                               ".detach())")
        elif id(node) in arg_pos:
            kinds[node] = ("D", arg_pos[id(node)])
        elif node._id < start:
            kinds[node] = ("D", len(call.nodes) + len(reached))
            reached.append(node)
        else:
            kinds[node] = ("K",)
    _aliases(kinds, call.nodes)
    return kinds, reached


def _aliases(kinds: dict[Node, Any], args: list[Node]) -> None:
    """A constant made inside fn from an input's array (``Tensor(x)`` copies, ``x.detach()`` shares)
    must follow the input: shared arrays are read from it; views or copies cannot be followed."""
    inputs = {id(n.data): (n, k) for n, k in kinds.items() if k[0] == "D" and n._broadcasts}
    inputs.update((id(n.data), (n, ("D", k))) for k, n in enumerate(args) if n._broadcasts)
    for node, kind in list(kinds.items()):
        if kind[0] != "K" or not node._broadcasts:
            continue
        d = node.data
        if id(d) in inputs:
            kinds[node] = inputs[id(d)][1]
            continue
        src = inputs.get(id(d.base)) if d.base is not None else None
        if src is None and d.size > 1 and np.ptp(d) > 0:
            src = next((nk for nk in inputs.values() if nk[0].data.shape == d.shape
                        and np.array_equal(nk[0].data, d)), None)
        if src is not None:
            raise _UnsupportedError(f"fn made a constant Tensor of shape {d.shape} from the data of an "
                               f"input ({_describe(src[0])}: Tensor(x), x.data or a view of it); the "
                               "replay would keep the first call's numbers; use the input node itself")


_RNGS = (np.random.Generator, np.random.RandomState, random.Random)


def _grads_before(fn: Any, call: _Call) -> tuple[list[tuple[Node, Any, Any, Any, Any]],
                                                  list[tuple[str, Any, Any]]]:
    """What a replay cannot redo, as it stands before fn runs, for `_written`: each leaf fn can
    reach (its argument nodes, and the leaves a search of what it holds finds, as `_Paths`
    searches) with its ``.grad`` and ``.data``, and the state of each random number generator
    (numpy's and Python's global ones, and those fn holds), and the arrays, lists and dicts fn
    reaches (with a copy). The library's zero_grad and backward tell the trace themselves; this
    catches ``p.grad = 0.0`` by hand, parameter updates, random draws, and state fn keeps itself
    (``log.append(...)``, ``buffer += 1``) inside fn. A float gradient is replaced by an equal
    new float object, so that fn writing the same literal is still seen."""
    found = []
    rngs = [("numpy.random", np.random.mtrand._rand, _rng_state(np.random.mtrand._rand)),
            ("random", random._inst, _rng_state(random._inst))]  # type: ignore[attr-defined]
    data: list[tuple[str, Any, Any]] = []  # arrays, lists and dicts fn reaches, with a copy
    seen: set[int] = {id(g) for _, g, _ in rngs}
    for n in call.nodes:
        seen.add(id(n))
        found.append(_grad_state(n))
    queue = [(e, s, o) for e, s, o in _roots(fn, call.objects)]
    head = 0
    while head < len(queue) and len(seen) < _MAX_VISITS:
        expr, show, obj = queue[head]
        head += 1
        if isinstance(obj, _SCALARS) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Node):
            if obj._a is None and obj._more is None:
                found.append(_grad_state(obj))
            continue
        if isinstance(obj, _RNGS):
            rngs.append((show, obj, _rng_state(obj)))
            continue
        if type(obj) is np.ndarray:
            if obj.size <= _ARRAY_COPY_MAX:
                data.append((show, obj, obj.copy()))
            continue
        if type(obj) is list or type(obj) is dict:
            data.append((show, obj, obj.copy()))
        queue.extend((e, s, o) for e, s, o, _ in _children(obj, expr, show))
    return found, rngs + data


def _rng_state(rng: Any) -> bytes:
    if isinstance(rng, np.random.Generator):
        return pickle.dumps(rng.bit_generator.state)
    return pickle.dumps(rng.get_state() if isinstance(rng, np.random.RandomState) else rng.getstate())


def _grad_state(n: Node) -> tuple[Node, Any, Any, Any, Any]:
    g = n.grad
    if type(g) is float:
        n.grad = g = g * 1.0  # the same number (and sign of zero), a new object
    d = n.data
    return (n, g, g.copy() if type(g) is np.ndarray else None, d,
            d.copy() if type(d) is np.ndarray else None)


def _changed(now: Any, was: Any, copy: Any) -> bool:
    return now is not was or (copy is not None and not np.array_equal(was, copy, equal_nan=True))


def _written(before: tuple[list[tuple[Node, Any, Any, Any, Any]], list[tuple[str, Any, Any]]]
             ) -> list[str]:
    """What fn did that `_grads_before` looks for (an empty list: nothing)."""
    leaves, rngs = before
    for n, g, gcopy, d, dcopy in leaves:
        if _changed(n.grad, g, gcopy):
            return [f"fn changes the .grad of {_describe(n)}"]
        if _changed(n.data, d, dcopy):
            return [f"fn changes the .data of {_describe(n)} (a parameter update inside fn?)"]
    for name, obj, state in rngs:
        if isinstance(obj, _RNGS):
            if _rng_state(obj) != state:
                return [f"fn draws random numbers ({name}): a replay would repeat this call's "
                        "draws (the same mini-batch)"]
        elif not _kept(obj, state):
            return [f"fn changes {name} ({type(obj).__name__}) itself"]
    return []


def _kept(obj: Any, copy: Any) -> bool:
    """Whether an array, list or dict still holds what its copy holds (items by identity)."""
    if type(obj) is np.ndarray:
        return _same_content(obj, copy)
    if len(obj) != len(copy):
        return False
    if type(obj) is dict:
        return obj.keys() == copy.keys() and all(obj[k] is copy[k] for k in copy)
    return all(a is b for a, b in zip(obj, copy))


def _describe(n: Node) -> str:
    name = f"'{n.label}'" if n.label else type(n).__name__
    return f"{name} of shape {n.data.shape}" if n._broadcasts else name


def _record(fn: Any, call: _Call, start: int, guards: list[Any], out_tokens: list[Any],
            out_leaves: list[Any], root: Node | None) -> _Entry:
    """Turn one trace into an `_Entry` (raises `_UnsupportedError` for what cannot be replayed)."""
    out_nodes = [x for x in out_leaves if isinstance(x, Node)]
    compared = [g[1] for g in guards] + [g[3] for g in guards if isinstance(g[3], Node)]
    order = toposort(*out_nodes, *compared)
    kinds, reached = _classify(order, call, start)
    w = _Writer(order, kinds)
    w.forward(guards, out_nodes)
    reached_grads = w.backward(root) if root is not None and kinds.get(root, ("K",))[0] != "K" else []
    targets = sorted(reached_grads, key=lambda n: kinds[n][1])  # arguments first, as `run` expects
    name = getattr(fn, "__name__", type(fn).__name__)
    e = _Entry()
    e.replay = w.finish(out_nodes, targets, name)
    e.size, e.lines, e.leaves, e.objects = len(order), len(w.lines), reached, call.objects
    e.out_tokens, e.guards = out_tokens, len(guards)
    e.outs = [None if isinstance(x, Node) else x for x in out_leaves]
    e.out_slots = [k for k, x in enumerate(out_leaves) if isinstance(x, Node)]
    e.single = out_tokens == [None] and e.out_slots == [0]
    n_args = len(call.nodes)
    e.arg_targets = [kinds[n][1] for n in targets if kinds[n][1] < n_args]
    e.leaf_targets = [n for n in targets if kinds[n][1] >= n_args]
    e.paths = _Paths(fn, call.objects, reached)
    return e


def _agree(a: Any, b: Any, rtol: float = 0.0) -> bool:
    """Bit for bit (rtol=0) or to rtol: same type of value, shape and numbers (nan equals nan)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if rtol == 0.0:
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.allclose(a, b, rtol=rtol, atol=rtol, equal_nan=True))
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (a != a and b != b) or (rtol > 0 and math.isclose(a, b, rel_tol=rtol,
                                                                         abs_tol=rtol))
    return bool(a == b)


def _validate(e: _Entry, call: _Call, out_leaves: list[Any], grads: dict[Node, Any]) -> str | None:
    """Replay the new recording on its own trace: it must give the eager numbers bit for bit."""
    with warnings.catch_warnings():  # the eager run has already said everything once
        warnings.simplefilter("ignore")
        try:
            res = e.run(call)
        except Exception as err:  # a bug of the writer, never the user's: run eagerly
            return f"the replay raised {type(err).__name__}: {err}"
    if res is None:
        return "a guard failed on its own trace"
    out, targets, gs = res
    want = _flatten(_data(e.out_tokens, out_leaves))[1]
    if not all(_agree(a, b) for a, b in zip(_flatten(out)[1], want)):
        return "the replayed outputs differ from the eager ones"
    inputs = {id(n) for n in call.nodes} | {id(n) for n in e.leaves}
    got = {id(n): g for n, g in zip(targets, gs) if g is not None}
    if got.keys() != {id(n) for n in grads if id(n) in inputs}:
        return "the replay reaches other leaves than the eager backward"
    if not all(_agree(got[id(n)], g) for n, g in grads.items() if id(n) in got):
        return "the replayed gradients differ from the eager ones"
    return None


# ------------------------------------------------------------------------------- the compiled function

class Compiled:
    """A function recorded by `compile`: call it like ``fn``; see the module docstring.

    ``stats``: traces, hits (replays), retraces and why, trace and code-generation seconds, and
    the size of the last recording. ``clear()`` empties the cache.
    """

    def __init__(self, fn: Callable[..., Any], *, check: bool = False, cache_size: int = 8) -> None:
        if not callable(fn):
            raise TypeError(f"compile(fn): fn must be callable, got {type(fn).__name__}")
        if cache_size < 1:
            raise ValueError(f"compile(cache_size={cache_size}): the cache must hold at least one recording")
        self.fn, self.check, self.cache_size = fn, check, cache_size
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn
        self._cache: OrderedDict[Any, list[_Entry]] = OrderedDict()
        self._lock = threading.Lock()
        self._misses = 0  # traces in a row without a replay
        self._warned: set[str] = set()
        self._stats: dict[str, Any] = {"traces": 0, "hits": 0, "eager_calls": 0, "trace_seconds": 0.0,
                                       "codegen_seconds": 0.0, "nodes": 0, "lines": 0, "guards": 0,
                                       "retrace_reasons": []}

    @property
    def stats(self) -> dict[str, Any]:
        """What the cache did so far (a copy)."""
        with self._lock:
            s = dict(self._stats)
            s["retrace_reasons"] = list(s["retrace_reasons"])
            s["entries"] = sum(len(v) for v in self._cache.values())
        return s

    def clear(self) -> None:
        """Drop every recording (the next call traces again)."""
        with self._lock:
            self._cache.clear()

    def __repr__(self) -> str:
        s = self.stats
        return (f"<compiled {self.__name__}: {s['entries']} recording(s), {s['traces']} trace(s), "
                f"{s['hits']} replay(s)>")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if E._mode.get() & ~E._SCOPED:  # no_grad, detect_anomaly, observers, a trace: eager semantics
            return self._eager(args, kwargs)
        call = _Call(args, kwargs)
        with self._lock:
            entries = list(self._cache.get(call.key, ()))
            if entries:
                self._cache.move_to_end(call.key)
        reason = "new arguments (structure, or the value of a constant argument)"
        for e in entries:
            if e.eager is not None:
                with self._lock:
                    self._stats["eager_calls"] += 1
                return self._eager(args, kwargs)
            why = e.paths.check(self.fn, call.objects)
            if why is not None:
                reason = why
                self._drop(call.key, e)
                continue
            try:
                res = e.run(call)
            except _MovedError as err:  # another recording (or a new trace) may fit these arrays
                reason = str(err)
                continue
            except Exception as err:  # the replay has no side effects: trace this call instead
                reason = f"the replay met what its trace did not ({type(err).__name__})"
                self._drop(call.key, e)
                continue
            if res is None:
                reason = "a comparison on a node came out the other way"
                continue
            out, targets, grads = res
            with self._lock:
                self._stats["hits"] += 1
                self._misses = 0
            if self.check:
                return self._verify(args, kwargs, out, targets, grads)
            _accumulate(targets, grads)
            return out
        return self._trace(call, args, kwargs, reason)

    def _eager(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        out = self.fn(*args, **kwargs)
        tokens, leaves = _flatten(out)
        _eager_backward(_root(leaves))
        return _data(tokens, leaves)

    def _drop(self, key: Any, entry: _Entry) -> None:
        with self._lock:
            entries = self._cache.get(key)
            if entries is not None and entry in entries:
                entries.remove(entry)
                if not entries:
                    del self._cache[key]

    def _trace(self, call: _Call, args: tuple[Any, ...], kwargs: dict[str, Any], reason: str) -> Any:
        """Run fn eagerly (the answer of this call), record it, check the recording against it."""
        t0 = time.perf_counter()
        guards: list[Any] = []
        before = _grads_before(self.fn, call)
        start = next(E._counter)
        tokens = _start_trace(guards)
        try:
            out = self.fn(*args, **kwargs)
        finally:
            _end_trace(tokens)
        out_tokens, out_leaves = _flatten(out)
        root = _root(out_leaves)
        written = [g for g in guards if type(g) is str] + _written(before)
        guards = [g for g in guards if type(g) is not str]
        grads = _eager_backward(root)
        t1 = time.perf_counter()
        try:
            entry = _record(self.fn, call, start, guards, out_tokens, out_leaves, root)
            bad = _validate(entry, call, out_leaves, grads)
            if written:
                entry.eager = (f"{written[0]}, which a replay cannot redo. To replay, keep "
                               "zero_grad(), backward(), parameter updates, random draws and "
                               "other state changes outside fn (pass a drawn mini-batch as an "
                               "argument)")
            elif bad is not None:
                entry.eager = f"its recording did not reproduce the eager result ({bad}); please report it"
            else:
                self._warn_once(_unseen(out_leaves, entry.paths.missing))
        except _UnsupportedError as err:
            entry = _Entry()
            entry.eager = str(err)
        if entry.eager is not None:
            self._warn_once(f"compile({self.__name__}): {entry.eager}; these calls run eagerly")
        self._remember(call.key, entry, reason, t1 - t0, time.perf_counter() - t1)
        return _data(out_tokens, out_leaves)

    def _remember(self, key: Any, entry: _Entry, reason: str, trace_s: float, gen_s: float) -> None:
        with self._lock:
            st = self._stats
            st["traces"] += 1
            st["trace_seconds"] += trace_s
            st["codegen_seconds"] += gen_s
            if entry.eager is None:
                st["nodes"], st["lines"], st["guards"] = entry.size, entry.lines, entry.guards
            if st["traces"] > 1:
                st["retrace_reasons"] = [*st["retrace_reasons"][-9:], reason]
            self._cache.setdefault(key, []).append(entry)
            self._cache.move_to_end(key)
            while sum(len(v) for v in self._cache.values()) > self.cache_size:
                oldest = next(iter(self._cache))
                self._cache[oldest].pop(0)
                if not self._cache[oldest]:
                    del self._cache[oldest]
            self._misses += 1
            streak = self._misses
        if streak == max(4, self.cache_size):  # tracing every call is slower than eager
            self._warn_once(f"compile({self.__name__}): traced {streak} calls in a row without a "
                            f"replay (last reason: {reason}); pass data that changes as Tensors or "
                            "Values, keep constants constant, or call fn without compile")

    def _verify(self, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any, targets: list[Node],
                grads: tuple[Any, ...]) -> Any:
        """check=True: run fn eagerly too (its result and gradients are the ones kept) and raise
        if the replay disagrees."""
        e_out = self.fn(*args, **kwargs)
        tokens, leaves = _flatten(e_out)
        eg = _eager_backward(_root(leaves))
        truth = _data(tokens, leaves)
        for k, (a, b) in enumerate(zip(_flatten(out)[1], _flatten(truth)[1])):
            if not _agree(a, b, rtol=1e-9):
                raise CompileCheckError(_mismatch(self.__name__, f"output {k}", a, b))
        for t, g in zip(targets, grads):
            if not _agree(g, eg.get(t), rtol=1e-9):
                raise CompileCheckError(_mismatch(self.__name__, f"the gradient of {_describe(t)}",
                                                  g, eg.get(t)))
        return truth

    def _warn_once(self, message: str | None) -> None:
        if message and message not in self._warned:
            self._warned.add(message)
            warnings.warn(message, CompileWarning, stacklevel=4)


def _root(leaves: list[Any]) -> Node | None:
    """The output backpropagated: the first node fn returns, if it is a scalar needing a gradient."""
    for x in leaves:
        if isinstance(x, Node):
            return x if x.requires_grad and _B.size(x.data) == 1 else None
    return None


def _accumulate(targets: list[Node], grads: tuple[Any, ...]) -> None:
    """Add the replay's gradients into ``.grad`` as backward does (leaves accumulate)."""
    E.store_grads([(t, E._accumulated(t, g)) for t, g in zip(targets, grads) if g is not None])


def _unseen(out_leaves: list[Any], missing: list[Node]) -> str | None:
    """The warning for what a replay would return or read unchanged from the trace, if any."""
    fixed = [x for x in out_leaves if isinstance(x, float | int | np.ndarray | np.generic)
             and not isinstance(x, bool)]
    parts = []
    if fixed:
        parts.append(f"fn returned {len(fixed)} number(s) or array(s) not computed by graph ops "
                     f"(e.g. {_short(fixed[0])}); replays return the first call's values: return nodes")
    if missing:
        parts.append(f"fn reads {len(missing)} leaf node(s) ({', '.join(map(_describe, missing[:3]))}) "
                     "not found in its arguments, closure or globals, so a replaced object would go "
                     "unseen: pass them as arguments")
    return "compile: " + "; ".join(parts) if parts else None


def _mismatch(name: str, what: str, replay: Any, eager: Any) -> str:
    return (f"compile({name}, check=True): {what} of the replay is {_short(replay)} but fn run eagerly "
            f"gives {_short(eager)}. fn depends on something compile cannot see: a node's data read "
            "in Python (.data, float(v), .item(), .grad), random numbers, or outside state. Compute it "
            "with graph ops or comparisons on nodes, pass it as an argument, or do not compile fn.")


def compile(fn: Callable[..., Any] | None = None, *, check: bool = False,
            cache_size: int = 8) -> Any:
    """Record the graph ``fn(*args)`` builds once, then replay it without building nodes.

    Calling the result returns what fn returns, as data (floats, arrays), and fills ``.grad`` of
    the leaves that require it, like ``output.backward()`` (the first node fn returns, when it is
    a scalar that requires grad). See the module docstring of `autograd_lite.transforms.compile`
    for what retraces and what cannot be seen; ``check=True`` runs fn eagerly too and raises
    `CompileCheckError` on any difference. Usable as ``@compile`` or ``@compile(check=True)``.

    Example:
        >>> from autograd_lite import Value, compile
        >>> a = Value(3.0)
        >>> step = compile(lambda: a * a + a)
        >>> step(), a.grad
        (12.0, 7.0)
        >>> step(), a.grad       # replayed: the gradient accumulates, as with backward()
        (12.0, 14.0)
    """
    if fn is None:
        return lambda f: Compiled(f, check=check, cache_size=cache_size)
    return Compiled(fn, check=check, cache_size=cache_size)
