#!/usr/bin/env bash
# Webhook throughput with a stock load generator: the release bot against the Telegram fake (in
# its own process), a fresh database, and wrk posting unique /start updates (start.lua).
# Prints wrk's own figures (requests acknowledged, latency) and the end-to-end rate: updates
# answered with a sendMessage per second, counted by the fake.
#
#   make bench-wrk            (or: tests/wrk/run.sh)
# Tunables: BENCH_CONNECTIONS (40), BENCH_DURATION (20s), BENCH_THREADS (2), BENCH_USERS (4000).
# Needs wrk (apt-get install wrk), psql, PostgreSQL and Redis (DATABASE_URL, REDIS_URL).
set -euo pipefail
cd "$(dirname "$0")/../.."

target="${CARGO_TARGET_DIR:-target}/release"
database_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
connections="${BENCH_CONNECTIONS:-40}"
duration="${BENCH_DURATION:-20s}"
threads="${BENCH_THREADS:-2}"
token="123456789:TEST-token-for-the-fake"
secret="webhook-secret-current"

for tool in wrk psql curl; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done
for bin in toogoodtogo-bot fake-telegram; do
  [ -x "$target/$bin" ] || { echo "run.sh: $target/$bin is missing; run: cargo build --release -p toogoodtogo-bot -p toogoodtogo-tests --bins" >&2; exit 1; }
done

work=$(mktemp -d)
database="tgtg_wrk_$$"
cleanup() {
  [ -n "${bot_pid:-}" ] && kill "$bot_pid" 2>/dev/null && wait "$bot_pid" 2>/dev/null
  [ -n "${fake_pid:-}" ] && kill "$fake_pid" 2>/dev/null
  psql "$database_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$database_url" -qc "CREATE DATABASE $database"
bot_database_url="${database_url%/*}/$database"

"$target/fake-telegram" --token "$token" >"$work/fake.out" &
fake_pid=$!
for _ in $(seq 50); do [ -s "$work/fake.out" ] && break; sleep 0.1; done
fake_url=$(head -n1 "$work/fake.out")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL="$bot_database_url" REDIS_URL="$redis_url" TELEGRAM_BOT_TOKEN="$token" \
  TELEGRAM_API_URL="$fake_url" SECRET_KEY="wrk-bench-secret-key-0123456789abcdef0123" \
  BIND_ADDR="127.0.0.1:$port" WEBHOOK_URL="http://127.0.0.1:$port/webhook" \
  WEBHOOK_SECRET_TOKEN="$secret" MIGRATE_ON_START=true LOG_LEVEL=warn \
  RATE_LIMIT_PER_MINUTE=60 ENVIRONMENT=bench \
  "$target/toogoodtogo-bot" serve >"$work/bot.log" 2>&1 &
bot_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { echo "the bot did not become ready:" >&2; cat "$work/bot.log" >&2; exit 1; }

# Messages the fake holds (one per answered /start); read without starting an interpreter, so
# that polling costs the 2-core machine next to nothing.
answered() { curl -sf "$fake_url/_fake/stats" | grep -o '"messages":[0-9]*' | cut -d: -f2; }

# Warm-up, then the measured run with update ids above the warm-up's.
WEBHOOK_SECRET="$secret" BENCH_FIRST_UPDATE_ID=1 wrk -t"$threads" -c"$connections" -d3s \
  -s tests/wrk/start.lua "http://127.0.0.1:$port" >/dev/null
while true; do before=$(answered); sleep 1; [ "$(answered)" = "$before" ] && break; done

# CPU seconds (utime + stime) of processes, from /proc: the bot, and every PostgreSQL process.
cpu_of() { for pid in "$@"; do awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null; done | awk -v hz="$(getconf CLK_TCK)" '{ t += $1 } END { printf "%.3f", t / hz }'; }
bot_cpu_before=$(cpu_of "$bot_pid")
postgres_cpu_before=$(cpu_of $(pgrep -x postgres))

started=$(date +%s.%N)
TIMEFORMAT='wrk itself used %U s user + %S s system CPU'
time (WEBHOOK_SECRET="$secret" BENCH_FIRST_UPDATE_ID=50000000 wrk -t"$threads" -c"$connections" \
  -d"$duration" --latency -s tests/wrk/start.lua "http://127.0.0.1:$port" | tee "$work/wrk.out")
requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
errors=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.out")
expected=$((before + requests - ${errors:-0}))
deadline=$(( $(date +%s) + 120 ))
while [ "$(answered)" -lt "$expected" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "run.sh: not every acknowledged update was answered within 120 s" >&2; exit 1; }
  sleep 0.05
done
finished=$(date +%s.%N)
bot_cpu=$(awk -v a="$(cpu_of "$bot_pid")" -v b="$bot_cpu_before" 'BEGIN { print a - b }')
postgres_cpu=$(awk -v a="$(cpu_of $(pgrep -x postgres))" -v b="$postgres_cpu_before" 'BEGIN { print a - b }')
python3 - "$requests" "$started" "$finished" "${errors:-0}" "$bot_cpu" "$postgres_cpu" <<'PY'
import sys
requests, started, finished, errors = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
bot_cpu, postgres_cpu = float(sys.argv[5]), float(sys.argv[6])
print(f"end to end (webhook -> inbox -> handler -> sendMessage): {requests / (finished - started):.0f} updates/s "
      f"({requests} updates answered in {finished - started:.2f} s; non-2xx responses: {errors})")
print(f"CPU per update: bot {1e3 * bot_cpu / requests:.3f} ms, PostgreSQL {1e3 * postgres_cpu / requests:.3f} ms")
PY
