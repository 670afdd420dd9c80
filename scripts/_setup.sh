# Shared setup for scripts/test.sh and scripts/main.sh (sourced, not run).
# Installs the Graphviz `dot` program (Debian/Ubuntu) and this package with the given extras.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
if ! command -v dot >/dev/null 2>&1; then
  $SUDO apt-get update && $SUDO apt-get install -y graphviz
fi
PY="${PYTHON:-python3}"
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet -e ".[${EXTRAS}]"
