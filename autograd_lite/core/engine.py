"""The graph core shared by `Value` and `Tensor`.

Everything here is written once against the node protocol (`Node`): the iterative topological
sort, the backward driver, broadcasting reduction, forward-mode tangent propagation, `no_grad`
and anomaly mode. Nothing in this module knows what a `Value` or a `Tensor` is.

Backward semantics (also in the README):

* ``y.backward()`` writes ``.grad`` on every node reachable from ``y`` that requires grad,
  intermediates included, so dL/dh can be read for any intermediate ``h``.
* Leaves (nodes built by the user, not by an op) *accumulate*: ``.grad += dy/dleaf``, so gradients
  of several graphs (mini-batches) add up until ``zero_grad``. Intermediates are *overwritten*.
* A graph can be backpropagated once. A second ``backward()`` through the same nodes (a re-run
  notebook cell) raises instead of silently doubling the leaves' gradients, unless the first call
  passed ``retain_graph=True`` (then it accumulates, exactly as asked).
* ``create_graph=True`` runs the same VJP rules on nodes, so the gradients are graphs themselves
  and can be differentiated again (it implies ``retain_graph=True``).
* All or nothing: if backward raises, no leaf gradient has changed and the graph is not marked.
* Memory: gradients in flight are dropped node by node; the graph lives while its output is held,
  and is freed by reference counting alone when it is dropped (no closures, no cycles).
"""

from __future__ import annotations

import contextvars
import functools
import gc
import heapq
import itertools
import linecache
import math
import operator
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Self, TypeVar

import numpy as np

from . import backend as _backend

__all__ = [
    "AnomalyError",
    "Node",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "observe",
    "push_tangents",
    "scope",
    "toposort",
    "unbroadcast",
    "zero_grad",
    "is_finite",
    "local_grads",
    "sweep",
]

F = TypeVar("F", bound=Callable[..., Any])

# One context variable holds both modes (bit flags), so the hot path reads it once per op.
_NO_GRAD = 1
_ANOMALY = 2
_SCOPED = 4
_OBSERVED = 8
_RECORD = 16  # autograd_lite.compile is tracing: results that need no gradient keep their inputs too
_mode: contextvars.ContextVar[int] = contextvars.ContextVar("autograd_lite_mode", default=0)
_scope: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "autograd_lite_scope", default=None)
_observers: contextvars.ContextVar[tuple[Callable[..., Any], ...]] = contextvars.ContextVar(
    "autograd_lite_observers", default=())
