# Shared setup for scripts/main.sh and scripts/test.sh (sourced, not run; the caller sets EXTRAS).
# Picks the Python, makes or reuses the project virtual environment, installs what is missing
# (apt: graphviz, python3.X-venv; pip: this package with EXTRAS) and leaves the Python to use in $PY.
#
#   PYTHON=/path/to/python  use this interpreter: a venv's python as it is, any other one (Debian's
#                           /usr/bin/python3 included) only to create the project venv
#   VIRTUAL_ENV             (set by `source some-venv/bin/activate`) use that venv, create none
#   neither                 create the project venv from `python3`
#   VENV=dir                the project venv's folder (default .venv, relative to the project root)
#   DRY_RUN=1               print what would be installed and run, change nothing
#
# pip is skipped when a stamp in the venv says this pyproject.toml and EXTRAS are already installed;
# delete the venv (or the .autograd_lite-setup-* file in it) to force a reinstall.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

_say() { echo "setup: $*" >&2; }
_die() { echo "setup: error: $*" >&2; exit 1; }
_dry() { [ "${DRY_RUN:-0}" = 1 ]; }
# Runs a command, or only prints it under DRY_RUN=1.
_run() {
  if _dry; then echo "setup: would run: $*" >&2; else "$@"; fi
}

# One tab-separated line about an interpreter: is_venv ok_version major.minor has_ensurepip prefix executable
_py_facts() {
  "$1" - <<'PY'
import importlib.util, sys
print(int(sys.prefix != sys.base_prefix), int(sys.version_info >= (3, 11)), "%d.%d" % sys.version_info[:2],
      int(importlib.util.find_spec("ensurepip") is not None), sys.prefix, sys.executable, sep="\t")
PY
}

# apt-get install the given packages (with sudo when not root), after one apt-get update.
_apt_install() {
  local sudo=""
  if ! command -v apt-get >/dev/null 2>&1; then return 1; fi
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || _die "installing $* needs root: run 'apt-get install $*' as root"
    sudo="sudo"
  fi
  _run $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  _run $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

_choose_interpreter() {
  local origin
  if [ -n "${PYTHON:-}" ]; then BASE="$PYTHON"; origin="PYTHON=$PYTHON"
  elif [ -n "${VIRTUAL_ENV:-}" ]; then BASE="$VIRTUAL_ENV/bin/python"; origin="the active venv $VIRTUAL_ENV"
  else BASE="python3"; origin="python3 on PATH"
  fi
  command -v "$BASE" >/dev/null 2>&1 || _die "no Python at $BASE (from $origin): set PYTHON=/path/to/python3"
  local facts
  facts="$(_py_facts "$BASE")" || _die "$BASE (from $origin) does not run"
  local ok exe
  IFS=$'\t' read -r BASE_IS_VENV ok BASE_VERSION BASE_HAS_ENSUREPIP BASE_PREFIX exe <<<"$facts"
  [ "$ok" = 1 ] || _die "$BASE is Python $BASE_VERSION; autograd_lite needs 3.11 or newer: set PYTHON=/path/to/python3.11"
  _say "Python $BASE_VERSION at $exe (from $origin)"
}

# Is $1 a working venv made from the chosen base interpreter? (0 yes, 1 broken, 2 other base)
_venv_state() {
  local facts
  facts="$("$1/bin/python" - <<'PY' 2>/dev/null
import sys, pip  # noqa: F401  (pip must import, or the venv cannot install anything)
print(int(sys.prefix != sys.base_prefix), "%d.%d" % sys.version_info[:2], sys.base_prefix, sep="\t")
PY
)" || return 1
  local is_venv version base_prefix
  IFS=$'\t' read -r is_venv version base_prefix <<<"$facts"
  [ "$is_venv" = 1 ] || return 1
  if [ "$version" != "$BASE_VERSION" ] || [ "$base_prefix" != "$BASE_PREFIX" ]; then return 2; fi
  return 0
}

# Sets PY (and PROJECT_VENV when this script manages the venv); installs apt packages where missing.
_prepare_python() {
  local missing=() need_venv=0 state=0
  PROJECT_VENV=""
  if [ "$BASE_IS_VENV" = 1 ]; then
    PY="$BASE"
    if [ -n "${VENV:-}" ]; then _say "VENV=$VENV ignored: $BASE already runs in a virtual environment"; fi
  else
    PROJECT_VENV="${VENV:-.venv}"
    PY="$PROJECT_VENV/bin/python"
    if [ -e "$PROJECT_VENV" ] && [ ! -f "$PROJECT_VENV/pyvenv.cfg" ]; then
      _die "$PROJECT_VENV exists but is not a virtual environment: move it away or set VENV=another/folder"
    fi
    if [ -e "$PROJECT_VENV" ]; then _venv_state "$PROJECT_VENV" || state=$?; else state=3; fi
    # Without PYTHON=, any working venv is fine; with it, the venv must come from that interpreter.
    if [ "$state" = 2 ] && [ -z "${PYTHON:-}" ]; then state=0; fi
    case "$state" in
      0) _say "reusing the virtual environment $PROJECT_VENV" ;;
      1) _say "$PROJECT_VENV does not work (no python or pip): rebuilding it from $BASE"; need_venv=1 ;;
      2) _say "$PROJECT_VENV was made from another Python: rebuilding it from $BASE"; need_venv=1 ;;
      3) _say "creating the virtual environment $PROJECT_VENV from $BASE"; need_venv=1 ;;
    esac
    if [ "$need_venv" = 1 ] && [ "$BASE_HAS_ENSUREPIP" = 0 ]; then missing+=("python$BASE_VERSION-venv"); fi
  fi
  command -v dot >/dev/null 2>&1 || missing+=("graphviz")
  if [ "${#missing[@]}" -gt 0 ]; then
    _apt_install "${missing[@]}" \
      || _die "could not install ${missing[*]} (no apt-get here?): install them with your package manager"
  fi
  if [ "$need_venv" = 1 ]; then
    # --clear: a broken or foreign venv is rebuilt in place (it only ever holds what pip put there)
    _run "$BASE" -m venv --clear "$PROJECT_VENV" || _die "could not create $PROJECT_VENV with $BASE"
  fi
}

# pip install the package with EXTRAS unless the stamp says it is done for this pyproject.toml.
_pip_install() {
  local prefix stamp want
  if _dry; then prefix="${PROJECT_VENV:-$BASE_PREFIX}"; else prefix="$("$PY" -c 'import sys; print(sys.prefix)')"; fi
  stamp="$prefix/.autograd_lite-setup-${EXTRAS//,/-}"
  want="$(sha256sum pyproject.toml | cut -d' ' -f1) $PWD"
  # -I: without the current folder on sys.path, so the import proves the install, not the checkout
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
     && "$PY" -I -c 'import autograd_lite' >/dev/null 2>&1; then
    _say "packages already installed (pyproject.toml unchanged): skipping pip"
    return 0
  fi
  _run "$PY" -m pip install --quiet --upgrade pip
  _run "$PY" -m pip install --quiet -e ".[${EXTRAS}]"
  if ! _dry; then
    # atomic: a half-written stamp must never skip an install
    { echo "$want" >"$stamp.tmp" && mv -f "$stamp.tmp" "$stamp"; } 2>/dev/null || true
  fi
}

_choose_interpreter
_prepare_python
_pip_install
PY_TAG="cp${BASE_VERSION//./}"
if [ -n "$PROJECT_VENV" ]; then
  _say "to use it in your shell afterwards: source $PROJECT_VENV/bin/activate"
fi
