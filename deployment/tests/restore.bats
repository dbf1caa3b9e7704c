#!/usr/bin/env bats
# restore.sh against the real local PostgreSQL through the docker shim.

load helpers

setup() {
  new_stack
  create_db
  start_fake_bot
}

teardown() {
  stop_fake_bot
  drop_db
}

# backup_now: a real backup of the test database; sets BACKUP.
backup_now() {
  "$SCRIPTS/backup.sh" manual >/dev/null
  BACKUP="$(find "$BACKUP_DIR" -name 'toogoodtogo_*_manual.sql.gz' | sort | tail -n 1)"
  [ -n "$BACKUP" ]
}

change_data() {
  psql -X -q -v ON_ERROR_STOP=1 -d "$TEST_DB" <<'SQL'
DELETE FROM orders WHERE id > 10;
UPDATE listings SET price_cents = 1 WHERE id <= 5;
INSERT INTO listings VALUES (1000, 'added after the backup', 5);
CREATE TABLE added_later (id int);
SQL
}

@test "round trip: restores exactly the rows that were dumped, with safety backup and restart" {
  before="$(db_fingerprint)"
  backup_now
  change_data
  changed="$(db_fingerprint)"
  [ "$before" != "$changed" ]
  : >"$SHIM_STATE/calls.log"
  run "$SCRIPTS/restore.sh" "$BACKUP" --yes
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(db_fingerprint)" = "$before" ]
  # objects created after the backup are gone
  [ -z "$(psql -X -tA -d "$TEST_DB" -c "SELECT to_regclass('public.added_later')")" ]
  # the safety backup holds the data as it was before the restore
  safety="$(find "$BACKUP_DIR" -name 'toogoodtogo_*_pre_restore.sql.gz')"
  [ -n "$safety" ]
  gzip -cd "$safety" | grep -q 'added after the backup'
  # order: bot stopped, migrations, bot started
  stop_line=$(grep -n 'stop bot' "$SHIM_STATE/calls.log" | cut -d: -f1)
  migrate_line=$(grep -n 'run --rm --no-deps migrate' "$SHIM_STATE/calls.log" | cut -d: -f1)
  up_line=$(grep -n 'up -d bot' "$SHIM_STATE/calls.log" | cut -d: -f1)
  [ "$stop_line" -lt "$migrate_line" ] && [ "$migrate_line" -lt "$up_line" ]
  [ -e "$SHIM_STATE/running/bot" ]
  grep -q "action=restore result=ok file=$(basename "$BACKUP")" "$LOG_DIR/deployment.log"
}

@test "dry run checks file and database and touches nothing" {
  backup_now
  change_data
  changed="$(db_fingerprint)"
  : >"$SHIM_STATE/calls.log"
  count_before="$(find "$BACKUP_DIR" -name '*.sql.gz' | wc -l)"
  run "$SCRIPTS/restore.sh" --dry-run "$BACKUP"
  [ "$status" -eq 0 ]
  [[ "$output" == *"dry run: would take a safety backup"* ]]
  [ "$(db_fingerprint)" = "$changed" ]
  [ "$(find "$BACKUP_DIR" -name '*.sql.gz' | wc -l)" -eq "$count_before" ]
  ! grep -Eq 'stop|up |run |psql' "$SHIM_STATE/calls.log"
  grep -q 'action=restore result=dry-run' "$LOG_DIR/deployment.log"
}

@test "corrupt (truncated) backup is refused with exit 2 before anything is touched" {
  backup_now
  head -c 300 "$BACKUP" >"$T/truncated.sql.gz"
  before="$(db_fingerprint)"
  : >"$SHIM_STATE/calls.log"
  run "$SCRIPTS/restore.sh" "$T/truncated.sql.gz" --yes
  [ "$status" -eq 2 ]
  [[ "$output" == *"not a valid gzip archive"* ]]
  [[ "$output" == *"nothing was changed"* ]]
  [ "$(db_fingerprint)" = "$before" ]
  [ ! -s "$SHIM_STATE/calls.log" ]
  [ -z "$(find "$BACKUP_DIR" -name '*_pre_restore.sql.gz')" ]
}

@test "missing file and a gzip that is not a dump are refused with exit 2" {
  run "$SCRIPTS/restore.sh" "$T/nope.sql.gz" --yes
  [ "$status" -eq 2 ]
  echo "hello" | gzip -c >"$T/notadump.sql.gz"
  run "$SCRIPTS/restore.sh" "$T/notadump.sql.gz" --yes
  [ "$status" -eq 2 ]
  [[ "$output" == *"not a PostgreSQL dump"* ]]
}

