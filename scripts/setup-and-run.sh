#!/usr/bin/env bash
# The README's first command: system packages where possible, npm install (builds the native
# kernel addon and dist/), then the full MTSA job on the default arena. Extra arguments go to `mtsa run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh || true
npm install --no-audit --no-fund
node bin/mtsa.js run "$@"
