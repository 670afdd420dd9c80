"""Safe persistence: ``Module.load`` refuses pickles (nothing in the file is ever executed), and a
truncated or corrupt file gives a clear error and leaves the model exactly as it was."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

nn = pytest.importorskip("autograd_lite.nn")


def _snapshot(model: Any) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def _unchanged(model: Any, before: dict[str, np.ndarray]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)


def _load_error(model: Any, path: Path) -> str:
    before = _snapshot(model)
    with pytest.raises(ValueError) as err:
        model.load(path)
    _unchanged(model, before)
    return str(err.value)


class _Trap:
    """Unpickling this object would create a file: the proof that code ran."""

    def __init__(self, flag: str) -> None:
        self.flag = flag

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.flag, "w"))


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Any, Path]:
    model = nn.MLP([3, 4, 2], seed=1)
    path = tmp_path / "model.npz"
    model.save(path)
    return model, path


def test_round_trip_is_exact(saved: tuple[Any, Path]) -> None:
    model, path = saved
    other = nn.MLP([3, 4, 2], seed=2).load(path)
    _unchanged(other, _snapshot(model))


@pytest.mark.parametrize("kind", ["raw pickle", "object array in npz", "pickled npy"])
def test_load_refuses_pickles_and_never_runs_them(tmp_path: Path, kind: str) -> None:
    flag = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    if kind == "raw pickle":
        path.write_bytes(pickle.dumps({"fc1.W": _Trap(str(flag))}))
    elif kind == "object array in npz":
        state = nn.MLP([3, 4, 2], seed=0).state_dict()
        state["fc1.W"] = np.array([_Trap(str(flag))], dtype=object)
        with open(path, "wb") as f:
            np.savez(f, **state)
    else:
        with open(path, "wb") as f:
            np.save(f, np.array([_Trap(str(flag))], dtype=object), allow_pickle=True)
    model = nn.MLP([3, 4, 2], seed=0)
    msg = _load_error(model, path)
    assert not flag.exists(), "the pickle was executed"
    assert "MLP.load(" in msg and "evil.npz" in msg
    assert "pickle" in msg.lower() or ".npy" in msg  # says why it is refused


def test_truncated_files_at_every_cut_give_a_clear_error(saved: tuple[Any, Path]) -> None:
    _, path = saved
    data = path.read_bytes()
    target = nn.MLP([3, 4, 2], seed=7)
    cuts = sorted({0, 1, 4, 30, len(data) // 2, len(data) - 22, len(data) - 1}
                  | set(range(0, len(data), max(1, len(data) // 60))))
    for n in cuts:
        path.write_bytes(data[:n])
        msg = _load_error(target, path)
        assert "cannot read the file" in msg or "not an .npz" in msg, (n, msg)
        assert "Module.save" in msg  # what a loadable file is


def test_corrupted_bytes_give_a_clear_error_or_an_exact_load(saved: tuple[Any, Path]) -> None:
    """Flip bytes all over the file: every load either raises a clear ValueError with the model
    unchanged, or (a flip in zip padding/metadata that is not read) loads the exact arrays."""
    model, path = saved
    good = _snapshot(model)
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    errors = 0
    for pos in rng.choice(len(data), size=80, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        path.write_bytes(bytes(bad))
        target = nn.MLP([3, 4, 2], seed=9)
        before = _snapshot(target)
        try:
            target.load(path)
        except ValueError as err:
            errors += 1
            _unchanged(target, before)
            assert str(err).startswith("MLP.load(")
        else:
            _unchanged(target, good)  # loaded: then exactly the saved numbers (CRC-checked)
    assert errors > 40  # most flips are caught


def test_wrong_keys_shapes_or_values_leave_the_model_unchanged(tmp_path: Path) -> None:
    model = nn.MLP([3, 4, 2], seed=0)
    path = tmp_path / "m.npz"
    nn.MLP([3, 5, 2], seed=0).save(path)  # other sizes
    msg = _load_error(model, path)
    assert "fc1.W" in msg and "(4, 3)" in msg and "(5, 3)" in msg
    state = model.state_dict()
    state["fc2.b"] = np.array([np.nan, 0.0])
    with open(path, "wb") as f:
        np.savez(f, **state)
    msg = _load_error(model, path)
    assert "fc2.b" in msg and ("finite" in msg or "nan" in msg.lower())
    state = model.state_dict()
    del state["fc2.b"]
    with open(path, "wb") as f:
        np.savez(f, **state)
    assert "fc2.b" in _load_error(model, path)


def test_a_zip_that_is_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "notes.npz"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
    path.write_bytes(buf.getvalue())
    msg = _load_error(nn.MLP([3, 4, 2]), path)
    assert "MLP.load(" in msg


def test_value_model_load_is_safe_too(tmp_path: Path) -> None:
    vm = nn.ValueMLP([2, 3, 2], seed=0)
    path = tmp_path / "v.npz"
    vm.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = _snapshot(vm)
    with pytest.raises(ValueError, match=r"ValueMLP\.load\(.*cannot read"):
        vm.load(path)
    _unchanged(vm, before)
    assert os.path.getsize(path) == len(data) // 2


# ---- nothing lost on save, and a file that rebuilds its model --------------------------------------

def test_a_failing_save_leaves_the_old_file_intact(saved: tuple[Any, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    model, path = saved
    good = path.read_bytes()
    real_savez = np.savez

    def savez_then_fail(f: Any, **arrays: Any) -> None:
        real_savez(f, **arrays)  # the whole archive is written to the temporary file ...
        raise OSError(28, "No space left on device")  # ... and then the disk fills up

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(OSError, match="No space left"):
        nn.MLP([3, 4, 2], seed=5).save(path)
    assert path.read_bytes() == good  # the old file, byte for byte
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]  # no temporary file left
    monkeypatch.undo()
    _unchanged(nn.MLP([3, 4, 2], seed=8).load(path), _snapshot(model))


@pytest.mark.parametrize("bad, what", [
    (np.nan, "1 NaN or infinite value(s) (the first at index (1, 2): nan)"),
    (np.inf, "1 NaN or infinite value(s) (the first at index (1, 2): inf)"),
])
def test_save_refuses_non_finite_parameters_and_keeps_the_old_file(saved: tuple[Any, Path], bad: float,
                                                                   what: str) -> None:
    _, path = saved
    good = path.read_bytes()
    broken = nn.MLP([3, 4, 2], seed=3)
    broken.fc1.W.data[1, 2] = bad
    with pytest.raises(ValueError) as err:
        broken.save(path)
    msg = str(err.value)
    assert msg.startswith("MLP.save(") and "'fc1.W'" in msg and what in msg
    assert "nothing was written and the existing file is unchanged" in msg and "a lower learning rate" in msg
    assert path.read_bytes() == good


@pytest.mark.parametrize("dtype", [np.int64, np.complex128, np.bool_])
def test_save_refuses_non_float_parameters(tmp_path: Path, dtype: Any) -> None:
    model = nn.MLP([3, 4, 2], seed=0)
    model.fc2.b.data = np.zeros(2, dtype=dtype)  # data replaced by hand with another dtype
    path = tmp_path / "m.npz"
    with pytest.raises(ValueError, match=rf"'fc2\.b' has dtype {np.dtype(dtype)}; only float parameters "
                                         r"can be saved \(cast it"):
        model.save(path)
    assert not path.exists()


def test_float32_parameters_come_back_as_float32(tmp_path: Path) -> None:
    from autograd_lite import load

    model = nn.MLP([3, 4, 2], seed=0)
    for p in model.parameters():
        p.data = p.data.astype(np.float32)
    path = tmp_path / "f32.npz"
    model.save(path)
    back = load(path)
    for (name, a), b in zip(model.state_dict().items(), back.state_dict().values()):
        assert b.dtype == np.float32 and np.array_equal(a, b), name
    into64 = nn.MLP([3, 4, 2], seed=1).load(path)  # an existing float64 model keeps its dtype
    assert into64.fc1.W.data.dtype == np.float64
    np.testing.assert_array_equal(into64.fc1.W.data, model.fc1.W.data.astype(np.float64))


@pytest.mark.parametrize("build", [
    lambda: nn.MLP([3, 5, 4, 2], activation="leaky_relu", alpha=0.2, seed=1),
    lambda: nn.MLP([3, 2], activation="tanh", output_activation="sigmoid", seed=2),
    lambda: nn.ValueMLP([3, 4, 2], activation="tanh", seed=3),
    lambda: nn.Sequential(nn.Linear(3, 4, seed=4), nn.Softplus(), nn.Linear(4, 2, seed=5, bias=False)),
    lambda: nn.Sequential(hidden=nn.Linear(3, 4, seed=6), act=nn.LeakyReLU(0.3), out=nn.Linear(4, 2)),
    lambda: nn.Layer(3, 2, "sigmoid", seed=7),
    lambda: nn.Neuron(3, "relu", seed=8),
], ids=["mlp", "output-activation", "value-mlp", "sequential", "named-sequential", "layer", "neuron"])
def test_load_rebuilds_the_model_from_the_file_alone(tmp_path: Path, build: Any) -> None:
    from autograd_lite import load

    model = build()
    path = tmp_path / "model.npz"
    model.save(path)
    back = load(path)
    assert type(back) is type(model) and repr(back) == repr(model)
    _unchanged(back, _snapshot(model))
    x = np.random.default_rng(0).normal(size=(5, 3))
    if isinstance(model, nn.Neuron | nn.Layer | nn.ValueMLP):
        same = [np.asarray([getattr(v, "data", v) for v in np.ravel(np.asarray(r, dtype=object))], float)
                for r in (model(x[0]), back(x[0]))]
        np.testing.assert_array_equal(same[0], same[1])
    else:
        np.testing.assert_array_equal(back(x).data, model(x).data)


def test_load_says_which_class_it_cannot_rebuild(tmp_path: Path) -> None:
    from autograd_lite import Tensor, load

    class Scale(nn.Module):
        def __init__(self) -> None:
            self.s = Tensor([2.0], requires_grad=True)

        def forward(self, x: Any) -> Any:
            return x * self.s

    path = tmp_path / "custom.npz"
    nn.Sequential(nn.Linear(1, 1), Scale()).save(path)
    with pytest.raises(ValueError, match=r"holds a .*Scale model, which cannot be rebuilt from the file "
                                         r"alone .*build .*Scale\(\.\.\.\) yourself and call its \.load"):
        load(path)
    twin = nn.Sequential(nn.Linear(1, 1, seed=3), Scale())
    twin.load(path)  # the class itself still loads its own file


def test_load_refuses_files_without_or_with_a_forged_architecture(tmp_path: Path) -> None:
    from autograd_lite import load

    state = nn.MLP([3, 4, 2], seed=0).state_dict()
    old = tmp_path / "old.npz"
    np.savez(old, **state)  # an older file: weights only
    with pytest.raises(ValueError, match=r"no architecture record .* call model\.load\(path\)"):
        load(old)
    nn.MLP([3, 4, 2], seed=1).load(old)  # still loads into a model built by hand
    forged = tmp_path / "forged.npz"
    header = {"format": "autograd_lite.model/1", "dtypes": {},
              "model": {"type": "MLP", "sizes": [10 ** 6, 10 ** 6], "activation": "relu", "alpha": 0.01,
                        "output_activation": None}}
    np.savez(forged, **state, __architecture__=np.array(json.dumps(header)))
    with pytest.raises(ValueError, match=r"describes 1,000,001,000,000 parameters but the file holds 26"):
        load(forged)  # refused before a terabyte is allocated
    header["model"]["sizes"] = "3, 4, 2"  # type: ignore[index]
    np.savez(forged, **state, __architecture__=np.array(json.dumps(header)))
    with pytest.raises(ValueError, match=r"architecture record is malformed"):
        load(forged)
    np.savez(forged, **state, __architecture__=np.array("not json"))
    with pytest.raises(ValueError, match=r"architecture record .* is not one Module\.save writes"):
        load(forged)


def test_load_refuses_weights_of_another_activation(tmp_path: Path) -> None:
    """Same names and shapes, another function: loading tanh weights into a ReLU model is refused."""
    path = tmp_path / "tanh.npz"
    nn.MLP([3, 4, 2], activation="tanh", seed=0).save(path)
    msg = _load_error(nn.MLP([3, 4, 2], activation="relu", seed=1), path)
    assert "the file holds another architecture: Linear(3 -> 4), tanh, Linear(4 -> 2)" in msg
    assert "this model is Linear(3 -> 4), relu, Linear(4 -> 2)" in msg and "autograd_lite.load" in msg
    nn.ValueMLP([3, 4, 2], activation="tanh").load(path)  # the scalar twin is the same function
    nn.Sequential(fc1=nn.Linear(3, 4), act1=nn.Tanh(), fc2=nn.Linear(4, 2)).load(path)
