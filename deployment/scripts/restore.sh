#!/usr/bin/env bash
# Restore the PostgreSQL database of the single-host stack from a backup.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: restore.sh <backup-file> [--dry-run] [--yes]
       restore.sh --verify <backup-file>|latest

Restores toogoodtogo_*.sql.gz (made by backup.sh) into the stack's database:
  1. checks the file (gzip -t and a complete pg_dump) - nothing is touched when it is bad;
  2. makes sure PostgreSQL is up (starts the postgres service if needed);
  3. takes a safety backup of the current database (toogoodtogo_..._pre_restore.sql.gz);
  4. stops the bot, replaces the public schema with the backup in one transaction,
     runs the migrations, starts the bot and waits until it is healthy.
--dry-run checks the file and the database and shows what would happen; it changes nothing.
--yes skips the confirmation (required when not run from a terminal).
--verify restores the backup (latest: the newest toogoodtogo_*.sql.gz in BACKUP_DIR) into a
scratch database (toogoodtogo_restore_verify) next to the live one, counts its tables and rows,
drops it and reports; the live database and the bot are not touched. The result goes to the
audit log and to node_exporter's textfile directory (toogoodtogo_restore_verify.prom), for the
weekly toogoodtogo-restore-verify.timer and the TooGoodToGoRestoreVerify* alerts.

Environment: APP_ROOT, ENV_FILE, COMPOSE, BACKUP_DIR, LOG_DIR, LOCK_DIR,
HEALTH_WAIT_SECONDS (120), PG_START_WAIT_SECONDS (60).

Exit codes: 0 restored (or dry run or verification fine), 1 restore, migration or health failed
(--verify: the backup does not restore, or restores no table),
2 backup file missing or corrupt, 3 database unreachable, 64 usage error,
75 another operation holds the lock.
USAGE
}

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/pg-backup.sh
. "$SCRIPTS_DIR/lib/pg-backup.sh"
# shellcheck source=lib/release.sh
. "$SCRIPTS_DIR/lib/release.sh"

file=""
dry_run=0
assume_yes=0
verify=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --dry-run) dry_run=1 ;;
    --verify) verify=1 ;;
    --yes | -y) assume_yes=1 ;;
    -*) usage_error "unknown option: $1" ;;
    *)
      [ -z "$file" ] || usage_error "only one backup file can be restored"
      file="$1"
      ;;
  esac
  shift
done
[ -n "$file" ] || usage_error "name the backup file to restore"
if [ "$verify" -eq 1 ] && [ "$file" = latest ]; then
  file="$(find "$BACKUP_DIR" -maxdepth 1 -name 'toogoodtogo_*.sql.gz' -printf '%f\n' 2>/dev/null | sort | tail -n 1)"
  [ -n "$file" ] && file="$BACKUP_DIR/$file"
fi

require_env_file
PGB_EXEC="$COMPOSE exec -T postgres"
PGB_USER="$(env_get POSTGRES_USER)"
PGB_DB="$(env_get POSTGRES_DB)"
PGB_USER="${PGB_USER:-toogoodtogo}"
PGB_DB="${PGB_DB:-toogoodtogo}"
export PGB_EXEC PGB_USER PGB_DB BACKUP_DIR

