#!/usr/bin/env bash
# GPU check of the PyTorch worker, for a machine with python3 + torch (CUDA build), transformers,
# peft and safetensors, and no Node.js or network: conformance on the device (fp32 and bf16, stated
# tolerances) and the throughput of a DPO step through the worker beside a plain PyTorch loop.
# Prints JSON lines; exit status 0 when every conformance check passes.
#   bash scripts/gpu-check.sh                      # cuda, sizes 0.35b and 1.1b
#   bash scripts/gpu-check.sh --device cuda:1
#   bash scripts/gpu-check.sh --device cpu --tiny  # smoke test without a GPU
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -n "${MTSA_VENV:-}" ] && [ -x "$MTSA_VENV/bin/python" ]; then python="$MTSA_VENV/bin/python"
  elif [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"
  else python=python3; fi
fi
exec "$python" "$root/python/gpu_check.py" "$@"
