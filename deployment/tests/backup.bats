#!/usr/bin/env bats
# backup.sh against the real local PostgreSQL through the docker shim.

load helpers

setup() {
  new_stack
  create_db
}

teardown() {
  drop_db
}

backups() { find "$BACKUP_DIR" -maxdepth 1 -name 'toogoodtogo_*.sql.gz' -printf '%f\n' 2>/dev/null | sort; }

# fake_backup NAME: a valid (small) backup with an arbitrary name, e.g. one dated in the past.
fake_backup() {
  mkdir -p "$BACKUP_DIR"
  printf -- '--\n-- PostgreSQL database dump\n--\nSELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n' |
    gzip -c >"$BACKUP_DIR/$1"
  echo '{}' >"$BACKUP_DIR/$1.meta.json"
}

days_ago() { date -u -d "@$(($(date +%s) - $1 * 86400))" +%Y%m%d_%H%M%S; }

@test "backup.sh --help documents usage and exit codes" {
  run "$SCRIPTS/backup.sh" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"Usage: backup.sh"* ]]
  [[ "$output" == *"75 another backup is running"* ]]
}

@test "unknown backup kind is a usage error (64) and writes nothing" {
  run "$SCRIPTS/backup.sh" weekly
  [ "$status" -eq 64 ]
  [[ "$output" == *"unknown backup kind"* ]]
  [ -z "$(backups)" ]
}

@test "manual backup: named _manual, verified, restorable content, metadata and metric" {
  run "$SCRIPTS/backup.sh" manual
  [ "$status" -eq 0 ]
  file="$(backups)"
  [[ "$file" =~ ^toogoodtogo_[0-9]{8}_[0-9]{6}_manual\.sql\.gz$ ]]
  gzip -t "$BACKUP_DIR/$file"
  gzip -cd "$BACKUP_DIR/$file" | grep -q '^COPY public.listings '
  gzip -cd "$BACKUP_DIR/$file" | grep -q 'bag 50'
  [ "$(stat -c %a "$BACKUP_DIR/$file")" = 600 ]
  meta="$BACKUP_DIR/$file.meta.json"
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["kind"]=="manual" and m["tables"]==2 and m["bot_version"]=="v1.0.0" and m["size_bytes"]>0, m' "$meta"
  grep -Eq '^toogoodtogo_backup_last_success_timestamp_seconds [0-9]{10}$' "$BACKUP_TEXTFILE_DIR/toogoodtogo_backup.prom"
  grep -q "action=backup result=ok kind=manual file=$file" "$LOG_DIR/deployment.log"
  [[ "$output" == *"backup written and verified"* ]]
  # no temporary files are left behind
  [ -z "$(find "$BACKUP_DIR" -name '.*')" ]
}

@test "scheduled backups have no suffix; pre_deployment backups are named _pre_deployment" {
  run "$SCRIPTS/backup.sh" scheduled
  [ "$status" -eq 0 ]
  run "$SCRIPTS/backup.sh" pre_deployment
  [ "$status" -eq 0 ]
  run backups
  [ "${#lines[@]}" -eq 2 ]
  printf '%s\n' "${lines[@]}" | grep -Eq '^toogoodtogo_[0-9]{8}_[0-9]{6}\.sql\.gz$'
  printf '%s\n' "${lines[@]}" | grep -Eq '^toogoodtogo_[0-9]{8}_[0-9]{6}_pre_deployment\.sql\.gz$'
}

@test "scheduled run prunes scheduled backups older than 7 days, keeps manual and pre-deployment ones" {
  old1="toogoodtogo_$(days_ago 8).sql.gz"
  old2="toogoodtogo_$(days_ago 30).sql.gz"
  recent="toogoodtogo_$(days_ago 6).sql.gz"
  oldmanual="toogoodtogo_$(days_ago 40)_manual.sql.gz"
  oldpre="toogoodtogo_$(days_ago 40)_pre_deployment.sql.gz"
  for f in "$old1" "$old2" "$recent" "$oldmanual" "$oldpre"; do fake_backup "$f"; done
  run "$SCRIPTS/backup.sh" scheduled
  [ "$status" -eq 0 ]
  [ ! -e "$BACKUP_DIR/$old1" ] && [ ! -e "$BACKUP_DIR/$old1.meta.json" ]
  [ ! -e "$BACKUP_DIR/$old2" ]
  [ -e "$BACKUP_DIR/$recent" ]
  [ -e "$BACKUP_DIR/$oldmanual" ]
  [ -e "$BACKUP_DIR/$oldpre" ]
  [[ "$output" == *"removed $old1"* ]]
}

@test "pruning keeps the newest good scheduled backup even when it is old" {
  good_old="toogoodtogo_$(days_ago 20).sql.gz"
  older="toogoodtogo_$(days_ago 25).sql.gz"
  corrupt_newer="toogoodtogo_$(days_ago 10).sql.gz"
  fake_backup "$good_old"
  fake_backup "$older"
  echo "not gzip" >"$BACKUP_DIR/$corrupt_newer"
  # the database is unreachable, so this run cannot produce a new good backup...
  SHIM_PGPORT=1 run "$SCRIPTS/backup.sh" scheduled
  [ "$status" -eq 1 ]
  # ...and an explicit cleanup of everything older than 1 day must still keep the newest good one
  run "$SCRIPTS/backup.sh" cleanup --older-than 1
  [ "$status" -eq 0 ]
  [ -e "$BACKUP_DIR/$good_old" ]
  [ ! -e "$BACKUP_DIR/$older" ]
  [ ! -e "$BACKUP_DIR/$corrupt_newer" ]
}

