#!/usr/bin/env bash
# Sets up everything PEFT Studio Offline needs on a fresh machine, then runs it.
#   bash packaging/bootstrap.sh run [ARGS...]   # the desktop window (or any CLI command)
#   bash packaging/bootstrap.sh test [PYTEST ARGS...]  # every check: ruff, mypy, import-linter, pytest
#   bash packaging/bootstrap.sh setup           # only install
# Installs the Debian packages Qt needs (when run as root or with sudo), a virtual
# environment in .venv, and the project with its test extra. Re-runs are quick: pip is
# only called again when pyproject.toml changed.
#
# .venv gets the oldest Python the package supports (its classifiers), so the test command
# checks the floor. When a newer supported Python is on the machine (on PATH, or installed
# by pyenv under $PYENV_ROOT/versions; nothing is downloaded), `test` then runs pytest again
# on the newest one, in .venv-3.X, leaving out the slow, the packaging and the MLflow-server
# tests (the server runs in its own environment; what differs by Python is our code).
# PEFT_STUDIO_OFFLINE_NEWER_PYTHON names that interpreter instead, or "off" skips the pass.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PEFT_STUDIO_OFFLINE_VENV:-$repo/.venv}"
cd "$repo"

say() { printf '==> %s\n' "$*" >&2; }

# Libraries the Qt wheels load even offscreen, plus the validators for the desktop files,
# and a Secret Service (GNOME Keyring on a D-Bus session) for the keyring tests.
debian_packages=(
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-xinerama0
  fonts-dejavu-core desktop-file-utils appstream xvfb xauth iproute2 nftables
  dbus gnome-keyring
)

install_debian_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local missing=()
  for pkg in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      say "Missing system packages: ${missing[*]} (install them with apt-get as root)."
      return 0
    fi
  fi
  say "Installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The minor versions of Python 3 that the package claims, oldest first: "11 12 13".
supported_minors() {
  sed -n 's/.*"Programming Language :: Python :: 3\.\([0-9][0-9]*\)".*/\1/p' pyproject.toml |
    sort -n | tr '\n' ' '
}

# "3.13.0" when $1 is a CPython of a supported minor version with the GIL, else nothing.
python_version_of() {
  "$1" - "$(supported_minors)" 2>/dev/null <<'PY' || true
import sys, sysconfig
minors = {int(m) for m in sys.argv[1].split()}
if (sys.implementation.name == "cpython" and sys.version_info[:2] in {(3, m) for m in minors}
        and not sysconfig.get_config_var("Py_GIL_DISABLED")):
    print("%d.%d.%d" % sys.version_info[:3])
PY
}

# Interpreters of Python 3.$1: the one on PATH, then pyenv's, newest patch release first.
# pyenv's shims on PATH refuse a version that is not selected: python_version_of drops them.
candidates_for_minor() {
  local minor="$1" pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  command -v "python3.$minor" 2>/dev/null || true
  if [ -d "$pyenv_root/versions" ]; then
    find "$pyenv_root/versions" -mindepth 3 -maxdepth 3 -path "*/bin/python3.$minor" 2>/dev/null |
      sort -rV
  fi
}

# The first working interpreter of the given minor versions, in the order given.
first_python() {
  local minor candidate
  for minor in "$@"; do
    while IFS= read -r candidate; do
      [ -n "$candidate" ] || continue
      if [ -n "$(python_version_of "$candidate")" ]; then echo "$candidate"; return 0; fi
    done < <(candidates_for_minor "$minor")
  done
  return 1
}

# "3.11, 3.12, 3.13"
supported_text() {
  supported_minors | sed 's/\([0-9][0-9]*\)/3.\1,/g; s/, *$//'
}

find_python() {
  local minors; read -ra minors <<< "$(supported_minors)"
  if first_python "${minors[@]}"; then return 0; fi
  say "A supported Python is needed: $(supported_text)."; exit 1
}

# Sets newer_python to the newest supported interpreter when it is newer than .venv's.
find_newer_python() {
  newer_python="${PEFT_STUDIO_OFFLINE_NEWER_PYTHON:-}"
  if [ "$newer_python" = "off" ]; then newer_python=""; return 0; fi
  if [ -n "$newer_python" ] && [ -z "$(python_version_of "$newer_python")" ]; then
    say "PEFT_STUDIO_OFFLINE_NEWER_PYTHON=$newer_python is not a supported Python ($(supported_text))."
    exit 2
  fi
  if [ -z "$newer_python" ]; then
    local minors; read -ra minors <<< "$(supported_minors | tr ' ' '\n' | sort -rn | tr '\n' ' ')"
    newer_python="$(first_python "${minors[@]}")" || { newer_python=""; return 0; }
  fi
  local current newer
  current="$(python_version_of "$venv/bin/python")"
  newer="$(python_version_of "$newer_python")"
  [ "${newer%.*}" != "${current%.*}" ] || newer_python=""
}

