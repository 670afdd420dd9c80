#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine and run the whole test suite (what CI runs).
# Setup (scripts/_setup.sh) creates or reuses the virtual environment .venv unless a venv is active
# or PYTHON= names one. Arguments go to pytest.
set -euo pipefail
# backends: array-api-compat, array-api-strict, dask[array], distributed (tests/test_dask.py and the
# rule tests on every array library run with them; torch and cupy are never installed from here)
EXTRAS="dev,notebooks,bench,render,backends"
source "$(dirname "$0")/_setup.sh"
# Optional: PyTorch parity tests and benchmark columns, only from a wheel already on disk for this
# Python (installed by its file name, so pip never downloads a torch build); the tests pass without it.
torch_wheel="$(ls /opt/wheels/torch-2.13.0*-"$PY_TAG"-*.whl 2>/dev/null | head -n 1 || true)"
if [ -n "$torch_wheel" ]; then
  if "$PY" -c 'import importlib.metadata as m, sys; sys.exit(not m.version("torch").startswith("2.13.0"))' \
       >/dev/null 2>&1; then
    echo "setup: torch 2.13.0 already installed" >&2
  else
    _run "$PY" -m pip install --quiet "$torch_wheel" || echo "torch 2.13.0 not installed: parity tests skip"
  fi
fi
_run "$PY" -m ruff check autograd_lite tests benchmarks notebooks
_run "$PY" -m mypy
_run "$PY" -m pytest "$@"
