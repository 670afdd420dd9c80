"""`check_grad`: compare a hand-derived gradient with autodiff and with central finite differences.

Two ways to call it, both giving a `GradCheckReport` (a text table in a terminal, an HTML table in
a notebook, failures highlighted):

* ``check_grad(f, *inputs, expected=...)``: ``f`` is a Python function of Values, Tensors, arrays or
  floats. Every float input is checked (its gradient, or its Jacobian when ``f`` returns a vector);
  ints and integer arrays (labels, sizes) are passed through unchanged. Inputs are named after
  their label, else after ``f``'s parameter names.
* ``check_grad(loss, expected={...})``: ``loss`` is the output node of a graph you built yourself
  (typically after ``loss.backward()``). Names are the ``.label`` of nodes in the graph, so you can
  check intermediates such as "oa", "hs", "ha" as well as parameters.

``expected`` (your hand derivation) may be an array or a float (one input), a tuple aligned with
the inputs, a dict name -> array (inputs, labelled parameters and labelled intermediates), or a
function returning any of those. A function is called with the inputs' values positionally, or, if
all its parameter names are known names, with those values by keyword (``lambda hs, oa: ...``).

Finite differences for an intermediate node replay the recorded graph downstream of it with the
node's value perturbed (control flow is frozen at the recorded path, which is what the chain rule
at that point means).

Example:
    >>> import numpy as np
    >>> from autograd_lite import check_grad
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]]); b = np.array([1.0, 0.0, 2.0])
    >>> report = check_grad(lambda x: 0.5 * ((A @ x - b) ** 2).sum(), np.array([0.5, -1.0]),
    ...                     expected=lambda x: A.T @ (A @ x - b))
    >>> report.ok
    True
"""

from __future__ import annotations

import functools
import html
import inspect
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import backend as _B
from ..core.engine import Node, no_grad, toposort
from ..core.rules import RULES
from ..core.tensor import Tensor
from ..core.value import Value
from ..transforms import gradients
from .diagnosis import Diagnosis, GraphInfo, diagnose

__all__ = ["Diagnosis", "GradCheckEntry", "GradCheckError", "GradCheckReport", "GradCheckWarning",
           "check_grad"]

# ops whose derivative jumps, from the rule table: at input 0, or where two inputs tie
_KINK_AT_ZERO = {r.name for r in RULES.values() if r.kink == "zero"}
_KINK_BETWEEN = {r.name for r in RULES.values() if r.kink == "tie"}


class GradCheckWarning(UserWarning):
    """A gradient check whose finite differences cannot be trusted (float32 data, a kink).

    Example:
        >>> import warnings, numpy as np
        >>> from autograd_lite import check_grad, GradCheckWarning
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     _ = check_grad(lambda x: x.relu().sum(), np.array([0.0, 1.0]))
        >>> caught[0].category is GradCheckWarning
        True
    """


class GradCheckError(AssertionError):
    """Raised by `GradCheckReport.raise_if_failed` (an AssertionError, so pytest shows it well).

    Example:
        >>> from autograd_lite import check_grad, GradCheckError
        >>> try:
        ...     check_grad(lambda x: x * x, 3.0, expected=3.0).raise_if_failed()
        ... except GradCheckError as err:
        ...     print(str(err).splitlines()[1])
        check_grad: 1 of 1 FAILED  (central differences eps=1e-06, rtol=1e-05, atol=1e-07)
    """


