#!/usr/bin/env bash
# Runs every check of deployment/: the bats suites in this directory (shellcheck, nginx -t,
# promtool, systemd-analyze verify, compose and Grafana checks, and the operations scripts
# against the local PostgreSQL and Redis through the docker shim).
# Prints one line per test and ends with "N passed, M failed". Exit status 1 on any failure.
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  cat <<'USAGE'
Usage: deployment/tests/run.sh [SUITE.bats...]
Runs all (or the named) bats suites of deployment/tests and prints "N passed, M failed".
Needs bats, shellcheck, yamllint, nginx, promtool, openssl, psql/pg_dump (PostgreSQL on
PGHOST:PGPORT, default 127.0.0.1:5432 as postgres) and redis-cli (Redis on 127.0.0.1:6379).
USAGE
  exit 0
fi

cd "$(dirname "$0")"
started=$(date +%s)

missing=()
for tool in bats shellcheck yamllint nginx promtool openssl psql pg_dump createdb redis-cli curl jq python3 gzip flock git; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "missing tools: ${missing[*]}" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

if [ "$#" -gt 0 ]; then
  suites=("$@")
else
  mapfile -t suites < <(ls ./*.bats)
fi

passed=0
failed=0
skipped=0
for suite in "${suites[@]}"; do
  echo "# $suite"
  out="$(mktemp)"
  rc=0
  bats --tap "$suite" >"$out" 2>&1 || rc=$?
  cat "$out"
  p=$(grep -c '^ok ' "$out" || true)
  f=$(grep -c '^not ok ' "$out" || true)
  s=$(grep -c '^ok .* # skip' "$out" || true)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "# $suite: bats exited $rc without a failing test (suite error)"
    f=1
  fi
  rm -f "$out"
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
done

echo "# deployment checks took $(($(date +%s) - started)) s; $skipped skipped (counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
