"""How one node reads as text and HTML: numbers, static arguments and the Jupyter card of a node.

Used by `Value`/`Tensor` (``_repr_html_``) and by the graph renderer; plain numpy, no graphviz.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np

from .engine import Node

ALERT = "#cb181d"
OP_COLOUR = "#fdd0a2"


class Summary:
    """What the renderer shows of a large array of another library (torch on a GPU, Dask): its
    shape, dtype and a few statistics computed where the array lives; only these numbers are
    moved to host memory (see `summarize`)."""

    __slots__ = ("dtype", "hi", "inf", "library", "lo", "mean", "nan", "ndim", "shape", "size")

    def __init__(self, shape: tuple[int, ...], dtype: Any, library: str, lo: float, mean: float,
                 hi: float, nan: int, inf: int) -> None:
        self.shape, self.ndim, self.size = shape, len(shape), math.prod(shape)
        self.dtype, self.library = dtype, library
        self.lo, self.mean, self.hi, self.nan, self.inf = lo, mean, hi, nan, inf


def is_array(x: Any) -> bool:
    """An ndarray, or the `Summary` of another library's large array."""
    return isinstance(x, np.ndarray | Summary)


def _num(x: Any, digits: int) -> str:
    x = float(x)
    return f"{x + 0.0 if x == 0 else x:.{digits}g}"  # never "-0"


def _as_raw(x: Any) -> Any:
    return x.data if isinstance(x, Node) else x


def _finite(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, float | int):
        return math.isfinite(x)
    if isinstance(x, Summary):
        return not (x.nan or x.inf)
    a = np.asarray(x)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _bad_kind(x: Any) -> str:
    if isinstance(x, Summary):
        return "nan" if x.nan else "inf"
    a = np.asarray(x, dtype=float)
    return "nan" if np.isnan(a).any() else "inf"


def _static_text(static: dict[str, Any] | None) -> str:
    # `need` is matmul's internal note of which inputs want a gradient, not maths: not shown
    shown = {k: v for k, v in (static or {}).items()
             if v is not None and v is not False and k != "need"}
    if not shown:
        return ""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, np.ndarray):  # an index array: its shape, not its 1,000 entries
            return repr(v.tolist()) if v.size <= 4 else f"array{v.shape}"
        if isinstance(v, tuple):
            return "(" + ", ".join(fmt(x) for x in v) + ("," if len(v) == 1 else "") + ")"
        if isinstance(v, slice):
            return ":".join("" if x is None else str(x) for x in (v.start, v.stop, v.step)).rstrip(":") or ":"
        return repr(v)

    return "(" + ", ".join(f"{k}={fmt(v)}" for k, v in shown.items()) + ")"


def value_html(node: Node) -> str:
    """A compact HTML card for one `Value` or `Tensor` (what Jupyter shows for a node).

    Example:
        >>> from autograd_lite import Value
        >>> card = Value(2.0, label="x")._repr_html_()
        >>> "x" in card and "2" in card
        True
    """
    kind = type(node).__name__
    if node._parents:
        role, colour = "intermediate", OP_COLOUR
    elif node.requires_grad:
        role, colour = "parameter", "#6baed6"
    else:
        role, colour = "input", "#bdbdbd"
    head = [f"<b>{html.escape(kind)}</b>"]
    if node.label:
        head.append(f"<b>{html.escape(node.label)}</b>")
    if node.op:
        head.append("op " + html.escape(node.op + _static_text(node._static)))
    else:
        head.append(role)
    if node.requires_grad:
        head.append("requires_grad")
    data = node.data
    grad = _as_raw(node.grad)
    rows: list[str] = []
    if isinstance(data, np.ndarray):
        head.append(f"shape {data.shape} {data.dtype}")
        body = np.array2string(data, precision=4, threshold=24, edgeitems=3, suppress_small=True)
        rows.append(_html_row("data", f"<pre style=\"margin:0;display:inline-block;vertical-align:top\">"
                                      f"{html.escape(body)}</pre>", data))
        if grad is not None:
            g = np.asarray(grad)
            gtext = np.array2string(g, precision=4, threshold=24, edgeitems=3, suppress_small=True)
            rows.append(_html_row("grad", f"<pre style=\"margin:0;display:inline-block;vertical-align:top\">"
                                          f"{html.escape(gtext)}</pre>", g))
    else:
        rows.append(_html_row("data", html.escape(_num(data, 6)), data))
        if node.requires_grad and grad is not None:
            rows.append(_html_row("grad", html.escape(_num(grad, 6)), grad))
    return (f'<div class="autograd-lite-node" style="display:inline-block;font-family:monospace;'
            f'font-size:12px;line-height:1.4;border:1px solid #ccc;border-left:4px solid {colour};'
            f'border-radius:3px;padding:3px 8px">{" · ".join(head)}<br>{"<br>".join(rows)}</div>')


