"""Derivative transforms of Python functions: grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp.

A transform takes a Python function of `Value`s, `Tensor`s, arrays or floats and returns its
derivative. Arguments being differentiated are *lifted*: a float becomes a `Value` and an array (or
a list of numbers) a float `Tensor`, both with ``requires_grad=True``. Results are plain floats and
ndarrays, unless a differentiated argument was already a node: then the results are nodes too,
built with ``create_graph``, so they can be differentiated again (that is how ``grad(grad(f))``,
`hessian` and `hvp` work).

The reverse sweep used here (`gradients`) never writes ``.grad`` and never marks a graph as
consumed: a transform has no side effect on the nodes it is given.

Zero gradients are never silent: when the output does not depend on an argument in the recorded
graph (the graph was cut by ``x.data``, ``float(x)``, ``np.asarray(x)``, ``x.item()`` or
``x.detach()`` inside ``f``, or ``f`` ignores it), `grad`, `value_and_grad`, `jacobian`, `vjp` and
`jvp` return the zeros with a `ZeroGradientWarning` naming the argument and, when they saw it, the
line that took the data out. JAX refuses such code; we warn, because an unused argument is
legitimate. When the graph connects an argument but its gradient is all zero, ``f`` is evaluated
four more times near the point: if the output changes smoothly, part of ``f`` computed with
plain numbers, and the same warning says so (a flat function, a kink or a jump says nothing).

Forward mode (`jvp`, ``jacobian(mode="fwd")``) pushes tangents through the JVP rules of the recorded graph
(`autograd_lite.core.engine.push_tangents`), reverse mode runs the VJP rules; both come from the one
rule table.

Example:
    >>> import numpy as np

    >>> from autograd_lite import grad, jacobian
    >>> grad(lambda x: (x * x).sum())(np.array([1.0, 2.0]))
    array([2., 4.])
    >>> jacobian(lambda x: x.tanh(), mode="fwd")(0.0)
    1.0
"""

from __future__ import annotations

import inspect
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core import backend as _B
from ..core.engine import (
    _OBSERVED,
    Node,
    _escapes,
    _mode,
    enable_grad,
    no_grad,
    push_tangents,
    sweep,
    toposort,
)
from ..core.tensor import Tensor
from ..core.value import Value

__all__ = ["ZeroGradientWarning", "gradients", "grad", "value_and_grad", "vjp", "jvp", "jacobian",
           "hessian", "hvp"]

Argnums = int | tuple[int, ...]


# ------------------------------------------------------------------------------------ the reverse sweep

def gradients(outputs: Any, inputs: Any, gradient: Any = None, *,
              create_graph: bool = False) -> tuple[Any, ...]:
    """d(outputs)/d(inputs) contracted with ``gradient``, as a tuple aligned with ``inputs``.

    Like ``backward`` but without side effects: no ``.grad`` is written, the graph stays usable,
    and only the nodes lying between the outputs and the requested inputs are visited. Inputs the
    outputs do not depend on get a zero gradient. ``create_graph=True`` runs the VJP rules on
    nodes, so the returned gradients are graphs themselves.

    Args:
        outputs: a node, or a sequence of nodes.
        inputs: a node, or a sequence of nodes (leaves or intermediates).
        gradient: the cotangent of each output (``None``: 1 for a scalar output).
        create_graph: return gradient nodes that can be differentiated again.

    Example:
        >>> from autograd_lite import Value
        >>> x = Value(3.0); h = x * x; y = h + x
        >>> gradients(y, (x, h))
        (7.0, 1.0)
        >>> x.grad          # untouched
        0.0
    """
    outs = (outputs,) if isinstance(outputs, Node) else tuple(outputs)
    wrt = (inputs,) if isinstance(inputs, Node) else tuple(inputs)
    if gradient is None:
        seeds: tuple[Any, ...] = tuple(_unit_seed(o) for o in outs)
    else:
        seeds = (gradient,) if len(outs) == 1 and isinstance(outputs, Node) else tuple(gradient)
        if len(seeds) != len(outs):
            raise ValueError(f"gradients(): {len(seeds)} cotangents for {len(outs)} outputs")
        seeds = tuple(o._check_seed(s) for o, s in zip(outs, seeds))
    for x in (*outs, *wrt):
        if not isinstance(x, Node):
            raise TypeError(f"gradients(): expected nodes (Value or Tensor), got {type(x).__name__}")
    found = _pullback(outs, seeds, wrt, create_graph)
    return tuple(found[x] if x in found else _zeros_like(x, create_graph) for x in wrt)


