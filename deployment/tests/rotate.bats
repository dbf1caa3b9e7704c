#!/usr/bin/env bats
# rotate-secret.sh: env file edits, the database role's password on the real local PostgreSQL,
# the verification against what uses each secret (the docker double's `toogoodtogo-bot webhook
# info` and `payments-check`, Redis, Grafana's API on the stand-in) and the revert when it fails.

load helpers

setup() {
  new_stack
  create_db
  TEST_ROLE="tgtg_role_${RANDOM}${RANDOM}"
  psql -X -q -c "SET password_encryption = 'scram-sha-256'; CREATE ROLE $TEST_ROLE LOGIN PASSWORD 'old-db-password-0000'"
  sed -i "s/^POSTGRES_USER=.*/POSTGRES_USER=$TEST_ROLE/" "$ENV_FILE"
  echo GRAFANA_ADMIN_PASSWORD=old-grafana-4444 >>"$ENV_FILE"
  cp "$ENV_FILE" "$SHIM_STATE/running/bot.env"
  cp "$ENV_FILE" "$T/original.env"
  start_fake_bot
}

teardown() {
  stop_fake_bot
  drop_db
  psql -X -q -c "DROP ROLE IF EXISTS $TEST_ROLE" >/dev/null 2>&1 || true
}

role_password_is() {
  local verifier
  verifier="$(psql -X -tA -c "SELECT rolpassword FROM pg_authid WHERE rolname = '$TEST_ROLE'")"
  python3 "$TESTS_DIR/scram_check.py" "$verifier" "$1"
}

value() { grep "^$1=" "$ENV_FILE" | tail -n 1 | cut -d= -f2-; }

@test "secret-key: new 64-hex key, old one kept as SECRET_KEY_PREVIOUS, bot recreated, no secret printed" {
  run "$SCRIPTS/rotate-secret.sh" secret-key
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$(value SECRET_KEY)" =~ ^[0-9a-f]{64}$ ]]
  [ "$(value SECRET_KEY_PREVIOUS)" = old-secret-key-1111 ]
  # the running container got the new settings (recreated, not restarted)
  grep -qx "SECRET_KEY=$(value SECRET_KEY)" "$SHIM_STATE/running/bot.env"
  grep -q 'up -d --no-deps --force-recreate bot' "$SHIM_STATE/calls.log"
  # every other line is untouched, mode stays 600
  diff <(grep -v '^SECRET_KEY' "$T/original.env") <(grep -v '^SECRET_KEY' "$ENV_FILE")
  [ "$(stat -c %a "$ENV_FILE")" = 600 ]
  # backup copy of the previous env file
  copy="$(ls "$ENV_FILE".bak.*)"
  cmp "$copy" "$T/original.env"
  [ "$(stat -c %a "$copy")" = 600 ]
  # no secret value in the output or the audit log
  [[ "$output" != *"$(value SECRET_KEY)"* ]] && [[ "$output" != *old-secret-key-1111* ]]
  ! grep -q -e "$(value SECRET_KEY)" -e old-secret-key-1111 "$LOG_DIR/deployment.log"
  grep -q 'action=rotate-secret result=ok secret=secret-key' "$LOG_DIR/deployment.log"
}

@test "webhook-secret: new token, previous kept for in-flight updates" {
  run "$SCRIPTS/rotate-secret.sh" webhook-secret
  [ "$status" -eq 0 ]
  [[ "$(value WEBHOOK_SECRET_TOKEN)" =~ ^[0-9a-f]{64}$ ]]
  [ "$(value WEBHOOK_SECRET_TOKEN_PREVIOUS)" = old-webhook-secret-2222 ]
}

@test "db-password: the role's password changes on the real server and in the env file" {
  role_password_is old-db-password-0000
  run "$SCRIPTS/rotate-secret.sh" db-password
  echo "$output"
  [ "$status" -eq 0 ]
  new="$(value POSTGRES_PASSWORD)"
  [[ "$new" =~ ^[0-9a-f]{64}$ ]]
  role_password_is "$new"
  ! role_password_is old-db-password-0000
  [[ "$output" != *"$new"* ]]
  ! grep -q "$new" "$SHIM_STATE/calls.log"
}

