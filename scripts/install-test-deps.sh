#!/usr/bin/env bash
# Installs what the browser tests need beyond npm: Debian's chromium at /usr/bin/chromium (the
# report e2e test drives it through playwright-core). Idempotent and instant when present.
# It never downloads a Playwright browser and does not run npm install.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "chromium: already installed at $CHROMIUM"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: installing Debian package with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  [ -x "$CHROMIUM" ] || { echo "chromium: installed, but $CHROMIUM is still missing" >&2; exit 1; }
  echo "chromium: installed at $CHROMIUM"
else
  echo "chromium: missing at $CHROMIUM. Install it as root, e.g.:" >&2
  echo "  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium" >&2
  exit 1
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -d "$repo/node_modules/playwright-core" ]; then
  echo "playwright-core: missing from node_modules; run 'npm install' in $repo (no browser download is needed)" >&2
  exit 1
fi
echo "playwright-core: present"
