"""check_grad's wording: what a newcomer reads in the report (one test per rough edge)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from autograd_lite import GradCheckWarning, check_grad


def row(report: object, name: str) -> list[str]:
    """The table row of entry ``name``, split into cells."""
    for line in repr(report).splitlines():
        cells = line.split()
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in\n{report!r}")


def test_non_scalar_f_against_an_elementwise_derivative_says_f_is_not_scalar() -> None:
    x = np.array([0.4, -1.0])
    r = check_grad(lambda x: x.sigmoid(), x, expected=lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2)
    e = r["x"]
    assert e.status == "SHAPE" and e.kind == "jacobian"
    assert "f is not scalar (it returns shape (2,))" in e.message
    assert "f(x).sum()" in e.message and "jacobian" in e.message
    assert "the Jacobian has shape (2, 2)" in e.message
    assert e.diagnosis is not None and "diagonal" in e.diagnosis.text


def test_right_values_in_the_wrong_shape_say_a_reshape_fixes_it() -> None:
    A = np.array([[1.0, 2.0], [0.0, 1.0], [3.0, -1.0]])
    x = np.array([0.5, -1.0])
    r = check_grad(lambda x: ((A @ x) ** 2).sum(), x, expected=lambda x: (2 * A.T @ (A @ x))[:, None])
    e = r["x"]
    assert e.status == "SHAPE" and "(2, 1)" in e.message and "(2,)" in e.message
    assert e.diagnosis is not None and e.diagnosis.kind == "reshape"
    assert "your formula matches after a reshape" in e.diagnosis.text
    wrong = check_grad(lambda x: ((A @ x) ** 2).sum(), x, expected=np.ones((2, 1)))
    assert wrong["x"].status == "SHAPE" and wrong["x"].diagnosis is None   # not the right values


def test_a_passing_row_shows_no_worst_index_and_no_minus_zero() -> None:
    x = np.array([-0.0, 1.0, -2.0])   # the gradient 2x has a -0.0
    r = check_grad(lambda x: (x * x).sum(), x, expected=lambda x: 2 * x)
    assert r.ok
    cells = row(r, "x")
    assert cells[-4:] == ["-", "-", "-", "-"], cells   # worst index, hand, autodiff, numeric
    s = check_grad(lambda x: x * x, -0.0, expected=0.0)
    cells = row(s, "x")
    assert s.ok and cells[-4:] == ["-", "0", "0", "0"], cells   # a single number is still shown
    assert " -0 " not in repr(s) + " " and " -0 " not in repr(r) + " "


def test_a_numeric_row_shows_the_entry_where_autodiff_and_finite_differences_disagree() -> None:
    x = np.array([1.0, 2.0, 3.0])
    r = check_grad(lambda x: (x * x.detach()).sum(), x, expected=lambda x: x)   # hand == autodiff
    e = r["x"]
    assert e.status == "NUMERIC"
    ratio = np.abs(e.autodiff - e.numeric) / (1e-7 + 1e-5 * np.abs(e.numeric))
    assert e.worst_index == (int(np.argmax(ratio)),) == (2,)   # not (0,), the hand-vs-autodiff argmax
    cells = row(r, "x")
    assert cells[-4:] == ["(2,)", "3", "3", "6"], cells
    assert e.values_at_worst() == {"hand": 3.0, "autodiff": 3.0, "numeric": pytest.approx(6.0)}


def test_kink_far_enough_and_all_agreed_is_a_note_not_a_warning() -> None:
    x = np.array([5e-5, 1.0, -0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = check_grad(lambda x: x.relu().sum(), x, expected=(x > 0) * 1.0)
    assert r.ok and not r.warnings
    assert len(r.notes) == 1 and "closest 5e-05" in r.notes[0] and "farther than the step" in r.notes[0]
    assert "mean nothing" not in repr(r) and "notes:" in repr(r) and "notes" in r._repr_html_()


def test_kink_grading_by_distance_and_outcome() -> None:
    with pytest.warns(GradCheckWarning, match="crosses the kink") as w:   # on the kink, disagreeing
        r = check_grad(lambda x: x.relu().sum(), np.array([0.0, 1.0]), expected=np.array([0.0, 1.0]))
    assert r["x"].status == "NUMERIC" and "disagreement in x" in str(w[0].message)
    # on the kink but no gradient flows there: agreed, still a warning (the value is a convention)
    convention = r"agreed; at the kink the derivative is a convention \(relu'\(0\) = 0\)"
    with pytest.warns(GradCheckWarning, match=convention):
        r = check_grad(lambda x: (x.relu() * np.array([0.0, 1.0])).sum(), np.array([0.0, 1.0]),
                       expected=np.array([0.0, 1.0]))
    assert r.ok
    # 5e-5 away but an input 1000 times as sensitive: its step crosses the kink, and they disagree
    with pytest.warns(GradCheckWarning, match="can move these by more than that"):
        r = check_grad(lambda w: (w * 1000.0).relu().sum(), np.array([5e-8]), expected=np.array([1000.0]))
    assert r["w"].status == "NUMERIC" and "a kink is near" in r["w"].message


def test_jacobian_transposed_hint_speaks_of_jacobians() -> None:
    B = np.arange(6.0).reshape(2, 3)
    r = check_grad(lambda x: B @ x, np.ones(3), expected=B.T)
    e = r["x"]
    assert e.status == "SHAPE"
    assert "one row per output and one column per input" in e.message
    assert "gradient of a matrix" not in e.message
    assert e.diagnosis is not None and "transpose of the Jacobian" in e.diagnosis.text
    g = check_grad(lambda W: (W @ np.ones(3)).sum(), B, expected=np.ones((3, 2)))
    assert "the gradient of a matrix has the matrix's shape" in g["W"].message   # gradients keep theirs


def test_a_scalar_entry_has_no_index_in_its_message() -> None:
    r = check_grad(lambda x: x * x, 1.5, expected=1.5)
    assert r["x"].message.startswith("your formula disagrees with autodiff: 1.5 vs 3")
