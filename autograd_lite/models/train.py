"""Training: `fit` (the seeds' batch gradient descent on R̃ = R̂ + penalty, with a progress bar),
`History`, `predict`, `accuracy` and a decision-boundary plot for 2-D data.

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

import csv
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.engine import Node, no_grad
from ..core.tensor import Tensor
from . import losses as L
from .optim import SGD, Optimizer

__all__ = ["History", "accuracy", "fit", "outputs", "plot_decision_boundary", "predict", "predict_proba"]

LOSSES: dict[str, Callable[..., Any]] = {
    "cross_entropy": L.cross_entropy,
    "mse": L.mse,
    "binary_cross_entropy_with_logits": L.binary_cross_entropy_with_logits,
    "hinge": L.hinge,
}


# --------------------------------------------------------------------------------------- History

@dataclass
class History:
    """Per-epoch training record returned by `fit`.

    ``loss``: the empirical risk R̂ on the training data (mean over the epoch's batches, measured
    during the epoch); ``objective``: R̂ + penalty (what the optimizer minimizes); ``accuracy``:
    training accuracy (classification only); ``val_loss`` / ``val_accuracy``: on the validation data
    at the end of each epoch (empty without ``validation=``). ``seconds``: wall time per epoch.

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
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(list(cols))
            for i in range(len(self)):
                w.writerow([cols[n][i] for n in cols])

    def plot(self, path: str | os.PathLike[str] | None = None, title: str | None = None,
             val_name: str = "validation") -> Any:
        """Loss (and accuracy, when recorded) against epochs with matplotlib; returns the Figure.

        With ``path`` the figure is saved there (PNG, SVG, PDF by suffix) and closed. ``val_name``
        names the validation curves in the legend (e.g. "test" when the test split was passed).
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
        ax.plot(self.epoch, self.loss, label="train loss R̂")
        if any(abs(o - v) > 1e-12 for o, v in zip(self.objective, self.loss)):
            ax.plot(self.epoch, self.objective, "--", label="objective R̂ + penalty")
        if self.val_loss:
            ax.plot(self.epoch, self.val_loss, label=f"{val_name} loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if min(self.loss) > 0 and max(self.loss) / min(self.loss) > 20:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
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
            fig.savefig(path, dpi=110)
            plt.close(fig)
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
    Xa = np.asarray(X.data if isinstance(X, Node) else X)
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


def _is_value_model(out: Any) -> bool:
    return isinstance(out, list)


def _raw(out: Any) -> np.ndarray:
    """Model outputs as an ndarray: Tensor data, or the data of a (nested) list of Values."""
    if isinstance(out, Tensor):
        return out.data
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
    return float(np.mean(predict(model, Xa) == ya.reshape(len(ya))))


# ------------------------------------------------------------------------------------- progress bar

class _TextBar:
    """Fallback when tqdm is missing: a line on stderr about every 10% of the epochs."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.n, self.post = total, desc, 0, ""
        self.every = max(1, total // 10)

    def set_postfix(self, post: dict[str, str]) -> None:
        self.post = ", ".join(f"{k}={v}" for k, v in post.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n % self.every == 0 or self.n == self.total:
            print(f"{self.desc}: {self.n}/{self.total} epochs {self.post}", file=sys.stderr)

    def close(self) -> None:
        pass


class _NoBar:
    def set_postfix(self, post: dict[str, str]) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool) -> Any:
    """tqdm.auto's bar: a widget in Jupyter (when ipywidgets is installed), else the text bar.

    Without ipywidgets, importing tqdm.auto in a notebook warns ("IProgress not found") and falls
    back to the text bar anyway, so the text bar is used directly and nothing warns.
    """
    if not enabled:
        return _NoBar()
    try:
        import importlib.util

        if importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.auto import tqdm
        else:
            from tqdm.std import tqdm
    except ImportError:  # pragma: no cover - tqdm is installed with the notebooks/dev extras
        return _TextBar(total, desc)
    return tqdm(total=total, desc=desc, unit="epoch", dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------- fit

def _loss_fn(loss: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"fit: unknown loss {loss!r}; choose one of {list(LOSSES)} or pass a function "
                         "(outputs, y) -> scalar node")
    return LOSSES[loss]


def _batches(n: int, batch_size: int | None, shuffle: bool, rng: np.random.Generator) -> list[np.ndarray]:
    if batch_size is None or batch_size >= n:
        return [np.arange(n)]
    order = rng.permutation(n) if shuffle else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _evaluate(model: Any, loss_fn: Callable[..., Any], X: np.ndarray, y: np.ndarray,
              classify: bool) -> tuple[float, float | None]:
    with no_grad():
        out = model(X)
        value = float(loss_fn(out, y).item())
    acc = float(np.mean(_labels_from(_raw(out)) == y.reshape(len(y)))) if classify else None
    return value, acc


def fit(model: Any, X: Any, y: Any, *, loss: str | Callable[..., Any] = "cross_entropy",
        optimizer: Optimizer | None = None, epochs: int = 100, batch_size: int | None = None,
        regularizer: Callable[[Any], Any] | None = None,
        validation: tuple[Any, Any] | None = None, shuffle: bool = True, seed: int | None = 0,
        progress: bool = True, desc: str = "training",
        callback: Callable[[int, History], Any] | None = None) -> History:
    """Train ``model`` on (X, y) by gradient descent on R̃ = R̂ + regularizer(model); returns a `History`.

    Each step: zero the gradients, forward the batch, loss (+ penalty), ``backward()``,
    ``optimizer.step()``. ``batch_size=None`` is full-batch (the seeds' batch gradient descent);
    an integer gives shuffled mini-batches (``seed`` fixes the order). ``optimizer`` defaults to
    ``SGD(model.parameters(), lr=0.1)``. ``loss``: "cross_entropy" (default), "mse",
    "binary_cross_entropy_with_logits", "hinge" or a function (outputs, y) -> scalar node.
    ``validation=(X_val, y_val)`` is evaluated after every epoch. Accuracy is recorded when ``y``
    holds integer class labels. A `tqdm.auto` bar (notebook widget or terminal) shows loss and
    accuracy; ``progress=False`` silences it. ``callback(epoch, history)`` runs after each epoch;
    returning True stops training. A non-finite loss stops with a `FloatingPointError` (lower the
    learning rate); the history so far is on the error as ``err.history``.

    Works with `Tensor` models (`MLP`) and with `Value` models (`ValueMLP`, small data only).

    Example:
        >>> import numpy as np
        >>> from autograd_lite.nn import MLP
        >>> from autograd_lite.losses import ElasticNet
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0]]); y = np.array([0, 1])
        >>> model = MLP([2, 4, 2], activation="leaky_relu", seed=0)
        >>> h = fit(model, X, y, epochs=50, regularizer=ElasticNet(l1=1e-4, l2=1e-4), progress=False)
        >>> len(h), h.loss[-1] < h.loss[0], accuracy(model, X, y)
        (50, True, 1.0)
    """
    Xa, ya = _check_xy(X, y, "fit")
    assert ya is not None
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError(f"fit: batch_size must be a positive integer or None (full batch), "
                         f"got {batch_size!r}")
    if len(Xa) == 0:
        raise ValueError("fit: no training examples")
    loss_fn = _loss_fn(loss)
    classify = ya.dtype.kind in "iu"
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=0.1)
    val = None
    if validation is not None:
        if not isinstance(validation, tuple | list) or len(validation) != 2:
            raise ValueError("fit: validation must be a pair (X_val, y_val)")
        Xv, yv = _check_xy(validation[0], validation[1], "fit(validation)")
        assert yv is not None
        val = (Xv, yv)
    rng = np.random.default_rng(seed)
    history = History()
    bar = _progress(epochs, desc, progress)
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            total_loss = total_obj = 0.0
            correct = 0
            for idx in _batches(len(Xa), batch_size, shuffle, rng):
                Xb, yb = Xa[idx], ya[idx]
                optimizer.zero_grad()
                out = model(Xb)
                data_loss = loss_fn(out, yb)
                objective = data_loss + regularizer(model) if regularizer is not None else data_loss
                objective.backward()
                optimizer.step()
                nb = len(idx)
                total_loss += float(data_loss.item()) * nb
                total_obj += float(objective.item()) * nb
                if classify:
                    correct += int(np.sum(_labels_from(_raw(out)) == yb.reshape(nb)))
            history.epoch.append(epoch)
            history.loss.append(total_loss / len(Xa))
            history.objective.append(total_obj / len(Xa))
            if classify:
                history.accuracy.append(correct / len(Xa))
            post: dict[str, str] = {"loss": f"{history.loss[-1]:.4f}"}
            if classify:
                post["acc"] = f"{history.accuracy[-1]:.3f}"
            if val is not None:
                v_loss, v_acc = _evaluate(model, loss_fn, val[0], val[1], classify)
                history.val_loss.append(v_loss)
                post["val_loss"] = f"{v_loss:.4f}"
                if v_acc is not None:
                    history.val_accuracy.append(v_acc)
                    post["val_acc"] = f"{v_acc:.3f}"
            history.seconds.append(time.perf_counter() - start)
            bar.set_postfix(post)  # a dict keeps the order loss, acc, val_loss, val_acc
            bar.update(1)
            if not math.isfinite(history.objective[-1]):
                err = FloatingPointError(
                    f"fit: the loss became {history.objective[-1]} at epoch {epoch}; training diverged. "
                    f"Lower the learning rate (now {getattr(optimizer, 'lr', '?')}) or scale the inputs.")
                err.history = history  # type: ignore[attr-defined]
                raise err
            if callback is not None and callback(epoch, history):
                break
    finally:
        bar.close()
    return history


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
        ax.figure.savefig(path, dpi=110, bbox_inches="tight")
        if own:
            plt.close(ax.figure)
    return ax