@test "db-password: unhealthy bot -> old password back on the role and in the env file (exit 1)" {
  # the stand-in reports unhealthy whenever the container runs with a password other than the old one
  echo '^POSTGRES_PASSWORD=(?!old-db-password-0000$)' >"$SHIM_STATE/unhealthy_if"
  run "$SCRIPTS/rotate-secret.sh" db-password
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"reverted db-password; the previous settings are back and the bot is healthy"* ]]
  cmp "$ENV_FILE" "$T/original.env"
  cmp "$SHIM_STATE/running/bot.env" "$T/original.env"
  role_password_is old-db-password-0000
  grep -q 'action=rotate-secret result=reverted secret=db-password' "$LOG_DIR/deployment.log"
}

@test "secret-key: unhealthy bot -> env file restored byte for byte (exit 1)" {
  echo '^SECRET_KEY_PREVIOUS=.' >"$SHIM_STATE/unhealthy_if"
  run "$SCRIPTS/rotate-secret.sh" secret-key
  [ "$status" -eq 1 ]
  cmp "$ENV_FILE" "$T/original.env"
  [ "$(stat -c %a "$ENV_FILE")" = 600 ]
  [ "$(running_version)" = v1.0.0 ]
}

@test "stripe-key and telegram-token: read from stdin, validated, verified against Telegram and Stripe, never echoed" {
  run bash -c "echo sk_live_NewStripeKey12345 | '$SCRIPTS/rotate-secret.sh' stripe-key"
  [ "$status" -eq 0 ]
  [ "$(value STRIPE_API_KEY)" = sk_live_NewStripeKey12345 ]
  [[ "$output" != *NewStripeKey* ]]
  run bash -c "echo 987654:AAHnewtokenvalue_abcdefghijklmnopqrstu | '$SCRIPTS/rotate-secret.sh' telegram-token"
  [ "$status" -eq 0 ]
  [ "$(value TELEGRAM_BOT_TOKEN)" = 987654:AAHnewtokenvalue_abcdefghijklmnopqrstu ]
  ! grep -q -e NewStripeKey -e AAHnewtoken "$LOG_DIR/deployment.log"
  # each checked in the recreated container with the new value
  grep -q 'exec -T bot toogoodtogo-bot payments-check' "$SHIM_STATE/calls.log"
  grep -q 'exec -T bot toogoodtogo-bot webhook info' "$SHIM_STATE/calls.log"
  [[ "$output" == *"Telegram accepts the new token"* ]]
}

# reverts_exactly KIND: the rotation exited 1 and everything is as before it.
reverts_exactly() {
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"reverted $1; the previous settings are back"* ]]
  cmp "$ENV_FILE" "$T/original.env"
  cmp "$SHIM_STATE/running/bot.env" "$T/original.env"
  [ "$(stat -c %a "$ENV_FILE")" = 600 ]
  grep -q "action=rotate-secret result=reverted secret=$1 " "$LOG_DIR/deployment.log"
}

@test "telegram-token: a healthy bot whose token Telegram refuses (webhook info) is reverted" {
  # /health does not talk to Telegram: the bot is healthy with a revoked token
  echo '^TELEGRAM_BOT_TOKEN=987654:' >"$SHIM_STATE/webhook_fail_if"
  run bash -c "echo 987654:AAHrevokedtoken_abcdefghijklmnopqrstu | '$SCRIPTS/rotate-secret.sh' telegram-token"
  reverts_exactly telegram-token
  [[ "$output" == *"bot is healthy"*"webhook info failed: error: Telegram API: Unauthorized"* ]]
  grep -q 'reason="Telegram refused the token (webhook info)"' "$LOG_DIR/deployment.log"
  [[ "$output" != *AAHrevoked* ]]
}

@test "stripe-key: a key Stripe refuses (payments-check) is reverted" {
  echo '^STRIPE_API_KEY=sk_live_Revoked' >"$SHIM_STATE/payments_fail_if"
  run bash -c "echo sk_live_RevokedKey12345 | '$SCRIPTS/rotate-secret.sh' stripe-key"
  reverts_exactly stripe-key
  [[ "$output" == *"STRIPE_API_KEY: refused"* ]]
  [[ "$output" != *RevokedKey* ]]
}