# setup_venv DIR EXTRAS [PYTHON]: create DIR with PYTHON when missing; install the project.
setup_venv() {
  local dir="$1" extras="$2" python="${3:-}"
  if [ ! -x "$dir/bin/python" ]; then
    [ -n "$python" ] || python="$(find_python)"
    say "Creating virtual environment in $dir with $python ($(python_version_of "$python"))"
    "$python" -m venv "$dir"
  fi
  local stamp="$dir/.peft-studio-offline-installed"
  local want; want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "Installing PEFT Studio Offline and its test tools into $dir"
    local log="$dir/pip-install.log"
    if ! { "$dir/bin/python" -m pip install --upgrade pip &&
           "$dir/bin/python" -m pip install -e ".[$extras]"; } >"$log" 2>&1; then
      tail -n 40 "$log" >&2; say "pip failed; the whole log is in $log"; exit 1
    fi
    echo "$want" > "$stamp"
  fi
}

run_checks() {
  export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
  say "ruff"
  "$venv/bin/ruff" check peft_studio_offline tests benchmarks packaging
  "$venv/bin/ruff" format --check peft_studio_offline tests benchmarks packaging
  say "mypy"
  "$venv/bin/mypy"
  say "import-linter"
  "$venv/bin/lint-imports"
  local newer_venv="" newer_version="" failed=0 newer_setup=""
  find_newer_python
  if [ -n "$newer_python" ]; then
    newer_version="$(python_version_of "$newer_python")"
    newer_venv="$repo/.venv-${newer_version%.*}"
    # Installed while the first pass runs: pip mostly waits on the network and the disk.
    setup_venv "$newer_venv" test "$newer_python" &
    newer_setup=$!
  fi
  local version; version="$(python_version_of "$venv/bin/python")"
  local what="the whole suite"
  [ $# -eq 0 ] || what="pytest $*"
  local ran="$what on Python $version"
  say "pytest on Python $version ($venv): $what"
  # In CI, the slowest tests are named, to see where the time budget goes.
  local timing=()
  [ -z "${CI:-}" ] || timing=(--durations=15)
  "$venv/bin/python" -m pytest "${timing[@]}" "$@" || failed=1
  if [ -n "$newer_setup" ] && ! wait "$newer_setup"; then
    say "Setting up $newer_venv failed."; failed=1; newer_venv=""
  fi
  if [ -n "$newer_venv" ]; then
    say "pytest on Python $newer_version ($newer_venv): all but the slow, packaging and MLflow-server tests"
    local status=0
    "$newer_venv/bin/python" -m pytest -m "not slow and not packaging and not mlflow" "${timing[@]}" "$@" \
      || status=$?
    # 5: the tests asked for are all slow or packaging ones; the first pass ran them.
    [ "$status" -eq 0 ] || [ "$status" -eq 5 ] || failed=1
    ran="$ran; all but the slow, packaging and MLflow-server tests on Python $newer_version"
  elif [ "${PEFT_STUDIO_OFFLINE_NEWER_PYTHON:-}" = "off" ]; then
    ran="$ran; no second pass (PEFT_STUDIO_OFFLINE_NEWER_PYTHON=off)"
  else
    ran="$ran; no second pass (no newer supported Python on PATH or under pyenv)"
  fi
  say "Ran $ran."
  return "$failed"
}

command="${1:-run}"
[ $# -gt 0 ] && shift
case "$command" in
  setup) install_debian_packages; setup_venv "$venv" test,package ;;
  run) install_debian_packages; setup_venv "$venv" test,package; exec "$venv/bin/python" -m peft_studio_offline "$@" ;;
  test)
    install_debian_packages; setup_venv "$venv" test,package
    # The MLflow tracking server the MLflow tests talk to, in an environment of its own.
    bash "$repo/packaging/mlflow-server.sh" install
    run_checks "$@" ;;
  *) say "Unknown command '$command': use run, test or setup."; exit 2 ;;
esac
