#!/usr/bin/env bash
# Restore the PostgreSQL database of the single-host stack from a backup.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: restore.sh <backup-file> [--dry-run] [--yes]

Restores toogoodtogo_*.sql.gz (made by backup.sh) into the stack's database:
  1. checks the file (gzip -t and a complete pg_dump) - nothing is touched when it is bad;
  2. makes sure PostgreSQL is up (starts the postgres service if needed);
  3. takes a safety backup of the current database (toogoodtogo_..._pre_restore.sql.gz);
  4. stops the bot, replaces the public schema with the backup in one transaction,
     runs the migrations, starts the bot and waits until it is healthy.
--dry-run checks the file and the database and shows what would happen; it changes nothing.
--yes skips the confirmation (required when not run from a terminal).

Environment: APP_ROOT, ENV_FILE, COMPOSE, BACKUP_DIR, LOG_DIR, LOCK_DIR,
HEALTH_WAIT_SECONDS (120), PG_START_WAIT_SECONDS (60).

Exit codes: 0 restored (or dry run fine), 1 restore, migration or health failed,
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
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --dry-run) dry_run=1 ;;
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

require_env_file
PGB_EXEC="$COMPOSE exec -T postgres"
PGB_USER="$(env_get POSTGRES_USER)"
PGB_DB="$(env_get POSTGRES_DB)"
PGB_USER="${PGB_USER:-toogoodtogo}"
PGB_DB="${PGB_DB:-toogoodtogo}"
export PGB_EXEC PGB_USER PGB_DB BACKUP_DIR

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
