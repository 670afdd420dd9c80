"""`compile(fn)`: replays give eager's numbers (bit for bit where checked), retrace on anything new,
and never return a stale answer silently."""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import pytest
from autograd_lite.data import make_moons

from autograd_lite import MLP, SGD, Adam, ElasticNet, Tensor, Value, ValueMLP, cross_entropy, no_grad
from autograd_lite import compile as al_compile
from autograd_lite.core.rules import RULES
from autograd_lite.transforms.compile import _INLINE, _INLINE_NAMES, CompileCheckError, CompileWarning

TOL = 1e-12


def _same(a: object, b: object) -> bool:
    return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))


# --------------------------------------------------------------------- the three workloads of issue 17

def test_readme_example_compiled() -> None:
    x, w, b = Value(0.5, label="x"), Value(-1.0, label="w"), Value(2.0, label="b")

    def f() -> Value:
        h = w * x + b
        return x * h.sigmoid()

    step = al_compile(f)
    for k in range(1, 4):
        y = step()
        assert round(y, 6) == 0.408787
        assert math.isclose(x.grad, k * 0.743001, abs_tol=1e-6)  # leaves accumulate, as backward()
    eager = f()
    for v in (x, w, b):
        v.grad = 0.0
    eager.backward()
    grads = (x.grad, w.grad, b.grad)
    for v in (x, w, b):
        v.grad = 0.0
    assert step() == eager.data and (x.grad, w.grad, b.grad) == grads
    assert step.stats["traces"] == 1 and step.stats["hits"] == 3


def _seeds_step(model: MLP, penalty: ElasticNet, X: Tensor, y: np.ndarray) -> Tensor:
    return cross_entropy(model(X), y) + penalty(model)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_seeds_mlp_step_compiled_equals_eager_over_100_steps(optimizer: type) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 5)), rng.integers(0, 3, size=30)
    runs = []
    for compiled in (False, True):
        model = MLP([5, 8, 3], activation="leaky_relu", alpha=0.1, seed=1)
        penalty = ElasticNet(per_layer=[(0.01, 0.02), (0.03, 0.04)])
        opt = optimizer(model.parameters(), lr=0.05)
        step = al_compile(_seeds_step) if compiled else None
        losses, grads = [], []
        for _ in range(100):
            opt.zero_grad()
            if step is None:
                loss = _seeds_step(model, penalty, Tensor(X), y)
                loss.backward()
                value = loss.data
            else:
                value = step(model, penalty, Tensor(X), y)
            losses.append(float(value))
            grads.append([p.grad.copy() for p in model.parameters()])
            opt.step()
        runs.append((losses, grads, step))
    (le, ge, _), (lc, gc, step) = runs
    assert np.max(np.abs(np.array(le) - np.array(lc))) <= TOL
    for a, b in zip(ge, gc):
        assert all(np.max(np.abs(p - q)) <= TOL for p, q in zip(a, b))
    assert step.stats["traces"] == 1 and step.stats["hits"] == 99


