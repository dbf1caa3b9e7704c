#!/usr/bin/env bash
# Deploy a tagged release of the bot on the single host.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy.sh <tag> [--skip-backup] [--skip-migration]

Deploys release <tag> (a git tag and the image toogoodtogo/bot:<tag>):
  1. takes the deployment lock (one deploy, rollback, restore or rotation at a time);
  2. does nothing when <tag> is already running and healthy;
  3. pre-deployment backup (backup.sh pre_deployment), unless --skip-backup;
  4. checks out tags/<tag>, pulls the image (or builds it when it is not published);
  5. records BOT_VERSION=<tag> in .env.production and runs the migrations, unless
     --skip-migration (the running bot keeps serving: migrations are backwards compatible);
  6. recreates the bot container and waits until /health is healthy;
  7. rolls back to the previous version automatically when a step after 3 fails.

Environment: APP_ROOT, ENV_FILE, COMPOSE, BACKUP_DIR, LOG_DIR, STATE_DIR, LOCK_DIR,
HEALTH_WAIT_SECONDS (120), HEALTH_INTERVAL (5).

Exit codes: 0 deployed (or already running), 1 failed and rolled back (health, image),
2 pre-deployment backup failed (nothing changed), 3 migration failed (rolled back),
64 usage error or unknown tag, 75 another operation holds the lock.
USAGE
}

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/release.sh
. "$SCRIPTS_DIR/lib/release.sh"

tag=""
skip_backup=0
skip_migration=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --skip-backup) skip_backup=1 ;;
    --skip-migration) skip_migration=1 ;;
    -*) usage_error "unknown option: $1" ;;
    *)
      [ -z "$tag" ] || usage_error "only one tag can be deployed"
      tag="$1"
      ;;
  esac
  shift
done
[ -n "$tag" ] || usage_error "name the tag to deploy, e.g. deploy.sh v1.2.3"
valid_version_name "$tag" || usage_error "not a valid tag name: $tag"

require_env_file
acquire_lock operations

current="$(env_get BOT_VERSION)"
info "deploying $tag (running: ${current:-none})"

if [ "$tag" = "$current" ] && HEALTH_AUDIT=0 "$SCRIPTS_DIR/health-check.sh" bot >/dev/null 2>&1; then
  info "$tag is already running and healthy; nothing to do"
  audit deploy noop "version=$tag"
  exit 0
fi

if git -C "$APP_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  if git -C "$APP_ROOT" remote get-url origin >/dev/null 2>&1; then
    git -C "$APP_ROOT" fetch --quiet --tags origin || warn "git fetch failed; using local tags"
  fi
  if ! git -C "$APP_ROOT" rev-parse -q --verify "refs/tags/$tag^{commit}" >/dev/null; then
    err "unknown tag $tag (not in $APP_ROOT); nothing was changed"
    audit deploy refused "version=$tag reason=unknown-tag"
    exit "$EX_USAGE"
  fi
fi

# The version that runs now is the rollback target; remember it if the history is empty.
if [ -n "$current" ] && ! previous_release "" >/dev/null 2>&1; then
  record_release "$current" deployed
fi

if [ "$skip_backup" -eq 1 ]; then
  warn "skipping the pre-deployment backup (--skip-backup)"
else
  info "pre-deployment backup"
  if ! "$SCRIPTS_DIR/backup.sh" pre_deployment; then
    err "pre-deployment backup failed; nothing was changed"
    audit deploy failed "version=$tag from=$current reason=backup"
    exit 2
  fi
fi

if ! switch_release "$current" "$tag"; then
  err "could not prepare $tag; $current keeps running"
  record_release "$tag" failed
  audit deploy failed "version=$tag from=$current reason=image"
  exit 1
fi

# Interrupted from here on: put the previous release back before leaving.
new_bot_started=0
# shellcheck disable=SC2317 # called by the trap
on_interrupt() {
  trap - INT TERM
  err "interrupted; going back to $current"
  revert_release "$current" "$tag" "$new_bot_started" || true
  audit deploy interrupted "version=$tag from=$current"
  exit 1
}
trap on_interrupt INT TERM

if [ "$skip_migration" -eq 1 ]; then
  warn "skipping migrations (--skip-migration)"
else
  info "running migrations of $tag"
  if ! run_migrations "$tag"; then
    err "migrations of $tag failed"
    record_release "$tag" failed
    if revert_release "$current" "$tag" 0; then
      audit deploy rolled-back "version=$tag from=$current reason=migration"
      err "rolled back to $current"
    else
      audit deploy failed "version=$tag from=$current reason=migration rollback=unhealthy"
      err "rolled back to $current, but it is not healthy: check 'docker compose logs bot'"
    fi
    exit 3
  fi
fi

info "starting $tag"
new_bot_started=1
if start_bot "$tag" && wait_for_health; then
  record_release "$tag" deployed
  audit deploy ok "version=$tag from=$current backup=$((1 - skip_backup)) migration=$((1 - skip_migration))"
  info "deployed $tag"
  exit 0
fi

err "$tag did not become healthy"
record_release "$tag" failed
if revert_release "$current" "$tag"; then
  audit deploy rolled-back "version=$tag from=$current reason=health"
  err "rolled back to $current, which is healthy"
else
  audit deploy failed "version=$tag from=$current reason=health rollback=unhealthy"
  err "rolled back to $current, but it is not healthy either: check 'docker compose logs bot'"
fi
exit 1