_counter = itertools.count()
# set by autograd_lite.compile while any trace runs: called as (node, op, other, result) by the
# comparisons of Node; None otherwise (one global read per comparison)
_on_compare: Callable[[Node, str, Any, Any], None] | None = None
# set by autograd_lite.compile while any trace runs, like `_on_compare`: told when zero_grad,
# backward or a micrograd-style hand step writes .grad (what a replay cannot redo)
_on_grad_write: Callable[[str], None] | None = None
_new = object.__new__
# Set by the transforms while they run the user's function: where user code turned a node into
# a plain number or array (float(), np.asarray, .item(), .detach()), to explain a zero gradient.
_escapes: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar(
    "autograd_lite_escapes", default=None)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Node._flags: 0, or the number of the backward pass that consumed the node (ran through it
# without retain_graph). A pass number, not a bit, so a failed pass can undo exactly its own marks.
_passes = itertools.count(1)
_HAND_STEPPED = -1  # Node._flags of a node stepped by hand with micrograd's `_backward()`


# --- the garbage-collector policy ----------------------------------------------------------------
# A graph has no reference cycles (plain slots, no closures): it is freed by reference counting
# alone. Yet every node is a container the cyclic collector tracks, so with the default young
# threshold (700) building a large graph runs a young collection every 700 nodes and, as the
# graph outgrows the older generations, full collections that walk the whole live graph again
# and again: a quarter of a scalar training step, three quarters of building a 10^6-node chain.
#
# Policy: at the start of each collection (a `gc.callbacks` hook, so no cost per op) the engine
# looks at how many nodes were created since the previous one. If nodes were at least half of
# what triggered it, a graph is being built: the young threshold is raised to `_GC_YOUNG`, and
# doubled at each later collection that finds the build going on, up to `_GC_YOUNG_MAX` (so a
# training loop whose previous graph is still alive while the next is built is not walked once
# per step); the middle threshold is multiplied by `_GC_MIDDLE` (a growing graph lands in the
# middle generation), the oldest is kept. At the first collection that finds the engine idle,
# the saved thresholds are put back exactly; if the program set other thresholds meanwhile, its
# setting stands and nothing is restored. Collection keeps running while raised: the program's
# own cyclic garbage is collected in batches of 10^5 to 10^6 allocations instead of 700 (10x
# more for cycles that outlived one young collection); correctness never depends on it.
# Thresholds are process-wide, so the state is too: one lock (never waited for inside the hook:
# it can run in any thread, in the middle of any allocation) guards the saved setting. Set
# `_GC_YOUNG = 0` to turn the policy off.
_GC_YOUNG = 100_000
_GC_YOUNG_MAX = 1_000_000
_GC_MIDDLE = 10
_gc_lock = threading.Lock()
_gc_saved: tuple[int, ...] | None = None  # the thresholds to put back; None: not raised
_gc_set: tuple[int, ...] = ()  # the thresholds the policy set last
_gc_mark = 0  # the creation counter at the previous collection


def _gc_policy(phase: str, info: dict[str, int]) -> None:
    """The `gc.callbacks` hook of the policy above."""
    global _gc_saved, _gc_set, _gc_mark
    if phase != "start" or not _gc_lock.acquire(blocking=False):
        return
    try:
        now = next(_counter)
        built, _gc_mark = now - _gc_mark, now
        current = gc.get_threshold()
        if _gc_saved is None:
            if 0 < current[0] < _GC_YOUNG and 2 * built >= current[0]:  # a graph is being built
                _gc_saved = current
                _gc_set = _gc_raised(current, _GC_YOUNG)
                gc.set_threshold(*_gc_set)
        elif current != _gc_set:  # the program set its own thresholds: they stand
            _gc_saved = None
        elif 2 * built < current[0]:  # idle: put the program's thresholds back
            gc.set_threshold(*_gc_saved)
            _gc_saved = None
        elif current[0] < _GC_YOUNG_MAX:  # still building: grow with the graph
            _gc_set = _gc_raised(_gc_saved, min(2 * current[0], _GC_YOUNG_MAX))
            gc.set_threshold(*_gc_set)
    finally:
        _gc_lock.release()


def _gc_raised(saved: tuple[int, ...], young: int) -> tuple[int, ...]:
    """The thresholds while building, from the program's: ``young``, middle times `_GC_MIDDLE`,
    oldest unchanged."""
    return (young, *(t * _GC_MIDDLE if i == 0 else t for i, t in enumerate(saved[1:])))


if _gc_policy not in gc.callbacks:
    gc.callbacks.append(_gc_policy)


class _GradMode:
    """Shared base of `no_grad` / `enable_grad`: a context manager and a decorator, with or
    without parentheses (``@no_grad`` works like ``@no_grad()``)."""

    _enabled = True

    def __new__(cls, fn: Callable[..., Any] | None = None) -> Any:
        self = super().__new__(cls)
        return self if fn is None else self(fn)  # bare ``@no_grad``: decorate at once

    def __enter__(self) -> None:
        self._token = _set_grad_mode(self._enabled)

    def __exit__(self, *exc: object) -> None:
        _mode.reset(self._token)

    def __call__(self, fn: F) -> F:
        enabled = self._enabled

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _set_grad_mode(enabled)
            try:
                return fn(*args, **kwargs)
            finally:
                _mode.reset(token)

        return wrapper  # type: ignore[return-value]


def _set_grad_mode(enabled: bool) -> contextvars.Token[int]:
    mode = _mode.get()
    return _mode.set(mode & ~_NO_GRAD if enabled else mode | _NO_GRAD)


class no_grad(_GradMode):  # noqa: N801  (lower case, like the context managers users know)
    """Disable graph recording, as a context manager or a decorator; per thread and per task.

    Example:
        >>> from autograd_lite import Value, no_grad
        >>> x = Value(2.0)
        >>> with no_grad():
        ...     y = x * 3
        >>> y.requires_grad, y.op
        (False, '')
    """

    _enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Re-enable graph recording inside a `no_grad` block.

    Example:
        >>> from autograd_lite import Value, no_grad, enable_grad
        >>> with no_grad():
        ...     with enable_grad():
        ...         y = Value(2.0) * 3
        >>> y.op
        'mul'
    """

    _enabled = True


def is_grad_enabled() -> bool:
    """True unless inside `no_grad` (in this thread / task).

    Example:
        >>> from autograd_lite import is_grad_enabled, no_grad
        >>> is_grad_enabled()
        True
    """
    return not _mode.get() & _NO_GRAD


class AnomalyError(FloatingPointError):
    """Raised by `detect_anomaly` when an op's result or gradient is NaN or infinite.

    ``err.node`` is the node whose forward result or backward gradient was not finite.

    Example:
        >>> from autograd_lite import AnomalyError, Value, detect_anomaly
        >>> with detect_anomaly():
        ...     try:
        ...         Value(float("inf")) * 0.0
        ...     except AnomalyError as err:
        ...         print(err.node.op)
        mul
    """


class detect_anomaly:  # noqa: N801
    """Check every forward result and every gradient for NaN/Inf and name the op that made it.

    Inside the block each new node remembers the line of user code that created it; the first
    non-finite value raises `AnomalyError` naming the op, summaries of its inputs and that line.
    The offending node is kept on the error (``err.node``) so `draw_graph` can highlight it.
    Each op also fingerprints the data it read; if an input's ``.data`` changed before backward
    (assignment, ``-=``, or an element write), backward raises a RuntimeError naming the op and
    that input. Costs a stack walk and a fingerprint per op: a debugging mode.

    Example:
        >>> from autograd_lite import Value, detect_anomaly, AnomalyError
        >>> try:
        ...     with detect_anomaly():
        ...         y = Value(1e308) * 10.0  # float overflow: silent without the mode
        ... except AnomalyError as err:
        ...     print(str(err).splitlines()[0])
        anomaly in forward of mul: result is inf
    """

    def __new__(cls, fn: Callable[..., Any] | None = None) -> Any:
        self = super().__new__(cls)
        return self if fn is None else self(fn)  # bare ``@detect_anomaly``, as ``@no_grad``

    def __enter__(self) -> None:
        self._token = _mode.set(_mode.get() | _ANOMALY)

    def __exit__(self, *exc: object) -> None:
        _mode.reset(self._token)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def is_anomaly_enabled() -> bool:
    """True inside `detect_anomaly` (in this thread / task).

    Example:
        >>> from autograd_lite import is_anomaly_enabled
        >>> is_anomaly_enabled()
        False
    """
    return bool(_mode.get() & _ANOMALY)


class scope:  # noqa: N801
    """Tag every node created inside the block with a scope (e.g. the `Module` that made it).

    ``node._meta["scope"]`` becomes the tuple of scope names from the outermost in, and
    ``node._meta["owners"]`` the matching objects; `draw_graph` draws each scope as a cluster.
    One dict is shared by all nodes of a block, so tagging costs no allocation per node.

    Example:
        >>> from autograd_lite import Value
        >>> from autograd_lite.core.engine import scope
        >>> x = Value(1.0)
        >>> with scope("layer1"):
        ...     y = x * 2
        >>> y._meta["scope"]
        ('layer1',)
    """

    def __init__(self, name: str, owner: Any = None) -> None:
        self.name = name
        self.owner = owner

    def __enter__(self) -> None:
        outer = _scope.get()
        path = (*outer["scope"], self.name) if outer else (self.name,)
        owners = (*outer["owners"], self.owner) if outer else (self.owner,)
        self._tokens = (_scope.set({"scope": path, "owners": owners}),
                        _mode.set(_mode.get() | _SCOPED))

    def __exit__(self, *exc: object) -> None:
        _mode.reset(self._tokens[1])
        _scope.reset(self._tokens[0])


class observe:  # noqa: N801
    """Route every rule call in the block through ``wrap(rule, kind, fn)``, which returns the
    callable to run instead of ``fn`` (``kind``: "forward", "vjp" or "jvp"); blocks nest; per
    thread and task.

    The work counter of `autograd_lite.tools.cost` is built on it; the scalar fast paths step
    aside while an observer is active, so every call is seen.

    Example:
        >>> from autograd_lite import Value
        >>> from autograd_lite.core.engine import observe
        >>> seen = []
        >>> def wrap(rule, kind, fn):
        ...     seen.append((rule.name, kind)); return fn
        >>> with observe(wrap):
        ...     y = Value(2.0) * 3.0
        >>> seen
        [('mul', 'forward')]
    """

    def __init__(self, wrap: Callable[[Any, str, Callable[..., Any]], Callable[..., Any]]) -> None:
        self.wrap = wrap

    def __enter__(self) -> None:
        self._tokens = (_observers.set((*_observers.get(), self.wrap)),
                        _mode.set(_mode.get() | _OBSERVED))

    def __exit__(self, *exc: object) -> None:
        _mode.reset(self._tokens[1])
        _observers.reset(self._tokens[0])


def _observed(rule: Any, kind: str) -> Callable[..., Any]:
    fn = getattr(rule, kind)
    for wrap in _observers.get():  # nested observers each see every call
        fn = wrap(rule, kind, fn)
    return fn


def _user_frame() -> str:
    """The innermost stack frame outside this package, as 'file:line: code'."""
    pkg = __file__.rsplit("/", 1)[0]
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not frame.filename.startswith(pkg):
            return f"{frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
    return "<unknown>"


def _escaped(route: str) -> None:
    """Note that user code took a node's data out of the graph by ``route`` ("float()", ...):
    a no-op unless a transform is running the user's function (see `_escapes`)."""
    seen = _escapes.get()
    if seen is None or len(seen) >= 3:  # a few places are enough to explain
        return
    frame = sys._getframe(2)  # the code that called float(x), np.asarray(x), x.item() ...
    path = frame.f_code.co_filename
    if path.startswith(_PACKAGE):
        return  # the package's own conversions cut nothing the user asked for
    line = linecache.getline(path, frame.f_lineno).strip()
    seen.append((route, f"{path}:{frame.f_lineno}" + (f": {line}" if line else "")))


def _summary(x: Any) -> str:
    d = x.data if isinstance(x, Node) else x
    if _backend.is_array_of_library(d):  # (an error message: a host copy is fine)
        d = _backend.to_numpy(d)
    if isinstance(d, np.ndarray):
        if d.size == 0:
            return f"array{d.shape} (empty)"
        with np.errstate(all="ignore"):
            return (
                f"array{d.shape} min={np.nanmin(d) if not np.isnan(d).all() else np.nan:.4g} "
                f"max={np.nanmax(d) if not np.isnan(d).all() else np.nan:.4g} "
                f"nan={int(np.isnan(d).sum())} inf={int(np.isinf(d).sum())}"
            )
    return repr(d)


def is_finite(x: Any) -> bool:
    """True unless ``x`` (a number, an array, or a node's data) holds a nan or an inf.

    Example:
        >>> from autograd_lite.core.engine import is_finite
        >>> is_finite(1.0), is_finite(float("inf")), is_finite([1.0, float("nan")])
        (True, False, False)
    """
    if type(x) is np.ndarray and x.dtype.kind == "f" and x.size:  # first: the rules' hot case
        # one reduction, no mask: a finite sum means every element is (an overflow falls through)
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(x, axis=None)
        if math.isfinite(total):
            return True
    if isinstance(x, Node):
        x = x.data
    if type(x) is float:
        return x - x == 0  # False for inf and nan
    if x is None or isinstance(x, int):
        return True
    if not isinstance(x, np.ndarray | np.generic | list | tuple):  # another array library
        if _backend.is_lazy(x) or not _backend.is_float(x):
            return True  # a lazy array is checked when it is computed (`autograd_lite.compute`)
        xp = _backend.namespace(x)
        return bool(xp.all(xp.isfinite(x)))
    a = np.asarray(x)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _anomaly_check(node: Node, where: str, value: Any, inputs: tuple[Any, ...], op: str) -> None:
    if is_finite(value):
        return
    v = value.data if isinstance(value, Node) else value
    kind = "nan" if np.isnan(_backend.to_numpy(v)).any() else "inf"
    meta = dict(node._meta or {})  # never mutate a dict shared by a scope
    what = "result" if where == "forward" else "gradient"
    lines = [
        f"anomaly in {where} of {op}: {what} is {kind}",
        "  inputs: " + ", ".join(_summary(p) for p in inputs),
        f"  created at: {meta.get('trace', '<not recorded: node built outside detect_anomaly()>')}",
        "  fix: look for log/sqrt/division at 0 or at negative values, exp overflow, or a too large "
        "learning rate; stable fused ops: log_sigmoid, softplus, logsumexp, log_softmax.",
    ]
    err = AnomalyError("\n".join(lines))
    err.node = node  # type: ignore[attr-defined]
    meta["anomaly"] = True
    node._meta = meta  # type: ignore[misc]  # (Value: its dict; Tensor: its slot)
    raise err


def _build(node: Any, data: Any, requires_grad: bool, rule: Any = None, a: Any = None, b: Any = None,
           more: tuple[Node, ...] | None = None, static: dict[str, Any] | None = None) -> Any:
    """The one node builder: fill every slot of a new node (a leaf when ``rule`` is None)."""
    node._flags = 0
    node._g = None
    node.data = data
    node.grad = node._grad0
    node.requires_grad = requires_grad
    node._a = a
    node._b = b
    if not node._dict_extras:  # slots, which must be set (Tensor)
        node.label = node._meta = None
        node._more = more
    elif more is not None:  # else the class default, None, stands (Value)
        node._more = more
    # the data objects the op read, so backward can tell a reassigned ``.data`` (see Node);
    # slots nobody will read stay unset (a leaf's, a one-input op's _bd)
    if a is not None:
        node._ad = a.data
        if b is not None:
            node._bd = b.data
    elif more is not None:
        node._ad = tuple(x.data for x in more)
    node._rule = rule
    node._static = static
    node._id = next(_counter)
    return node


# the node attributes a Value keeps in its instance dict when set (see `Node`); not client state
_DICT_EXTRAS = frozenset(("label", "_more", "_meta"))


class Node:
    """The node protocol shared by `Value` and `Tensor`.

    Plain slots, no closures: a node holds its data, its gradient, its parents, the rule that made
    it and the rule's static (keyword-only) arguments. A dropped graph is freed by reference
    counting at once. ``_id`` is the creation number: creation order is a topological order, which
    makes every graph walk deterministic.

    Parents are ordered: ``_parents`` gives them as a tuple. They are stored inline (``_a``, ``_b``
    for the one- and two-input ops that make almost every graph; ``_more`` holds the tuple of a
    wider op), so a node is one object for the garbage collector instead of two: on a scalar graph
    that halves the time Python's collector spends walking it.

    ``.data`` is a plain slot read by every op, so the graph keeps references, not copies. Each op
    node also keeps the data objects it read (``_ad``, ``_bd``; a tuple in ``_ad`` for a wider
    op): reassigning ``x.data = ...`` between forward and backward is always detected, and
    backward raises an error naming the op and the input (unless the new value equals the old
    one). That costs a pointer compare per edge. Writes *into* an array (``t.data[0] = 1``, and
    ``t.data -= ...``, which numpy does in place) keep the object, so only `detect_anomaly` sees
    them: there each op fingerprints the bytes it read. Optimizers update after backward, which is
    safe.

    ``_g`` holds the node's gradient while a plain backward sweep sums it; None otherwise.
    """

    __slots__ = (
        "_a",
        "_ad",
        "_b",
        "_bd",
        "_flags",
        "_g",
        "_id",
        "_rule",
        "_static",
        "data",
        "grad",
        "requires_grad",
    )

    data: Any
    grad: Any
    requires_grad: bool
    _a: Node | None
    _b: Node | None
    _ad: Any
    _bd: Any
    _rule: Any
    _static: dict[str, Any] | None
    _id: int
    _flags: int
    _g: Any

    # Rarely set, so not slots here: the class default stands until a node sets its own. A Value
    # keeps one it sets in its instance dict (made only then), so a plain op node is three slot
    # writes and 24 bytes lighter (about a tenth of a scalar training step, measured); Tensor
    # declares them as slots, which `_build` always fills (see `_dict_extras`). (`_static` stays a
    # slot: `x ** 2` has one, and a dict per such node would cost more than the slot.)
    label: str | None = None
    _more: tuple[Node, ...] | None = None
    _meta: dict[str, Any] | None = None
    _dict_extras = True  # the three above live in the instance dict (Value); False: in slots

    # --- hooks the concrete node types provide -------------------------------------------------
    _broadcasts = False  # Tensor: True (gradients are reduced to the parent's shape)
    _grad0: Any = None  # the "no gradient yet" value: 0.0 for Value, None for Tensor

    @classmethod
    def _constant(cls, data: Any) -> Node:  # pragma: no cover - overridden
        raise NotImplementedError

    def _seed(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _zero_tangent(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check_seed(self, gradient: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    @staticmethod
    def _nonfinite(rule: Any, inputs: tuple[Node, ...], out: Any) -> None:
        """Called when a scalar op's result is inf or nan (Value warns about overflow)."""

    if TYPE_CHECKING:  # generated from the rule table (`defrule`); declared here for type checkers
        def exp(self) -> Self: ...
        def log(self) -> Self: ...
        def sqrt(self) -> Self: ...
        def tanh(self) -> Self: ...
        def sigmoid(self) -> Self: ...
        def log_sigmoid(self) -> Self: ...
        def softplus(self) -> Self: ...
        def relu(self) -> Self: ...
        def abs(self) -> Self: ...
        def sign(self) -> Self: ...
        def sin(self) -> Self: ...
        def cos(self) -> Self: ...

    # --- shared behaviour ------------------------------------------------------------------------
    @property
    def _parents(self) -> tuple[Node, ...]:
        """The parents, in order, as a tuple (empty for leaves and constants)."""
        a = self._a
        if a is None:
            return self._more or ()
        b = self._b
        return (a,) if b is None else (a, b)

    @classmethod
    def _leaf(cls, data: Any, requires_grad: bool) -> Any:
        """A new leaf of ``cls`` holding ``data`` (no validation: the caller has done it)."""
        return _build(_new(cls), data, requires_grad)

    @classmethod
    def _apply(cls, rule: Any, inputs: tuple[Node, ...], static: dict[str, Any] | None = None) -> Any:
        """Run ``rule`` forward on the inputs' data and record the result as a node of ``cls``.

        The general path of every op (any arity, static arguments, every mode); `Value` builds its
        plain-mode one- and two-input nodes with `_build` directly.
        """
        n = len(inputs)
        a = b = more = None
        mode = _mode.get()
        forward = _observed(rule, "forward") if mode & _OBSERVED else rule.forward
        try:  # zero-cost unless numpy raises: then a message naming the op and the shapes
            if n == 2:
                a, b = inputs
                out = forward(a.data, b.data, **static) if static else forward(a.data, b.data)
                track = a.requires_grad or b.requires_grad
            elif n == 1:
                a = inputs[0]
                out = forward(a.data, **static) if static else forward(a.data)
                track = a.requires_grad
            else:
                more = tuple(inputs)
                datas = [x.data for x in inputs]
                out = forward(*datas, **static) if static else forward(*datas)
                track = any(x.requires_grad for x in inputs)
        except (TypeError, ValueError, RuntimeError) as err:
            if isinstance(err, ValueError | RuntimeError) and (
                    "broadcast" in str(err) or "must match the size" in str(err)):  # numpy's, torch's
                raise _broadcast_error(rule.name, inputs) from None
            if isinstance(err, RuntimeError):
                raise
            # another library's dtype has no .kind: its casting errors are re-raised as they are
            kinds = {getattr(getattr(x.data, "dtype", None), "kind", "f") for x in inputs}
            if kinds & set("iub"):  # numpy's casting / boolean-arithmetic errors, said plainly
                raise _dtype_error(rule.name, inputs) from None
            raise
        if cls._broadcasts:
            if type(out) is not np.ndarray and isinstance(out, np.generic | float | int):
                out = np.asarray(out)  # numpy returns scalars for 0-d results
        elif out - out != 0.0 and not mode & _ANOMALY:  # a scalar inf or nan (numpy warns for
            cls._nonfinite(rule, inputs, out)  # arrays; Values say so here; anomaly mode raises)
        if track and not mode & _NO_GRAD:
            node = _build(_new(cls), out, True, rule, a, b, more, static)
        elif mode & _RECORD:  # no gradient flows here (requires_grad False), but the replay needs it
            node = _build(_new(cls), out, False, rule, a, b, more, static)
        else:
            node = _build(_new(cls), out, False)
        if mode & _SCOPED:
            node._meta = _scope.get()  # shared by every node of one module call: no allocation
        if mode & _ANOMALY:
            node._meta = {**(node._meta or {}), "trace": _user_frame(), "op": rule.name}
            if node._rule is not None:
                node._meta["read"] = tuple(_fingerprint(x.data) for x in inputs)
            _anomaly_check(node, "forward", out, inputs, rule.name)
        return node

    # comparisons read the data (a bool for Value, a bool array for Tensor); == stays identity.
    # While `autograd_lite.compile` traces, `_on_compare` sees each result (a guard to re-check).
    def __lt__(self, other: Any) -> Any:
        out = self.data < (other.data if isinstance(other, Node) else other)
        if _on_compare is not None:
            _on_compare(self, "<", other, out)
        return out

    def __le__(self, other: Any) -> Any:
        out = self.data <= (other.data if isinstance(other, Node) else other)
        if _on_compare is not None:
            _on_compare(self, "<=", other, out)
        return out

    def __gt__(self, other: Any) -> Any:
        out = self.data > (other.data if isinstance(other, Node) else other)
        if _on_compare is not None:
            _on_compare(self, ">", other, out)
        return out

    def __ge__(self, other: Any) -> Any:
        out = self.data >= (other.data if isinstance(other, Node) else other)
        if _on_compare is not None:
            _on_compare(self, ">=", other, out)
        return out

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickle and ``copy`` support: a leaf becomes a new leaf (data, grad, requires_grad,
        label); the result of an op is refused with the fix, as PyTorch does, since its graph
        (rule functions, every input, maybe 10^5 nodes deep) is not data."""
        if self._a is not None or self._more is not None:
            shape = f" of shape {self.data.shape}" if isinstance(self.data, np.ndarray) else ""
            raise TypeError(
                f"cannot pickle or copy the result of '{self.op}' (a {type(self).__name__}{shape} "
                "made by an op): it carries its whole graph. Call .detach() to keep its data as a "
                "new leaf; leaves (inputs, parameters) and modules pickle and copy fine.")
        grad = self.grad
        if isinstance(grad, Node):  # a create_graph gradient: keep its numbers
            grad = grad.data
        state = {k: v for k, v in getattr(self, "__dict__", {}).items()  # what a client attached
                 if k not in _DICT_EXTRAS} or None
        return _restore, (type(self), self.data, grad, self.requires_grad, self.label), state

    @property
    def op(self) -> str:
        """Name of the rule that made this node ('' for a leaf or a constant)."""
        return self._rule.name if self._rule is not None else ""

    # --- micrograd's view of a node: _prev, _op, _backward -------------------------------------
    @property
    def _prev(self) -> set[Node]:
        """The parents as a set, micrograd's name for them (``_parents`` keeps their order)."""
        return set(self._parents)

    @property
    def _op(self) -> str:
        """The op in micrograd's notation (``'+'``, ``'*'``, ``'**2'``, ``'ReLU'``); '' for a leaf."""
        rule = self._rule
        if rule is None:
            return ""
        symbol = rule.symbol
        return symbol if isinstance(symbol, str) else symbol(**(self._static or {}))

    @property
    def _backward(self) -> Callable[[], None]:
        """micrograd's backprop step of this node (`_step`). Setting it to a closure
        (``out._backward = fn``) is micrograd's way to add an op, see ``Value``."""
        return self._step

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        self._set_closure(fn)

    def _set_closure(self, fn: Callable[[], None]) -> None:
        raise TypeError(
            f"{type(self).__name__}._backward = ...: a gradient closure is micrograd's way to add an "
            "op to a scalar Value; for a Tensor op add a rule to the table with "
            "autograd_lite.core.rules.defrule (forward, vjp, jvp)")

    def _step(self) -> None:
        """micrograd's ``_backward()``: add this node's local gradients times ``self.grad`` into
        its parents' ``.grad`` (so calling it twice adds twice, as in micrograd). Marks the node:
        a later ``backward()`` through it raises instead of adding the same gradients again."""
        rule = self._rule
        if rule is None or self.grad is None:  # a leaf, or no gradient to pass on yet
            return
        if _on_grad_write is not None:
            _on_grad_write("a hand step _backward()")
        own_step = getattr(rule, "step", None)
        token = _mode.set(_mode.get() | _NO_GRAD)
        try:
            if own_step is not None:  # a user closure (micrograd's pattern) is its own step
                own_step()
                grads: tuple[Any, ...] = ()
            else:
                grads = local_grads(self, self.grad)
        finally:
            _mode.reset(token)
        self._flags = self._flags or _HAND_STEPPED
        for p, pg in zip(self._parents, grads):
            if pg is not None and p.requires_grad:
                p.grad = pg if p.grad is None else p.grad + pg

    @property
    def is_leaf(self) -> bool:
        """True for nodes built by the user (no parents in the graph)."""
        return self._a is None and self._more is None

    def backward(self, gradient: Any = None, *, retain_graph: bool = False,
                 create_graph: bool = False, intermediate_grads: bool = True) -> None:
        """Backpropagate from this node; see `autograd_lite.core.engine.backward` for the semantics."""
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                 intermediate_grads=intermediate_grads)

    def zero_grad(self) -> None:
        """Reset the gradient of every node reachable from this one (leaves included)."""
        zero_grad(toposort(self))


def _restore(cls: type, data: Any, grad: Any, requires_grad: bool, label: str | None) -> Node:
    """Rebuild a pickled or copied leaf (see `Node.__reduce_ex__`)."""
    node = _build(_new(cls), data, requires_grad)
    node.grad = grad
    if label is not None:  # (a Value's None is its class default: no dict made for it)
        node.label = label
    return node


def toposort(*roots: Node) -> list[Node]:
    """All nodes reachable from ``roots``, parents before children, in creation order.

    Iterative (an explicit stack), so graphs of millions of nodes work at the default recursion
    limit. Creation order is a topological order because a node is always created after its
    parents; sorting by it makes the walk deterministic.

    Example:
        >>> from autograd_lite import Value
        >>> from autograd_lite.core.engine import toposort
        >>> x = Value(2.0, label="x"); y = x * x + 1
        >>> [n.op or n.label for n in toposort(y)]
        ['x', 'mul', None, 'add']
    """
    seen: set[Node] = set(roots)
    stack = list(seen)
    add = seen.add
    push = stack.append
    pop = stack.pop
    while stack:
        node = pop()
        a = node._a
        if a is not None:  # inline parents (one or two inputs)
            if a not in seen:
                add(a)
                push(a)
            b = node._b
            if b is not None and b not in seen:
                add(b)
                push(b)
        elif node._more is not None:
            for p in node._more:
                if p not in seen:
                    add(p)
                    push(p)
    out = list(seen)
    out.sort(key=_creation)
    return out


_creation = operator.attrgetter("_id")


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Reduce a gradient ``g`` to ``shape`` by summing the axes broadcasting added or stretched.

    Works on ndarrays and on Tensor nodes (both have ``.shape``, ``.sum`` and ``.reshape``).

    Example:
        >>> import numpy as np
        >>> from autograd_lite.core.engine import unbroadcast
        >>> unbroadcast(np.ones((2, 3)), (1, 3))
        array([[2., 2., 2.]])
    """
    gshape = g.shape
    if gshape == shape:
        return g
    if type(g) is np.ndarray and len(gshape) == len(shape) + 1 and gshape[1:] == shape:
        return _add_reduce(g, 0)  # the common case, a bias on every row: g.sum(axis=0) minus its wrapper
    if not isinstance(g, np.ndarray) and not hasattr(g, "_rule"):  # not numpy, not a node
        return _unbroadcast_other(g, tuple(shape))
    if len(gshape) == len(shape) + 1 and gshape[1:] == shape:
        return g.sum(axis=0)
    axes = summed_axes(gshape, shape)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


_add_reduce = np.add.reduce


def summed_axes(gshape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of a gradient of shape ``gshape`` that `unbroadcast` sums (keeping them) to
    reach ``shape``: the leading ones broadcasting added, and those it stretched from 1.

    Example:
        >>> summed_axes((4, 2, 3), (2, 1))
        (0, 2)
    """
    extra = len(gshape) - len(shape)
    if extra < 0:
        raise ValueError(f"cannot reduce a gradient of shape {gshape} to the larger shape {shape}")
    return tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and gshape[extra + i] != 1)


def _unbroadcast_other(g: Any, shape: tuple[int, ...]) -> Any:
    """`unbroadcast` on another library's array (the array API's sum and reshape)."""
    xp = _backend.namespace(g)
    gshape = tuple(g.shape)
    if gshape == shape:
        return g
    axes = summed_axes(gshape, shape)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    return xp.reshape(g, shape)


def backward(root: Node, gradient: Any = None, *, retain_graph: bool = False,
             create_graph: bool = False, intermediate_grads: bool = True) -> None:
    """Reverse-mode sweep from ``root``: write ``.grad`` on every reachable node needing one.

    Args:
        root: the output to differentiate.
        gradient: the cotangent to seed (same shape as ``root``); ``None`` seeds 1 for a scalar.
        retain_graph: allow a later backward through the same nodes (then leaves accumulate).
        create_graph: make the gradients graph nodes themselves, to differentiate them again.
        intermediate_grads: also store ``.grad`` on intermediates (default); ``False`` keeps only
            the leaves' gradients, to save memory on big Tensor graphs.

    Leaves accumulate into ``.grad``; intermediates are overwritten (see the module docstring).
    The sweep is all or nothing for the leaves: if it raises (a consumed graph, changed data, an
    anomaly), no leaf gradient has changed and the graph is not marked as backpropagated.
    Memory: each gradient in flight is dropped as soon as its node is done; with
    ``intermediate_grads=False`` no gradient buffer outlives the sweep except the leaves'. The
    graph itself lives as long as you hold its output (to draw it, or read intermediate grads).

    Example:
        >>> from autograd_lite import Value
        >>> x = Value(3.0); h = x * x; y = h + x
        >>> y.backward()
        >>> x.grad, h.grad
        (7.0, 1.0)
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward(): this output does not depend on anything that requires grad "
            "(was it built under no_grad(), from detached nodes, or from Tensors created without "
            "requires_grad=True?). Build it from nodes with requires_grad=True, outside no_grad().")
    seed = root._seed() if gradient is None else root._check_seed(gradient)
    if _on_grad_write is not None:
        _on_grad_write("backward()")
    if create_graph:
        retain_graph = True
    consume = 0 if retain_graph else next(_passes)
    grads = sweep({root: seed}, consume=consume, keep=intermediate_grads,
                  create_graph=create_graph, root=root)
    try:  # every new leaf gradient first (this may fail: a stale .grad), then assign them all
        new = [(leaf, g if leaf.grad is None else _accumulated(leaf, g)) for leaf, g in grads.items()]
    except BaseException:
        if consume:  # nothing was written: the graph can be backpropagated again
            for node in toposort(root):
                if node._flags == consume:
                    node._flags = 0
        raise
    store_grads(new)


def store_grads(pairs: list[tuple[Node, Any]]) -> None:
    """``leaf.grad = total`` for each (leaf, total); an array already given to another leaf is
    copied first. add hands one gradient to both inputs: without the copy, clipping or scaling
    one leaf's .grad in place would change another's too (PyTorch gives each its own tensor)."""
    if len({id(total) for _, total in pairs}) < len(pairs):  # (rare: then find the shared ones)
        given: set[int] = set()
        out = []
        for leaf, total in pairs:
            if id(total) in given and not isinstance(total, float | int | Node):
                total = total.copy() if hasattr(total, "copy") else total.clone()
            given.add(id(total))
            out.append((leaf, total))
        pairs = out
    for leaf, total in pairs:
        leaf.grad = total


def _accumulated(leaf: Node, g: Any) -> Any:
    """``leaf.grad + g``, refusing a stale ``.grad`` of another shape (it would broadcast)."""
    old = leaf.grad
    if old is None:
        return g
    if leaf._broadcasts or not isinstance(old, float):
        shape, new_shape = np.shape(old.data if isinstance(old, Node) else old), np.shape(
            g.data if isinstance(g, Node) else g)
        if shape != new_shape:
            name = f"'{leaf.label}'" if leaf.label else "a leaf"
            raise ValueError(
                f"backward(): {name} of shape {np.shape(leaf.data)} holds a .grad of shape {shape}, "
                f"but its new gradient has shape {new_shape}; adding them would broadcast into a "
                "wrong gradient. Was .grad set by hand, or .data reshaped after an earlier backward? "
                "Call zero_grad() (or set .grad = None) before this backward().")
    return old + g


def sweep(seeds: dict[Node, Any], *, consume: int | None = None, keep: bool = False,
          create_graph: bool = False, root: Node | None = None,
          relevant: set[Node] | None = None, report: set[Node] | None = None) -> dict[Node, Any]:
    """The one reverse sweep: push the ``seeds`` ({output: cotangent}) back through the VJP rules.

    Returns {leaf: gradient} for the leaves reached (the caller decides whether to accumulate
    them into ``.grad``), plus the gradient of every intermediate in ``report``. ``consume`` is the
    pass number that marks each processed node (0: retained; None: transforms, neither checked nor
    marked); ``keep`` writes ``.grad`` on intermediates (and ``root`` always gets its seed);
    ``relevant`` restricts the sweep to those nodes. If it raises, this pass's marks are undone,
    so the graph can be backpropagated again. One- and two-input ops on raw data take an unrolled
    fast path; create_graph, anomaly mode, observers and ``relevant`` take the general one.
    """
    mode = _mode.get()
    anomaly = mode & _ANOMALY
    if create_graph:
        seeds = {o: s if isinstance(s, Node) else type(o)._constant(s) for o, s in seeds.items()}
    if anomaly:
        for s in seeds.values():
            if not is_finite(s):
                raise AnomalyError(f"anomaly in backward: the seed gradient= given to backward() is "
                                   f"not finite ({_summary(s)}); pass a finite gradient")
    token = _mode.set(mode & ~_NO_GRAD if create_graph else mode | _NO_GRAD)
    fast = not (create_graph or anomaly or mode & _OBSERVED or relevant is not None)
    try:
        if fast and report is None and consume is not None and _slots_free.acquire(blocking=False):
            try:
                return _run_fast(seeds, consume, keep, root)
            finally:
                _slots_free.release()
        return _run(dict(seeds), consume, keep, create_graph, root, relevant, report)
    except BaseException:
        if consume:  # undo this pass's marks: the graph can be backpropagated again
            for node in toposort(*seeds):
                if node._flags == consume:
                    node._flags = 0
        raise
    finally:
        _mode.reset(token)


def _run(pending: dict[Node, Any], consume: int | None, keep: bool, create_graph: bool,
         root: Node | None, relevant: set[Node] | None, report: set[Node] | None) -> dict[Node, Any]:
    """The general loop of `sweep` (see there); ``pending`` ends holding the leaves' gradients.

    No topological sort first: the ops holding a gradient wait in a heap keyed by creation number,
    and the newest is taken next. A node is created after its parents, so when a node is taken
    every node it feeds has been taken already and its gradient is complete. The order is the
    one a sweep over the sorted graph would take, so results are bit for bit the same; only the
    nodes that get a gradient are touched. Every node goes through `local_grads` (modes,
    observers, graphs of gradients); plain backward takes `_run_fast`, the same sweep written out.
    """
    pop = pending.pop
    get = pending.get
    found: dict[Node, Any] = {}
    waiting = {-n._id: n for n in pending if n._a is not None or n._more is not None}
    heap = list(waiting)
    heapq.heapify(heap)
    take = waiting.pop
    push = heapq.heappush
    next_key = heapq.heappop
    node = take(next_key(heap)) if heap else None
    while node is not None:
        g = pop(node)
        if consume is not None:
            if node._flags:
                raise _consumed_error(node)
            node._flags = consume
        if keep or node is root:
            node.grad = g
        if report is not None and node in report:
            found[node] = g
        grads = local_grads(node, g, create_graph=create_graph)
        for p, pg in zip(node._parents, grads):
            if pg is None or not (p.requires_grad if relevant is None else p in relevant):
                continue
            old = get(p)
            if old is None:
                pending[p] = pg
                if p._a is not None or p._more is not None:
                    waiting[-p._id] = p
                    push(heap, -p._id)
            else:
                pending[p] = old + pg
        node = take(next_key(heap)) if heap else None
    if report:
        found.update((n, g) for n, g in pending.items() if n in report)
    return pending if report is None else found


# At most one sweep at a time sums gradients in the nodes' `_g` slots: a sweep in another thread,
# or one started by a rule inside a sweep, runs `_run` instead (its own dict), so none can see
# another's partial sums. (Scalar sweeps hold the GIL throughout; numpy's release it, so a Tensor
# sweep that finds the slots taken is not kept waiting.)
_slots_free = threading.Lock()


def _run_fast(seeds: dict[Node, Any], consume: int, keep: bool, root: Node | None) -> dict[Node, Any]:
    """`_run` for a plain backward (no mode, observer or restriction); returns {leaf: gradient}.

    The same order and arithmetic as `_run`, so the same bits, written out for one- and two-input
    ops on raw data, with add and mul inline (their VJPs (g, g) and (g·y, g·x), as in the table)
    and a scalar's relu (g·1{x > 0}).
    The gradient flowing into an op is summed in the op's own `_g` slot instead of a dict keyed by
    node: a fifth off a scalar MLP's sweep (measured). A leaf's sum waits in its slot too, but
    the sweep only returns it: the caller adds it into ``.grad`` once the whole sweep has
    succeeded. Outside a sweep every ``_g`` is None; a sweep that raises restores that before
    re-raising. Written out per input, not as a loop over (parent, gradient) pairs: that loop
    cost more than the slots saved.
    """
    leaves: list[Node] = []  # in the order of their first gradient
    waiting: dict[int, Node] = {}
    for n, s in seeds.items():
        n._g = s
        if n._a is not None or n._more is not None:
            waiting[-n._id] = n
        else:
            leaves.append(n)
    heap = list(waiting)
    heapq.heapify(heap)
    reached = leaves.append
    take = waiting.pop
    push = heapq.heappush
    next_key = heapq.heappop
    add_rule, mul_rule, relu_rule = _inline_rules["add"], _inline_rules["mul"], _inline_rules["relu"]
    # a graph holds one kind of node (Values and Tensors never meet in an op): read the class
    # attribute once, not per edge (a full attribute lookup each time)
    broadcasts = next(iter(seeds))._broadcasts
    node = take(next_key(heap)) if heap else None
    try:
        while node is not None:
            g = node._g
            node._g = None
            if node._flags:
                raise _consumed_error(node)
            node._flags = consume
            if keep or node is root:
                node.grad = g
            a = node._a
            if a is None:  # three or more inputs (concat; micrograd's Value(d, (x, y, z)))
                _spread(node, local_grads(node, g), leaves, waiting, heap)
                best = None
            else:
                b = node._b
                rule = node._rule
                ad = a.data
                if ad is not node._ad:
                    _check_read(node, a, node._ad)
                if b is None:
                    if rule is relu_rule and not broadcasts:  # a scalar's relu: g·1{x > 0}, inline
                        ga = g * (1.0 if ad > 0 else 0.0)
                    else:
                        static = node._static
                        (ga,) = rule.vjp(g, node.data, ad, **static) if static else rule.vjp(g, node.data, ad)
                    gb = None
                else:
                    bd = b.data
                    if bd is not node._bd:
                        _check_read(node, b, node._bd)
                    if rule is add_rule:
                        ga = gb = g
                    elif rule is mul_rule:
                        ga = g * bd
                        gb = g * ad
                    else:
                        static = node._static
                        if rule.need:
                            static = {**(static or {}), "need": (a.requires_grad, b.requires_grad)}
                        ga, gb = (rule.vjp(g, node.data, ad, bd, **static) if static
                                  else rule.vjp(g, node.data, ad, bd))
                best = None  # the newest op that got its first gradient just now
                if ga is not None and a.requires_grad:
                    if broadcasts and ga.shape != ad.shape:
                        ga = unbroadcast(ga, ad.shape)
                    old = a._g
                    if old is not None:
                        a._g = old + ga
                    else:
                        a._g = ga
                        if a._a is not None or a._more is not None:  # an op: it waits its turn
                            best = a
                        else:
                            reached(a)
                if gb is not None and b is not None and b.requires_grad:
                    if broadcasts and gb.shape != bd.shape:
                        gb = unbroadcast(gb, bd.shape)
                    old = b._g
                    if old is not None:
                        b._g = old + gb
                    else:
                        b._g = gb
                        if b._a is not None or b._more is not None:
                            if best is None or b._id > best._id:
                                best, b = b, best
                            if b is not None:
                                waiting[-b._id] = b
                                push(heap, -b._id)
                        else:
                            reached(b)
            if best is not None:
                if not heap or -best._id < heap[0]:  # newer than all that waits: it is next
                    node = best
                    continue
                waiting[-best._id] = best
                push(heap, -best._id)
            node = take(next_key(heap)) if heap else None
        out = {}
        for n in leaves:  # inside the try: an interrupt here must not leave a stale sum behind
            out[n] = n._g
            n._g = None
    except BaseException:
        for n in toposort(*seeds):
            n._g = None
        raise
    return out


def _spread(node: Node, grads: tuple[Any, ...], leaves: list[Node], waiting: dict[int, Node],
            heap: list[int]) -> None:
    """`_run_fast` for an op of three or more inputs: each parent's share, into its `_g` (an op
    is queued on its first gradient, a leaf listed)."""
    for p, pg in zip(node._parents, grads):
        if pg is None or not p.requires_grad:
            continue
        old = p._g
        if old is not None:
            p._g = old + pg
        else:
            p._g = pg
            if p._a is not None or p._more is not None:
                waiting[-p._id] = p
                heapq.heappush(heap, -p._id)
            else:
                leaves.append(p)


# rules.ADD, rules.MUL and rules.RELU, registered by the rule table (which imports this module)
# for `_run_fast`
_inline_rules: dict[str, Any] = {"add": None, "mul": None, "relu": None}


def _register_inline(rule: Any) -> None:
    """Called by `autograd_lite.core.rules` with each entry `_run_fast` applies inline."""
    if rule.name not in _inline_rules:
        raise ValueError(f"_run_fast has no inline form of {rule.name!r}")
    _inline_rules[rule.name] = rule


def local_grads(node: Node, g: Any, *, create_graph: bool = False) -> tuple[Any, ...]:
    """What ``node`` sends back to each of its parents for the incoming gradient ``g``: its rule's
    VJP, each result reduced to its parent's shape (``None``: no gradient to that parent).

    Inside `detect_anomaly` it also checks that the inputs' data did not change since the forward
    pass and that every result is finite. `sweep` uses it, and the graph renderer's edge labels.

    Example:
        >>> from autograd_lite import Value
        >>> from autograd_lite.core.engine import local_grads
        >>> x = Value(3.0); y = x * 2.0
        >>> local_grads(y, 1.0)
        (2.0, 3.0)
    """
    parents = node._parents
    rule = node._rule
    static = node._static or {}
    if rule.need:
        static = {**static, "need": tuple(p.requires_grad for p in parents)}
    _check_reads(node, parents)
    mode = _mode.get()
    anomaly = mode & _ANOMALY
    if anomaly:
        _check_unchanged(node, parents)
    vjp = _observed(rule, "vjp") if mode & _OBSERVED else rule.vjp
    if create_graph:
        try:
            grads = vjp(g, node, *parents, **static)
        except AnomalyError as err:  # a node of the gradient graph: say whose gradient it is
            raise _in_gradient_graph(node, err) from None
    else:
        grads = vjp(g, node.data, *[p.data for p in parents], **static)
    if node._broadcasts:
        grads = tuple(pg if pg is None or pg.shape == p.data.shape else unbroadcast(pg, p.data.shape)
                      for p, pg in zip(parents, grads))
    if anomaly:
        for pg in grads:
            if pg is not None:
                _anomaly_check(node, "backward", pg, parents, node.op)
    return tuple(grads)


def _consumed_error(node: Node) -> RuntimeError:
    if node._flags == _HAND_STEPPED:
        return RuntimeError(
            f"backward(): '{node.op}' was already stepped by hand with _backward(), which added its "
            "gradients into its inputs; backward() would add them again. Rebuild the graph (re-run "
            "the forward pass) before calling backward(), or keep stepping by hand.")
    return RuntimeError(
        f"backward(): the graph through '{node.op}' was already backpropagated; a second pass "
        "would add the same gradients to the leaves again. Recompute the forward pass (and call "
        "zero_grad()), or pass retain_graph=True to the first backward() if you really want the "
        "gradients to accumulate.")


def _in_gradient_graph(node: Node, err: AnomalyError) -> AnomalyError:
    new = AnomalyError(f"anomaly in backward of {node.op} (building the gradient graph): {err}")
    new.node = err.node  # type: ignore[attr-defined]
    return new


def _fingerprint(d: Any) -> Any:
    """What an op read, cheaply comparable later: a float itself; for an array its shape, dtype
    and a hash of its bytes (so element writes are seen too). Only taken inside detect_anomaly."""
    if isinstance(d, np.ndarray):
        return d.shape, d.dtype.str, hash(d.tobytes())
    if hasattr(d, "shape") and not isinstance(d, np.generic) and not _backend.is_lazy(d):
        return tuple(d.shape), str(d.dtype), hash(_backend.to_numpy(d).tobytes())  # a host copy
    return d


def _check_unchanged(node: Node, parents: tuple[Node, ...]) -> None:
    """Inside detect_anomaly: raise if an input's data changed since ``node`` read it."""
    read = (node._meta or {}).get("read")
    if read is None:
        return  # built outside detect_anomaly: nothing was recorded
    for p, fp in zip(parents, read):
        now = _fingerprint(p.data)
        if now is not fp and now != fp:
            raise _mutated_error(node, p, fp)


def _check_read(node: Node, parent: Node, was: Any) -> None:
    """``parent.data`` is another object than the one ``node`` read: raise unless it holds the
    same value (``x.data = x.data + 0.0`` changes nothing)."""
    now = parent.data
    try:
        if isinstance(now, np.ndarray) and isinstance(was, np.ndarray):
            same = (now.shape == was.shape and now.dtype == was.dtype
                    and bool(np.array_equal(now, was, equal_nan=now.dtype.kind in "fc")))
        elif hasattr(now, "shape") and not isinstance(now, np.generic):  # another library's array
            same = (type(now) is type(was) and tuple(now.shape) == tuple(was.shape)
                    and now.dtype == was.dtype and not _backend.is_lazy(now)
                    and bool(np.array_equal(_backend.to_numpy(now), _backend.to_numpy(was), equal_nan=True)))
        else:
            same = bool(now == was) or (now != now and was != was)  # nan stays nan
    except (TypeError, ValueError):
        same = False
    if not same:
        raise _mutated_error(node, parent, was, reassigned=True)


def _check_reads(node: Node, parents: tuple[Node, ...]) -> None:
    """Raise if a parent's ``.data`` was reassigned since ``node`` read it (see `Node`)."""
    if node._a is not None:
        reads: tuple[Any, ...] = (node._ad,) if node._b is None else (node._ad, node._bd)
    else:
        reads = node._ad or ()
    for p, was in zip(parents, reads):
        if p.data is not was:
            _check_read(node, p, was)


def _mutated_error(node: Node, parent: Node, was: Any, reassigned: bool = False) -> RuntimeError:
    name = f"'{parent.label}'" if parent.label else (f"the output of '{parent.op}'" if parent.op
                                                     else "an input")
    now = parent.data
    was_shape = getattr(was, "shape", None) if not isinstance(was, tuple) else None
    if isinstance(now, np.ndarray):
        what = (f"shape {now.shape}" if was_shape in (None, now.shape)
                else f"shape {was_shape} when read, {now.shape} now")
    else:
        what = f"{was!r} when read, {now!r} now"
    how = " (`.data` was reassigned)" if reassigned else ""
    trace = (node._meta or {}).get("trace")
    where = (f"The op was created at: {trace}" if trace else
             "Run the forward pass under detect_anomaly() to see the line that created the op.")
    return RuntimeError(
        f"backward(): the data of {name} ({what}) was changed after '{node.op}' used it in "
        f"the forward pass{how}, so its gradient would mix old and new values. Call backward() "
        "before updating parameters (optimizer.step() after loss.backward()), or recompute the "
        f"forward pass after changing .data. {where}")


def _dtype_error(op: str, inputs: tuple[Node, ...]) -> TypeError:
    dtypes = ", ".join(str(getattr(x.data, "dtype", type(x.data).__name__)) for x in inputs)
    return TypeError(
        f"{op}: not defined on integer or bool data (dtype {dtypes}); integer and bool tensors hold "
        "labels and masks. Cast first, e.g. t.astype(np.float64) (or Tensor(data, dtype=float)).")


def _broadcast_error(op: str, inputs: tuple[Node, ...]) -> ValueError:
    shapes = " and ".join(str(tuple(getattr(x.data, "shape", ()))) for x in inputs)
    return ValueError(
        f"{op}: shapes {shapes} do not broadcast (numpy aligns shapes from the right; each pair of "
        "axes must be equal or 1). Reshape an operand (x.reshape(-1, 1), x.unsqueeze(0)) or "
        "transpose it (.T), or check the sizes.")


def zero_grad(*targets: Any) -> None:
    """Reset ``.grad``: of a node, of a module's parameters, or of every node in an iterable.

    Example:
        >>> from autograd_lite import Value, zero_grad
        >>> x = Value(2.0); (x * x).backward(); zero_grad(x); x.grad
        0.0
    """
    if _on_grad_write is not None:
        _on_grad_write("zero_grad()")
    stack = list(targets)
    while stack:
        t = stack.pop()
        if isinstance(t, Node):
            t.grad = t._grad0
        elif callable(getattr(t, "parameters", None)):
            stack.extend(t.parameters())
        elif isinstance(t, Iterable) and not isinstance(t, str | bytes):
            stack.extend(t)
        else:
            raise TypeError(f"zero_grad(): expected a Value or Tensor, a module, or an iterable of "
                            f"them, got {type(t).__name__}")


def push_tangents(outputs: Any, tangents: dict[Node, Any]) -> Any:
    """Forward mode over a recorded graph: push input tangents through the JVP rules.

    ``tangents`` maps input nodes to their tangent (same shape as the data). Returns the tangent
    of ``outputs`` (a node or a tuple of nodes; zero where no input reaches). Walks the graph in
    creation order, iteratively, using each rule's JVP; works on raw data, or on nodes when the
    tangents are nodes (forward-over-reverse).

    Example:
        >>> from autograd_lite import Value
        >>> from autograd_lite.core.engine import push_tangents
        >>> x = Value(3.0); y = x * x
        >>> push_tangents(y, {x: 1.0})
        6.0
    """
    single = isinstance(outputs, Node)
    outs = (outputs,) if single else tuple(outputs)
    known: dict[Node, Any] = dict(tangents)
    on_nodes = any(isinstance(v, Node) for v in known.values())
    for node in toposort(*outs):
        parents = node._parents
        if not parents or node in known:
            continue
        ts = tuple(known.get(p) for p in parents)
        if all(t is None for t in ts):
            continue
        args: tuple[Any, ...] = parents if on_nodes else tuple(p.data for p in parents)
        ans: Any = node if on_nodes else node.data
        static = node._static or {}
        jvp = _observed(node._rule, "jvp") if _mode.get() & _OBSERVED else node._rule.jvp
        t = jvp(ts, ans, *args, **static)
        if node._broadcasts and t.shape != node.data.shape:
            t = t + node._zero_tangent()  # an input tangent smaller than the output: broadcast
        known[node] = t
    result = [known[o] if o in known else o._zero_tangent() for o in outs]
    return result[0] if single else tuple(result)