@dataclass
class Comparison:
    """Elementwise comparison of two arrays: errors and the index that most violates the tolerance.

    The worst index maximises |a - b| / (atol + rtol |b|), the allclose criterion, so it is the
    element that fails the check the most (a relative error where the reference is large, an
    absolute one where it is near 0).
    """

    max_abs: float
    max_rel: float
    worst: tuple[int, ...]
    ok: bool

    @staticmethod
    def of(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> Comparison:
        """Compare ``a`` with the reference ``b`` (same shape).

        Example:
            >>> import numpy as np
            >>> c = Comparison.of(np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0]), 1e-5, 1e-8)
            >>> c.worst, c.max_abs, c.ok
            ((2,), 0.5, False)
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.abs(a - b)
            ratio = diff / (atol + rtol * np.abs(b))
            scale = np.maximum(np.abs(a), np.abs(b))
            rel = np.where(diff == 0, 0.0, diff / np.where(scale == 0, 1.0, scale))
        bad = np.isnan(a) != np.isnan(b)
        ratio = np.where(np.isnan(ratio), np.where(bad, np.inf, 0.0), ratio)
        diff = np.where(np.isnan(diff), np.where(bad, np.inf, 0.0), diff)
        rel = np.where(np.isnan(rel), np.where(bad, np.inf, 0.0), rel)
        if ratio.size == 0:
            return Comparison(0.0, 0.0, (), True)
        flat = int(np.argmax(ratio))
        worst = tuple(int(i) for i in np.unravel_index(flat, ratio.shape))
        return Comparison(float(diff.max()), float(rel.max()), worst, bool(ratio.max() <= 1.0))


@dataclass
class GradCheckEntry:
    """The check of one input or named node: its gradient three ways and the verdict.

    ``status`` is "ok", "WRONG" (your formula disagrees with autodiff, which agrees with finite
    differences), "SHAPE" (your formula has the wrong shape), or "NUMERIC" (autodiff and finite
    differences disagree: usually a kink or a badly scaled function; see the report's warnings).
    ``diagnosis`` (after WRONG or SHAPE) is the kind of slip that reproduces your numbers, when one
    does (a `Diagnosis`: ``.kind``, ``.text``), else None.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    autodiff: np.ndarray
    numeric: np.ndarray
    hand: np.ndarray | None = None
    vs_numeric: Comparison | None = None
    vs_hand: Comparison | None = None
    status: str = "ok"
    message: str = ""
    diagnosis: Diagnosis | None = None
    # the checked node, held only while check_grad diagnoses (a report keeps no graph alive)
    _node: Node | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when the entry passed."""
        return self.status == "ok"

    @property
    def worst_index(self) -> tuple[int, ...] | None:
        """Index of the element of the disagreeing pair that fails most: your formula vs autodiff,
        or autodiff vs finite differences for a NUMERIC entry (or when no formula is given); None
        for a shape mismatch. A passing entry gives its closest call (the table shows none)."""
        if self.status == "SHAPE":
            return None
        if self.vs_hand is not None and self.status != "NUMERIC":
            return self.vs_hand.worst
        return self.vs_numeric.worst if self.vs_numeric is not None else None

    def values_at_worst(self) -> dict[str, float | None]:
        """The hand, autodiff and numeric values at `worst_index`, side by side."""
        idx = self.worst_index
        if idx is None:
            return {"hand": None, "autodiff": None, "numeric": None}
        return {"hand": None if self.hand is None else float(self.hand[idx]),
                "autodiff": float(self.autodiff[idx]), "numeric": float(self.numeric[idx])}

    def _errors(self) -> tuple[str, str]:
        def fmt(c: Comparison | None) -> str:
            return "-" if c is None else f"{c.max_abs:.2e} / {c.max_rel:.1e}"
        return fmt(self.vs_hand), fmt(self.vs_numeric)


@dataclass
class GradCheckReport:
    """The result of `check_grad`: one `GradCheckEntry` per input or name, and warnings.

    ``report.ok``; ``report.raise_if_failed()``; ``report["W2"]`` is the entry named W2; it prints
    as a table and shows as an HTML table in Jupyter, failing rows highlighted.

    Example:
        >>> from autograd_lite import check_grad
        >>> r = check_grad(lambda x: x.sigmoid(), 0.3, expected=lambda x: 0.25)
        >>> r.ok, r["x"].status
        (False, 'WRONG')
    """

    entries: list[GradCheckEntry]
    eps: float
    rtol: float
    atol: float
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every entry passed."""
        return all(e.ok for e in self.entries)

    @property
    def failed(self) -> list[GradCheckEntry]:
        """The entries that did not pass."""
        return [e for e in self.entries if not e.ok]

    def __getitem__(self, name: str) -> GradCheckEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(f"no entry {name!r} in this report; entries: {[e.name for e in self.entries]}")

    def __iter__(self) -> Any:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def raise_if_failed(self) -> GradCheckReport:
        """Raise `GradCheckError` with the table if any entry failed; return the report otherwise."""
        if not self.ok:
            raise GradCheckError("\n" + repr(self))
        return self

    def _head(self) -> str:
        verdict = ("all passed" if self.ok else
                   f"{len(self.failed)} of {len(self.entries)} FAILED")
        return (f"check_grad: {verdict}  (central differences eps={self.eps:g}, rtol={self.rtol:g}, "
                f"atol={self.atol:g})")

    def _rows(self) -> list[list[str]]:
        rows = []
        for e in self.entries:
            hand_err, num_err = e._errors()
            # a passing row has no worst entry to show; a single number is still worth showing
            shown = not e.ok or int(np.prod(e.shape)) == 1
            idx = e.worst_index if shown else None
            vals = e.values_at_worst() if shown else {}
            rows.append([e.name, e.kind, str(e.shape), e.status, hand_err, num_err,
                         "-" if idx is None or not e.shape else str(idx),
                         *(_number(vals.get(k)) for k in ("hand", "autodiff", "numeric"))])
        return rows

    def _lines(self, e: GradCheckEntry) -> list[str]:
        """The message and diagnosis lines under an entry's row."""
        out = [e.message] if e.message else []
        if e.diagnosis is not None:
            out.append(f"diagnosis: {e.diagnosis.text}")
        return out

    _COLUMNS = ("name", "kind", "shape", "status", "hand vs autodiff (abs / rel)",
                "autodiff vs numeric (abs / rel)", "worst index", "hand", "autodiff", "numeric")

    def __repr__(self) -> str:
        rows = [list(self._COLUMNS), *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._COLUMNS))]
        lines = [self._head()]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        for e in self.entries:
            lines.extend(f"  {e.name}: {text}" for text in self._lines(e))
        if self.warnings:
            lines.append("warnings:")
            lines.extend(f"  - {w}" for w in self.warnings)
        if self.notes:
            lines.append("notes:")
            lines.extend(f"  - {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th style='text-align:left'>{esc(c)}</th>" for c in self._COLUMNS)
        body = []
        for e, r in zip(self.entries, self._rows()):
            style = "" if e.ok else " style='background:#fdd'"
            cells = []
            for i, c in enumerate(r):
                text = esc(c)
                if i == 3:
                    color = "#060" if e.ok else "#b00"
                    text = f"<b style='color:{color}'>{text}</b>"
                cells.append(f"<td style='text-align:left'>{text}</td>")
            body.append(f"<tr{style}>{''.join(cells)}</tr>")
            for text in self._lines(e):
                body.append(f"<tr{style}><td></td><td colspan='{len(self._COLUMNS) - 1}' "
                            f"style='text-align:left'><i>{esc(text)}</i></td></tr>")
        color = "#060" if self.ok else "#b00"
        out = [f"<div><p style='color:{color}'><b>{esc(self._head())}</b></p>",
               f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"]
        if self.warnings:
            items = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
            out.append(f"<div style='background:#ffd;padding:4px'><b>warnings</b><ul>{items}</ul></div>")
        if self.notes:
            items = "".join(f"<li>{esc(n)}</li>" for n in self.notes)
            out.append(f"<div style='padding:4px'><b>notes</b><ul>{items}</ul></div>")
        out.append("</div>")
        return "".join(out)


# ------------------------------------------------------------------------------------------ helpers

def _number(v: float | None) -> str:
    """A table cell: 6 significant digits, "-" for nothing, and never "-0"."""
    if v is None:
        return "-"
    return f"{v + 0.0:.6g}" if v != 0 else "0"


def _is_checkable(x: Any) -> bool:
    """Inputs that get a gradient check: floats, float arrays and nodes (not ints, labels, None)."""
    if isinstance(x, Node):
        return np.asarray(x.data).dtype.kind == "f"
    if isinstance(x, bool | int | np.integer) or x is None:
        return False
    if isinstance(x, float | np.floating):
        return True
    try:
        return np.asarray(x).dtype.kind == "f"
    except (TypeError, ValueError):
        return False


def _input_names(f: Callable[..., Any], inputs: tuple[Any, ...]) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = []
    for i, x in enumerate(inputs):
        label = x.label if isinstance(x, Node) else None
        name = label or (params[i] if i < len(params) else f"x{i}")
        names.append(name if name not in names else f"{name}_{i}")
    return names


def _fresh(x: Any, requires_grad: bool) -> Node:
    """A new float64 leaf holding ``x``'s value (scalars become Values, arrays Tensors)."""
    d = x.data if isinstance(x, Node) else x
    if isinstance(x, Value) or (not isinstance(x, Node) and np.ndim(d) == 0
                                and not isinstance(d, np.ndarray)):
        return Value(float(d), requires_grad=requires_grad)
    return Tensor(np.array(d, dtype=np.float64), requires_grad=requires_grad)


def _data64(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Node) else x, dtype=np.float64)


