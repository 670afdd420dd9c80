"""The main job: ``python -m autograd_lite train`` (what ``bash scripts/main.sh`` runs)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from autograd_lite.nn import MLP

from autograd_lite.__main__ import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _test_accuracy(stdout: str) -> float:
    match = re.search(r"^test accuracy: ([0-9.]+)", stdout, re.M)
    assert match, stdout
    return float(match.group(1))


def test_default_train_command_on_the_shipped_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    out = tmp_path / "runs"
    assert main(["train", "--out", str(out), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "data: digits: 1438 training / 359 test examples, d = 64, m = 10 classes" in stdout
    assert "(fc1): Linear(64 -> 64)" in stdout and "LeakyReLU(alpha=0.01)" in stdout
    assert "ElasticNet(per_layer=[(1e-05, 0.0001), (1e-05, 0.0001)])" in stdout
    assert _test_accuracy(stdout) >= 0.95
    # the files
    history = (out / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,loss,objective,accuracy,val_loss,val_accuracy")
    assert len(history) == 201
    assert (out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    model = MLP([64, 64, 10], activation="leaky_relu").load(out / "model.npz")
    assert model.fc1.W.shape == (64, 64)
    if shutil.which("dot"):
        svg = ET.parse(out / "graph.svg").getroot()
        assert svg.tag.endswith("svg")
        text = (out / "graph.svg").read_text()
        assert "fc1: Linear" in text and "cross_entropy" in text and "elastic_net" in text
    else:  # pragma: no cover - CI installs Graphviz
        assert (out / "graph.dot").exists() or (out / "graph.svg").exists()


def test_train_on_moons_writes_a_decision_boundary(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "moons", "--hidden", "16", "--optimizer", "adam", "--lr", "0.05",
                 "--epochs", "150", "--out", str(tmp_path), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert _test_accuracy(stdout) >= 0.97
    assert (tmp_path / "decision_boundary.png").stat().st_size > 1000


def test_progress_bar_is_shown_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "iris", "--epochs", "5", "--hidden", "4", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "train iris" in err and "5/5" in err and "val_acc=" in err


def test_help_documents_every_option() -> None:
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    text = train.format_help()
    for action in train._actions:
        for flag in action.option_strings:
            assert flag in text
        assert action.help, action.option_strings
    for word in ("--l11", "--l22", "--batch-size", "full training set", "--out", "runs", "leaky"):
        assert word in text
    done = subprocess.run([sys.executable, "-m", "autograd_lite", "train", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--momentum" in done.stdout


@pytest.mark.parametrize("argv, message", [
    (["--lr", "-1"], "argument --lr: must be > 0, got -1"),
    (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
    (["--epochs", "0"], "argument --epochs: must be an integer >= 1, got 0"),
    (["--alpha", "1.5"], "argument --alpha: must be >= 0 and < 1, got 1.5"),
    (["--momentum", "1"], "argument --momentum: must be >= 0 and < 1, got 1"),
    (["--l12", "-0.1"], "argument --l12: must be >= 0, got -0.1"),
    (["--data", "mnist"], "argument --data: invalid choice: 'mnist'"),
    (["--hiden", "3"], "unrecognized arguments: --hiden 3"),
])
def test_bad_options_give_a_clear_error(argv: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_unwritable_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["train", "--out", str(blocker / "sub"), "--epochs", "1", "--no-progress"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_main_sh_runs_the_train_command() -> None:
    script = (ROOT / "scripts" / "main.sh").read_text()
    assert re.search(r'-m autograd_lite train "\$@"', script)


# ---- nothing lost on Ctrl-C or divergence; --out never creates folders out of a typo --------------

def test_ctrl_c_writes_what_it_has_and_exits_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from autograd_lite.optim import SGD

    from autograd_lite import load

    real_step = SGD.step

    def step(self: SGD) -> None:
        if self.steps == 4:
            raise KeyboardInterrupt  # Ctrl-C during the fifth epoch
        real_step(self)

    monkeypatch.setattr(SGD, "step", step)
    assert main(["train", "--data", "iris", "--hidden", "4", "--epochs", "50", "--out", str(tmp_path),
                 "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("train: interrupted (Ctrl-C) at epoch 5, step 1 of 1; the History keeps the 4 ")
    assert "Wrote history.csv, model.npz, loss_curve.png into" in err
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 1 + 4
    assert (tmp_path / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    model = load(tmp_path / "model.npz")  # rebuilt from the file alone
    assert model.fc1.W.shape == (4, 4) and not (tmp_path / "graph.svg").exists()


def _terminal_sigint() -> None:
    """In the child: SIGINT as a terminal has it. A suite started as a background job of a shell
    inherits SIGINT ignored, and Python then leaves it ignored, so the Ctrl-C would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_from_the_terminal_has_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "autograd_lite", "train", "--data", "iris",
                             "--hidden", "4", "--epochs", "1000000", "--out", str(tmp_path)],
                            cwd=tmp_path, env=env, preexec_fn=_terminal_sigint,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the progress line of epoch 1: training has started
    assert "train iris:" in first and "1/1000000" in first
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    message = [line for line in err.splitlines() if line.startswith("train:")]
    assert len(message) == 1 and "interrupted (Ctrl-C)" in message[0]
    assert (tmp_path / "history.csv").exists() and (tmp_path / "model.npz").exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_writes_the_last_finite_model_and_says_how_to_fix_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from autograd_lite import load

    assert main(["train", "--data", "iris", "--hidden", "4", "--lr", "1e9", "--epochs", "30",
                 "--out", str(tmp_path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged" in err
    assert "lower the learning rate (now 1e+09)" in err
    model = load(tmp_path / "model.npz")  # finite weights only are ever saved
    assert all(np.isfinite(v).all() for v in model.state_dict().values())


def test_out_creates_only_its_last_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path / "no" / "such" / "runs"
    assert main(["train", "--out", str(deep), "--epochs", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "does not exist and neither does" in err and "mkdir -p" in err
    assert list(tmp_path.iterdir()) == []  # nothing created
    assert main(["train", "--data", "iris", "--hidden", "2", "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "runs")]) == 0
    assert (tmp_path / "runs" / "history.csv").exists()


def test_a_mistyped_option_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, hint in ((["train", "--hiden", "3"], "(did you mean --hidden?)"),
                       (["train", "--epohcs=3"], "(did you mean --epochs?)"),
                       (["demo", "--ww", "2"], "(did you mean --w?)")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert hint in capsys.readouterr().err
