#!/usr/bin/env bash
# Installs the optional system packages the project uses, where it can (Debian/Ubuntu as root):
#   libopenblas-dev  the fast kernel path (the build falls back to TypeScript kernels without it)
#   chromium         the headless browser of the report test
# Idempotent; prints what to run instead when it cannot install.
set -euo pipefail
need=()
[ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || [ -e /usr/include/aarch64-linux-gnu/cblas.h ] || need+=(libopenblas-dev)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  echo "installed: ${need[*]}"
else
  echo "mtsa: optional system packages missing: ${need[*]} (install them with your package manager; the project still builds without them)" >&2
fi
