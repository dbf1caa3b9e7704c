#!/usr/bin/env bash
# Back up the PostgreSQL database of the single-host stack, or clean up old backups.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: backup.sh [scheduled|pre_deployment|manual]
       backup.sh cleanup --older-than DAYS
       backup.sh --help

Dumps the database from the postgres container into $BACKUP_DIR as
  toogoodtogo_YYYYMMDD_HHMMSS.sql.gz                  (scheduled, the daily timer)
  toogoodtogo_YYYYMMDD_HHMMSS_pre_deployment.sql.gz   (deploy.sh)
  toogoodtogo_YYYYMMDD_HHMMSS_manual.sql.gz           (default)
with a .meta.json file next to it. The dump is written to a temporary file, checked with
gzip -t and for a complete pg_dump, and only then renamed. Scheduled backups older than
BACKUP_RETENTION_DAYS (7) are pruned, always keeping the newest good one; pre-deployment and
manual backups stay until `cleanup`. `cleanup --older-than DAYS` removes backups of every kind
older than DAYS, keeping the newest good backup.

Environment: APP_ROOT (/opt/toogoodtogo), ENV_FILE, COMPOSE ("docker compose -f
$APP_ROOT/deployment/docker-compose.prod.yml"), BACKUP_DIR (/opt/backups/postgres), LOG_DIR
(/var/log/toogoodtogo), LOCK_DIR, BACKUP_RETENTION_DAYS, BACKUP_MIN_FREE_MB (100),
BACKUP_TEXTFILE_DIR (/var/lib/node_exporter/textfile_collector), BACKUP_UPLOAD_CMD.

Exit codes: 0 ok, 1 dump failed, 2 verification failed, 3 not enough free space,
4 upload hook failed (local backup good), 64 usage error, 75 another backup is running.
USAGE
}

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/pg-backup.sh
. "$SCRIPTS_DIR/lib/pg-backup.sh"

mode="manual"
older_than=""
case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
  "") ;;
  scheduled | pre_deployment | manual)
    mode="$1"
    [ "$#" -eq 1 ] || usage_error "unexpected argument: $2"
    ;;
  cleanup)
    mode="cleanup"
    shift
    while [ "$#" -gt 0 ]; do
      case "$1" in
        --older-than)
          [ "$#" -ge 2 ] || usage_error "--older-than needs a number of days"
          older_than="$2"
          shift 2
          ;;
        --older-than=*)
          older_than="${1#*=}"
          shift
          ;;
        *) usage_error "unexpected argument: $1" ;;
      esac
    done
    [[ "$older_than" =~ ^[0-9]+$ ]] || usage_error "cleanup needs --older-than DAYS (a whole number)"
    ;;
  pre_restore)
    # Used by restore.sh for its safety copy.
    mode="pre_restore"
    ;;
  *) usage_error "unknown backup kind: $1 (expected scheduled, pre_deployment, manual or cleanup)" ;;
esac

acquire_lock backup

if [ "$mode" = cleanup ]; then
  mkdir -p "$BACKUP_DIR"
  read -r -a all_kinds <<<"$PGB_KINDS"
  pgb_prune "$older_than" "${all_kinds[@]}"
  info "cleanup: removed ${PGB_PRUNED:-0} backup(s) older than $older_than days from $BACKUP_DIR"
  audit backup-cleanup ok "older_than_days=$older_than removed=${PGB_PRUNED:-0}"
  exit 0
fi

require_env_file
PGB_EXEC="$COMPOSE exec -T postgres"
PGB_USER="$(env_get POSTGRES_USER)"
PGB_DB="$(env_get POSTGRES_DB)"
PGB_USER="${PGB_USER:-toogoodtogo}"
PGB_DB="${PGB_DB:-toogoodtogo}"
BOT_VERSION="${BOT_VERSION:-$(env_get BOT_VERSION)}"
export PGB_EXEC PGB_USER PGB_DB BOT_VERSION BACKUP_DIR

# A run that was killed mid-dump leaves only a hidden .partial file; this run owns the lock.
trap 'rm -f "$BACKUP_DIR"/.toogoodtogo_*.partial "$BACKUP_DIR"/.toogoodtogo_*.meta.json.partial' EXIT

info "backup ($mode) of database $PGB_DB into $BACKUP_DIR"
rc=0
pgb_backup "$mode" || rc=$?
case "$rc" in
  0)
    audit backup ok "kind=$mode file=$(basename "$PGB_LAST_BACKUP") pruned=${PGB_PRUNED:-0}"
    ;;
  4)
    audit backup upload-failed "kind=$mode file=$(basename "$PGB_LAST_BACKUP")"
    ;;
  *)
    err "backup ($mode) failed with exit code $rc"
    audit backup failed "kind=$mode exit=$rc"
    ;;
esac
exit "$rc"
