"""The eager engine's speed work keeps its guarantees.

The garbage-collector policy: the young threshold is raised while graphs are built and put back
exactly when the engine is idle; the program's own settings win; threads are safe. The sweep without
a topological sort (a heap, a fast lane, add and mul inline) gives bit for bit what a sweep over the
sorted graph gives, also when Values sum their gradients in node slots (a sweep that fails, one
inside another, one while the slots are taken).
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from autograd_lite import Tensor, Value
from autograd_lite.core import engine
from autograd_lite.core.rules import ADD, MUL, RELU

USER = (600, 9, 8)  # not the default, so "put back exactly" is visible


@pytest.fixture
def thresholds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A known starting setting, a small raised threshold (fast tests), everything put back."""
    was, enabled = gc.get_threshold(), gc.isenabled()
    monkeypatch.setattr(engine, "_GC_YOUNG", 20_000)
    monkeypatch.setattr(engine, "_GC_YOUNG_MAX", 40_000)
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


def idle(n: int = 100_000) -> None:
    """Allocate containers that are not nodes, enough to trigger collections."""
    junk = [[i] for i in range(n)]
    del junk


def test_raised_while_building_and_put_back_exactly_when_idle(thresholds: None) -> None:
    y = chain(5000)
    assert gc.get_threshold() == (20_000, USER[1] * engine._GC_MIDDLE, USER[2])
    y = chain(30_000)  # a longer build: the young threshold grows with it, up to the cap
    assert gc.get_threshold()[0] == 40_000
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


# ------------------------------------------------------------------------------------ the sweep

def _sorted_sweep(root: Value) -> dict[int, float]:
    """The reference: every node in reverse creation order, each rule's VJP from the table."""
    pending = {root: 1.0}
    for node in reversed(engine.toposort(root)):
        g = pending.pop(node, None)
        if g is None or node.is_leaf:
            if g is not None:
                pending[node] = g
            continue
        for p, pg in zip(node._parents, engine.local_grads(node, g)):
            if pg is not None and p.requires_grad:
                pending[p] = pg if p not in pending else pending[p] + pg
    return {id(n): g for n, g in pending.items()}


def test_the_sweep_equals_a_sweep_over_the_sorted_graph_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        xs = [Value(float(v)) for v in rng.normal(size=4)]
        pool = list(xs)
        for _ in range(60):  # a random DAG: shared subexpressions, long and short paths
            a, b = (pool[int(i)] for i in rng.integers(0, len(pool), size=2))
            k = int(rng.integers(0, 5))
            pool.append([a + b, a * b, a - b, (a * 0.3).tanh(), a.relu() + 0.1 * b][k])
        root = sum(pool[-10:], Value(0.0))
        want = _sorted_sweep(root)
        root.backward()
        assert {id(x): x.grad for x in xs} == {id(x): want.get(id(x), 0.0) for x in xs}


def _all_slots_empty(root: Value) -> bool:
    return all(n._g is None for n in engine.toposort(root))


def test_a_sweep_that_raises_leaves_no_partial_sum_behind() -> None:
    """Ops sum their gradients in `_g` during a Value sweep: a sweep that fails half way must
    empty them, or the next backward through those nodes would add a stale partial sum."""
    x, w = Value(2.0), Value(3.0)
    q = (x * 2.0 + 1.0).tanh()  # older than p: still waiting with a partial sum when p fails
    p = x * w
    y = q * q + p * p + q
    w.data = 4.0  # reassigned between forward and backward: p's gradient would mix values
    with pytest.raises(RuntimeError, match="was changed after 'mul' used it"):
        y.backward()
    assert _all_slots_empty(y) and (x.grad, w.grad) == (0.0, 0.0)
    w.data = 3.0  # the value it had: the graph is consistent again
    y.backward()
    want = _sorted_sweep(y)
    assert (x.grad, w.grad) == (want[id(x)], want[id(w)]) and _all_slots_empty(y)


def _dicts_only(run: Callable[[], float], monkeypatch: pytest.MonkeyPatch) -> float:
    """``run()`` with every sweep summing in a dict of its own (`_run`): the reference."""
    def dict_sweep(seeds: dict[Value, float], consume: int, keep: bool, root: Value) -> object:
        return engine._run(dict(seeds), consume, keep, False, root, None, None)

    with monkeypatch.context() as m:
        m.setattr(engine, "_run_fast", dict_sweep)
        return run()


