"""The rule table on every installed array library: each forward, VJP and JVP run on torch (CPU),
array_api_strict (the standard's referee) and Dask arrays equals numpy's to 1e-12 in float64; the
engine (broadcast reduction, backward, Tensor methods) gives numpy's gradients; mixing two
libraries is an error that names both. Libraries that are not installed are skipped, saying so.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import numpy as np
import pytest
from autograd_lite.rules import RULES
from rulecheck import draw
from test_rules import CASES, EXTRA, _static

from autograd_lite import MLP, Tensor, compute, cross_entropy
from autograd_lite.core import backend as B

pytest.importorskip("array_api_compat", reason="array-api-compat (the 'backends' extra) not installed")


def _lib(name: str) -> Any:
    module = {"torch": "torch", "strict": "array_api_strict", "dask": "dask.array"}[name]
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.skip(f"{module} not installed")


LIBS = ["torch", "strict", "dask"]


def _to(name: str, x: Any) -> Any:
    """A numpy float64 array (or a float: kept) as an array of library ``name``."""
    if not isinstance(x, np.ndarray) or name == "numpy":
        return x
    mod = _lib(name)
    if name == "torch":
        return mod.asarray(x)
    if name == "dask":
        return mod.from_array(x, chunks=2)  # several chunks even for small shapes
    return mod.asarray(x)


def _back(x: Any) -> Any:
    if x is None or isinstance(x, float):
        return x
    return B.to_numpy(x)


def _same(name: str, ours: Any, ref: Any, what: str, moves: bool = False) -> None:
    if ref is None:
        assert ours is None, f"{what}: numpy gives no gradient here, the other library gives one"
        return
    got = _back(ours)
    assert moves or B.library(ours) == B.library(_to(name, np.zeros(1))) or isinstance(ours, float), (
        f"{what}: the result left the library ({B.library(ours)})")
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12, err_msg=what)


def _check(name: str, rule_name: str, inputs: list[np.ndarray], static: dict) -> None:
    rule = RULES[rule_name]
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ans = np.asarray(rule.forward(*inputs, **static))
        g = rng.normal(size=ans.shape)
        vjp = rule.vjp(g, ans, *inputs, **static)
        ts = tuple(rng.normal(size=np.shape(x)) for x in inputs)
        jvp = rule.jvp(ts, ans, *inputs, **static)
        xs = [_to(name, x) for x in inputs]
        ans_o = rule.forward(*xs, **static)
        moves = rule_name == "to"  # its forward and JVP move to numpy by design
        _same(name, ans_o, ans, f"{rule_name} forward on {name}", moves)
        vjp_o = rule.vjp(g if moves else _to(name, g), ans_o, *xs, **static)
        for i, (o, r) in enumerate(zip(vjp_o, vjp)):
            if r is not None and o is not None and tuple(np.shape(r)) != tuple(o.shape):
                # rules never unbroadcast: compare after the engine's reduction, as backward does
                from autograd_lite.core.engine import unbroadcast

                r, o = unbroadcast(np.asarray(r), np.shape(inputs[i])), unbroadcast(o, np.shape(inputs[i]))
            _same(name, o, None if r is None else np.asarray(r), f"{rule_name} VJP {i} on {name}")
        jvp_o = rule.jvp(tuple(_to(name, t) for t in ts), ans_o, *xs, **static)
        _same(name, jvp_o, np.asarray(jvp), f"{rule_name} JVP on {name}", moves)


TENSOR_RULES = sorted(n for n in CASES if "Tensor" in RULES[n].nodes)


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("rule_name", TENSOR_RULES)
def test_rule_matches_numpy(lib: str, rule_name: str) -> None:
    _lib(lib)
    case = CASES[rule_name]
    rng = np.random.default_rng(1000 + len(rule_name))
    for shapes in case.shapes:
        inputs = case.make(rng, shapes) if case.make else [draw(rng, s, case) for s in shapes]
        _check(lib, rule_name, inputs, _static(case, shapes))


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("rule_name,shapes,static", EXTRA)
def test_rule_variant_matches_numpy(lib: str, rule_name: str, shapes: tuple, static: dict) -> None:
    _lib(lib)
    case = CASES[rule_name]
    rng = np.random.default_rng(7)
    _check(lib, rule_name, [draw(rng, s, case) for s in shapes], static)


def _mlp_grads(make: Any) -> tuple[float, list[np.ndarray]]:
    """Loss and gradients of a small MLP with cross-entropy, data built by ``make``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = rng.integers(0, 3, size=12)
    model = MLP([3, 5, 3], seed=1)
    for p in model.parameters():
        p.data = make(p.data)
    out = model(Tensor(make(X)))
    loss = cross_entropy(out, y) + (model.parameters()[0] ** 2).sum() * 0.01
    loss.backward()
    compute(loss, model)
    return float(loss.data), [B.to_numpy(p.grad) for p in model.parameters()]


