#!/usr/bin/env bats
# deploy.sh and rollback.sh: real git checkouts and backups of the local PostgreSQL, the stack
# simulated by the docker shim, the bot's health by the stand-in.

load helpers

setup() {
  new_stack
  git_releases
  create_db
  start_fake_bot
}

teardown() {
  stop_fake_bot
  drop_db
}

line_of() { grep -n -- "$1" "$SHIM_STATE/calls.log" | head -n 1 | cut -d: -f1; }

@test "deploy: backup, checkout, image, migrations, start, healthy" {
  run "$SCRIPTS/deploy.sh" v1.1.0
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(checked_out)" = v1.1.0 ]
  [ "$(recorded_version)" = v1.1.0 ]
  [ "$(running_version)" = v1.1.0 ]
  grep -qx v1.1.0 "$SHIM_STATE/migrated"
  [ -n "$(find "$BACKUP_DIR" -name 'toogoodtogo_*_pre_deployment.sql.gz')" ]
  # the backup happens before the migrations, which happen before the new bot starts
  [ "$(line_of 'pg_dump')" -lt "$(line_of 'run --rm --no-deps migrate')" ]
  [ "$(line_of 'run --rm --no-deps migrate')" -lt "$(line_of 'up -d --no-deps --force-recreate bot')" ]
  grep -q 'action=deploy result=ok version=v1.1.0 from=v1.0.0' "$LOG_DIR/deployment.log"
  grep -q ' v1.1.0 deployed$' "$STATE_DIR/releases"
  # the env file kept its mode and its other settings
  [ "$(stat -c %a "$ENV_FILE")" = 600 ]
  grep -qx 'SECRET_KEY=old-secret-key-1111' "$ENV_FILE"
}

@test "deploy of the version already running and healthy is a no-op" {
  run "$SCRIPTS/deploy.sh" v1.0.0
  [ "$status" -eq 0 ]
  [[ "$output" == *"already running and healthy; nothing to do"* ]]
  ! grep -Eq 'pg_dump|pull|up |migrate' "$SHIM_STATE/calls.log"
  [ -z "$(ls -A "$BACKUP_DIR" 2>/dev/null)" ]
  grep -q 'action=deploy result=noop version=v1.0.0' "$LOG_DIR/deployment.log"
}

@test "deploy rolls back automatically when the new version does not become healthy (exit 1)" {
  echo v2.0.0 >"$SHIM_STATE/broken_versions"
  run "$SCRIPTS/deploy.sh" v2.0.0
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"v2.0.0 did not become healthy"* ]]
  [[ "$output" == *"rolled back to v1.0.0, which is healthy"* ]]
  [ "$(running_version)" = v1.0.0 ]
  [ "$(recorded_version)" = v1.0.0 ]
  [ "$(checked_out)" = v1.0.0 ]
  grep -q 'action=deploy result=rolled-back version=v2.0.0 from=v1.0.0 reason=health' "$LOG_DIR/deployment.log"
  grep -q ' v2.0.0 failed$' "$STATE_DIR/releases"
}

@test "failed migration: exit 3, old version keeps running, nothing recorded" {
  SHIM_MIGRATE_FAIL=v2.0.0 run "$SCRIPTS/deploy.sh" v2.0.0
  echo "$output"
  [ "$status" -eq 3 ]
  [[ "$output" == *"migrations of v2.0.0 failed"* ]]
  [ "$(running_version)" = v1.0.0 ]
  [ "$(recorded_version)" = v1.0.0 ]
  [ "$(checked_out)" = v1.0.0 ]
  # the new version's container was never started
  ! grep -q 'force-recreate bot' "$SHIM_STATE/calls.log"
  grep -q 'action=deploy result=rolled-back version=v2.0.0 from=v1.0.0 reason=migration' "$LOG_DIR/deployment.log"
}

@test "failed pre-deployment backup: exit 2 and nothing changes" {
  SHIM_PGPORT=1 run "$SCRIPTS/deploy.sh" v1.1.0
  [ "$status" -eq 2 ]
  [[ "$output" == *"pre-deployment backup failed; nothing was changed"* ]]
  [ "$(checked_out)" = v1.0.0 ]
  [ "$(recorded_version)" = v1.0.0 ]
  ! grep -Eq 'pull|up |migrate' "$SHIM_STATE/calls.log"
}

@test "--skip-backup and --skip-migration skip exactly those steps" {
  run "$SCRIPTS/deploy.sh" v1.1.0 --skip-backup --skip-migration
  [ "$status" -eq 0 ]
  [ -z "$(ls -A "$BACKUP_DIR" 2>/dev/null)" ]
  [ ! -e "$SHIM_STATE/migrated" ]
  [ "$(running_version)" = v1.1.0 ]
  [[ "$output" == *"skipping the pre-deployment backup"* ]]
}