def _unit_seed(o: Node) -> Any:
    if isinstance(o, Tensor) and _B.size(o.data) != 1:
        raise ValueError(
            f"gradients(): the output has shape {o.data.shape}, not a scalar; pass gradient= (the "
            "cotangent, an array of that shape), or reduce the output first (.sum(), .mean()).")
    return o._seed()


def _zeros_like(x: Node, as_node: bool) -> Any:
    z = x._zero_tangent()
    return type(x)._constant(z) if as_node else z


def _pullback(outs: tuple[Node, ...], seeds: tuple[Any, ...], wrt: tuple[Node, ...],
              create_graph: bool) -> dict[Node, Any]:
    """The engine's sweep restricted to nodes between ``outs`` and ``wrt``; returns {input: grad}."""
    targets = set(wrt)
    relevant: set[Node] = set()
    for node in toposort(*outs):  # creation order: parents first
        if node in targets or any(p in relevant for p in node._parents):
            relevant.add(node)
    start: dict[Node, Any] = {}
    for o, s in zip(outs, seeds):
        if o in relevant:
            start[o] = s if o not in start else start[o] + s
    if not start:
        return {}
    return sweep(start, create_graph=create_graph, relevant=relevant, report=targets)


# ------------------------------------------------------------------------------------ lifting arguments

def _as_leaf(x: Any, name: str, i: int) -> tuple[Node, bool]:
    """A node to differentiate for argument ``x``, and whether ``x`` was a node already."""
    if isinstance(x, Node):
        if x.requires_grad:
            return x, True
        if isinstance(x, Tensor):
            return Tensor(x.data, requires_grad=True, label=x.label), True
        return Value(x.data, label=x.label), True
    if isinstance(x, bool):
        raise TypeError(f"{name}: argument {i} is a bool; differentiate with respect to a float or an "
                        "array of floats")
    if isinstance(x, int | float) or (isinstance(x, np.generic) and np.ndim(x) == 0
                                      and not isinstance(x, np.bool_) and np.isrealobj(x)):
        return Value(float(x)), False
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError):
        arr = np.asarray(None)
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise TypeError(
            f"{name}: cannot differentiate with respect to argument {i} of type {type(x).__name__} "
            "(dtype " + str(arr.dtype) + "); pass a float, an array of floats, a Value or a Tensor, or "
            "leave it out of argnums")
    return Tensor(arr, requires_grad=True), False


def _norm_argnums(argnums: Argnums, nargs: int, name: str) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, int | np.integer)
    nums = (int(argnums),) if isinstance(argnums, int | np.integer) else tuple(int(a) for a in argnums)
    if not nums:
        raise ValueError(f"{name}: argnums is empty; give an int or a tuple of ints")
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"{name}: argnums={argnums!r} but the function was called with {nargs} "
                             f"positional argument(s)")
    return tuple(a % nargs for a in nums), single


class _Call:
    """One call of the user's function on lifted arguments; remembers where the function took
    data out of the graph (float(), np.asarray, .item(), .detach()), to explain zero gradients."""

    __slots__ = ("args", "as_nodes", "escapes", "f", "kwargs", "name", "nodes", "nums", "out", "single")

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 argnums: Argnums, name: str) -> None:
        nums, self.single = _norm_argnums(argnums, len(args), name)
        new = list(args)
        nodes = []
        as_nodes = False
        for i in nums:
            node, was_node = _as_leaf(args[i], name, i)
            new[i] = node
            nodes.append(node)
            as_nodes |= was_node
        self.nodes: tuple[Node, ...] = tuple(nodes)
        self.as_nodes = as_nodes
        self.f, self.args, self.kwargs, self.nums, self.name = f, args, kwargs, nums, name
        escapes: list[tuple[str, str]] = []
        token = _escapes.set(escapes)
        try:
            with enable_grad():
                self.out = f(*new, **kwargs)
        finally:
            _escapes.reset(token)
        self.escapes = escapes


def _outputs(out: Any, name: str) -> tuple[tuple[Any, ...], bool]:
    """The function's outputs as a tuple (a node, a number/array = constant), and if it was single."""
    if isinstance(out, tuple | list):
        return tuple(out), False
    return (out,), True