@pytest.mark.parametrize("lib", LIBS)
def test_mlp_backward_matches_numpy(lib: str) -> None:
    _lib(lib)
    ref_loss, ref = _mlp_grads(lambda a: a)
    loss, grads = _mlp_grads(lambda a: _to(lib, a))
    assert abs(loss - ref_loss) < 1e-12
    for g, r in zip(grads, ref):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("lib", LIBS)
def test_tensor_keeps_the_library(lib: str) -> None:
    _lib(lib)
    t = Tensor(_to(lib, np.arange(6.0).reshape(2, 3)), requires_grad=True)
    u = (t.exp() * 2.0 + np.ones(3)).sum(axis=0)
    assert u.backend == t.backend == ("array_api_strict" if lib == "strict" else lib)
    u.backward(gradient=_to(lib, np.ones(3)))
    compute(t)
    np.testing.assert_allclose(B.to_numpy(t.grad), 2 * np.exp(np.arange(6.0).reshape(2, 3)), rtol=1e-14)
    assert "backend=" in repr(u)


def test_mixing_libraries_is_an_error_naming_both() -> None:
    torch = pytest.importorskip("torch")
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(torch.ones(3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"numpy.*torch.*\.to\("):
        a + b
    with pytest.raises(TypeError, match="torch"):
        a @ b


def test_to_moves_and_the_gradient_comes_back() -> None:
    pytest.importorskip("torch")
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = a.to("torch")
    assert b.backend == "torch"
    (b * b).sum().backward()
    assert isinstance(a.grad, np.ndarray)
    np.testing.assert_allclose(a.grad, [2.0, 4.0])
    with pytest.raises(ValueError, match="unknown array library"):
        a.to("tensorflow")


def test_gpu_when_present() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    x = Tensor(torch.randn(64, 3, dtype=torch.float64, device="cuda"))
    model = MLP([3, 8, 2], seed=0)
    for p in model.parameters():
        p.data = torch.as_tensor(p.data, device="cuda")
    loss = cross_entropy(model(x), np.zeros(64, dtype=int))
    loss.backward()
    assert all(p.grad.device.type == "cuda" for p in model.parameters())


def _drawn_model(lib: str) -> tuple[Any, Any]:
    x = Tensor(_to(lib, np.linspace(-1, 1, 8).reshape(4, 2)), label="x")
    model = MLP([2, 3, 2], seed=0)
    for p in model.parameters():
        p.data = _to(lib, p.data)
    loss = cross_entropy(model(x), np.array([0, 1, 1, 0]))
    loss.backward()
    return loss, model


@pytest.mark.parametrize("lib", LIBS)
def test_the_picture_is_the_same_on_every_library(lib: str) -> None:
    from autograd_lite import draw_backward_steps, draw_graph

    _lib(lib)
    ref, _ = _drawn_model("numpy")
    loss, model = _drawn_model(lib)
    # the same picture; tooltips print every number in full, where the libraries' matrix
    # products may differ in the last bit: numbers are compared to 12 digits
    ours, theirs = (_rounded(draw_graph(t, edge_grads=True).source) for t in (loss, ref))
    assert ours == theirs
    assert len(draw_backward_steps(loss).steps) == len(draw_backward_steps(ref).steps)
    assert B.library(loss.data) != "numpy" and B.library(model.parameters()[0].grad) != "numpy", (
        "drawing must leave the graph's own arrays in place")


def _rounded(text: str) -> str:
    import re

    text = re.sub(r"-?\d+\.\d{6,}(e[-+]?\d+)?", lambda m: f"{float(m.group()):.12g}", text)
    return re.sub(r" +", " ", text.replace(" ,", ","))  # (numpy pads columns to the longest)


@pytest.mark.parametrize("lib", ["torch", "dask"])
def test_check_grad_on_another_library(lib: str) -> None:
    from autograd_lite import GradCheckError, check_grad

    _lib(lib)
    c = _to(lib, np.ones((3, 2)))
    W = Tensor(_to(lib, np.array([[0.3, -0.2], [0.1, 0.5]])))

    def f(W: Tensor) -> Tensor:
        assert W.backend == B.library(c), "f must receive its input in the input's own library"
        return (Tensor(c) @ W).tanh().sum()

    def right(W: np.ndarray) -> np.ndarray:
        return np.ones((3, 2)).T @ (1 - np.tanh(np.ones((3, 2)) @ W) ** 2)

    assert check_grad(f, W, expected=right).ok
    report = check_grad(f, W, expected=lambda W: 2 * right(W))
    assert not report.ok
    with pytest.raises(GradCheckError):
        report.raise_if_failed()


@pytest.mark.parametrize("lib", LIBS)
def test_transforms_on_another_library(lib: str) -> None:
    import autograd_lite as al

    _lib(lib)
    W0 = np.array([[0.5, -1.0], [0.25, 2.0]])

    def f(W: Tensor) -> Tensor:
        return (W @ W).tanh().sum()

    def run(make: Any) -> list[np.ndarray]:
        W = Tensor(make(W0))
        _, back = al.vjp(lambda W: W * W, W)
        tangent = make(np.ones((2, 2)))  # grad, vjp, jvp, jacobian, hessian, each vs numpy
        return [B.to_numpy(r.data if isinstance(r, Tensor) else r)
                for r in (al.grad(f)(W), back(make(np.ones((2, 2))))[0], al.jvp(f, (W,), (tangent,))[1],
                          al.jacobian(lambda W: W * W)(W), al.hessian(lambda w: (w * w * w).sum())(W))]

    for ours, ref in zip(run(lambda a: _to(lib, a)), run(lambda a: a)):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


def test_compile_runs_another_library_eagerly_and_says_so() -> None:
    torch = pytest.importorskip("torch")
    import autograd_lite as al

    model = MLP([3, 4, 2], seed=0).to("torch")

    @al.compile
    def loss(x: Tensor, y: np.ndarray) -> Tensor:
        return cross_entropy(model(x), y)

    x = Tensor(torch.ones((4, 3), dtype=torch.float64))
    with pytest.warns(RuntimeWarning, match="torch arrays.*run eagerly"):
        loss(x, np.array([0, 1, 0, 1]))
    assert isinstance(model.fc1.W.grad, torch.Tensor), "the eager call must still fill .grad"


@pytest.mark.parametrize("batch_size", [None, 16])
def test_fit_on_torch_matches_numpy(batch_size: int | None) -> None:
    torch = pytest.importorskip("torch")
    from autograd_lite import accuracy, fit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    y = (X[:, 0] > 0).astype(int)
    ours = MLP([2, 8, 2], seed=0).to("torch")
    ref = MLP([2, 8, 2], seed=0)
    h = fit(ours, torch.as_tensor(X), y, epochs=5, batch_size=batch_size, progress=False)
    h_ref = fit(ref, X, y, epochs=5, batch_size=batch_size, progress=False)
    np.testing.assert_allclose(h.loss, h_ref.loss, rtol=1e-12)
    assert ours.fc1.W.backend == "torch"
    assert accuracy(ours, torch.as_tensor(X), y) == accuracy(ref, X, y)


def test_fit_on_torch_diverging_keeps_a_usable_model() -> None:
    torch = pytest.importorskip("torch")
    from autograd_lite import SGD, fit

    X = torch.as_tensor(np.random.default_rng(1).normal(size=(32, 2)) * 1e3)
    y = np.arange(32) % 2
    model = MLP([2, 8, 2], seed=0).to("torch")
    with pytest.warns(RuntimeWarning):
        h = fit(model, X, y, optimizer=SGD(model.parameters(), lr=1e6), epochs=50, progress=False)
    assert h.stopped is not None
    assert all(bool(torch.isfinite(p.data).all()) for p in model.parameters())


def test_a_torch_tensor_requiring_grad_is_detached_with_a_warning() -> None:
    torch = pytest.importorskip("torch")
    x = torch.ones(2, dtype=torch.float64, requires_grad=True)
    with pytest.warns(RuntimeWarning, match="torch's own autograd.*detached"):
        t = Tensor(x, requires_grad=True)
    (t * 3.0).sum().backward()
    assert x.grad is None and t.grad is not None


@pytest.mark.parametrize("lib", ["torch", "dask"])
def test_a_large_graph_is_drawn_from_summaries_made_where_the_arrays_live(
        lib: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from autograd_lite import draw_graph

    _lib(lib)
    rng = np.random.default_rng(0)
    Xn, y = rng.normal(size=(400, 30)), rng.integers(0, 3, 400)

    def built(make: Any) -> Any:
        model = MLP([30, 200, 3], seed=0)
        for p in model.parameters():
            p.data = make(p.data)
        loss = cross_entropy(model(Tensor(make(Xn), label="X")), y)
        loss.backward()
        return loss

    ref = draw_graph(built(lambda a: a)).source
    loss = built(lambda a: B.to(a, lib, chunks=100) if lib == "dask" else B.to(a, lib))
    copied: list[int] = []
    real = B.to_numpy
    monkeypatch.setattr(B, "to_numpy", lambda x: copied.append(B.size(x)) or real(x))
    ours = draw_graph(loss).source
    monkeypatch.undo()
    assert copied and max(copied) <= 5000, "only small arrays and statistics may move to the host"
    assert "summarized where it lives" in ours
    boxes = [re.sub(r'tooltip="[^"]*"', "", s) for s in (ours, ref)]  # the pictures, not the tooltips
    number = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
    assert re.sub(number, "#", boxes[0]) == re.sub(number, "#", boxes[1])
    # the same numbers; a mean that is 0 in exact arithmetic (Σ of softmax - onehot) may read
    # ±1e-21 depending on the library's summation order
    np.testing.assert_allclose([float(v) for v in re.findall(number, boxes[0])],
                               [float(v) for v in re.findall(number, boxes[1])], rtol=1e-3, atol=1e-15)
