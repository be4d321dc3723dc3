#!/usr/bin/env bash
# Installs everything Arden needs on a fresh machine: Node 24 (from the npm registry, when the
# machine's Node is older than 22), pnpm, the dependencies, and the builds. Safe to run again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ARDEN_ROOT"

node_version=$(cat .node-version)
pnpm_version=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' package.json)
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

mkdir -p .tools
if [ ! -f .tools/package.json ]; then
  printf '{ "name": "arden-tools", "private": true }\n' > .tools/package.json
fi
want=()
system_node=$(command -v node || true)
if [ -z "$system_node" ]; then
  echo "Node.js is not installed. Install Node.js 20 or newer (with npm), then run this again." >&2
  exit 1
fi
if [ "$(node_major "$system_node")" -lt 22 ] \
  && [ "$(.tools/node_modules/.bin/node --version 2>/dev/null || true)" != "v$node_version" ]; then
  want+=("node@$node_version")
fi
if [ "$(.tools/node_modules/.bin/pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]; then
  want+=("pnpm@$pnpm_version")
fi
if [ ${#want[@]} -gt 0 ]; then
  step "Installing ${want[*]} into .tools/ (from the npm registry)"
  npm install --prefix .tools --no-package-lock --no-save --loglevel=error "${want[@]}" 2>&1 \
    | grep -v 'nodedir' || true
fi
# Re-read PATH lookups now that .tools may hold new binaries.
hash -r
echo "node $(node --version), pnpm $(pnpm --version)"

step "Installing dependencies (pnpm install)"
if [ -f pnpm-lock.yaml ]; then
  pnpm install --frozen-lockfile --prefer-offline --reporter=append-only
else
  pnpm install --reporter=append-only
fi

step "Building packages (turbo run build)"
pnpm turbo run build --output-logs=errors-only
