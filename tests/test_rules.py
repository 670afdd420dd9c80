"""Table-driven test over the whole rule table.

Every rule in `RULES` must have a case here: its VJP is checked against central finite
differences in float64 at several random points (seeded), and its JVP against its VJP. A rule
added to the table without a case fails `test_every_rule_has_a_case`.
"""

from __future__ import annotations

import numpy as np
import pytest
from autograd_lite.rules import RULES
from rulecheck import Case, check_rule, draw

BCAST = [((3, 1), (1, 4)), ((5,), (2, 5)), ((), (2, 3)), ((2, 3), ())]
UNARY = [((4,),), ((2, 3),)]

CASES: dict[str, Case] = {
    # elementwise, Value and Tensor
    "add": Case(scalar=2, shapes=BCAST),
    "sub": Case(scalar=2, shapes=BCAST),
    "mul": Case(scalar=2, shapes=BCAST),
    "div": Case(scalar=2, shapes=BCAST, low=0.5, high=2.0),
    "neg": Case(scalar=1, shapes=UNARY),
    "pow": Case(scalar=1, shapes=UNARY, low=0.3, high=2.0, static={"exponent": 2.5}),
    "power": Case(scalar=2, shapes=BCAST, low=0.3, high=2.0),
    "exp": Case(scalar=1, shapes=UNARY),
    "log": Case(scalar=1, shapes=UNARY, low=0.2, high=3.0),
    "sqrt": Case(scalar=1, shapes=UNARY, low=0.2, high=3.0),
    "tanh": Case(scalar=1, shapes=UNARY),
    "sigmoid": Case(scalar=1, shapes=UNARY, low=-4, high=4),
    "log_sigmoid": Case(scalar=1, shapes=UNARY, low=-4, high=4),
    "softplus": Case(scalar=1, shapes=UNARY, low=-4, high=4),
    "relu": Case(scalar=1, shapes=UNARY, avoid=0.0),
    "leaky_relu": Case(scalar=1, shapes=UNARY, avoid=0.0, static={"alpha": 0.1}),
    "abs": Case(scalar=1, shapes=UNARY, avoid=0.0),
    "sign": Case(scalar=1, shapes=UNARY, avoid=0.0),
    "sin": Case(scalar=1, shapes=UNARY),
    "cos": Case(scalar=1, shapes=UNARY),
    # array rules, Tensor only
    "matmul": Case(shapes=[((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)),
                           ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2))]),
    "sum": Case(shapes=[((3, 4),)], static={"axis": 1, "keepdims": False}),
    "mean": Case(shapes=[((3, 4),)], static={"axis": (0, 1), "keepdims": True}),
    "reshape": Case(shapes=[((3, 4),)], static={"shape": (2, 6)}),
    "transpose": Case(shapes=[((2, 3, 4),)], static={"axes": (2, 0, 1)}),
    "broadcast_to": Case(shapes=[((3, 1),)], static={"shape": (2, 3, 4)}),
    "softmax": Case(shapes=[((3, 5),)], static={"axis": -1}),
    "log_softmax": Case(shapes=[((3, 5),)], static={"axis": 0}),
    "logsumexp": Case(shapes=[((3, 5),)], static={"axis": 1, "keepdims": False}),
    "softmax_cross_entropy": Case(shapes=[((4, 3),)], static={"labels": np.array([2, 0, 1, 2])}),
    "clip": Case(shapes=[((4,),), ((2, 3),)], avoid=0.5, static={"low": -1.0, "high": 0.5},
                 make=lambda rng, shapes: [_away(rng.uniform(-2, 2, size=shapes[0]), (-1.0, 0.5))]),
    "maximum": Case(shapes=BCAST, make=lambda rng, shapes: _distinct(rng, shapes)),
    "minimum": Case(shapes=BCAST, make=lambda rng, shapes: _distinct(rng, shapes)),
    "where": Case(shapes=BCAST, static=lambda shapes: {
        "cond": np.arange(int(np.prod(np.broadcast_shapes(*shapes)))).reshape(
            np.broadcast_shapes(*shapes)) % 3 == 0}),
    "astype": Case(shapes=[((2, 3),)], static={"dtype": np.dtype(np.float64)}),
    "to": Case(shapes=[((2, 3),)], static={"backend": "numpy"}),
    "max": Case(shapes=[((3, 4),)], static={"axis": 1, "keepdims": False},
                make=lambda rng, shapes: [rng.permutation(12).reshape(3, 4) / 3.0]),
    "min": Case(shapes=[((3, 4),)], static={"axis": (0, 1), "keepdims": True},
                make=lambda rng, shapes: [rng.permutation(12).reshape(3, 4) / 3.0]),
    "var": Case(shapes=[((3, 4),)], static={"axis": 0, "keepdims": False, "ddof": 1}),
    "getitem": Case(shapes=[((4, 3),)], static={"index": (np.array([0, 2, 2, 3, 0]), slice(1, None))}),
    "scatter_add": Case(shapes=[((5, 2),)],
                        static={"index": (np.array([0, 2, 2, 3, 0]), slice(1, None)), "shape": (4, 3)}),
    "concatenate": Case(shapes=[((2, 3), (1, 3), (4, 3)), ((2,), (3,))], static={"axis": 0}),
    "stack": Case(shapes=[((2, 3), (2, 3), (2, 3))], static={"axis": 1}),
}


