#!/usr/bin/env bash
# Installs the MLflow tracking server the tests and benchmarks talk to, in a virtual
# environment of its own (MLflow pins its own web stack, which must not meet the app's).
#   bash packaging/mlflow-server.sh install      # create .venv-mlflow when missing (idempotent)
#   bash packaging/mlflow-server.sh run ARGS...  # exec `mlflow server ARGS...` from it
# PEFT_STUDIO_OFFLINE_MLFLOW_VENV overrides the location; MLFLOW_PIP_SPEC the version.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PEFT_STUDIO_OFFLINE_MLFLOW_VENV:-$repo/.venv-mlflow}"
spec="${MLFLOW_PIP_SPEC:-mlflow>=3,<4}"

say() { printf '==> %s\n' "$*" >&2; }

find_python() {
  for candidate in python3.12 python3.13 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  say "Python 3.10 or newer is needed for the MLflow server."; exit 1
}

install() {
  local stamp="$venv/.mlflow-installed"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$spec" ] && [ -x "$venv/bin/mlflow" ]; then
    return 0
  fi
  local started=$SECONDS
  if [ ! -x "$venv/bin/python" ]; then
    local python; python="$(find_python)"
    say "Creating the MLflow server environment in $venv with $python"
    "$python" -m venv "$venv"
  fi
  say "Installing $spec into $venv (a few minutes on a fresh machine)"
  local log="$venv/pip-install.log"
  if ! { "$venv/bin/python" -m pip install --upgrade pip &&
         "$venv/bin/python" -m pip install "$spec"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2; say "pip failed; the whole log is in $log"; exit 1
  fi
  echo "$spec" > "$stamp"
  say "MLflow server installed in $((SECONDS - started)) s"
}

command="${1:-install}"
[ $# -gt 0 ] && shift
case "$command" in
  install) install ;;
  run) install; exec "$venv/bin/mlflow" server "$@" ;;
  *) say "Unknown command '$command': use install or run."; exit 2 ;;
esac