def _as_node_out(o: Any, like: Node, name: str) -> Node | None:
    """The output as a node, or None when it is a constant (does not depend on the inputs)."""
    if isinstance(o, Node):
        return o
    if isinstance(o, int | float | np.ndarray | np.generic):
        return None
    raise TypeError(f"{name}: the function returned a {type(o).__name__}; it must return a Value, a "
                    "Tensor, a number or an array (or a tuple of those)")


def _finish(x: Any, as_nodes: bool, like: Any = None) -> Any:
    """Convert a result for the caller: nodes if the arguments were nodes, else floats / ndarrays."""
    if as_nodes:
        if isinstance(x, Node):
            return x
        if isinstance(like, Tensor) or (like is None and isinstance(x, np.ndarray)):
            return Tensor(x)
        return Value(float(x), requires_grad=False)
    if isinstance(x, Node):
        x = x.data
    if isinstance(like, Value) or isinstance(x, float | int):
        return float(x)
    return np.asarray(x)


def _scalar_seed(o: Any, name: str) -> Any:
    if isinstance(o, Tensor) and _B.size(o.data) != 1:
        raise ValueError(
            f"{name}: the function must return a scalar, got a Tensor of shape {o.data.shape}; "
            "reduce it (.sum(), .mean()), or use jacobian / vjp for vector outputs")
    if isinstance(o, np.ndarray) and o.size != 1:
        raise ValueError(f"{name}: the function must return a scalar, got an array of shape {o.shape}")
    if isinstance(o, tuple | list):
        raise TypeError(f"{name}: the function returned a {type(o).__name__}; return one scalar (use "
                        "has_aux=True to return (value, extra))")
    return o._seed() if isinstance(o, Node) else None


# ------------------------------------------------------------------------------------ zero gradients

class ZeroGradientWarning(RuntimeWarning):
    """A transform returned an all-zero gradient that is probably a mistake: the output does not
    depend on the input in the recorded graph, or it changes with the input while its gradient is 0.

    Usually the graph was cut inside ``f``: arithmetic on ``x.data``, ``float(x)``,
    ``np.asarray(x)``, ``x.item()`` or ``x.detach()`` computes with plain numbers that autodiff
    does not see (JAX refuses these; we return the zeros and say so). If ``f`` really ignores the
    input, the zero is right: ``warnings.simplefilter("ignore", ZeroGradientWarning)``.

    Example:
        >>> import warnings
        >>> from autograd_lite import grad
        >>> from autograd_lite.transforms import ZeroGradientWarning
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     g = grad(lambda x: float(x) ** 2)(3.0)
        >>> g, caught[0].category is ZeroGradientWarning
        (0.0, True)
    """


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_FIX = ("Arithmetic on .data, float(), np.asarray(), .item() or .detach() inside f computes with "
        "plain numbers that autodiff does not see: use the node itself (x * x, not x.data * x.data). "
        "If f really does not use it, the zero is right (warnings.simplefilter('ignore', "
        "ZeroGradientWarning) silences this).")


def _is_zero(g: Any) -> bool:
    d = g.data if isinstance(g, Node) else g
    if d is None:
        return True
    if _B.is_array_of_library(d):  # (a lazy array is not forced: it counts as non-zero)
        return not _B.is_lazy(d) and not _B.any_true(d != 0)
    return not np.any(d)


def _explain_zeros(call: _Call, outs: Sequence[Any], zero: Sequence[bool], *, probe: bool = True,
                   pick: Callable[[Any], Any] | None = None) -> None:
    """Warn (`ZeroGradientWarning`) for each input whose gradient came back all zero when that is
    probably a mistake, naming the input and the likely cause. Free unless a gradient is all zero;
    then one graph walk and, if the graph connects the input (``probe``), four more calls of f
    near the point, to tell a flat function from a cut graph. ``pick`` selects the differentiated
    part of f's result (has_aux)."""
    if not any(zero):
        return
    live = [o for o in outs if isinstance(o, Node)]
    reached = set(toposort(*live)) if live else set()
    second = getattr(call.f, "_second_order", False)  # f is itself a gradient (grad of grad, hessian)
    for k, x in enumerate(call.nodes):
        if not zero[k]:
            continue
        if x not in reached:
            if second and not _slope(call, k, pick):
                continue  # the gradient of an affine function is a constant: a zero Hessian is right
            what = ("" if live else f" (f returned a {type(outs[0]).__name__ if outs else 'nothing'}, "
                    "not a Value or Tensor)")
            _warn_zero(call, k, f"the output does not depend on {_arg_name(call, k)} in the recorded "
                                f"graph{what}, so its gradient is 0.")
        elif probe and not _near_kink(live):
            slope = _slope(call, k, pick)
            if slope:
                _warn_zero(call, k, f"the gradient with respect to {_arg_name(call, k)} is 0, but the "
                                    "output changes with it (finite differences along a random "
                                    f"direction: slope ~{slope:.3g}): part of f computes with plain "
                                    "numbers.")


