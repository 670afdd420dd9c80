"""Command line: ``python -m autograd_lite <command>`` (also installed as ``autograd-lite``).

Commands:
    demo    differentiate tanh(w*x + b), print the value and the gradients (-o FILE draws the graph)
    graph   draw the graph of an expression: graph "tanh(w*x + b)" --x 0.5 --w -1 --b 2 -o g.svg
    train   train the seeds' MLP on the shipped digits (writes into --out)

A mistyped option gets a suggestion (``--hiden`` -> ``--hidden``); Ctrl-C ends any command with a
one-line message and exit code 130, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

DEMO_EXPRESSION = "tanh(w*x + b)"


def _demo(args: argparse.Namespace) -> int:
    from .expr import ExpressionError, draw_expression, output_file, parse_expression

    expression = parse_expression(DEMO_EXPRESSION)
    output, fmt = None, "svg"
    if args.out is not None:
        try:
            output, fmt = output_file(args.out, args.format)
        except ExpressionError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    code = draw_expression(expression, {"x": args.x, "w": args.w, "b": args.b}, "f", output, fmt,
                           title=f"f = {DEMO_EXPRESSION}")
    if output is None and code == 0:
        print("(add -o demo.svg to draw the graph; .png, .pdf and .dot work too)")
    return code


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the command line (one subcommand per job).

    Example:
        >>> build_parser().parse_args(["demo", "--x", "2"]).x
        2.0
    """
    parser = argparse.ArgumentParser(
        prog="python -m autograd_lite",
        description="autograd_lite: automatic differentiation you can read, draw and check.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    demo = sub.add_parser("demo", help="differentiate tanh(w*x + b) and print the gradients",
                          description="Differentiate f = tanh(w*x + b) and print f and its gradients; "
                                      "writes a file only with -o (the rules of `graph --help`).")
    demo.add_argument("--x", type=float, default=0.5, help="value of x (default 0.5)")
    demo.add_argument("--w", type=float, default=-1.0, help="value of w (default -1)")
    demo.add_argument("--b", type=float, default=2.0, help="value of b (default 2)")
    demo.add_argument("-o", "--out", default=None,
                      help="draw the graph into this file (.svg, .png, .pdf or .dot); default: no file")
    demo.add_argument("--format", choices=["svg", "png", "pdf", "dot"], default=None,
                      help="format of -o (default: from its suffix)")
    demo.set_defaults(func=_demo)
    from .train_cli import add_train_command

    add_train_command(sub)
    from .expr import add_graph_command

    add_graph_command(sub)
    return parser


def _command_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The sub-parser of ``command`` (the top-level parser when there is none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]  # type: ignore[no-any-return]
    return parser


def _suggestion(command_parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """" (did you mean --hidden?)" for an unrecognized option close to one of the command's options."""
    from .expr import did_you_mean

    known = [flag for action in command_parser._actions for flag in action.option_strings]
    for token in extra:
        if token.startswith("-"):
            hint = did_you_mean(token, known)
            if hint:
                return hint
    return ""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Example:
        >>> main(["demo"])
        f = tanh(w*x + b) = 0.905148
        df/dw = 0.0903533
        df/dx = -0.180707
        df/db = 0.180707
        (add -o demo.svg to draw the graph; .png, .pdf and .dot work too)
        0
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        target = _command_parser(parser, args.command)
        target.error(f"unrecognized arguments: {' '.join(extra)}{_suggestion(target, extra)}")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"{args.command}: interrupted (Ctrl-C); files are written all or nothing, so none is "
              "half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