def _moons_loss(model: ValueMLP, X: np.ndarray, y: np.ndarray) -> Value:
    """micrograd's demo loss: mean hinge on the scores + 1e-4 L2."""
    scores = [out[0] for out in model(X)]
    losses = [(1 + -float(yi) * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses[1:], losses[0]) * (1.0 / len(losses))
    return data_loss + 1e-4 * sum(p * p for p in model.parameters())


def test_moons_value_mlp_compiled_equals_eager_over_100_steps() -> None:
    X, y01 = make_moons(16, noise=0.1, seed=1)
    y = 2 * y01 - 1
    runs = []
    for compiled in (False, True):
        model = ValueMLP([2, 6, 6, 1], seed=3)
        params = model.parameters()
        step = al_compile(_moons_loss) if compiled else None
        losses, grads = [], []
        for _ in range(100):
            for p in params:
                p.grad = 0.0
            if step is None:
                loss = _moons_loss(model, X, y)
                loss.backward()
                value = loss.data
            else:
                value = step(model, X, y)
            losses.append(value)
            grads.append([p.grad for p in params])
            for p in params:
                p.data -= 0.1 * p.grad
        runs.append((losses, grads))
    (le, ge), (lc, gc) = runs
    assert max(abs(a - b) for a, b in zip(le, lc)) <= TOL
    assert max(abs(a - b) for ra, rb in zip(ge, gc) for a, b in zip(ra, rb)) <= TOL
    assert le == lc and ge == gc  # in fact bit for bit: the same operations in the same order


# ------------------------------------------------------------------------------ guards and retracing

def test_a_guarded_branch_that_flips_gives_the_eager_answer() -> None:
    w = Value(1.5)

    def f(x: Value) -> Value:
        h = w * x
        if h > 1.0:  # a comparison on a node: recorded as a guard
            return h.log()
        return h * h

    step = al_compile(f)
    for xv in (2.0, 3.0, 0.1, -2.0, 4.0, 0.2):
        x = Value(xv, requires_grad=False)
        w.grad = 0.0
        got = step(x)
        g = w.grad
        w.grad = 0.0
        want = f(x)
        want.backward()
        assert got == want.data and g == w.grad
    assert step.stats["traces"] == 2  # one per branch; later calls replay the right one
    assert step.stats["hits"] == 4


@pytest.mark.parametrize("kind", ["Value", "Tensor"])
def test_truthiness_of_a_node_is_guarded(kind: str) -> None:
    """``if d:`` reads the data like ``if d != 0:``: a guard, so a flip gives the eager branch."""
    w = Value(1.0) if kind == "Value" else Tensor(np.ones(1), requires_grad=True)

    def fn(x: Value | Tensor) -> Value | Tensor:
        d = w * x if kind == "Value" else (w * x).sum()
        return d * 2.0 if d else d + 5.0

    step = al_compile(fn)
    make = (lambda v: Value(v, requires_grad=False)) if kind == "Value" else (
        lambda v: Tensor(np.full(1, v)))
    assert [float(step(make(v))) for v in (1.0, 0.0, 2.0, 0.0)] == [2.0, 5.0, 4.0, 5.0]
    assert step.stats["traces"] == 2 and step.stats["hits"] == 2


def test_tensor_equality_is_guarded() -> None:
    W = Tensor(np.ones(2), requires_grad=True)

    def fn(x: Tensor) -> Tensor:
        return (W * x).sum() * (2.0 if (x == 0).any() else 1.0)

    step = al_compile(fn)
    got = [float(step(Tensor(np.array(v)))) for v in ([1.0, 2.0], [0.0, 2.0], [3.0, 1.0])]
    assert got == [3.0, 4.0, 4.0] and step.stats["traces"] == 2


def test_max_over_values_is_guarded() -> None:
    a, b = Value(1.0), Value(2.0)
    step = al_compile(lambda: max(a, b) * 3.0)
    assert step() == 6.0 and (a.grad, b.grad) == (0.0, 3.0)
    a.data = 5.0
    assert step() == 15.0 and (a.grad, b.grad) == (3.0, 3.0)
    assert step.stats["traces"] == 2


def test_new_structure_retraces() -> None:
    W = Tensor(np.ones((3, 2)), requires_grad=True)
    step = al_compile(lambda x: (x @ W).tanh().sum())
    step(Tensor(np.ones((4, 3))))
    step(Tensor(np.ones((4, 3)) * 2))  # new data, same structure: a replay
    assert step.stats["traces"] == 1
    step(Tensor(np.ones((5, 3))))  # another shape
    step(Tensor(np.ones((4, 3), dtype=np.float32)))  # another dtype
    step(Tensor(np.ones((4, 3)), requires_grad=True))  # another requires_grad
    step([Tensor(np.ones((4, 3)))][0])
    assert step.stats["traces"] == 4


def test_a_replaced_parameter_or_a_grown_model_retraces() -> None:
    layers = [Tensor(np.ones((2, 2)), requires_grad=True)]

    def f(x: Tensor) -> Tensor:
        for W in layers:
            x = (x @ W).tanh()
        return x.sum()

    step = al_compile(f)
    x = Tensor(np.ones((1, 2)))
    step(x)
    old = layers[0]
    layers[0] = Tensor(np.full((2, 2), 0.5), requires_grad=True)  # a new object: must be seen
    assert step(x) == f(x).data
    assert layers[0].grad is not None and old.grad is not None
    layers.append(Tensor(np.eye(2), requires_grad=True))  # one more parameter
    assert step(x) == f(x).data
    assert step.stats["traces"] == 3
    assert "changed length" in step.stats["retrace_reasons"][-1]


def test_a_number_stored_on_an_object_fn_uses_is_checked() -> None:
    class Penalty:
        def __init__(self, lam: float) -> None:
            self.lam = lam

        def __call__(self, W: Tensor) -> Tensor:
            return (W * W).sum() * self.lam

    W = Tensor(np.ones(3), requires_grad=True)
    penalty = Penalty(0.1)
    step = al_compile(lambda: (W * 2.0).sum() + penalty(W))
    first = step()
    penalty.lam = 0.5  # a hyper-parameter changed between calls
    W.grad = None
    second = step()
    got = W.grad
    W.grad = None
    want = (W * 2.0).sum() + penalty(W)
    want.backward()
    assert second == want.data != first
    assert _same(got, W.grad)
    assert step.stats["traces"] == 2
    assert "penalty.lam changed" in step.stats["retrace_reasons"][-1]


def test_data_fn_reaches_by_name_is_checked_at_every_call() -> None:
    """A global array wrapped in Tensor() inside fn, and a long list of numbers, are baked into a
    trace: replacing or changing them (the next batch) retraces instead of a stale answer."""
    W = Tensor(np.ones(2), requires_grad=True)
    data = {"X": np.array([1.0, 2.0])}
    xs = [float(i) for i in range(40)]
    w = Value(1.0)
    f = al_compile(lambda: (W * Tensor(data["X"])).sum())
    g = al_compile(lambda: w * sum(xs))
    assert f() == 3.0 and g() == 780.0
    data["X"] = np.array([3.0, 4.0])  # another array
    assert f() == 7.0
    data["X"][0] = 10.0  # in place
    assert f() == 14.0
    xs[0] = 100.0
    assert g() == 880.0
    assert f() == 14.0 and f.stats["traces"] == 3 and f.stats["hits"] == 1 and g.stats["traces"] == 2


def test_constant_arguments_are_compared_by_value() -> None:
    W = Tensor(np.ones(3), requires_grad=True)
    step = al_compile(lambda scale, labels: (W * scale).sum() + float(labels.sum()))
    assert step(2.0, np.array([1, 2])) == 9.0
    assert step(2.0, np.array([1, 2])) == 9.0
    assert step(3.0, np.array([1, 2])) == 12.0
    assert step(3.0, np.array([1, 5])) == 15.0
    assert step.stats["traces"] == 3
    # the same bytes and shape read as another dtype are other numbers: a new recording
    ints = np.array([4607182418800017408, 0])  # the bits of 1.0 and 0.0 as float64
    floats = ints.view(np.float64)
    assert ints.tobytes() == floats.tobytes() and ints.shape == floats.shape
    assert step(1.0, ints) == 3.0 + 4607182418800017408.0
    assert step(1.0, floats) == 4.0
    assert step(1.0, ints.astype(">i8")) == 3.0 + 4607182418800017408.0  # other byte order
    assert step.stats["traces"] == 6


def test_the_cache_is_bounded() -> None:
    W = Tensor(np.ones(2), requires_grad=True)
    step = al_compile(lambda k: (W * k).sum(), cache_size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        for k in range(10):
            assert step(float(k)) == 2.0 * k
    assert step.stats["entries"] == 3


def test_tracing_every_call_warns() -> None:
    W = Tensor(np.ones(2), requires_grad=True)
    step = al_compile(lambda k: (W * k).sum(), cache_size=2)
    with pytest.warns(CompileWarning, match="in a row without a replay"):
        for k in range(6):
            step(float(k))


# ---------------------------------------------------------------------- what cannot be seen: check=True

def test_check_catches_a_data_read_in_python() -> None:
    w = Value(2.0)

    def f(x: Value) -> Value:
        scale = 3.0 if x.data > 0 else -1.0  # .data into Python control flow: invisible
        return w * x * scale

    step = al_compile(f, check=True)
    step(Value(1.0, requires_grad=False))
    with pytest.raises(CompileCheckError, match="compile cannot see"):
        step(Value(-1.0, requires_grad=False))
    unchecked = al_compile(f)
    unchecked(Value(1.0, requires_grad=False))
    assert unchecked(Value(-1.0, requires_grad=False)) == -6.0  # stale: documented, not detectable


def test_a_constant_made_from_an_input_is_refused() -> None:
    W = Tensor(np.ones(3), requires_grad=True)
    step = al_compile(lambda x: (W * Tensor(x)).sum())
    with pytest.warns(CompileWarning, match="from the data of an input"):
        assert step(Tensor([1.0, 2.0, 3.0])) == 6.0
    assert step(Tensor([1.0, 2.0, 4.0])) == 7.0  # ran eagerly: right
    assert step.stats["hits"] == 0


def test_fn_that_runs_backward_itself_gets_the_fix() -> None:
    """A micrograd step wrapped whole (backward inside fn): compile backpropagates the output
    itself, so it says so instead of a consumed-graph error about a second pass."""
    w = Value(2.0)

    def step() -> Value:
        loss = w * w
        loss.backward()
        return loss

    compiled = al_compile(step)
    with pytest.raises(RuntimeError, match=r"fn called backward\(\) on the output it returns"):
        compiled()
    assert w.grad == 4.0  # fn's own backward, once; compile added nothing


def _eager_grads(fn: object, calls: int, leaves: list[Value]) -> list[list[float]]:
    out = []
    for _ in range(calls):
        for p in leaves:
            p.grad = 0.0
        loss = fn()  # type: ignore[operator]
        loss.backward()
        out.append([p.grad.data if isinstance(p.grad, Value) else p.grad for p in leaves])
    return out


@pytest.mark.parametrize("how", ["p.grad = 0", "module.zero_grad()", "backward(create_graph=True)"])
def test_fn_that_sets_grad_itself_runs_eagerly_with_a_warning(how: str) -> None:
    """What fn does to .grad (zeroing, an inner backward) is not an op a replay can redo: such a
    recording runs eagerly, so every call gives eager's gradients, and says why once."""
    model = ValueMLP([2, 3, 1], seed=0)
    params = model.parameters()
    x = [Value(0.5, requires_grad=False), Value(-1.0, requires_grad=False)]

    def fn() -> Value:
        if how == "p.grad = 0":
            for p in params:
                p.grad = 0.0
        elif how == "module.zero_grad()":
            model.zero_grad()
        out = model(x)
        out = out[0] if isinstance(out, list) else out
        if how.startswith("backward"):
            (out * out).backward(create_graph=True)
            return params[0].grad * 1.0 + out
        return out * out

    want = _eager_grads(fn, 3, params)
    compiled = al_compile(fn)
    got = []
    redo = r"fn (changes the \.grad of|calls \w+\(\)).* which a replay cannot redo"
    with pytest.warns(CompileWarning, match=redo):
        for _ in range(3):
            for p in params:
                p.grad = 0.0
            compiled()
            got.append([p.grad.data if isinstance(p.grad, Value) else p.grad for p in params])
    assert got == want
    assert compiled.stats["hits"] == 0 and compiled.stats["eager_calls"] == 2


def test_zero_grad_inside_fn_is_seen_even_when_grad_is_already_none() -> None:
    """A Tensor model's zero_grad() sets None over None: no object changes, the call tells."""
    model = MLP([2, 3, 2], seed=0)
    X, y = Tensor(np.ones((4, 2))), np.array([0, 1, 1, 0])

    def fn() -> Tensor:
        model.zero_grad()
        return cross_entropy(model(X), y)

    compiled = al_compile(fn)
    with pytest.warns(CompileWarning, match=r"fn calls zero_grad\(\) itself, which a replay cannot redo"):
        compiled()
    first = model.fc1.W.grad.copy()
    compiled()  # eager again: zeroed by fn, so the same gradient, not twice it
    assert np.array_equal(model.fc1.W.grad, first) and compiled.stats["hits"] == 0


@pytest.mark.parametrize("kind", ["Value", "Tensor"])
def test_an_update_inside_fn_runs_eagerly_with_a_warning(kind: str) -> None:
    """fn changing a leaf's data (an SGD step inside fn; in place for an array) would be lost by
    a replay: the calls run eagerly and give eager's numbers."""
    w = Value(1.0) if kind == "Value" else Tensor(np.ones(2), requires_grad=True)
    x = Value(3.0, requires_grad=False) if kind == "Value" else Tensor(np.full(2, 3.0))

    def fn() -> Value | Tensor:
        if kind == "Value":
            w.data = w.data * 0.5
            return w * x
        w.data *= 0.5  # in place: the same array object
        return (w * x).sum()

    compiled = al_compile(fn)
    with pytest.warns(CompileWarning, match=r"fn changes the \.data of"):
        got = [float(compiled()) for _ in range(3)]
    assert got == ([1.5, 0.75, 0.375] if kind == "Value" else [3.0, 1.5, 0.75])


@pytest.mark.parametrize("source", ["np.random", "random", "Generator"])
def test_a_random_mini_batch_drawn_inside_fn_runs_eagerly(source: str) -> None:
    """micrograd's demo loss draws its mini-batch inside the loss function: a replay would reuse
    the first batch. The draw is seen (a generator's state moved) and the calls run eagerly."""
    import random

    X = np.linspace(-1.0, 1.0, 40)
    w = Value(0.5)
    rng = np.random.default_rng(0)

    def batch() -> np.ndarray:
        if source == "np.random":
            return np.random.permutation(len(X))[:5]
        if source == "random":
            return np.array(random.sample(range(len(X)), 5))
        return rng.permutation(len(X))[:5]

    def loss() -> Value:
        return sum((w * float(X[i]) - 1.0) ** 2 for i in batch()) * 0.2  # type: ignore[return-value]

    compiled = al_compile(loss)
    np.random.seed(1)
    random.seed(1)
    with pytest.warns(CompileWarning, match=r"fn draws random numbers .* a replay cannot redo"):
        got = [compiled() for _ in range(4)]
    np.random.seed(1)
    random.seed(1)
    rng = np.random.default_rng(0)
    want = [loss().data for _ in range(4)]
    assert got == want and len(set(got)) > 1 and compiled.stats["hits"] == 0


def test_state_fn_keeps_itself_runs_eagerly() -> None:
    """fn appending to a log or adding into a buffer it holds: a replay would skip it."""
    w = Value(2.0)
    log: list[float] = []
    counts = np.zeros(1)

    def fn() -> Value:
        out = w * w
        log.append(out.data)
        counts[0] += 1
        return out

    compiled = al_compile(fn)
    with pytest.warns(CompileWarning, match=r"fn changes (log \(list\)|counts \(ndarray\)) itself"):
        for _ in range(3):
            compiled()
    assert log == [4.0, 4.0, 4.0] and counts[0] == 3.0 and compiled.stats["hits"] == 0


def test_modes_run_eagerly() -> None:
    w = Value(2.0)
    step = al_compile(lambda: w * w)
    with no_grad():
        assert step() == 4.0
    assert w.grad == 0.0 and step.stats["traces"] == 0


def test_nested_compile_records_the_inner_ops() -> None:
    w = Value(2.0)
    inner = al_compile(lambda: w * w)
    outer = al_compile(lambda: w * 3.0)
    assert outer() == 6.0 and inner() == 4.0  # neither traces inside the other's trace
    assert w.grad == 7.0


def test_threads_share_a_compiled_function() -> None:
    W = Tensor(np.ones((2, 2)), requires_grad=True)
    step = al_compile(lambda x: (x @ W).sum())
    errors = []

    def work(v: float) -> None:
        for _ in range(20):
            if step(Tensor(np.full((1, 2), v))) != 4.0 * v:
                errors.append(v)

    threads = [threading.Thread(target=work, args=(float(v),)) for v in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ------------------------------------------------------------------------ the inline templates are exact

_SAMPLES = [0.0, -0.0, 0.5, -1.25, 3.0, 1e-300, -40.0, 700.0, 1e308, math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("name", sorted(_INLINE))
def test_inline_templates_compute_what_the_rule_computes(name: str) -> None:
    rule = RULES[name]
    fwd, vjps, kinds = _INLINE[name]
    arity = len(vjps)
    rng = np.random.default_rng(1)
    for kind in kinds:
        for trial in range(20):
            xs = [(_SAMPLES[(trial + k) % len(_SAMPLES)] if kind == "Value" else rng.normal(size=4) * 3)
                  for k in range(arity)]
            g = 0.75 if kind == "Value" else rng.normal(size=4)
            env = {**_INLINE_NAMES, "x": xs[0], "y": xs[-1], "g": g}
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                ans = rule.forward(*xs)
                env["ans"] = ans
                assert _same(eval(fwd.format(x="x", y="y"), env), ans)
                want = rule.vjp(g, ans, *xs)
                for t, w in zip(vjps, want):
                    assert _same(eval(t.format(g="g", x="x", y="y", ans="ans"), env), w)


def test_a_tensor_replay_frees_arrays_as_it_goes() -> None:
    import tracemalloc

    x = Tensor(np.linspace(-1, 1, 50_000), requires_grad=True)

    def f() -> Tensor:
        y = x
        for _ in range(15):
            y = (y * 0.9).tanh()
        return y.sum()

    step = al_compile(f)
    step()
    peaks = []
    for run in (lambda: f().backward(), step):
        x.grad = None
        tracemalloc.start()
        run()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    eager, replay = peaks
    assert replay <= 0.5 * eager  # eager holds its graph and every gradient; the replay frees them