def _warn_zero(call: _Call, k: int, text: str) -> None:
    seen = "".join(f" f took data out of the graph with {route} at {where}." for route, where in
                   call.escapes)
    level, frame = 2, sys._getframe(1)  # attribute the warning to the user's line
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    warnings.warn(f"{call.name}: {text}{seen} {_FIX}", ZeroGradientWarning, stacklevel=level)


def _arg_name(call: _Call, k: int) -> str:
    i = call.nums[k]
    try:
        params = [p.name for p in inspect.signature(call.f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    name = call.nodes[k].label or (params[i] if i < len(params) else None)
    return f"argument {i}" + (f" ('{name}')" if name else "")


def _near_kink(outs: list[Node]) -> bool:
    """True if an op of the graph sits at (or within a hair of) its kink, where a zero derivative
    is the convention (relu'(0) = 0) and finite differences mean nothing."""
    for n in toposort(*outs) if outs else ():
        kink = n._rule.kink if n._rule is not None else None
        if kink is None:
            continue
        ps = n._parents
        d = np.abs(np.asarray(ps[0].data, dtype=np.float64) - (
            np.asarray(ps[1].data, dtype=np.float64) if kink == "tie" else 0.0))
        if d.size and float(d.min()) <= 1e-4 * (1.0 + float(d.max())):
            return True
    return False


def _slope(call: _Call, k: int, pick: Callable[[Any], Any] | None) -> float:
    """How fast f's output changes along a random direction of input k, by central differences
    at two steps; 0 if it does not, or not smoothly (a jump, or randomness inside f)."""
    x = call.nodes[k]
    base = np.asarray(x.data, dtype=np.float64)
    u = np.random.default_rng(0).standard_normal(base.shape)
    u /= np.linalg.norm(u) or 1.0  # a unit direction (±1 for a scalar)
    h = (6e-6 if np.asarray(x.data).dtype == np.float64 else 5e-3) * (1.0 + float(np.abs(base).max(
        initial=0.0)))
    try:
        f0 = _numbers(pick(call.out) if pick else call.out)
        p1, m1, p2, m2 = (_probe_at(call, k, base + t * u, pick) for t in (h, -h, h / 8, -h / 8))
    except Exception:  # f cannot be called again like this: say nothing rather than guess
        return 0.0
    with np.errstate(all="ignore"):
        d1, d2 = (p1 - m1) / (2 * h), (p2 - m2) / (h / 4)
        s1 = float(np.max(np.abs(d1), initial=0.0))
        smooth = float(np.max(np.abs(d1 - d2), initial=0.0)) <= 0.25 * s1
    scale = 1.0 + float(np.max(np.abs(f0), initial=0.0))
    return s1 if np.isfinite(s1) and s1 > 1e-6 * scale and smooth else 0.0


def _probe_at(call: _Call, k: int, d: np.ndarray, pick: Callable[[Any], Any] | None) -> np.ndarray:
    """f's output (as a flat float array) with argument ``call.nums[k]`` moved to ``d``."""
    x = call.nodes[k]
    args = list(call.args)  # f was written for nodes (it got lifted ones): give it constant nodes
    for j, node in zip(call.nums, call.nodes):
        args[j] = type(node)._constant(node.data)
    args[call.nums[k]] = type(x)._constant(float(d) if isinstance(x, Value) else d.astype(x.data.dtype))
    tokens = _escapes.set(None), _mode.set(_mode.get() & ~_OBSERVED)  # a probe, not the user's work
    try:
        with warnings.catch_warnings(), no_grad():
            warnings.simplefilter("ignore")
            out = call.f(*args, **call.kwargs)
    finally:
        _mode.reset(tokens[1])
        _escapes.reset(tokens[0])
    return _numbers(pick(out) if pick else out)


def _numbers(out: Any) -> np.ndarray:
    parts = out if isinstance(out, tuple | list) else (out,)
    flat = [np.asarray(o.data if isinstance(o, Node) else o, dtype=np.float64).ravel() for o in parts]
    return np.concatenate(flat) if flat else np.zeros(0)


# ------------------------------------------------------------------------------------------- grad

def value_and_grad(f: Callable[..., Any], argnums: Argnums = 0, *,
                   has_aux: bool = False) -> Callable[..., Any]:
    """A function returning ``(f(*args), grad f(*args))``; see `grad` for ``argnums``.

    With ``has_aux=True``, ``f`` returns ``(value, aux)`` and the result is
    ``((value, aux), gradient)``.

    Example:
        >>> from autograd_lite import value_and_grad
        >>> value_and_grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0)
        (10.0, (5.0, 2.0))
    """
    name = f"value_and_grad({_fname(f)})"

    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        call = _Call(f, args, kwargs, argnums, name)
        out = call.out
        aux = None
        if has_aux:
            if not (isinstance(out, tuple | list) and len(out) == 2):
                raise TypeError(f"{name}: has_aux=True needs f to return a pair (value, aux)")
            out, aux = out
        seed = _scalar_seed(out, name)
        node = _as_node_out(out, call.nodes[0], name)
        found = {} if node is None else _pullback((node,), (seed,), call.nodes, call.as_nodes)
        grads = tuple(found[x] if x in found else _zeros_like(x, call.as_nodes) for x in call.nodes)
        _explain_zeros(call, (out,), [x not in found or _is_zero(found[x]) for x in call.nodes],
                       pick=(lambda o: o[0]) if has_aux else None)
        grads = tuple(_finish(g, call.as_nodes, x) for g, x in zip(grads, call.nodes))
        value = out if call.as_nodes and isinstance(out, Node) else _finish(out, False, out)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = float(value)
        result = grads[0] if call.single else grads
        return ((value, aux), result) if has_aux else (value, result)

    value_and_grad_f.__name__ = f"value_and_grad_{_fname(f)}"
    value_and_grad_f.__wrapped__ = f  # type: ignore[attr-defined]
    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: Argnums = 0, *, has_aux: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar function, as a function of the same arguments.

    ``argnums`` (an int or a tuple of ints) says which positional arguments to differentiate; a
    tuple gives a tuple of gradients. Each gradient has its argument's shape (a float for a float
    argument). Floats and arrays are lifted to nodes; the results are floats / ndarrays, or nodes
    (differentiable again) when the arguments were nodes. With ``has_aux=True`` ``f`` returns
    ``(value, aux)`` and the result is ``(gradient, aux)``.

    Example:
        >>> import numpy as np
        >>> from autograd_lite import grad
        >>> grad(lambda x: x.sigmoid())(0.0)
        0.25
        >>> grad(grad(lambda x: x ** 3))(2.0)    # d²/dx² x³ = 6x
        12.0
        >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> grad(lambda x: 0.5 * ((A @ x) ** 2).sum())(np.array([1.0, 0.0]))   # Aᵀ A x
        array([10., 14.])
    """
    vg = value_and_grad(f, argnums, has_aux=has_aux)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    grad_f.__name__ = f"grad_{_fname(f)}"
    grad_f.__wrapped__ = f  # type: ignore[attr-defined]  # (the same parameters, for messages)
    grad_f._second_order = True  # type: ignore[attr-defined]  # (its derivative can be 0: relu'')
    return grad_f


def _fname(f: Any) -> str:
    return getattr(f, "__name__", type(f).__name__)


# ------------------------------------------------------------------------------------------- vjp / jvp

def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """Evaluate ``f(*primals)`` and return ``(out, vjp_fn)``; ``vjp_fn(v)`` gives vᵀ J for each primal.

    ``vjp_fn`` can be called many times (the graph is kept); it returns a tuple aligned with the
    primals. For a tuple output, pass a tuple of cotangents.

    Example:
        >>> import numpy as np
        >>> from autograd_lite import vjp
        >>> B = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> out, vjp_fn = vjp(lambda x: B @ x, np.ones(2))
        >>> vjp_fn(np.array([1.0, 0.0, 0.0]))      # first row of the Jacobian B
        (array([1., 2.]),)
    """
    name = f"vjp({_fname(f)})"
    if not primals:
        raise TypeError(f"{name}: give at least one primal to differentiate")
    call = _Call(f, primals, {}, tuple(range(len(primals))), name)
    outs, single = _outputs(call.out, name)
    nodes = [_as_node_out(o, call.nodes[0], name) for o in outs]
    _explain_zeros(call, outs, [True] * len(call.nodes), probe=False)  # inputs no output reaches

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cts = (cotangent,) if single else tuple(cotangent)
        if len(cts) != len(outs):
            raise ValueError(f"{name}: {len(cts)} cotangent(s) for {len(outs)} output(s)")
        use = [(n, n._check_seed(c)) for n, c in zip(nodes, cts) if n is not None]
        found = _pullback(tuple(n for n, _ in use), tuple(c for _, c in use), call.nodes,
                          call.as_nodes) if use else {}
        return tuple(_finish(found[x] if x in found else _zeros_like(x, call.as_nodes), call.as_nodes, x)
                     for x in call.nodes)

    results = tuple(o if call.as_nodes else _finish(o, False, o) for o in outs)
    return (results[0] if single else results), vjp_fn


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J·tangents)``, pushed through the JVP rules of the graph.

    ``primals`` and ``tangents`` are sequences of the same length and shapes. This is true forward
    mode: one pass of the JVP rules per call, whatever the number of outputs.

    Example:
        >>> import numpy as np
        >>> from autograd_lite import jvp
        >>> jvp(lambda x: x.sin(), (0.0,), (2.0,))
        (0.0, 2.0)
        >>> jvp(lambda x, y: x * y, (np.array([1.0, 2.0]), np.array([3.0, 4.0])),
        ...     (np.array([1.0, 0.0]), np.zeros(2)))
        (array([3., 8.]), array([3., 0.]))
    """
    name = f"jvp({_fname(f)})"
    primals, tangents = _as_sequence(primals, "primals", name), _as_sequence(tangents, "tangents", name)
    if len(primals) != len(tangents):
        raise ValueError(f"{name}: {len(primals)} primal(s) but {len(tangents)} tangent(s); give one "
                         "tangent per primal, with the same shape")
    if not primals:
        raise TypeError(f"{name}: give at least one primal")
    call = _Call(f, primals, {}, tuple(range(len(primals))), name)
    seeds = {x: _tangent(x, t, call.as_nodes, name, i) for i, (x, t) in enumerate(zip(call.nodes, tangents))}
    outs, single = _outputs(call.out, name)
    pushed = _push(outs, seeds, call, name)
    _explain_zeros(call, outs, [True] * len(call.nodes), probe=False)  # inputs no output reaches
    results = tuple(o if call.as_nodes else _finish(o, False, o) for o in outs)
    tans = tuple(_finish(t, call.as_nodes, o) for t, o in zip(pushed, outs))
    return (results[0], tans[0]) if single else (results, tans)


def _tangent(x: Node, t: Any, as_node: bool, name: str, i: int) -> Any:
    if isinstance(t, Node):
        td: Any = t
        shape = np.shape(t.data)
    elif isinstance(x, Value):
        td = float(t)
        shape = ()
    elif _B.is_array_of_library(x.data):  # the tangent in its primal's library and device
        td = t if type(t) is type(x.data) else _B.like(np.asarray(_B.to_numpy(t)), x.data)
        shape = _B.shape(td)
    else:
        td = np.asarray(t, dtype=x.data.dtype)
        shape = td.shape
    if shape != _B.shape(x.data):
        raise ValueError(f"{name}: tangent {i} has shape {shape} but its primal has shape "
                         f"{np.shape(x.data)}; tangents must match the primals' shapes")
    if as_node and not isinstance(td, Node):
        td = type(x)._constant(td)
    return td


def _push(outs: tuple[Any, ...], seeds: dict[Node, Any], call: _Call, name: str) -> list[Any]:
    nodes = [_as_node_out(o, call.nodes[0], name) for o in outs]
    live = [n for n in nodes if n is not None]
    with enable_grad() if call.as_nodes else no_grad():
        got = push_tangents(tuple(live), seeds) if live else ()
    it = iter(got)
    res = []
    for o, n in zip(outs, nodes):
        if n is None:
            res.append(np.zeros_like(np.asarray(o, dtype=np.float64)) if np.ndim(o) else 0.0)
        else:
            res.append(next(it))
    return res


# ------------------------------------------------------------------------------------------- jacobian

def jacobian(f: Callable[..., Any], argnums: Argnums = 0, *, mode: str = "rev") -> Callable[..., Any]:
    """The Jacobian of ``f`` with respect to ``argnums``, of shape ``out.shape + arg.shape``.

    ``mode="rev"``: one reverse sweep per output element (cheap when outputs are few).
    ``mode="fwd"``: one forward push of the JVP rules per input element (cheap when inputs are
    few). Both give the same matrix; `autograd_lite.tools.cost.cost_report` counts what each spends. A
    tuple ``argnums`` (or a tuple output) gives a tuple of Jacobians (outputs outermost).

    Example:
        >>> import numpy as np
        >>> from autograd_lite import jacobian
        >>> B = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]); c = np.ones(3)
        >>> jacobian(lambda x: B @ x + c, mode="fwd")(np.zeros(2))
        array([[1., 2.],
               [3., 4.],
               [5., 6.]])
    """
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode={mode!r}; use mode='rev' (reverse, one sweep per output) or "
                         "mode='fwd' (forward, one push per input)")
    name = f"jacobian({_fname(f)}, mode={mode!r})"

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        call = _Call(f, args, kwargs, argnums, name)
        outs, single_out = _outputs(call.out, name)
        onodes = [_as_node_out(o, call.nodes[0], name) for o in outs]
        oshapes = [_B.shape(o.data if isinstance(o, Node) else o) for o in outs]
        # blocks[k][i]: dict index -> piece, assembled below
        if mode == "rev":
            blocks = _jac_rev(onodes, oshapes, call)
        else:
            blocks = _jac_fwd(outs, oshapes, call, name)
        _explain_zeros(call, outs, [all(_is_zero(p) for b in blocks for p in b[i].values())
                                    for i in range(len(call.nodes))])
        result = []
        for k in range(len(outs)):
            row = []
            for i, x in enumerate(call.nodes):
                row.append(_assemble(blocks[k][i], oshapes[k], _B.shape(x.data), call.as_nodes, x, mode))
            result.append(row[0] if call.single else tuple(row))
        return result[0] if single_out else tuple(result)

    jacobian_f.__name__ = f"jacobian_{_fname(f)}"
    return jacobian_f


