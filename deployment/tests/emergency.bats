#!/usr/bin/env bats
# emergency.sh: isolate closes the public ports (nginx stopped, ufw's 80/443 rules deleted) while
# PostgreSQL and Redis run, records what it did, and restore-access undoes exactly that. The
# containers are the docker double's, the firewall is the ufw double (tests/host-bin/ufw) with the
# rules setup-droplet.sh makes.

load helpers

setup() {
  new_stack
  export UFW="$TESTS_DIR/host-bin/ufw"
  mkdir -p "$SHIM_STATE/ufw"
  printf '%s\n' 'allow OpenSSH' 'allow 80/tcp' 'allow 443/tcp' >"$SHIM_STATE/ufw/rules"
  cp "$SHIM_STATE/ufw/rules" "$T/rules.before"
  start_fake_bot
}

teardown() {
  stop_fake_bot
}

running() { [ -e "$SHIM_STATE/running/$1" ]; }
rules() { sort "$SHIM_STATE/ufw/rules"; }

@test "isolate: nginx stopped, 80/443 rules deleted, SSH, database, Redis and bot untouched, recorded" {
  run "$SCRIPTS/emergency.sh" isolate
  echo "$output"
  [ "$status" -eq 0 ]
  ! running nginx
  running postgres && running redis && running bot
  [ "$(rules)" = "allow OpenSSH" ]
  grep -qx 'stopped=nginx' "$STATE_DIR/isolation"
  grep -qx 'ufw_deleted=allow 80/tcp' "$STATE_DIR/isolation"
  grep -qx 'ufw_deleted=allow 443/tcp' "$STATE_DIR/isolation"
  [ "$(stat -c %a "$STATE_DIR/isolation")" = 600 ]
  # only nginx was stopped; nothing was recreated
  grep -qx 'compose -f .*docker-compose.prod.yml stop nginx' "$SHIM_STATE/calls.log"
  ! grep -q -e 'stop bot' -e 'down' -e force-recreate "$SHIM_STATE/calls.log"
  grep -q 'action=emergency result=isolated stopped=nginx ufw_deleted=2 ufw_added=0' "$LOG_DIR/deployment.log"
  # nothing answers on the public side any more, the bot does on loopback
  run "$SCRIPTS/health-check.sh" nginx
  [ "$status" -eq 1 ]
  "$SCRIPTS/health-check.sh" bot postgres redis
  run "$SCRIPTS/emergency.sh" status
  [ "$status" -eq 3 ]
  [[ "$output" == *"stopped containers: nginx"* ]] && [[ "$output" == *"deleted ufw rule: allow 443/tcp"* ]]
}

@test "restore-access: undoes exactly what isolate did, then the record is gone" {
  cp "$SHIM_STATE/running/bot.env" "$T/bot.env.before"
  "$SCRIPTS/emergency.sh" isolate >/dev/null
  run "$SCRIPTS/emergency.sh" restore-access
  echo "$output"
  [ "$status" -eq 0 ]
  running nginx && running bot && running postgres
  [ "$(rules)" = "$(sort "$T/rules.before")" ]
  [ ! -e "$STATE_DIR/isolation" ] && [ -e "$STATE_DIR/isolation.restored" ]
  # the same containers started again (start, not recreate): the bot kept its environment
  grep -qx 'compose -f .*docker-compose.prod.yml start nginx' "$SHIM_STATE/calls.log"
  ! grep -q -e 'start bot' -e force-recreate "$SHIM_STATE/calls.log"
  cmp "$SHIM_STATE/running/bot.env" "$T/bot.env.before"
  "$SCRIPTS/health-check.sh"
  grep -q 'action=emergency result=restored started=nginx' "$LOG_DIR/deployment.log"
  run "$SCRIPTS/emergency.sh" status
  [ "$status" -eq 0 ]
  [ "$output" = "not isolated" ]
}

@test "--stop-bot and --ssh-from: bot stopped, SSH only from one address; restore-access puts both back" {
  run "$SCRIPTS/emergency.sh" isolate --stop-bot --ssh-from 198.51.100.7
  echo "$output"
  [ "$status" -eq 0 ]
  ! running nginx && ! running bot
  running postgres && running redis
  [ "$(rules)" = "allow from 198.51.100.7 to any port 22 proto tcp" ]
  grep -qx 'ufw_added=allow from 198.51.100.7 to any port 22 proto tcp' "$STATE_DIR/isolation"
  grep -qx 'ufw_deleted=allow OpenSSH' "$STATE_DIR/isolation"
  run "$SCRIPTS/emergency.sh" restore-access
  echo "$output"
  [ "$status" -eq 0 ]
  running bot && running nginx
  [ "$(rules)" = "$(sort "$T/rules.before")" ]
  # the bot was started and healthy before nginx opened the public side again
  [[ "$output" == *"started bot"*"bot is healthy"*"started nginx"* ]]
}

