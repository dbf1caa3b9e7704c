#!/usr/bin/env bash
# Roll the bot back to a named or the previous release.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: rollback.sh [version]

Switches the bot to <version>, or to the previous successfully deployed release (from the
release history in $STATE_DIR/releases): checks out tags/<version>, pulls (or builds) the image,
records BOT_VERSION, recreates the bot and waits until it is healthy. Migrations are not run:
releases accept a database schema that is ahead of them. When <version> does not become
healthy, the current version is started again.

Environment: APP_ROOT, ENV_FILE, COMPOSE, LOG_DIR, STATE_DIR, LOCK_DIR,
HEALTH_WAIT_SECONDS (120), HEALTH_INTERVAL (5).

Exit codes: 0 rolled back (or already running), 1 failed (the current version runs again),
2 unknown version or no previous version, 64 usage error, 75 another operation holds the lock.
USAGE
}

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/release.sh
. "$SCRIPTS_DIR/lib/release.sh"

target=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    -*) usage_error "unknown option: $1" ;;
    *)
      [ -z "$target" ] || usage_error "only one version can be named"
      target="$1"
      ;;
  esac
  shift
done
[ -z "$target" ] || valid_version_name "$target" || usage_error "not a valid version name: $target"

require_env_file
acquire_lock operations

current="$(env_get BOT_VERSION)"
if [ -z "$target" ]; then
  if ! target="$(previous_release "$current")"; then
    err "no previous release in $HISTORY_FILE; name the version: rollback.sh <version>"
    audit rollback refused "from=$current reason=no-previous"
    exit 2
  fi
  info "previous release: $target"
fi

if git -C "$APP_ROOT" remote get-url origin >/dev/null 2>&1; then
  git -C "$APP_ROOT" fetch --quiet --tags origin || warn "git fetch failed; using local tags"
fi
if ! version_known "$target"; then
  err "unknown version $target (no such git tag, never deployed); nothing was changed"
  audit rollback refused "version=$target from=$current reason=unknown-version"
  exit 2
fi

if [ "$target" = "$current" ] && HEALTH_AUDIT=0 "$SCRIPTS_DIR/health-check.sh" bot >/dev/null 2>&1; then
  info "$target is already running and healthy; nothing to do"
  audit rollback noop "version=$target"
  exit 0
fi

info "rolling back from ${current:-none} to $target"
if ! switch_release "$current" "$target"; then
  err "could not prepare $target; $current keeps running"
  audit rollback failed "version=$target from=$current reason=image"
  exit 1
fi

if start_bot "$target" && wait_for_health; then
  record_release "$target" deployed
  audit rollback ok "version=$target from=$current"
  info "now running $target"
  exit 0
fi

err "$target did not become healthy"
if revert_release "$current" "$target"; then
  audit rollback failed "version=$target from=$current reason=health reverted=$current"
  err "$current runs again"
else
  audit rollback failed "version=$target from=$current reason=health reverted=unhealthy"
  err "$current was started again but is not healthy: check 'docker compose logs bot'"
fi
exit 1