@test "database unreachable: exit 3, bot not stopped" {
  backup_now
  : >"$SHIM_STATE/calls.log"
  SHIM_PGPORT=1 PG_START_WAIT_SECONDS=1 run "$SCRIPTS/restore.sh" "$BACKUP" --yes
  [ "$status" -eq 3 ]
  [[ "$output" == *"unreachable"* ]]
  ! grep -q 'stop bot' "$SHIM_STATE/calls.log"
  [ -e "$SHIM_STATE/running/bot" ]
}

@test "a dump that fails half-way leaves the database unchanged and the bot running" {
  before="$(db_fingerprint)"
  {
    printf -- '--\n-- PostgreSQL database dump\n--\n'
    printf 'CREATE TABLE public.partial (id int);\nINSERT INTO public.no_such_table VALUES (1);\n'
    printf -- '--\n-- PostgreSQL database dump complete\n--\n'
  } | gzip -c >"$T/bad.sql.gz"
  run "$SCRIPTS/restore.sh" "$T/bad.sql.gz" --yes
  [ "$status" -eq 1 ]
  [[ "$output" == *"the database is unchanged"* ]]
  [ "$(db_fingerprint)" = "$before" ]
  [ -e "$SHIM_STATE/running/bot" ]
}

@test "bot unhealthy after the restore: exit 1 naming the safety backup" {
  backup_now
  echo unhealthy >"$SHIM_STATE/health_mode"
  run "$SCRIPTS/restore.sh" "$BACKUP" --yes
  [ "$status" -eq 1 ]
  [[ "$output" == *"previous database is in $BACKUP_DIR/toogoodtogo_"*"_pre_restore.sql.gz"* ]]
}

@test "without --yes and without a terminal it refuses (64); locked is 75" {
  backup_now
  run "$SCRIPTS/restore.sh" "$BACKUP" </dev/null
  [ "$status" -eq 64 ]
  mkdir -p "$LOCK_DIR"
  flock "$LOCK_DIR/operations.lock" sleep 3 &
  holder=$!
  sleep 0.3
  run "$SCRIPTS/restore.sh" "$BACKUP" --yes
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  [ "$status" -eq 75 ]
}

@test "--verify latest: restores the newest backup into a scratch database, counts, drops it, reports" {
  backup_now
  before="$(db_fingerprint)"
  export RESTORE_VERIFY_DB="${TEST_DB}_verify"
  : >"$SHIM_STATE/calls.log"
  run "$SCRIPTS/restore.sh" --verify latest
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"verified $(basename "$BACKUP"): restored into the scratch database $RESTORE_VERIFY_DB: 2 tables, 70 rows; dropped it"* ]]
  [ "$(psql -X -tA -c "SELECT count(*) FROM pg_database WHERE datname = '$RESTORE_VERIFY_DB'")" = 0 ]
  [ "$(db_fingerprint)" = "$before" ]
  ! grep -Eq 'stop|up |run ' "$SHIM_STATE/calls.log"
  prom="$BACKUP_TEXTFILE_DIR/toogoodtogo_restore_verify.prom"
  grep -qx 'toogoodtogo_backup_restore_verify_success 1' "$prom"
  grep -qx 'toogoodtogo_backup_restore_verify_tables 2' "$prom"
  grep -qx 'toogoodtogo_backup_restore_verify_rows 70' "$prom"
  grep -q '^toogoodtogo_backup_restore_verify_last_success_timestamp_seconds [0-9]' "$prom"
  promtool check metrics <"$prom"
  grep -q "action=restore-verify result=ok file=$(basename "$BACKUP") tables=2 rows=70" "$LOG_DIR/deployment.log"
}

@test "--verify: a corrupt backup is exit 2 and success 0, the last success time is kept" {
  backup_now
  export RESTORE_VERIFY_DB="${TEST_DB}_verify"
  "$SCRIPTS/restore.sh" --verify "$BACKUP" >/dev/null
  prom="$BACKUP_TEXTFILE_DIR/toogoodtogo_restore_verify.prom"
  last="$(sed -n 's/^toogoodtogo_backup_restore_verify_last_success_timestamp_seconds //p' "$prom")"
  head -c 100 "$BACKUP" >"$BACKUP_DIR/toogoodtogo_29991231_000000.sql.gz"
  run "$SCRIPTS/restore.sh" --verify latest
  [ "$status" -eq 2 ]
  grep -qx 'toogoodtogo_backup_restore_verify_success 0' "$prom"
  grep -qx "toogoodtogo_backup_restore_verify_last_success_timestamp_seconds $last" "$prom"
  SHIM_PGPORT=1 run "$SCRIPTS/restore.sh" --verify "$BACKUP"
  [ "$status" -eq 3 ]
}
