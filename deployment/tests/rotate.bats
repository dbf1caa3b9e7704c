#!/usr/bin/env bats
# rotate-secret.sh: env file edits, the database role's password on the real local PostgreSQL,
# and the revert when the bot (stand-in) is unhealthy with the new settings.

load helpers

setup() {
  new_stack
  create_db
  TEST_ROLE="tgtg_role_${RANDOM}${RANDOM}"
  psql -X -q -c "SET password_encryption = 'scram-sha-256'; CREATE ROLE $TEST_ROLE LOGIN PASSWORD 'old-db-password-0000'"
  sed -i "s/^POSTGRES_USER=.*/POSTGRES_USER=$TEST_ROLE/" "$ENV_FILE"
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

@test "stripe-key and telegram-token: read from stdin, validated, never echoed" {
  run bash -c "echo sk_live_NewStripeKey12345 | '$SCRIPTS/rotate-secret.sh' stripe-key"
  [ "$status" -eq 0 ]
  [ "$(value STRIPE_API_KEY)" = sk_live_NewStripeKey12345 ]
  [[ "$output" != *NewStripeKey* ]]
  run bash -c "echo 987654:AAHnewtokenvalue_abcdefghijklmnopqrstu | '$SCRIPTS/rotate-secret.sh' telegram-token"
  [ "$status" -eq 0 ]
  [ "$(value TELEGRAM_BOT_TOKEN)" = 987654:AAHnewtokenvalue_abcdefghijklmnopqrstu ]
  ! grep -q -e NewStripeKey -e AAHnewtoken "$LOG_DIR/deployment.log"
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