def test_a_sweep_while_the_slots_are_taken_gives_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another thread's sweep holds the slots: this one sums in a dict of its own, same bits."""
    def run() -> float:
        xs = [Value(v) for v in (0.5, -1.25, 2.0)]
        h = xs[0] * xs[1] + xs[2]
        y = (h * h - xs[0] * h).relu() + h.tanh() * xs[2]
        y.backward()
        assert _all_slots_empty(y)
        return sum(x.grad * 10.0 ** i for i, x in enumerate(xs))

    assert engine._slots_free.acquire(blocking=False)
    try:
        taken = run()
    finally:
        engine._slots_free.release()
    assert run() == taken == _dicts_only(run, monkeypatch)


def test_a_backward_inside_a_backward_through_the_same_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A micrograd-style closure that calls backward() through a node of the outer graph, while
    that node holds the outer sweep's partial sum: the inner sweep must not add into it."""
    def run() -> float:
        x = Value(3.0)
        h = x * x
        out = Value(2.0 * h.data, (h,), "double")

        def closure() -> None:
            with engine.enable_grad():  # backward runs its rules under no_grad
                inner = h * 3.0
            inner.backward(retain_graph=True)
            h.grad += 2.0 * out.grad

        out._backward = closure
        y = out * h + h  # h gets a partial sum before out's closure runs
        y.backward()
        assert _all_slots_empty(y)
        return x.grad

    assert run() == _dicts_only(run, monkeypatch)


def test_an_op_of_three_inputs_in_the_value_sweep() -> None:
    a, b, c = Value(1.5), Value(-2.0), Value(0.25)
    out = Value(a.data * b.data * c.data, (a, b, c), "prod3")

    def closure() -> None:
        a.grad += b.data * c.data * out.grad
        b.grad += a.data * c.data * out.grad
        c.grad += a.data * b.data * out.grad

    out._backward = closure
    y = (out + a) * (b * c + out)
    want = _sorted_sweep(y)
    y.backward()
    assert [v.grad for v in (a, b, c)] == [want[id(v)] for v in (a, b, c)]


def test_the_inline_rules_are_the_table_entries() -> None:
    assert engine._inline_rules == {"add": ADD, "mul": MUL, "relu": RELU}
    for x, y, g in [(1.5, -2.25, 0.75), (np.array([1.0, -2.0]), np.array([3.0, 0.5]), np.array([2.0, 4.0]))]:
        assert ADD.vjp(g, x + y, x, y) == (g, g)
        gx, gy = MUL.vjp(g, x * y, x, y)
        assert np.array_equal(gx, g * y) and np.array_equal(gy, g * x)
    nan, inf = float("nan"), float("inf")
    for x in (-2.0, -0.0, 0.0, 5e-324, 3.0, nan, inf, -inf):  # the sweep's inline form, bit for bit
        for g in (0.75, -0.75, 0.0, -0.0, inf, nan):
            (want,) = RELU.vjp(g, max(x, 0.0), x)
            got = g * (1.0 if x > 0 else 0.0)
            assert np.array_equal(np.float64(got), np.float64(want), equal_nan=True)
            assert np.signbit(got) == np.signbit(want)
    x = Value(-1.0)  # and through backward: -0.0 stays -0.0 (g < 0 times 0.0)
    (x.relu() * -2.0).backward()
    assert x.grad == 0.0 and not np.signbit(x.grad)  # the leaf adds: 0.0 + -0.0 is 0.0


def test_broadcasting_add_and_mul_still_reduce_to_the_parent_shape() -> None:
    W = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    ((W * b + b) * 2.0).sum().backward()
    assert b.grad.shape == (3,) and np.array_equal(b.grad, [8.0, 8.0, 8.0])  # sum over 2 rows of 2(W + 1)
    assert np.array_equal(W.grad, np.full((2, 3), 2.0))