# verify_metric RESULT TABLES ROWS: the textfile metric of the last restore verification.
verify_metric() {
  local dir="${BACKUP_TEXTFILE_DIR-/var/lib/node_exporter/textfile_collector}" now last tmp
  [ -n "$dir" ] || return 0
  mkdir -p "$dir" 2>/dev/null || return 0
  now="$(date +%s)"
  last="$(sed -n 's/^toogoodtogo_backup_restore_verify_last_success_timestamp_seconds //p' "$dir/toogoodtogo_restore_verify.prom" 2>/dev/null || true)"
  [ "$1" != 1 ] || last="$now"
  tmp="$dir/.toogoodtogo_restore_verify.prom.$$"
  {
    echo '# HELP toogoodtogo_backup_restore_verify_success 1 when the last weekly restore verification restored the backup.'
    echo '# TYPE toogoodtogo_backup_restore_verify_success gauge'
    echo "toogoodtogo_backup_restore_verify_success $1"
    echo '# HELP toogoodtogo_backup_restore_verify_last_run_timestamp_seconds Time of the last restore verification.'
    echo '# TYPE toogoodtogo_backup_restore_verify_last_run_timestamp_seconds gauge'
    echo "toogoodtogo_backup_restore_verify_last_run_timestamp_seconds $now"
    if [ -n "$last" ]; then
      echo '# HELP toogoodtogo_backup_restore_verify_last_success_timestamp_seconds Time of the last successful restore verification.'
      echo '# TYPE toogoodtogo_backup_restore_verify_last_success_timestamp_seconds gauge'
      echo "toogoodtogo_backup_restore_verify_last_success_timestamp_seconds $last"
    fi
    echo '# HELP toogoodtogo_backup_restore_verify_tables Tables in the last verified restore.'
    echo '# TYPE toogoodtogo_backup_restore_verify_tables gauge'
    echo "toogoodtogo_backup_restore_verify_tables ${2:-0}"
    echo '# HELP toogoodtogo_backup_restore_verify_rows Rows in the last verified restore.'
    echo '# TYPE toogoodtogo_backup_restore_verify_rows gauge'
    echo "toogoodtogo_backup_restore_verify_rows ${3:-0}"
  } >"$tmp" && mv -f "$tmp" "$dir/toogoodtogo_restore_verify.prom"
}

# verify_restore FILE: restore into a scratch database, count, drop, report; exits.
verify_restore() {
  local f="$1" scratch="${RESTORE_VERIFY_DB:-${PGB_PREFIX}_restore_verify}" rc=0 counts tables rows
  if [ -z "$f" ] || ! pgb_verify "$f"; then
    err "verification failed: ${f:-no backup in $BACKUP_DIR} is missing or corrupt"
    verify_metric 0
    audit restore-verify failed "file=$(basename "${f:-none}") reason=bad-file"
    exit 2
  fi
  if ! pgb_isready; then
    err "verification failed: database unreachable"
    verify_metric 0
    audit restore-verify failed "file=$(basename "$f") reason=db-unreachable"
    exit 3
  fi
  acquire_lock restore-verify
  if ! PGB_DB=postgres pgb_psql -q -c "DROP DATABASE IF EXISTS $scratch" -c "CREATE DATABASE $scratch" >/dev/null; then
    err "verification failed: cannot create the scratch database $scratch"
    verify_metric 0
    audit restore-verify failed "file=$(basename "$f") reason=scratch-database"
    exit 1
  fi
  PGB_DB="$scratch" pgb_restore "$f" || rc=1
  if [ "$rc" -eq 0 ]; then
    counts="$(PGB_DB="$scratch" pgb_psql -tAq -F ' ' -c "SELECT count(*), coalesce(sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text::bigint), 0) FROM pg_tables WHERE schemaname = 'public'")" || rc=1
    read -r tables rows <<<"${counts:-0 0}"
  fi
  PGB_DB=postgres pgb_psql -q -c "DROP DATABASE IF EXISTS $scratch" >/dev/null ||
    warn "could not drop the scratch database $scratch"
  if [ "$rc" -ne 0 ] || [ "${tables:-0}" -eq 0 ]; then
    err "verification failed: $(basename "$f") does not restore${tables:+ (it restores $tables tables)}"
    verify_metric 0 "${tables:-0}" "${rows:-0}"
    audit restore-verify failed "file=$(basename "$f") reason=restore tables=${tables:-0}"
    exit 1
  fi
  info "verified $(basename "$f"): restored into the scratch database $scratch: $tables tables, $rows rows; dropped it"
  verify_metric 1 "$tables" "$rows"
  audit restore-verify ok "file=$(basename "$f") tables=$tables rows=$rows"
  exit 0
}
[ "$verify" -eq 0 ] || verify_restore "$file"

