"""A small, safe expression language for the command line (never `eval`).

``"tanh(w*x + b)"`` is parsed with Python's `ast` module and checked against a whitelist: numbers,
the names the caller defines, ``+ - * / **``, unary minus/plus and calls of the functions in
`FUNCTIONS`. Anything else (attributes, subscripts, strings, lambdas, comparisons, other calls)
is refused with an error that points at the offending piece. Evaluation walks the tree with an
explicit stack (no recursion) and builds the graph with the ordinary `Value`/`Tensor` ops.

Example:
    >>> from autograd_lite import Value
    >>> from autograd_lite.tools.expr import evaluate
    >>> y = evaluate("tanh(w*x + b)", {"x": Value(0.5), "w": Value(-1.0), "b": Value(2.0)})
    >>> round(y.data, 4)
    0.9051
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..core.engine import Node
from ..core.rules import RULES
from ..core.value import Value
from ..models.files import OutputPathError, make_folder

__all__ = ["FUNCTIONS", "Expression", "ExpressionError", "evaluate", "parse_expression"]

#: function name in an expression -> the node method it calls
FUNCTIONS: dict[str, str] = {name: str(r.method) for r in RULES.values() for name in r.expr}
#: functions that take one optional numeric argument after the input, by keyword name
_EXTRA_ARG = {"leaky_relu": "alpha"}

MAX_LENGTH = 10_000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


class ExpressionError(ValueError):
    """An expression that is not in the safe language, or names a value that was not given."""


def _point(text: str, node: ast.AST | None) -> str:
    """The expression with a caret under ``node`` (for error messages)."""
    col = getattr(node, "col_offset", None)
    if col is None or "\n" in text:
        return f"  {text}"
    return f"  {text}\n  {' ' * col}^"


def _refuse(text: str, node: ast.AST, what: str) -> ExpressionError:
    allowed = ", ".join(sorted(FUNCTIONS))
    return ExpressionError(
        f"expression: {what} is not allowed:\n{_point(text, node)}\n"
        f"Allowed: numbers, names given as --NAME VALUE, + - * / ** and the functions {allowed}.")


class Expression:
    """A parsed, checked expression: ``.text``, ``.names`` (in order of first use), ``evaluate``.

    Example:
        >>> e = parse_expression("x**2 + sin(y)")
        >>> e.names
        ('x', 'y')
    """

    def __init__(self, text: str, tree: ast.Expression, names: tuple[str, ...]) -> None:
        self.text = text
        self.tree = tree
        self.names = names

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(self, variables: Mapping[str, Any], *, kind: type[Node] = Value) -> Any:
        """Build the graph of the expression from ``variables`` (name -> Value/Tensor/number).

        Numbers that meet only other numbers are lifted to constants of ``kind``, so the result
        is always a node.

        Example:
            >>> from autograd_lite import Value
            >>> parse_expression("2 * x").evaluate({"x": Value(3.0)}).data
            6.0
        """
        missing = [n for n in self.names if n not in variables]
        if missing:
            given = ", ".join(sorted(variables)) or "none"
            raise ExpressionError(
                f"expression {self.text!r} uses {', '.join(missing)} but no value was given for "
                f"{'it' if len(missing) == 1 else 'them'} (given: {given}); pass "
                + " ".join(f"--{n} VALUE" for n in missing))
        result = _run(self.tree.body, variables, kind)
        if not isinstance(result, Node):
            result = kind._constant(float(result))
        return result


def parse_expression(text: str) -> Expression:
    """Parse and check ``text``; raise `ExpressionError` (pointing at the problem) if unsafe.

    Example:
        >>> parse_expression("2 * tanh(x)").names
        ('x',)
        >>> try:
        ...     parse_expression("__import__('os')")
        ... except ExpressionError as err:
        ...     print(str(err).splitlines()[0])
        expression: the call of '__import__' is not allowed:
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression: expected a string, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise ExpressionError("expression: empty; write one such as \"tanh(w*x + b)\"")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression: {len(text):,} characters is too long (at most "
                              f"{MAX_LENGTH:,}); build big graphs in Python instead")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        col = (err.offset or 1) - 1
        raise ExpressionError(f"expression: syntax error ({err.msg}):\n  {text}\n  {' ' * col}^"
                              ) from None
    except (RecursionError, MemoryError, ValueError) as err:
        raise ExpressionError(f"expression: cannot parse ({type(err).__name__}: {err}); "
                              "simplify the expression") from None
    names: list[ast.Name] = []
    nodes = list(ast.walk(tree))  # breadth-first with a queue: no recursion
    callees = {n.func for n in nodes if isinstance(n, ast.Call)}
    for node in nodes:
        if node not in callees:
            _check(text, node, names)
    names.sort(key=lambda n: n.col_offset)
    return Expression(text, tree, tuple(dict.fromkeys(n.id for n in names)))


