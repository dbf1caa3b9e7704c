#!/usr/bin/env bash
# Runs every check of deployment/: the bats suites in this directory (shellcheck, nginx -t,
# promtool, systemd-analyze verify, compose and Grafana checks, the operations guide's command
# blocks, and the operations scripts against the local PostgreSQL and Redis through the docker
# double).
# Prints one line per test and ends with "N passed, M skipped, K failed". A skipped test counts
# as a failure unless its reason is one of OPTIONAL_SKIPS (things this machine may genuinely
# lack and CI provides, such as the built bot binary). Exit status 1 on any failure.
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  cat <<'USAGE'
Usage: deployment/tests/run.sh [SUITE.bats...]
Runs all (or the named) bats suites of deployment/tests and prints "N passed, M skipped,
K failed". A test skipped for any reason but an optional one (the toogoodtogo-bot binary not
built yet) is a failure: the tools the tests need are required.
Needs bats, shellcheck, yamllint, nginx, promtool, systemd-analyze, logrotate, redis-server,
script, openssl, psql/pg_dump (PostgreSQL on PGHOST:PGPORT, default 127.0.0.1:5432 as postgres)
and redis-cli (Redis on 127.0.0.1:6379); .ci/install-packages installs them.
Exit codes: 0 every test passed; 1 a test failed, a required test was skipped or a tool is
missing.
USAGE
  exit 0
fi

cd "$(dirname "$0")"
started=$(date +%s)
OPTIONAL_SKIPS='toogoodtogo-bot binary is not built'

missing=()
for tool in bats shellcheck yamllint nginx promtool systemd-analyze logrotate redis-server script \
  openssl psql pg_dump createdb redis-cli curl jq python3 gzip flock git; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "missing tools: ${missing[*]} (bash .ci/install-packages installs them)" >&2
  echo "0 passed, 0 skipped, 1 failed"
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
required_skips=()
for suite in "${suites[@]}"; do
  echo "# $suite"
  out="$(mktemp)"
  rc=0
  bats --tap "$suite" >"$out" 2>&1 || rc=$?
  cat "$out"
  f=$(grep -c '^not ok ' "$out" || true)
  s=$(grep -c '^ok .* # skip' "$out" || true)
  p=$(($(grep -c '^ok ' "$out" || true) - s))
  while IFS= read -r line; do
    case "$line" in
      *"$OPTIONAL_SKIPS"*) ;;
      *) required_skips+=("$suite: ${line#ok }") ;;
    esac
  done < <(grep '^ok .* # skip' "$out" || true)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "# $suite: bats exited $rc without a failing test (suite error)"
    f=1
  fi
  rm -f "$out"
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
done

for r in "${required_skips[@]}"; do
  echo "# required test skipped (counted as failed): $r"
done
failed=$((failed + ${#required_skips[@]}))
echo "# deployment checks took $(($(date +%s) - started)) s"
echo "$passed passed, $skipped skipped, $failed failed"
[ "$failed" -eq 0 ]
