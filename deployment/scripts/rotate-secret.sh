#!/usr/bin/env bash
# Rotate secrets of the single-host stack, verifying each one against what uses it and reverting
# it when the verification fails.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: rotate-secret.sh SECRET
       rotate-secret.sh all

SECRET is one of:
  db-password            new POSTGRES_PASSWORD (openssl rand -hex 32), set on the database role
                         first; verified: the bot is healthy
  redis-password         new REDIS_PASSWORD (openssl rand -hex 32); Redis and the bot are
                         recreated; verified: redis-cli ping with the new password and the bot
                         healthy (not degraded: a wrong Redis password only degrades it)
  secret-key             new SECRET_KEY; the old one stays as SECRET_KEY_PREVIOUS so buttons that
                         were already sent keep working; verified: the bot is healthy
  webhook-secret         new WEBHOOK_SECRET_TOKEN; the old one stays as
                         WEBHOOK_SECRET_TOKEN_PREVIOUS so updates in flight are still accepted;
                         the bot registers the new one at start; verified: the bot is healthy
  telegram-token         new TELEGRAM_BOT_TOKEN from @BotFather, read from standard input;
                         verified: `toogoodtogo-bot webhook info` in the new container (Telegram
                         accepts the token)
  stripe-key             new STRIPE_API_KEY from the Stripe dashboard, read from standard input;
                         verified: `toogoodtogo-bot payments-check` (Stripe accepts the key)
  stripe-provider-token  new STRIPE_PROVIDER_TOKEN from @BotFather (Payments), read from standard
                         input; verified: payments-check
  stripe-webhook-secret  new STRIPE_WEBHOOK_SECRET (whsec_...) after rolling the endpoint's
                         secret in the Stripe dashboard, read from standard input; verified:
                         payments-check
  grafana-password       new GRAFANA_ADMIN_PASSWORD (openssl rand -hex 32), set in the running
                         Grafana (grafana cli admin reset-admin-password --password-from-stdin);
                         verified: Grafana's API accepts admin with it. Needs Grafana running.
all                      every secret above in this order: db-password, redis-password,
                         secret-key, webhook-secret, telegram-token, stripe-key,
                         stripe-provider-token, stripe-webhook-secret, grafana-password. The four
                         values from outside are asked for first (on a terminal) or read from
                         standard input as NAME=value lines (TELEGRAM_BOT_TOKEN=...,
                         STRIPE_API_KEY=..., STRIPE_PROVIDER_TOKEN=..., STRIPE_WEBHOOK_SECRET=...);
                         one left out is skipped. All values are checked before anything changes.
                         On the first failure that secret is reverted and the rest are not
                         started; the ones before it stay rotated. One summary at the end.

Each rotation: copy of .env.production (.env.production.bak.<time>, mode 600), atomic edit,
the containers that read the secret recreated (a restart keeps the old environment), the
verification above. When it fails, the previous env file (and database role password, Grafana
password) are put back, the containers recreated again and checked. Secret values are never
printed or logged. When the monitoring stack runs, its exporters get the new database or Redis
password too.

Environment: APP_ROOT, ENV_FILE, COMPOSE, MONITORING_COMPOSE, LOG_DIR, LOCK_DIR, GRAFANA_URL
(http://127.0.0.1:3000), HEALTH_WAIT_SECONDS (120).

Exit codes: 0 rotated (all: every secret rotated or skipped); 1 a rotation failed or its
verification failed (reverted); 64 usage error or a malformed new value (nothing changed);
75 another operation holds the lock.
USAGE
}

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/release.sh
. "$SCRIPTS_DIR/lib/release.sh"

MONITORING_COMPOSE="${MONITORING_COMPOSE:-docker compose -f $DEPLOY_DIR/monitoring/docker-compose.monitoring.yml}"
GRAFANA_URL="${GRAFANA_URL:-http://127.0.0.1:3000}"
ALL_KINDS=(db-password redis-password secret-key webhook-secret telegram-token stripe-key
  stripe-provider-token stripe-webhook-secret grafana-password)

kind=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    all | db-password | redis-password | secret-key | webhook-secret | telegram-token | stripe-key | \
      stripe-provider-token | stripe-webhook-secret | grafana-password)
      [ -z "$kind" ] || usage_error "rotate one secret (or all) at a time"
      kind="$1"
      ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done
[ -n "$kind" ] || usage_error "name the secret to rotate (or all)"

require_env_file

# external_key KIND: the env variable of a secret that comes from outside (empty for generated).
external_key() {
  case "$1" in
    telegram-token) echo TELEGRAM_BOT_TOKEN ;;
    stripe-key) echo STRIPE_API_KEY ;;
    stripe-provider-token) echo STRIPE_PROVIDER_TOKEN ;;
    stripe-webhook-secret) echo STRIPE_WEBHOOK_SECRET ;;
  esac
}

