"""Command line: ``python -m autograd_lite <command>`` (also installed as ``autograd-lite``).

Commands:
    demo    build a small expression, backpropagate, print the gradients, write its graph
    graph   draw the graph of an expression: graph "tanh(w*x + b)" --x 0.5 --w -1 --b 2 -o g.svg
"""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from ..core.value import Value

    x = Value(args.x, label="x")
    w = Value(args.w, label="w")
    b = Value(args.b, label="b")
    y = (w * x + b).tanh()
    y.label = "y"
    y.backward()
    print(f"y = tanh(w*x + b) = {y.data:.6f}")
    for v in (x, w, b):
        print(f"dy/d{v.label} = {v.grad:.6f}")
    from .viz import GraphvizNotFoundError, draw_graph

    graph = draw_graph(y, edge_grads=True, title="y = tanh(w*x + b)")
    prefix = getattr(args, "out", None) or "demo_graph"
    print(f"graph (DOT): {graph.render(prefix + '.dot')}")
    try:
        print(f"graph (SVG): {graph.render(prefix + '.svg')}")
    except GraphvizNotFoundError as err:
        print(f"graph (SVG): not written: {err}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the command line (one subcommand per job)."""
    parser = argparse.ArgumentParser(
        prog="python -m autograd_lite",
        description="autograd_lite: automatic differentiation you can read, draw and check.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    demo = sub.add_parser("demo", help="differentiate tanh(w*x + b) and print the gradients")
    demo.add_argument("--x", type=float, default=0.5, help="value of x (default 0.5)")
    demo.add_argument("--w", type=float, default=-1.0, help="value of w (default -1)")
    demo.add_argument("--b", type=float, default=2.0, help="value of b (default 2)")
    demo.set_defaults(func=_demo)
    from .train_cli import add_train_command

    add_train_command(sub)
    from .expr import add_graph_command

    add_graph_command(sub)
    demo.add_argument("--out", default="demo_graph",
                      help="file name prefix of the graph written (.dot and .svg; default demo_graph)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
