# shellcheck shell=bash
# Shared helpers for the single-host operations scripts: paths, messages, audit log, locks,
# the docker compose command and atomic edits of the env file.
#
# Every path can be overridden from the environment so that the scripts run against a test tree.

APP_ROOT="${APP_ROOT:-/opt/toogoodtogo}"
DEPLOY_DIR="${DEPLOY_DIR:-$APP_ROOT/deployment}"
ENV_FILE="${ENV_FILE:-$DEPLOY_DIR/.env.production}"
COMPOSE_FILE="${COMPOSE_FILE:-$DEPLOY_DIR/docker-compose.prod.yml}"
# Compose's own COMPOSE_FILE (as in .env.production) is relative to the deployment directory.
case "$COMPOSE_FILE" in /*) ;; *) COMPOSE_FILE="$DEPLOY_DIR/${COMPOSE_FILE%%:*}" ;; esac
COMPOSE="${COMPOSE:-docker compose -f $COMPOSE_FILE}"
BACKUP_DIR="${BACKUP_DIR:-/opt/backups/postgres}"
LOG_DIR="${LOG_DIR:-/var/log/toogoodtogo}"
STATE_DIR="${STATE_DIR:-/var/lib/toogoodtogo}"
LOCK_DIR="${LOCK_DIR:-/run/lock/toogoodtogo}"
SCRIPTS_DIR="${SCRIPTS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

readonly EX_USAGE=64
readonly EX_LOCKED=75

SCRIPT_NAME="${SCRIPT_NAME:-$(basename "$0")}"

info() { printf '%s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
err() { printf 'ERROR: %s\n' "$*" >&2; }

# audit ACTION RESULT [key=value...]: one line per action in $LOG_DIR/deployment.log.
# Callers never pass secret values.
audit() {
  local action="$1" result="$2"
  shift 2
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(hostname) user=$(id -un 2>/dev/null || id -u) script=$SCRIPT_NAME action=$action result=$result${*:+ $*}"
  if ! { mkdir -p "$LOG_DIR" && printf '%s\n' "$line" >>"$LOG_DIR/deployment.log"; } 2>/dev/null; then
    warn "cannot write the audit log $LOG_DIR/deployment.log"
  fi
}

usage_error() {
  err "$1"
  err "run '$SCRIPT_NAME --help' for usage"
  exit "$EX_USAGE"
}

# compose ARGS...: the configured docker compose command.
compose() {
  local -a cmd
  read -r -a cmd <<<"$COMPOSE"
  "${cmd[@]}" "$@"
}

# acquire_lock NAME: non-blocking exclusive lock held until the script exits; exit 75 when taken.
acquire_lock() {
  local name="$1" file
  mkdir -p "$LOCK_DIR"
  file="$LOCK_DIR/$name.lock"
  exec {LOCK_FD}>"$file"
  if ! flock -n "$LOCK_FD"; then
    err "another run holds the $name lock ($file); try again when it has finished"
    audit lock refused "lock=$name"
    exit "$EX_LOCKED"
  fi
}

# env_get KEY [FILE]: the value of KEY in an env file (last assignment wins), quotes removed.
env_get() {
  local key="$1" file="${2:-$ENV_FILE}" line value=""
  [ -r "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      "$key="*) value="${line#"$key="}" ;;
      "export $key="*) value="${line#"export $key="}" ;;
    esac
  done <"$file"
  case "$value" in
    \"*\") value="${value:1:${#value}-2}" ;;
    \'*\') value="${value:1:${#value}-2}" ;;
  esac
  printf '%s' "$value"
}

# env_set FILE KEY=VALUE...: replace (or append) assignments atomically, keeping the file's mode.
env_set() {
  local file="$1" tmp pair key found line
  shift
  tmp="$(mktemp "$(dirname "$file")/.$(basename "$file").XXXXXX")"
  chmod 600 "$tmp"
  [ -e "$file" ] && chmod --reference="$file" "$tmp"
  cp "$file" "$tmp.src" 2>/dev/null || : >"$tmp.src"
  for pair in "$@"; do
    key="${pair%%=*}"
    found=0
    : >"$tmp"
    while IFS= read -r line || [ -n "$line" ]; do
      if [ "${line%%=*}" = "$key" ]; then
        if [ "$found" -eq 0 ]; then printf '%s\n' "$pair" >>"$tmp"; fi
        found=1
      else
        printf '%s\n' "$line" >>"$tmp"
      fi
    done <"$tmp.src"
    [ "$found" -eq 1 ] || printf '%s\n' "$pair" >>"$tmp"
    cp "$tmp" "$tmp.src"
  done
  rm -f "$tmp.src"
  mv -f "$tmp" "$file"
}

# backup_env_file: timestamped copy of the env file (mode 600) next to it; prints its path.
backup_env_file() {
  local copy
  copy="$ENV_FILE.bak.$(date -u +%Y%m%d_%H%M%S)"
  while [ -e "$copy" ]; do
    sleep 1
    copy="$ENV_FILE.bak.$(date -u +%Y%m%d_%H%M%S)"
  done
  (umask 077 && cp -p "$ENV_FILE" "$copy")
  chmod 600 "$copy"
  printf '%s' "$copy"
}

# require_env_file: the env file must exist before anything touches the stack.
require_env_file() {
  if [ ! -r "$ENV_FILE" ]; then
    err "env file $ENV_FILE not found (create it from .env.production.example or run setup-droplet.sh)"
    exit 1
  fi
}
