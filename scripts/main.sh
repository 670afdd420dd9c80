#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine and run the main job: train the seeds' MLP on the shipped
# real data set and write the loss curve and a computation-graph picture into runs/.
EXTRAS="notebooks"
source "$(dirname "$0")/_setup.sh"
"$PY" -m autograd_lite train "$@"
