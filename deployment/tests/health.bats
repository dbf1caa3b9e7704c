#!/usr/bin/env bats
# health-check.sh: real PostgreSQL and Redis through the docker shim, the bot's /health from a
# stand-in that answers like the bot does.

load helpers

setup() {
  new_stack
  create_db
  start_fake_bot
}

teardown() {
  stop_fake_bot
  [ -z "${HANG_PID:-}" ] || kill "$HANG_PID" 2>/dev/null || true
  drop_db
}

# start_silent_port: a TCP port (SILENT_PORT) that accepts connections and never answers.
start_silent_port() {
  python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(5)
print(s.getsockname()[1], flush=True)
conns=[]
while True: conns.append(s.accept())' >"$T/silent.port" 2>/dev/null 3>&- &
  HANG_PID=$!
  for _ in $(seq 1 50); do [ -s "$T/silent.port" ] && break; sleep 0.1; done
  SILENT_PORT="$(cat "$T/silent.port")"
}

@test "all components healthy: exit 0, one line each, audit line" {
  run --separate-stderr "$SCRIPTS/health-check.sh"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^bot\ +healthy\ +version\ v1.0.0 ]]
  [[ "${lines[1]}" =~ ^postgres\ +healthy ]]
  [[ "${lines[2]}" =~ ^redis\ +healthy\ +PONG ]]
  [[ "${lines[3]}" =~ ^nginx\ +healthy ]]
  [ "${lines[4]}" = "overall: healthy" ]
  [ -z "$stderr" ]
  grep -q 'action=health-check result=healthy components=bot,postgres,redis,nginx exit=0' "$LOG_DIR/deployment.log"
}

@test "degraded bot: exit 0 with a WARNING on stderr; --strict exits 1" {
  echo degraded >"$SHIM_STATE/health_mode"
  run --separate-stderr "$SCRIPTS/health-check.sh" bot
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"WARNING: bot is degraded: Rate limiting temporarily disabled; redis: connection refused"* ]]
  [[ "$output" == *"overall: degraded"* ]]
  run --separate-stderr "$SCRIPTS/health-check.sh" bot --strict
  [ "$status" -eq 1 ]
  [[ "$stderr" == *WARNING* ]]
}

@test "unhealthy bot (503): exit 1 with the failing dependency" {
  echo unhealthy >"$SHIM_STATE/health_mode"
  run "$SCRIPTS/health-check.sh" bot
  [ "$status" -eq 1 ]
  [[ "$output" == *"unhealthy"*"PostgreSQL unreachable: updates cannot be stored or processed; postgres: connection refused"* ]]
}

@test "bot not listening: exit 1, says it cannot reach it" {
  BOT_HEALTH_URL="http://127.0.0.1:1/health" run "$SCRIPTS/health-check.sh" bot
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot reach http://127.0.0.1:1/health"* ]]
}

@test "bot does not answer in time: exit 2" {
  echo hang >"$SHIM_STATE/health_mode"
  start=$(date +%s)
  HEALTH_TIMEOUT=1 run "$SCRIPTS/health-check.sh" bot
  [ "$status" -eq 2 ]
  [[ "$output" == *"timeout"*"within 1s"* ]]
  [ $(($(date +%s) - start)) -lt 6 ]
}

@test "postgres: pg_isready against the real server; unreachable is exit 1" {
  run "$SCRIPTS/health-check.sh" postgres
  [ "$status" -eq 0 ]
  [[ "$output" == *"accepting connections"* ]]
  calls | grep -q "exec -T postgres pg_isready -U postgres -d $TEST_DB"
  SHIM_PGPORT=1 run "$SCRIPTS/health-check.sh" postgres
  [ "$status" -eq 1 ]
  [[ "$output" == postgres*unhealthy*pg_isready* ]]
}

@test "redis: redis-cli ping against the real server; down is 1, silent is 2" {
  run "$SCRIPTS/health-check.sh" redis
  [ "$status" -eq 0 ]
  SHIM_REDIS_PORT=1 run "$SCRIPTS/health-check.sh" redis
  [ "$status" -eq 1 ]
  start_silent_port
  SHIM_REDIS_PORT="$SILENT_PORT" HEALTH_TIMEOUT=1 run "$SCRIPTS/health-check.sh" redis
  [ "$status" -eq 2 ]
}