def _basis(shape: tuple[int, ...], idx: tuple[int, ...], dtype: Any = np.float64,
           scalar: bool = False, like: Any = None) -> Any:
    """The unit array e_idx of ``shape`` (a float 1.0 for a scalar `Value`: ``scalar=True``), in
    the library and device of ``like`` when that is another library's array."""
    if scalar:
        return 1.0
    if like is not None and _B.is_array_of_library(like):
        e = np.zeros(shape)
        e[idx] = 1.0
        return _B.like(e, like)
    e = np.zeros(shape, dtype=dtype)
    e[idx] = 1.0
    return e


def _jac_rev(onodes: list[Node | None], oshapes: list[tuple[int, ...]], call: _Call) -> list[list[dict]]:
    blocks: list[list[dict]] = []
    for o, so in zip(onodes, oshapes):
        per_in: list[dict] = [{} for _ in call.nodes]
        if o is not None:
            dtype = o.data.dtype if isinstance(o, Tensor) else np.float64
            for idx in np.ndindex(*so):
                found = _pullback((o,), (_basis(so, idx, dtype, isinstance(o, Value), o.data),), call.nodes,
                                  call.as_nodes)
                for i, x in enumerate(call.nodes):
                    if x in found:
                        per_in[i][idx] = found[x]
        blocks.append(per_in)
    return blocks


