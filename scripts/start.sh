#!/usr/bin/env bash
# Quick start: installs everything, then starts the main job.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ARDEN_ROOT/scripts/setup.sh"
cd "$ARDEN_ROOT"
printf '\n\033[1m==> Starting the demo\033[0m\n'
exec pnpm --silent --filter @arden/example-core start
