#!/usr/bin/env bats
# lib/pg-backup.sh called the way the Kubernetes operator's Jobs call it: PGB_EXEC empty (the
# PostgreSQL tools run here, configured by PG* variables), PGB_PRUNE=0 (the operator decides what
# is pruned), against the real local PostgreSQL.

load helpers

setup() {
  new_stack
  create_db
  export PGB_EXEC="" PGB_DB="$TEST_DB" PGB_PRUNE=0 BACKUP_TEXTFILE_DIR="" BOT_VERSION=1.4.2
  # shellcheck source=../scripts/lib/pg-backup.sh
  . "$SCRIPTS/lib/pg-backup.sh"
}

teardown() {
  drop_db
  dropdb --if-exists --force "${SCRATCH:-toogoodtogo_restore_check}" >/dev/null 2>&1 || true
}

backups() { find "$BACKUP_DIR" -maxdepth 1 -name 'toogoodtogo_*.sql.gz' -printf '%f\n' 2>/dev/null | sort; }

days_ago() { date -u -d "@$(($(date +%s) - $1 * 86400))" +%Y%m%d_%H%M%S; }

fake_backup() {
  mkdir -p "$BACKUP_DIR"
  printf -- '--\n-- PostgreSQL database dump\n--\nSELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n' |
    gzip -c >"$BACKUP_DIR/$1"
  echo '{}' >"$BACKUP_DIR/$1.meta.json"
}

@test "operator job: a scheduled backup with PGB_PRUNE=0 writes a verified dump and its metadata, and prunes nothing" {
  old="toogoodtogo_$(days_ago 30).sql.gz"
  fake_backup "$old"
  run pgb_backup scheduled
  [ "$status" -eq 0 ]
  [[ "$output" != *"removed"* ]]
  [ -e "$BACKUP_DIR/$old" ]
  # once more outside `run`, to read PGB_LAST_BACKUP
  pgb_backup scheduled >/dev/null
  new="$(basename "$PGB_LAST_BACKUP")"
  [[ "$new" =~ ^toogoodtogo_[0-9]{8}_[0-9]{6}\.sql\.gz$ ]]
  gzip -cd "$BACKUP_DIR/$new" | grep -q '^CREATE TABLE public.listings '
  # the metadata the operator reads back as the Job's termination message
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["file"]==sys.argv[2] and m["kind"]=="scheduled" and m["size_bytes"]>0 and len(m["sha256"])==64 and m["bot_version"]=="1.4.2" and m["tables"]==2, m' \
    "$BACKUP_DIR/$new.meta.json" "$new"
}

@test "pgb_remove deletes exactly the named backups and their metadata" {
  a="toogoodtogo_$(days_ago 9).sql.gz"
  b="toogoodtogo_$(days_ago 8)_manual.sql.gz"
  keep="toogoodtogo_$(days_ago 7).sql.gz"
  for f in "$a" "$b" "$keep"; do fake_backup "$f"; done
  run pgb_remove "$a" "$b"
  [ "$status" -eq 0 ]
  [[ "$output" == *"removed $a"* ]]
  [ "$(backups)" = "$keep" ]
  [ ! -e "$BACKUP_DIR/$a.meta.json" ] && [ ! -e "$BACKUP_DIR/$b.meta.json" ]
  [ -e "$BACKUP_DIR/$keep.meta.json" ]
  # already gone: still fine (a prune Job that is retried must not fail)
  run pgb_remove "$a"
  [ "$status" -eq 0 ]
}

@test "pgb_remove refuses anything that is not a bare backup name and then deletes nothing" {
  a="toogoodtogo_$(days_ago 9).sql.gz"
  fake_backup "$a"
  echo precious >"$T/precious"
  run pgb_remove "$a" "../stack/precious"
  [ "$status" -eq 64 ]
  [[ "$output" == *"not a backup file name"* ]]
  [ -e "$BACKUP_DIR/$a" ]
  [ -e "$T/precious" ]
  run pgb_remove "/etc/passwd"
  [ "$status" -eq 64 ]
  run pgb_remove "notes.txt"
  [ "$status" -eq 64 ]
}

@test "dry run: a good backup restores into a scratch database, the live database is untouched" {
  pgb_backup manual
  file="$PGB_LAST_BACKUP"
  psql -X -q -d "$TEST_DB" -c "INSERT INTO listings VALUES (999, 'after the backup', 1)"
  before="$(db_fingerprint)"
  SCRATCH="tgtg_check_${RANDOM}"
  run pgb_restore_check "$file" "$SCRATCH"
  [ "$status" -eq 0 ]
  [[ "$output" == *"restores into a scratch database (2 tables)"* ]]
  [ "$(db_fingerprint)" = "$before" ]
  # the scratch database is gone again
  [ -z "$(psql -X -tA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$SCRATCH'")" ]
}

@test "dry run: a corrupt file is refused with exit 2 before any database is created" {
  mkdir -p "$BACKUP_DIR"
  file="$BACKUP_DIR/toogoodtogo_$(days_ago 1)_manual.sql.gz"
  printf 'definitely not gzip' >"$file"
  SCRATCH="tgtg_check_${RANDOM}"
  run pgb_restore_check "$file" "$SCRATCH"
  [ "$status" -eq 2 ]
  [[ "$output" == *"not a valid gzip archive"* ]]
  [ -z "$(psql -X -tA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$SCRATCH'")" ]
  run pgb_restore_check "$BACKUP_DIR/toogoodtogo_20200101_000000.sql.gz" "$SCRATCH"
  [ "$status" -eq 2 ]
  [[ "$output" == *"not found"* ]]
}

@test "dry run: a complete dump that fails to restore reports exit 1 and drops the scratch database" {
  mkdir -p "$BACKUP_DIR"
  file="$BACKUP_DIR/toogoodtogo_$(days_ago 1)_manual.sql.gz"
  printf -- '--\n-- PostgreSQL database dump\n--\nCREATE TABLE public.t (id int);\nINSERT INTO public.nope VALUES (1);\n--\n-- PostgreSQL database dump complete\n--\n' |
    gzip -c >"$file"
  SCRATCH="tgtg_check_${RANDOM}"
  run pgb_restore_check "$file" "$SCRATCH"
  [ "$status" -eq 1 ]
  [[ "$output" == *"restore failed"* ]]
  [ -z "$(psql -X -tA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$SCRATCH'")" ]
}

@test "restore with PGB_EXEC empty replaces the live data in one transaction" {
  pgb_backup manual
  file="$PGB_LAST_BACKUP"
  before="$(db_fingerprint)"
  psql -X -q -d "$TEST_DB" -c "DELETE FROM orders" -c "DELETE FROM listings WHERE id > 10"
  [ "$(db_fingerprint)" != "$before" ]
  run pgb_restore "$file"
  [ "$status" -eq 0 ]
  [ "$(db_fingerprint)" = "$before" ]
}
