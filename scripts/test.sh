#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine and run the whole test suite (what CI runs).
EXTRAS="dev,notebooks,bench,render"
source "$(dirname "$0")/_setup.sh"
# Optional: PyTorch parity tests and benchmark columns, only from a wheel already on disk
# (never download a torch build); the tests pass without it.
if ls /opt/wheels/torch-2.13.0*.whl >/dev/null 2>&1; then
  "$PY" -m pip install --quiet torch==2.13.0 || echo "torch 2.13.0 not installed: parity tests skip"
fi
"$PY" -m ruff check autograd_lite tests benchmarks notebooks
"$PY" -m mypy
"$PY" -m pytest "$@"
