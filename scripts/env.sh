# Sourced by the other scripts: puts the project's Node and pnpm first on PATH.
# shellcheck shell=bash
ARDEN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ARDEN_ROOT
export PATH="$ARDEN_ROOT/.tools/node_modules/.bin:$ARDEN_ROOT/node_modules/.bin:$PATH"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# Turbo's telemetry would try to reach the network.
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