@test "a second deploy while one runs is refused with exit 75" {
  SHIM_SLOW=pull SHIM_SLOW_SECONDS=3 "$SCRIPTS/deploy.sh" v1.1.0 --skip-backup >"$T/first.out" 2>&1 3>&- &
  first=$!
  for _ in $(seq 1 40); do grep -q pull "$SHIM_STATE/calls.log" 2>/dev/null && break; sleep 0.1; done
  run "$SCRIPTS/deploy.sh" v2.0.0 --skip-backup
  wait "$first"
  first_status=$?
  [ "$status" -eq 75 ]
  [[ "$output" == *"another run holds the operations lock"* ]]
  [ "$first_status" -eq 0 ]
  [ "$(running_version)" = v1.1.0 ]
  ! grep -q v2.0.0 "$SHIM_STATE/calls.log"
}

@test "unknown tag: exit 64 before any backup; no tag: usage error" {
  run "$SCRIPTS/deploy.sh" v9.9.9
  [ "$status" -eq 64 ]
  [[ "$output" == *"unknown tag v9.9.9"* ]]
  [ -z "$(ls -A "$BACKUP_DIR" 2>/dev/null)" ]
  run "$SCRIPTS/deploy.sh"
  [ "$status" -eq 64 ]
  run "$SCRIPTS/deploy.sh" 'v1;rm -rf /'
  [ "$status" -eq 64 ]
}

@test "image not published: built locally; neither pull nor build: exit 1, nothing changed" {
  SHIM_FAIL=pull run "$SCRIPTS/deploy.sh" v1.1.0 --skip-backup
  [ "$status" -eq 0 ]
  grep -q 'build bot' "$SHIM_STATE/calls.log"
  SHIM_FAIL="pull build" run "$SCRIPTS/deploy.sh" v2.0.0 --skip-backup
  [ "$status" -eq 1 ]
  [ "$(running_version)" = v1.1.0 ]
  [ "$(recorded_version)" = v1.1.0 ]
  [ "$(checked_out)" = v1.1.0 ]
}

@test "rollback without a version returns to the previous release, without migrations" {
  "$SCRIPTS/deploy.sh" v1.1.0 --skip-backup >/dev/null
  rm -f "$SHIM_STATE/migrated"
  run "$SCRIPTS/rollback.sh"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(running_version)" = v1.0.0 ]
  [ "$(recorded_version)" = v1.0.0 ]
  [ "$(checked_out)" = v1.0.0 ]
  [ ! -e "$SHIM_STATE/migrated" ]
  grep -q 'action=rollback result=ok version=v1.0.0 from=v1.1.0' "$LOG_DIR/deployment.log"
}

@test "rollback to a named version; unknown version is exit 2" {
  "$SCRIPTS/deploy.sh" v2.0.0 --skip-backup >/dev/null
  run "$SCRIPTS/rollback.sh" v1.1.0
  [ "$status" -eq 0 ]
  [ "$(running_version)" = v1.1.0 ]
  run "$SCRIPTS/rollback.sh" v0.0.1
  [ "$status" -eq 2 ]
  [[ "$output" == *"unknown version v0.0.1"* ]]
  [ "$(running_version)" = v1.1.0 ]
}

@test "rollback with no history and no version is exit 2" {
  run "$SCRIPTS/rollback.sh"
  [ "$status" -eq 2 ]
  [[ "$output" == *"no previous release"* ]]
}

@test "rollback to a version that does not become healthy restarts the current one (exit 1)" {
  echo v1.1.0 >"$SHIM_STATE/broken_versions"
  run "$SCRIPTS/rollback.sh" v1.1.0
  [ "$status" -eq 1 ]
  [ "$(running_version)" = v1.0.0 ]
  [ "$(recorded_version)" = v1.0.0 ]
  [[ "$output" == *"v1.0.0 runs again"* ]]
}

@test "health polling during a deploy does not flood the audit log" {
  echo v2.0.0 >"$SHIM_STATE/broken_versions"
  run "$SCRIPTS/deploy.sh" v2.0.0 --skip-backup
  [ "$status" -eq 1 ]
  ! grep -q 'action=health-check' "$LOG_DIR/deployment.log"
  [ "$(grep -c 'script=deploy.sh' "$LOG_DIR/deployment.log")" -eq 1 ]
}

@test "a deploy interrupted while waiting for health goes back to the previous release" {
  echo v2.0.0 >"$SHIM_STATE/broken_versions"
  HEALTH_WAIT_SECONDS=30 "$SCRIPTS/deploy.sh" v2.0.0 --skip-backup >"$T/deploy.out" 2>&1 3>&- &
  pid=$!
  for _ in $(seq 1 50); do grep -q 'force-recreate bot' "$SHIM_STATE/calls.log" 2>/dev/null && break; sleep 0.1; done
  sleep 0.5
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  cat "$T/deploy.out"
  [ "$rc" -eq 1 ]
  grep -q 'interrupted; going back to v1.0.0' "$T/deploy.out"
  [ "$(running_version)" = v1.0.0 ]
  [ "$(recorded_version)" = v1.0.0 ]
  [ "$(checked_out)" = v1.0.0 ]
  grep -q 'action=deploy result=interrupted version=v2.0.0' "$LOG_DIR/deployment.log"
}
