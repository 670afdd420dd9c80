"""Files are written all or nothing, output folders are created one level at most, and the drawn
graph saves itself by file suffix."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from autograd_lite.train import History

from autograd_lite import Value, draw_graph
from autograd_lite.models.files import OutputPathError, atomic_write, make_folder


def test_atomic_write_keeps_the_old_file_on_any_error(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("old")
    for error in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with atomic_write(path, "w") as f:
                f.write("half of the new ")
                raise error
        assert path.read_text() == "old"
        assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]  # no temporary file left
    with atomic_write(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new"


def test_atomic_write_gives_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644  # not mkstemp's 0o600


def test_history_csv_is_written_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "h.csv"
    History(epoch=[1], loss=[0.5], objective=[0.5]).to_csv(path)
    good = path.read_text()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("csv.writer", broken)
    with pytest.raises(OSError):
        History(epoch=[1, 2], loss=[0.5, 0.4], objective=[0.5, 0.4]).to_csv(path)
    assert path.read_text() == good


def test_make_folder_creates_one_level_at_most(tmp_path: Path) -> None:
    assert make_folder(tmp_path / "runs") == tmp_path / "runs" and (tmp_path / "runs").is_dir()
    assert make_folder(tmp_path / "runs") == tmp_path / "runs"  # exists: fine
    with pytest.raises(OutputPathError, match=r"does not exist and neither does .*'\S*/a/b'"):
        make_folder(tmp_path / "a" / "b" / "c")
    assert not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match=r"'\S*/file' is a file, not a folder"):
        make_folder(tmp_path / "file")
    with pytest.raises(OutputPathError, match=r"cannot create the folder .*: '\S*/file' is a file"):
        make_folder(tmp_path / "file" / "deeper" / "still")
    assert make_folder(tmp_path / "later", create=False) == tmp_path / "later"
    assert not (tmp_path / "later").exists()  # only checked


def test_graph_save_takes_the_format_from_the_suffix(tmp_path: Path) -> None:
    x = Value(2.0, label="x")
    y = x * x
    y.backward()
    graph = draw_graph(y)
    for name in ("g.dot", "g.gv"):
        assert graph.save(tmp_path / name) == tmp_path / name
        assert (tmp_path / name).read_text(encoding="utf-8") == graph.source  # exactly that path
    assert graph.save(tmp_path / "g.txt", format="dot").read_text(encoding="utf-8") == graph.source
    with pytest.raises(ValueError, match=r"Graph\.save: cannot tell the format from the suffix of '\S*jpg'"):
        graph.save(tmp_path / "g.jpg")
    assert not (tmp_path / "g.jpg").exists()


def test_graph_save_keeps_the_old_file_when_rendering_fails(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from autograd_lite.tools.viz import GraphvizNotFoundError

    path = tmp_path / "g.svg"
    path.write_text("<svg>old</svg>")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("AUTOGRAD_LITE_NO_WASM", "1")
    with pytest.raises(GraphvizNotFoundError):
        draw_graph(Value(1.0).exp()).save(path)
    assert path.read_text() == "<svg>old</svg>" and [p.name for p in tmp_path.iterdir()] == ["g.svg"]
