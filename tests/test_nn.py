"""Modules: names, counts, repr, modes, init, Linear shapes, activations, state dicts and .npz files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from autograd_lite.nn import (
    MLP,
    Layer,
    LeakyReLU,
    Linear,
    Module,
    Neuron,
    ReLU,
    Sequential,
    ValueMLP,
    activation,
    init_weight,
    leaky_relu,
    relu,
    sigmoid,
    softplus,
    tanh,
)

from autograd_lite import Tensor, Value


def test_named_parameters_are_stable_and_dotted() -> None:
    model = MLP([4, 5, 6, 3], activation="tanh", seed=0)
    names = [n for n, _ in model.named_parameters()]
    assert names == ["fc1.W", "fc1.b", "fc2.W", "fc2.b", "fc3.W", "fc3.b"]
    assert names == [n for n, _ in MLP([4, 5, 6, 3], activation="tanh", seed=1).named_parameters()]
    assert [p.shape for p in model.parameters()] == [(5, 4), (5,), (6, 5), (6,), (3, 6), (3,)]
    assert all(p.requires_grad for p in model.parameters())
    assert [n for n, _ in model.named_modules()] == ["", "fc1", "act1", "fc2", "act2", "fc3"]


@pytest.mark.parametrize("d, dh, m", [(64, 32, 10), (2, 10, 2), (784, 256, 10)])
def test_parameter_count_is_the_seeds_n_theta(d: int, dh: int, m: int) -> None:
    assert MLP([d, dh, m]).num_parameters() == dh * d + dh + m * dh + m
    assert f"n_params = {dh * d + dh + m * dh + m:,}" in repr(MLP([d, dh, m]))


def test_repr_shows_layers_in_order() -> None:
    text = repr(MLP([3, 4, 2], activation="leaky_relu", alpha=0.2))
    assert text.splitlines() == [
        "MLP(",
        "  (fc1): Linear(3 -> 4)",
        "  (act1): LeakyReLU(alpha=0.2)",
        "  (fc2): Linear(4 -> 2)",
        ")",
        "n_params = 26",
    ]
    assert "Layer(3 -> 4)" in repr(ValueMLP([3, 4, 2]))


def test_zero_grad_train_eval() -> None:
    model = MLP([2, 3, 2], seed=0)
    model(np.ones((4, 2))).sum().backward()
    assert model.fc1.W.grad is not None
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.eval() is model and not model.training and not model.fc1.training
    assert model.train().training and model.act1.training
    vm = ValueMLP([2, 3, 2])
    vm(np.ones(2))[0].backward()
    assert any(p.grad != 0.0 for p in vm.parameters())
    vm.zero_grad()
    assert all(p.grad == 0.0 for p in vm.parameters())


def test_linear_matches_the_seeds_layout() -> None:
    lin = Linear(3, 2, seed=1)
    X = np.random.default_rng(0).normal(size=(5, 3))
    assert lin.W.shape == (2, 3) and lin.b.shape == (2,)
    lin.b.data[:] = [0.5, -1.0]
    np.testing.assert_allclose(lin(X).data, X @ lin.W.data.T + lin.b.data, rtol=0, atol=1e-14)
    np.testing.assert_allclose(lin(X[0]).data, lin.W.data @ X[0] + lin.b.data, rtol=0, atol=1e-14)
    assert not hasattr(Linear(3, 2, bias=False), "b")
    with pytest.raises(ValueError, match=r"Linear\(3 -> 2\): input has shape \(5, 4\)"):
        lin(np.ones((5, 4)))
    with pytest.raises(ValueError, match="positive integer"):
        Linear(0, 2)


def test_init_is_seeded_and_scaled() -> None:
    a, b, c = MLP([50, 400, 3], seed=0), MLP([50, 400, 3], seed=0), MLP([50, 400, 3], seed=1)
    assert np.array_equal(a.fc1.W.data, b.fc1.W.data)
    assert not np.array_equal(a.fc1.W.data, c.fc1.W.data)
    assert np.all(a.fc1.b.data == 0)
    # He: std sqrt(2 / d_in); Glorot: uniform with bound sqrt(6 / (d_in + d_out))
    assert a.fc1.W.data.std() == pytest.approx(np.sqrt(2 / 50), rel=0.05)
    g = MLP([50, 400, 3], activation="tanh").fc1.W.data
    bound = np.sqrt(6 / 450)
    assert np.abs(g).max() <= bound and np.abs(g).max() > 0.95 * bound
    lk = init_weight(1000, 300, "he", rng=0, alpha=0.5)
    assert lk.std() == pytest.approx(np.sqrt(2 / (1.25 * 1000)), rel=0.02)
    with pytest.raises(ValueError, match="unknown init"):
        MLP([2, 2], init="xavier")


def test_activation_functions_and_modules() -> None:
    x = Tensor([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(relu(x).data, [0, 0, 3])
    np.testing.assert_allclose(leaky_relu(x, 0.1).data, [-0.2, 0, 3])
    np.testing.assert_allclose(tanh(x).data, np.tanh([-2, 0, 3]))
    np.testing.assert_allclose(sigmoid(x).data, 1 / (1 + np.exp([2.0, 0, -3])))
    np.testing.assert_allclose(softplus(x).data, np.log1p(np.exp([-2.0, 0, 3])))
    assert relu([Value(-1.0), Value(2.0)])[1].data == 2.0
    assert leaky_relu(Value(-1.0), 0.25).data == -0.25
    assert isinstance(activation("relu"), ReLU)
    assert activation("leaky_relu", 0.3).alpha == 0.3
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        activation("gelu")
    with pytest.raises(ValueError, match="alpha must satisfy"):
        LeakyReLU(1.5)
    with pytest.raises(TypeError, match="relu str: unsupported operand"):
        relu("x")


def test_module_call_tags_nodes_with_the_module_scope() -> None:
    model = MLP([2, 3, 2], seed=0)
    out = model(np.ones((1, 2)))
    assert out._meta is not None
    assert out._meta["scope"] == ("MLP", "fc2: Linear")
    assert out._meta["owners"][-1] is model.fc2


def test_sequential_and_custom_module() -> None:
    class Affine(Module):
        def __init__(self) -> None:
            self.scale = Tensor([2.0], requires_grad=True)
            self.inner = Sequential(Linear(2, 2, seed=0), ReLU())

        def forward(self, x: object) -> Tensor:
            return self.inner(x) * self.scale

    m = Affine()
    assert [n for n, _ in m.named_parameters()] == ["scale", "inner.0.W", "inner.0.b"]
    assert m(np.ones((3, 2))).shape == (3, 2)
    with pytest.raises(TypeError, match="not a Module"):
        Sequential(Linear(2, 2), "relu")  # type: ignore[arg-type]


def test_value_neuron_layer_interface() -> None:
    n = Neuron(3, activation="relu", weights=[1.0, -2.0, 0.5], bias=0.25)
    assert [k for k, _ in n.named_parameters()] == ["w[0]", "w[1]", "w[2]", "b"]
    out = n([1.0, 1.0, 2.0])
    assert out.data == pytest.approx(0.25)
    assert n.state_dict()["w"].tolist() == [1.0, -2.0, 0.5]
    layer = Layer(3, 2, seed=0)
    assert layer.state_dict()["W"].shape == (2, 3)
    batch = layer(np.ones((4, 3)))
    assert len(batch) == 4 and len(batch[0]) == 2
    with pytest.raises(ValueError, match="length 2"):
        layer([1.0, 2.0])
    assert layer.num_parameters() == 8


def test_state_dict_round_trip_between_models() -> None:
    a, b = MLP([3, 4, 2], seed=0), MLP([3, 4, 2], seed=1)
    state = a.state_dict()
    state["fc1.W"][0, 0] = 99.0  # a copy: editing it does not touch the model
    assert a.fc1.W.data[0, 0] != 99.0
    b.load_state_dict(a.state_dict())
    for k, v in a.state_dict().items():
        assert np.array_equal(b.state_dict()[k], v)


def test_save_load_round_trips_exactly(tmp_path: Path) -> None:
    a = MLP([5, 7, 3], activation="leaky_relu", seed=0)
    a.fc1.W.data[1, 2] = 1 / 3  # a value that must survive bit for bit
    path = tmp_path / "model.npz"
    a.save(path)
    assert path.exists()
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == ["__architecture__", "fc1.W", "fc1.b", "fc2.W", "fc2.b"]
    b = MLP([5, 7, 3], activation="leaky_relu", seed=9).load(path)
    for k, v in a.state_dict().items():
        assert np.array_equal(b.state_dict()[k], v), k
    v = ValueMLP([5, 7, 3], activation="leaky_relu", seed=9).load(path)  # the scalar twin reads it too
    assert np.array_equal(v.state_dict()["fc1.W"], a.fc1.W.data)


def _snapshot(model: Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def _unchanged(model: Module, before: dict[str, np.ndarray]) -> bool:
    return all(np.array_equal(model.state_dict()[k], v) for k, v in before.items())


def test_load_rejects_wrong_shapes_and_leaves_the_model_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "big.npz"
    MLP([5, 8, 3], seed=0).save(path)
    model = MLP([5, 7, 3], seed=1)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"'fc1\.W' has shape \(8, 5\) but this model's parameter has shape "
                                         r"\(7, 5\)"):
        model.load(path)
    assert _unchanged(model, before)
    # a later key being wrong must not leave earlier keys half-written either
    state = MLP([5, 7, 3], seed=2).state_dict()
    state["fc2.b"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"fc2\.b"):
        model.load_state_dict(state)
    assert _unchanged(model, before)


def test_load_rejects_missing_keys_nan_and_strings(tmp_path: Path) -> None:
    model = MLP([2, 3, 2], seed=0)
    before = _snapshot(model)
    state = model.state_dict()
    del state["fc2.b"]
    with pytest.raises(ValueError, match=r"missing \['fc2.b'\]"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["fc1.W"] = np.full((3, 2), np.nan)
    with pytest.raises(ValueError, match="NaN"):
        model.load_state_dict(state)
    path = tmp_path / "strings.npz"
    np.savez(path, **{k: np.array(["a"] * v.size).reshape(v.shape) for k, v in before.items()})
    with pytest.raises(ValueError, match="dtype <U1"):
        model.load(path)
    assert _unchanged(model, before)


def test_load_refuses_pickles(tmp_path: Path) -> None:
    model = MLP([2, 3, 2], seed=0)
    before = _snapshot(model)
    # an .npz holding an object array (pickled inside)
    objects = tmp_path / "objects.npz"
    np.savez(objects, **{k: np.array([v], dtype=object) for k, v in before.items()})
    with pytest.raises(ValueError, match="pickled Python objects"):
        model.load(objects)
    # a plain pickle file
    plain = tmp_path / "model.pkl"
    plain.write_bytes(pickle.dumps(before))
    with pytest.raises(ValueError, match=r"cannot read the file as an \.npz archive"):
        model.load(plain)
    # a truncated archive
    truncated = tmp_path / "truncated.npz"
    model.save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"cannot read the file as an \.npz archive"):
        model.load(truncated)
    # a single .npy array
    single = tmp_path / "one.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match=r"single \.npy array"):
        model.load(single)
    assert _unchanged(model, before)
