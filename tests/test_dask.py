"""Dask data sets: lazy forward and backward over chunks, one compute for the loss and every
gradient, `fit` on a `dask.distributed` cluster with the same weights as on numpy.

Computes are counted by the scheduler Dask is told to use (`dask.config.set(scheduler=...)`, or
the client's ``get`` for ``fit(client=...)``): every way of evaluating a Dask array (dask.compute,
``.compute()``, ``np.asarray``) goes through it, so a count of 0 proves that nothing was computed.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="needs dask: pip install 'autograd_lite[backends]'")
distributed = pytest.importorskip("dask.distributed",
                                  reason="needs distributed: pip install 'autograd_lite[backends]'")
import dask  # noqa: E402
import dask.threaded  # noqa: E402

import autograd_lite as ag  # noqa: E402
from autograd_lite import Tensor  # noqa: E402
from autograd_lite.core import backend  # noqa: E402
from autograd_lite.models import losses as L  # noqa: E402
from autograd_lite.models.nn import MLP  # noqa: E402
from autograd_lite.models.optim import SGD, Adam  # noqa: E402
from autograd_lite.models.train import (  # noqa: E402
    DivergenceWarning,
    TrainingStoppedWarning,
    accuracy,
    fit,
    outputs,
)

# the labels (numpy) travel with each graph: at 10^6 rows distributed says so (see fit's docstring)
pytestmark = pytest.mark.filterwarnings("ignore:Sending large graph:UserWarning")

N, D, CHUNK = 10**6, 10, 125_000  # 8 chunks of rows


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    # threads in this process: starts in well under a second and needs nothing from the machine
    # (worker processes work the same, see the README example, but take seconds to start)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def big(client: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """X: 10^6 x 10 chunked on the cluster (generated there once), its numpy copy, 0/1 labels."""
    X = client.persist(da.random.default_rng(0).normal(size=(N, D), chunks=(CHUNK, D)))
    Xn = X.compute()
    noise = np.random.default_rng(1).normal(scale=0.5, size=N)
    y = (Xn @ np.linspace(-1.0, 1.0, D) + noise > 0).astype(np.int64)
    return X, Xn, y


@contextlib.contextmanager
def counted(inner: Any = None, fail_at: int | None = None) -> Iterator[list[Any]]:
    """Every Dask compute inside goes through here (then to ``inner``, Dask's local threads by
    default) and is recorded; ``fail_at=k`` raises KeyboardInterrupt in the k-th compute."""
    calls: list[Any] = []
    run = inner or dask.threaded.get

    def scheduler(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        calls.append(keys)
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt
        return run(dsk, keys, **kwargs)

    with dask.config.set(scheduler=scheduler):
        yield calls


def _small(n: int = 2000, chunk: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)


CASES = {  # name: (layer sizes, loss, labels as the loss expects them)
    "logistic regression": ([D, 1], L.binary_cross_entropy_with_logits, lambda y: y[:, None].astype(float)),
    "MLP": ([D, 8, 2], L.cross_entropy, lambda y: y),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_gradient_over_a_million_rows_is_numpys_and_takes_one_compute(case: str, client: Any, big: Any
                                                                          ) -> None:
    X, Xn, y = big
    sizes, loss_fn, labels = CASES[case]
    lazy_model = MLP(sizes, activation="tanh", seed=0)
    eager_model = copy.deepcopy(lazy_model)
    with counted(client.get) as calls:
        loss = loss_fn(lazy_model(Tensor(X)), labels(y))
        loss.backward()
        assert calls == [], "the forward or backward pass computed something"
        assert loss.backend == "dask" and all(backend.is_lazy(p.grad) for p in lazy_model.parameters())
        ag.compute(loss, lazy_model)
    assert len(calls) == 1, f"{len(calls)} computes for the loss and the gradients"
    expected = loss_fn(eager_model(Tensor(Xn)), labels(y))
    expected.backward()
    assert isinstance(loss.data, np.ndarray)
    np.testing.assert_allclose(loss.data, expected.data, rtol=1e-10)
    for (name, p), q in zip(lazy_model.named_parameters(), eager_model.parameters()):
        assert isinstance(p.grad, np.ndarray), name
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-10, atol=1e-14, err_msg=name)


def test_twenty_steps_of_fit_on_the_cluster_reach_numpys_weights(client: Any, big: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    X, Xn, y = big  # all 10^6 rows, 8 chunks
    yf = y[:, None].astype(float)
    on_dask, on_numpy = MLP([D, 1], seed=0), MLP([D, 1], seed=0)
    calls: list[Any] = []
    get = client.get
    monkeypatch.setattr(client, "get", lambda dsk, keys, **kw: calls.append(keys) or get(dsk, keys, **kw))
    kwargs: dict[str, Any] = {"loss": "binary_cross_entropy_with_logits", "epochs": 20, "progress": False}
    h_dask = fit(on_dask, X, yf, optimizer=SGD(on_dask.parameters(), lr=0.5), client=client, **kwargs)
    monkeypatch.undo()
    h_numpy = fit(on_numpy, Xn, yf, optimizer=SGD(on_numpy.parameters(), lr=0.5), **kwargs)
    # one compute per step (loss + gradients), whose loss is also the previous epoch's record,
    # and one for the last epoch's record
    assert len(calls) == 21
    np.testing.assert_allclose(h_dask.loss, h_numpy.loss, rtol=1e-10)
    assert h_dask.loss[-1] < 0.5 * h_dask.loss[0]
    for p, q in zip(on_dask.parameters(), on_numpy.parameters()):
        assert isinstance(p.data, np.ndarray)
        np.testing.assert_allclose(p.data, q.data, rtol=1e-10, atol=1e-12)


def test_fit_with_validation_and_accuracy_computes_once_per_epoch() -> None:
    X, y = _small()
    Xv, yv = _small(600, 200, seed=1)
    lazy_model, eager_model = MLP([3, 8, 2], seed=0), MLP([3, 8, 2], seed=0)
    with counted() as calls:
        h = fit(lazy_model, da.from_array(X, chunks=500), da.from_array(y, chunks=500),
                validation=(da.from_array(Xv, chunks=200), yv),
                optimizer=Adam(lazy_model.parameters(), lr=0.05), epochs=5, progress=False)
    ref = fit(eager_model, X, y, validation=(Xv, yv), optimizer=Adam(eager_model.parameters(), lr=0.05),
              epochs=5, progress=False)
    assert len(calls) == 1 + 5 + 1  # the labels once, the first step, each epoch's record (+ next step)
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(getattr(h, column), getattr(ref, column), rtol=1e-10, err_msg=column)
    with counted() as calls:
        acc = accuracy(lazy_model, da.from_array(X, chunks=500), da.from_array(y, chunks=500))
        out = outputs(lazy_model, da.from_array(X, chunks=500))
    assert len(calls) == 2 and acc == accuracy(eager_model, X, y)
    # atol: the chunks' matrix products may round one output of size ~1e-4, made of terms of size
    # ~1, in its last bit of 1.0 (3e-16; OpenBLAS picks its kernels by CPU and matrix size)
    np.testing.assert_allclose(out, outputs(eager_model, X), rtol=1e-12, atol=1e-14)


def test_minibatches_are_drawn_chunk_by_chunk() -> None:
    X, y = _small()
    model = MLP([3, 4, 2], seed=0)
    replay = copy.deepcopy(model)
    with counted() as calls:
        h = fit(model, da.from_array(X, chunks=500), y, batch_size=128, epochs=2, seed=3, progress=False,
                optimizer=SGD(model.parameters(), lr=0.1))
    assert len(calls) == 2 * (4 + 1)  # each chunk once per epoch, and each epoch's record
    # the same steps by hand: the chunks in a shuffled order, each cut into shuffled batches
    rng, opt = np.random.default_rng(3), SGD(replay.parameters(), lr=0.1)
    for _epoch in range(2):
        for c in rng.permutation(4):
            Xc, yc = X[500 * c:500 * (c + 1)], y[500 * c:500 * (c + 1)]
            idx = rng.permutation(500)
            for i in range(0, 500, 128):
                opt.zero_grad()
                L.cross_entropy(replay(Xc[idx[i:i + 128]]), yc[idx[i:i + 128]]).backward()
                opt.step()
    for p, q in zip(model.parameters(), replay.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-15)
    assert len(h) == 2 and h.loss[-1] == pytest.approx(float(L.cross_entropy(replay(X), y).item()), rel=1e-10)


def test_nan_in_the_data_warns_at_compute_time_naming_the_tensor() -> None:
    X, y = _small()
    X[1234, 1] = np.nan
    w = Tensor(np.zeros((3, 2)), requires_grad=True, label="w")
    with counted() as calls, warnings.catch_warnings():
        warnings.simplefilter("error")  # no per-op warning may force or precede the compute
        loss = L.cross_entropy(Tensor(da.from_array(X, chunks=500)) @ w, y)
        loss.backward()
    assert calls == []
    with counted() as calls, pytest.warns(RuntimeWarning) as caught:
        ag.compute(loss, w)
    assert len(calls) == 1
    said = [str(m.message) for m in caught]
    assert any(m.startswith("compute: 'w' of shape (3, 2): its gradient holds 6 nan") for m in said), said
    assert any(re.match(r"compute: the output of '\w+' of shape \(\): its value holds 1 nan", m)
               for m in said), said
    # fit: the same warning, then the data is named as the cause; the model is not changed
    model = MLP([3, 2], seed=0)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match="X contains NaN or infinite"):
        fit(model, da.from_array(X, chunks=500), y, epochs=3, progress=False)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    with pytest.raises(ValueError, match=r"rows 1000 to 1499, Dask chunk 2"):
        fit(MLP([3, 2], seed=0), da.from_array(X, chunks=500), y, batch_size=100, shuffle=False,
            epochs=1, progress=False)


# numpy's overflow warnings inside Dask's worker threads escape pytest.warns (which sees this thread)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_divergence_and_ctrl_c_on_dask_keep_a_usable_model() -> None:
    X, y = _small()
    Xd, target = da.from_array(X * 1e3, chunks=500), y[:, None] * 1.0
    model, twin = MLP([3, 1], seed=0), MLP([3, 1], seed=0)
    with counted(), pytest.warns(RuntimeWarning) as caught:  # (the compute-time warnings come first)
        h = fit(model, Xd, target, loss="mse", optimizer=SGD(model, lr=1.0), epochs=30, progress=False)
    with pytest.warns(RuntimeWarning) as eager:
        fit(twin, X * 1e3, target, loss="mse", optimizer=SGD(twin, lr=1.0), epochs=30, progress=False)
    assert h.stopped == "diverged" and all(np.isfinite(p.data).all() for p in model.parameters())
    said = [str(m.message) for m in caught if m.category is DivergenceWarning]
    assert said == [str(m.message) for m in eager if m.category is DivergenceWarning]  # same epoch and words
    assert "parameters were restored" in said[0]
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12)
    # Ctrl-C inside the 4th compute (the 3rd epoch's record): two finished epochs, last full step kept
    model, twin = MLP([3, 2], seed=0), MLP([3, 2], seed=0)
    with counted(fail_at=4), pytest.warns(TrainingStoppedWarning, match="interrupted"):
        h = fit(model, da.from_array(X, chunks=500), y, epochs=10, progress=False)
    fit(twin, X, y, epochs=3, progress=False)
    assert h.stopped == "interrupted" and len(h) == 2
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12)


def test_the_progress_bar_reports_dask_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _small()
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    fit(MLP([3, 2], seed=0), da.from_array(X, chunks=500), y, epochs=3, desc="dask")
    lines = err.getvalue().splitlines()
    assert lines[-1].startswith("dask: 100%") and "3/3" in lines[-1] and "loss=" in lines[-1]


def test_wrong_uses_are_named() -> None:
    X, y = _small()
    with pytest.raises(ValueError, match="X is not a Dask array"):
        fit(MLP([3, 2]), X, y, client=object(), progress=False)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        Xd = da.from_array(X, chunks=500)
        fit(MLP([3, 2]), Xd[Xd[:, 0] > 0], y, progress=False)
    with pytest.raises(ValueError, match="2000 rows but y has 1999"):
        fit(MLP([3, 2]), da.from_array(X, chunks=500), y[1:], progress=False)
    with pytest.raises(TypeError, match="needs a Tensor model"):
        fit(ag.ValueMLP([3, 2]), da.from_array(X, chunks=500), y, progress=False)


def test_the_readme_gpu_example_runs_where_torch_is_installed() -> None:
    pytest.importorskip("torch", reason="the GPU example needs PyTorch")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## When one CPU is not enough", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```py\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, "the section shows one GPU example (```py: the README test runs only ```python)"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "README.md GPU example", "exec"), {"__name__": "__readme__"})
    assert out.getvalue().strip(), "the GPU example prints what it trained"


def test_an_optimizer_step_computes_lazy_gradients_in_one_pass() -> None:
    X, y = _small()
    model, twin = MLP([3, 8, 2], seed=0), MLP([3, 8, 2], seed=0)
    opt, twin_opt = Adam(model.parameters(), lr=0.1), Adam(twin.parameters(), lr=0.1)
    with counted() as calls:
        L.cross_entropy(model(Tensor(da.from_array(X, chunks=500))), y).backward()
        opt.step()  # four lazy gradients: one compute, not one per parameter
    assert len(calls) == 1
    L.cross_entropy(twin(X), y).backward()
    twin_opt.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        assert isinstance(p.data, np.ndarray)
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12)


# Known limitation, outside fit (autograd_lite/models/losses.py): the losses check their targets with
# np.asarray, which computes a Dask label array while the graph is built (fit avoids it by bringing
# the labels to host memory once). Strict: this fails loudly once the losses keep Dask targets lazy.
@pytest.mark.xfail(strict=True, reason="the losses compute Dask targets at graph-build time")
def test_a_loss_keeps_dask_labels_lazy() -> None:
    X, y = _small()
    with counted() as calls:
        out = MLP([3, 2], seed=0)(Tensor(da.from_array(X, chunks=500)))
        L.cross_entropy(out, da.from_array(y, chunks=500))
    assert calls == []
