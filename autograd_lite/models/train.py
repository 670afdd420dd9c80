"""Training: `fit` (the seeds' batch gradient descent on R̃ = R̂ + penalty, with a progress bar),
`History`, `predict`, `accuracy` and a decision-boundary plot for 2-D data.

Nothing is lost: Ctrl-C returns the finished epochs' `History` (``history.stopped`` says why),
an error in a callback carries it as ``err.history``, and a diverging loss restores the last
finite parameters with a `DivergenceWarning`.

Example:
    >>> from autograd_lite.nn import MLP
    >>> from autograd_lite.optim import Adam
    >>> from autograd_lite.data import make_moons
    >>> X, y = make_moons(200, noise=0.1, seed=0)
    >>> model = MLP([2, 16, 2], activation="tanh", seed=0)
    >>> history = fit(model, X, y, optimizer=Adam(model.parameters(), lr=0.05), epochs=150,
    ...               progress=False)
    >>> accuracy(model, X, y) >= 0.97
    True
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core import backend as _B
from ..core.engine import Node, no_grad
from ..core.tensor import Tensor
from . import losses as L
from . import nn as _nn
from .files import atomic_write
from .optim import SGD, Optimizer

__all__ = ["DivergenceWarning", "History", "TrainingStoppedWarning", "accuracy", "fit", "outputs",
           "plot_decision_boundary", "predict", "predict_proba"]

LOSSES: dict[str, Callable[..., Any]] = {
    "cross_entropy": L.cross_entropy,
    "mse": L.mse,
    "binary_cross_entropy_with_logits": L.binary_cross_entropy_with_logits,
    "hinge": L.hinge,
}
#: how a classification loss turns outputs into predicted labels (accuracy is recorded for these)
_PREDICTION = {L.cross_entropy: "argmax", L.binary_cross_entropy_with_logits: "binary", L.hinge: "sign"}
#: seconds between two progress lines when stderr is not a terminal (CI logs, files, notebooks)
LINE_EVERY = 5.0


class TrainingStoppedWarning(RuntimeWarning):
    """`fit` stopped before its last epoch (Ctrl-C); the returned `History` holds the finished epochs.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():   # e.g. a script that reports the stop itself
        ...     warnings.simplefilter("ignore", TrainingStoppedWarning)
        >>> issubclass(DivergenceWarning, TrainingStoppedWarning)
        True
    """


class DivergenceWarning(TrainingStoppedWarning):
    """`fit` stopped because the loss became NaN or infinite; the last finite parameters were restored.

    Example:
        >>> import warnings, numpy as np
        >>> from autograd_lite.nn import MLP
        >>> from autograd_lite.optim import SGD
        >>> model = MLP([1, 1], seed=0)
        >>> X, y = np.array([[1e3], [-1e3]]), np.array([[1.0], [-1.0]])
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     h = fit(model, X, y, loss="mse", optimizer=SGD(model, lr=10.0), epochs=50, progress=False)
        >>> h.stopped, caught[-1].category.__name__, bool(np.isfinite(model.fc1.W.data).all())
        ('diverged', 'DivergenceWarning', True)
    """


# --------------------------------------------------------------------------------------- History

@dataclass
class History:
    """Per-epoch training record returned by `fit`.

    Every column is measured at the same point: at the end of the epoch, with the parameters after
    its last update, on the whole data set (not a running mean of batch losses as in Keras), so
    train and validation curves compare directly. ``loss``: the empirical risk R̂ on the training
    data; ``objective``: R̂ + penalty (what the optimizer minimizes); ``accuracy``: training accuracy
    (classification losses only); ``val_loss`` / ``val_accuracy``: the same on the validation data
    (empty without ``validation=``). ``seconds``: wall time per epoch. ``stopped``: None when every
    epoch ran, else why training ended early ("callback", "interrupted", "diverged", or "error"
    on the History an exception carries as ``err.history``), explained in ``stop_message``.

    Example:
        >>> h = History(epoch=[1, 2], loss=[0.7, 0.5], objective=[0.7, 0.5], accuracy=[0.5, 0.75])
        >>> print(h)
        History: 2 epochs, final loss 0.5, accuracy 0.75
        epoch      loss  objective  accuracy
            1    0.7000     0.7000    0.5000
            2    0.5000     0.5000    0.7500
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    objective: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped: str | None = None
    stop_message: str = ""

    def columns(self) -> dict[str, list[Any]]:
        """The non-empty columns in display order (``seconds`` left out).

        Example:
            >>> list(History(epoch=[1], loss=[0.5], objective=[0.5]).columns())
            ['epoch', 'loss', 'objective']
        """
        names = ("epoch", "loss", "objective", "accuracy", "val_loss", "val_accuracy")
        return {n: getattr(self, n) for n in names if getattr(self, n)}

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        if not self.epoch:
            return "History: no epochs"
        cols = self.columns()
        final = [f"final loss {self.loss[-1]:.4g}"]
        if self.accuracy:
            final.append(f"accuracy {self.accuracy[-1]:.4g}")
        if self.val_accuracy:
            final.append(f"val_accuracy {self.val_accuracy[-1]:.4g}")
        lines = [f"History: {len(self)} epochs, " + ", ".join(final)]
        widths = {n: max(len(n), 7 if n == "epoch" else 8) for n in cols}
        widths["epoch"] = max(5, len(str(self.epoch[-1])))
        lines.append("  ".join(n.rjust(widths[n]) for n in cols))
        rows = list(range(len(self)))
        if len(rows) > 10:
            rows = rows[:5] + [-1] + rows[-5:]
        for i in rows:
            if i < 0:
                lines.append("...".rjust(widths["epoch"]))
                continue
            cells = [str(cols["epoch"][i]).rjust(widths["epoch"])]
            cells += [_cell(cols[n][i]).rjust(widths[n]) for n in cols if n != "epoch"]
            lines.append("  ".join(cells))
        if self.stopped:
            lines.append(f"stopped early ({self.stopped}): {self.stop_message}".rstrip(": "))
        return "\n".join(lines)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one row per epoch (header: the non-empty columns and ``seconds``).

        Example:
            >>> import tempfile, os
            >>> p = os.path.join(tempfile.mkdtemp(), "h.csv")
            >>> History(epoch=[1], loss=[0.5], objective=[0.5], seconds=[0.1]).to_csv(p)
            >>> open(p).read().splitlines()[0]
            'epoch,loss,objective,seconds'
        """
        cols = self.columns()
        if self.seconds:
            cols["seconds"] = self.seconds
        with atomic_write(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(list(cols))
            for i in range(len(self)):
                w.writerow([cols[n][i] for n in cols])

    def plot(self, path: str | os.PathLike[str] | None = None, title: str | None = None,
             val_name: str = "validation") -> Any:
        """Loss (and accuracy, when recorded) against epochs with matplotlib; returns the Figure.

        With ``path`` the figure is saved there (PNG, SVG, PDF by suffix; all or nothing) and
        closed. ``val_name`` names the validation curves in the legend (e.g. "test" when the test
        split was passed). A loss spanning more than a factor 20 gets a log axis labelled down to
        its smallest value. As the last line of a notebook cell the figure is shown once.
        Needs matplotlib (``pip install "autograd_lite[notebooks]"``).

        Example:
            >>> import tempfile, os
            >>> p = os.path.join(tempfile.mkdtemp(), "loss.png")
            >>> _ = History(epoch=[1, 2], loss=[0.7, 0.5], objective=[0.7, 0.5]).plot(p)
            >>> os.path.getsize(p) > 1000
            True
        """
        plt = _pyplot("History.plot")
        if not self.epoch:
            raise ValueError("History.plot: no epochs recorded yet")
        n_panels = 2 if self.accuracy or self.val_accuracy else 1
        fig, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels, 3.8), squeeze=False)
        ax = axes[0][0]
        curves = [self.loss]
        ax.plot(self.epoch, self.loss, label="train loss R̂")
        if any(abs(o - v) > 1e-12 for o, v in zip(self.objective, self.loss)):
            ax.plot(self.epoch, self.objective, "--", label="objective R̂ + penalty")
            curves.append(self.objective)
        if self.val_loss:
            ax.plot(self.epoch, self.val_loss, label=f"{val_name} loss")
            curves.append(self.val_loss)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        finite = [v for c in curves for v in c if math.isfinite(v)]
        if finite and min(finite) > 0 and max(finite) / min(finite) > 20:
            _log_axis(ax, min(finite), max(finite))
        ax.grid(True, alpha=0.3)
        ax.legend(title="at the end of each epoch", title_fontsize="small")  # both curves: one point
        if n_panels == 2:
            ax2 = axes[0][1]
            if self.accuracy:
                ax2.plot(self.epoch, self.accuracy, label="train accuracy")
            if self.val_accuracy:
                ax2.plot(self.epoch, self.val_accuracy, label=f"{val_name} accuracy")
            ax2.set_xlabel("epoch")
            ax2.set_ylabel("accuracy")
            ax2.set_ylim(0.0, 1.02)
            ax2.grid(True, alpha=0.3)
            ax2.legend(loc="lower right")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        if path is not None:
            _save_figure(fig, path, dpi=110)
            plt.close(fig)
        return _shown_once(fig)


def _log_axis(ax: Any, low: float, high: float) -> None:
    """A log y axis from the decade below ``low`` to the decade above ``high``, with readable
    labels (0.02, 0.05, 0.1, ...; 1, 2 and 5 per decade when it spans at most three decades), so
    the smallest loss is always above a labelled tick."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    bottom = 10.0 ** math.floor(math.log10(low))
    top = 10.0 ** math.ceil(math.log10(high))
    top = top * 10 if top == bottom else top
    ax.set_yscale("log")
    ax.set_ylim(bottom, top)
    subs = (1.0, 2.0, 5.0) if top / bottom <= 1e3 else (1.0,)
    ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _save_figure(fig: Any, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """``fig.savefig`` all or nothing (the format from the suffix, PNG without one)."""
    fmt = Path(path).suffix.lower().lstrip(".") or "png"
    with atomic_write(path) as f:
        fig.savefig(f, format=fmt, **kwargs)


def _shown_once(fig: Any) -> Any:
    """Let a notebook show ``fig`` once when it is a cell's last value.

    Jupyter's inline backend shows every open pyplot figure at the end of the cell, and the display
    hook would draw the returned Figure a second time. IPython asks an object's
    ``_ipython_display_`` first (the backend's own display goes through it too): the figure shows
    itself and, under the inline backend, closes, so the end-of-cell flush does not repeat it.
    """
    def _ipython_display_() -> None:
        import matplotlib
        import matplotlib.pyplot as plt

        backend = str(matplotlib.get_backend()).lower()
        is_open = plt.fignum_exists(getattr(fig, "number", -1))
        inline = "inline" in backend
        if is_open and not inline and backend not in ("agg", "pdf", "ps", "svg", "pgf", "cairo", "template"):
            return  # a window or widget backend shows it itself
        from IPython.core.pylabtools import print_figure
        from IPython.display import display

        display({"image/png": print_figure(fig, "png", bbox_inches="tight")}, raw=True)
        if is_open and inline:
            plt.close(fig)  # shown: the end-of-cell flush must not show it again

    fig._ipython_display_ = _ipython_display_
    return fig


def _cell(x: float) -> str:
    return f"{x:.4f}" if abs(x) < 1e5 or not math.isfinite(x) else f"{x:.3e}"


def _pyplot(where: str) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is installed in the test environment
        raise ImportError(f"{where} needs matplotlib: pip install matplotlib "
                          "(or pip install \"autograd_lite[notebooks]\")") from None
    return plt


# ------------------------------------------------------------------------------- checks and helpers

def _check_xy(X: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    raw = X.data if isinstance(X, Node) else X
    if _B.is_lazy(raw):
        return _check_lazy_xy(raw, y, where)
    if _B.is_array_of_library(raw):  # torch, CuPy...: checked on a host copy, trained where it lives
        _, ya = _check_xy(_B.to_numpy(raw), y, where)
        xp = _B.namespace(raw)
        return (raw if raw.dtype == xp.float64 else xp.astype(raw, xp.float64)), ya
    Xa = np.asarray(raw)
    if Xa.dtype.kind not in "fiub":
        raise TypeError(f"{where}: X must be numbers, got dtype {Xa.dtype}")
    if Xa.ndim != 2:
        raise ValueError(f"{where}: X must have shape (n, d), one example per row; got shape {Xa.shape}"
                         + (" (one example? use X[None, :])" if Xa.ndim == 1 else ""))
    Xa = Xa.astype(np.float64, copy=False)
    if not np.isfinite(Xa).all():
        raise ValueError(f"{where}: X contains NaN or infinite values")
    if y is None:
        return Xa, None
    ya = np.asarray(y.data if isinstance(y, Node) else y)
    if len(ya) != len(Xa):
        raise ValueError(f"{where}: X has {len(Xa)} rows but y has {len(ya)} entries; they must match")
    return Xa, ya


def _check_lazy_xy(X: Any, y: Any, where: str) -> tuple[Any, Any]:
    """A Dask data set, checked without computing it: dtype and shape are known lazily; NaN/inf
    are found when the values are first computed. ``y`` is returned as given (Dask or numpy)."""
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{where}: X must be numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{where}: X must have shape (n, d), one example per row; got shape {X.shape}")
    if math.isnan(X.shape[0]):
        raise ValueError(f"{where}: the Dask array X has chunks of unknown length (after a filter or "
                         "from a dataframe); call X = X.compute_chunk_sizes() first")
    Xa = X if X.dtype == np.float64 else X.astype(np.float64)
    if y is None:
        return Xa, None
    ya = y.data if isinstance(y, Node) else y
    ya = ya if _B.is_lazy(ya) else np.asarray(ya)
    if len(ya) != X.shape[0]:
        raise ValueError(f"{where}: X has {X.shape[0]} rows but y has {len(ya)} entries; they must match")
    return Xa, ya


def _is_value_model(out: Any) -> bool:
    return isinstance(out, list)


def _raw(out: Any) -> np.ndarray:
    """Model outputs as an ndarray: Tensor data, or the data of a (nested) list of Values."""
    if isinstance(out, Tensor):
        d = out.data  # another library's outputs: a host copy; a lazy (Dask) one stays lazy
        return d if isinstance(d, np.ndarray) or _B.is_lazy(d) else _B.to_numpy(d)
    if isinstance(out, list):
        return np.array([[v.data for v in row] if isinstance(row, list) else row.data for row in out])
    return np.asarray(out)


def _labels_from(scores: np.ndarray) -> np.ndarray:
    if scores.ndim == 1 or scores.shape[-1] == 1:  # one logit per example: binary, class 1 if > 0
        return (scores.reshape(len(scores)) > 0).astype(np.int64)
    return np.argmax(scores, axis=-1).astype(np.int64)


def outputs(model: Any, X: Any, batch_size: int | None = 4096) -> np.ndarray:
    """The model's raw outputs (logits) for every row of ``X`` as an ndarray, without recording a graph.

    Example:
        >>> import numpy as np
        >>> from autograd_lite.nn import MLP
        >>> outputs(MLP([2, 3, 4]), np.zeros((5, 2))).shape
        (5, 4)
    """
    Xa, _ = _check_xy(X, None, "outputs")
    if _B.is_lazy(Xa):  # one lazy forward pass, one compute (only the outputs come to host memory)
        with no_grad():
            return _B.to_numpy(_raw(model(Tensor(Xa))))
    step = len(Xa) if not batch_size else int(batch_size)
    with no_grad():
        parts = [_raw(model(Xa[i:i + step])) for i in range(0, len(Xa), max(step, 1))]
    return np.concatenate(parts) if parts else np.zeros((0,))


def predict(model: Any, X: Any) -> np.ndarray:
    """Predicted class indices (argmax of the logits; one logit: 1 if > 0).

    Example:
        >>> import numpy as np
        >>> from autograd_lite.nn import MLP
        >>> predict(MLP([2, 3, 4]), np.zeros((5, 2))).shape
        (5,)
    """
    return _labels_from(outputs(model, X))


def predict_proba(model: Any, X: Any) -> np.ndarray:
    """Class probabilities o^s = softmax(o^a) per row (one logit: σ(z) for class 1).

    Example:
        >>> import numpy as np
        >>> from autograd_lite.nn import MLP
        >>> p = predict_proba(MLP([2, 3, 4]), np.ones((5, 2)))
        >>> bool(np.allclose(p.sum(axis=1), 1.0))
        True
    """
    z = outputs(model, X)
    if z.ndim == 1 or z.shape[-1] == 1:
        return 0.5 * (np.tanh(0.5 * z.reshape(len(z))) + 1.0)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def accuracy(model: Any, X: Any, y: Any) -> float:
    """Fraction of rows of ``X`` whose predicted class equals ``y``.

    Example:
        >>> import numpy as np
        >>> from autograd_lite.nn import MLP
        >>> 0.0 <= accuracy(MLP([2, 3, 2]), np.zeros((4, 2)), [0, 1, 0, 1]) <= 1.0
        True
    """
    Xa, ya = _check_xy(X, y, "accuracy")
    assert ya is not None
    if len(ya) == 0:
        raise ValueError("accuracy: no examples")
    if _B.is_lazy(Xa) or _B.is_lazy(ya):  # a Dask set: the hits are counted lazily, one compute
        with no_grad():
            out = model(Tensor(Xa)) if _B.is_lazy(Xa) else model(Xa)
        hits = _labels_from(_raw(out)) == ya.reshape(len(ya))
        return float(_B.to_numpy(hits.mean()))
    return float(np.mean(predict(model, Xa) == ya.reshape(len(ya))))


# ------------------------------------------------------------------------------------- progress bar

class _LineBar:
    """The bar where stderr is not a terminal (CI logs, files, notebooks): whole lines, never
    ``\\r``: after the first epoch, then at most one every `LINE_EVERY` seconds, and the final state."""

    def __init__(self, total: int, desc: str, stream: Any) -> None:
        self.total, self.desc, self.stream, self.n, self.post = total, desc, stream, 0, ""
        self.start = self.last = time.monotonic()
        self.written = -1
        encoding = str(getattr(stream, "encoding", "") or "").lower()
        self.ascii = "utf" not in encoding

    def set_postfix(self, post: dict[str, str]) -> None:
        self.post = ", ".join(f"{k}={v}" for k, v in post.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self.n == 1 or self.n == self.total or now - self.last >= LINE_EVERY:
            self._write(now)

    def close(self) -> None:
        if self.written != self.n:  # stopped early: leave the state it stopped in
            self._write(time.monotonic())

    def _write(self, now: float) -> None:
        self.last, self.written = now, self.n
        try:
            from tqdm.std import tqdm

            line = tqdm.format_meter(self.n, self.total, now - self.start, prefix=self.desc, unit="epoch",
                                     postfix=self.post or None, ascii=self.ascii)
        except ImportError:  # pragma: no cover - tqdm is installed with the notebooks/dev extras
            line = f"{self.desc}: {self.n}/{self.total} epochs [{now - self.start:.1f}s, {self.post}]"
        print(line, file=self.stream, flush=True)


class _NoBar:
    def set_postfix(self, post: dict[str, str]) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool) -> Any:
    """tqdm's bar on a terminal; elsewhere (CI logs, files, notebooks) `_LineBar`, whose saved
    output ends with the final state instead of a stale 0%."""
    if not enabled:
        return _NoBar()
    stream = sys.stderr
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        try:
            from tqdm.std import tqdm
        except ImportError:  # pragma: no cover - tqdm is installed with the notebooks/dev extras
            return _LineBar(total, desc, stream)
        return tqdm(total=total, desc=desc, unit="epoch", dynamic_ncols=True, file=stream)
    return _LineBar(total, desc, stream)


# ------------------------------------------------------------------------------------- fit: checks

def _loss_fn(loss: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"fit: unknown loss {loss!r}; choose one of {list(LOSSES)} or pass a function "
                         "(outputs, y) -> scalar node")
    return LOSSES[loss]


def _batches(n: int, batch_size: int | None, shuffle: bool, rng: np.random.Generator
             ) -> list[slice | np.ndarray]:
    if batch_size is None or batch_size >= n:
        return [slice(None)]  # full batch: a view, no copy of the data each epoch
    order = rng.permutation(n) if shuffle else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _check_optimizer(model: Any, optimizer: Any) -> None:
    """Refuse an optimizer that would update other tensors than this model's (training would do nothing)."""
    params = getattr(optimizer, "params", None)
    if not callable(getattr(optimizer, "step", None)) or params is None:
        raise TypeError(f"fit: optimizer must be an Optimizer (e.g. SGD(model.parameters(), lr=0.1)), "
                        f"got {type(optimizer).__name__}")
    if not callable(getattr(model, "parameters", None)):
        return
    own = {id(p) for p in model.parameters()}
    foreign = [i for i, p in enumerate(params) if id(p) not in own]
    if foreign:
        raise ValueError(
            f"fit: {len(foreign)} of the optimizer's {len(params)} parameters are not parameters of this "
            f"{type(model).__name__} (it has {len(own)}), so training would not change the model. Build the "
            f"optimizer from the model you train: {type(optimizer).__name__}(model.parameters(), lr=...)")


def _prediction(loss_fn: Callable[..., Any], ya: np.ndarray, record_accuracy: bool | None) -> str | None:
    """How outputs become labels for the accuracy column, or None (no accuracy is recorded).

    Automatic: integer labels with a classification loss. A regression loss (mse) records no
    accuracy even with integer targets; a custom loss function is decided by the outputs' shape
    on the first batch ("auto").
    """
    integer = ya.dtype.kind in "iu"
    if record_accuracy is False:
        return None
    if record_accuracy and not integer:
        raise ValueError(f"fit: record_accuracy=True needs integer class labels, but y has dtype {ya.dtype}")
    if loss_fn in _PREDICTION:
        return _PREDICTION[loss_fn] if integer else None
    if record_accuracy:
        return "argmax"
    if loss_fn is L.mse or not integer:
        return None
    return "auto"


def _labels(scores: np.ndarray, how: str) -> np.ndarray:
    if how == "sign":  # hinge: labels are -1 / +1
        return np.where(scores.reshape(len(scores)) > 0, 1, -1)
    return _labels_from(scores)


def _check_validation(validation: Any, Xa: np.ndarray, ya: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """The validation pair, checked against the training data before any update."""
    if validation is None:
        return None
    if not isinstance(validation, tuple | list) or len(validation) != 2:
        raise ValueError("fit: validation must be a pair (X_val, y_val)")
    Xv, yv = _check_xy(validation[0], validation[1], "fit(validation)")
    assert yv is not None
    if _B.is_lazy(yv):  # as the training labels: to host memory once
        yv = _B.to_numpy(yv)
    if len(Xv) == 0:
        raise ValueError("fit(validation): no validation examples; pass validation=None to skip it")
    if Xv.shape[1] != Xa.shape[1]:
        raise ValueError(f"fit(validation): X_val has {Xv.shape[1]} columns but the training X has "
                         f"{Xa.shape[1]}; both need one column per input feature")
    if yv.shape[1:] != ya.shape[1:]:
        raise ValueError(f"fit(validation): y_val has shape {yv.shape} but the training y has shape "
                         f"{ya.shape}; each example needs a target of the same shape")
    if (ya.dtype.kind in "iu") != (yv.dtype.kind in "iu"):
        raise ValueError(f"fit(validation): y_val has dtype {yv.dtype} but the training y has dtype "
                         f"{ya.dtype}; pass labels of the same kind (e.g. y_val.astype(int))")
    return Xv, yv


# ---------------------------------------------------------------------------------------- fit: loop

class _Run:
    """One training run: the steps, the end-of-epoch measurements, the last finite parameters."""

    def __init__(self, model: Any, optimizer: Any, loss_fn: Callable[..., Any],
                 regularizer: Callable[[Any], Any] | None, predict: str | None) -> None:
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.regularizer, self.predict = regularizer, predict
        self.params: list[Node] = list(optimizer.params)
        self.saved: list[Any] | None = None  # the parameters before the last update (finite loss)
        self.opt_saved: dict[str, Any] | None = None  # the optimizer's state then
        self.updating = False
        self.where = ""
        # the library's modules compute the same in train and eval mode: no switching needed, and in
        # full batch the end-of-epoch measurement is the next step's forward pass (its graph is kept)
        self.plain = _plain(model)
        self.reuse = False
        self.pending: tuple[Any, Any] | None = None

    def _objective(self, out: Any, y: np.ndarray, penalize: bool = True) -> tuple[Any, Any]:
        data_loss = self.loss_fn(out, y)
        penalty = self.regularizer(self.model) if self.regularizer is not None and penalize else None
        return data_loss, (data_loss + penalty if penalty is not None else data_loss)

    def step(self, Xb: np.ndarray, yb: np.ndarray) -> float:
        """One update; returns the objective before it (NaN/inf: no update was made)."""
        self.optimizer.zero_grad()
        if self.pending is not None:  # the same parameters, the same data: that forward pass
            objective, self.pending = self.pending[1], None
        else:
            out = self.model(Xb)
            if self.predict == "auto":  # a custom loss: class scores (2+ columns), 1-D integer labels
                raw = _raw(out)
                self.predict = "argmax" if raw.ndim == 2 and raw.shape[1] > 1 and yb.ndim == 1 else None
            _, objective = self._objective(out, yb)
        value = float(objective.item())
        if not math.isfinite(value):
            return value
        objective.backward()
        self._update()
        return value

    def _update(self) -> None:
        """The optimizer's step, the parameters before it saved (a diverging loss restores them)."""
        self.saved = [p.data.copy() if isinstance(p.data, np.ndarray) else p.data for p in self.params]
        snapshot = getattr(self.optimizer, "_snapshot", None)  # (an optimizer of the user's may have none)
        self.opt_saved = snapshot() if snapshot is not None else None
        self.updating = True
        self.optimizer.step()
        self.updating = False

    def batches(self, X: Any, y: Any, batch_size: int | None, shuffle: bool, rng: np.random.Generator
                ) -> tuple[int, Any]:
        """(number of steps, iterator of (X batch, y batch)) for one epoch."""
        parts = _batches(len(X), batch_size, shuffle, rng)
        return len(parts), ((X[idx], y[idx]) for idx in parts)

    def check(self, val: tuple[Any, Any]) -> None:
        """One evaluation of the validation data before any update (its errors come first)."""
        self.measure(*val, penalize=False)

    def end_of_epoch(self, X: Any, y: Any, val: tuple[Any, Any] | None, last: bool
                     ) -> tuple[tuple[float, float, float | None], tuple[float, float, float | None] | None]:
        """The training and validation measurements after an epoch's last update."""
        train = self.measure(X, y)
        if val is None or not math.isfinite(train[1]):
            return train, None
        return train, self.measure(*val, penalize=False)

    def restore(self) -> bool:
        """Put back the parameters saved before the last update; False when there were none."""
        if self.saved is None:
            return False
        for p, v in zip(self.params, self.saved):
            if isinstance(p.data, np.ndarray):
                p.data[...] = v
            else:
                p.data = v
        if self.opt_saved is not None:  # the optimizer's moments and step count go back with them
            self.optimizer._put_back(self.opt_saved)
        self.updating = False
        return True

    def measure(self, X: np.ndarray, y: np.ndarray, penalize: bool = True
                ) -> tuple[float, float, float | None]:
        """(R̂, R̂ + penalty, accuracy or None) with the current parameters, in eval mode
        (the validation data needs no penalty: ``penalize=False``)."""
        keep = self.reuse and penalize
        mode = None if self.plain else getattr(self.model, "training", None)
        if mode is not None:
            self.model.eval()
        try:
            with contextlib.nullcontext() if keep else no_grad():
                out = self.model(X)
                data_loss, objective = self._objective(out, y, penalize)
                loss, obj = float(data_loss.item()), float(objective.item())
            if keep:
                self.pending = (out, objective)
        finally:
            if mode is not None:
                self.model.train(mode)
        acc = None
        if self.predict not in (None, "auto"):
            acc = float(np.mean(_labels(_raw(out), str(self.predict)) == y.reshape(len(y))))
        return loss, obj, acc

    def diverged(self, value: float, epochs_done: int, lr: Any) -> str:
        """Restore the last finite parameters; the message for the warning."""
        if not self.restore():
            return (f"fit: the loss is {value} at {self.where}, before any update, so the data, the "
                    "targets or the loss is at fault, not the learning rate; check them for huge values "
                    "(scale the inputs) or labels the loss does not expect. The model was not changed.")
        now = f" (now {lr:g})" if isinstance(lr, float | int) else ""
        return (f"fit: the loss became {value} at {self.where}; training diverged and stopped. The "
                f"parameters were restored to their last finite values (before the last "
                f"update{self._also()}) and the History keeps the {epochs_done} finished epoch(s). "
                f"Fix: lower the learning rate{now} or scale the inputs.")

    def _also(self) -> str:
        """What of the optimizer's state went back with the parameters, said plainly."""
        opt = self.optimizer
        if self.opt_saved is None:
            return ""
        if opt._saves_all():
            return "; the optimizer's state too"
        return (f"; {type(opt).__name__}'s {', '.join(opt.state_attrs)} too, but not buffers it keeps "
                "under other names: list them in its state_attrs")


def _plain(model: Any) -> bool:
    """Only the library's own modules: their forward pass is the same in train and eval mode."""
    named = getattr(model, "named_modules", None)
    return callable(named) and all(type(m).__module__ == _nn.__name__ for _, m in named())


def _record(history: History, epoch: int, seconds: float, train: tuple[float, float, float | None],
            val: tuple[float, float, float | None] | None) -> dict[str, str]:
    """Append one epoch to the history; returns the progress bar's postfix."""
    history.epoch.append(epoch)
    history.loss.append(train[0])
    history.objective.append(train[1])
    post = {"loss": f"{train[0]:.4f}"}
    if train[2] is not None:
        history.accuracy.append(train[2])
        post["acc"] = f"{train[2]:.3f}"
    if val is not None:
        history.val_loss.append(val[0])
        post["val_loss"] = f"{val[0]:.4f}"
        if val[2] is not None:
            history.val_accuracy.append(val[2])
            post["val_acc"] = f"{val[2]:.3f}"
    history.seconds.append(seconds)
    return post


def _attach(err: BaseException, history: History) -> None:
    """Hand the finished epochs to whoever catches ``err`` (as ``err.history``)."""
    try:
        err.history = history  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - an exception type with __slots__
        return
    err.add_note(f"fit: the History of the {len(history)} finished epoch(s) is on this error as err.history")


def fit(model: Any, X: Any, y: Any, *, loss: str | Callable[..., Any] = "cross_entropy",
        optimizer: Optimizer | None = None, epochs: int = 100, batch_size: int | None = None,
        regularizer: Callable[[Any], Any] | None = None,
        validation: tuple[Any, Any] | None = None, shuffle: bool = True, seed: int | None = 0,
        progress: bool = True, desc: str = "training",
        callback: Callable[[int, History], Any] | None = None,
        record_accuracy: bool | None = None, client: Any = None) -> History:
    """Train ``model`` on (X, y) by gradient descent on R̃ = R̂ + regularizer(model); returns a `History`.

    Each step: zero the gradients, forward the batch, loss (+ penalty), ``backward()``,
    ``optimizer.step()``. ``batch_size=None`` is full-batch (the seeds' batch gradient descent);
    an integer gives shuffled mini-batches (``seed`` fixes the order). ``optimizer`` defaults to
    ``SGD(model.parameters(), lr=0.1)`` and must update this model's parameters. ``loss``:
    "cross_entropy" (default), "mse", "binary_cross_entropy_with_logits", "hinge" or a function
    (outputs, y) -> scalar node. After each epoch the loss (and accuracy) is measured on the whole
    training set and on ``validation=(X_val, y_val)`` with the same parameters; the validation data
    is checked (width, labels, one evaluation) before the first update. In full batch the end-of-epoch
    pass doubles as the next step's forward pass (same parameters, same data), so it costs nothing;
    with mini-batches it is one extra forward pass per epoch. Accuracy is recorded for
    integer labels with a classification loss (``record_accuracy`` forces it on or off).

    Nothing is lost: the loss is checked at every step, and a NaN/inf loss restores the
    parameters of the last finite step, warns (`DivergenceWarning`, with the epoch and step) and
    returns the finished epochs. Ctrl-C returns them too (a `TrainingStoppedWarning`); an error in
    ``callback`` or the loss carries them as ``err.history``; ``history.stopped`` says why training
    ended early. A half-done update is undone, so the model is always usable.

    ``progress``: tqdm's bar on a terminal; elsewhere (logs, notebooks) a line every few seconds
    and the final state. ``callback(epoch, history)`` runs after each epoch; returning True stops
    training. Works with `Tensor` models (`MLP`) and `Value` models (`ValueMLP`, small data only).

    Dask data sets (X a ``dask.array``; y a Dask or numpy array): nothing is loaded up front. Full
    batch builds each step's loss over all chunks as one lazy graph, runs ``backward()`` lazily and
    evaluates the loss, every gradient and the accuracy in ONE compute, then updates the numpy
    parameters; that compute is also the previous epoch's record, so an epoch reads the data once.
    ``batch_size=k`` visits the row chunks in a shuffled order, computes each chunk to numpy once and
    takes eager steps on shuffled batches of at most k rows within it (a batch never spans two
    chunks); the end-of-epoch record (training and validation) is one compute. ``client=`` (a
    ``dask.distributed.Client``) runs every compute on that cluster; without it Dask's default is
    used. The labels (one number per row) are brought to host memory once and travel with each
    step's graph; NaN/inf in X are found when it is first computed (a ValueError, after the
    compute-time warning that names the tensor). See `autograd_lite.models.lazy`.

    Example:
        >>> import numpy as np
        >>> from autograd_lite.nn import MLP
        >>> from autograd_lite.losses import ElasticNet
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0]]); y = np.array([0, 1])
        >>> model = MLP([2, 4, 2], activation="leaky_relu", seed=0)
        >>> h = fit(model, X, y, epochs=50, regularizer=ElasticNet(l1=1e-4, l2=1e-4), progress=False)
        >>> len(h), h.loss[-1] < h.loss[0], accuracy(model, X, y), h.stopped
        (50, True, 1.0, None)
    """
    lazy = _B.is_lazy(X.data if isinstance(X, Node) else X) or (
        isinstance(validation, tuple | list) and len(validation) == 2 and _B.is_lazy(validation[0]))
    if client is not None and not lazy:
        raise ValueError("fit(client=...): X is not a Dask array, so there is nothing to run on the "
                         "cluster; pass X as a dask.array (e.g. da.from_array(X, chunks=100_000)) or "
                         "leave client out")
    with _scheduler(client):
        return _fit(model, X, y, loss, optimizer, epochs, batch_size, regularizer, validation, shuffle,
                    seed, progress, desc, callback, record_accuracy, lazy)


def _fit(model: Any, X: Any, y: Any, loss: Any, optimizer: Any, epochs: int, batch_size: int | None,
         regularizer: Any, validation: Any, shuffle: bool, seed: int | None, progress: bool, desc: str,
         callback: Any, record_accuracy: bool | None, lazy: bool) -> History:
    """`fit`'s loop (inside the Dask scheduler context of ``client=``)."""
    Xa, ya, loss_fn, optimizer = _check_fit(model, X, y, loss, optimizer, epochs, batch_size)
    if lazy:
        from .lazy import LazyRun, check_lazy_model

        check_lazy_model(optimizer)
    val = _check_validation(validation, Xa, ya)
    run = (LazyRun if lazy else _Run)(model, optimizer, loss_fn, regularizer,
                                      _prediction(loss_fn, ya, record_accuracy))
    run.reuse = (batch_size is None or batch_size >= len(Xa)) and callback is None and run.plain
    if val is not None:
        try:
            run.check(val)
        except (ValueError, TypeError) as err:
            raise type(err)(f"fit(validation): {err}") from None
    rng = np.random.default_rng(seed)
    history = History()
    bar = _progress(epochs, desc, progress)
    stop: tuple[str, str] | None = None
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            count, batches = run.batches(Xa, ya, batch_size, shuffle, rng)
            for k, (Xb, yb) in enumerate(batches, 1):
                run.where = f"epoch {epoch}, step {k} of {count}"
                value = run.step(Xb, yb)
                if not math.isfinite(value):
                    break
            else:
                run.where = f"the end of epoch {epoch} (after its last update)"
                train, vals = run.end_of_epoch(Xa, ya, val, epoch == epochs)
                value = train[1]
            if not math.isfinite(value):
                stop = ("diverged", run.diverged(value, len(history), getattr(optimizer, "lr", "?")))
                break
            bar.set_postfix(_record(history, epoch, time.perf_counter() - start, train, vals))
            bar.update(1)
            if callback is not None and callback(epoch, history):
                stop = ("callback", f"the callback returned True after epoch {epoch}")
                break
    except KeyboardInterrupt:
        if run.updating:
            run.restore()  # Ctrl-C in the middle of an update: undo the half-done part
        stop = ("interrupted", f"interrupted (Ctrl-C) at {run.where or 'the start'}; the History keeps "
                f"the {len(history)} finished epoch(s) and the model the parameters of its last full step")
    except Exception as err:
        if run.updating:
            run.restore()
        history.stopped = "error"
        history.stop_message = (f"{type(err).__name__} at {run.where or 'the start'}: {err}; the "
                                f"History keeps the {len(history)} finished epoch(s)")
        _attach(err, history)
        raise
    finally:
        bar.close()
    if stop is not None:
        history.stopped, history.stop_message = stop
        if stop[0] == "diverged":
            warnings.warn(stop[1], DivergenceWarning, stacklevel=3)
        elif stop[0] == "interrupted":
            warnings.warn(f"fit: {stop[1]}", TrainingStoppedWarning, stacklevel=3)
    return history


def _scheduler(client: Any) -> Any:
    """A context in which every Dask compute goes through ``client`` (no client: Dask's default,
    which is the active distributed Client if there is one, else local threads)."""
    if client is None:
        return contextlib.nullcontext()
    if not callable(getattr(client, "get", None)):
        raise TypeError(f"fit(client=...): expected a dask.distributed.Client, got {type(client).__name__}")
    import dask

    return dask.config.set(scheduler=client.get)


def _check_fit(model: Any, X: Any, y: Any, loss: Any, optimizer: Any, epochs: Any, batch_size: Any
               ) -> tuple[np.ndarray, np.ndarray, Callable[..., Any], Any]:
    """fit's argument checks (everything before the first update)."""
    Xa, ya = _check_xy(X, y, "fit")
    assert ya is not None
    if _B.is_lazy(ya):  # labels: one number per row, brought to host memory once (the losses check them)
        ya = _B.to_numpy(ya)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError(f"fit: batch_size must be a positive integer or None (full batch), "
                         f"got {batch_size!r}")
    if len(Xa) == 0:
        raise ValueError("fit: no training examples")
    loss_fn = _loss_fn(loss)
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=0.1)
    _check_optimizer(model, optimizer)
    return Xa, ya, loss_fn, optimizer


# ------------------------------------------------------------------------------- decision boundary

def plot_decision_boundary(model: Any, X: Any, y: Any, *, resolution: int = 200, padding: float = 0.5,
                           ax: Any = None, path: str | os.PathLike[str] | None = None,
                           title: str | None = None) -> Any:
    """Colour the plane by the model's predicted class and scatter the 2-D data on top; returns the Axes.

    With ``path`` the figure is saved there and closed. Needs matplotlib.

    Example:
        >>> import tempfile, os
        >>> from autograd_lite.nn import MLP
        >>> from autograd_lite.data import make_moons
        >>> X, y = make_moons(50)
        >>> p = os.path.join(tempfile.mkdtemp(), "boundary.png")
        >>> _ = plot_decision_boundary(MLP([2, 8, 2]), X, y, resolution=50, path=p)
        >>> os.path.getsize(p) > 1000
        True
    """
    Xa, ya = _check_xy(X, y, "plot_decision_boundary")
    assert ya is not None
    Xa, ya = _B.to_numpy(Xa), _B.to_numpy(ya)  # every point is drawn: a Dask set comes to host memory
    if Xa.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: needs 2-D inputs (X of shape (n, 2)), got {Xa.shape}")
    if resolution < 2:
        raise ValueError(f"plot_decision_boundary: resolution must be >= 2, got {resolution}")
    plt = _pyplot("plot_decision_boundary")
    lo = Xa.min(axis=0) - padding
    hi = Xa.max(axis=0) + padding
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    zz = predict(model, grid).reshape(gx.shape)
    classes = np.unique(np.concatenate([np.unique(ya), np.unique(zz)]))
    own = ax is None
    if own:
        _fig, ax = plt.subplots(figsize=(5, 4.5))
    cmap = plt.get_cmap("tab10")
    levels = np.arange(classes.max() + 2) - 0.5
    ax.contourf(gx, gy, zz, levels=levels, colors=[cmap(i % 10) for i in range(len(levels) - 1)], alpha=0.25)
    for c in np.unique(ya):
        m = ya == c
        ax.scatter(Xa[m, 0], Xa[m, 1], s=14, color=cmap(int(c) % 10), edgecolors="k", linewidths=0.3,
                   label=f"class {c}")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    acc = float(np.mean(predict(model, Xa) == ya))
    ax.set_title(title or f"decision boundary (accuracy {acc:.1%})")
    ax.legend(loc="best", fontsize=8)
    if path is not None:
        _save_figure(ax.figure, path, dpi=110, bbox_inches="tight")
        if own:
            plt.close(ax.figure)
    return ax