def _labelled(out: Node) -> dict[str, list[Node]]:
    found: dict[str, list[Node]] = {}
    for n in toposort(out):
        if n.label:
            found.setdefault(n.label, []).append(n)
    return found


def _replay(order: list[Node], pos: dict[Node, int], out: Node, node: Node, data: Any) -> float:
    """The output's value with ``node``'s data replaced, re-running the rules downstream of it."""
    vals: dict[Node, Any] = {node: data}
    for n in order[pos[node] + 1:]:
        ps = n._parents
        if not ps or not any(p in vals for p in ps):
            continue
        d = n._rule.forward(*[vals[p] if p in vals else p.data for p in ps], **(n._static or {}))
        vals[n] = np.asarray(d) if isinstance(n, Tensor) else d
    return float(np.sum(vals.get(out, out.data)))


def _numeric_by_replay(out: Node, node: Node, eps: float) -> np.ndarray:
    order = toposort(out)
    pos = {n: i for i, n in enumerate(order)}
    base = node.data
    if isinstance(node, Value) or (np.ndim(base) == 0 and not isinstance(base, np.ndarray)):
        return np.asarray((_replay(order, pos, out, node, float(base) + eps)
                           - _replay(order, pos, out, node, float(base) - eps)) / (2 * eps))
    base = np.asarray(base)
    grad = np.zeros(base.shape)
    with np.errstate(all="ignore"):
        for idx in np.ndindex(*base.shape):
            xp = base.astype(np.float64, copy=True)
            xm = xp.copy()
            xp[idx] += eps
            xm[idx] -= eps
            grad[idx] = (_replay(order, pos, out, node, xp.astype(base.dtype))
                         - _replay(order, pos, out, node, xm.astype(base.dtype))) / (2 * eps)
    return grad


# what the derivative is taken to be exactly at the kink (the rule table's convention)
_KINK_CONVENTION = {"relu": "relu'(0) = 0", "abs": "abs'(0) = 0", "sign": "sign' = 0",
                    "leaky_relu": "leaky_relu'(0) = alpha", "maximum": "each input gets 1/2 at a tie",
                    "minimum": "each input gets 1/2 at a tie"}


def _kink_distance(n: Node) -> np.ndarray | None:
    if n.op in _KINK_AT_ZERO:
        return np.abs(_data64(n._parents[0]))
    if n.op in _KINK_BETWEEN:
        return np.abs(_data64(n._parents[0]) - _data64(n._parents[1]))
    return None


