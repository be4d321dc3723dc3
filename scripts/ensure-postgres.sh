#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 for the production store's tests: starts the
# machine's cluster when it is stopped, and fails (never skips) when it cannot.
set -euo pipefail

host=127.0.0.1
port=5432
up() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if up; then
  exit 0
fi
echo "PostgreSQL is not answering on $host:$port; trying to start it…"
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
fi
for _ in $(seq 1 30); do
  if up; then
    echo "PostgreSQL is up."
    exit 0
  fi
  sleep 1
done
echo "PostgreSQL could not be started on $host:$port. The PostgreSQL suite needs it: start it" >&2
echo "(pg_ctlcluster <version> main start), or point ARDEN_TEST_POSTGRES_URL at one." >&2
exit 1
