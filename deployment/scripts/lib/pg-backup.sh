# shellcheck shell=bash
# PostgreSQL backup library: dump, verify, restore, prune and report.
#
# Shared by the single-host scripts (backup.sh, restore.sh, which run the PostgreSQL tools inside
# the postgres container) and the Kubernetes operator's backup Jobs (which run them directly).
# It needs bash, gzip, the PostgreSQL client tools and coreutils or busybox (no GNU-only
# options), so it also runs in the postgres:15-alpine image; it never calls `exit`.
#
# Configuration (environment):
#   PGB_EXEC        optional command prefix that runs the PostgreSQL tools elsewhere, e.g.
#                   "docker compose -f docker-compose.prod.yml exec -T postgres". Empty: run the
#                   tools here, connecting with the usual libpq variables (PGHOST, PGUSER, ...).
#   PGB_USER, PGB_DB  passed to the tools as -U / -d when set.
#   BACKUP_DIR      where backups live (default /opt/backups/postgres).
#   BACKUP_RETENTION_DAYS  age after which scheduled backups are pruned (default 7).
#   PGB_PRUNE       1 (default): pgb_backup prunes scheduled backups by BACKUP_RETENTION_DAYS.
#                   0: it does not; the caller decides what goes (the operator does, with
#                   pgb_remove).
#   BACKUP_MIN_FREE_MB     free space to keep on top of the estimated dump size (default 100).
#   BACKUP_TEXTFILE_DIR    node_exporter textfile collector directory
#                   (default /var/lib/node_exporter/textfile_collector; empty disables).
#   BACKUP_UPLOAD_CMD      optional off-site copy hook, run with `sh -c` after a good backup;
#                   the backup file is "$1" and BACKUP_FILE, its metadata BACKUP_META_FILE.
#   BOT_VERSION     recorded in the metadata.
#
# Return codes: 0 ok, 1 dump/restore failed, 2 verification failed (missing/corrupt file),
# 3 not enough free space or database unreachable, 4 upload hook failed (the backup is good).
#
# Backup names: toogoodtogo_YYYYMMDD_HHMMSS.sql.gz (scheduled) and
# toogoodtogo_YYYYMMDD_HHMMSS_<kind>.sql.gz (pre_deployment, manual, pre_restore), UTC.
# Each has a metadata file <name>.meta.json. Dumps are plain SQL with --clean --if-exists.

PGB_PREFIX="toogoodtogo"
PGB_KINDS="scheduled pre_deployment manual pre_restore"
PGB_LAST_BACKUP=""
PGB_PRUNED=0
export PGB_LAST_BACKUP PGB_PRUNED

pgb__run() {
  local -a pre=() conn=()
  [ -n "${PGB_EXEC:-}" ] && read -r -a pre <<<"$PGB_EXEC"
  local tool="$1"
  shift
  [ -n "${PGB_USER:-}" ] && conn+=(-U "$PGB_USER")
  [ -n "${PGB_DB:-}" ] && conn+=(-d "$PGB_DB")
  "${pre[@]}" "$tool" "${conn[@]}" "$@"
}

pgb__log() { printf '%s\n' "$*"; }
pgb__err() { printf 'ERROR: %s\n' "$*" >&2; }

# pgb_isready: 0 when the database accepts connections.
pgb_isready() {
  pgb__run pg_isready -t "${PGB_CONNECT_TIMEOUT:-5}" >/dev/null 2>&1
}

# pgb_psql ARGS...: psql that stops at the first error.
pgb_psql() {
  pgb__run psql -X -v ON_ERROR_STOP=1 "$@"
}

# pgb_backup_path KIND: a fresh, unused backup path for KIND.
pgb_backup_path() {
  local kind="$1" dir="${BACKUP_DIR:-/opt/backups/postgres}" stamp suffix="" path
  [ "$kind" = scheduled ] || suffix="_$kind"
  while :; do
    stamp="$(date -u +%Y%m%d_%H%M%S)"
    path="$dir/${PGB_PREFIX}_${stamp}${suffix}.sql.gz"
    [ -e "$path" ] || break
    sleep 1
  done
  printf '%s' "$path"
}

