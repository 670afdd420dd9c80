"""Lost work and silent no-ops in training: Ctrl-C, a failing callback and a diverging loss keep
the finished epochs and leave the model usable; bad validation data and a wrong optimizer are
refused before the first update; accuracy is recorded only where it means something."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from autograd_lite.data import make_blobs, make_moons
from autograd_lite.losses import cross_entropy, mse
from autograd_lite.nn import MLP
from autograd_lite.optim import SGD
from autograd_lite.train import DivergenceWarning, History, TrainingStoppedWarning, fit


def _state(model: Any) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def _same(model: Any, state: dict[str, np.ndarray]) -> None:
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, state[k], err_msg=k)


class _CtrlCInUpdate(SGD):
    """Ctrl-C arrives while update ``at`` has written only its first parameters."""

    def __init__(self, params: Any, at: int, **kw: Any) -> None:
        super().__init__(params, **kw)
        self.at = at

    def _update(self, i: int, p: Any, g: Any) -> None:
        if self.steps == self.at and i == 2:
            raise KeyboardInterrupt
        super()._update(i, p, g)


def test_ctrl_c_returns_the_finished_epochs_and_undoes_the_half_update() -> None:
    X, y = make_moons(40, seed=0)
    reference = MLP([2, 6, 2], seed=0)
    fit(reference, X, y, optimizer=SGD(reference.parameters(), lr=0.3), epochs=6, progress=False)
    model = MLP([2, 6, 2], seed=0)
    with pytest.warns(TrainingStoppedWarning, match=r"fit: interrupted \(Ctrl-C\) at epoch 7, step 1 of 1; "
                                                    r"the History keeps the 6 finished epoch\(s\)"):
        h = fit(model, X, y, optimizer=_CtrlCInUpdate(model.parameters(), at=6, lr=0.3), epochs=50,
                progress=False)
    assert isinstance(h, History) and len(h) == 6 and h.stopped == "interrupted"
    assert "stopped early (interrupted)" in repr(h)
    _same(model, _state(reference))  # fc1 was half updated at step 7: undone, exactly
    later = fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.3), epochs=5, progress=False)
    assert later.loss[-1] < h.loss[-1]  # the model is usable: training goes on from there


def test_an_error_in_the_callback_carries_the_history() -> None:
    X, y = make_moons(40, seed=0)
    model = MLP([2, 4, 2], seed=0)

    def callback(epoch: int, history: History) -> None:
        if epoch == 4:
            raise RuntimeError("plotting failed")

    with pytest.raises(RuntimeError, match="plotting failed") as info:
        fit(model, X, y, epochs=20, callback=callback, progress=False)
    history = info.value.history  # type: ignore[attr-defined]
    assert len(history) == 4 and history.epoch == [1, 2, 3, 4]
    assert any("err.history" in note for note in info.value.__notes__)
    assert all(np.isfinite(v).all() for v in model.state_dict().values())


class _Recording(SGD):
    """SGD that keeps the parameters it found before each update."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.seen: list[list[np.ndarray]] = []

    def step(self) -> None:
        self.seen.append([p.data.copy() for p in self.params])
        super().step()


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_divergence_in_the_middle_of_an_epoch_restores_the_last_finite_step() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    t = X @ np.array([[1.0], [-2.0], [0.5]])
    model = MLP([3, 1], seed=0)
    grow = _Recording(model.parameters(), lr=0.05, schedule=lambda step, lr: lr if step == 0 else 1e200)
    with pytest.warns(DivergenceWarning) as rec:
        h = fit(model, X, t, loss="mse", optimizer=grow, epochs=20, batch_size=5, shuffle=False,
                progress=False)
    msg = str(rec[-1].message)
    assert "fit: the loss became" in msg and "; training diverged and stopped" in msg
    assert "step 3 of 6" in msg and "Fix: lower the learning rate" in msg  # found at the step, not the epoch
    assert h.stopped == "diverged" and len(h) == 0 and h.stop_message == msg
    for p, before in zip(model.parameters(), grow.seen[-1]):  # the parameters of the last finite step
        np.testing.assert_array_equal(p.data, before)
    assert len(grow.seen) == 2  # steps 1 and 2 updated; step 3 found the loss non-finite


def test_validation_data_is_checked_before_the_first_update() -> None:
    X, y = make_blobs(30, centers=2, seed=0)
    model = MLP([2, 4, 2], seed=0)
    before = _state(model)
    cases = [
        ((X[:, :1], y), r"fit\(validation\): X_val has 1 columns but the training X has 2"),
        ((X, y + 3), r"fit\(validation\): cross_entropy: label 4 is out of range for 2 classes"),
        ((X, y.astype(float)), r"y_val has dtype float64 but the training y has dtype int64"),
        ((X, y[:, None]), r"y_val has shape \(30, 1\) but the training y has shape \(30,\)"),
        ((X[:0], y[:0]), r"no validation examples"),
    ]
    for validation, message in cases:
        with pytest.raises(ValueError, match=message):
            fit(model, X, y, validation=validation, epochs=5, progress=False)
        _same(model, before)


def test_an_optimizer_over_another_models_parameters_is_refused() -> None:
    X, y = make_moons(20, seed=0)
    model, other = MLP([2, 4, 2], seed=0), MLP([2, 4, 2], seed=1)
    before = _state(model)
    with pytest.raises(ValueError, match=r"fit: 4 of the optimizer's 4 parameters are not parameters of "
                                         r"this MLP \(it has 4\), so training would not change the model\. "
                                         r"Build the optimizer from the model you train: "
                                         r"SGD\(model\.parameters\(\)"):
        fit(model, X, y, optimizer=SGD(other.parameters(), lr=0.1), epochs=3, progress=False)
    _same(model, before)
    with pytest.raises(TypeError, match="optimizer must be an Optimizer"):
        fit(model, X, y, optimizer=0.1, progress=False)  # type: ignore[arg-type]
    part = fit(model, X, y, optimizer=SGD([model.fc2.W], lr=0.1), epochs=2, progress=False)
    assert len(part) == 2  # a subset of the model's own parameters is fine (fine-tuning)


def test_regression_with_integer_targets_records_no_accuracy() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    counts = np.rint(3 + 2 * X[:, :1] - X[:, 1:]).astype(np.int64)  # integer targets, shape (40, 1)
    for loss in ("mse", mse, lambda out, t: mse(out, t) * 2.0):
        h = fit(MLP([2, 1], seed=0), X, counts, loss=loss, epochs=5, progress=False)
        assert h.accuracy == [] and "accuracy" not in repr(h), loss
    forced = fit(MLP([2, 3], seed=0), X, counts[:, 0] % 3, loss=lambda o, t: cross_entropy(o, t), epochs=2,
                 progress=False)
    assert len(forced.accuracy) == 2  # a custom classification loss: class scores and integer labels
    with pytest.raises(ValueError, match="record_accuracy=True needs integer class labels"):
        fit(MLP([2, 1]), X, counts.astype(float), loss="mse", record_accuracy=True, progress=False)


def test_hinge_accuracy_uses_minus_one_plus_one_labels() -> None:
    X, y01 = make_blobs(40, centers=[[-2.0, 0.0], [2.0, 0.0]], std=0.3, seed=0)
    y = (2 * y01 - 1)[:, None]
    model = MLP([2, 1], seed=0)
    h = fit(model, X, y, loss="hinge", epochs=30, progress=False)
    predicted = np.where(model(X).data > 0, 1, -1)
    assert h.accuracy[-1] == np.mean(predicted == y) == 1.0
