"""What forward and reverse mode really spend: rule applications and scalar multiply-adds.

`count_work` observes every rule call the engine makes inside a ``with`` block (forward, vjp and
jvp; an engine observer, per thread like the other modes) and counts each call and the work of
the arrays it sees. Nothing is derived from a formula for the whole computation: the
numbers are whatever the engine actually did.

Work of one call (the arrays are the call's own arguments and results):

* a rule with a ``work`` count in its table entry (matmul: m·n·k multiply-adds per product, times
  the batch size): that per product; the VJP performs one product per gradient it returns (none
  for a constant operand), the JVP one per non-zero tangent;
* any other rule: one per element of the largest array it touches (the output and inputs for
  ``forward``; the cotangent and each gradient returned for ``vjp``; each non-zero input tangent
  and the output tangent for ``jvp``).

`cost_report` measures one evaluation of ``f`` and the two ways of computing its Jacobian;
`cost_sweep` repeats that over a family of functions of growing size, to show that forward mode's
work grows with the number of inputs and reverse mode's with the number of outputs.

Example:
    >>> import numpy as np

    >>> from autograd_lite import cost_report
    >>> A = np.ones((4, 100))
    >>> rep = cost_report(lambda x: (A @ x).tanh().sum(), np.ones(100))
    >>> rep.fwd.madds > 50 * rep.eval.madds, rep.rev.madds < 4 * rep.eval.madds
    (True, True)
"""

from __future__ import annotations

import contextvars
import html
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import backend as _B
from ..core.engine import Node, observe
from ..core.rules import Rule
from ..transforms import _Call, jacobian

__all__ = ["Cost", "CostReport", "CostSweep", "cost_report", "cost_sweep", "count_work"]

@dataclass
class Cost:
    """Counted work: calls of each kind of rule callable, multiply-adds, and a per-rule breakdown.

    Example:
        >>> import numpy as np
        >>> from autograd_lite import Tensor
        >>> with count_work() as c:
        ...     _ = Tensor(np.ones((3, 4))) @ Tensor(np.ones((4, 5)))
        >>> c.forward, c.madds                       # one 3x4 @ 4x5 product: 3*4*5
        (1, 60)
    """

    forward: int = 0
    vjp: int = 0
    jvp: int = 0
    madds: int = 0
    by_rule: dict[str, list[int]] = field(default_factory=dict)  # name -> [calls, madds]

    @property
    def applications(self) -> int:
        """Rule applications of every kind (forward + vjp + jvp)."""
        return self.forward + self.vjp + self.jvp

    def _add(self, kind: str, name: str, work: int) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.madds += work
        row = self.by_rule.setdefault(f"{name}.{kind}", [0, 0])
        row[0] += 1
        row[1] += work


# ------------------------------------------------------------------------------------ instrumentation

def _size(x: Any) -> int:
    if x is None:
        return 0
    d = x.data if isinstance(x, Node) else x
    return int(_B.size(d))


def _shape(x: Any) -> tuple[int, ...]:
    return _B.shape(x.data if isinstance(x, Node) else x)


def _work(rule: Rule, kind: str, args: tuple[Any, ...], result: Any) -> int:
    """Multiply-adds of one call: the rule's own count (``work``) per product, else the size of the
    largest operand."""
    if kind == "forward":
        return rule.work(*args) if rule.work else max([_size(result), *(_size(a) for a in args)])
    first, _ans, *inputs = args
    if kind == "vjp":
        live = [r for r in (result or ()) if r is not None]
        return len(live) * rule.work(*inputs) if rule.work else sum(max(_size(first), _size(r)) for r in live)
    live = [t for t in first if t is not None]
    return len(live) * rule.work(*inputs) if rule.work else sum(max(_size(t), _size(result)) for t in live)


@contextmanager
def count_work() -> Iterator[Cost]:
    """Count rule applications and multiply-adds spent inside the block (see the module doc).

    Per thread and task (an engine observer, like the other modes); nothing global is patched.

    Example:
        >>> from autograd_lite import Value
        >>> with count_work() as c:
        ...     y = Value(2.0) * 3.0 + 1.0
        ...     y.backward()
        >>> c.forward, c.vjp, c.jvp
        (2, 2, 0)
    """
    cost = Cost()
    depth: contextvars.ContextVar[int] = contextvars.ContextVar("autograd_lite_cost_depth", default=0)

    def wrap(rule: Rule, kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **static: Any) -> Any:
            token = depth.set(depth.get() + 1)
            try:
                result = fn(*args, **static)
            finally:
                depth.reset(token)
            if depth.get() == 0:  # outermost only: rules run on nodes (create_graph) call other rules
                cost._add(kind, rule.name, _work(rule, kind, args, result))
            return result

        return counted

    with observe(wrap):
        yield cost


# ------------------------------------------------------------------------------------ reports

def _dim(x: Any) -> int:
    return _size(x)


