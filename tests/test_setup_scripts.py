"""The setup scripts choose the right Python and venv (run with DRY_RUN=1: no apt, no pip, no venv made).

The real installs (Debian's /usr/bin/python3 into .venv-system, the test suite into .venv) run in CI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SCRIPTS = ROOT / "scripts"
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")


def _setup(script: str, *args: str, path: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/<script> in dry-run mode with the given environment on top of a clean one."""
    base = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "VIRTUAL_ENV", "VENV", "QUICK"}}
    base.update(env, DRY_RUN="1")
    if path is not None:
        base["PATH"] = path
    assert BASH is not None
    return subprocess.run([BASH, str(SCRIPTS / script), *args], capture_output=True, text=True,
                          env=base, timeout=60)


def _base_python() -> Path:
    """An interpreter outside any venv (the one the test venv was made from, if any)."""
    for candidate in (Path(sys.base_prefix) / "bin" / "python3", Path(sys.executable)):
        if candidate.exists():
            return candidate
    pytest.skip("no base interpreter found")


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (pip-less, so quick to make) virtual environment standing in for the user's own."""
    folder = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([str(_base_python()), "-m", "venv", "--without-pip", str(folder)], check=True)
    return folder


def _fake_python(path: Path, facts: str) -> Path:
    """An executable that answers the scripts' interpreter questions with the given tab-separated line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ncat >/dev/null\nprintf '{facts}\\n'\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("script", ["scripts/_setup.sh", "scripts/main.sh", "scripts/test.sh", ".ci/run"])
def test_scripts_parse(script: str) -> None:
    assert BASH is not None
    result = subprocess.run([BASH, "-n", str(ROOT / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_an_active_venv_is_used_and_no_project_venv_made(user_venv: Path, tmp_path: Path) -> None:
    result = _setup("main.sh", "--quick", "--hidden", "8", VIRTUAL_ENV=str(user_venv),
                    VENV=str(tmp_path / "project-venv"))
    assert result.returncode == 0, result.stderr
    python = f"{user_venv}/bin/python"
    assert f"would run: {python} -m pip install --quiet -e .[notebooks]" in result.stderr
    # --quick goes first so that the caller's own flags still win
    train = f"would run: {python} -m autograd_lite train --epochs 20 --out runs/quick --hidden 8"
    assert train in result.stderr
    assert "-m venv" not in result.stderr and "activate" not in result.stderr
    assert not (tmp_path / "project-venv").exists()


def test_python_naming_a_system_interpreter_makes_the_venv_from_it(user_venv: Path, tmp_path: Path) -> None:
    base = _base_python()
    venv = tmp_path / "project-venv"
    # PYTHON= wins over an active venv
    result = _setup("test.sh", "-x", PYTHON=str(base), VIRTUAL_ENV=str(user_venv), VENV=str(venv))
    assert result.returncode == 0, result.stderr
    assert f"would run: {base} -m venv --clear {venv}" in result.stderr
    extras = "dev,notebooks,bench,render,backends"
    assert f"would run: {venv}/bin/python -m pip install --quiet -e .[{extras}]" in result.stderr
    assert f"would run: {venv}/bin/python -m pytest -x" in result.stderr
    assert f"source {venv}/bin/activate" in result.stderr
    assert not venv.exists(), "a dry run must not create the venv"


def test_python_naming_a_venv_interpreter_is_used_as_is(user_venv: Path, tmp_path: Path) -> None:
    result = _setup("main.sh", PYTHON=f"{user_venv}/bin/python", VENV=str(tmp_path / "v"), QUICK="1")
    assert result.returncode == 0, result.stderr
    assert f"VENV={tmp_path / 'v'} ignored" in result.stderr
    assert f"would run: {user_venv}/bin/python -m autograd_lite train --epochs 20" in result.stderr
    assert "-m venv" not in result.stderr


def test_a_missing_interpreter_is_named_with_the_fix(tmp_path: Path) -> None:
    result = _setup("main.sh", PYTHON=str(tmp_path / "nope"))
    assert result.returncode != 0
    assert f"no Python at {tmp_path / 'nope'}" in result.stderr and "PYTHON=" in result.stderr


def test_an_old_python_is_refused(tmp_path: Path) -> None:
    old = _fake_python(tmp_path / "python3.10", "0\t0\t3.10\t1\t/usr\t/usr/bin/python3.10")
    result = _setup("main.sh", PYTHON=str(old), VENV=str(tmp_path / "v"))
    assert result.returncode != 0
    assert "Python 3.10; autograd_lite needs 3.11 or newer" in result.stderr
    assert "would run" not in result.stderr


def test_a_folder_that_is_not_a_venv_is_never_cleared(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = _setup("main.sh", PYTHON=str(_base_python()), VENV=str(folder))
    assert result.returncode != 0
    assert "is not a virtual environment" in result.stderr and "VENV=" in result.stderr
    assert (folder / "notes.txt").read_text() == "keep me"


def _tools_without_dot(tmp_path: Path) -> str:
    """A PATH with the few tools the scripts use, no `dot`, and apt-get/sudo that fail if ever run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "cat", "sha256sum", "cut", "id", "env", "ls", "head", "mv"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"needs {tool}")
        (bin_dir / tool).symlink_to(found)
    for fake in ("apt-get", "sudo"):
        (bin_dir / fake).write_text("#!/bin/sh\necho 'ran for real' >&2\nexit 1\n")
        (bin_dir / fake).chmod(0o755)
    return str(bin_dir)


