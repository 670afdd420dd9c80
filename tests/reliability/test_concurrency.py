"""Concurrency: no_grad, anomaly mode and module scopes are per thread and per asyncio task
(contextvars), and two threads training separate models get exactly the results of running the
two trainings one after the other."""

from __future__ import annotations

import asyncio
import math
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from autograd_lite.engine import scope
from training_loops import tensor_model_step, value_model_step

from autograd_lite import Tensor, Value, detect_anomaly, is_anomaly_enabled, is_grad_enabled, no_grad


def _training(make: Callable[[], Any], steps: int, barrier: threading.Barrier | None = None) -> list[float]:
    """Run ``steps`` training steps (in lock-step with the other thread if ``barrier``); returns
    the losses, an evaluation under no_grad after each step, and the final parameters."""
    step = make()
    out = []
    for _ in range(steps):
        if barrier is not None:
            barrier.wait()  # lock-step with the other thread: maximal interleaving
        out.append(step())
        with no_grad():  # evaluation inside the loop must not leak into the other thread
            out.append(sum(float(np.sum(p.data * p.data)) for p in step.params))
    out.extend(float(v) for p in step.params for v in np.ravel(p.data))
    return out


def _value_training(seed: int, steps: int, barrier: threading.Barrier | None = None) -> list[float]:
    return _training(lambda: value_model_step(seed, hidden=3, examples=6, lr=0.05), steps, barrier)


def _tensor_training(seed: int, steps: int, barrier: threading.Barrier | None = None) -> list[float]:
    return _training(lambda: tensor_model_step(seed, (3, 8, 2), "Adam", lr=0.01), steps, barrier)


def _in_threads(jobs: list[Callable[[threading.Barrier], list[float]]]) -> list[list[float]]:
    barrier = threading.Barrier(len(jobs), timeout=30)
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = jobs[i](barrier)
        except BaseException as err:  # re-raised in the main thread
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads every few bytecodes: interleave inside ops too
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(interval)
    if errors:
        raise errors[0]
    return results


def test_two_threads_training_value_models_match_sequential_runs() -> None:
    seq = [_value_training(1, 60), _value_training(2, 60)]
    par = _in_threads([lambda b: _value_training(1, 60, b), lambda b: _value_training(2, 60, b)])
    assert par == seq  # bit for bit
    assert seq[0] != seq[1]


def test_two_threads_training_tensor_mlps_match_sequential_runs() -> None:
    seq = [_tensor_training(3, 40), _tensor_training(4, 40)]
    par = _in_threads([lambda b: _tensor_training(3, 40, b), lambda b: _tensor_training(4, 40, b)])
    assert par == seq
    losses = seq[0][0:80:2]  # the loss of each step (evaluations and weights follow)
    assert losses[-1] < losses[0]  # it trained


def test_mixed_value_and_tensor_threads_with_anomaly_mode_in_one() -> None:
    def anomalous(b: threading.Barrier) -> list[float]:
        with detect_anomaly():
            return _value_training(5, 30, b)

    seq = [_value_training(5, 30), _tensor_training(6, 30)]
    par = _in_threads([anomalous, lambda b: _tensor_training(6, 30, b)])
    assert par == seq


def test_no_grad_and_anomaly_flags_do_not_cross_threads() -> None:
    seen: dict[str, Any] = {}
    barrier = threading.Barrier(2, timeout=10)

    def observer() -> None:
        barrier.wait()  # the main thread is inside no_grad + detect_anomaly now
        t = Tensor([1.0], requires_grad=True)
        seen["other"] = (is_grad_enabled(), is_anomaly_enabled(), (t * 2).requires_grad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            seen["other log(0)"] = math.isinf(Value(0.0).log().data)  # no AnomalyError here
        barrier.wait()

    th = threading.Thread(target=observer)
    th.start()
    with no_grad(), detect_anomaly():
        barrier.wait()
        barrier.wait()
        seen["main"] = (is_grad_enabled(), is_anomaly_enabled(), (Tensor([1.0], requires_grad=True)
                                                                  * 2).requires_grad)
    th.join()
    assert seen == {"other": (True, False, True), "other log(0)": True,
                    "main": (False, True, False)}


def test_a_thread_started_inside_no_grad_records_graphs() -> None:
    """Threads start with a fresh context: no_grad of the parent does not apply (as PyTorch)."""
    out: list[bool] = []
    with no_grad():
        th = threading.Thread(target=lambda: out.append((Value(1.0) * 2).requires_grad))
        th.start()
        th.join()
    assert out == [True]


def test_asyncio_tasks_have_their_own_modes() -> None:
    async def under_no_grad(ev: asyncio.Event) -> bool:
        with no_grad():
            ev.set()
            await asyncio.sleep(0.01)  # the other task runs here
            return (Value(1.0) * 2).requires_grad

    async def recording(ev: asyncio.Event) -> tuple[bool, bool]:
        await ev.wait()  # the first task is inside no_grad now
        return (Value(1.0) * 2).requires_grad, is_anomaly_enabled()

    async def main() -> tuple[bool, tuple[bool, bool]]:
        ev = asyncio.Event()
        a = asyncio.create_task(under_no_grad(ev))
        b = asyncio.create_task(recording(ev))
        return await a, await b

    assert asyncio.run(main()) == (False, (True, False))


def test_module_scopes_do_not_leak_between_threads() -> None:
    barrier = threading.Barrier(2, timeout=10)
    metas: dict[str, Any] = {}

    def other() -> None:
        barrier.wait()
        metas["other"] = (Value(1.0) * 2)._meta
        barrier.wait()

    th = threading.Thread(target=other)
    th.start()
    with scope("layer1"):
        barrier.wait()
        barrier.wait()
        metas["main"] = (Value(1.0) * 2)._meta
    th.join()
    assert metas["other"] is None
    assert metas["main"]["scope"] == ("layer1",)
