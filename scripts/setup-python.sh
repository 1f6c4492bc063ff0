#!/usr/bin/env bash
# Creates (or updates) the project's Python venv with python/requirements.txt: PyTorch, transformers
# (with `transformers serve`), tokenizers, peft, trl, gguf. Idempotent: a venv whose installed
# requirements match the file's hash is left alone. The venv lives in .venv/ at the repository
# root, or where MTSA_VENV points. Python 3.10+ is needed (3.11 preferred). `--retries 0`: where
# the default index is unreachable (these machines install from a local index), pip moves on at once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${MTSA_VENV:-$root/.venv}"
req="$root/python/requirements.txt"
stamp="$venv/.mtsa-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
pick_python() {
  for candidate in "${MTSA_PYTHON_BASE:-}" python3.11 python3.12 python3 ; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}
base="$(pick_python)" || { echo "mtsa: setup-python: no Python 3.10+ with the venv module found (install python3 and python3-venv)" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  "$base" -m venv "$venv" || { echo "mtsa: setup-python: could not create a venv at $venv (apt-get install python3-venv, or set MTSA_VENV)" >&2; exit 1; }
fi
echo "mtsa: installing python/requirements.txt into $venv (first time: a few minutes)" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --retries 0 --timeout 15 -r "$req" >&2 || {
  echo "mtsa: setup-python: pip could not install python/requirements.txt into $venv (see the messages above)" >&2; exit 1; }
echo "$want" > "$stamp"
