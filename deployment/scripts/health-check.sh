#!/usr/bin/env bash
# Health of the single-host stack: the bot's /health, PostgreSQL, Redis and nginx.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: health-check.sh [bot|postgres|redis|nginx] [--json] [--strict] [--wait SECONDS]

Checks one component, or all of them when none is named:
  bot       GET $BOT_HEALTH_URL (http://127.0.0.1:8000/health): healthy, degraded or unhealthy
  postgres  pg_isready in the postgres container
  redis     redis-cli ping in the redis container
  nginx     GET $NGINX_HEALTH_URL (http://127.0.0.1/healthz)
--json prints one JSON document instead of text; --strict treats "degraded" as a failure.
--wait SECONDS repeats the checks (every HEALTH_INTERVAL seconds, default 5) until they pass or
SECONDS have passed, then reports the last result (toogoodtogo.service's ExecStartPost uses it,
so `systemctl start toogoodtogo` fails when the stack does not become healthy).

Exit codes: 0 healthy; 0 plus a WARNING on stderr when degraded (1 with --strict);
1 unhealthy; 2 a check timed out (HEALTH_TIMEOUT seconds, default 10); 64 usage error.
With several components the worst result wins (unhealthy over timeout over degraded).

Environment: APP_ROOT, ENV_FILE, COMPOSE, LOG_DIR, BOT_HEALTH_URL, NGINX_HEALTH_URL,
HEALTH_TIMEOUT, HEALTH_INTERVAL.
USAGE
}

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

BOT_HEALTH_URL="${BOT_HEALTH_URL:-http://127.0.0.1:8000/health}"
NGINX_HEALTH_URL="${NGINX_HEALTH_URL:-http://127.0.0.1/healthz}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-10}"

components=()
json=0
strict=0
wait_seconds=0
args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --json) json=1 args+=("$1") ;;
    --strict) strict=1 args+=("$1") ;;
    --wait)
      if [ "$#" -lt 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then usage_error "--wait needs a number of seconds"; fi
      wait_seconds="$2"
      shift
      ;;
    bot | postgres | redis | nginx) components+=("$1") args+=("$1") ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done

# --wait: quiet rounds until one passes or the time is up; the last round reports (and audits).
if [ "$wait_seconds" -gt 0 ]; then
  deadline=$(($(date +%s) + wait_seconds))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if HEALTH_AUDIT=0 "$0" "${args[@]}" >/dev/null 2>&1; then break; fi
    sleep "${HEALTH_INTERVAL:-5}"
  done
  exec "$0" "${args[@]}"
fi
[ "${#components[@]}" -gt 0 ] || components=(bot postgres redis nginx)

for tool in curl jq timeout; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    err "$tool is required (apt-get install $tool, or run setup-droplet.sh)"
    exit 1
  fi
done

# Each check sets STATUS (healthy|degraded|unhealthy|timeout) and DETAIL.
STATUS=""
DETAIL=""
BOT_DOC=""

check_bot() {
  local body rc=0 status
  body="$(curl -sS --max-time "$HEALTH_TIMEOUT" -H 'Accept: application/json' "$BOT_HEALTH_URL" 2>&1)" || rc=$?
  if [ "$rc" -eq 28 ]; then
    STATUS=timeout
    DETAIL="no answer from $BOT_HEALTH_URL within ${HEALTH_TIMEOUT}s"
    return
  fi
  if [ "$rc" -ne 0 ]; then
    STATUS=unhealthy
    DETAIL="cannot reach $BOT_HEALTH_URL: ${body##*curl: }"
    return
  fi
  if ! status="$(jq -er '.status' <<<"$body" 2>/dev/null)"; then
    STATUS=unhealthy
    DETAIL="unexpected answer from $BOT_HEALTH_URL (not the health JSON)"
    return
  fi
  BOT_DOC="$body"
  case "$status" in
    healthy)
      STATUS=healthy
      DETAIL="$(jq -r '"version \(.version // "?"), postgres \(.dependencies.postgres.response_time_ms // "-") ms, redis \(.dependencies.redis.response_time_ms // "-") ms"' <<<"$body")"
      ;;
    degraded)
      STATUS=degraded
      DETAIL="$(jq -r '[(.warnings // [])[]] + [(.dependencies // {}) | to_entries[] | select(.value.status != "healthy") | "\(.key): \(.value.error // .value.status)"] | join("; ")' <<<"$body")"
      ;;
    *)
      STATUS=unhealthy
      DETAIL="$(jq -r '[(.errors // [])[]] + [(.dependencies // {}) | to_entries[] | select(.value.status != "healthy") | "\(.key): \(.value.error // .value.status)"] | join("; ")' <<<"$body")"
      ;;
  esac
}