def test_leaves_get_their_own_gradient_arrays_eager_and_compiled() -> None:
    """add hands one gradient to both inputs: each leaf must still get an array of its own, so
    scaling one .grad in place (gradient clipping) leaves the others alone, as in PyTorch."""
    from autograd_lite import compile

    a = Tensor(np.arange(3.0), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    c = Tensor(np.ones(3), requires_grad=True)

    def loss() -> Tensor:
        return (a + b - c).sum()

    compiled = compile(loss)
    for run in (lambda: loss().backward(), compiled, compiled):  # eager, trace, replay
        a.grad = b.grad = c.grad = None
        run()
        assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
        a.grad *= 0.5  # clip one
        assert np.array_equal(b.grad, np.ones(3)) and np.array_equal(c.grad, -np.ones(3))


def _slots(node: Value) -> dict[str, object]:
    """Every slot a node has set (an unset one is absent), `_id` aside (a creation counter), and
    what its instance dict holds (label, _more, _meta when set: see `Node`)."""
    out = {}
    for name in engine.Node.__slots__:
        if name != "_id" and hasattr(node, name):
            out[name] = getattr(node, name)
    out["__dict__"] = dict(node.__dict__)
    return out


def test_the_scalar_fast_path_builds_the_nodes_build_builds() -> None:
    """Value's methods build their nodes without calling `_build` (the hot path): slot for slot
    the same node, for ops on nodes that need a gradient, on constants, and for lifted numbers."""
    from autograd_lite.core import rules as R

    x, c = Value(1.5), Value(-0.5, requires_grad=False)
    cases = [(x + c, R.ADD, (x, c)), (c - x, R.SUB, (c, x)), (x * 2.0, R.MUL, None),
             (3 / x, R.DIV, None), (x ** x, R.POWER, (x, x)), (-x, R.NEG, (x,)),
             (x.relu(), R.RELU, (x,)), (x.tanh(), R.TANH, (x,)), (c * c, R.MUL, (c, c)),
             (c.exp(), R.EXP, (c,))]
    for node, rule, inputs in cases:
        inputs = inputs or node._parents
        assert node._rule in (rule, None) and len(node._parents) in (0, len(inputs))
        want = engine.Node._leaf.__func__(Value, node.data, False) if not node.requires_grad else (
            engine._build(object.__new__(Value), node.data, True, rule, *inputs))
        assert _slots(node) == _slots(want), rule.name
        assert node._id > x._id  # numbered in creation order
    for lifted in ((x * 2.0)._b, (2.0 * x)._a, (x + 2)._b, (2 - x)._a):  # in the op, in _lift
        assert _slots(lifted) == _slots(engine.Node._leaf.__func__(Value, 2.0, False))
        assert type(lifted.data) is float
    assert [Value.__add__.__name__, Value.__rmul__.__name__, Value.tanh.__name__] == [
        "__add__", "__rmul__", "tanh"]


def test_rare_attributes_make_no_instance_dict_until_set() -> None:
    """label, _more, _meta are class defaults on Value (see `Node`): a plain op node or an
    unlabelled leaf holds none, a set one reads back, and `del` gives the default back."""
    x, y = Value(2.0), Value(3.0, label="y")
    for node in (x, x * y, (x * y).relu(), x + 1.0, 2.0 * x, x ** 2, x.exp(), Value(1.0, label="")):
        assert vars(node) == {} and node.label is None and node._more is None and node._meta is None
    assert vars(y) == {"label": "y"} and y.label == "y"
    z = Value(1.0, (x, y, x), "three")  # an op of three inputs keeps its tuple of parents
    assert z._more == (x, y, x) and z._parents == (x, y, x)
    del y.label
    assert y.label is None and vars(y) == {}


def test_a_pickled_or_copied_leaf_keeps_its_label_and_client_attributes_only() -> None:
    """The engine's rare attributes are not client state: a scope's `_meta` (which holds the
    module) is not pickled along with a leaf; the label and what a client attached are."""
    import copy
    import pickle

    with engine.scope("layer"):
        c = Value(2.0, requires_grad=False) * 3.0  # a constant: a leaf, built in a scope
    assert c._meta is not None and c._a is None
    c.label, c.m = "c", 0.5
    for twin in (pickle.loads(pickle.dumps(c)), copy.copy(c), copy.deepcopy(c)):
        assert vars(twin) == {"label": "c", "m": 0.5} and twin._meta is None and twin.data == 6.0


def test_a_tensor_refuses_an_attribute_it_does_not_have() -> None:
    """Tensor keeps its rare attributes in slots (no instance dict): a typo stays an error."""
    t = Tensor([1.0], requires_grad=True, label="t")
    assert t.label == "t" and t._meta is None and (t * t)._more is None
    with pytest.raises(AttributeError):
        t.requires_gard = False  # type: ignore[attr-defined]
