#!/usr/bin/env bash
# Quick start: installs everything, then starts Arden (server + dashboard on the embedded store)
# with a demo agent whose tool calls appear live — one of them held for approval.
# Extra arguments go to `arden start`, e.g. `bash scripts/start.sh --port 9000`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ARDEN_ROOT/scripts/setup.sh"
cd "$ARDEN_ROOT"
printf '\n\033[1m==> Starting Arden with the demo agent (Ctrl+C stops it)\033[0m\n'
exec node packages/server/bin/arden.js start --demo "$@"
