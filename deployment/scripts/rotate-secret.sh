#!/usr/bin/env bash
# Rotate one secret of the single-host stack, verifying the bot afterwards and reverting on failure.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: rotate-secret.sh db-password|secret-key|webhook-secret|stripe-key|telegram-token

  db-password     new POSTGRES_PASSWORD (openssl rand -hex 32), set on the database role first
  secret-key      new SECRET_KEY; the old one stays as SECRET_KEY_PREVIOUS so buttons that were
                  already sent keep working
  webhook-secret  new WEBHOOK_SECRET_TOKEN; the old one stays as WEBHOOK_SECRET_TOKEN_PREVIOUS so
                  updates in flight are still accepted; the bot registers the new one at start
  stripe-key      new STRIPE_API_KEY, read from standard input (from the Stripe dashboard)
  telegram-token  new TELEGRAM_BOT_TOKEN, read from standard input (from @BotFather)

Steps: lock, copy of .env.production (.env.production.bak.<time>, mode 600), atomic edit,
recreate the bot container, wait until it is healthy. When it does not become healthy the
previous env file (and database password) are put back and the bot is recreated again.
Secret values are never printed or logged.

Environment: APP_ROOT, ENV_FILE, COMPOSE, LOG_DIR, LOCK_DIR, HEALTH_WAIT_SECONDS (120).

Exit codes: 0 rotated, 1 rotation failed or the bot was unhealthy (reverted), 64 usage error,
75 another operation holds the lock.
USAGE
}

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/release.sh
. "$SCRIPTS_DIR/lib/release.sh"

kind=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    db-password | secret-key | webhook-secret | stripe-key | telegram-token)
      [ -z "$kind" ] || usage_error "rotate one secret at a time"
      kind="$1"
      ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done
[ -n "$kind" ] || usage_error "name the secret to rotate"

require_env_file
acquire_lock operations

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

# Values from outside are read and checked before anything changes.
new=""
case "$kind" in
  stripe-key)
    new="$(read_secret "New Stripe API key")"
    [[ "$new" =~ ^(sk|rk)_(live|test)_[A-Za-z0-9]{8,}$ ]] || usage_error "that does not look like a Stripe secret key (sk_live_... or rk_live_...)"
    ;;
  telegram-token)
    new="$(read_secret "New Telegram bot token")"
    [[ "$new" =~ ^[0-9]{5,}:[A-Za-z0-9_-]{30,}$ ]] || usage_error "that does not look like a Telegram bot token (123456:ABC...)"
    ;;
esac

backup_copy="$(backup_env_file)"
info "saved the current env file as $backup_copy"
old_db_password=""

case "$kind" in
  db-password)
    old_db_password="$(env_get POSTGRES_PASSWORD)"
    new="$(openssl rand -hex 32)"
    if ! set_role_password "$new"; then
      audit rotate-secret failed "secret=$kind reason=alter-role"
      exit 1
    fi
    env_set "$ENV_FILE" "POSTGRES_PASSWORD=$new"
    ;;
  secret-key)
    env_set "$ENV_FILE" "SECRET_KEY_PREVIOUS=$(env_get SECRET_KEY)" "SECRET_KEY=$(openssl rand -hex 32)"
    ;;
  webhook-secret)
    env_set "$ENV_FILE" "WEBHOOK_SECRET_TOKEN_PREVIOUS=$(env_get WEBHOOK_SECRET_TOKEN)" \
      "WEBHOOK_SECRET_TOKEN=$(openssl rand -hex 32)"
    ;;
  stripe-key)
    env_set "$ENV_FILE" "STRIPE_API_KEY=$new"
    ;;
  telegram-token)
    env_set "$ENV_FILE" "TELEGRAM_BOT_TOKEN=$new"
    ;;
esac
unset new
info "updated $kind in $ENV_FILE"

# A restart keeps the old environment; the container has to be recreated to read the file.
version="$(env_get BOT_VERSION)"
if start_bot "$version" && wait_for_health; then
  info "rotated $kind; the bot is healthy"
  [ "$kind" != telegram-token ] || info "the bot registers its webhook with the new token at start"
  audit rotate-secret ok "secret=$kind env_backup=$(basename "$backup_copy")"
  exit 0
fi

err "the bot is not healthy with the new $kind; reverting"
if [ "$kind" = db-password ]; then
  set_role_password "$old_db_password" || err "could not put the old database password back"
fi
cp -p "$backup_copy" "$ENV_FILE.revert.$$"
mv -f "$ENV_FILE.revert.$$" "$ENV_FILE"
if start_bot "$version" && wait_for_health; then
  err "reverted $kind; the previous settings are back and the bot is healthy"
  audit rotate-secret reverted "secret=$kind env_backup=$(basename "$backup_copy")"
else
  err "reverted $kind, but the bot is still not healthy: check 'docker compose logs bot'"
  audit rotate-secret failed "secret=$kind reason=unhealthy-after-revert env_backup=$(basename "$backup_copy")"
fi
exit 1