# run_bounded CMD...: runs CMD with the timeout; returns 124 when it timed out.
run_bounded() {
  timeout --kill-after=2 "$HEALTH_TIMEOUT" "$@"
}

check_postgres() {
  local user db out rc=0
  user="$(env_get POSTGRES_USER)"
  db="$(env_get POSTGRES_DB)"
  out="$(run_bounded "${COMPOSE_ARR[@]}" exec -T postgres pg_isready -U "${user:-toogoodtogo}" -d "${db:-toogoodtogo}" 2>&1)" || rc=$?
  case "$rc" in
    0) STATUS=healthy DETAIL="accepting connections" ;;
    124 | 137) STATUS=timeout DETAIL="pg_isready did not answer within ${HEALTH_TIMEOUT}s" ;;
    *) STATUS=unhealthy DETAIL="pg_isready: ${out:-exit $rc}" ;;
  esac
}

check_redis() {
  local out rc=0
  out="$(run_bounded "${COMPOSE_ARR[@]}" exec -T redis redis-cli ping 2>&1)" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    STATUS=timeout DETAIL="redis-cli ping did not answer within ${HEALTH_TIMEOUT}s"
  elif [ "$rc" -eq 0 ] && [ "$out" = PONG ]; then
    STATUS=healthy DETAIL="PONG"
  else
    STATUS=unhealthy DETAIL="redis-cli ping: ${out:-exit $rc}"
  fi
}

check_nginx() {
  local out rc=0
  out="$(curl -sS -o /dev/null -w '%{http_code}' --max-time "$HEALTH_TIMEOUT" "$NGINX_HEALTH_URL" 2>&1)" || rc=$?
  if [ "$rc" -eq 28 ]; then
    STATUS=timeout DETAIL="no answer from $NGINX_HEALTH_URL within ${HEALTH_TIMEOUT}s"
  elif [ "$rc" -eq 0 ] && [ "$out" = 200 ]; then
    STATUS=healthy DETAIL="answering on $NGINX_HEALTH_URL"
  else
    STATUS=unhealthy DETAIL="$NGINX_HEALTH_URL: ${out##*curl: }"
  fi
}

read -r -a COMPOSE_ARR <<<"$COMPOSE"

overall=healthy
rank() {
  case "$1" in
    healthy) echo 0 ;;
    degraded) echo 1 ;;
    timeout) echo 2 ;;
    *) echo 3 ;;
  esac
}

results_json="{}"
for c in "${components[@]}"; do
  STATUS="" DETAIL=""
  case "$c" in
    bot) check_bot ;;
    postgres) check_postgres ;;
    redis) check_redis ;;
    nginx) check_nginx ;;
  esac
  if [ "$(rank "$STATUS")" -gt "$(rank "$overall")" ]; then overall="$STATUS"; fi
  if [ "$json" -eq 1 ]; then
    results_json="$(jq -c --arg c "$c" --arg s "$STATUS" --arg d "$DETAIL" '.[$c] = {status: $s, detail: $d}' <<<"$results_json")"
    if [ "$c" = bot ] && [ -n "$BOT_DOC" ]; then
      results_json="$(jq -c --argjson doc "$BOT_DOC" '.bot.health = $doc' <<<"$results_json")"
    fi
  else
    printf '%-9s %-10s %s\n' "$c" "$STATUS" "$DETAIL"
  fi
  if [ "$STATUS" = degraded ]; then
    warn "$c is degraded: $DETAIL"
  fi
done

case "$overall" in
  healthy) code=0 ;;
  degraded) code=$((strict == 1 ? 1 : 0)) ;;
  timeout) code=2 ;;
  *) code=1 ;;
esac

if [ "$json" -eq 1 ]; then
  jq -n --arg s "$overall" --arg t "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson c "$results_json" \
    '{status: $s, checked_at: $t, components: $c}'
else
  echo "overall: $overall"
fi
# Polling by the other scripts (HEALTH_AUDIT=0) is not logged line by line.
if [ "${HEALTH_AUDIT:-1}" != 0 ]; then
  audit health-check "$overall" "components=$(IFS=,; echo "${components[*]}") exit=$code"
fi
exit "$code"