def _kink_notes(out: Node, kink_tol: float, eps: float,
                disagreed: list[str]) -> tuple[list[str], list[str]]:
    """Warnings and notes for inputs near a kink, graded by how near (closer than the step, or
    not) and by the outcome (did autodiff and finite differences disagree anywhere?)."""
    warn, note = [], []
    for n in toposort(out):
        d = _kink_distance(n)
        if d is None or not np.any(d < kink_tol):
            continue
        dmin = float(d.min())
        what = "input" if n.op in _KINK_AT_ZERO else "gap between the inputs"
        head = (f"{n.op}{f' {n.label!r}' if n.label else ''}: {int(np.sum(d < kink_tol))} {what}(s) within "
                f"{kink_tol:g} of the kink (closest {dmin:.3g})")
        rows = ", ".join(disagreed)
        if disagreed and dmin < eps:
            warn.append(f"{head}: the finite-difference step ({eps:g}) crosses the kink there, so the "
                        f"differences mix the two slopes and are not derivatives; that explains the "
                        f"disagreement in {rows}: move the point (e.g. perturb the inputs) before "
                        "trusting it")
        elif disagreed:
            warn.append(f"{head}: a step of {eps:g} in one input can move these by more than that, across "
                        f"the kink, which may explain the disagreement in {rows}: move the point, or try a "
                        "smaller eps")
        elif dmin < eps:
            warn.append(f"{head}: the step ({eps:g}) reaches the kink, yet autodiff and finite differences "
                        f"agreed; at the kink the derivative is a convention "
                        f"({_KINK_CONVENTION.get(n.op, 'see the rule table')}): "
                        "move the point to be sure")
        else:
            note.append(f"{head}, farther than the step ({eps:g}): the finite differences stayed on one "
                        "side and agreed with autodiff")
    return warn, note


def _call_expected(expected: Any, raw_inputs: list[Any], known: dict[str, Any]) -> Any:
    if not callable(expected):
        return expected
    try:
        params = list(inspect.signature(expected).parameters.values())
    except (TypeError, ValueError):
        params = []
    named = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if named and all(n in known for n in named) and not any(p.kind == p.VAR_POSITIONAL for p in params):
        return expected(**{n: known[n] for n in named})
    return expected(*raw_inputs)


def _shape_hint(hand: np.ndarray, shape: tuple[int, ...], kind: str, in_shape: tuple[int, ...]) -> str:
    if kind == "jacobian":
        msg = f"your formula has shape {hand.shape} but the Jacobian has shape {shape}"
        out_shape = shape[:len(shape) - len(in_shape)]
        if hand.shape == in_shape:
            return (msg + f": f is not scalar (it returns shape {out_shape}), so check_grad compares "
                    "Jacobians (outputs x inputs). For a gradient, check a scalar such as f(x).sum(); "
                    "or give the Jacobian (np.diag(d) for an elementwise derivative d; "
                    "autograd_lite.jacobian computes one)")
        if hand.shape == shape[::-1] and len(shape) == 2:
            return msg + ": transposed? (the Jacobian has one row per output and one column per input)"
        return msg
    msg = f"your formula has shape {hand.shape} but the gradient has shape {shape}"
    if hand.shape == shape[::-1] and len(shape) == 2:
        return msg + ": transposed? (the gradient of a matrix has the matrix's shape)"
    if hand.ndim == 0 and len(shape) == 2:
        return msg + ": np.dot of two 1-D arrays is an inner product; an outer product is np.outer(g, h)"
    if hand.size == int(np.prod(shape)):
        return msg + " (the same number of entries)"
    return msg


# ------------------------------------------------------------------------------------------ check_grad

def check_grad(f: Any, *inputs: Any, expected: Any = None, eps: float = 1e-6, rtol: float = 1e-5,
               atol: float = 1e-7, kink_tol: float | None = None, diagnose: bool = True,
               fast_mode: bool = False) -> GradCheckReport:
    """Check gradients three ways: your formula (``expected``), autodiff, and central differences.

    Args:
        f: a function of the inputs returning a scalar (checks gradients) or a vector/array
            (checks Jacobians, shape ``out.shape + input.shape``); or the output node of a graph
            you built (then give no inputs, and name the nodes to check in ``expected``).
        *inputs: floats, arrays, Values or Tensors (copied into fresh float64 leaves; the
            originals are not touched). Ints and integer arrays pass through unchecked.
        expected: your hand derivation: an array/float, a tuple aligned with the inputs, a dict
            name -> array (input names, labelled parameters and intermediates), or a function
            returning one of those (see the module docstring).
        eps: the finite-difference step.
        rtol, atol: an element passes when |a - b| <= atol + rtol |b| (b: autodiff, or numeric).
        kink_tol: warn when a relu/abs/sign/leaky_relu input (or a maximum/minimum gap) is within
            this of its kink; default ``100 * eps``. The warning is graded: closer than ``eps``
            or with a disagreement it warns; farther and all agreed it is only a note.
        diagnose: after a WRONG or SHAPE verdict, look for the kind of slip that reproduces your
            numbers (``entry.diagnosis``; a few extra sweeps of the graph; see
            `autograd_lite.tools.diagnosis`).
        fast_mode: finite differences along a few random directions instead of one per element
            (as PyTorch's ``fast_mode``): a few evaluations of ``f`` per input instead of two per
            element. Your formula is still compared with autodiff element by element, so that
            verdict is exact; a disagreement of autodiff with the directions re-runs the full
            finite differences of that input. Without it, a check estimated to take more than a
            few seconds warns up front with the estimate.

    Returns:
        A `GradCheckReport` (``.ok``, ``.raise_if_failed()``, a table in text and HTML).

    Example:
        >>> import numpy as np
        >>> from autograd_lite import check_grad
        >>> W = np.array([[1.0, -2.0], [0.5, 3.0]])
        >>> r = check_grad(lambda W: 0.1 * abs(W).sum() + 0.2 * (W ** 2).sum(), W,
        ...                expected=lambda W: 0.1 * np.sign(W) + 0.2 * W)   # the 2 is missing
        >>> r.ok, r["W"].status, r["W"].worst_index                        # worst where |W| is largest
        (False, 'WRONG', (1, 1))
        >>> check_grad(lambda W: 0.1 * abs(W).sum() + 0.2 * (W ** 2).sum(), W,
        ...            expected=lambda W: 0.1 * np.sign(W) + 2 * 0.2 * W).ok
        True
    """
    kink_tol = 100 * eps if kink_tol is None else kink_tol
    notes: list[str] = []
    if isinstance(f, Node):
        from .viz import _on_host  # a graph of another library's arrays: checked on host copies

        with _on_host([f]):
            return _check_grad(f, inputs, expected, eps, rtol, atol, kink_tol, diagnose, fast_mode, notes)
    if callable(f) and any(_B.is_array_of_library(x.data if isinstance(x, Node) else x) for x in inputs):
        f, inputs = _in_its_library(f, inputs)
    return _check_grad(f, inputs, expected, eps, rtol, atol, kink_tol, diagnose, fast_mode, notes)


