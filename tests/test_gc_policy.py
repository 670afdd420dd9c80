"""The engine's garbage-collector policy: the young threshold is raised while graphs are built and
put back exactly when the engine is idle; the program's own settings win; threads are safe."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from autograd_lite import Value
from autograd_lite.core import engine

USER = (600, 9, 8)  # not the default, so "put back exactly" is visible


@pytest.fixture
def thresholds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A known starting setting, a small raised threshold (fast tests), everything put back."""
    was, enabled = gc.get_threshold(), gc.isenabled()
    monkeypatch.setattr(engine, "_GC_YOUNG", 20_000)
    gc.enable()
    gc.collect()  # the hook sees the engine idle: no raised state is left from earlier tests
    gc.set_threshold(*USER)
    yield
    gc.set_threshold(*was)
    if not enabled:
        gc.disable()


def chain(n: int) -> Value:
    x = Value(0.5)
    y = x
    for _ in range(n):
        y = y * 1.0
    return y


def idle(n: int = 60_000) -> None:
    """Allocate containers that are not nodes, enough to trigger collections."""
    junk = [[i] for i in range(n)]
    del junk


def test_raised_while_building_and_put_back_exactly_when_idle(thresholds: None) -> None:
    y = chain(5000)
    assert gc.get_threshold() == (20_000, *USER[1:])
    y.backward()
    del y
    idle()
    assert gc.get_threshold() == USER


def test_the_programs_own_setting_stands(thresholds: None) -> None:
    y = chain(5000)
    assert gc.get_threshold()[0] == 20_000
    gc.set_threshold(1234, 5, 6)  # the program changes its mind while the threshold is raised
    y = chain(30_000)
    idle()
    assert gc.get_threshold() == (1234, 5, 6)
    del y


def test_off_switch(thresholds: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_GC_YOUNG", 0)
    y = chain(5000)
    assert gc.get_threshold() == USER
    del y


def test_cyclic_garbage_is_still_collected_during_a_build(thresholds: None) -> None:
    class Cycle:
        pass

    c = Cycle()
    c.me = c  # type: ignore[attr-defined]
    ref = weakref.ref(c)
    del c
    y = chain(60_000)  # three raised thresholds' worth of nodes: collections still run
    assert ref() is None
    del y


def test_threads_building_and_backpropagating_at_once(thresholds: None) -> None:
    grads: list[float] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                x = Value(2.0)
                y = x
                for _ in range(4000):
                    y = y * 1.0 + 0.0
                (y * x).backward()
                grads.append(x.grad)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert grads == [4.0] * 12
    idle()
    assert gc.get_threshold() == USER