def _jac_fwd(outs: tuple[Any, ...], oshapes: list[tuple[int, ...]], call: _Call,
             name: str) -> list[list[dict]]:
    blocks: list[list[dict]] = [[{} for _ in call.nodes] for _ in outs]
    for i, x in enumerate(call.nodes):
        sx = _B.shape(x.data)
        dtype = x.data.dtype if isinstance(x, Tensor) else np.float64
        for idx in np.ndindex(*sx):
            t = _basis(sx, idx, dtype, isinstance(x, Value), x.data)
            seed = {x: type(x)._constant(t) if call.as_nodes else t}
            for k, t_out in enumerate(_push(outs, seed, call, name)):
                blocks[k][i][idx] = t_out
    return blocks


def _assemble(pieces: dict, so: tuple[int, ...], sx: tuple[int, ...], as_nodes: bool, x: Node,
              mode: str) -> Any:
    """Build the out.shape + in.shape Jacobian from rows (rev: keyed by output index, each of
    shape sx) or columns (fwd: keyed by input index, each of shape so)."""
    rows = mode == "rev"
    outer, inner = (so, sx) if rows else (sx, so)
    if not as_nodes or not any(isinstance(p, Node) for p in pieces.values()):
        J = np.zeros(outer + inner)
        for idx, p in pieces.items():
            J[idx] = _B.to_numpy(p.data if isinstance(p, Node) else p)  # (a host copy of a piece)
        if not rows:
            J = np.moveaxis(J, tuple(range(len(sx))), tuple(range(len(so), len(so) + len(sx))))
        if not so and not sx:
            return _finish(float(J), as_nodes, x)
        if _B.is_array_of_library(x.data):  # the Jacobian goes back to the input's library
            J = _B.like(J, x.data)
        return _finish(J, as_nodes, Tensor(J))
    # nodes: a sum of constant basis tensors times the pieces keeps the whole result differentiable
    total: Any = None
    for idx, p in pieces.items():
        if not outer:
            term = p
        else:
            e = _basis(outer, idx).reshape(outer + (1,) * len(inner))
            term = (p if isinstance(p, Tensor) else Tensor(np.asarray(p.data))) * e
        total = term if total is None else total + term
    if total is None:
        return Tensor(np.zeros(so + sx)) if (so or sx) else Value(0.0, requires_grad=False)
    if not rows and (so or sx):
        perm = tuple(range(len(sx), len(sx) + len(so))) + tuple(range(len(sx)))
        total = total.transpose(perm) if len(perm) > 1 else total
    return total


