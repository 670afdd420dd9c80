"""Safe persistence: ``Module.load`` refuses pickles (nothing in the file is ever executed), and a
truncated or corrupt file gives a clear error and leaves the model exactly as it was."""

from __future__ import annotations

import io
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