def _in_its_library(f: Callable[..., Any], inputs: tuple[Any, ...]
                    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """Inputs of another array library (torch, a GPU, Dask): check_grad perturbs numpy float64
    copies of them, and ``f`` receives each copy moved back to its library and device by the
    differentiable `Tensor.to`, so the whole graph of ``f`` runs where the user's arrays live."""
    homes: list[tuple[str, Any] | None] = []
    host = []
    for x in inputs:
        d = x.data if isinstance(x, Node) else x
        if _B.is_array_of_library(d):
            lib = _B.library(d)
            homes.append((lib, None if lib == "dask" else _B.device(d)))
            host.append(Tensor(_B.to_numpy(d), label=x.label) if isinstance(x, Node) else _B.to_numpy(d))
        else:
            homes.append(None)
            host.append(x)

    @functools.wraps(f)
    def moved(*args: Any) -> Any:
        return f(*[a.to(h[0], device=h[1]) if h is not None and isinstance(a, Tensor) else a
                   for a, h in zip(args, homes)])

    return moved, tuple(host)


def _check_grad(f: Any, inputs: tuple[Any, ...], expected: Any, eps: float, rtol: float, atol: float,
                kink_tol: float, diagnose: bool, fast_mode: bool, notes: list[str]) -> GradCheckReport:
    if isinstance(f, Node):
        if inputs:
            raise TypeError("check_grad(loss, ...): when the first argument is an output node, give no "
                            "inputs; name the nodes to check with expected={'label': array, ...}")
        entries = _check_graph(f, expected, eps, rtol, atol, notes, fast_mode)
        out = f
    elif callable(f):
        entries, out = _check_function(f, inputs, expected, eps, rtol, atol, notes, fast_mode)
    else:
        raise TypeError(f"check_grad: the first argument must be a function or an output node, got "
                        f"{type(f).__name__}")
    quiet: list[str] = []
    if isinstance(out, Node):
        disagreed = [e.name for e in entries if e.vs_numeric is not None and not e.vs_numeric.ok]
        kinks, quiet = _kink_notes(out, kink_tol, eps, disagreed)
        notes.extend(kinks)
        if kinks:
            for e in entries:
                if e.status == "NUMERIC":
                    e.message += " (a kink is near: see the warnings)"
    if diagnose and isinstance(out, Node) and _B.is_array_of_library(out.data):
        from .viz import _on_host

        with _on_host([out]):  # the diagnosis reads the graph: on host copies
            _diagnose(entries, out, rtol, atol, quiet)
    elif diagnose:
        _diagnose(entries, out, rtol, atol, quiet)
    for e in entries:
        e._node = None
    for n in notes:
        warnings.warn(n, GradCheckWarning, stacklevel=3)
    return GradCheckReport(entries, eps, rtol, atol, notes, quiet)


def _diagnose(entries: list[GradCheckEntry], out: Any, rtol: float, atol: float,
              notes: list[str]) -> None:
    """Attach a diagnosis to each WRONG or SHAPE entry that one explains (see `diagnose`)."""
    scalar = isinstance(out, Node) and _B.size(out.data) == 1
    graph = GraphInfo(out) if scalar else None  # its one reverse sweep runs on first use
    for e in entries:
        if e.status not in ("WRONG", "SHAPE") or e.hand is None:
            continue
        if e.vs_numeric is not None and not e.vs_numeric.ok:
            continue  # autodiff is not confirmed by finite differences: no reference to explain from
        try:
            e.diagnosis = diagnose(e.hand, e.autodiff, name=e.name, kind=e.kind, rtol=rtol, atol=atol,
                                   node=e._node, graph=graph)
        except Exception as err:  # a diagnosis is a bonus: never lose the check's verdict to it
            notes.append(f"{e.name}: no diagnosis ({type(err).__name__}: {err})")


def _check_function(f: Callable[..., Any], inputs: tuple[Any, ...], expected: Any, eps: float,
                    rtol: float, atol: float, notes: list[str],
                    fast_mode: bool = False) -> tuple[list[GradCheckEntry], Any]:
    names = _input_names(f, inputs)
    checked = [i for i, x in enumerate(inputs) if _is_checkable(x)]
    if not checked:
        raise ValueError("check_grad: no float input to check (ints and integer arrays are passed "
                         "through unchecked); pass floats or float arrays")
    if any(np.asarray(x.data if isinstance(x, Node) else x).dtype == np.float32 for x in inputs
           if _is_checkable(x)):
        notes.append("float32 inputs: finite differences in float32 are too coarse to check anything; "
                     "the check ran on float64 copies of the inputs")
    args = [_fresh(x, True) if i in checked else x for i, x in enumerate(inputs)]
    for i in checked:
        args[i].label = names[i]
    kept = [np.array(x, copy=True) if isinstance(x, np.ndarray) else None for x in inputs]
    start = time.perf_counter()
    out = f(*args)
    seconds = time.perf_counter() - start
    _refuse_mutation(names, inputs, args, kept, checked)
    out_node = out if isinstance(out, Node) else None
    out_shape = _B.shape(out.data if isinstance(out, Node) else out)
    scalar = int(np.prod(out_shape)) == 1
    raw = [_data64(a) if i in checked else a for i, a in enumerate(args)]
    labelled = _labelled(out_node) if out_node is not None else {}
    known = {**{k: _data64(v[0]) for k, v in labelled.items() if len(v) == 1},
             **{names[i]: raw[i] for i in range(len(inputs))}}
    hand = _normalise_expected(_call_expected(expected, raw, known), [names[i] for i in checked])

    # autodiff: gradients of a scalar (one sweep for all names), Jacobian rows otherwise
    extra = [k for k in hand if k not in {names[i] for i in checked}]
    if extra and not scalar:
        raise ValueError(f"check_grad: names {extra} are not inputs; intermediates can only be checked "
                         "for a scalar output")
    extra_nodes = [_unique(labelled, k) for k in extra]
    targets = [args[i] for i in checked] + extra_nodes
    if out_node is None:
        auto = [np.zeros(out_shape + np.shape(t.data)) for t in targets]
    elif scalar:
        auto = [_data64(g) for g in gradients(out_node, targets, np.ones_like(out_node.data)
                                              if isinstance(out_node, Tensor) else 1.0)]
    else:
        auto = _jacobian_rows(out_node, targets, out_shape)

    if not fast_mode:
        _warn_cost([np.size(args[i].data) for i in checked], seconds, "f")
    entries = []
    for k, i in enumerate(checked):
        kind = "input" if scalar else "jacobian"
        full = (lambda i=i: _numeric_by_calls(f, args, i, eps, out_shape))
        entries.append(_checked(names[i], kind, auto[k], full, _caller(f, args, i), _data64(args[i]),
                                eps, hand.get(names[i]), rtol, atol, args[i], fast_mode))
    for k, name in enumerate(extra):
        node = extra_nodes[k]
        num = (_numeric_by_replay(out_node, node, eps) if out_node is not None
               else np.zeros(np.shape(node.data)))
        kind = "parameter" if node.is_leaf else "intermediate"
        entries.append(_entry(name, kind, auto[len(checked) + k], num, hand[name], rtol, atol, node))
    return entries, out


def _check_graph(out: Node, expected: Any, eps: float, rtol: float, atol: float,
                 notes: list[str], fast_mode: bool = False) -> list[GradCheckEntry]:
    if _B.size(out.data) != 1:
        raise ValueError(f"check_grad(loss): the output has shape {np.shape(out.data)}; give a scalar "
                         "loss node, or a function (then Jacobians are checked)")
    labelled = _labelled(out)
    known = {k: _data64(v[0]) for k, v in labelled.items() if len(v) == 1}
    hand = _normalise_expected(_call_expected(expected, [], known), None) if expected is not None else {}
    if hand:
        pairs = [(k, _unique(labelled, k)) for k in hand]
    else:  # everything with a unique label, and the unlabelled leaves that require grad
        unlabelled = [n for n in toposort(out) if n.is_leaf and n.requires_grad and not n.label]
        pairs = [(k, v[0]) for k, v in labelled.items() if len(v) == 1]
        pairs += [(f"leaf{j}", n) for j, n in enumerate(unlabelled)]
    names = [k for k, _ in pairs]
    nodes = [n for _, n in pairs]
    if any(np.asarray(n.data).dtype == np.float32 for n in nodes):
        notes.append("float32 data: finite differences in float32 are too coarse to check anything; "
                     "rebuild the graph in float64")
    seed = np.ones_like(out.data) if isinstance(out, Tensor) else 1.0
    auto = [_data64(g) for g in gradients(out, nodes, seed)]
    order = toposort(out)
    pos = {n: i for i, n in enumerate(order)}
    if not fast_mode and nodes:
        start = time.perf_counter()
        _replay(order, pos, out, nodes[0], nodes[0].data)
        _warn_cost([np.size(n.data) for n in nodes], time.perf_counter() - start, "the graph replay")
    entries = []
    for name, node, a in zip(names, nodes, auto):
        kind = "parameter" if node.is_leaf else "intermediate"
        full = (lambda node=node: _numeric_by_replay(out, node, eps))
        entries.append(_checked(name, kind, a, full, _replayer(order, pos, out, node), _data64(node),
                                eps, hand.get(name), rtol, atol, node, fast_mode))
    return entries


def _unique(labelled: dict[str, list[Node]], name: str) -> Node:
    if name not in labelled:
        raise KeyError(f"check_grad: no input or labelled node named {name!r}; known names: "
                       f"{sorted(labelled)}. Label a node with `h.label = {name!r}`.")
    nodes = labelled[name]
    if len(nodes) > 1:
        raise ValueError(f"check_grad: {len(nodes)} nodes are labelled {name!r}; give them distinct "
                         "labels to check one")
    return nodes[0]


def _normalise_expected(hand: Any, input_names: list[str] | None) -> dict[str, Any]:
    if hand is None:
        return {}
    if isinstance(hand, dict):
        return dict(hand)
    if input_names is None:
        raise TypeError("check_grad(loss, expected=...): give a dict name -> array (names are the "
                        "nodes' labels)")
    if len(input_names) == 1:
        return {input_names[0]: hand}
    if isinstance(hand, tuple | list) and len(hand) == len(input_names):
        return dict(zip(input_names, hand))
    raise ValueError(f"check_grad: {len(input_names)} inputs are checked ({input_names}); give expected "
                     "as a tuple aligned with them or as a dict name -> array")


def _jacobian_rows(out: Node, targets: list[Node], out_shape: tuple[int, ...]) -> list[np.ndarray]:
    J = [np.zeros(out_shape + np.shape(t.data)) for t in targets]
    for idx in np.ndindex(*out_shape):
        seed = np.zeros(out_shape, dtype=out.data.dtype)
        seed[idx] = 1.0
        for k, g in enumerate(gradients(out, targets, seed)):
            J[k][idx] = _data64(g)
    return J


def _caller(f: Callable[..., Any], args: list[Any], i: int) -> Callable[[np.ndarray], np.ndarray]:
    """f's output as a float64 array, with argument i replaced by the data ``d`` (no graph)."""
    x = args[i]

    def value(d: Any) -> np.ndarray:
        a = list(args)
        a[i] = Value(float(d), requires_grad=False) if isinstance(x, Value) else Tensor(d)
        with no_grad(), np.errstate(all="ignore"):
            out = f(*a)
        return _data64(out)

    return value


def _replayer(order: list[Node], pos: dict[Node, int], out: Node,
              node: Node) -> Callable[[np.ndarray], np.ndarray]:
    """The recorded graph's output as an array, with ``node``'s data replaced by ``d``."""
    dtype = np.asarray(node.data).dtype
    scalar = isinstance(node, Value)

    def value(d: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(_replay(order, pos, out, node, float(d) if scalar else d.astype(dtype)))

    return value


def _numeric_by_calls(f: Callable[..., Any], args: list[Any], i: int, eps: float,
                      out_shape: tuple[int, ...]) -> np.ndarray:
    base = _data64(args[i])
    value = _caller(f, args, i)
    J = np.zeros(out_shape + base.shape)
    for idx in np.ndindex(*base.shape):
        xp, xm = base.copy(), base.copy()
        xp[idx] += eps
        xm[idx] -= eps
        J[(..., *idx)] = (value(xp) - value(xm)) / (2 * eps)
    return J


_SLOW_SECONDS = 5.0  # a check estimated to take longer warns before it starts
_DIRECTIONS = 2  # random directions per input in fast mode


def _warn_cost(sizes: list[int], seconds: float, what: str) -> None:
    """Warn up front when the finite differences (two evaluations per element) will take long."""
    calls = 2 * sum(sizes)
    estimate = calls * seconds
    if estimate <= _SLOW_SECONDS:
        return
    took = f"{estimate / 60:.1f} min" if estimate >= 120 else f"{estimate:.0f} s"
    warnings.warn(
        f"check_grad: the finite differences will evaluate {what} {calls:,} times (2 per element of "
        f"{sum(sizes):,} elements), about {took} at {seconds * 1e3:.3g} ms per evaluation. Pass "
        f"fast_mode=True to check along {_DIRECTIONS} random directions per input instead (your "
        "formula is still compared with autodiff element by element), or check a smaller input.",
        GradCheckWarning, stacklevel=5)


def _checked(name: str, kind: str, auto: np.ndarray, full: Callable[[], np.ndarray],
             value: Callable[[np.ndarray], np.ndarray], base: np.ndarray, eps: float, hand: Any,
             rtol: float, atol: float, node: Node, fast: bool) -> GradCheckEntry:
    """The entry of one input: the ``full`` central differences, or (``fast``) random directions
    that fall back to the full ones on any disagreement, so a failure is always the full check's."""
    if fast and base.size > _DIRECTIONS:
        entry = _fast_entry(name, kind, auto, value, base, eps, hand, rtol, atol, node)
        if entry is not None:
            return entry
        warnings.warn(f"check_grad(fast_mode=True): autodiff and finite differences disagree along a "
                      f"random direction for {name!r}; running the full check of its {base.size:,} "
                      "elements to find where", GradCheckWarning, stacklevel=5)
    return _entry(name, kind, auto, full(), hand, rtol, atol, node)


def _unit(shape: tuple[int, ...], idx: tuple[Any, ...]) -> np.ndarray:
    e = np.zeros(shape)
    e[idx] = 1.0
    return e


def _central(value: Callable[[np.ndarray], np.ndarray], base: np.ndarray, v: np.ndarray,
             eps: float) -> np.ndarray:
    """(f(x + eps v) - f(x - eps v)) / 2 eps: the derivative of f along v."""
    return (value(base + eps * v) - value(base - eps * v)) / (2 * eps)


def _fast_entry(name: str, kind: str, auto: np.ndarray, value: Callable[[np.ndarray], np.ndarray],
                base: np.ndarray, eps: float, hand: Any, rtol: float, atol: float,
                node: Node) -> GradCheckEntry | None:
    """Compare autodiff with finite differences along random unit directions v (J·v against the
    derivative along v); None if they disagree (then the caller runs the full check). The bound
    is the typical size of the element-wise tolerances seen through v (x10), so a check that
    passes element by element passes here."""
    rng = np.random.default_rng(0)
    axes = (tuple(range(auto.ndim - base.ndim, auto.ndim)), tuple(range(base.ndim)))
    worst = 0.0
    for _ in range(_DIRECTIONS):
        v = rng.standard_normal(base.shape)
        v /= np.linalg.norm(v)
        numeric = _central(value, base, v, eps)
        projected = np.tensordot(auto, v, axes=axes)
        tol = 10 * np.sqrt(np.tensordot((atol + rtol * np.abs(auto)) ** 2, v * v, axes=axes))
        with np.errstate(invalid="ignore"):
            err = np.abs(projected - numeric)
        if not np.all(err <= tol):
            return None
        worst = max(worst, float(np.max(err, initial=0.0)))
    # autodiff is confirmed along the directions: compare your formula element by element, with
    # the exact central difference at the element that fails most (so a WRONG message is exact)
    num = auto.copy()
    if hand is not None and np.shape(hand) == auto.shape:
        mine = Comparison.of(np.asarray(hand, dtype=np.float64), auto, rtol, atol)
        if not mine.ok:  # WRONG: the message shows the finite difference at that element
            idx, out_nd = mine.worst, auto.ndim - base.ndim
            num[idx] = _central(value, base, _unit(base.shape, idx[out_nd:]), eps)[idx[:out_nd]]
    e = _entry(name, kind, auto, num, hand, rtol, atol, node)
    if e.status == "NUMERIC":
        return None  # the exact element disagrees: the full check decides
    e.numeric = np.where(num != auto, num, np.nan)  # only the exact element is a finite difference
    e.vs_numeric = Comparison(worst, 0.0, e.vs_numeric.worst if e.vs_numeric else (), True)
    if e.ok:
        e.message = (f"fast mode: autodiff agrees with finite differences along {_DIRECTIONS} random "
                     "directions (the numeric column is not computed element by element)")
    return e


def _refuse_mutation(names: list[str], inputs: tuple[Any, ...], args: list[Any],
                     kept: list[np.ndarray | None], checked: list[int]) -> None:
    """Raise if f changed an input in place: finite differences and autodiff would then see
    different points, and the check would blame autodiff for the function's side effect."""
    for i, x in enumerate(inputs):
        copy = kept[i]
        if i in checked:
            before, after = _data64(x), _data64(args[i])  # args[i] is check_grad's own copy
        elif copy is not None:
            before, after = copy, np.asarray(x)
        else:
            continue
        if before.shape == after.shape and np.array_equal(before, after, equal_nan=True):
            continue
        where = ""
        if before.shape == after.shape and before.size:
            idx = tuple(int(j) for j in np.argwhere(~((before == after) | (np.isnan(before)
                                                                         & np.isnan(after))))[0])
            at = f"at {idx}: " if idx else ""
            where = f" ({at}{float(before[idx]):.6g} before the call, {float(after[idx]):.6g} after)"
        raise ValueError(
            f"check_grad: f changed its input {names[i]!r} in place{where}. A function that writes "
            "into its inputs (x.data[...] = ..., x.data += ..., a[...] = ... on an array argument) "
            "is evaluated at a different point each time, so finite differences and autodiff would "
            "disagree and the check would blame autodiff. Compute on a copy inside f "
            "(a = a.copy(), or new nodes: x = x * 2, not x.data *= 2).")


def _entry(name: str, kind: str, auto: np.ndarray, num: np.ndarray, hand: Any, rtol: float,
           atol: float, node: Node) -> GradCheckEntry:
    shape = auto.shape
    if num.shape != shape:  # a size-1 output of shape (1,) or (1, 1): gradients drop those axes
        num = num.reshape(shape)
    e = GradCheckEntry(name, kind, shape, auto, num, _node=node)
    e.vs_numeric = Comparison.of(auto, num, rtol, atol)
    if hand is not None:
        try:
            h = np.asarray(hand, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"check_grad: expected[{name!r}] is a {type(hand).__name__}, not a number "
                            "or an array") from None
        if h.shape != shape and h.size == 1 and int(np.prod(shape)) == 1:
            h = h.reshape(shape)
        e.hand = h
        if h.shape != shape:
            e.status = "SHAPE"
            e.message = _shape_hint(h, shape, kind, np.shape(node.data))
            return e
        e.vs_hand = Comparison.of(h, auto, rtol, atol)
        if not e.vs_hand.ok:
            e.status = "WRONG"
            idx = e.vs_hand.worst
            at = f" at {idx}" if idx else ""
            e.message = (f"your formula disagrees with autodiff{at}: {_number(float(h[idx]))} vs "
                         f"{_number(float(auto[idx]))} (finite differences: {_number(float(num[idx]))})")
            if not e.vs_numeric.ok:
                e.message += "; autodiff and finite differences disagree too"
            return e
    if not e.vs_numeric.ok:
        e.status = "NUMERIC"
        idx = e.vs_numeric.worst
        e.message = (f"autodiff {_number(float(auto[idx]))} vs finite differences "
                     f"{_number(float(num[idx]))}{f' at {idx}' if idx else ''}")
    return e