# check_value KIND VALUE: the shape of a value from outside; usage error (exit 64) otherwise.
check_value() {
  case "$1" in
    telegram-token)
      [[ "$2" =~ ^[0-9]{5,}:[A-Za-z0-9_-]{30,}$ ]] || usage_error "that does not look like a Telegram bot token (123456:ABC...)"
      ;;
    stripe-key)
      [[ "$2" =~ ^(sk|rk)_(live|test)_[A-Za-z0-9]{8,}$ ]] || usage_error "that does not look like a Stripe secret key (sk_live_... or rk_live_...)"
      ;;
    stripe-provider-token)
      [[ "$2" =~ ^[0-9]{5,}:(TEST|LIVE):[A-Za-z0-9_=-]{8,}$ ]] || usage_error "that does not look like a Telegram payments provider token (123456:LIVE:...)"
      ;;
    stripe-webhook-secret)
      [[ "$2" =~ ^whsec_[A-Za-z0-9+/=_-]{16,}$ ]] || usage_error "that does not look like a Stripe webhook signing secret (whsec_...)"
      ;;
  esac
}

# read_secret PROMPT: one line from standard input, not echoed on a terminal.
read_secret() {
  local value=""
  if [ -t 0 ]; then
    read -r -s -p "$1: " value
    echo >&2
  else
    IFS= read -r value || true
  fi
  printf '%s' "$value"
}

# Values from outside are read and checked before anything changes.
declare -A NEW=()
if [ "$kind" = all ]; then
  if [ -t 0 ]; then
    for k in telegram-token stripe-key stripe-provider-token stripe-webhook-secret; do
      NEW[$k]="$(read_secret "New $(external_key "$k") (empty: skip)")"
    done
  else
    while IFS= read -r line || [ -n "$line" ]; do
      [ -n "$line" ] || continue
      found=0
      for k in telegram-token stripe-key stripe-provider-token stripe-webhook-secret; do
        if [ "${line%%=*}" = "$(external_key "$k")" ]; then
          NEW[$k]="${line#*=}"
          found=1
        fi
      done
      [ "$found" = 1 ] || usage_error "unexpected input line for ${line%%=*} (expected TELEGRAM_BOT_TOKEN=, STRIPE_API_KEY=, STRIPE_PROVIDER_TOKEN= or STRIPE_WEBHOOK_SECRET=)"
    done
  fi
  for k in "${!NEW[@]}"; do
    [ -z "${NEW[$k]}" ] || check_value "$k" "${NEW[$k]}"
  done
elif [ -n "$(external_key "$kind")" ]; then
  NEW[$kind]="$(read_secret "New $(external_key "$kind")")"
  check_value "$kind" "${NEW[$kind]}"
fi

acquire_lock operations

# monitoring ARGS...: the monitoring stack's docker compose command.
monitoring() {
  local -a cmd
  read -r -a cmd <<<"$MONITORING_COMPOSE"
  "${cmd[@]}" "$@"
}

# monitoring_runs SERVICE: SERVICE of the monitoring stack has a running container.
monitoring_runs() {
  local running
  [ -f "$DEPLOY_DIR/monitoring/docker-compose.monitoring.yml" ] || return 1
  running="$(monitoring ps --status running --services 2>/dev/null)" || return 1
  grep -qxF "$1" <<<"$running"
}

# refresh_exporter SERVICE: recreate a running exporter so it reads the env file again.
refresh_exporter() {
  if monitoring_runs "$1"; then
    if monitoring up -d --no-deps --force-recreate "$1" >/dev/null 2>&1; then
      info "recreated $1 of the monitoring stack with the new value"
    else
      warn "could not recreate $1 of the monitoring stack; it may fail to log in until it is"
    fi
  fi
}

# set_role_password PASSWORD: ALTER ROLE for POSTGRES_USER, through psql's standard input so the
# value appears neither in a process list nor (with the logging settings below) in server logs.
set_role_password() {
  local user db out rc=0
  user="$(env_get POSTGRES_USER)"
  user="${user:-toogoodtogo}"
  db="$(env_get POSTGRES_DB)"
  db="${db:-toogoodtogo}"
  out="$(printf '%s\n' \
    "SET log_statement = 'none';" \
    "SET log_min_error_statement = 'panic';" \
    '\set ON_ERROR_STOP 1' \
    "ALTER ROLE \"${user//\"/\"\"}\" PASSWORD '$1';" |
    compose exec -T postgres psql -X -q -U "$user" -d "$db" 2>&1)" || rc=$?
  if [ "$rc" -ne 0 ] || [[ "$out" == *"ERROR:  "*"ROLE"* ]]; then
    err "could not change the password of role $user: ${out//$1/***}"
    return 1
  fi
}

