#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed at /usr/bin/chromium, for the dashboard's end-to-end
# tests (playwright-core drives it; Playwright's own browser downloads cannot be used here).
# Installs it with apt-get only when it is missing. Exits non-zero, saying why, when it cannot.
set -euo pipefail

chromium=/usr/bin/chromium
if [ -x "$chromium" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is missing at $chromium and apt-get is not available to install it." >&2
  echo "Install Chromium (Debian package 'chromium') so that $chromium exists, then run this again." >&2
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "Chromium is missing at $chromium; installing it needs root. Run as root:" >&2
    echo "  apt-get update && apt-get install -y chromium" >&2
    exit 1
  fi
fi

echo "Installing Chromium (Debian package 'chromium') for the dashboard's browser tests…"
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get update -qq || ! "${sudo[@]}" apt-get install -y -qq chromium; then
  echo "Could not install Chromium with apt-get. Run 'apt-get update && apt-get install -y chromium'" >&2
  echo "yourself and look at its errors; the dashboard's browser tests need $chromium." >&2
  exit 1
fi

if [ ! -x "$chromium" ]; then
  echo "apt-get installed 'chromium' but $chromium is still missing; the browser tests need it there." >&2
  exit 1
fi
echo "Chromium: $("$chromium" --version 2>/dev/null || echo installed)"
