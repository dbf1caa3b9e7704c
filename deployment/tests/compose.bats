#!/usr/bin/env bats
# The docker double finds its configuration the way Compose does, so that a bare
# `docker compose ...` in a test works only where it works on the host: in the deployment
# directory, where .env (a link to .env.production) sets COMPOSE_FILE.

load helpers

setup() {
  new_stack
  unset COMPOSE_FILE
}

@test "bare docker compose in the deployment directory finds the stack through .env's COMPOSE_FILE" {
  cd "$DEPLOY_DIR"
  run docker compose ps postgres
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"toogoodtogo_postgres"*"Up"* ]]
  grep -qx 'COMPOSE_FILE=docker-compose.prod.yml' "$DEPLOYMENT_SRC/.env.production.example"
}

@test "without COMPOSE_FILE, -f or a default file name: no configuration file provided" {
  sed -i '/^COMPOSE_FILE=/d' "$ENV_FILE"
  cd "$DEPLOY_DIR"
  run docker compose ps
  [ "$status" -eq 1 ]
  [ "$output" = "no configuration file provided: not found" ]
  # the scripts directory has no .env: the same there, even with COMPOSE_FILE in the env file
  mkdir -p "$DEPLOY_DIR/scripts"
  cd "$DEPLOY_DIR/scripts"
  run docker compose logs bot
  [ "$status" -eq 1 ]
  [[ "$output" == "no configuration file provided: not found" ]]
}

@test "COMPOSE_FILE from the environment, default names in a parent directory, -f must exist" {
  cd "$T"
  # .env is read from the working directory, so the interpolated values must come from elsewhere
  COMPOSE_FILE="$DEPLOY_DIR/docker-compose.prod.yml" run docker compose ps
  [ "$status" -eq 1 ]
  COMPOSE_FILE="$DEPLOY_DIR/docker-compose.prod.yml" BOT_VERSION=v1.0.0 REDIS_PASSWORD=x DOMAIN=d \
    run docker compose ps
  [ "$status" -eq 0 ]
  run docker compose -f docker-compose.prod.yml ps
  [ "$status" -eq 1 ]
  [ "$output" = "open $T/docker-compose.prod.yml: no such file or directory" ]
  mkdir -p "$T/proj/sub"
  printf 'name: other\nservices:\n  web:\n    image: nginx\n' >"$T/proj/compose.yaml"
  cd "$T/proj/sub"
  run docker compose up -d
  [ "$status" -eq 0 ]
  [ -e "$SHIM_STATE/projects/other/running/web" ]
  [ ! -e "$SHIM_STATE/running/web" ]
}

@test "without the .env link, interpolation stops with Compose's message" {
  rm "$DEPLOY_DIR/.env"
  run docker compose -f "$DEPLOY_DIR/docker-compose.prod.yml" ps
  [ "$status" -eq 1 ]
  [[ "$output" == *"required variable BOT_VERSION is missing a value: BOT_VERSION is not set - link .env to .env.production"* ]]
}

@test "logs --since takes Docker's forms only: 12h, 90m, RFC 3339, Unix time; not '12 hours ago'" {
  cd "$DEPLOY_DIR"
  for v in 12h 1h 10m 90m 1h30m 2025-01-04T10:00:00Z 2025-01-04 1736000000; do
    run docker compose logs --since "$v" bot
    [ "$status" -eq 0 ] || { echo "$v refused: $output"; return 1; }
  done
  for v in "12 hours ago" "1 hour ago" "10 minutes ago"; do
    run docker compose logs --since "$v"
    [ "$status" -eq 1 ]
    [[ "$output" == *"failed to parse value as time or duration: \"$v\""* ]]
  done
}

@test "exec into the distroless bot runs only toogoodtogo-bot; exec into a stopped service fails" {
  cd "$DEPLOY_DIR"
  run docker compose exec bot python -c "print('OK')"
  [ "$status" -eq 126 ]
  [[ "$output" == *'exec: "python": executable file not found in $PATH'* ]]
  run docker compose exec bot toogoodtogo-bot webhook info
  [ "$status" -eq 0 ]
  docker compose stop redis
  run docker compose exec redis redis-cli ping
  [ "$status" -eq 1 ]
  [[ "$output" == *'service "redis" is not running'* ]]
  run docker ps -a
  [[ "$output" == *"Exited (0)"*"toogoodtogo_redis"* ]]
}
