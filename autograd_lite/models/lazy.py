"""`fit` on a Dask data set: the training run of `train._Run` with lazy forward and backward passes.

Full batch (``batch_size=None``): each step builds the loss over every chunk of X as one lazy
Dask graph, runs ``backward()`` on it (still lazy: the parameters are numpy, their gradients
become Dask arrays) and then evaluates the loss, every parameter gradient and the accuracy in ONE
``dask.compute`` (`autograd_lite.compute`, so NaN/inf are reported there, naming the tensor); the
optimizer then updates the numpy parameters eagerly. The end-of-epoch measurement is that same
compute for the next step (same parameters, same data), so an epoch costs one pass over the data.

Mini-batches (``batch_size=k``): each epoch visits the row chunks of X in a shuffled order; each
chunk is computed to numpy once (one compute per chunk) and cut into shuffled batches of at most
``k`` rows (a batch never spans two chunks), which take ordinary eager steps. The end-of-epoch
loss and accuracy over the whole set (and the validation set) are one lazy pass, one compute.

Example:
    >>> import numpy as np, pytest
    >>> da = pytest.importorskip("dask.array")   # the backends extra
    >>> from autograd_lite.nn import MLP
    >>> from autograd_lite.train import fit
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = (X[:, 0] > 0).astype(int)
    >>> model = MLP([2, 2], seed=0)
    >>> h = fit(model, da.from_array(X, chunks=100), y, epochs=20, progress=False)
    >>> h.loss[-1] < h.loss[0], len(h)
    (True, 20)
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from ..core import backend as _B
from ..core.engine import no_grad
from ..core.tensor import Tensor, compute
from .train import _labels, _raw, _Run

__all__ = ["LazyRun", "check_lazy_model"]

Measured = tuple[float, float, float | None]


def check_lazy_model(optimizer: Any) -> None:
    """A Dask data set needs Tensor parameters (a Value model would pull every number to Python)."""
    if any(not isinstance(p, Tensor) for p in optimizer.params):
        raise TypeError("fit: a Dask data set needs a Tensor model (e.g. MLP); Value models "
                        "(ValueMLP) work number by number and only on small numpy data")


class LazyRun(_Run):
    """One training run on Dask data (see the module docstring for what is computed when)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.ready: float | None = None  # the objective whose gradients are computed and unused
        self.checked: set[int] = set()  # the lazy inputs already checked for NaN/inf

    def step(self, Xb: Any, yb: np.ndarray) -> float:
        """One full-batch update on lazy data (one compute); a computed batch steps eagerly."""
        if not _B.is_lazy(Xb):
            return super().step(Xb, yb)
        if self.ready is not None:  # computed by the last end-of-epoch measurement
            value, self.ready = self.ready, None
        else:
            value = self._evaluate([(Xb, yb, True)], grad=True)[0][1]
        if math.isfinite(value):
            self._update()
        return value

    def batches(self, X: Any, y: Any, batch_size: int | None, shuffle: bool, rng: np.random.Generator
                ) -> tuple[int, Any]:
        """Full batch: the lazy set itself; else batches drawn chunk by chunk (module docstring)."""
        if not _B.is_lazy(X) or batch_size is None or batch_size >= len(X):
            return super().batches(X, y, batch_size, shuffle, rng)
        sizes = X.chunks[0]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        count = sum(-(-n // batch_size) for n in sizes)
        order = rng.permutation(len(sizes)) if shuffle else np.arange(len(sizes))

        def draw() -> Any:
            for c in order:
                lo, hi = int(starts[c]), int(starts[c + 1])
                Xc = np.asarray(X.blocks[int(c)].compute())  # this chunk, computed once
                if not np.isfinite(Xc).all():
                    raise ValueError(f"fit: X contains NaN or infinite values (in rows {lo} to {hi - 1}, "
                                     f"Dask chunk {c}); clean or drop them before training")
                idx = rng.permutation(hi - lo) if shuffle else np.arange(hi - lo)
                for i in range(0, hi - lo, batch_size):
                    part = idx[i:i + batch_size]
                    yield Xc[part], y[lo:hi][part]

        return count, draw()

    def check(self, val: tuple[Any, Any]) -> None:
        """Build (not compute) the validation graph: shape and label errors come before any update."""
        if not _B.is_lazy(val[0]):
            return super().check(val)
        with no_grad():
            self._objective(self.model(Tensor(val[0])), val[1], penalize=False)

    def end_of_epoch(self, X: Any, y: Any, val: tuple[Any, Any] | None, last: bool
                     ) -> tuple[Measured, Measured | None]:
        """Training and validation measurements in one compute; in full batch (``reuse``) the
        gradients for the next step come with them."""
        parts = [(X, y, True)] + ([(val[0], val[1], False)] if val is not None else [])
        grad = self.reuse and not last and _B.is_lazy(X)
        got = self._evaluate(parts, grad=grad)
        self.ready = got[0][1] if grad else None
        return got[0], (got[1] if val is not None else None)

    def _evaluate(self, parts: list[tuple[Any, np.ndarray, bool]], grad: bool) -> list[Measured]:
        """(R̂, R̂ + penalty, accuracy) for each (X, y, penalize), and with ``grad`` the gradients of
        the first objective, all in ONE compute. Without ``grad`` the model is in eval mode."""
        mode = None if self.plain or grad else getattr(self.model, "training", None)
        if mode is not None:
            self.model.eval()
        try:
            lazy: list[Any] = []
            for i, (X, y, penalize) in enumerate(parts):
                record = grad and i == 0
                with contextlib.nullcontext() if record else no_grad():
                    out = self.model(Tensor(X) if _B.is_lazy(X) else X)
                    data_loss, objective = self._objective(out, y, penalize)
                if record:
                    self.optimizer.zero_grad()
                    objective.backward()
                lazy.append((data_loss, objective, self._hits(out, y), self._finite(X)))
        finally:
            if mode is not None:
                self.model.train(mode)
        tensors = [t for group in lazy for t in group if t is not None]
        compute(*tensors, *(self.params if grad else ()))
        results = []
        for data_loss, objective, hits, finite in lazy:
            if finite is not None and not bool(finite.item()):
                raise ValueError("fit: X contains NaN or infinite values (found when the Dask array "
                                 "was first computed); clean or drop them before training")
            results.append((float(data_loss.item()), float(objective.item()),
                            None if hits is None else float(hits.item())))
        return results

    def _hits(self, out: Any, y: np.ndarray) -> Tensor | None:
        """The accuracy as a lazy scalar (computed with the loss, never example by example)."""
        if self.predict == "auto":  # a custom loss: class scores (2+ columns), 1-D integer labels
            raw = _raw(out)
            self.predict = "argmax" if raw.ndim == 2 and raw.shape[1] > 1 and y.ndim == 1 else None
        if self.predict is None:
            return None
        hits = _labels(_raw(out), str(self.predict)) == y.reshape(len(y))
        return Tensor(hits.mean() if _B.is_lazy(hits) else np.mean(hits))

    def _finite(self, X: Any) -> Tensor | None:
        """NaN/inf in a lazy X, checked in its first compute (its chunks are read then anyway)."""
        if not _B.is_lazy(X) or id(X) in self.checked:
            return None
        self.checked.add(id(X))
        return Tensor(_B.names(X).isfinite(X).all())