def _away(x: np.ndarray, kinks: tuple[float, ...]) -> np.ndarray:
    """Move points within 0.05 of a kink 0.1 away from it (finite differences need smoothness)."""
    for k in kinks:
        near = np.abs(x - k) < 0.05
        x = np.where(near, k + 0.1 * np.sign(x - k + 1e-12), x)
    return x


def _distinct(rng: np.random.Generator, shapes: tuple) -> list[np.ndarray]:
    """Two operands whose broadcast values never come within 0.1 of each other (no ties)."""
    x = rng.uniform(-2, 2, size=shapes[0])
    y = rng.uniform(-2, 2, size=shapes[1])
    xb, yb = np.broadcast_arrays(x, y)
    while np.any(np.abs(xb - yb) < 0.1):
        y = rng.uniform(-2, 2, size=shapes[1])
        xb, yb = np.broadcast_arrays(x, y)
    return [x, y]

# extra static variants worth a run each
EXTRA: list[tuple[str, tuple[tuple[int, ...], ...], dict]] = [
    ("sum", ((2, 3, 4),), {"axis": None, "keepdims": False}),
    ("sum", ((2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    ("mean", ((2, 3),), {"axis": -1, "keepdims": False}),
    ("logsumexp", ((2, 3),), {"axis": None, "keepdims": False}),
    ("logsumexp", ((2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    ("softmax_cross_entropy", ((5,),), {"labels": np.array(3)}),
    ("softmax_cross_entropy", ((4, 3),), {"labels": np.array([2, 0, 1, 2]), "mean": True}),
    ("pow", ((3,),), {"exponent": -1.0}),
    ("pow", ((3,),), {"exponent": 3.0}),
    ("clip", ((2, 3),), {"low": None, "high": 0.5}),
    ("clip", ((2, 3),), {"low": -0.5, "high": None}),
    ("var", ((2, 3, 4),), {"axis": (0, 2), "keepdims": True, "ddof": 0}),
    ("var", ((5,),), {"axis": None, "keepdims": False, "ddof": 0}),
    ("getitem", ((3, 4),), {"index": (1, slice(None, None, 2))}),
    ("getitem", ((3, 4),), {"index": (None, Ellipsis, np.array([3, 3, 1]))}),
    ("getitem", ((3, 4),), {"index": (np.array([[True, False, True, True]] * 3),)}),
    ("concatenate", ((2, 1), (2, 3)), {"axis": -1}),
    ("stack", ((3,), (3,)), {"axis": -1}),
]


def test_every_rule_has_a_case() -> None:
    missing = sorted(set(RULES) - set(CASES))
    stale = sorted(set(CASES) - set(RULES))
    assert not missing, f"rules without a test case in tests/test_rules.py: {missing}"
    assert not stale, f"test cases for rules that do not exist: {stale}"


def _static(case: Case, shapes: tuple) -> dict:
    return case.static(shapes) if callable(case.static) else dict(case.static)


@pytest.mark.parametrize("name", sorted(CASES))
def test_scalar_rule(name: str) -> None:
    case = CASES[name]
    rule = RULES[name]
    if not case.scalar:
        assert "Value" not in rule.nodes, f"{name} serves Value but has no scalar case"
        pytest.skip("Tensor-only rule")
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    for _ in range(5):
        inputs = [float(draw(rng, (), case)) for _ in range(case.scalar)]
        check_rule(rule, inputs, _static(case, ()), rng, case.rtol, case.atol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_tensor_rule(name: str) -> None:
    case = CASES[name]
    rule = RULES[name]
    if "Tensor" not in rule.nodes:
        pytest.skip("Value-only rule")
    assert case.shapes, f"{name} serves Tensor but its case has no shapes"
    rng = np.random.default_rng(1000 + len(name))
    for shapes in case.shapes:
        for _ in range(2):
            inputs = (case.make(rng, shapes) if case.make else
                      [draw(rng, s, case) for s in shapes])
            check_rule(rule, inputs, _static(case, shapes), rng, case.rtol, case.atol)


@pytest.mark.parametrize("name,shapes,static", EXTRA)
def test_tensor_rule_variants(name: str, shapes: tuple, static: dict) -> None:
    case = CASES[name]
    rng = np.random.default_rng(7)
    inputs = [draw(rng, s, case) for s in shapes]
    check_rule(RULES[name], inputs, static, rng, case.rtol, case.atol)