@dataclass
class CostReport:
    """The counted cost of one evaluation of ``f`` and of its Jacobian in forward and reverse mode.

    ``eval``, ``fwd`` and ``rev`` are `Cost`s; ``n_inputs`` and ``n_outputs`` the dimensions;
    ``agree`` says the two Jacobians are equal (to 1e-9). Shows as a table (text and HTML).

    Example:
        >>> import numpy as np
        >>> rep = cost_report(lambda x: x.sin() * 2.0, np.ones(3))     # R^3 -> R^3
        >>> rep.n_inputs, rep.n_outputs, rep.agree
        (3, 3, True)
    """

    eval: Cost
    fwd: Cost
    rev: Cost
    n_inputs: int
    n_outputs: int
    agree: bool

    def ratio(self, mode: str) -> float:
        """Multiply-adds of ``mode`` ("fwd" or "rev") divided by those of one evaluation."""
        return getattr(self, mode).madds / max(self.eval.madds, 1)

    def _rows(self) -> list[list[str]]:
        rows = []
        for label, c in (("one evaluation", self.eval), ("jacobian fwd (jvp)", self.fwd),
                         ("jacobian rev (vjp)", self.rev)):
            rows.append([label, f"{c.applications:,}", f"{c.forward:,}", f"{c.vjp:,}", f"{c.jvp:,}",
                         f"{c.madds:,}", f"{c.madds / max(self.eval.madds, 1):.1f}"])
        return rows

    _COLUMNS = ("", "rule applications", "forward", "vjp", "jvp", "multiply-adds", "x evaluation")

    def _title(self) -> str:
        return (f"Jacobian of f: R^{self.n_inputs} -> R^{self.n_outputs}, counted on the rule table "
                f"(fwd and rev agree: {self.agree})")

    def __repr__(self) -> str:
        rows = [list(self._COLUMNS), *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._COLUMNS))]
        lines = [self._title()]
        for r in rows:
            lines.append("  " + "  ".join(c.rjust(w) if i else c.ljust(w)
                                          for i, (c, w) in enumerate(zip(r, widths))))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self._COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                       for r in self._rows())
        return (f"<div><p><b>{html.escape(self._title())}</b></p><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table></div>")


def cost_report(f: Callable[..., Any], *inputs: Any, argnums: int = 0) -> CostReport:
    """Count the work of one evaluation of ``f``, of ``jacobian(f, mode="fwd")`` and of ``mode="rev"``.

    Forward mode pushes one tangent per input element through the JVP rules; reverse mode runs one
    sweep of the VJP rules per output element. Both Jacobians include the one evaluation of ``f``
    that records the graph.

    Example:
        >>> import numpy as np
        >>> rep = cost_report(lambda x: (x * x).sum(), np.ones(1000))     # R^1000 -> R
        >>> rep.fwd.jvp, rep.rev.vjp                 # 1000 pushes through 2 rules; 1 sweep
        (2000, 2)
    """
    with count_work() as ev:
        call = _Call(f, inputs, {}, argnums, "cost_report")
    out = call.out
    n_out = sum(_dim(o) for o in out) if isinstance(out, tuple | list) else _dim(out)
    with count_work() as fw:
        jf = jacobian(f, argnums, mode="fwd")(*inputs)
    with count_work() as rv:
        jr = jacobian(f, argnums, mode="rev")(*inputs)
    agree = bool(np.allclose(np.asarray(jf, dtype=float), np.asarray(jr, dtype=float), rtol=1e-9,
                             atol=1e-12))
    return CostReport(ev, fw, rv, _dim(call.nodes[0]), n_out, agree)


@dataclass
class CostSweep:
    """`cost_report` over sizes: a table of multiply-adds relative to one evaluation, and a plot.

    Example:
        >>> import numpy as np
        >>> sweep = cost_sweep(lambda n: (lambda x: (x * x).sum(), (np.ones(n),)), [10, 100])
        >>> [r.fwd.jvp for r in sweep.reports], [r.rev.vjp for r in sweep.reports]
        ([20, 200], [2, 2])
    """

    sizes: list[int]
    reports: list[CostReport]

    def __repr__(self) -> str:
        lines = ["size  n_in  n_out  eval madds  fwd madds (x eval)  rev madds (x eval)"]
        for n, r in zip(self.sizes, self.reports):
            lines.append(f"{n:>4}  {r.n_inputs:>4}  {r.n_outputs:>5}  {r.eval.madds:>10,}  "
                         f"{r.fwd.madds:>11,} ({r.ratio('fwd'):>6.1f})  "
                         f"{r.rev.madds:>11,} ({r.ratio('rev'):>6.1f})")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Log-log plot of fwd and rev work (in evaluations) against size; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        ax.loglog(self.sizes, [r.ratio("fwd") for r in self.reports], "o-", label="forward mode (jvp)")
        ax.loglog(self.sizes, [r.ratio("rev") for r in self.reports], "s-", label="reverse mode (vjp)")
        ax.set_xlabel("size")
        ax.set_ylabel("multiply-adds / one evaluation")
        ax.set_title("Cost of the full Jacobian")
        ax.legend()
        return ax


def cost_sweep(make: Callable[[int], tuple[Callable[..., Any], Sequence[Any]]],
               sizes: Sequence[int]) -> CostSweep:
    """Run `cost_report` on ``make(n) -> (f, inputs)`` for each size ``n``.

    Example:
        >>> import numpy as np
        >>> s = cost_sweep(lambda n: (lambda x: x.tanh().sum(), (np.ones(n),)), [10, 1000])
        >>> s.reports[-1].ratio("rev") < 4
        True
    """
    reports = []
    for n in sizes:
        f, inputs = make(n)
        reports.append(cost_report(f, *inputs))
    return CostSweep(list(sizes), reports)
