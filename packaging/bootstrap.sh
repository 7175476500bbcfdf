#!/usr/bin/env bash
# Sets up everything PEFT Studio Offline needs on a fresh machine, then runs it.
#   bash packaging/bootstrap.sh run [ARGS...]   # the desktop window (or any CLI command)
#   bash packaging/bootstrap.sh test [PYTEST ARGS...]  # every check: ruff, mypy, import-linter, pytest
#   bash packaging/bootstrap.sh setup           # only install
# Installs the Debian packages Qt needs (when run as root or with sudo), a virtual
# environment in .venv, and the project with its test extra. Re-runs are quick: pip is
# only called again when pyproject.toml changed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PEFT_STUDIO_OFFLINE_VENV:-$repo/.venv}"
cd "$repo"

say() { printf '==> %s\n' "$*" >&2; }

# Libraries the Qt wheels load even offscreen, plus the validators for the desktop files.
debian_packages=(
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-xinerama0
  fonts-dejavu-core desktop-file-utils appstream xvfb xauth iproute2 nftables
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

find_python() {
  for candidate in python3.12 python3.13 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  say "Python 3.11 or newer is needed."; exit 1
}

setup_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    local python; python="$(find_python)"
    say "Creating virtual environment in $venv with $python"
    "$python" -m venv "$venv"
  fi
  local stamp="$venv/.peft-studio-offline-installed"
  local want; want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "Installing PEFT Studio Offline and its test tools into $venv"
    local log="$venv/pip-install.log"
    if ! { "$venv/bin/python" -m pip install --upgrade pip &&
           "$venv/bin/python" -m pip install -e ".[test,package]"; } >"$log" 2>&1; then
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
  say "pytest"
  "$venv/bin/python" -m pytest "$@"
}

command="${1:-run}"
[ $# -gt 0 ] && shift
case "$command" in
  setup) install_debian_packages; setup_venv ;;
  run) install_debian_packages; setup_venv; exec "$venv/bin/python" -m peft_studio_offline "$@" ;;
  test)
    install_debian_packages; setup_venv
    # The MLflow tracking server the MLflow tests talk to, in an environment of its own.
    bash "$repo/packaging/mlflow-server.sh" install
    run_checks "$@" ;;
  *) say "Unknown command '$command': use run, test or setup."; exit 2 ;;
esac
