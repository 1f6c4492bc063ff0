#!/usr/bin/env bash
# Installs the optional system packages the project uses, where it can (Debian/Ubuntu as root):
#   build-essential  a C compiler and make for the native kernels (the engine falls back to its
#                    TypeScript kernels without them)
#   chromium         the headless browser of the report test
# Idempotent; prints what to run instead when it cannot install.
set -euo pipefail
need=()
{ command -v gcc >/dev/null 2>&1 && command -v make >/dev/null 2>&1; } || need+=(build-essential)
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