@test "stripe-provider-token: from stdin, verified with payments-check; refused -> reverted" {
  run bash -c "echo 350862534:LIVE:NewProviderToken123 | '$SCRIPTS/rotate-secret.sh' stripe-provider-token"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(value STRIPE_PROVIDER_TOKEN)" = 350862534:LIVE:NewProviderToken123 ]
  grep -qx 'STRIPE_PROVIDER_TOKEN=350862534:LIVE:NewProviderToken123' "$SHIM_STATE/running/bot.env"
  [[ "$output" == *"payments-check: payments: ready"* ]] && [[ "$output" != *NewProviderToken* ]]
  cp "$ENV_FILE" "$T/original.env"
  echo '^STRIPE_PROVIDER_TOKEN=350862534:LIVE:Bad' >"$SHIM_STATE/payments_fail_if"
  run bash -c "echo 350862534:LIVE:BadProviderToken123 | '$SCRIPTS/rotate-secret.sh' stripe-provider-token"
  reverts_exactly stripe-provider-token
  run bash -c "echo 350862534:nope | '$SCRIPTS/rotate-secret.sh' stripe-provider-token"
  [ "$status" -eq 64 ]
}

@test "stripe-webhook-secret: from stdin, verified with payments-check; failing check -> reverted" {
  run bash -c "echo whsec_NewSigningSecret0123456789 | '$SCRIPTS/rotate-secret.sh' stripe-webhook-secret"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(value STRIPE_WEBHOOK_SECRET)" = whsec_NewSigningSecret0123456789 ]
  grep -qx 'STRIPE_WEBHOOK_SECRET=whsec_NewSigningSecret0123456789' "$SHIM_STATE/running/bot.env"
  cp "$ENV_FILE" "$T/original.env"
  echo '^STRIPE_WEBHOOK_SECRET=whsec_Broken' >"$SHIM_STATE/payments_fail_if"
  run bash -c "echo whsec_BrokenSigningSecret0123456 | '$SCRIPTS/rotate-secret.sh' stripe-webhook-secret"
  reverts_exactly stripe-webhook-secret
  run bash -c "echo sk_live_NotAWebhookSecret | '$SCRIPTS/rotate-secret.sh' stripe-webhook-secret"
  [ "$status" -eq 64 ]
}

@test "redis-password: new hex, Redis and the bot recreated; a degraded bot (Redis refused) is reverted" {
  run "$SCRIPTS/rotate-secret.sh" redis-password
  echo "$output"
  [ "$status" -eq 0 ]
  new="$(value REDIS_PASSWORD)"
  [[ "$new" =~ ^[0-9a-f]{64}$ ]]
  grep -q 'up -d --no-deps --force-recreate redis$' "$SHIM_STATE/calls.log"
  grep -qx "REDIS_PASSWORD=$new" "$SHIM_STATE/running/bot.env"
  [[ "$output" != *"$new"* ]]
  ! grep -q "$new" "$LOG_DIR/deployment.log"
  # the bot reports Redis trouble as "degraded" (still exit 0 for health-check.sh): not enough here
  cp "$ENV_FILE" "$T/original.env"
  cp "$ENV_FILE" "$SHIM_STATE/running/bot.env"
  echo "^REDIS_PASSWORD=(?!$new\$)" >"$SHIM_STATE/degraded_if"
  run "$SCRIPTS/rotate-secret.sh" redis-password
  reverts_exactly redis-password
  [[ "$output" == *"Redis or the bot's Redis connection not healthy"* ]]
  [ "$(grep -c 'force-recreate redis$' "$SHIM_STATE/calls.log")" -eq 3 ]
}

# monitoring_stack: the monitoring compose file next to the stack, Grafana and the exporters
# running with the old admin password.
monitoring_stack() {
  mkdir -p "$DEPLOY_DIR/monitoring"
  cp "$DEPLOYMENT_SRC/monitoring/docker-compose.monitoring.yml" "$DEPLOY_DIR/monitoring/"
  ln -s ../.env.production "$DEPLOY_DIR/monitoring/.env"
  M="$SHIM_STATE/projects/toogoodtogo-monitoring"
  mkdir -p "$M/running"
  for s in prometheus grafana postgres-exporter redis-exporter; do : >"$M/running/$s"; done
  echo old-grafana-4444 >"$M/grafana_password"
  export GRAFANA_URL="${BOT_HEALTH_URL%/health}"
}