def test_missing_venv_support_and_graphviz_come_from_apt(tmp_path: Path) -> None:
    # a Debian python3.12 without python3.12-venv (no ensurepip) on a machine without `dot`
    python = _fake_python(tmp_path / "python3", "0\t1\t3.12\t0\t/usr\t/usr/bin/python3.12")
    path = _tools_without_dot(tmp_path)
    result = _setup("main.sh", PYTHON=str(python), VENV=str(tmp_path / "v"), path=path)
    assert result.returncode == 0, result.stderr
    apt = ("" if os.geteuid() == 0 else "sudo ") + "env DEBIAN_FRONTEND=noninteractive apt-get"
    assert f"would run: {apt} update -qq" in result.stderr
    assert f"would run: {apt} install -y -qq python3.12-venv graphviz" in result.stderr
    assert "ran for real" not in result.stderr


def _fake_venv(folder: Path, base_prefix: str) -> None:
    _fake_python(folder / "bin" / "python", f"1\t3.11\t{base_prefix}")
    (folder / "pyvenv.cfg").write_text("home = /usr/bin\n")


def test_a_working_venv_is_reused_and_pip_skipped_when_nothing_changed(tmp_path: Path) -> None:
    base = _fake_python(tmp_path / "python3", "0\t1\t3.11\t1\t/usr\t/usr/bin/python3.11")
    venv = tmp_path / "v"
    _fake_venv(venv, "/usr")
    result = _setup("main.sh", PYTHON=str(base), VENV=str(venv))
    assert result.returncode == 0, result.stderr
    assert f"reusing the virtual environment {venv}" in result.stderr
    assert "pip install" in result.stderr and "-m venv" not in result.stderr
    # the stamp a finished install leaves: pyproject.toml's hash and the project folder
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    (venv / ".autograd_lite-setup-notebooks").write_text(f"{digest} {ROOT.absolute()}\n")
    result = _setup("main.sh", PYTHON=str(base), VENV=str(venv))
    assert "skipping pip" in result.stderr and "pip install" not in result.stderr
    # an edited pyproject.toml (another hash) means installing again
    (venv / ".autograd_lite-setup-notebooks").write_text(f"{'0' * 64} {ROOT.absolute()}\n")
    result = _setup("main.sh", PYTHON=str(base), VENV=str(venv))
    assert "skipping pip" not in result.stderr and "pip install" in result.stderr


def test_a_venv_from_another_python_is_rebuilt_only_when_python_is_named(tmp_path: Path) -> None:
    venv = tmp_path / "v"
    _fake_venv(venv, "/opt/other-python")
    base = _fake_python(tmp_path / "python3", "0\t1\t3.11\t1\t/usr\t/usr/bin/python3.11")
    result = _setup("main.sh", PYTHON=str(base), VENV=str(venv))
    assert result.returncode == 0, result.stderr
    assert "made from another Python: rebuilding it" in result.stderr
    assert f"would run: {base} -m venv --clear {venv}" in result.stderr
    # without PYTHON=, whatever python3 is on PATH today, a working venv is kept
    path = _tools_without_dot(tmp_path)
    shutil.copy(base, Path(path) / "python3")
    result = _setup("main.sh", VENV=str(venv), path=path)
    assert result.returncode == 0, result.stderr
    assert f"reusing the virtual environment {venv}" in result.stderr and "-m venv" not in result.stderr
