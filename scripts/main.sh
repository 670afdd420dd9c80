#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine and run the main job: train the seeds' MLP on the shipped
# real data set and write the loss curve and a computation-graph picture into runs/.
# Setup (scripts/_setup.sh) creates or reuses the virtual environment .venv unless a venv is active
# or PYTHON= names one. Other arguments go to `python -m autograd_lite train` (see its --help).
#   --quick (or QUICK=1)  a smoke run: 20 epochs into runs/quick (a later --epochs/--out wins)
set -euo pipefail
quick="${QUICK:-0}"
args=()
for arg in "$@"; do
  if [ "$arg" = "--quick" ]; then quick=1; else args+=("$arg"); fi
done
set -- ${args[@]+"${args[@]}"}
EXTRAS="notebooks"
source "$(dirname "$0")/_setup.sh"
if [ "$quick" = 1 ]; then
  # put first: argparse keeps the last value, so the caller's own --epochs/--out still win
  set -- --epochs 20 --out runs/quick "$@"
  mkdir -p runs  # train --out creates only the last missing folder level
fi
_run "$PY" -m autograd_lite train "$@"