@test "grafana-password: set in the running Grafana through stdin, verified on its API; refused -> old one back" {
  monitoring_stack
  run "$SCRIPTS/rotate-secret.sh" grafana-password
  echo "$output"
  [ "$status" -eq 0 ]
  new="$(value GRAFANA_ADMIN_PASSWORD)"
  [[ "$new" =~ ^[0-9a-f]{64}$ ]]
  [ "$(cat "$M/grafana_password")" = "$new" ]
  [[ "$output" == *"Grafana accepts the new admin password"* ]]
  ! grep -q "$new" "$SHIM_STATE/calls.log" "$LOG_DIR/deployment.log"
  # the bot does not read it: not recreated
  ! grep -q 'force-recreate bot' "$SHIM_STATE/calls.log"
  cp "$ENV_FILE" "$T/original.env"
  touch "$SHIM_STATE/grafana_reject"
  run "$SCRIPTS/rotate-secret.sh" grafana-password
  echo "$output"
  [ "$status" -eq 1 ]
  cmp "$ENV_FILE" "$T/original.env"
  [ "$(cat "$M/grafana_password")" = "$new" ]
  grep -q 'action=rotate-secret result=reverted secret=grafana-password' "$LOG_DIR/deployment.log"
}

@test "grafana-password without a running Grafana changes nothing (exit 1)" {
  run "$SCRIPTS/rotate-secret.sh" grafana-password
  [ "$status" -eq 1 ]
  [[ "$output" == *"Grafana does not run"* ]]
  cmp "$ENV_FILE" "$T/original.env"
}

@test "db-password and redis-password: running exporters of the monitoring stack get the new value" {
  monitoring_stack
  "$SCRIPTS/rotate-secret.sh" db-password
  grep -q 'monitoring/docker-compose.monitoring.yml up -d --no-deps --force-recreate postgres-exporter' "$SHIM_STATE/calls.log"
  "$SCRIPTS/rotate-secret.sh" redis-password
  grep -q 'monitoring/docker-compose.monitoring.yml up -d --no-deps --force-recreate redis-exporter' "$SHIM_STATE/calls.log"
}

all_values() {
  printf '%s\n' TELEGRAM_BOT_TOKEN=987654:AAHnewtokenvalue_abcdefghijklmnopqrstu \
    STRIPE_API_KEY=sk_live_NewStripeKey12345 STRIPE_PROVIDER_TOKEN=350862534:LIVE:NewProviderToken123 \
    STRIPE_WEBHOOK_SECRET=whsec_NewSigningSecret0123456789
}

@test "all: every secret rotated and verified in order, one summary" {
  monitoring_stack
  all_values >"$T/values"
  run "$SCRIPTS/rotate-secret.sh" all <"$T/values"
  echo "$output"
  [ "$status" -eq 0 ]
  for v in POSTGRES_PASSWORD REDIS_PASSWORD SECRET_KEY WEBHOOK_SECRET_TOKEN GRAFANA_ADMIN_PASSWORD; do
    [[ "$(value "$v")" =~ ^[0-9a-f]{64}$ ]] || { echo "$v not rotated"; return 1; }
  done
  [ "$(value SECRET_KEY_PREVIOUS)" = old-secret-key-1111 ]
  [ "$(value TELEGRAM_BOT_TOKEN)" = 987654:AAHnewtokenvalue_abcdefghijklmnopqrstu ]
  [ "$(value STRIPE_WEBHOOK_SECRET)" = whsec_NewSigningSecret0123456789 ]
  role_password_is "$(value POSTGRES_PASSWORD)"
  cmp <(sed -n 's/^GRAFANA_ADMIN_PASSWORD=//p' "$ENV_FILE") "$M/grafana_password"
  # in the safe order, one summary
  order="$(grep '^== ' <<<"$output" | cut -c4- | paste -sd' ' -)"
  [ "$order" = "db-password redis-password secret-key webhook-secret telegram-token stripe-key stripe-provider-token stripe-webhook-secret grafana-password" ]
  [ "$(grep -c '^summary:' <<<"$output")" -eq 1 ]
  [ "$(grep -cE '^  [a-z-]+ +rotated$' <<<"$output")" -eq 9 ]
  [[ "$output" == *"all secrets rotated (9 rotated, 0 skipped)"* ]]
  grep -q 'action=rotate-secret-all result=ok rotated=9 skipped=0' "$LOG_DIR/deployment.log"
  ! grep -q -e NewStripeKey -e AAHnewtoken -e NewProviderToken -e NewSigningSecret "$LOG_DIR/deployment.log"
  [[ "$output" != *NewStripeKey* ]]
}