# set_grafana_password PASSWORD: the admin password of the running Grafana (stdin, not argv).
set_grafana_password() {
  printf '%s\n' "$1" | monitoring exec -T grafana grafana cli admin reset-admin-password --password-from-stdin >/dev/null 2>&1
}

# grafana_accepts PASSWORD: Grafana's API answers for admin with PASSWORD (credentials go to curl
# through a config on stdin, never on its command line).
grafana_accepts() {
  local i
  for i in 1 2 3; do
    if printf 'user = "admin:%s"\n' "$1" | curl -fsS -o /dev/null --max-time 10 -K - "$GRAFANA_URL/api/user" 2>/dev/null; then
      return 0
    fi
    [ "$i" -eq 3 ] || sleep "$HEALTH_INTERVAL"
  done
  return 1
}

# in_bot ARGS...: toogoodtogo-bot ARGS in the running bot container; its output to stdout.
in_bot() { compose exec -T bot toogoodtogo-bot "$@"; }

# verify KIND: the check after the containers were recreated with the new value.
verify() {
  local out rc=0
  case "$1" in
    grafana-password)
      grafana_accepts "$(env_get GRAFANA_ADMIN_PASSWORD)" || { REASON="Grafana does not accept the new password"; return 1; }
      info "Grafana accepts the new admin password"
      return 0
      ;;
  esac
  if ! wait_for_health; then
    REASON="bot unhealthy"
    return 1
  fi
  case "$1" in
    redis-password)
      out="$(HEALTH_AUDIT=0 "$SCRIPTS_DIR/health-check.sh" redis bot --strict 2>&1)" || rc=$?
      if [ "$rc" -ne 0 ]; then
        err "with the new Redis password: $(grep -v '^overall' <<<"$out" | paste -sd';' -)"
        REASON="Redis or the bot's Redis connection not healthy"
        return 1
      fi
      info "redis-cli ping answers with the new password; the bot reaches Redis"
      ;;
    telegram-token)
      if ! out="$(in_bot webhook info 2>&1)"; then
        err "toogoodtogo-bot webhook info failed: $(tail -n 1 <<<"$out")"
        REASON="Telegram refused the token (webhook info)"
        return 1
      fi
      info "Telegram accepts the new token: $(grep -m1 '^url:' <<<"$out" || echo 'webhook info ok')"
      ;;
    stripe-key | stripe-provider-token | stripe-webhook-secret)
      rc=0
      out="$(in_bot payments-check 2>&1)" || rc=$?
      if [ "$rc" -ne 0 ] || { [ "$1" = stripe-webhook-secret ] && grep -q '^STRIPE_WEBHOOK_SECRET: missing' <<<"$out"; }; then
        err "toogoodtogo-bot payments-check: $(grep -v '^payments:' <<<"$out" | paste -sd';' -)"
        REASON="payments-check failed"
        return 1
      fi
      info "payments-check: $(grep '^payments:' <<<"$out" || echo ok)"
      ;;
  esac
}

# recreate KIND: the containers that read KIND's value, recreated from the env file.
recreate() {
  local version
  version="$(env_get BOT_VERSION)"
  case "$1" in
    grafana-password) return 0 ;;
    redis-password) compose up -d --no-deps --force-recreate redis >/dev/null || return 1 ;;
  esac
  start_bot "$version" >/dev/null
}

