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
    a = np.asarray(x)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _bad_kind(x: Any) -> str:
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
