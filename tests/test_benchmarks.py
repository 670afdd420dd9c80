"""Smoke-run every benchmark with --quick so none of them rots (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parent.parent / "benchmarks").glob("bench_*.py"))


def test_there_are_benchmarks() -> None:
    assert BENCHMARKS, "benchmarks/ has no bench_*.py script"


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_quick_run(script: Path) -> None:
    out = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, f"{script.name} --quick failed:\n{out.stdout}\n{out.stderr}"
    assert out.stdout.strip(), f"{script.name} --quick printed nothing"


def test_versions_refuses_to_compare_a_version_with_itself() -> None:
    """bench_versions.py must not print a before/after ratio of one library against itself."""
    repo = Path(__file__).parent.parent
    out = subprocess.run([sys.executable, str(repo / "benchmarks" / "bench_versions.py"), "--quick",
                          "--base", str(repo), "--new", str(repo), "--workloads", "chain"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "nothing to compare" in out.stderr
    assert "new / base" not in out.stdout


def test_tensor_mlp_refuses_an_unknown_config_before_starting_workers() -> None:
    """A mistyped --configs name is a usage error naming the choices, not a worker's traceback."""
    script = Path(__file__).parent.parent / "benchmarks" / "bench_tensor_mlp.py"
    out = subprocess.run([sys.executable, str(script), "--quick", "--configs", "small,medium"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "unknown 'medium'" in out.stderr and "large, small" in out.stderr
    assert "Traceback" not in out.stderr and "small:" not in out.stdout