# rotate_one KIND: one rotation with verification and revert. Returns 0 rotated, 1 reverted,
# 2 failed (not changed, or still broken after the revert), 3 skipped. Sets REASON.
rotate_one() {
  local k="$1" backup_copy old_db_password="" old_grafana="" value
  REASON=""
  if [ -n "$(external_key "$k")" ] && [ -z "${NEW[$k]:-}" ]; then
    REASON="no new value given"
    return 3
  fi
  if [ "$k" = grafana-password ] && ! monitoring_runs grafana; then
    REASON="Grafana does not run (start the monitoring stack, then rotate grafana-password)"
    return 3
  fi
  info "== $k"
  backup_copy="$(backup_env_file)"
  info "saved the current env file as $backup_copy"

  case "$k" in
    db-password)
      old_db_password="$(env_get POSTGRES_PASSWORD)"
      value="$(openssl rand -hex 32)"
      if ! set_role_password "$value"; then
        REASON="could not change the database role's password"
        audit rotate-secret failed "secret=$k reason=alter-role"
        return 2
      fi
      env_set "$ENV_FILE" "POSTGRES_PASSWORD=$value"
      ;;
    redis-password) env_set "$ENV_FILE" "REDIS_PASSWORD=$(openssl rand -hex 32)" ;;
    secret-key)
      env_set "$ENV_FILE" "SECRET_KEY_PREVIOUS=$(env_get SECRET_KEY)" "SECRET_KEY=$(openssl rand -hex 32)"
      ;;
    webhook-secret)
      env_set "$ENV_FILE" "WEBHOOK_SECRET_TOKEN_PREVIOUS=$(env_get WEBHOOK_SECRET_TOKEN)" \
        "WEBHOOK_SECRET_TOKEN=$(openssl rand -hex 32)"
      ;;
    grafana-password)
      old_grafana="$(env_get GRAFANA_ADMIN_PASSWORD)"
      value="$(openssl rand -hex 32)"
      if ! set_grafana_password "$value"; then
        REASON="grafana cli could not set the password"
        audit rotate-secret failed "secret=$k reason=grafana-cli"
        return 2
      fi
      env_set "$ENV_FILE" "GRAFANA_ADMIN_PASSWORD=$value"
      ;;
    *) env_set "$ENV_FILE" "$(external_key "$k")=${NEW[$k]}" ;;
  esac
  value=""
  info "updated $k in $ENV_FILE"

  if recreate "$k" && verify "$k"; then
    case "$k" in
      db-password) refresh_exporter postgres-exporter ;;
      redis-password) refresh_exporter redis-exporter ;;
      telegram-token) info "the bot registers its webhook with the new token at start" ;;
    esac
    info "rotated $k"
    audit rotate-secret ok "secret=$k env_backup=$(basename "$backup_copy")"
    return 0
  fi

  REASON="${REASON:-the containers could not be recreated}"
  err "$k: $REASON; reverting"
  if [ "$k" = db-password ]; then
    set_role_password "$old_db_password" || err "could not put the old database password back"
  fi
  if [ "$k" = grafana-password ]; then
    set_grafana_password "$old_grafana" || err "could not put the old Grafana password back"
  fi
  cp -p "$backup_copy" "$ENV_FILE.revert.$$"
  mv -f "$ENV_FILE.revert.$$" "$ENV_FILE"
  if [ "$k" = grafana-password ]; then
    err "reverted $k; the previous password is back in Grafana and the env file"
    audit rotate-secret reverted "secret=$k reason=\"$REASON\" env_backup=$(basename "$backup_copy")"
    return 1
  fi
  if recreate "$k" && wait_for_health; then
    err "reverted $k; the previous settings are back and the bot is healthy"
    audit rotate-secret reverted "secret=$k reason=\"$REASON\" env_backup=$(basename "$backup_copy")"
    return 1
  fi
  err "reverted $k, but the bot is still not healthy: check 'docker compose logs bot'"
  REASON="$REASON; still unhealthy after the revert"
  audit rotate-secret failed "secret=$k reason=unhealthy-after-revert env_backup=$(basename "$backup_copy")"
  return 2
}

if [ "$kind" != all ]; then
  rc=0
  rotate_one "$kind" || rc=$?
  case "$rc" in
    0) exit 0 ;;
    3)
      err "$kind not rotated: $REASON"
      exit 1
      ;;
    *) exit 1 ;;
  esac
fi

declare -A RESULT=()
failed=""
for k in "${ALL_KINDS[@]}"; do
  if [ -n "$failed" ]; then
    RESULT[$k]="not started (stopped after $failed)"
    continue
  fi
  rc=0
  rotate_one "$k" || rc=$?
  case "$rc" in
    0) RESULT[$k]="rotated" ;;
    1) RESULT[$k]="FAILED, reverted: $REASON" failed="$k" ;;
    2) RESULT[$k]="FAILED: $REASON" failed="$k" ;;
    3) RESULT[$k]="skipped: $REASON" ;;
  esac
done
unset NEW
rotated=0
skipped=0
info "summary:"
for k in "${ALL_KINDS[@]}"; do
  printf '  %-22s %s\n' "$k" "${RESULT[$k]}"
  case "${RESULT[$k]}" in rotated) rotated=$((rotated + 1)) ;; skipped*) skipped=$((skipped + 1)) ;; esac
done
if [ -n "$failed" ]; then
  err "rotation stopped at $failed; the secrets before it are rotated, the ones after it are not"
  audit rotate-secret-all failed "rotated=$rotated skipped=$skipped failed=$failed"
  exit 1
fi
info "all secrets rotated ($rotated rotated, $skipped skipped)"
audit rotate-secret-all ok "rotated=$rotated skipped=$skipped"