@test "all: a failing verification reverts that secret, keeps the ones before, starts none after" {
  echo '^TELEGRAM_BOT_TOKEN=987654:' >"$SHIM_STATE/webhook_fail_if"
  all_values >"$T/values"
  run "$SCRIPTS/rotate-secret.sh" all <"$T/values"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$(value SECRET_KEY)" =~ ^[0-9a-f]{64}$ ]] && [[ "$(value REDIS_PASSWORD)" =~ ^[0-9a-f]{64}$ ]]
  role_password_is "$(value POSTGRES_PASSWORD)"
  [ "$(value TELEGRAM_BOT_TOKEN)" = 123456:old-telegram-token ]
  [ "$(value STRIPE_API_KEY)" = sk_test_old_stripe_key ]
  grep -qx 'TELEGRAM_BOT_TOKEN=123456:old-telegram-token' "$SHIM_STATE/running/bot.env"
  [[ "$output" == *"telegram-token         FAILED, reverted: Telegram refused the token (webhook info)"* ]]
  [[ "$output" == *"stripe-key             not started (stopped after telegram-token)"* ]]
  [[ "$output" == *"webhook-secret         rotated"* ]]
  [[ "$output" == *"grafana-password       not started"* ]]
  grep -q 'action=rotate-secret-all result=failed rotated=4 skipped=0 failed=telegram-token' "$LOG_DIR/deployment.log"
}

@test "all: values left out are skipped; a malformed one changes nothing (exit 64)" {
  printf 'STRIPE_API_KEY=sk_live_NewStripeKey12345\n' >"$T/values"
  run "$SCRIPTS/rotate-secret.sh" all <"$T/values"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"telegram-token         skipped: no new value given"* ]]
  [[ "$output" == *"stripe-key             rotated"* ]]
  [[ "$output" == *"grafana-password       skipped: Grafana does not run"* ]]
  [ "$(value TELEGRAM_BOT_TOKEN)" = 123456:old-telegram-token ]
  cp "$ENV_FILE" "$T/after.env"
  rm -f "$ENV_FILE".bak.*
  printf 'TELEGRAM_BOT_TOKEN=987654:AAHnewtokenvalue_abcdefghijklmnopqrstu\nSTRIPE_API_KEY=not-a-key\n' >"$T/values"
  run "$SCRIPTS/rotate-secret.sh" all <"$T/values"
  [ "$status" -eq 64 ]
  cmp "$ENV_FILE" "$T/after.env"
  [ -z "$(ls "$ENV_FILE".bak.* 2>/dev/null)" ]
  printf 'SECRET_KEY=mine\n' >"$T/values"
  run "$SCRIPTS/rotate-secret.sh" all <"$T/values"
  [ "$status" -eq 64 ]
}

@test "a malformed new value is a usage error and changes nothing" {
  run bash -c "echo not-a-key | '$SCRIPTS/rotate-secret.sh' stripe-key"
  [ "$status" -eq 64 ]
  cmp "$ENV_FILE" "$T/original.env"
  [ -z "$(ls "$ENV_FILE".bak.* 2>/dev/null)" ]
  run "$SCRIPTS/rotate-secret.sh" everything
  [ "$status" -eq 64 ]
}

@test "rotation while a deploy holds the lock is refused with exit 75" {
  mkdir -p "$LOCK_DIR"
  flock "$LOCK_DIR/operations.lock" sleep 3 &
  holder=$!
  sleep 0.3
  run "$SCRIPTS/rotate-secret.sh" secret-key
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  [ "$status" -eq 75 ]
  cmp "$ENV_FILE" "$T/original.env"
}
