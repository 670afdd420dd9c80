"""Memory: 10,000 training steps do not grow memory (tracemalloc, within 5%), dropped graphs are
freed by reference counting alone (the cycle collector is switched off), and the buffers only
backward needs are released as it goes (retain_graph / intermediate_grads semantics)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from autograd_lite.engine import Node
from training_loops import tensor_model_step, value_model_step

from autograd_lite import Tensor, Value, detect_anomaly

STEPS = 10_000
WARMUP = 1_000


@contextmanager
def no_cycle_collector() -> Iterator[None]:
    """Run with gc disabled: whatever is freed here was freed by reference counting."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def live_nodes() -> int:
    return sum(1 for o in gc.get_objects() if issubclass(type(o), Node))  # type(): no __class__ lookups


def memory_trace(make: Callable[[], Callable[[], Any]], steps: int, warmup: int,
                 every: int) -> list[int]:
    """Traced bytes after ``warmup`` steps, then every ``every`` steps up to ``steps``.

    Tracing starts before ``make()`` builds the model, data and optimizer, so every allocation of
    the training process is seen. The cycle collector is off during the steps; at each checkpoint
    ``gc.collect()`` runs once, and must find no garbage cycles (the graphs were freed by reference
    counting alone), and it empties CPython's free lists, whose slow filling up would otherwise
    look like growth of a few bytes per thousand steps."""
    with no_cycle_collector():
        tracemalloc.start()
        try:
            step = make()
            first = step()
            # preallocated: storing the readings must not itself allocate (a list would grow)
            trace = np.zeros(1 + (steps - warmup) // every, dtype=np.int64)
            cycles = np.zeros(1, dtype=np.int64)
            k = 0
            for i in range(1, steps):  # every reading is taken in the same loop state
                last = step()
                if i + 1 >= warmup and (i + 1 - warmup) % every == 0:
                    cycles[0] += gc.collect()
                    trace[k] = tracemalloc.get_traced_memory()[0]
                    k += 1
        finally:
            tracemalloc.stop()
    assert last < first, "the loss did not go down: the loop did not really train"
    assert cycles[0] == 0, f"{cycles[0]} objects were only freed by the cycle collector"
    return [int(v) for v in trace[:k]]


def assert_flat(trace: list[int], tolerance: float = 0.05) -> None:
    base = trace[0]
    worst = max(trace)
    assert worst <= base * (1 + tolerance), (
        f"memory grew from {base} to {worst} bytes ({worst / base - 1:+.1%}) over the run: {trace}")


# ------------------------------------------------------------------------ training loops


def test_value_model_10000_steps_memory_flat() -> None:
    assert_flat(memory_trace(value_model_step, STEPS, WARMUP, every=1_500))


def test_tensor_mlp_10000_steps_memory_flat() -> None:
    assert_flat(memory_trace(tensor_model_step, STEPS, WARMUP, every=1_500))


def test_the_measure_catches_a_leak() -> None:
    """The classic leak (keeping a graph per step, like ``history.append(loss)``) must fail the
    same check, at a tenth of the steps."""
    kept: list[Any] = []

    def make() -> Callable[[], float]:
        step = value_model_step()

        def leaky() -> float:
            kept.append(Value(1.0) * Value(2.0) + Value(3.0))  # one small graph per step
            return step()

        return leaky

    trace = memory_trace(make, STEPS // 10, WARMUP // 10, every=100)
    with pytest.raises(AssertionError, match="memory grew"):
        assert_flat(trace)


# ------------------------------------------------------------------ dropped graphs


def _graph_kinds() -> dict[str, Callable[[], Any]]:
    def value_graph() -> Any:
        x = Value(0.3)
        y = x
        for _ in range(200):
            y = (y * 1.01 + 0.1).tanh()
        y.backward()
        return y

    def tensor_graph() -> Any:
        W = Tensor(np.ones((4, 3)), requires_grad=True)
        x = Tensor(np.ones((5, 3)))
        y = (x @ W.T).sigmoid().log_softmax().sum()
        y.backward()
        return y

    def anomaly_graph() -> Any:
        with detect_anomaly():
            x = Tensor([1.0, 2.0], requires_grad=True)
            y = (x * x).exp().sum()
            y.backward()
        return y

    def module_graph() -> Any:
        nn = pytest.importorskip("autograd_lite.nn")
        losses = pytest.importorskip("autograd_lite.losses")
        model = nn.MLP([3, 5, 2], seed=0)
        loss = losses.cross_entropy(model(np.ones((4, 3))), np.array([0, 1, 1, 0]))
        loss.backward()
        return loss

    def value_module_graph() -> Any:
        nn = pytest.importorskip("autograd_lite.nn")
        model = nn.ValueMLP([2, 3, 1], seed=0)
        out = model([0.5, -1.0])[0]
        out.backward()
        return out

    def transforms() -> Any:
        from autograd_lite import grad, hessian, jacobian

        f = lambda t: (t * t).sin().sum()
        x = np.array([0.1, 0.2, 0.3])
        return grad(f)(x), jacobian(lambda t: (t * 2.0).tanh())(x), hessian(f)(x)

    def drawn_graph() -> Any:
        viz = pytest.importorskip("autograd_lite.viz")
        x = Value(1.0, label="x")
        y = (x * x).exp()
        y.backward()
        return viz.draw_graph(y, edge_grads=True).source

    return {"value": value_graph, "tensor": tensor_graph, "anomaly": anomaly_graph,
            "module": module_graph, "value_module": value_module_graph, "transforms": transforms,
            "draw_graph": drawn_graph}


@pytest.mark.parametrize("kind", sorted(_graph_kinds()))
def test_dropped_graphs_are_freed_without_the_cycle_collector(kind: str) -> None:
    make = _graph_kinds()[kind]
    make()  # imports, caches, first-call allocations
    with no_cycle_collector():
        before = live_nodes()
        kept = make()
        assert kept is not None
        del kept
        after = live_nodes()
    assert after == before, f"{after - before} nodes of a dropped '{kind}' graph are still alive"


def test_create_graph_gradient_cycle_is_broken_by_zero_grad() -> None:
    """``backward(create_graph=True)`` makes x.grad a graph that refers back to x (a cycle, as in
    PyTorch). Resetting the gradient breaks it; the functional transforms never create it."""
    with no_cycle_collector():
        before = live_nodes()
        x = Value(0.7)
        y = x.tanh() * x
        y.backward(create_graph=True)
        assert isinstance(x.grad, Value)
        del y
        x.grad = 0.0  # zero_grad / optimizer.zero_grad do this
        del x
        assert live_nodes() == before


def test_backward_releases_gradient_buffers_as_it_goes() -> None:
    """A chain of 60 ops on 80 kB arrays: with intermediate_grads=False, the gradients in flight
    are dropped node by node, so backward's peak is a few buffers, not one per node."""
    n = 10_000  # 80 kB per float64 buffer
    x = Tensor(np.linspace(0.0, 1.0, n), requires_grad=True)
    y = x
    for _ in range(60):
        y = (y * 0.999).sin()
    loss = y.sum()
    buffer = x.data.nbytes

    def peak_of_backward(**kw: Any) -> int:
        tracemalloc.start()
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        loss.backward(retain_graph=True, **kw)
        peak = tracemalloc.get_traced_memory()[1] - start
        tracemalloc.stop()
        return peak

    lean = peak_of_backward(intermediate_grads=False)
    full = peak_of_backward(intermediate_grads=True)
    assert lean < 12 * buffer, f"backward held {lean / buffer:.1f} buffers at its peak"
    assert full > 100 * buffer  # keeping every intermediate's .grad costs one buffer per node
    assert y.grad is not None and x.grad is not None