def _html_row(name: str, body: str, raw: Any) -> str:
    row = f"{name} {body}"
    if not _finite(raw):
        row += f' <span style="color:{ALERT};font-weight:bold">⚠ {_bad_kind(raw)}</span>'
    return row


# ---- text of one array, for graph labels and tooltips -------------------------------------------

SMALL_ENTRIES = 12  # arrays up to this many entries (and at most SMALL_COLS columns) are shown whole
SMALL_COLS = 4
TOOLTIP_ENTRIES = 5000  # tooltips print arrays whole up to this many entries


def shape_text(a: np.ndarray | Summary) -> str:
    """The shape of ``a`` as a label shows it; the dtype only when it is not float64.

    Example:
        >>> import numpy as np
        >>> shape_text(np.zeros((2, 3))), shape_text(np.zeros(3, dtype=np.float32)), shape_text(np.zeros(()))
        ('(2, 3)', '(3,) float32', 'scalar')
    """
    text = str(a.shape) if a.ndim else "scalar"
    return text if a.dtype == np.float64 else f"{text} {a.dtype}"


def array_grid(a: np.ndarray | Summary, digits: int) -> list[list[str]] | None:
    """The entries of a small array as rows of text (a vector is one row), else None.

    Small: at most `SMALL_ENTRIES` entries, at most `SMALL_COLS` columns and at most 2 axes.

    Example:
        >>> import numpy as np
        >>> array_grid(np.array([[1.0, 2.5], [-3.0, 0.0]]), 4)
        [['1', '2.5'], ['-3', '0']]
        >>> array_grid(np.zeros((5, 5)), 4) is None
        True
    """
    if isinstance(a, Summary):  # (a large array: never shown entry by entry)
        return None
    if a.ndim == 0 or a.ndim > 2 or a.size == 0 or a.size > SMALL_ENTRIES or a.shape[-1] > SMALL_COLS:
        return None
    rows = a.reshape(1, -1) if a.ndim == 1 else a
    return [[_num(v, digits) for v in row] for row in rows]


def array_stats(a: np.ndarray | Summary, digits: int) -> str:
    """min / mean / max over the finite entries of ``a`` (the summary of a large array).

    Example:
        >>> import numpy as np
        >>> array_stats(np.array([1.0, 2.0, np.nan, 6.0]), 3)
        'min 1  mean 3  max 6'
    """
    if isinstance(a, Summary):
        if a.lo != a.lo:
            return "(no finite entries)"
        return f"min {_num(a.lo, digits)}  mean {_num(a.mean, digits)}  max {_num(a.hi, digits)}"
    if a.size == 0:
        return "(empty)"
    with np.errstate(all="ignore"):
        finite = a[np.isfinite(a)] if a.dtype.kind in "fc" else a
        if not finite.size:
            return "(no finite entries)"
        return (f"min {_num(finite.min(), digits)}  mean {_num(finite.mean(), digits)}  "
                f"max {_num(finite.max(), digits)}")


def full_text(x: Any) -> str:
    """Every number of ``x`` (a float or an array) for a tooltip, each to full precision (the
    shortest text that reads back exactly); an array whole up to `TOOLTIP_ENTRIES` entries
    (numpy's summary with '...' beyond).

    Example:
        >>> import numpy as np
        >>> full_text(0.1 + 0.2), full_text(np.array([[1.0, 2.0], [3.0, 4.0]]))
        ('0.30000000000000004', '[[1., 2.],\\n [3., 4.]]')
    """
    x = _as_raw(x)
    if isinstance(x, Summary):
        return (f"({x.size:,} entries of a {x.library} array, summarized where it lives: "
                f"{array_stats(x, 17)}, {x.nan} nan, {x.inf} inf)")
    if not isinstance(x, np.ndarray):
        return repr(float(x))
    body = np.array2string(x, threshold=TOOLTIP_ENTRIES, separator=", ", max_line_width=100,
                           floatmode="unique")  # each float as repr() writes it: exact
    if x.size > TOOLTIP_ENTRIES:
        body += f"\n({x.size:,} entries: summarized)"
    return body