# 1. The file, before anything else.
if ! pgb_verify "$file"; then
  err "refusing to restore: $file is missing or corrupt; nothing was changed"
  audit restore refused "file=$(basename "$file") reason=bad-file dry_run=$dry_run"
  exit 2
fi
tables="$(gzip -cd "$file" | grep -c '^CREATE TABLE ' || true)"
info "backup $file is intact ($(stat -c %s "$file") bytes, $tables tables)"

# 2. The database.
if [ "$dry_run" -eq 1 ]; then
  if ! pgb_isready; then
    err "database $PGB_DB is unreachable"
    audit restore failed "file=$(basename "$file") reason=db-unreachable dry_run=1"
    exit 3
  fi
  info "dry run: database $PGB_DB is reachable"
  info "dry run: would take a safety backup into $BACKUP_DIR, stop the bot, replace the"
  info "dry run: public schema of $PGB_DB with $(basename "$file"), run the migrations and start the bot"
  audit restore dry-run "file=$(basename "$file")"
  exit 0
fi

if [ "$assume_yes" -eq 0 ]; then
  if [ ! -t 0 ]; then
    usage_error "restoring replaces the database: confirm with --yes when not on a terminal"
  fi
  read -r -p "Replace database $PGB_DB with $(basename "$file")? Type 'yes' to continue: " answer
  if [ "$answer" != yes ]; then
    info "restore cancelled; nothing was changed"
    exit 1
  fi
fi

acquire_lock operations

if ! pgb_isready; then
  info "PostgreSQL is not answering; starting the postgres service"
  compose up -d postgres >/dev/null 2>&1 || true
  deadline=$(($(date +%s) + ${PG_START_WAIT_SECONDS:-60}))
  until pgb_isready; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      err "database $PGB_DB is unreachable; nothing was changed"
      audit restore failed "file=$(basename "$file") reason=db-unreachable"
      exit 3
    fi
    sleep 2
  done
fi

# 3. Safety backup of what is there now.
info "taking a safety backup of the current database"
if ! "$SCRIPTS_DIR/backup.sh" pre_restore; then
  err "safety backup failed; nothing was changed"
  audit restore failed "file=$(basename "$file") reason=safety-backup"
  exit 1
fi
safety="$(find "$BACKUP_DIR" -maxdepth 1 -name 'toogoodtogo_*_pre_restore.sql.gz' | sort | tail -n 1)"

# 4. Restore.
info "stopping the bot"
compose stop bot
# Interrupted: the restore runs in one transaction, so the database is either old or new;
# either way the bot must not stay down.
# shellcheck disable=SC2317 # called by the trap
on_interrupt() {
  trap - INT TERM
  err "interrupted; starting the bot again (safety backup: $safety)"
  compose up -d --no-deps bot || true
  audit restore interrupted "file=$(basename "$file") safety=$(basename "$safety")"
  exit 1
}
trap on_interrupt INT TERM
rc=0
pgb_restore "$file" || rc=$?
if [ "$rc" -ne 0 ]; then
  err "restore failed; the database is unchanged. Starting the bot again."
  compose up -d --no-deps bot || true
  audit restore failed "file=$(basename "$file") reason=restore exit=$rc"
  [ "$rc" -eq 3 ] && exit 3
  exit 1
fi
info "database $PGB_DB restored from $(basename "$file")"

version="$(env_get BOT_VERSION)"
info "running migrations for $version"
if ! run_migrations "$version"; then
  err "migrations failed after the restore; the bot stays stopped."
  err "the previous database is in $safety (restore.sh $safety --yes)"
  audit restore failed "file=$(basename "$file") reason=migration safety=$(basename "$safety")"
  exit 1
fi

info "starting the bot"
compose up -d bot
if ! wait_for_health; then
  err "the bot is not healthy after the restore; the previous database is in $safety"
  audit restore failed "file=$(basename "$file") reason=health safety=$(basename "$safety")"
  exit 1
fi
info "restore complete; safety backup of the previous database: $safety"
audit restore ok "file=$(basename "$file") safety=$(basename "$safety")"