@test "nginx down: exit 1; worst result wins across components" {
  echo down >"$SHIM_STATE/nginx_mode"
  run "$SCRIPTS/health-check.sh" nginx
  [ "$status" -eq 1 ]
  # degraded bot + unhealthy nginx = unhealthy
  echo degraded >"$SHIM_STATE/health_mode"
  run "$SCRIPTS/health-check.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"overall: unhealthy"* ]]
}

@test "--json: one document with the overall status, components and the bot's health" {
  echo degraded >"$SHIM_STATE/health_mode"
  run --separate-stderr "$SCRIPTS/health-check.sh" --json
  [ "$status" -eq 0 ]
  [ "$(jq -r .status <<<"$output")" = degraded ]
  [ "$(jq -r .components.postgres.status <<<"$output")" = healthy ]
  [ "$(jq -r .components.bot.health.dependencies.redis.status <<<"$output")" = degraded ]
  [ "$(jq -r '.components | keys | join(",")' <<<"$output")" = "bot,nginx,postgres,redis" ]
}

@test "unknown component is a usage error (64)" {
  run "$SCRIPTS/health-check.sh" database
  [ "$status" -eq 64 ]
}

# bot_bin: the real toogoodtogo-bot (TOOGOODTOGO_BOT_BIN, or the cargo target directories).
bot_bin() {
  local c
  for c in "${TOOGOODTOGO_BOT_BIN:-}" "${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/debug/toogoodtogo-bot}" \
    /var/cache/toogoodtogo-target/debug/toogoodtogo-bot "$DEPLOYMENT_SRC/../target/debug/toogoodtogo-bot"; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

@test "the stand-in's /health is read by the real toogoodtogo-bot healthcheck as the bot's own" {
  bin="$(bot_bin)" || skip "toogoodtogo-bot binary is not built (cargo build -p toogoodtogo-bot, or TOOGOODTOGO_BOT_BIN)"
  run --separate-stderr "$bin" healthcheck --url "$BOT_HEALTH_URL"
  [ "$status" -eq 0 ]
  echo degraded >"$SHIM_STATE/health_mode"
  run --separate-stderr "$bin" healthcheck --url "$BOT_HEALTH_URL"
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"WARNING: degraded: Rate limiting temporarily disabled"* ]]
  run --separate-stderr "$bin" healthcheck --strict --url "$BOT_HEALTH_URL"
  [ "$status" -eq 1 ]
  echo unhealthy >"$SHIM_STATE/health_mode"
  run --separate-stderr "$bin" healthcheck --url "$BOT_HEALTH_URL"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"unhealthy: PostgreSQL unreachable"* ]]
}

@test "--wait SECONDS: repeats until the stack is healthy, then reports once (the unit's ExecStartPost)" {
  rm "$SHIM_STATE/running/bot" "$SHIM_STATE/running/nginx"
  (sleep 1.5 && echo v1.0.0 >"$SHIM_STATE/running/bot" && : >"$SHIM_STATE/running/nginx") 3>&- &
  HEALTH_INTERVAL=0.3 run "$SCRIPTS/health-check.sh" --wait 20
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(grep -c '^overall:' <<<"$output")" -eq 1 ]
  [[ "$output" == *"overall: healthy"* ]]
  [ "$(grep -c 'action=health-check' "$LOG_DIR/deployment.log")" -eq 1 ]
}

@test "--wait SECONDS: still unhealthy when the time is up: the last result and its exit code" {
  echo unhealthy >"$SHIM_STATE/health_mode"
  start=$(date +%s)
  HEALTH_INTERVAL=0.3 run "$SCRIPTS/health-check.sh" bot --wait 2
  [ "$status" -eq 1 ]
  [ "$(($(date +%s) - start))" -ge 2 ]
  [[ "$output" == *"overall: unhealthy"* ]]
  run "$SCRIPTS/health-check.sh" --wait soon
  [ "$status" -eq 64 ]
}
