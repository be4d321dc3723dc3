#!/usr/bin/env bash
# Runs every test: installs what is needed, then lint, type checks, the unit and integration
# suites, and the published-package checks. Exits non-zero if anything fails.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ARDEN_ROOT/scripts/setup.sh"
cd "$ARDEN_ROOT"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Services the suites need (PostgreSQL, Chromium)"
bash scripts/ensure-postgres.sh
bash scripts/ensure-chromium.sh
# The PostgreSQL and browser suites must run: a suite that cannot reach its service fails.
export ARDEN_REQUIRE_POSTGRES=1 ARDEN_REQUIRE_BROWSER=1

rm -rf packages/*/test-results examples/*/test-results tools/*/test-results bench/test-results

step "Lint (biome)"
pnpm biome check .

step "Type check"
pnpm turbo run typecheck --output-logs=errors-only

step "Tests"
status=0
# --force: every suite runs and writes its report (a cached task would replay its log only);
# --only: without the builds it depends on, which setup.sh has just run (--force would run all ten
# again, 1.5 minutes); --continue: a failing suite does not stop the others, so the summary counts
# every one.
pnpm turbo run test --only --concurrency=1 --force --continue || status=$?

step "Tests on Node 20 (the packages whose engines claim it)"
node scripts/test-node20.mjs || status=$?

step "Published packages (publint --strict, attw --pack)"
pnpm turbo run check:package --output-logs=errors-only || status=$?

node scripts/summarize-tests.mjs || status=$?
exit $status