# pgb_kind_of FILE: the kind encoded in a backup name; empty when it is not a backup name.
pgb_kind_of() {
  local base
  base="$(basename "$1")"
  if [[ "$base" =~ ^${PGB_PREFIX}_[0-9]{8}_[0-9]{6}\.sql\.gz$ ]]; then
    printf 'scheduled'
  elif [[ "$base" =~ ^${PGB_PREFIX}_[0-9]{8}_[0-9]{6}_([a-z_]+)\.sql\.gz$ ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}

# pgb_epoch_of FILE: creation time (seconds) from the timestamp in the name.
pgb_epoch_of() {
  local base
  base="$(basename "$1")"
  [[ "$base" =~ ^${PGB_PREFIX}_([0-9]{4})([0-9]{2})([0-9]{2})_([0-9]{2})([0-9]{2})([0-9]{2}) ]] || return 1
  date -u -d "${BASH_REMATCH[1]}-${BASH_REMATCH[2]}-${BASH_REMATCH[3]} ${BASH_REMATCH[4]}:${BASH_REMATCH[5]}:${BASH_REMATCH[6]}" +%s
}

# pgb_verify FILE: 0 when FILE is an intact, complete pg_dump; 2 (with a reason) otherwise.
pgb_verify() {
  local file="$1" head tail
  if [ ! -f "$file" ] || [ ! -r "$file" ]; then
    pgb__err "backup file not found or unreadable: $file"
    return 2
  fi
  if [ ! -s "$file" ]; then
    pgb__err "backup file is empty: $file"
    return 2
  fi
  if ! gzip -t "$file" 2>/dev/null; then
    pgb__err "backup file is not a valid gzip archive (corrupt or truncated): $file"
    return 2
  fi
  head="$(gzip -cd "$file" 2>/dev/null | head -n 5 || true)"
  tail="$(gzip -cd "$file" 2>/dev/null | tail -n 8 || true)"
  if [[ "$head" != *"-- PostgreSQL database dump"* ]]; then
    pgb__err "backup file is not a PostgreSQL dump: $file"
    return 2
  fi
  if [[ "$tail" != *"-- PostgreSQL database dump complete"* ]]; then
    pgb__err "backup file is an incomplete PostgreSQL dump: $file"
    return 2
  fi
  return 0
}

# pgb_check_space DIR: 0 when DIR has room for a dump (estimated from the database size) plus
# BACKUP_MIN_FREE_MB; 3 otherwise.
pgb_check_space() {
  local dir="$1" db_bytes avail_kb need_kb
  db_bytes="$(pgb_psql -tAq -c 'SELECT pg_database_size(current_database())' 2>/dev/null || true)"
  [[ "$db_bytes" =~ ^[0-9]+$ ]] || db_bytes=0
  avail_kb="$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')"
  # A plain dump compresses well; half the on-disk size is a safe upper bound for gzip output.
  need_kb=$((db_bytes / 2048 + ${BACKUP_MIN_FREE_MB:-100} * 1024))
  if [ "$avail_kb" -lt "$need_kb" ]; then
    pgb__err "not enough free space in $dir: $((avail_kb / 1024)) MiB free, $((need_kb / 1024)) MiB needed"
    return 3
  fi
  return 0
}

# pgb_write_meta BACKUP KIND: writes BACKUP.meta.json.
pgb_write_meta() {
  local file="$1" kind="$2" meta tmp size sha tables server
  meta="$file.meta.json"
  tmp="$(dirname "$file")/.$(basename "$meta").partial"
  size="$(stat -c %s "$file")"
  sha="$(sha256sum "$file" | awk '{ print $1 }')"
  tables="$(gzip -cd "$file" | grep -c '^CREATE TABLE ' || true)"
  server="$(gzip -cd "$file" | head -n 12 | sed -n 's/^-- Dumped from database version \([^ ]*\).*/\1/p' || true)"
  cat >"$tmp" <<JSON
{
  "file": "$(basename "$file")",
  "kind": "$kind",
  "created_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "size_bytes": $size,
  "sha256": "$sha",
  "database": "${PGB_DB:-${PGDATABASE:-}}",
  "postgres_version": "$server",
  "tables": ${tables:-0},
  "bot_version": "${BOT_VERSION:-unknown}",
  "host": "$(hostname)"
}
JSON
  mv -f "$tmp" "$meta"
}

# pgb_write_textfile: node_exporter textfile metric for the last good backup.
pgb_write_textfile() {
  local file="$1" dir="${BACKUP_TEXTFILE_DIR-/var/lib/node_exporter/textfile_collector}" tmp
  [ -n "$dir" ] || return 0
  mkdir -p "$dir" || return 0
  tmp="$dir/.toogoodtogo_backup.prom.$$"
  {
    echo '# HELP toogoodtogo_backup_last_success_timestamp_seconds Time of the last verified PostgreSQL backup.'
    echo '# TYPE toogoodtogo_backup_last_success_timestamp_seconds gauge'
    echo "toogoodtogo_backup_last_success_timestamp_seconds $(date +%s)"
    echo '# HELP toogoodtogo_backup_last_size_bytes Size of the last verified PostgreSQL backup.'
    echo '# TYPE toogoodtogo_backup_last_size_bytes gauge'
    echo "toogoodtogo_backup_last_size_bytes $(stat -c %s "$file")"
  } >"$tmp" && mv -f "$tmp" "$dir/toogoodtogo_backup.prom"
}

# pgb_dump KIND: dump into a temporary file, verify it, then give it its final name.
# Sets PGB_LAST_BACKUP. Never leaves a partial file under a final name.
pgb_dump() {
  local kind="$1" dir="${BACKUP_DIR:-/opt/backups/postgres}" final tmp
  local -a st
  final="$(pgb_backup_path "$kind")"
  tmp="$dir/.$(basename "$final").partial"
  pgb__run pg_dump --format=plain --clean --if-exists --no-owner --no-privileges | gzip -c >"$tmp"
  st=("${PIPESTATUS[@]}")
  if [ "${st[0]}" -ne 0 ] || [ "${st[1]}" -ne 0 ]; then
    rm -f "$tmp"
    pgb__err "pg_dump failed (exit ${st[0]}); no backup written"
    return 1
  fi
  if ! pgb_verify "$tmp"; then
    rm -f "$tmp"
    return 2
  fi
  chmod 600 "$tmp"
  mv -f "$tmp" "$final"
  pgb_write_meta "$final" "$kind"
  PGB_LAST_BACKUP="$final"
  return 0
}

# pgb_upload FILE: runs BACKUP_UPLOAD_CMD when set.
pgb_upload() {
  local file="$1"
  [ -n "${BACKUP_UPLOAD_CMD:-}" ] || return 0
  if ! BACKUP_FILE="$file" BACKUP_META_FILE="$file.meta.json" sh -c "$BACKUP_UPLOAD_CMD" sh "$file"; then
    pgb__err "upload hook failed for $(basename "$file") (the local backup is good)"
    return 4
  fi
  pgb__log "uploaded $(basename "$file") with BACKUP_UPLOAD_CMD"
}

# pgb_newest_good [KIND...]: path of the newest backup (of the given kinds, default all) that
# passes verification.
pgb_newest_good() {
  local dir="${BACKUP_DIR:-/opt/backups/postgres}" f kind
  local kinds="${*:-$PGB_KINDS}"
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    kind="$(pgb_kind_of "$f")"
    [ -n "$kind" ] || continue
    [[ " $kinds " == *" $kind "* ]] || continue
    if pgb_verify "$f" 2>/dev/null; then
      printf '%s' "$f"
      return 0
    fi
  done < <(find "$dir" -maxdepth 1 -type f -name "${PGB_PREFIX}_*.sql.gz" 2>/dev/null |
    sed 's|.*/||' | sort -r -t_ -k2,3 | sed "s|^|$dir/|")
  return 1
}

# pgb_prune DAYS KIND...: delete backups of the given kinds older than DAYS (by the time in
# their name), always keeping the newest good backup among those kinds. Prints what it removes.
pgb_prune() {
  local days="$1" dir="${BACKUP_DIR:-/opt/backups/postgres}" keep f kind epoch cutoff removed=0
  shift
  cutoff=$(($(date +%s) - days * 86400))
  keep="$(pgb_newest_good "$@" || true)"
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    kind="$(pgb_kind_of "$f")"
    [ -n "$kind" ] || continue
    [[ " $* " == *" $kind "* ]] || continue
    [ "$f" != "$keep" ] || continue
    epoch="$(pgb_epoch_of "$f")" || continue
    if [ "$epoch" -lt "$cutoff" ]; then
      rm -f "$f" "$f.meta.json"
      pgb__log "removed $(basename "$f")"
      removed=$((removed + 1))
    fi
  done < <(find "$dir" -maxdepth 1 -type f -name "${PGB_PREFIX}_*.sql.gz" 2>/dev/null | sort)
  PGB_PRUNED="$removed"
  return 0
}

# pgb_backup KIND: the whole backup: space check, dump, verification, metadata, metric,
# pruning of scheduled backups, upload hook.
pgb_backup() {
  local kind="$1" dir="${BACKUP_DIR:-/opt/backups/postgres}" rc=0
  if [[ " $PGB_KINDS " != *" $kind "* ]]; then
    pgb__err "unknown backup kind: $kind"
    return 1
  fi
  mkdir -p "$dir" || return 1
  chmod 700 "$dir" 2>/dev/null || true
  if ! pgb_isready; then
    pgb__err "database unreachable; no backup written"
    return 1
  fi
  pgb_check_space "$dir" || return 3
  pgb_dump "$kind" || return $?
  pgb__log "backup written and verified: $PGB_LAST_BACKUP ($(stat -c %s "$PGB_LAST_BACKUP") bytes)"
  pgb_write_textfile "$PGB_LAST_BACKUP" || pgb__err "could not write the backup metric"
  if [ "${PGB_PRUNE:-1}" != 0 ]; then
    pgb_prune "${BACKUP_RETENTION_DAYS:-7}" scheduled
  fi
  pgb_upload "$PGB_LAST_BACKUP" || rc=$?
  return "$rc"
}

# pgb_restore FILE: replace the database's public schema with the dump's content, in one
# transaction (nothing changes when any statement fails).
pgb_restore() {
  local file="$1"
  local -a st
  pgb_verify "$file" || return 2
  if ! pgb_isready; then
    pgb__err "database unreachable"
    return 3
  fi
  {
    printf 'DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n'
    gzip -cd "$file"
  } | pgb_psql --single-transaction -q >/dev/null
  st=("${PIPESTATUS[@]}")
  if [ "${st[1]}" -ne 0 ]; then
    pgb__err "restore failed (psql exit ${st[1]}); the database was left unchanged"
    return 1
  fi
  return 0
}

# pgb_remove NAME...: delete the named backups (and their metadata) from BACKUP_DIR. Each NAME
# must be a bare backup file name (toogoodtogo_..., no directory part); anything else is refused
# and nothing is deleted. A backup that is already gone counts as removed. 0 ok, 64 bad name.
pgb_remove() {
  local dir="${BACKUP_DIR:-/opt/backups/postgres}" name
  for name in "$@"; do
    if [[ "$name" == */* ]] || [ -z "$(pgb_kind_of "$name")" ]; then
      pgb__err "not a backup file name: $name; nothing removed"
      return 64
    fi
  done
  for name in "$@"; do
    rm -f "$dir/$name" "$dir/$name.meta.json"
    pgb__log "removed $name"
  done
  return 0
}

# pgb_restore_check FILE [SCRATCH_DB]: prove FILE restores, without touching the live database:
# verify it, restore it into a new scratch database (default toogoodtogo_restore_check), count
# its tables, drop the scratch database. Needs a role that may create databases.
# 0 restorable, 1 restore failed, 2 missing/corrupt file, 3 database unreachable.
pgb_restore_check() {
  local file="$1" scratch="${2:-${PGB_PREFIX}_restore_check}" rc=0 tables
  if [[ ! "$scratch" =~ ^[a-z_][a-z0-9_]*$ ]]; then
    pgb__err "invalid scratch database name: $scratch"
    return 1
  fi
  pgb_verify "$file" || return 2
  if ! pgb_isready; then
    pgb__err "database unreachable"
    return 3
  fi
  if ! PGB_DB=postgres pgb_psql -q -c "DROP DATABASE IF EXISTS $scratch" -c "CREATE DATABASE $scratch" >/dev/null; then
    pgb__err "cannot create the scratch database $scratch"
    return 1
  fi
  PGB_DB="$scratch" pgb_restore "$file" || rc=1
  if [ "$rc" -eq 0 ]; then
    tables="$(PGB_DB="$scratch" pgb_psql -tAq -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
    pgb__log "dry run: $(basename "$file") restores into a scratch database ($tables tables)"
  fi
  PGB_DB=postgres pgb_psql -q -c "DROP DATABASE IF EXISTS $scratch" >/dev/null ||
    pgb__err "could not drop the scratch database $scratch"
  return "$rc"
}