def _check(text: str, node: ast.AST, names: list[ast.Name]) -> None:
    if isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop):
        if isinstance(node, ast.operator) and type(node) not in _BINARY:
            raise _refuse(text, node, f"the operator {type(node).__name__}")
        if isinstance(node, ast.unaryop) and not isinstance(node, ast.USub | ast.UAdd):
            raise _refuse(text, node, f"the operator {type(node).__name__}")
        return
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _refuse(text, node, f"the constant {v!r} (only real numbers)")
        return
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise _refuse(text, node, f"the function name {node.id!r} without a call")
        if not node.id.isidentifier() or node.id.startswith("_"):
            raise _refuse(text, node, f"the name {node.id!r}")
        names.append(node)
        return
    if isinstance(node, ast.Call):
        fn = node.func
        if not isinstance(fn, ast.Name) or fn.id not in FUNCTIONS:
            shown = fn.id if isinstance(fn, ast.Name) else ast.get_source_segment(text, fn)
            raise _refuse(text, node, f"the call of {shown!r}")
        extra = _EXTRA_ARG.get(fn.id)
        n_args = len(node.args) + len(node.keywords)
        if not node.args or n_args > (2 if extra else 1):
            usage = f"{fn.id}(x, {extra}=NUMBER)" if extra else f"{fn.id}(x)"
            raise _refuse(text, node, f"calling {fn.id} with {n_args} argument(s) (use {usage})")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise _refuse(text, node, "argument unpacking (*)")
        for kw in node.keywords:
            if kw.arg != extra:
                raise _refuse(text, kw.value, f"the keyword {kw.arg!r} for {fn.id}")
        for arg in [*node.args[1:], *(kw.value for kw in node.keywords)]:
            if _number(arg) is None:
                raise _refuse(text, arg, f"a non-numeric {extra} for {fn.id}")
        return
    if isinstance(node, ast.keyword | ast.Starred):
        return  # checked with their call
    segment = ast.get_source_segment(text, node) if isinstance(node, ast.expr) else None
    raise _refuse(text, node, f"{type(node).__name__} ({segment!r})" if segment else type(node).__name__)


def _number(node: ast.AST) -> float | None:
    """The value of a numeric literal (optionally signed), else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
            and not isinstance(node.value, bool):
        return sign * _to_float(node.value)
    return None


def _to_float(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf


def _as_node(x: Any, kind: type[Node]) -> Any:
    return x if isinstance(x, Node) else kind._constant(float(x))


def _run(root: ast.expr, variables: Mapping[str, Any], kind: type[Node]) -> Any:
    """Evaluate a checked tree bottom-up with an explicit stack (deep expressions are fine)."""
    stack: list[tuple[ast.expr, bool]] = [(root, False)]
    results: list[Any] = []
    while stack:
        node, ready = stack.pop()
        if isinstance(node, ast.Constant):
            results.append(_to_float(node.value))  # type: ignore[arg-type]  # checked: a number
        elif isinstance(node, ast.Name):
            results.append(variables[node.id])
        elif isinstance(node, ast.UnaryOp):
            if not ready:
                stack += [(node, True), (node.operand, False)]
                continue
            x = results.pop()
            results.append(-x if isinstance(node.op, ast.USub) else x)
        elif isinstance(node, ast.BinOp):
            exponent = _number(node.right) if isinstance(node.op, ast.Pow) else None
            if not ready:
                stack.append((node, True))
                if exponent is None:
                    stack.append((node.right, False))
                stack.append((node.left, False))
                continue
            right = exponent if exponent is not None else results.pop()
            left = results.pop()
            if not isinstance(left, Node) and (exponent is not None or not isinstance(right, Node)):
                left = kind._constant(float(left))  # number (op) number: keep it in the graph
            results.append(_BINARY[type(node.op)](left, right))  # x ** 2: a static exponent
        elif isinstance(node, ast.Call):
            if not ready:
                stack += [(node, True), (node.args[0], False)]
                continue
            assert isinstance(node.func, ast.Name)
            x = _as_node(results.pop(), kind)
            kwargs: dict[str, float] = {}
            extra = _EXTRA_ARG.get(node.func.id)
            if extra:
                values = [*node.args[1:], *(kw.value for kw in node.keywords)]
                if values:
                    kwargs[extra] = _number(values[0]) or 0.0
            results.append(getattr(x, FUNCTIONS[node.func.id])(**kwargs))
        else:  # pragma: no cover - _check refuses everything else
            raise ExpressionError(f"expression: unexpected {type(node).__name__}")
    return results[-1]


def evaluate(text: str, variables: Mapping[str, Any], *, kind: type[Node] = Value) -> Any:
    """Parse ``text`` safely and build its graph from ``variables``; see `parse_expression`.

    Example:
        >>> from autograd_lite import Value
        >>> evaluate("x ** 2 + 1", {"x": Value(3.0)}).data
        10.0
    """
    return parse_expression(text).evaluate(variables, kind=kind)


# ---------------------------------------------------------------------------------------------
# The `graph` command of the command line (wired in autograd_lite/__main__.py)
# ---------------------------------------------------------------------------------------------

GRAPH_EPILOG = """\
values: give each name of the expression a number, as --NAME VALUE, --NAME=VALUE,
NAME=VALUE or --var NAME=VALUE (e.g. --x 0.5 --w -1 --b 2).

