"""Tests of the safe expression language (autograd_lite.expr) and the `graph`/`demo` commands."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from autograd_lite.expr import GRAPH_EPILOG, ExpressionError, evaluate, parse_expression, parse_values

from autograd_lite import Value
from autograd_lite.__main__ import main

HAS_DOT = subprocess.run(["which", "dot"], capture_output=True).returncode == 0
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")
ROOT = Path(__file__).parents[1]


# ---- the language ----------------------------------------------------------------------------

def test_evaluation_matches_the_same_expression_written_in_python() -> None:
    def build(x: Value, w: Value, b: Value) -> Value:
        return (w * x + b).tanh() * (x ** 2) - (w / b).sigmoid() + (-x).exp() + x.sin() / w.cos()

    names = {"x": 0.7, "w": -1.3, "b": 2.1}
    mine = {k: Value(v) for k, v in names.items()}
    ref = {k: Value(v) for k, v in names.items()}
    y = evaluate("tanh(w*x + b) * x**2 - sigmoid(w/b) + exp(-x) + sin(x)/cos(w)", mine)
    y_ref = build(ref["x"], ref["w"], ref["b"])
    assert y.data == y_ref.data
    y.backward()
    y_ref.backward()
    for k in names:
        assert mine[k].grad == ref[k].grad


def test_operators_functions_and_constants() -> None:
    x = Value(-2.0)
    assert evaluate("relu(x) + abs(x) + sign(x)", {"x": x}).data == 1.0
    assert evaluate("leaky_relu(x, 0.1)", {"x": x}).data == pytest.approx(-0.2)
    assert evaluate("leaky_relu(x, alpha=0.5)", {"x": x}).data == pytest.approx(-1.0)
    assert evaluate("softplus(x) - log_sigmoid(-x)", {"x": x}).data == pytest.approx(
        math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-2.0)))
    assert evaluate("sqrt(4) + ln(1) + log(1)", {}).data == 2.0
    assert evaluate("2 ** x", {"x": x}).data == 0.25  # a node exponent: the power rule
    assert evaluate("+x - -x", {"x": x}).data == -4.0
    y = evaluate("x ** 2", {"x": x})
    assert y.op == "pow" and y._static == {"exponent": 2.0}  # a literal exponent is static
    assert evaluate("x ** -1", {"x": x})._static == {"exponent": -1.0}
    two = evaluate("2 * 3", {})  # numbers only: still a node (a constant)
    assert isinstance(two, Value) and two.data == 6.0 and not two.requires_grad
    with pytest.warns(RuntimeWarning):
        assert math.isinf(evaluate("x / 0", {"x": Value(1.0)}).data)  # IEEE, like the ops


def test_names_are_listed_in_reading_order() -> None:
    assert parse_expression("tanh(w*x + b)").names == ("w", "x", "b")
    assert parse_expression("x*x + y").names == ("x", "y")


@pytest.mark.parametrize("text, what", [
    ("__import__('os').system('touch pwned')", "the call of"),
    ("open('secret.txt')", "the call of 'open'"),
    ("x.data", "Attribute"),
    ("x.__class__", "Attribute"),
    ("x[0]", "Subscript"),
    ("lambda: 1", "Lambda"),
    ("(lambda: 1)()", "the call of"),
    ("x if x else x", "IfExp"),
    ("[x for x in y]", "ListComp"),
    ("x < 1", "Compare"),
    ("x and x", "BoolOp"),
    ("x // 2", "FloorDiv"),
    ("x @ x", "MatMult"),
    ("~x", "Invert"),
    ("'text'", "the constant 'text'"),
    ("True", "the constant True"),
    ("1j", "the constant 1j"),
    ("tanh", "the function name 'tanh' without a call"),
    ("tanh(x, x)", "calling tanh with 2 argument(s)"),
    ("tanh()", "calling tanh with 0 argument(s)"),
    ("exp(*x)", "argument unpacking"),
    ("leaky_relu(x, alpha=x)", "a non-numeric alpha"),
    ("leaky_relu(x, beta=1)", "the keyword 'beta'"),
    ("_secret", "the name '_secret'"),
    ("(x := 1)", "NamedExpr"),
    ("f'{x}'", "JoinedStr"),
])
def test_everything_outside_the_language_is_refused(text: str, what: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExpressionError, match="not allowed") as info:
        evaluate(text, {"x": Value(1.0), "y": Value(2.0)})
    assert what in str(info.value)
    assert "Allowed: numbers" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing ran


def test_errors_point_at_the_problem() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression("tanh(x) + x.data")
    assert "  tanh(x) + x.data\n            ^" in str(info.value)
    with pytest.raises(ExpressionError, match="syntax error"):
        parse_expression("tanh(x")
    with pytest.raises(ExpressionError, match="empty"):
        parse_expression("   ")
    with pytest.raises(ExpressionError, match="too long"):
        parse_expression("x+" * 6000 + "x")


def test_missing_values_are_named_with_the_fix() -> None:
    with pytest.raises(ExpressionError, match=r"uses b but no value was given for it .*pass --b VALUE"):
        evaluate("w*x + b", {"w": Value(1.0), "x": Value(2.0)})


def test_deep_expressions_evaluate_without_recursion() -> None:
    x = Value(1.0)
    y = evaluate(" + ".join(["x"] * 1500), {"x": x})
    assert y.data == 1500.0
    y.backward()
    assert x.grad == 1500.0
    nested = "sin(" * 150 + "x" + ")" * 150
    assert evaluate(nested, {"x": Value(0.5)}).data == pytest.approx(
        _repeat(math.sin, 150, 0.5))


def _repeat(f: object, n: int, v: float) -> float:
    for _ in range(n):
        v = f(v)  # type: ignore[operator]
    return v


def test_parse_values_forms_and_errors() -> None:
    values, options = parse_values(["--x", "0.5", "--w=-1", "b=2", "--var", "c=1e-3", "-o", "g.png",
                                    "--rules", "--format", "pdf", "--rankdir=TB"])
    assert values == {"x": 0.5, "w": -1.0, "b": 2.0, "c": 0.001}
    assert options == {"output": "g.png", "rules": True, "format": "pdf", "rankdir": "TB"}
    for bad, match in [(["--x"], "needs a value"), (["--x", "abc"], "not a number"),
                       (["--tanh", "1"], "cannot be a variable name"), (["stray"], "unexpected"),
                       (["--var", "x"], "--var NAME=VALUE")]:
        with pytest.raises(ExpressionError, match=match):
            parse_values(bad)


# ---- the command line -----------------------------------------------------------------------

@needs_dot
def test_graph_command_as_written_in_the_issue(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "autograd_lite", "graph", "tanh(w*x + b)", "--x", "0.5", "--w", "-1",
         "--b", "2", "-o", "graph.svg"], cwd=tmp_path, capture_output=True, text=True, env=env,
        timeout=60)
    assert out.returncode == 0, out.stderr
    assert "f = tanh(w*x + b) = 0.905148" in out.stdout
    assert "df/dx = -0.180707" in out.stdout and "df/dw = 0.0903533" in out.stdout
    root = ET.parse(tmp_path / "graph.svg").getroot()
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "tanh(w*x + b)" in texts and "grad -0.1807" in texts and "∂ 0.1807" in texts


@needs_dot
def test_graph_command_formats_and_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "g.png"
    assert main(["graph", "-o", str(png), "sigmoid(a*b) + log(b)", "--a", "2", "b=3", "--rules"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    dot = tmp_path / "g.dot"
    assert main(["graph", "x**2 * exp(-x)", "--x", "1.5", "-o", str(dot), "--rankdir", "TB",
                 "--no-edge-grads"]) == 0
    src = dot.read_text(encoding="utf-8")
    assert "rankdir=TB" in src and "pow(exponent=2)" in src and "∂ " not in src.split("legend")[0]
    pdf = tmp_path / "p"
    assert main(["graph", "x", "--x", "1", "-o", str(pdf), "--format", "pdf"]) == 0
    assert (tmp_path / "p.pdf").read_bytes()[:5] == b"%PDF-"
    assert "wrote" in capsys.readouterr().out


def test_graph_command_refuses_unsafe_or_incomplete_input(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.svg"
    assert main(["graph", "__import__('os').system('touch pwned')", "-o", str(out)]) == 2
    assert "not allowed" in capsys.readouterr().err
    assert main(["graph", "w*x", "--x", "1", "-o", str(out)]) == 2
    assert "pass --w VALUE" in capsys.readouterr().err
    assert main(["graph", "x", "--x", "one", "-o", str(out)]) == 2
    assert "not a number" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_graph_command_without_dot_writes_the_dot_source(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("AUTOGRAD_LITE_NO_WASM", "1")
    assert main(["graph", "tanh(w*x + b)", "--x", "0.5", "--w", "-1", "--b", "2",
                 "-o", str(tmp_path / "graph.svg")]) == 1
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "graph.dot" in err
    assert (tmp_path / "graph.dot").read_text(encoding="utf-8").startswith("digraph")
    assert not (tmp_path / "graph.svg").exists()


@needs_dot
def test_demo_writes_its_graph_only_with_o(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "df/dx = -0.180707" in out and "add -o demo.svg" in out
    assert list(tmp_path.iterdir()) == []  # nothing written unasked
    assert main(["demo", "-o", "demo.svg"]) == 0
    assert "wrote demo.svg" in capsys.readouterr().out
    ET.parse(tmp_path / "demo.svg")
    assert main(["demo", "--out", str(tmp_path / "demo.dot")]) == 0
    assert (tmp_path / "demo.dot").read_text(encoding="utf-8").startswith("digraph")


def test_demo_without_dot_still_writes_the_dot_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("AUTOGRAD_LITE_NO_WASM", "1")
    assert main(["demo", "-o", str(tmp_path / "demo.svg")]) == 1
    assert (tmp_path / "demo.dot").exists() and not (tmp_path / "demo.svg").exists()
    assert "The DOT source was written to" in capsys.readouterr().err


# ---- the graph command's output: names, files, formats, warnings, typos -------------------------------

def test_the_output_is_named_f_or_by_the_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "x*y", "--x", "2", "--y", "3"] + ["-o", str(tmp_path / "a.dot")]) == 0
    out = capsys.readouterr().out
    assert "f = x*y = 6" in out and "df/dy = 2" in out and "dy/dy" not in out
    assert main(["graph", "f*y", "--f", "2", "--y", "3", "-o", str(tmp_path / "b.dot")]) == 0
    assert "g = f*y = 6\ndg/df = 3\ndg/dy = 2" in capsys.readouterr().out  # f is taken: g
    assert main(["graph", "L = (w*x - t)**2", "--w", "2", "--x", "1", "--t", "0.5",
                 "-o", str(tmp_path / "c.dot")]) == 0
    assert "L = (w*x - t)**2 = 2.25\ndL/dw = 3\n" in capsys.readouterr().out
    assert main(["graph", "x = x*2", "--x", "1", "-o", str(tmp_path / "d.dot")]) == 2
    assert "the output name 'x' is also an input" in capsys.readouterr().err


def test_demo_and_graph_print_numbers_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    demo = capsys.readouterr().out.splitlines()[:4]
    assert main(["graph", "tanh(w*x + b)", "--x", "0.5", "--w", "-1", "--b", "2",
                 "-o", str(tmp_path / "g.dot")]) == 0
    assert capsys.readouterr().out.splitlines()[:4] == demo
    assert demo[1] == "df/dw = 0.0903533"  # six significant digits, as everywhere


def test_o_under_a_file_or_missing_folders_is_refused_clearly(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "somefile"
    blocker.write_text("data")
    assert main(["graph", "x", "--x", "1", "-o", str(blocker / "g.svg")]) == 2
    err = capsys.readouterr().err
    assert "somefile' is a file, not a folder" in err and "Traceback" not in err
    assert main(["graph", "x", "--x", "1", "-o", str(tmp_path / "no" / "dir" / "g.dot")]) == 2
    assert "does not exist and neither does" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["somefile"]  # no folder created anywhere
    assert main(["graph", "x", "--x", "1", "-o", str(tmp_path / "new" / "g.dot")]) == 0  # one level: made
    assert (tmp_path / "new" / "g.dot").read_text(encoding="utf-8").startswith("digraph")


def test_one_rule_for_format_and_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "x", "--x", "1", "--format", "dot"]) == 0
    assert "wrote graph.dot" in capsys.readouterr().out  # not graph.svg.dot
    assert main(["graph", "x", "--x", "1", "--format", "png", "-o", "a.svg"]) == 2
    assert "names a .svg file but --format is png" in capsys.readouterr().err  # not a.svg.png
    assert main(["graph", "x", "--x", "1", "-o", "b", "--format", "dot"]) == 0  # no suffix: it gets one
    assert main(["graph", "x", "--x", "1", "-o", "c.gv"]) == 0  # the other DOT suffix
    assert main(["graph", "x", "--x", "1", "-o", "d.txt"]) == 2
    assert ".txt is not a graph format" in capsys.readouterr().err
    assert main(["graph", "x", "--x", "1", "-o", "e.txt", "--format", "dot"]) == 0  # exactly -o
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.dot", "c.gv", "e.txt", "graph.dot"]
    assert (tmp_path / "c.gv").read_text(encoding="utf-8").startswith("digraph")
    assert "the format is --format if given, else the suffix of -o" in " ".join(GRAPH_EPILOG.split())


def test_warnings_are_attributed_to_the_expression(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "autograd_lite", "graph", "log(x) / (x - 1)", "--x", "1",
                          "-o", "g.dot"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "frozen" not in out.stderr and "runpy" not in out.stderr
    assert "warning: in 'log(x) / (x - 1)': RuntimeWarning:" in out.stderr


def test_mistyped_graph_options_get_a_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "g.dot")
    for argv, hint in ((["--rule"], "(did you mean --rules?)"),
                       (["--formt", "png"], "(did you mean --format?)"),
                       (["--rankdr", "1"], "(did you mean --rankdir?)")):
        assert main(["graph", "x", "--x", "1", "-o", out, *argv]) == 2
        assert hint in capsys.readouterr().err
    assert not (tmp_path / "g.dot").exists()


def test_an_op_that_refuses_its_input_is_reported_without_a_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(self: Value) -> Value:
        raise ValueError(f"sqrt: {self.data} is negative")

    monkeypatch.setattr(Value, "sqrt", refuse)
    assert main(["graph", "sqrt(x)", "--x", "-1"]) == 1
    err = capsys.readouterr().err
    assert err == "error: evaluating 'sqrt(x)': ValueError: sqrt: -1.0 is negative\n"
