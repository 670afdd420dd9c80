"""What kind of slip a wrong hand-derived gradient is: the explanations `check_grad` tries.

After a WRONG or SHAPE verdict, `diagnose` builds candidate arrays from autodiff and the recorded
graph, one per known kind of mistake, and returns the first that reproduces the user's numbers to
the check's own tolerance (|hand - candidate| <= atol + rtol |candidate| in every entry). A
candidate that is zero everywhere, or that equals autodiff, explains nothing and is never shown.
When no candidate fits, the answer is None: nothing is guessed. `check_grad` asks only when
autodiff agrees with finite differences (else there is no trusted reference to explain from).

Tried in this order:

* shape (SHAPE only): the transpose, a reshape, a non-scalar ``f`` checked against an elementwise
  derivative (the Jacobian's diagonal or column sums), ``np.dot`` of two vectors (the trace of the
  outer product), a broadcast input summed over the wrong axis;
* transposed, square matrices included;
* a constant factor: 2, 1/2, -1, -2, -1/2, the counts n of the graph's mean and sum reductions
  (n and 1/n), or any one constant shown by at least two entries;
* regularization slips on a penalised parameter (an ``abs`` and a square of the same leaf, each
  scaled by a constant): the L1 sign flipped, the lambdas dropped, swapped, another layer's, the 2
  of the L2 term, a term missing; and a penalty added to an unpenalised parameter (a bias);
* a missing, doubled or lone path, when the checked node feeds several consumers;
* a broadcast input (a bias added to every row) whose gradient sums over the wrong axis;
* one local derivative on the way replaced by a common slip: a missing factor (the relu mask,
  sigma', 1 - tanh^2, the 1/n of a mean, the 2 of x^2), a wrong elementwise derivative
  (rect'(z) = z, the leaky slope on the wrong side, sigma(1 + sigma), 1 - tanh), a softmax over the
  other axis, a weight used untransposed.

Cost: the graph explanations need the cotangent at every node (one reverse sweep, shared by all the
entries of a report) and, per diagnosed entry, one forward-mode sweep of a random tangent r from the
checked node. A local-derivative candidate changes the cotangent of one edge by a known delta; its
effect on the checked gradient is Jᵀ delta, and r·(Jᵀ delta) = (J r)·delta is screened with one dot
product. Only a candidate that passes the screen costs a reverse sweep of the sub-graph between
the checked node and that op, to confirm it.

Example:
    >>> import numpy as np
    >>> from autograd_lite import check_grad
    >>> r = check_grad(lambda x: (x * x).sum(), np.array([1.0, -2.0]), expected=lambda x: x)
    >>> r["x"].diagnosis.kind, r["x"].diagnosis.factor
    ('factor', 0.5)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.engine import Node, toposort, unbroadcast
from ..transforms import gradients

__all__ = ["Diagnosis", "GraphInfo", "diagnose"]


@dataclass(frozen=True)
class Diagnosis:
    """One explanation of a wrong hand formula, shown only because it reproduces its numbers.

    ``kind`` is one of "transposed", "factor", "regularization", "path", "chain factor",
    "derivative", "axis", "reshape", "jacobian", "inner product"; ``text`` is the sentence of the
    report; ``where`` names the op or node involved (None for a whole-array explanation);
    ``factor`` is k for "your formula is k x autodiff"; ``candidate`` holds the values the
    explanation predicts (equal to your formula, to the check's tolerance).

    Example:
        >>> import numpy as np
        >>> from autograd_lite import check_grad
        >>> str(check_grad(lambda x: -x.sum(), np.ones(2), expected=np.ones(2))["x"].diagnosis)[:12]
        'sign flipped'
    """

    kind: str
    text: str
    where: str | None = None
    factor: float | None = None
    candidate: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.text


Candidates = Iterator[tuple[Diagnosis, Any]]


def _data64(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Node) else x, dtype=np.float64)


def _name(n: Node) -> str:
    """How a node is called in the report: its label, ``W1ᵀ`` for a transposed labelled node, or
    its op."""
    if n.label:
        return n.label
    ps = n._parents
    if n.op == "transpose" and ps and ps[0].label:
        return f"{ps[0].label}ᵀ"
    return n.op or "a constant"


def _transpose_name(name: str) -> str:
    return name[:-1] if name.endswith("ᵀ") else f"{name}ᵀ"


# -------------------------------------------------------------------------------------- the fit test

class _Fit:
    """The check's own tolerance, applied to a candidate explanation."""

    def __init__(self, hand: np.ndarray, auto: np.ndarray, rtol: float, atol: float) -> None:
        self.hand, self.auto, self.rtol, self.atol = hand, auto, rtol, atol
        # most candidates already fail where hand and autodiff differ most: test that entry first
        spread = np.abs(hand - auto) if hand.shape == auto.shape else np.abs(hand)
        self.probe = int(np.argmax(np.nan_to_num(spread, nan=np.inf))) if hand.size else 0

    def close(self, a: np.ndarray, b: np.ndarray) -> bool:
        """|a - b| <= atol + rtol |b| everywhere (nan never matches)."""
        with np.errstate(invalid="ignore"):
            return bool(np.all(np.abs(a - b) <= self.atol + self.rtol * np.abs(b)))

    def __call__(self, candidate: Any) -> bool:
        c = np.asarray(candidate, dtype=np.float64)
        if c.shape != self.hand.shape or not c.size:
            return False
        h0, c0 = float(self.hand.flat[self.probe]), float(c.flat[self.probe])
        if not abs(h0 - c0) <= self.atol + self.rtol * abs(c0) or not np.all(np.isfinite(c)):
            return False
        if not self.close(self.hand, c):
            return False
        if np.all(np.abs(c) <= self.atol):  # zero everywhere: explains nothing
            return False
        # a candidate equal to autodiff predicts the right answer: it explains no mistake
        return not (c.shape == self.auto.shape and self.close(c, self.auto))


def _first(fit: _Fit, candidates: Candidates) -> Diagnosis | None:
    for d, values in candidates:
        if fit(values):
            return Diagnosis(d.kind, d.text, d.where, d.factor, np.asarray(values, dtype=np.float64))
    return None


# ------------------------------------------------------------------------------------- graph facts

class GraphInfo:
    """What the graph explanations need of one recorded graph; the reverse sweep runs once, on
    first use, and is shared by every entry of a report.

    Example:
        >>> from autograd_lite import Value
        >>> x = Value(2.0, label="x"); y = x * x + x
        >>> info = GraphInfo(y)
        >>> [(c.op, q) for c, q in info.consumers[x]]
        [('mul', 0), ('mul', 1), ('add', 1)]
    """

    def __init__(self, out: Node) -> None:
        self.out = out
        self.order = toposort(out)
        self.pos = {n: i for i, n in enumerate(self.order)}
        self.consumers: dict[Node, list[tuple[Node, int]]] = {}
        for n in self.order:
            for q, p in enumerate(n._parents):
                self.consumers.setdefault(p, []).append((n, q))
        self._cot: dict[Node, Any] | None = None
        self._pen: dict[Node, dict[str, float]] | None = None

    @property
    def cot(self) -> dict[Node, Any]:
        """The cotangent dL/dn at every node that requires grad (one reverse sweep)."""
        if self._cot is None:
            nodes = [n for n in self.order if n.requires_grad]
            seed = np.ones_like(self.out.data) if isinstance(self.out.data, np.ndarray) else 1.0
            self._cot = dict(zip(nodes, gradients(self.out, nodes, seed)))
        return self._cot

    def counts(self) -> list[tuple[int, str]]:
        """(n, op) for every mean and sum reduction of the graph: how many entries it reduces."""
        found: list[tuple[int, str]] = []
        for n in self.order:
            if n.op in ("mean", "sum") and n._parents:
                k = int(np.size(n._parents[0].data) // max(np.size(n.data), 1))
                if k > 1 and (k, n.op) not in found:
                    found.append((k, n.op))
        return found

    @property
    def penalties(self) -> dict[Node, dict[str, float]]:
        """{leaf: {"l1": λ1, "l2": λ2}} read off the graph: |leaf| and leaf² terms whose cotangent
        is one constant (the λ that scales the summed term)."""
        if self._pen is None:
            self._pen = {}
            for u in self.order:
                ps = u._parents
                if not ps or not ps[0].is_leaf or not ps[0].requires_grad:
                    continue
                square = (u.op == "pow" and (u._static or {}).get("exponent") == 2.0) or (
                    u.op == "mul" and len(ps) == 2 and ps[1] is ps[0])
                key = "l1" if u.op == "abs" else "l2" if square else None
                lam = None if key is None else _constant(self.cot.get(u))
                if key is not None and lam:
                    terms = self._pen.setdefault(ps[0], {})
                    terms[key] = terms.get(key, 0.0) + lam
        return self._pen


def _constant(g: Any) -> float | None:
    if g is None:
        return None
    a = np.asarray(g, dtype=np.float64)
    v = float(a.flat[0]) if a.size else 0.0
    return v if a.size and np.all(np.abs(a - v) <= 1e-12 * abs(v)) else None


# ------------------------------------------------------------------------------------------ diagnose

def diagnose(hand: np.ndarray, auto: np.ndarray, *, name: str, kind: str, rtol: float, atol: float,
             node: Node | None = None, graph: GraphInfo | None = None) -> Diagnosis | None:
    """The first explanation that reproduces ``hand`` from ``auto`` (and the graph), or None.

    ``kind`` is the entry's kind ("jacobian" changes the wording); ``node`` is the checked node
    and ``graph`` the scalar output's `GraphInfo` (without them only whole-array explanations are
    tried).

    Example:
        >>> import numpy as np
        >>> g = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> diagnose(g.T, g, name="W", kind="input", rtol=1e-5, atol=1e-7).kind
        'transposed'
        >>> diagnose(g + 0.3, g, name="W", kind="input", rtol=1e-5, atol=1e-7) is None
        True
    """
    fit = _Fit(hand, auto, rtol, atol)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the forward pass already warned about odd values
        if hand.shape != auto.shape:
            return _first(fit, _shape_candidates(fit, name, kind, node, graph))
        steps: list[Candidates] = [_transposed(auto, name, kind), _factors(fit, graph)]
        if graph is not None and node is not None and node in graph.pos:
            steps += [_regularization(auto, node, name, graph), _paths(auto, node, name, graph),
                      _axis_candidates(auto, node, name, graph), _local_slips(fit, node, graph)]
        for candidates in steps:
            found = _first(fit, candidates)
            if found is not None:
                return found
    return None


# ------------------------------------------------------------------------------ whole-array slips

def _transposed(auto: np.ndarray, name: str, kind: str) -> Candidates:
    if auto.ndim == 2:
        yield Diagnosis("transposed", _transposed_text(name, kind)), auto.T


def _transposed_text(name: str, kind: str) -> str:
    if kind == "jacobian":
        return (f"transposed: your formula is the transpose of the Jacobian; entry (i, j) is "
                f"∂f_i/∂{name}_j, one row per output and one column per input")
    return (f"transposed: your formula is the transpose of the gradient; entry (i, j) is "
            f"∂L/∂{name}[i, j], so the gradient has {name}'s shape (an outer product in the wrong "
            "order, h gᵀ instead of g hᵀ?)")


_FACTORS = (
    (2.0, "off by a factor of 2: your formula is 2 × autodiff (a ½ in the loss forgotten, or the 2 "
          "of d(x²) where the loss already has ½?)"),
    (0.5, "off by a factor of 2: your formula is half of autodiff (the 2 of d(x²) = 2x missing?)"),
    (-1.0, "sign flipped: your formula is -1 × autodiff (a minus lost on the way, or -∇ for ∇?)"),
    (-2.0, "sign flipped and off by a factor of 2: your formula is -2 × autodiff"),
    (-0.5, "sign flipped and off by a factor of 2: your formula is -½ × autodiff"),
)


def _factors(fit: _Fit, graph: GraphInfo | None) -> Candidates:
    auto = fit.auto
    for k, text in _FACTORS:
        yield Diagnosis("factor", text, factor=k), k * auto
    for n, op in graph.counts() if graph is not None else []:
        if op == "mean":
            yield Diagnosis("factor", f"missing the 1/n of the mean over the batch: your formula is "
                            f"n = {n} × autodiff (the loss averages {n} entries)", factor=n), n * auto
            yield Diagnosis("factor", f"an extra 1/n: your formula is autodiff / {n} (the mean's "
                            f"1/{n} applied twice?)", factor=1 / n), auto / n
        else:
            yield Diagnosis("factor", f"a 1/n too many: your formula is autodiff / {n}, but the "
                            f"function sums {n} entries, it does not average them",
                            factor=1 / n), auto / n
    big = np.abs(auto) > 10 * fit.atol
    if int(big.sum()) >= 2:  # one number is always a multiple of another: ask for two witnesses
        i = np.unravel_index(int(np.argmax(np.abs(auto))), auto.shape)
        k = float(fit.hand[i] / auto[i])
        if np.isfinite(k) and k != 0:
            yield Diagnosis("factor", f"a constant factor: your formula is {k:.4g} × autodiff in every "
                            "entry", factor=k), k * auto


def _shape_candidates(fit: _Fit, name: str, kind: str, node: Node | None,
                      graph: GraphInfo | None) -> Candidates:
    hand, auto = fit.hand, fit.auto
    if hand.ndim == 2 and hand.shape == auto.shape[::-1]:
        yield Diagnosis("transposed", _transposed_text(name, kind) + "; the values match after .T"), auto.T
    if hand.size == auto.size:
        yield Diagnosis("reshape", f"right values, wrong shape: your formula matches after a reshape "
                        f"({hand.shape} -> {auto.shape}); use .reshape{auto.shape}"
                        + (" or .ravel()" if auto.ndim == 1 else "")), auto.reshape(hand.shape)
    if kind == "jacobian" and node is not None:
        yield from _jacobian_candidates(hand, auto, np.shape(node.data))
    if hand.size == 1 and auto.ndim == 2:
        yield Diagnosis("inner product", "np.dot of two 1-D arrays is their inner product Σ g_k h_k: "
                        "your number is the trace of the gradient; the gradient of a matrix is the outer "
                        "product np.outer(g, h)"), np.asarray(np.trace(auto)).reshape(hand.shape)
    if graph is not None and node is not None and node in graph.pos:
        yield from _axis_candidates(auto, node, name, graph)


def _jacobian_candidates(hand: np.ndarray, auto: np.ndarray, in_shape: tuple[int, ...]) -> Candidates:
    n_in = int(np.prod(in_shape))
    if hand.size != n_in or auto.size % max(n_in, 1):
        return
    J = auto.reshape(-1, n_in)
    out_shape = auto.shape[:auto.ndim - len(in_shape)]
    head = f"f is not scalar (it returns shape {out_shape}), so its Jacobian is checked: "
    if J.shape[0] == n_in and np.all(J[~np.eye(n_in, dtype=bool)] == 0):
        yield Diagnosis("jacobian", head + "your values are its diagonal (f acts elementwise, and you "
                        "wrote the elementwise derivative); pass expected=np.diag(...) of them, or "
                        "check f(x).sum(), whose gradient they are"), np.diag(J).reshape(hand.shape)
    yield Diagnosis("jacobian", head + "your values are the gradient of f(x).sum() (the Jacobian's "
                    "column sums); check that scalar function, or pass the Jacobian"), \
        J.sum(0).reshape(hand.shape)


# ---------------------------------------------------------------------------------- graph edges

def _edges(node: Node, graph: GraphInfo) -> list[tuple[Node, int, np.ndarray, np.ndarray]]:
    """(consumer, position, contribution to dL/dnode, the same before unbroadcasting) per edge."""
    cot = graph.cot
    found = []
    for c, q in graph.consumers.get(node, []):
        g = cot.get(c)
        if g is None:
            continue
        pg = c._rule.vjp(g, c.data, *[p.data for p in c._parents], **(c._static or {}))[q]
        if pg is None:
            continue
        raw = pg
        if c._broadcasts and np.shape(pg) != np.shape(node.data):
            pg = unbroadcast(pg, np.shape(node.data))
        found.append((c, q, _data64(pg), _data64(raw)))
    return found


def _path(graph: GraphInfo, c: Node) -> str:
    """A use as the report names it: the consumer, then downstream to the first labelled node."""
    names = [_name(c)]
    n = c
    for _ in range(4):
        nxt = graph.consumers.get(n, [])
        if n.label or n is graph.out or len(nxt) != 1:
            break
        n = nxt[0][0]
        names.append(_name(n))
    return " -> ".join(names)


def _paths(auto: np.ndarray, node: Node, name: str, graph: GraphInfo) -> Candidates:
    uses: dict[Node, np.ndarray] = {}  # one path per consumer (x * x is one use of x)
    for c, _, pe, _ in _edges(node, graph):
        uses[c] = uses[c] + pe if c in uses else pe
    uses = {c: pe for c, pe in uses.items() if np.any(pe != 0)}
    if len(uses) < 2:
        return
    k = len(uses)
    for c, pe in uses.items():
        via = _path(graph, c)
        yield Diagnosis("path", f"a missing path: your formula matches autodiff without the path "
                        f"through {via}; {name} has {k} uses and the chain rule adds them all: a use "
                        f"of {name} is missing", where=via), auto - pe
        yield Diagnosis("path", f"a path counted twice: your formula matches autodiff with the path "
                        f"through {via} added again", where=via), auto + pe
        yield Diagnosis("path", f"one path only: your formula is the path through {via} alone; "
                        f"{name} has {k} uses and the chain rule adds them all", where=via), pe


def _axis_candidates(auto: np.ndarray, node: Node, name: str, graph: GraphInfo) -> Candidates:
    """A broadcast input (a bias added to every row) whose gradient is summed over the wrong axis."""
    edges = _edges(node, graph)
    shape = np.shape(node.data)
    for c, _, pe, raw in edges:
        if len(shape) != 1 or raw.ndim != 2 or raw.shape[1] != shape[0] or raw.shape[0] == 1:
            continue
        alt = raw.sum(axis=1)
        whole = alt if len(edges) == 1 else (auto - pe + alt if alt.shape == auto.shape else None)
        if whole is not None:
            yield Diagnosis("axis", f"a sum over the wrong axis: {name} is broadcast over the "
                            f"{raw.shape[0]} rows of {_name(c)}, so its gradient sums over axis 0 (the "
                            "rows); your formula sums over axis 1", where=_name(c)), whole


# --------------------------------------------------------------------------------- regularization

def _regularization(auto: np.ndarray, node: Node, name: str, graph: GraphInfo) -> Candidates:
    if not node.is_leaf:
        return
    pen = graph.penalties
    W = _data64(node)
    s = np.sign(W)
    mine = pen.get(node)
    if mine is None:
        for other, lam in pen.items():
            a, b = lam.get("l1", 0.0), lam.get("l2", 0.0)
            yield Diagnosis("regularization", f"a penalised {name}: the penalty does not involve {name} "
                            f"(biases are not regularised), but your formula adds {_terms(a, b, name)} "
                            f"with the coefficients of {_name(other)}", where=name), auto + a * s + 2 * b * W
        return
    a, b = mine.get("l1", 0.0), mine.get("l2", 0.0)
    base = auto - a * s - 2 * b * W
    right = _terms(a, b, name)
    slips: list[tuple[str, np.ndarray]] = []
    if a:
        slips.append((f"the L1 term with the wrong sign: the penalty adds +{_terms(a, 0, name)}, your "
                      f"formula subtracts it ({right} is right)", base - a * s + 2 * b * W))
    if a and b:
        slips.append((f"2 {name} - sign({name}) instead of {right}: the lambdas are dropped and the L1 "
                      "term has the wrong sign", base + 2 * W - s))
        slips.append((f"the lambdas are dropped: 2 {name} + sign({name}) instead of {right}",
                      base + 2 * W + s))
        slips.append((f"λ1 and λ2 swapped: {_terms(b, a, name)} instead of {right}",
                      base + b * s + 2 * a * W))
    if b:
        slips.append((f"the 2 of the L2 term is missing: d({b:g} ‖{name}‖²)/d{name} = {2 * b:g} {name}",
                      base + a * s + b * W))
    for other, lam in pen.items():
        if other is not node and lam != mine:
            oa, ob = lam.get("l1", 0.0), lam.get("l2", 0.0)
            slips.append((f"another layer's coefficients: your formula uses those of {_name(other)} "
                          f"({_terms(oa, ob, name)}) instead of {right}", base + oa * s + 2 * ob * W))
    slips.append((f"the penalty's gradient {right} is missing", base))
    if a and b:
        slips.append((f"the L1 term {_terms(a, 0, name)} is missing", base + 2 * b * W))
        slips.append((f"the L2 term {_terms(0, b, name)} is missing", base + a * s))
    for text, values in slips:
        yield Diagnosis("regularization", text, where=name), values


def _terms(a: float, b: float, name: str) -> str:
    def times(k: float, what: str) -> str:
        return what if k == 1 else f"{k:g} {what}"
    parts = ([times(2 * b, name)] if b else []) + ([times(a, f"sign({name})")] if a else [])
    return " + ".join(parts) or "0"


# ------------------------------------------------------------------------ local derivative slips

Alternatives = Iterator[tuple[Any, dict[str, Any]]]


@dataclass(frozen=True)
class _Slip:
    """A common slip in one op's local derivative: ``alts(g, ans, inputs, static, q, true, op, rule)``
    yields the VJP for input q as the slip computes it, with the details its text needs ({z} is
    always the op's input)."""

    kind: str
    text: str
    alts: Callable[..., Alternatives]


def _one(fn: Callable[..., Any]) -> Callable[..., Alternatives]:
    def alts(g: Any, a: Any, xs: tuple[Any, ...], st: dict[str, Any], q: int, true: Any,
             *_: Any) -> Alternatives:
        yield fn(g, a, np.asarray(xs[0]), st), {"alpha": st.get("alpha", "")}
    return alts


def _step(x: np.ndarray) -> np.ndarray:
    return (x > 0).astype(np.float64)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _other_axes(x: Any, st: dict[str, Any]) -> list[tuple[int, int]]:
    """(the op's axis, another axis) pairs for a 2-D-or-more softmax-like op with an int axis."""
    axis, nd = st.get("axis", -1), np.ndim(x)
    if nd < 2 or not isinstance(axis, int | np.integer):
        return []
    return [(int(axis) % nd, b) for b in range(nd) if b != int(axis) % nd]


def _softmax_axis(g: Any, a: Any, xs: tuple[Any, ...], st: dict[str, Any], q: int, true: Any,
                  op: str, rule: Any = None) -> Alternatives:
    """The op's VJP with the softmax taken over another axis (the sums stay where the op has them
    for log_softmax and logsumexp: only S changes, as in (softmax(x, other) - y) for a loss)."""
    x = np.asarray(xs[0])
    for axis, other in _other_axes(x, st):
        s_alt = _softmax(x, other)
        if op == "softmax":
            alt = s_alt * (g - np.sum(g * s_alt, axis=other, keepdims=True))
        elif op == "log_softmax":
            alt = g - s_alt * np.sum(g, axis=axis, keepdims=True)
        else:  # logsumexp: g (expanded along the reduced axis) times the softmax
            alt = (g if st.get("keepdims") else np.expand_dims(g, axis)) * s_alt
        yield alt, {"axis": axis, "alt": other}


def _matmul_untransposed(g: Any, a: Any, xs: tuple[Any, ...], st: dict[str, Any], q: int, true: Any,
                         op: str, rule: Any = None) -> Alternatives:
    """The matmul VJP for input q with the other operand transposed (it must be square)."""
    other = np.asarray(xs[1 - q])
    if other.ndim != 2 or other.shape[0] != other.shape[1] or rule is None:
        return
    args = (xs[0], other.T) if q == 0 else (other.T, xs[1])
    yield rule.vjp(g, a, *args, **st)[q], {}


def _scaled(factor: Callable[[Any, Any, dict[str, Any]], float], info: Callable[..., dict[str, Any]]
            ) -> Callable[..., Alternatives]:
    def alts(g: Any, a: Any, xs: tuple[Any, ...], st: dict[str, Any], q: int, true: Any,
             *_: Any) -> Alternatives:
        k = factor(xs[0], a, st)
        if k not in (0.0, 1.0):
            yield true * k, info(xs[0], a, st)
    return alts


_SLIPS: dict[str, tuple[_Slip, ...]] = {
    "relu": (
        _Slip("chain factor", "missing the factor d relu/d {z} = 1[{z} > 0] (the ReLU mask): your formula "
              "lets the gradient through the inactive units", _one(lambda g, a, x, st: g)),
        _Slip("derivative", "rect'({z}) = {z} instead of 1[{z} > 0]: your formula multiplies by the unit's "
              "value instead of the indicator", _one(lambda g, a, x, st: g * x * _step(x))),
    ),
    "leaky_relu": (
        _Slip("chain factor", "missing the factor d leaky_relu/d {z} (1 where {z} > 0, {alpha} elsewhere)",
              _one(lambda g, a, x, st: g)),
        _Slip("derivative", "the leaky slope on the wrong side: LeakyReLU'({z}) is 1 for {z} > 0 and "
              "{alpha} for {z} ≤ 0, your formula has them swapped",
              _one(lambda g, a, x, st: g * np.where(x > 0, st["alpha"], 1.0))),
        _Slip("derivative", "the ReLU derivative 1[{z} > 0] for a leaky ReLU: the slope {alpha} for "
              "{z} ≤ 0 is missing", _one(lambda g, a, x, st: g * _step(x))),
    ),
    "sigmoid": (
        _Slip("chain factor", "missing the factor σ'({z}) = σ({z})(1 - σ({z}))", _one(lambda g, a, x, st: g)),
        _Slip("derivative", "σ(1 + σ) instead of σ'({z}) = σ(1 - σ)",
              _one(lambda g, a, x, st: g * a * (1 + a))),
        _Slip("derivative", "σ instead of σ'({z}) = σ(1 - σ)", _one(lambda g, a, x, st: g * a)),
    ),
    "tanh": (
        _Slip("chain factor", "missing the factor 1 - tanh²({z})", _one(lambda g, a, x, st: g)),
        _Slip("derivative", "1 - tanh({z}) instead of 1 - tanh²({z})", _one(lambda g, a, x, st: g * (1 - a))),
        _Slip("derivative", "1 - {z}² (the pre-activation) instead of 1 - tanh²({z})",
              _one(lambda g, a, x, st: g * (1 - x ** 2))),
    ),
    "exp": (_Slip("chain factor", "missing the factor e^{z} of d exp({z})", _one(lambda g, a, x, st: g)),),
    "log": (_Slip("chain factor", "missing the factor 1/{z} of d log({z})", _one(lambda g, a, x, st: g)),),
    "mean": (
        _Slip("factor", "missing the 1/n of the mean over the batch (n = {n}): your formula matches "
              "autodiff without the mean's 1/{n}",
              _scaled(lambda x, a, st: float(np.size(x) // max(np.size(a), 1)),
                      lambda x, a, st: {"n": int(np.size(x) // max(np.size(a), 1))})),
    ),
    "pow": (
        _Slip("factor", "missing the factor {p:g} of d({z}^{p:g}) = {p:g} {z}^{pm1:g}",
              _scaled(lambda x, a, st: 1.0 / st["exponent"] if st["exponent"] else 0.0,
                      lambda x, a, st: {"p": st["exponent"], "pm1": st["exponent"] - 1})),
    ),
    "softmax": (
        _Slip("derivative", "softmax treated as elementwise: S(1 - S) keeps only the diagonal of its "
              "Jacobian diag(S) - S Sᵀ", _one(lambda g, a, x, st: g * a * (1 - a))),
        _Slip("axis", "softmax over axis {alt} instead of axis {axis}", _softmax_axis),
    ),
    "log_softmax": (_Slip("axis", "softmax over axis {alt} instead of axis {axis}", _softmax_axis),),
    "logsumexp": (_Slip("axis", "softmax over axis {alt} instead of axis {axis} (d logsumexp = softmax)",
                        _softmax_axis),),
    "matmul": (
        _Slip("transposed", "a transpose is missing: your formula multiplies by {other} where the chain "
              "rule has {other_t} (the gradient of A B is g Bᵀ for A and Aᵀ g for B)", _matmul_untransposed),
    ),
}


def _tangents(graph: GraphInfo, node: Node, r: Any) -> dict[Node, Any]:
    """Forward mode from ``node`` alone: the tangent J r at every node downstream of it."""
    tan: dict[Node, Any] = {node: r}
    for n in graph.order[graph.pos[node] + 1:]:
        ps = n._parents
        ts = tuple(tan.get(p) for p in ps)
        if not ps or all(t is None for t in ts):
            continue
        tan[n] = n._rule.jvp(ts, n.data, *[p.data for p in ps], **(n._static or {}))
    return tan


class _Screen:
    """r·(hand - auto) against (J r)·delta: a necessary condition for a local slip to fit, checked
    with one dot product. The bound is the check's tolerance projected on r, plus rounding."""

    def __init__(self, fit: _Fit, node: Node, graph: GraphInfo) -> None:
        data = np.asarray(node.data)
        rng = np.random.default_rng(0)
        self.r: Any = (rng.standard_normal(data.shape).astype(data.dtype) if isinstance(node.data, np.ndarray)
                       else float(rng.standard_normal()))
        self.tan = _tangents(graph, node, self.r)
        r64 = np.asarray(self.r, dtype=np.float64)
        absr = np.abs(r64)
        diff = fit.hand - fit.auto
        self.obs = float(np.sum(r64 * diff))
        hand_size = (np.abs(fit.hand) + fit.atol) / (1 - fit.rtol)
        self.tol = 1.01 * float(np.sum(absr * (fit.atol + fit.rtol * hand_size)))
        self.rnd = max(1e-8, 1e3 * float(np.finfo(data.dtype if data.dtype.kind == "f" else np.float64).eps))
        self.scale = float(np.sum(absr * np.abs(diff)))

    def passes(self, p: Node, delta: np.ndarray) -> bool:
        prod = np.asarray(self.tan[p], dtype=np.float64) * delta
        pred = float(np.sum(prod))
        return abs(pred - self.obs) <= self.tol + self.rnd * (float(np.sum(np.abs(prod))) + self.scale)


def _local_slips(fit: _Fit, node: Node, graph: GraphInfo) -> Candidates:
    down = {node}
    sites = []
    for n in graph.order[graph.pos[node] + 1:]:
        if any(p in down for p in n._parents):
            down.add(n)
            if n.op in _SLIPS:
                sites.append(n)
    if not sites:
        return
    screen = _Screen(fit, node, graph)
    cot = graph.cot
    for u in sites:
        g = cot.get(u)
        xs = tuple(p.data for p in u._parents)
        st = u._static or {}
        for q, p in enumerate(u._parents):
            true = None if p not in down or g is None else u._rule.vjp(g, u.data, *xs, **st)[q]
            if true is None:
                continue
            for slip in _SLIPS[u.op]:
                for alt, info in slip.alts(g, u.data, xs, st, q, true, u.op, u._rule):
                    found = _confirm(screen, node, p, u, alt, true)
                    if found is not None:
                        other = _name(u._parents[1 - q]) if len(u._parents) == 2 else ""
                        text = slip.text.format(z=_name(p) if p.label else "z", other=other,
                                                other_t=_transpose_name(other), **info)
                        if not p.label and "{z}" in slip.text:  # say where the unnamed z is
                            text += f" (at {u.op}{f' -> {u.label}' if u.label else ''})"
                        yield Diagnosis(slip.kind, text, where=f"{u.op}({_name(p)})"), fit.auto + found


def _confirm(screen: _Screen, node: Node, p: Node, u: Node, alt: Any, true: Any) -> np.ndarray | None:
    """The change of the checked gradient when u's VJP to input p is ``alt`` instead of ``true``,
    if it passes the screen (one reverse sweep of the sub-graph between node and p)."""
    delta = np.asarray(alt) - np.asarray(true)
    if u._broadcasts and delta.shape != np.shape(p.data):
        delta = unbroadcast(delta, np.shape(p.data))
    if not np.all(np.isfinite(delta)) or not np.any(delta):
        return None
    if not screen.passes(p, np.asarray(delta, dtype=np.float64)):
        return None
    if p is node:
        return _data64(delta)
    seed = delta if isinstance(p.data, np.ndarray) else float(delta)
    return _data64(gradients(p, [node], seed)[0])