# ------------------------------------------------------------------------------------------- second order

def hessian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """The Hessian of a scalar function, by reverse-over-reverse (``jacobian(grad(f))``).

    The inner gradient is built with ``create_graph`` (the VJP rules run on nodes), then each of its
    elements is differentiated again. Shape ``arg.shape + arg.shape``; a tuple ``argnums`` gives
    the nested blocks ``H[i][j]``.

    Example:
        >>> import numpy as np
        >>> from autograd_lite import hessian
        >>> A = np.array([[1.0, 2.0], [3.0, 4.0]]); b = np.array([1.0, 1.0])
        >>> hessian(lambda x: 0.5 * ((A @ x - b) ** 2).sum())(np.zeros(2))     # AᵀA
        array([[10., 14.],
               [14., 20.]])
    """
    return jacobian(grad(f, argnums), argnums, mode="rev")


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Hessian-vector product by forward-over-reverse: ``(∇f, H·v)`` without forming H.

    The gradient graph is recorded (``create_graph``) and the tangents are pushed through it with
    the JVP rules: the cost is a small multiple of one gradient, whatever the dimension. For one
    primal, both results are single arrays/floats; otherwise tuples aligned with the primals.

    Example:
        >>> import numpy as np
        >>> from autograd_lite import hvp
        >>> g, Hv = hvp(lambda x: (x ** 3).sum(), (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))
        >>> g, Hv                                    # 3x², 6x·v
        (array([ 3., 12.]), array([ 6., 12.]))
    """
    name = f"hvp({_fname(f)})"
    primals = _as_sequence(primals, "primals", name)
    nums: Argnums = 0 if len(primals) == 1 else tuple(range(len(primals)))
    return jvp(grad(f, nums), primals, _as_sequence(tangents, "tangents", name))


def _as_sequence(xs: Any, what: str, name: str) -> tuple[Any, ...]:
    """``primals``/``tangents`` as a tuple; a bare array, number or node is refused with the fix
    (iterating it would silently split an array into its rows)."""
    if isinstance(xs, tuple | list):
        return tuple(xs)
    raise TypeError(f"{name}: {what} must be a tuple (one entry per argument of the function), got "
                    f"a {type(xs).__name__}; for one argument write ({what[:-1]},) - e.g. "
                    f"{name.split('(')[0]}(f, (x,), (v,))")