@test "what was not running or not allowed before is not started or added by restore-access" {
  docker compose -f "$COMPOSE_FILE" stop nginx
  printf '%s\n' 'allow OpenSSH' 'allow 443/tcp' >"$SHIM_STATE/ufw/rules"
  run "$SCRIPTS/emergency.sh" isolate
  [ "$status" -eq 0 ]
  [[ "$output" == *"nginx is not running; nothing to stop"* ]]
  ! grep -q '^stopped=' "$STATE_DIR/isolation"
  run "$SCRIPTS/emergency.sh" restore-access
  [ "$status" -eq 0 ]
  ! running nginx
  [ "$(rules)" = "$(printf '%s\n' 'allow 443/tcp' 'allow OpenSSH')" ]
}

@test "isolate twice changes nothing the second time; restore-access on an open stack is a no-op" {
  "$SCRIPTS/emergency.sh" isolate >/dev/null
  cp "$STATE_DIR/isolation" "$T/record"
  run "$SCRIPTS/emergency.sh" isolate
  [ "$status" -eq 0 ]
  [[ "$output" == *"already isolated; nothing changed"* ]]
  cmp "$STATE_DIR/isolation" "$T/record"
  "$SCRIPTS/emergency.sh" restore-access >/dev/null
  : >"$SHIM_STATE/calls.log"
  run "$SCRIPTS/emergency.sh" restore-access
  [ "$status" -eq 0 ]
  [ "$output" = "not isolated; nothing to restore" ]
  [ ! -s "$SHIM_STATE/calls.log" ]
}

@test "restore-access: an unhealthy bot stops it with exit 1, the record stays, a second run finishes" {
  "$SCRIPTS/emergency.sh" isolate --stop-bot >/dev/null
  echo unhealthy >"$SHIM_STATE/health_mode"
  run "$SCRIPTS/emergency.sh" restore-access
  echo "$output"
  [ "$status" -eq 1 ]
  ! running nginx
  [ "$(rules)" = "allow OpenSSH" ]
  [ -e "$STATE_DIR/isolation" ]
  grep -q 'action=emergency result=failed action=restore-access step=bot-health' "$LOG_DIR/deployment.log"
  rm "$SHIM_STATE/health_mode"
  run "$SCRIPTS/emergency.sh" restore-access
  [ "$status" -eq 0 ]
  running nginx
  [ "$(rules)" = "$(sort "$T/rules.before")" ]
}

@test "restore-access: containers removed meanwhile (compose down) are created again" {
  "$SCRIPTS/emergency.sh" isolate >/dev/null
  docker compose -f "$COMPOSE_FILE" down
  docker compose -f "$COMPOSE_FILE" up -d postgres redis bot
  run "$SCRIPTS/emergency.sh" restore-access
  echo "$output"
  [ "$status" -eq 0 ]
  running nginx
  grep -q 'up -d --no-deps nginx' "$SHIM_STATE/calls.log"
}

@test "guard (the stack unit's ExecStartPre): open passes; isolated starts what isolate left running and fails" {
  run "$SCRIPTS/emergency.sh" guard
  [ "$status" -eq 0 ]
  "$SCRIPTS/emergency.sh" isolate >/dev/null
  # a reboot: the unit's ExecStop removed every container
  docker compose -f "$COMPOSE_FILE" down
  run "$SCRIPTS/emergency.sh" guard
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"the stack is isolated"*"restore-access"* ]]
  running postgres && running redis && running bot
  ! running nginx
  "$SCRIPTS/emergency.sh" restore-access
  running nginx
  # with --stop-bot the bot stays down too
  "$SCRIPTS/emergency.sh" isolate --stop-bot >/dev/null
  docker compose -f "$COMPOSE_FILE" down
  run "$SCRIPTS/emergency.sh" guard
  [ "$status" -eq 1 ]
  running postgres && running redis
  ! running bot && ! running nginx
}

@test "without an active ufw only the containers change, with a warning" {
  export UFW=no-such-ufw
  run "$SCRIPTS/emergency.sh" isolate
  [ "$status" -eq 0 ]
  [[ "$output" == *"ufw is not active; no firewall rule changed"* ]]
  ! running nginx
  run "$SCRIPTS/emergency.sh" restore-access
  [ "$status" -eq 0 ]
  running nginx
}

@test "usage errors exit 64; a held operations lock exits 75 and changes nothing" {
  for args in "" "bogus" "isolate restore-access" "restore-access --stop-bot" "isolate --ssh-from" "isolate --ssh-from 'a; rm'"; do
    eval "run '$SCRIPTS/emergency.sh' $args"
    [ "$status" -eq 64 ] || { echo "'$args' exited $status"; return 1; }
  done
  mkdir -p "$LOCK_DIR"
  flock "$LOCK_DIR/operations.lock" sleep 3 &
  holder=$!
  sleep 0.3
  run "$SCRIPTS/emergency.sh" isolate
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  [ "$status" -eq 75 ]
  running nginx
  [ ! -e "$STATE_DIR/isolation" ]
}
