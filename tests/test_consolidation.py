"""The consolidated shape: one sweep, one rule table that the rest derives from, layers that import
downward only. Each test here failed (or could not be written) before the consolidation."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

import autograd_lite.functional as F
from autograd_lite import Tensor, Value, detect_anomaly, grad, jacobian
from autograd_lite.core.rules import RULES
from autograd_lite.tools.cost import count_work
from autograd_lite.tools.expr import FUNCTIONS
from autograd_lite.tools.gradcheck import _KINK_AT_ZERO, check_grad


def _sample(rule_nodes: tuple[str, ...]) -> list[object]:
    out: list[object] = []
    if "Value" in rule_nodes:
        out.append(Value(0.7))
    if "Tensor" in rule_nodes:
        out.append(Tensor([[0.7, 1.3]], requires_grad=True))
    return out


@pytest.mark.parametrize("name", sorted(n for n, r in RULES.items() if r.method))
def test_every_rule_with_a_method_is_a_method_and_a_function(name: str) -> None:
    rule = RULES[name]
    args = {"reshape": ((2, 1),), "broadcast_to": ((3, 1, 2),), "astype": (np.float32,),
            "clip": (0.0, 1.0)}.get(rule.method or "", ())
    for x in _sample(rule.nodes):
        if isinstance(x, Value) and args:
            continue
        by_method = getattr(x, rule.method)(*args)
        by_function = getattr(F, rule.method)(x, *args)
        assert by_method.op == by_function.op == name
        np.testing.assert_array_equal(np.asarray(by_method.data), np.asarray(by_function.data))


def test_tools_derive_their_op_lists_from_the_table() -> None:
    assert {"relu", "abs", "sign", "leaky_relu"} <= _KINK_AT_ZERO
    assert all(RULES[n].kink == "zero" for n in _KINK_AT_ZERO)
    for name, method in FUNCTIONS.items():
        assert any(name in r.expr and r.method == method for r in RULES.values())
    assert FUNCTIONS["ln"] == "log"
    assert np.exp(Tensor([0.0], requires_grad=True)).op == "exp"  # the rule's ufunc


def test_functional_ops_on_lists_of_values_keep_the_graph() -> None:
    v, w = Value(-1.0), Value(2.0)
    ys = F.relu([v, w])
    nn_ys = __import__("autograd_lite").nn.relu([v, w])
    assert [y.op for y in ys] == [y.op for y in nn_ys] == ["relu", "relu"]
    (ys[0] + 3 * ys[1]).backward()
    assert (v.grad, w.grad) == (0.0, 3.0)
    nested = F.tanh([[Value(0.0)], [Value(1.0), 2.0]])
    assert nested[1][1].data == pytest.approx(np.tanh(2.0))
    with pytest.raises(TypeError, match="softmax: works on Tensors"):
        F.softmax([v, w])


def test_changed_data_under_detect_anomaly_is_caught_by_the_transforms_too() -> None:
    def f(x: Tensor) -> Tensor:
        y = (x * x).sum()
        x.data = x.data + 1.0  # changed between forward and the sweep
        return y

    with detect_anomaly(), pytest.raises(RuntimeError, match="was changed after 'mul' used it"):
        grad(f)(np.array([1.0, 2.0]))
    with detect_anomaly(), pytest.raises(RuntimeError, match="was changed after"):
        jacobian(f)(np.array([1.0, 2.0]))
    with detect_anomaly(), pytest.raises(ValueError, match="f changed its input 'x' in place"):
        check_grad(f, np.array([1.0, 2.0]), expected=lambda x: 2 * x)  # check_grad says so first


def test_work_counting_is_per_thread_and_patches_nothing() -> None:
    before = {n: (r.forward, r.vjp, r.jvp) for n, r in RULES.items()}
    seen: dict[str, int] = {}

    def other_thread() -> None:
        with count_work() as c:
            (Value(2.0) * 3.0).backward()
        seen["other"] = c.forward

    with count_work() as mine:
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        Value(1.0) + 1.0
    assert (mine.forward, seen["other"]) == (1, 1)
    assert before == {n: (r.forward, r.vjp, r.jvp) for n, r in RULES.items()}


def test_static_arguments_are_only_what_the_user_passed() -> None:
    W = Tensor(np.ones((2, 3)), requires_grad=True)
    y = W @ np.ones(3)
    assert y._static is None  # matmul's need= hint comes from the engine at backward time
    y.sum().backward()
    np.testing.assert_array_equal(W.grad, np.ones((2, 3)))


def test_the_core_imports_without_graphviz() -> None:
    code = ("import sys; sys.modules['graphviz'] = None\n"
            "from autograd_lite import Value, draw_graph\n"
            "y = Value(2.0) * 3; y.backward(); print(y.data)\n"
            "try:\n    draw_graph(y)\nexcept ImportError as e:\n    print('ImportError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[0] == "6.0"
    assert "pip install graphviz" in out.stdout