@test "cleanup --older-than removes old backups of every kind" {
  fake_backup "toogoodtogo_$(days_ago 15)_manual.sql.gz"
  fake_backup "toogoodtogo_$(days_ago 15)_pre_deployment.sql.gz"
  fake_backup "toogoodtogo_$(days_ago 2)_manual.sql.gz"
  run "$SCRIPTS/backup.sh" cleanup --older-than 10
  [ "$status" -eq 0 ]
  run backups
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == *_manual.sql.gz ]]
  grep -q 'action=backup-cleanup result=ok older_than_days=10 removed=2' "$LOG_DIR/deployment.log"
}

@test "cleanup without --older-than is a usage error" {
  run "$SCRIPTS/backup.sh" cleanup
  [ "$status" -eq 64 ]
}

@test "not enough free space: exit 3 before dumping, nothing written" {
  BACKUP_MIN_FREE_MB=999999999 run "$SCRIPTS/backup.sh" manual
  [ "$status" -eq 3 ]
  [[ "$output" == *"not enough free space"* ]]
  [ -z "$(ls -A "$BACKUP_DIR")" ]
  ! calls | grep -q pg_dump
  grep -q 'action=backup result=failed kind=manual exit=3' "$LOG_DIR/deployment.log"
}

@test "dump failure: exit 1 and no file under a final name" {
  # the database name is wrong: pg_isready passes, pg_dump fails
  sed -i "s/^POSTGRES_DB=.*/POSTGRES_DB=${TEST_DB}_missing/" "$ENV_FILE"
  run "$SCRIPTS/backup.sh" manual
  [ "$status" -eq 1 ]
  [[ "$output" == *"pg_dump failed"* ]]
  [ -z "$(ls -A "$BACKUP_DIR")" ]
  [ ! -e "$BACKUP_TEXTFILE_DIR/toogoodtogo_backup.prom" ]
}

@test "a dump that is not a complete pg_dump is refused with exit 2" {
  # a pg_dump that stops half-way (exit 0 but truncated output)
  mkdir -p "$T/bin"
  cat >"$T/bin/pg_dump" <<'SH'
#!/bin/sh
printf -- '--\n-- PostgreSQL database dump\n--\nCREATE TABLE public.t (id int);\n'
SH
  chmod +x "$T/bin/pg_dump"
  PATH="$T/bin:$PATH" run "$SCRIPTS/backup.sh" manual
  [ "$status" -eq 2 ]
  [[ "$output" == *"incomplete PostgreSQL dump"* ]]
  [ -z "$(ls -A "$BACKUP_DIR")" ]
}

@test "upload hook runs with the backup file after a good backup" {
  BACKUP_UPLOAD_CMD='cp "$1" "$1.meta.json" '"$T/offsite/" run bash -c "mkdir -p '$T/offsite' && '$SCRIPTS/backup.sh' manual"
  [ "$status" -eq 0 ]
  [ "$(ls "$T/offsite" | grep -c 'sql.gz$')" -eq 1 ]
  cmp "$T/offsite/$(backups)" "$BACKUP_DIR/$(backups)"
}

@test "failing upload hook: exit 4, the local backup stays" {
  BACKUP_UPLOAD_CMD='exit 7' run "$SCRIPTS/backup.sh" manual
  [ "$status" -eq 4 ]
  [ -n "$(backups)" ]
  gzip -t "$BACKUP_DIR/$(backups)"
}

@test "a second backup while one runs is refused with exit 75" {
  mkdir -p "$LOCK_DIR"
  flock "$LOCK_DIR/backup.lock" sleep 3 &
  holder=$!
  sleep 0.3
  run "$SCRIPTS/backup.sh" manual
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  [ "$status" -eq 75 ]
  [[ "$output" == *"another run holds the backup lock"* ]]
  [ -z "$(backups)" ]
}

@test "the library works without docker: pgb_backup and pgb_restore with plain PG* variables" {
  # what the operator's backup Jobs do: source the library, no compose, no docker
  mkdir -p "$T/nodocker"
  printf '#!/bin/sh\necho "docker must not be called" >&2\nexit 99\n' >"$T/nodocker/docker"
  chmod +x "$T/nodocker/docker"
  before="$(db_fingerprint)"
  run env -i PATH="$T/nodocker:/usr/bin:/bin:/usr/local/bin" HOME="$HOME" \
    PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" PGDATABASE="$TEST_DB" \
    BACKUP_DIR="$T/job-backups" BACKUP_TEXTFILE_DIR="" \
    bash -c ". '$SCRIPTS/lib/pg-backup.sh' && pgb_backup scheduled && echo \"FILE=\$PGB_LAST_BACKUP\""
  echo "$output"
  [ "$status" -eq 0 ]
  file="$(sed -n 's/^FILE=//p' <<<"$output")"
  [[ "$(basename "$file")" =~ ^toogoodtogo_[0-9]{8}_[0-9]{6}\.sql\.gz$ ]]
  psql -X -q -d "$TEST_DB" -c "DELETE FROM orders; DROP TABLE listings CASCADE"
  run env -i PATH="$T/nodocker:/usr/bin:/bin:/usr/local/bin" HOME="$HOME" \
    PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" PGDATABASE="$TEST_DB" \
    bash -c ". '$SCRIPTS/lib/pg-backup.sh' && pgb_restore '$file'"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(db_fingerprint)" = "$before" ]
}
