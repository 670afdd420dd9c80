"""fit, History, predict/accuracy, progress bar and plots."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from autograd_lite.data import make_blobs, make_circles, make_moons, train_test_split
from autograd_lite.losses import ElasticNet, cross_entropy, mse
from autograd_lite.nn import MLP, ValueMLP
from autograd_lite.optim import SGD, Adam
from autograd_lite.train import (
    DivergenceWarning,
    History,
    TrainingStoppedWarning,
    accuracy,
    fit,
    outputs,
    plot_decision_boundary,
    predict,
    predict_proba,
)

from autograd_lite import fit as top_level_fit

matplotlib.use("Agg")


def test_two_moons_reach_97_percent_on_held_out_points() -> None:
    X, y = make_moons(600, noise=0.1, seed=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, seed=0)
    model = MLP([2, 16, 2], activation="leaky_relu", alpha=0.01, seed=0)
    history = fit(model, X_train, y_train, optimizer=Adam(model.parameters(), lr=0.05), epochs=200,
                  validation=(X_test, y_test), progress=False)
    assert accuracy(model, X_train, y_train) >= 0.97
    assert accuracy(model, X_test, y_test) >= 0.97
    assert history.val_accuracy[-1] == accuracy(model, X_test, y_test)
    assert top_level_fit is fit


def test_history_records_every_epoch_and_the_penalty() -> None:
    X, y = make_blobs(90, centers=3, std=0.5, seed=1)
    model = MLP([2, 8, 3], seed=0)
    h = fit(model, X, y, epochs=12, regularizer=ElasticNet(l2=1e-2), validation=(X, y), progress=False)
    assert len(h) == 12 and h.epoch == list(range(1, 13))
    for column in (h.loss, h.objective, h.accuracy, h.val_loss, h.val_accuracy, h.seconds):
        assert len(column) == 12
    assert all(o > v for o, v in zip(h.objective, h.loss))  # objective = R + penalty > R
    assert h.loss[-1] < h.loss[0]
    text = repr(h)
    assert text.startswith("History: 12 epochs, final loss")
    assert "val_accuracy" in text and "..." in text  # long histories are elided
    assert len(text.splitlines()) == 2 + 11


def test_full_batch_gradient_descent_is_deterministic_and_minibatches_shuffle() -> None:
    X, y = make_circles(80, noise=0.05, seed=2)
    runs = []
    for _ in range(2):
        model = MLP([2, 8, 2], activation="tanh", seed=3)
        fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.5), epochs=5, progress=False)
        runs.append(model.fc1.W.data.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    a, b = MLP([2, 8, 2], seed=3), MLP([2, 8, 2], seed=3)
    fit(a, X, y, batch_size=16, epochs=2, seed=0, progress=False)
    fit(b, X, y, batch_size=16, epochs=2, seed=1, progress=False)
    assert not np.array_equal(a.fc1.W.data, b.fc1.W.data)


def test_progress_bar_on_and_off(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = make_moons(40, seed=0)
    fit(MLP([2, 4, 2]), X, y, epochs=3, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    fit(MLP([2, 4, 2]), X, y, epochs=3, progress=True, desc="moons")
    err = capsys.readouterr().err
    assert "moons" in err and "3/3" in err and "loss=" in err and "acc=" in err


def test_predict_predict_proba_outputs() -> None:
    X, y = make_blobs(60, centers=[[-3.0, 0.0], [3.0, 0.0]], std=0.3, seed=0)
    model = MLP([2, 4, 2], seed=0)
    fit(model, X, y, epochs=30, progress=False)
    z = outputs(model, X, batch_size=7)  # batched evaluation gives the same outputs
    np.testing.assert_allclose(z, model(X).data, atol=1e-12)
    p = predict_proba(model, X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(predict(model, X), p.argmax(axis=1))
    assert accuracy(model, X, y) == 1.0
    with pytest.raises(ValueError, match="X has 60 rows but y has 3"):
        accuracy(model, X, [0, 1, 0])
    with pytest.raises(ValueError, match=r"one example\? use X\[None, :\]"):
        predict(model, X[0])


def test_regression_with_mse_records_no_accuracy() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    target = X @ np.array([[1.0], [-2.0], [0.5]])
    model = MLP([3, 1], seed=0)
    h = fit(model, X, target, loss=mse, epochs=100, progress=False)
    assert h.accuracy == [] and h.loss[-1] < 1e-3
    np.testing.assert_allclose(model.fc1.W.data, [[1.0, -2.0, 0.5]], atol=0.05)


def test_fit_works_with_the_value_model() -> None:
    X, y = make_blobs(20, centers=[[-2.0, 0.0], [2.0, 0.0]], std=0.3, seed=0)
    model = ValueMLP([2, 3, 2], activation="tanh", seed=0)
    h = fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.5), epochs=10, progress=False)
    assert h.loss[-1] < h.loss[0]
    assert accuracy(model, X, y) == 1.0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow itself warns; fit must then stop
def test_divergence_restores_the_last_finite_parameters_and_says_so() -> None:
    X, y = make_moons(30, seed=0)
    model = MLP([2, 4, 2], seed=0)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.warns(DivergenceWarning, match=r"epoch 1, step 1 of 1, before any update") as rec:
        h = fit(model, X, y, loss=lambda out, t: cross_entropy(out, t) * np.inf, epochs=3, progress=False)
    assert "not the learning rate" in str(rec[0].message)
    assert h.stopped == "diverged" and len(h) == 0
    for k, v in model.state_dict().items():  # no update was made: the model is as it was
        np.testing.assert_array_equal(v, before[k])
    model = MLP([2, 4, 2], seed=0)
    with pytest.warns(DivergenceWarning, match=r"at the end of epoch \d+ .*lower the learning rate"):
        h = fit(model, X, y, optimizer=SGD(model.parameters(), lr=1e8), epochs=50, progress=False)
    assert h.stopped == "diverged" and "lower the learning rate" in repr(h)
    assert all(np.isfinite(v).all() for v in model.state_dict().values())
    assert all(np.isfinite(h.loss))


def test_bad_arguments_raise_clear_errors() -> None:
    X, y = make_moons(30, seed=0)
    model = MLP([2, 4, 2], seed=0)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(model, X, y, epochs=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer or None"):
        fit(model, X, y, batch_size=0)
    with pytest.raises(ValueError, match="unknown loss 'l2'"):
        fit(model, X, y, loss="l2")
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit(model, X * np.nan, y)
    with pytest.raises(TypeError, match="labels must be integer") as info:
        fit(model, X, y.astype(float), progress=False)
    assert len(info.value.history) == 0  # type: ignore[attr-defined]  (an error in the loss)


def test_an_error_mid_training_keeps_the_epochs_and_says_why() -> None:
    """An exception after some epochs (here from the callback) carries the finished epochs, with
    stopped == "error" and the error in stop_message; the model keeps its last full step."""
    X, y = make_moons(40, seed=0)
    model = MLP([2, 4, 2], seed=0)
    seen: list[list[np.ndarray]] = []

    def callback(epoch: int, history: object) -> None:
        seen.append([p.data.copy() for p in model.parameters()])
        if epoch == 3:
            raise OSError("log disk full")

    with pytest.raises(OSError, match="log disk full") as info:
        fit(model, X, y, epochs=10, callback=callback, progress=False)
    h = info.value.history  # type: ignore[attr-defined]
    assert len(h) == 3 and h.stopped == "error"
    assert "OSError" in h.stop_message and "log disk full" in h.stop_message
    assert all(np.array_equal(p.data, q) for p, q in zip(model.parameters(), seen[-1]))


def test_history_csv_and_plot(tmp_path: Path) -> None:
    X, y = make_moons(40, seed=0)
    h = fit(MLP([2, 4, 2]), X, y, epochs=4, validation=(X, y), progress=False)
    h.to_csv(tmp_path / "h.csv")
    rows = list(csv.reader(open(tmp_path / "h.csv")))
    assert rows[0] == ["epoch", "loss", "objective", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert len(rows) == 5 and float(rows[-1][1]) == pytest.approx(h.loss[-1])
    fig = h.plot(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="no epochs"):
        History().plot()


def test_decision_boundary(tmp_path: Path) -> None:
    X, y = make_moons(60, seed=0)
    model = MLP([2, 8, 2], seed=0)
    fit(model, X, y, epochs=20, progress=False)
    ax = plot_decision_boundary(model, X, y, resolution=40, path=tmp_path / "b.png")
    assert (tmp_path / "b.png").stat().st_size > 1000
    assert ax.get_title().startswith("decision boundary (accuracy")
    with pytest.raises(ValueError, match=r"needs 2-D inputs \(X of shape \(n, 2\)\), got \(5, 3\)"):
        plot_decision_boundary(MLP([3, 2]), np.zeros((5, 3)), np.zeros(5, dtype=int))


# ---- train and validation measured at the same point ----------------------------------------------

@pytest.mark.parametrize("batch_size", [None, 16])
def test_train_and_validation_losses_are_measured_at_the_same_point(batch_size: int | None) -> None:
    """With the training data as validation data both columns must agree exactly, epoch by epoch
    (measuring train before and validation after the update gave val_loss[k] == loss[k + 1])."""
    X, y = make_moons(64, noise=0.2, seed=0)
    model = MLP([2, 8, 2], seed=0)
    h = fit(model, X, y, epochs=6, batch_size=batch_size, validation=(X, y), progress=False)
    assert h.val_loss == h.loss and h.val_accuracy == h.accuracy
    assert h.loss[-1] == pytest.approx(float(cross_entropy(model(X), y).item()), rel=1e-12)
    assert h.accuracy[-1] == accuracy(model, X, y)


def test_full_batch_reuses_the_measurement_as_the_next_steps_forward_pass(monkeypatch: pytest.MonkeyPatch
                                                                          ) -> None:
    """The end-of-epoch pass is the next step's forward (same parameters, same data): one forward
    per epoch, and exactly the numbers of the path that recomputes it (taken with a callback)."""
    X, y = make_moons(64, noise=0.2, seed=0)
    runs = []
    calls: list[int] = []
    real = MLP.forward
    monkeypatch.setattr(MLP, "forward", lambda self, x: calls.append(1) or real(self, x))
    for callback in (None, lambda epoch, h: False):
        model = MLP([2, 8, 2], seed=0)
        calls.clear()
        h = fit(model, X, y, epochs=7, regularizer=ElasticNet(l2=1e-3), validation=(X[:10], y[:10]),
                callback=callback, progress=False)
        runs.append((h, model.state_dict(), len(calls)))
    (h1, s1, n1), (h2, s2, n2) = runs
    assert (n1, n2) == (1 + 1 + 7 + 7, 1 + 7 + 7 + 7)  # validation check, steps, end of epoch, validation
    assert h1.loss == h2.loss and h1.objective == h2.objective and h1.val_loss == h2.val_loss
    for k in s1:
        np.testing.assert_array_equal(s1[k], s2[k])


# ---- the progress bar -------------------------------------------------------------------------------

class _Stream:
    def __init__(self, tty: bool) -> None:
        self.text, self.tty, self.encoding = "", tty, "utf-8"

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self.tty


def test_progress_off_a_terminal_writes_whole_lines_and_the_final_state(monkeypatch: pytest.MonkeyPatch
                                                                        ) -> None:
    X, y = make_moons(40, seed=0)
    log = _Stream(tty=False)
    monkeypatch.setattr("sys.stderr", log)
    fit(MLP([2, 4, 2]), X, y, epochs=200, desc="moons")
    lines = log.text.splitlines()
    assert "\r" not in log.text and log.text.endswith("\n")
    assert 2 <= len(lines) <= 4  # the first epoch, one every few seconds, the final state
    assert lines[0].startswith("moons:   0%|") and " 1/200 " in lines[0]
    assert lines[-1].startswith("moons: 100%|") and "200/200" in lines[-1] and "loss=" in lines[-1]
    log.text = ""
    fit(MLP([2, 4, 2]), X, y, epochs=10, desc="moons", callback=lambda epoch, h: epoch == 3)
    assert log.text.splitlines()[-1].startswith("moons:  30%|") and "3/10" in log.text  # where it stopped


def test_progress_on_a_terminal_is_tqdms_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = make_moons(40, seed=0)
    term = _Stream(tty=True)
    monkeypatch.setattr("sys.stderr", term)
    fit(MLP([2, 4, 2]), X, y, epochs=3, desc="moons")
    assert "\r" in term.text and "3/3" in term.text and "acc=" in term.text


# ---- the plot ---------------------------------------------------------------------------------------

def _labelled_ticks(ax: Any) -> list[float]:
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    return sorted(float(t.get_text().replace("−", "-")) for t in ax.get_yticklabels()
                  if t.get_text() and low <= t.get_position()[1] <= high)


def test_log_loss_axis_is_labelled_down_to_the_final_loss() -> None:
    epochs = list(range(1, 31))
    loss = [1.5 * 0.86 ** k for k in range(30)]  # 1.5 down to 0.019
    h = History(epoch=epochs, loss=loss, objective=loss, val_loss=[v * 1.1 for v in loss])
    fig = h.plot()
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    ticks = _labelled_ticks(ax)
    assert ticks[0] <= min(loss) and ticks[-1] >= max(h.val_loss)  # every loss lies between labels
    assert {0.02, 0.05, 0.1, 0.2, 0.5, 1.0} <= set(ticks)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["train loss R̂", "validation loss"]
    assert ax.get_legend().get_title().get_text() == "at the end of each epoch"  # where both are measured
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_plot_as_a_cells_last_value_is_shown_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt
    from IPython.core.formatters import DisplayFormatter

    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a))
    monkeypatch.setattr("matplotlib.get_backend", lambda: "module://matplotlib_inline.backend_inline")
    h = History(epoch=[1, 2], loss=[0.7, 0.5], objective=[0.7, 0.5])
    fig = h.plot()
    assert DisplayFormatter().format(fig) == ({}, {})  # no second rendering by the display hook
    assert len(shown) == 1 and shown[0][0]["image/png"][:4] == b"\x89PNG"
    assert not plt.fignum_exists(fig.number)  # so the backend's end-of-cell flush skips it
    monkeypatch.setattr("matplotlib.get_backend", lambda: "qtagg")
    window = h.plot()
    DisplayFormatter().format(window)
    assert len(shown) == 1  # a window backend shows it itself
    plt.close(window)
    saved = h.plot(tmp_path / "loss.svg")
    assert (tmp_path / "loss.svg").read_text().lstrip().startswith("<?xml") and saved is not None


class _Recording(Adam):
    """Adam that keeps a deep copy of its state before each step, and can be interrupted (Ctrl-C)
    after updating ``stop_after`` parameters of step ``stop_at``."""

    def __init__(self, *args: Any, stop_at: int = 0, stop_after: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before: list[dict[str, Any]] = []
        self.stop_at, self.stop_after = stop_at, stop_after

    def step(self) -> None:
        self.before.append({k: [np.copy(x) for x in v] if isinstance(v, list) else v
                            for k, v in self._snapshot().items()})
        super().step()

    def _update(self, i: int, p: Any, g: Any) -> None:
        if self.steps + 1 == self.stop_at and i == self.stop_after:
            raise KeyboardInterrupt
        super()._update(i, p, g)


def _same_state(opt: _Recording, want: dict[str, Any]) -> None:
    for k, v in want.items():
        got = getattr(opt, k)
        if isinstance(v, list):
            assert len(got) == len(v) and all(np.array_equal(a, b) for a, b in zip(got, v)), k
        else:
            assert got == v, k


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_an_undone_step_puts_the_optimizer_state_back_with_the_parameters() -> None:
    X, y = make_moons(30, seed=0)
    model = MLP([2, 4, 2], seed=0)
    opt = _Recording(model.parameters(), lr=0.01, schedule=lambda t, lr: lr if t < 3 else 1e300)
    with pytest.warns(DivergenceWarning):
        h = fit(model, X, y, optimizer=opt, epochs=50, progress=False)
    assert h.stopped == "diverged" and len(opt.before) == 4  # the fourth update diverged
    _same_state(opt, opt.before[-1])  # moments, step counts and lr of before the undone update
    assert opt.steps == len(opt.before) - 1

    model = MLP([2, 4, 2], seed=0)
    opt = _Recording(model.parameters(), lr=0.01, stop_at=3, stop_after=2)  # Ctrl-C mid-update
    with pytest.warns(TrainingStoppedWarning, match="interrupted"):
        h = fit(model, X, y, optimizer=opt, epochs=10, progress=False)
    assert h.stopped == "interrupted" and len(h) == 2 and opt.steps == 2
    _same_state(opt, opt.before[-1])
    ref = MLP([2, 4, 2], seed=0)
    fit(ref, X, y, optimizer=Adam(ref.parameters(), lr=0.01), epochs=2, progress=False)
    for k, v in model.state_dict().items():  # the model of its last full step
        np.testing.assert_array_equal(v, ref.state_dict()[k])
