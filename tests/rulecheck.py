"""Shared machinery for the table-driven rule tests: finite differences and VJP/JVP checks.

Every entry of `autograd_lite.rules.RULES` needs a `Case` in `CASES` (tests/test_rules.py fails
otherwise). A case says how to draw inputs for each node type the rule serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from autograd_lite.engine import unbroadcast


@dataclass
class Case:
    """How to test one rule.

    ``scalar``: number of float inputs for the Value check (0 = the rule is Tensor-only).
    ``shapes``: input shapes for Tensor checks (several sets, broadcasting included).
    ``low``/``high``: the input domain (kept away from kinks/poles by ``avoid``).
    ``static``: keyword-only static arguments (a dict, or a function of the shapes).
    ``make``: optional custom input maker (rng, shapes) -> list of arrays.
    """

    scalar: int = 0
    shapes: list[tuple[tuple[int, ...], ...]] = field(default_factory=list)
    low: float = -2.0
    high: float = 2.0
    avoid: float | None = None  # keep |x - avoid| > 0.05 (a kink)
    static: dict[str, Any] | Callable[..., dict[str, Any]] = field(default_factory=dict)
    make: Callable[..., list[Any]] | None = None
    rtol: float = 1e-6
    atol: float = 1e-8


def draw(rng: np.random.Generator, shape: tuple[int, ...], case: Case) -> np.ndarray:
    x = rng.uniform(case.low, case.high, size=shape)
    if case.avoid is not None:
        near = np.abs(x - case.avoid) < 0.05
        x = np.where(near, case.avoid + 0.1 * np.sign(x - case.avoid + 1e-12), x)
    return x


def _as_float(x: Any) -> Any:
    return float(x) if np.ndim(x) == 0 and not isinstance(x, np.ndarray) else x


def numeric_vjp(f: Callable[..., Any], inputs: list[Any], g: Any, eps: float = 1e-6) -> list[Any]:
    """Central differences of <g, f(inputs)> with respect to every input, in float64."""
    out = []
    for i, x in enumerate(inputs):
        if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
            args_p = list(inputs)
            args_m = list(inputs)
            args_p[i] = x + eps
            args_m[i] = x - eps
            out.append(float(np.sum(g * (np.asarray(f(*args_p)) - np.asarray(f(*args_m))))) / (2 * eps))
            continue
        grad = np.zeros_like(x, dtype=np.float64)
        for idx in np.ndindex(x.shape):
            xp = x.copy()
            xm = x.copy()
            xp[idx] += eps
            xm[idx] -= eps
            args_p = list(inputs)
            args_m = list(inputs)
            args_p[i] = xp
            args_m[i] = xm
            grad[idx] = np.sum(g * (np.asarray(f(*args_p)) - np.asarray(f(*args_m)))) / (2 * eps)
        out.append(grad)
    return out


def check_rule(rule: Any, inputs: list[Any], static: dict[str, Any], rng: np.random.Generator,
               rtol: float, atol: float) -> None:
    """VJP against central differences, and JVP against VJP (<g, J u> computed both ways)."""
    ans = rule.forward(*inputs, **static)
    scalar = not isinstance(ans, np.ndarray | np.generic)
    if not scalar:
        ans = np.asarray(ans)  # as the engine stores it: Tensor data is always an ndarray
    g = float(rng.normal()) if scalar else np.asarray(rng.normal(size=np.shape(ans)))
    grads = rule.vjp(g, ans, *inputs, **static)
    assert isinstance(grads, tuple) and len(grads) == len(inputs), (
        f"{rule.name}: vjp must return a tuple aligned with the {len(inputs)} inputs")
    numeric = numeric_vjp(lambda *a: rule.forward(*a, **static), inputs, g)
    reduced = []
    for i, (gi, ni, xi) in enumerate(zip(grads, numeric, inputs)):
        if gi is None:
            gi = np.zeros_like(ni) if isinstance(ni, np.ndarray) else 0.0
        elif isinstance(xi, np.ndarray):
            gi = unbroadcast(np.asarray(gi, dtype=np.float64) + np.zeros(np.shape(gi)), xi.shape)
        np.testing.assert_allclose(gi, ni, rtol=rtol, atol=atol,
                                   err_msg=f"{rule.name}: VJP of input {i} vs finite differences")
        reduced.append(gi)
    # JVP: <g, J u> = sum_i <vjp_i, u_i>, for all tangents together and one at a time
    us = [float(rng.normal()) if not isinstance(x, np.ndarray) else rng.normal(size=x.shape)
          for x in inputs]
    for which in [None, *range(len(inputs))]:
        ts = tuple(u if which is None or which == i else None for i, u in enumerate(us))
        t_out = rule.jvp(ts, ans, *inputs, **static)
        lhs = float(np.sum(g * (np.asarray(t_out) + np.zeros(np.shape(ans)))))
        rhs = sum(float(np.sum(gi * u)) for i, (gi, u) in enumerate(zip(reduced, us))
                  if which is None or which == i)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-7, atol=1e-9,
                                   err_msg=f"{rule.name}: JVP disagrees with VJP (tangent {which})")
