"""The forward-vs-reverse cost report, counted by instrumenting the rule table."""

from __future__ import annotations

from typing import Any

import numpy as np
from autograd_lite.cost import count_work
from autograd_lite.rules import RULES

from autograd_lite import Tensor, Value, cost_report, cost_sweep, jacobian

SIZES = [10, 100, 1000]


def seed_network(n: int, H: int = 8) -> tuple[Any, tuple[np.ndarray]]:
    """f: R^n -> R, the td seed's y = σ(Σ_i w_i v_i(Σ_j w_ij x_j)) as a function of x."""
    rng = np.random.default_rng(n)
    W, w = rng.normal(size=(H, n)) / np.sqrt(n), rng.normal(size=H)
    return (lambda x: ((W @ x).tanh() @ w).tanh()), (rng.normal(size=n),)


def test_forward_mode_grows_with_inputs_reverse_mode_stays_constant() -> None:
    sweep = cost_sweep(seed_network, SIZES)
    fwd = [r.ratio("fwd") for r in sweep.reports]
    rev = [r.ratio("rev") for r in sweep.reports]
    for n, r in zip(SIZES, sweep.reports):
        assert r.agree and r.n_inputs == n and r.n_outputs == 1
        assert 0.5 * n <= r.ratio("fwd") <= 3 * n, (n, r)            # ~ n evaluations
        assert r.ratio("rev") <= 4, (n, r)                           # a few evaluations, whatever n
        assert r.rev.vjp == sweep.reports[0].rev.vjp                 # one sweep: same rules for any n
        assert r.fwd.jvp == n * sweep.reports[0].fwd.jvp // SIZES[0]  # one push per input
    assert 80 < fwd[2] / fwd[0] < 120                                # x100 inputs: x100 work
    assert max(rev) / min(rev) < 1.2
    text = repr(sweep)
    assert "1000" in text and "fwd madds" in text


def test_reverse_mode_grows_with_outputs() -> None:
    """f: R -> R^m: now forward mode is the cheap one."""
    costs = []
    for m in (10, 100, 1000):
        a = np.linspace(-1, 1, m)
        rep = cost_report(lambda x, a=a: (Tensor(a) * x).tanh(), np.array([0.3]))
        assert rep.agree and rep.n_outputs == m
        costs.append(rep)
        assert rep.ratio("fwd") <= 4
    assert costs[2].rev.vjp == 100 * costs[0].rev.vjp
    assert 50 < costs[2].ratio("rev") / costs[0].ratio("rev") < 150


def test_counts_are_measured_not_computed() -> None:
    with count_work() as c:
        y = Tensor(np.ones((3, 4)), requires_grad=True) @ Tensor(np.ones((4, 5)))
    assert (c.forward, c.vjp, c.jvp, c.madds) == (1, 0, 0, 3 * 4 * 5)
    with count_work() as c:
        y.sum().backward()
    assert c.by_rule["matmul.vjp"] == [1, 60]     # one product: the constant operand gets no gradient
    assert c.by_rule["sum.vjp"] == [1, 15]
    with count_work() as c:
        jacobian(lambda x: (x * x).sin(), mode="fwd")(np.ones(7))
    assert c.by_rule["mul.jvp"][0] == 7 and c.by_rule["sin.jvp"][0] == 7
    assert c.by_rule["mul.forward"][0] == 1
    with count_work() as c:                      # Value graphs count the same way
        v = Value(2.0)
        (v * v + 1.0).backward()
    assert (c.forward, c.vjp) == (2, 2) and c.madds == 1 + 1 + 2 + 2  # each VJP returns 2 gradients


def test_rule_table_is_restored() -> None:
    before = {n: (r.forward, r.vjp, r.jvp) for n, r in RULES.items()}
    try:
        with count_work():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with count_work() as outer:
        with count_work() as inner:
            Tensor([1.0]) * 2.0
    assert outer.forward == inner.forward == 1
    assert before == {n: (r.forward, r.vjp, r.jvp) for n, r in RULES.items()}


def test_report_display() -> None:
    rep = cost_report(*((lambda x: (x * x).sum()), np.ones(5)))
    text = repr(rep)
    assert "R^5 -> R^1" in text and "jacobian fwd (jvp)" in text and "jacobian rev (vjp)" in text
    assert "<table>" in rep._repr_html_()
