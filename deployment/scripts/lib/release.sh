# shellcheck shell=bash
# Helpers shared by deploy.sh, rollback.sh, restore.sh and rotate-secret.sh: waiting for the
# bot's health, switching the running release, and the release history.
# Needs lib/common.sh.

HEALTH_WAIT_SECONDS="${HEALTH_WAIT_SECONDS:-120}"
HEALTH_INTERVAL="${HEALTH_INTERVAL:-5}"
HISTORY_FILE="${HISTORY_FILE:-$STATE_DIR/releases}"

# wait_for_health: polls health-check.sh bot until healthy (or degraded) or
# HEALTH_WAIT_SECONDS have passed. Returns 0 when healthy.
wait_for_health() {
  local deadline out
  deadline=$(($(date +%s) + HEALTH_WAIT_SECONDS))
  while :; do
    if out="$(HEALTH_AUDIT=0 "$SCRIPTS_DIR/health-check.sh" bot 2>&1)"; then
      info "bot is healthy: $(head -n 1 <<<"$out" | sed 's/^bot *//')"
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      err "bot did not become healthy within ${HEALTH_WAIT_SECONDS}s: $(head -n 1 <<<"$out" | sed 's/^bot *//')"
      return 1
    fi
    sleep "$HEALTH_INTERVAL"
  done
}

# record_release VERSION RESULT: appends to the release history.
record_release() {
  mkdir -p "$(dirname "$HISTORY_FILE")"
  printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" >>"$HISTORY_FILE"
}

# previous_release CURRENT: the newest version in the history that ran successfully and is not
# CURRENT.
previous_release() {
  local current="$1"
  [ -r "$HISTORY_FILE" ] || return 1
  awk -v cur="$current" '$3 == "deployed" && $2 != cur { v = $2 } END { if (v == "") exit 1; print v }' "$HISTORY_FILE"
}

# version_known VERSION: a git tag in APP_ROOT, or a release in the history.
version_known() {
  local v="$1"
  if git -C "$APP_ROOT" rev-parse -q --verify "refs/tags/$v^{commit}" >/dev/null 2>&1; then
    return 0
  fi
  [ -r "$HISTORY_FILE" ] && awk -v v="$v" '$2 == v { found = 1 } END { exit !found }' "$HISTORY_FILE"
}

valid_version_name() {
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]]
}

# checkout_version VERSION: the deployment files of VERSION (git tag), when APP_ROOT is a
# git checkout. Fetches tags from origin first when there is one.
checkout_version() {
  local v="$1"
  if ! git -C "$APP_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    info "$APP_ROOT is not a git checkout; using the files in place"
    return 0
  fi
  if git -C "$APP_ROOT" remote get-url origin >/dev/null 2>&1; then
    git -C "$APP_ROOT" fetch --quiet --tags origin || warn "git fetch failed; using local tags"
  fi
  if ! git -C "$APP_ROOT" rev-parse -q --verify "refs/tags/$v^{commit}" >/dev/null; then
    err "no git tag $v in $APP_ROOT"
    return 1
  fi
  # The env file and backups are not tracked, so a forced checkout leaves them alone.
  git -C "$APP_ROOT" checkout --quiet --force "tags/$v"
  info "checked out tags/$v"
}

# fetch_image VERSION: pull toogoodtogo/bot:VERSION, or build it locally when not published.
# (Compose only warns when the image of a service with a build section cannot be pulled, so
# the image is looked up afterwards.)
fetch_image() {
  local v="$1"
  BOT_VERSION="$v" compose pull --quiet bot migrate >/dev/null 2>&1 || true
  if "${DOCKER:-docker}" image inspect "toogoodtogo/bot:$v" >/dev/null 2>&1; then
    info "image toogoodtogo/bot:$v is present"
    return 0
  fi
  info "image toogoodtogo/bot:$v is not published; building it locally"
  if BOT_VERSION="$v" compose build bot; then
    return 0
  fi
  err "could neither pull nor build toogoodtogo/bot:$v"
  return 1
}

# start_bot VERSION: (re)create the bot container with VERSION without re-running migrations.
start_bot() {
  BOT_VERSION="$1" compose up -d --no-deps --force-recreate bot
}

# run_migrations VERSION: apply VERSION's migrations with the one-shot migrate service.
run_migrations() {
  BOT_VERSION="$1" compose up -d postgres redis >/dev/null &&
    BOT_VERSION="$1" compose run --rm --no-deps migrate
}

# switch_release FROM TO: files, image and recorded version of TO. On failure everything is
# back at FROM and it returns 1.
switch_release() {
  local from="$1" to="$2"
  if ! checkout_version "$to"; then
    return 1
  fi
  if ! fetch_image "$to"; then
    checkout_version "$from" >/dev/null 2>&1 || warn "could not check out $from again"
    return 1
  fi
  env_set "$ENV_FILE" "BOT_VERSION=$to"
  info "recorded BOT_VERSION=$to in $ENV_FILE"
}

# revert_release FROM TO [RECREATE]: back from TO to FROM: recorded version, files, bot
# container (recreated unless RECREATE is 0: the FROM container never stopped).
# Returns 0 when FROM is healthy again.
revert_release() {
  local from="$1" to="$2" recreate="${3:-1}" started=0
  if [ -z "$from" ]; then
    err "no previous version is recorded (BOT_VERSION was empty); $to stays in place"
    return 1
  fi
  warn "rolling back from $to to $from"
  env_set "$ENV_FILE" "BOT_VERSION=$from"
  checkout_version "$from" || warn "could not check out $from; the files of $to stay in place"
  if [ "$recreate" = 1 ]; then
    start_bot "$from" && started=1
  else
    BOT_VERSION="$from" compose up -d --no-deps bot && started=1
  fi
  if [ "$started" -ne 1 ]; then
    err "could not start the bot with $from"
    return 1
  fi
  wait_for_health
}