output: the expression's value is called f (or g, h, F if the expression uses f); name it
yourself with "NAME = expression", e.g. "L = (w*x - t)**2" prints dL/dw.

file: the format is --format if given, else the suffix of -o (.svg, .png, .pdf, .dot or .gv),
else svg. The file written is exactly -o; an -o without a suffix gets the format's suffix, and
an -o whose suffix names another format than --format is refused. Without -o: graph.FORMAT in
the current folder. The folder of -o must exist; only its last level is created.

examples:
  python -m autograd_lite graph "tanh(w*x + b)" --x 0.5 --w -1 --b 2 -o graph.svg
  python -m autograd_lite graph "sigmoid(a*b) + log(b)" --a 2 --b 3 -o graph.png --rules
  python -m autograd_lite graph "L = x**2 * exp(-x)" --x 1.5 -o graph.dot   # no Graphviz needed

An expression starting with '-' must start with a space (" -x*y") so it is not read as an option.
"""

_FLAGS_WITH_VALUE = {"-o": "output", "--output": "output", "--format": "format",
                     "--rankdir": "rankdir"}
_SWITCHES = {"--rules": "rules", "--no-edge-grads": "no_edge_grads"}
_KNOWN_FLAGS = (*_FLAGS_WITH_VALUE, *_SWITCHES, "--var", "--help")
#: graph formats by file suffix (.gv is the other usual suffix of DOT files)
GRAPH_SUFFIXES = {"svg": "svg", "png": "png", "pdf": "pdf", "dot": "dot", "gv": "dot"}
#: names given to the expression's value, the first one the expression does not use
OUTPUT_NAMES = ("f", "g", "h", "F")


def did_you_mean(flag: str, known: Iterable[str] = _KNOWN_FLAGS) -> str:
    """" (did you mean --X?)" for a mistyped option close to a known one, else "".

    Example:
        >>> did_you_mean("--rule")
        ' (did you mean --rules?)'
    """
    close = difflib.get_close_matches(flag.partition("=")[0], list(known), n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""


def parse_values(tokens: list[str]) -> tuple[dict[str, float], dict[str, Any]]:
    """Split the command line after the expression into variable values and options.

    Example:
        >>> parse_values(["--x", "0.5", "--w", "-1", "b=2", "-o", "g.svg"])
        ({'x': 0.5, 'w': -1.0, 'b': 2.0}, {'output': 'g.svg'})
    """
    values: dict[str, float] = {}
    options: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok in _SWITCHES:
            options[_SWITCHES[tok]] = True
            continue
        key, eq, inline = tok.partition("=")
        if key in _FLAGS_WITH_VALUE or key == "--var":
            if eq:
                arg = inline
            elif i < len(tokens):
                arg, i = tokens[i], i + 1
            else:
                raise ExpressionError(f"{key} needs a value")
            if key == "--var":
                name, eq2, val = arg.partition("=")
                if not eq2:
                    raise ExpressionError(f"--var {arg}: write --var NAME=VALUE, e.g. --var x=0.5")
                values[_name(name)] = _float(name, val)
            else:
                options[_FLAGS_WITH_VALUE[key]] = arg
            continue
        if tok.startswith("--") and len(tok) > 2:
            name = key[2:]
            if eq:
                values[_name(name)] = _float(name, inline)
            elif i < len(tokens):
                values[_name(name)] = _float(name, tokens[i])
                i += 1
            else:
                raise ExpressionError(f"--{name} needs a value, e.g. --{name} 0.5{did_you_mean(key)}")
            continue
        if eq and not tok.startswith("-"):
            values[_name(key)] = _float(key, inline)
            continue
        raise ExpressionError(f"unexpected argument {tok!r}; give values as --NAME VALUE "
                              f"(e.g. --x 0.5){did_you_mean(tok)}")
    return values, options


def _name(name: str) -> str:
    if not name.isidentifier() or name.startswith("_") or name in FUNCTIONS:
        raise ExpressionError(f"{name!r} cannot be a variable name; use letters, digits and _ "
                              f"(not starting with _ and not a function name){did_you_mean('--' + name)}")
    return name


def _float(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ExpressionError(f"--{name} {text!r}: not a number{did_you_mean('--' + name)}") from None


def split_output_name(text: str) -> tuple[str | None, str]:
    """``"L = (w*x - t)**2"`` -> ``("L", "(w*x - t)**2")``; an expression without a name: (None, text).

    Example:
        >>> split_output_name("L = x**2"), split_output_name("x**2")
        (('L', 'x**2'), (None, 'x**2'))
    """
    match = re.match(r"\s*([A-Za-z_]\w*)\s*=(?!=)", text) if isinstance(text, str) else None
    if match is None:
        return None, text
    return _name(match.group(1)), text[match.end():].strip()


def output_name(given: str | None, expression: Expression) -> str:
    """The name printed for the expression's value (``f`` unless the expression uses it).

    Example:
        >>> output_name(None, parse_expression("f * y")), output_name("L", parse_expression("x"))
        ('g', 'L')
    """
    if given is not None:
        if given in expression.names:
            raise ExpressionError(f"the output name {given!r} is also an input of the expression "
                                  f"{expression.text!r}; pick another name (e.g. \"f = ...\")")
        return given
    return next(n for n in (*OUTPUT_NAMES, "output") if n not in expression.names)


def output_file(output: str | None, fmt: str | None) -> tuple[Path, str]:
    """The file the graph command writes and its format (the rule of GRAPH_EPILOG's "file:").

    Example:
        >>> output_file(None, "dot"), output_file("g", "pdf"), output_file("g.gv", None)
        ((PosixPath('graph.dot'), 'dot'), (PosixPath('g.pdf'), 'pdf'), (PosixPath('g.gv'), 'dot'))
    """
    if fmt is not None and fmt.lower() not in ("svg", "png", "pdf", "dot"):
        raise ExpressionError(f"--format {fmt!r}: use svg, png, pdf or dot")
    fmt = fmt.lower() if fmt else None
    if output is None:
        return Path(f"graph.{fmt or 'svg'}"), fmt or "svg"
    path = Path(output)
    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        return path.with_name(f"{path.name}.{fmt or 'svg'}"), fmt or "svg"
    if suffix in GRAPH_SUFFIXES:
        if fmt and fmt != GRAPH_SUFFIXES[suffix]:
            raise ExpressionError(f"-o {output} names a .{suffix} file but --format is {fmt}; drop --format "
                                  f"(the suffix decides) or name the file {path.stem}.{fmt}")
        return path, GRAPH_SUFFIXES[suffix]
    if fmt:
        return path, fmt
    raise ExpressionError(f"-o {output}: .{suffix} is not a graph format; name the file .svg, .png, .pdf or "
                          ".dot, or pass --format")


def add_graph_command(sub: Any) -> Any:
    """Add the ``graph`` subcommand to the command line's subparsers; returns its parser.

    Example:
        >>> import argparse
        >>> add_graph_command(argparse.ArgumentParser().add_subparsers()).prog.endswith("graph")
        True
    """
    import argparse

    graph = sub.add_parser(
        "graph", help="draw the graph of an expression to SVG/PNG/PDF/DOT",
        description="Evaluate an expression safely (no eval), backpropagate and draw its "
                    "computation graph with data, gradients and the gradient on every edge.",
        epilog=GRAPH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    graph.add_argument("expression", help='e.g. "tanh(w*x + b)" or "L = (w*x - t)**2"; functions: '
                       + ", ".join(sorted(FUNCTIONS)))
    graph.add_argument("-o", "--output", default=None,
                       help="file to write (.svg, .png, .pdf, .dot or .gv; default graph.svg)")
    graph.add_argument("--format", choices=["svg", "png", "pdf", "dot"], default=None,
                       help="output format (default: from the suffix of -o, else svg)")
    graph.add_argument("--rankdir", choices=["LR", "TB"], default=None,
                       help="layout direction (default LR: left to right)")
    graph.add_argument("--rules", action="store_true", help="show each op's derivative rule")
    graph.add_argument("--no-edge-grads", action="store_true",
                       help="do not label the edges with the gradients flowing back")
    graph.add_argument("values", nargs=argparse.REMAINDER, metavar="--NAME VALUE",
                       help="a value for each name in the expression")
    graph.set_defaults(func=graph_command)
    return graph


def graph_command(args: Any) -> int:
    """Run ``python -m autograd_lite graph EXPRESSION --NAME VALUE ... -o FILE``."""
    try:
        values, options = parse_values(list(args.values))
        given, text = split_output_name(args.expression)
        expression = parse_expression(text)
        name = output_name(given, expression)
        for unused in (n for n in values if n not in expression.names):
            hint = did_you_mean("--" + unused)
            if hint:  # a mistyped option read as a value: refuse rather than ignore it
                raise ExpressionError(f"--{unused} is neither a name in the expression nor an option{hint}")
        rankdir = options.get("rankdir") or args.rankdir or "LR"
        if rankdir not in ("LR", "TB"):
            raise ExpressionError(f"--rankdir {rankdir!r}: use LR or TB")
        output, fmt = output_file(options.get("output") or args.output, options.get("format") or args.format)
    except ExpressionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return draw_expression(expression, values, name, output, fmt, rankdir=rankdir,
                           rules=args.rules or bool(options.get("rules")),
                           edge_grads=not (args.no_edge_grads or options.get("no_edge_grads")))


def draw_expression(expression: Expression, values: Mapping[str, float], name: str, output: Path | None,
                    fmt: str = "svg", *, rankdir: str = "LR", rules: bool = False, edge_grads: bool = True,
                    title: str | None = None) -> int:
    """Evaluate, backpropagate, print the value and the gradients, and draw the graph to ``output``
    (nothing written when None); the exit code of the ``graph`` and ``demo`` commands."""
    from .viz import GraphvizNotFoundError, draw_graph

    try:
        if output is not None:
            make_folder(output.parent, create=False)  # refuse a bad -o before printing anything
    except OutputPathError as err:
        print(f"error: -o {output}: {err}", file=sys.stderr)
        return 2
    variables = {n: Value(v, label=n) for n, v in values.items()}
    unused = [n for n in variables if n not in expression.names]
    try:
        with warnings.catch_warnings(record=True) as caught:  # reported as the expression's, below
            warnings.simplefilter("always")
            result = expression.evaluate(variables)
            result.label = expression.text if len(expression.text) <= 40 else name
            if result.requires_grad:
                result.backward()
    except ExpressionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ArithmeticError, ValueError) as err:
        print(f"error: evaluating {expression.text!r}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    for text in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
        print(f"warning: in {expression.text!r}: {text}", file=sys.stderr)
    if unused:
        print(f"note: {', '.join(unused)} not used by the expression", file=sys.stderr)
    print(f"{name} = {expression.text} = {result.data:.6g}")
    for n in expression.names:
        print(f"d{name}/d{n} = {variables[n].grad:.6g}")
    if output is None:
        return 0
    try:
        make_folder(output.parent)
    except OutputPathError as err:  # pragma: no cover - the folder changed since the check above
        print(f"error: -o {output}: {err}", file=sys.stderr)
        return 2
    graph = draw_graph(result, rankdir=rankdir, show_rules=rules, edge_grads=edge_grads, title=title)
    try:
        path = graph.save(output, format=fmt)
    except (GraphvizNotFoundError, RuntimeError) as err:
        dot_path = graph.save(output.with_suffix(".dot"), format="dot")
        print(f"error: {err}\nThe DOT source was written to {dot_path}.", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot write {str(output)!r}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
