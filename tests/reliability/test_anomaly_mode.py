"""detect_anomaly(): every NaN/Inf in a forward result or a gradient raises an error that names
the op, summarises its inputs and points at the user's line; the node is flagged for the renderer.
Also: the changed-data check it enables, its scope (per thread/task), and what it costs outside."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator

import numpy as np
import pytest

from autograd_lite import AnomalyError, Tensor, Value, detect_anomaly, is_anomaly_enabled

THIS_FILE = __file__


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the domain RuntimeWarnings (the tests here are about the AnomalyError)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@pytest.mark.parametrize("make,op,kind", [
    (lambda: Value(0.0).log(), "log", "inf"),
    (lambda: Value(-1.0).sqrt(), "sqrt", "nan"),
    (lambda: Value(800.0).exp(), "exp", "inf"),
    (lambda: Value(1.0) / 0.0, "div", "inf"),
    (lambda: Value(-2.0) ** 0.5, "pow", "nan"),
    (lambda: Tensor([1.0, 0.0]).log(), "log", "inf"),
    (lambda: Tensor([[1.0, -1.0]]).sqrt().sum(), "sqrt", "nan"),
    (lambda: Tensor([0.0, 1.0]) / Tensor([0.0, 1.0]), "div", "nan"),
])
def test_forward_anomaly_names_op_inputs_and_user_line(make: object, op: str, kind: str) -> None:
    with quiet(), detect_anomaly(), pytest.raises(AnomalyError) as err:
        make()  # type: ignore[operator]
    msg = str(err.value)
    first = msg.splitlines()[0]
    assert first == f"anomaly in forward of {op}: result is {kind}"
    assert "inputs:" in msg
    created = next(line for line in msg.splitlines() if "created at:" in line)
    assert f"{THIS_FILE}:" in created and "lambda:" in created  # the user's file, line and code
    assert "fix:" in msg
    node = err.value.node  # type: ignore[attr-defined]
    assert node._meta["op"] == op  # also for constants, which record no rule
    assert node.op in (op, "")
    assert node._meta["anomaly"] is True
    assert isinstance(err.value, FloatingPointError)


def test_forward_anomaly_input_summary_shows_values_and_array_stats() -> None:
    with quiet(), detect_anomaly(), pytest.raises(AnomalyError) as err:
        Value(-4.0).log()
    assert "inputs: -4.0" in str(err.value)
    x = Tensor(np.array([[1.0, 2.0], [np.inf, -3.0]]))
    with quiet(), detect_anomaly(), pytest.raises(AnomalyError) as err:
        x - x
    msg = str(err.value)
    assert "array(2, 2)" in msg and "inf=1" in msg and "min=-3" in msg


def test_backward_anomaly_names_the_op_whose_gradient_broke() -> None:
    x = Value(0.0, label="x")
    with detect_anomaly():
        y = x.sqrt() * 3.0  # forward is finite: sqrt(0) = 0
        with pytest.raises(AnomalyError) as err, pytest.warns(RuntimeWarning, match="sqrt"):
            y.backward()
    msg = str(err.value)
    assert msg.splitlines()[0] == "anomaly in backward of sqrt: gradient is inf"
    assert f"{THIS_FILE}:" in msg and "x.sqrt() * 3.0" in msg
    assert err.value.node.op == "sqrt"  # type: ignore[attr-defined]
    assert x.grad == 0.0  # no leaf touched by the failed pass


def test_backward_anomaly_on_tensors_and_broadcast_edges() -> None:
    b = Tensor(np.zeros((1, 3)), requires_grad=True)
    x = Tensor(np.ones((4, 3)))
    with detect_anomaly():
        y = (x + b).sqrt() - 1.0  # finite forward: sqrt(1) = 1
        b.data[0, 1] = -1.0  # made nan on purpose below: the changed-data check catches it first
        with pytest.raises(RuntimeError, match=r"changed after 'add'"):
            y.sum().backward()
    w = Tensor(np.zeros(3), requires_grad=True)
    with detect_anomaly():
        z = (w * x).sqrt().sum()  # d sqrt at 0: inf, summed over the broadcast axis
        with pytest.raises(AnomalyError, match=r"backward of sqrt: gradient is inf"), \
                pytest.warns(RuntimeWarning):
            z.backward()
    assert w.grad is None


def test_non_finite_seed_is_reported() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        y = x * 2
        with pytest.raises(AnomalyError, match=r"seed gradient.*not finite.*nan=1"):
            y.backward(gradient=np.array([1.0, np.nan]))


def test_anomaly_in_create_graph_backward() -> None:
    x = Value(0.0)
    with detect_anomaly():
        y = x.sqrt()
        with pytest.raises(AnomalyError) as err, pytest.warns(RuntimeWarning):
            y.backward(create_graph=True)
    first = str(err.value).splitlines()[0]
    assert first.startswith("anomaly in backward of sqrt (building the gradient graph): ")
    assert "forward of div: result is inf" in first


def test_renderer_highlights_the_flagged_node() -> None:
    viz = pytest.importorskip("autograd_lite.viz")
    x = Value(-1.0, label="x")
    with quiet(), detect_anomaly(), pytest.raises(AnomalyError) as err:
        (x * 2.0).log()
    source = viz.draw_graph(err.value.node).source  # type: ignore[attr-defined]
    assert "anomaly" in source
    clean = viz.draw_graph(Value(1.0).log()).source
    assert "⚠ anomaly" not in clean


def test_decorator_and_nesting_restore_the_mode() -> None:
    @detect_anomaly()
    def f(v: Value) -> Value:
        assert is_anomaly_enabled()
        return v.log()

    assert not is_anomaly_enabled()
    with quiet(), pytest.raises(AnomalyError):
        f(Value(0.0))
    assert not is_anomaly_enabled()  # restored after the exception
    with detect_anomaly():
        with detect_anomaly():
            pass
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()


def test_outside_anomaly_mode_ieee_results_and_a_named_warning() -> None:
    with pytest.warns(RuntimeWarning, match=r"^log: log\(0\) = -inf"):
        y = Value(0.0).log()
    assert y.data == -math.inf and y._meta is None  # no trace recorded outside the mode


def test_nodes_built_before_the_block_are_checked_in_backward_too() -> None:
    x = Value(0.0)
    y = x.sqrt()  # built outside: no trace recorded
    with detect_anomaly(), pytest.raises(AnomalyError) as err, pytest.warns(RuntimeWarning):
        y.backward()
    assert "not recorded: node built outside detect_anomaly()" in str(err.value)


def test_finite_graph_passes_unchanged_inside_the_mode() -> None:
    rng = np.random.default_rng(0)
    W = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    x = Tensor(rng.normal(size=(5, 4)))
    with detect_anomaly():
        loss = (x @ W.T).tanh().log_softmax().sum()
        loss.backward()
    g_anomaly = W.grad.copy()
    W.grad = None
    loss = (x @ W.T).tanh().log_softmax().sum()
    loss.backward()
    np.testing.assert_array_equal(W.grad, g_anomaly)
