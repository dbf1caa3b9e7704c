#!/usr/bin/env bats
# Every shell command block of the operations guide (a copy in tests/ops-guide.md), run as
# written in a terminal (script(1)) on a stand-in host: /opt, /var/log and /var/lib/docker live
# under a temporary directory, docker is tests/bin/docker, the host commands (systemctl,
# journalctl, df, certbot, apt, ufw, ssh, nano, ping, curl, tail) are the recording doubles in
# tests/host-bin, the scripts run for real against the local PostgreSQL and a private Redis.
# Each test asserts that the block parses, which of its commands fail (none, or exactly the ones
# deployment/README.md says differ here) and what it did; where the README gives another command,
# that one is run too and must be clean. The README's "Guide blocks" table is checked against the
# blocks found in the guide and the verdicts below.
#
# Placeholders of the guide are filled in: <server-ip> 203.0.113.10, <previous-version> v1.2.2,
# <latest-backup>, backup-file.sql.gz and latest-backup.sql.gz the newest backup; the database
# role "toogoodtogo" is the test's role.

load helpers

GUIDE="$TESTS_DIR/ops-guide.md"

# verdicts: block id -> "as written" (every command works as the guide has it) or "differs"
# (the README gives the command to use instead). Must match the README's table.
declare -gA VERDICT=(
  [morning-checklist]=differs [weekly-checklist]="as written" [starting-services]="as written"
  [stopping-services]="as written" [restarting-services]="as written"
  [viewing-service-status]="as written" [standard-deployment]=differs [rollback-procedure]=differs
  [skip-options]="as written" [backup-locations]="not commands" [manual-backup]="as written"
  [restore-procedure]="as written" [health-check-endpoint]="as written"
  [prometheus-grafana-optional]="as written" [log-monitoring]="as written"
  [health-check-failing]="as written" [bot-not-responding]="as written"
  [ssl-certificate-issues]=differs [disk-space-issues]="as written"
  [database-connection-issues]=differs [rotating-database-password]=differs
  [rotating-telegram-bot-token]="as written" [rotating-stripe-api-key]="as written"
  [rotating-secret-key]="as written" [complete-service-outage]=differs
  [database-corruption]=differs [rollback-after-failed-deployment]="as written"
  [server-compromise-suspected]=differs [disk-space-exhaustion]=differs
  [redis-memory-exhaustion]="as written" [network-connectivity-loss]="as written"
  [missing-environment-variables]="as written"
)

setup() {
  new_stack
  create_db
  H="$T/host"
  mkdir -p "$H/opt" "$H/var/log/letsencrypt" "$H/var/lib/docker"
  echo "$(date '+%F %T') certbot renew: no renewals were attempted" >"$H/var/log/letsencrypt/letsencrypt.log"
  # the checkout: the deployment files at tags v1.2.2 and v1.2.3, v1.2.2 running
  mv "$APP_ROOT" "$H/opt/toogoodtogo"
  export APP_ROOT="$H/opt/toogoodtogo"
  export DEPLOY_DIR="$APP_ROOT/deployment" ENV_FILE="$APP_ROOT/deployment/.env.production"
  export BACKUP_DIR="$H/opt/backups/postgres" LOG_DIR="$H/var/log/toogoodtogo"
  unset COMPOSE_FILE
  (cd "$DEPLOYMENT_SRC" && tar cf - --exclude=./tests --exclude=./k8s --exclude='./.env*' .) | tar xf - -C "$DEPLOY_DIR"
  ln -sfn ../.env.production "$DEPLOY_DIR/monitoring/.env"
  sed -i 's/^BOT_VERSION=.*/BOT_VERSION=v1.2.2/' "$ENV_FILE"
  printf 'GRAFANA_ADMIN_PASSWORD=old-grafana-4444\nWEBHOOK_URL=https://bot.example.test/webhook\n' >>"$ENV_FILE"
  local g=(git -C "$APP_ROOT" -c user.name=test -c user.email=test@example.test -c advice.detachedHead=false)
  "${g[@]}" init -q
  printf 'deployment/.env*\n' >"$APP_ROOT/.gitignore"
  for v in v1.2.2 v1.2.3; do
    echo "$v" >"$APP_ROOT/RELEASE"
    "${g[@]}" add -A && "${g[@]}" commit -q -m "release $v" && "${g[@]}" tag "$v"
  done
  "${g[@]}" checkout -q --force tags/v1.2.2
  mkdir -p "$STATE_DIR"
  echo "2025-01-01T00:00:00Z v1.2.2 deployed" >"$STATE_DIR/releases"
  echo v1.2.2 >"$SHIM_STATE/running/bot"
  cp "$ENV_FILE" "$SHIM_STATE/running/bot.env"
  echo v1.2.2 >"$SHIM_STATE/images"
  # the units as installed, with this host's paths; the stack unit is running
  export GUIDE_UNIT_DIR="$T/units"
  mkdir -p "$GUIDE_UNIT_DIR" "$SHIM_STATE/units"
  for f in "$DEPLOYMENT_SRC"/systemd/*; do
    sed -e "s|/opt/|$H/opt/|g" -e 's|/usr/bin/docker|docker|g' "$f" >"$GUIDE_UNIT_DIR/$(basename "$f")"
  done
  echo active >"$SHIM_STATE/units/toogoodtogo.service"
  echo active >"$SHIM_STATE/units/toogoodtogo-backup.timer"
  mkdir -p "$SHIM_STATE/logs"
  echo '{"level":"INFO","message":"serving"}' >"$SHIM_STATE/logs/bot"
  echo '{"level":"ERROR","message":"Telegram API: timed out"}' >>"$SHIM_STATE/logs/bot"
  echo 'database system is ready to accept connections' >"$SHIM_STATE/logs/postgres"
  start_fake_bot
  export GUIDE_BOT_BASE="${BOT_HEALTH_URL%/health}"
  export PATH="$TESTS_DIR/host-bin:$PATH"
}

teardown() {
  stop_fake_bot
  [ -z "${REDIS_PID:-}" ] || { kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; }
  drop_db
  if [ -n "${TEST_ROLE:-}" ]; then
    dropdb --if-exists --force "$TEST_ROLE" >/dev/null 2>&1 || true
    psql -X -q -c "DROP ROLE IF EXISTS $TEST_ROLE" >/dev/null 2>&1 || true
  fi
}

latest_backup() { find "$BACKUP_DIR" -name 'toogoodtogo_*.sql.gz' -printf '%f\n' 2>/dev/null | sort | tail -n 1; }

make_backup() { "$DEPLOY_DIR/scripts/backup.sh" scheduled >/dev/null; }

# transform: the guide's text with this host's paths and the placeholders filled in.
transform() {
  local latest role="${TEST_ROLE:-toogoodtogo}"
  latest="$(latest_backup)"
  latest="${latest%.sql.gz}"
  sed -e "s|/opt/|$H/opt/|g" -e "s|/var/log/|$H/var/log/|g" -e "s|/var/lib/docker|$H/var/lib/docker|g" \
    -e 's|<server-ip>|203.0.113.10|g' -e 's|<previous-version>|v1.2.2|g' \
    -e "s|<latest-backup>|$latest|g" -e "s|backup-file\.sql\.gz|$latest.sql.gz|g" \
    -e "s|latest-backup\.sql\.gz|$latest.sql.gz|g" \
    -e "s|-U toogoodtogo|-U $role|g" -e "s|USER toogoodtogo |USER $role |g"
}

# run_in DIR TEXT: runs TEXT in a terminal from DIR (relative to the deployment directory);
# $GUIDE_INPUT is typed into it. Sets output, status and FAILED (one line per failing command:
# "exit-status<TAB>command", plus the doubles' error messages).
run_in() {
  local dir="$1" text="$2" n
  n=$((${n_runs:-0} + 1))
  n_runs=$n
  printf '%s\n' "$text" >"$T/block.$n.sh"
  bash -n "$T/block.$n.sh" || { echo "block does not parse"; return 1; }
  : >"$T/failed"
  : >"$SHIM_STATE/errors.log"
  export GUIDE_FAILED="$T/failed"
  {
    # shellcheck disable=SC2016 # expanded in the block's shell
    printf '%s\n' 'trap '\''printf "%s\t%s\n" "$?" "$BASH_COMMAND" >>"$GUIDE_FAILED"'\'' ERR' 'export GUIDE_BLOCK_PID=$$'
    cat "$T/block.$n.sh"
  } >"$T/run.$n.sh"
  cd "$DEPLOY_DIR/$dir"
  run timeout 120 script -qec "bash $T/run.$n.sh" /dev/null < <(printf '%s' "${GUIDE_INPUT:-}")
  cd "$BATS_TEST_TMPDIR"
  FAILED="$(cat "$T/failed" "$SHIM_STATE/errors.log")"
  # without the terminal's carriage returns and colours (jq colours its output on a terminal)
  printf '%s\n' "$output" | tr -d '\r' | sed 's/\x1b\[[0-9;]*m//g' >"$T/output.$n"
  output="$(cat "$T/output.$n")"
}

# block ID DIR: the guide's block ID as written, from DIR.
block() {
  python3 "$TESTS_DIR/guide_blocks.py" "$GUIDE" show "$1" >"$T/$1.raw"
  run_in "$2" "$(transform <"$T/$1.raw")"
}

clean() {
  if [ -n "$FAILED" ]; then
    echo "output: $output"
    echo "failed commands: $FAILED"
    return 1
  fi
}

# fails_only PATTERN...: the failures are exactly these (each pattern matches one, none else).
fails_only() {
  local p line ok
  for p in "$@"; do
    grep -Eq -- "$p" <<<"$FAILED" || { echo "expected a failure matching $p; failures: $FAILED"; return 1; }
  done
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    ok=0
    for p in "$@"; do if grep -Eq -- "$p" <<<"$line"; then ok=1; fi; done
    [ "$ok" = 1 ] || { echo "unexpected failure: $line"; echo "output: $output"; return 1; }
  done <<<"$FAILED"
}

# private_redis: a redis-server of our own for the blocks that write to Redis (flushdb).
private_redis() {
  local port=$((20000 + RANDOM % 20000))
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 3>&- &
  REDIS_PID=$!
  for _ in $(seq 1 50); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  export SHIM_REDIS_PORT="$port"
}

use_test_role() {
  TEST_ROLE="tgtg_role_${RANDOM}${RANDOM}"
  psql -X -q -c "CREATE ROLE $TEST_ROLE LOGIN PASSWORD 'old-db-password-0000'"
  psql -X -q -c "GRANT ALL ON DATABASE $TEST_DB TO $TEST_ROLE"
  # psql in the container connects to the database named like the role, as on the host
  createdb -O "$TEST_ROLE" "$TEST_ROLE"
  sed -i "s/^POSTGRES_USER=.*/POSTGRES_USER=$TEST_ROLE/" "$ENV_FILE"
}

running() { [ -e "$SHIM_STATE/running/$1" ]; }

# --- the list of blocks and the README ---------------------------------------------------------

@test "guide copy: identical to ../shared/ops-guide.md where that exists" {
  shared="$DEPLOYMENT_SRC/../../shared/ops-guide.md"
  if [ -f "$shared" ]; then
    cmp "$shared" "$GUIDE"
  else
    echo "no ../shared/ops-guide.md here; the copy is used as it is"
  fi
}

@test "guide blocks: every block has a verdict here and a row in the README's table, and no more" {
  mapfile -t ids < <(python3 "$TESTS_DIR/guide_blocks.py" "$GUIDE" list | cut -f1)
  [ "${#ids[@]}" -eq 32 ]
  [ "${#VERDICT[@]}" -eq "${#ids[@]}" ]
  # rows of the README table: | `id` | verdict | ...
  mapfile -t rows < <(sed -n 's/^| `\([a-z0-9-]*\)` | \([a-z ]*\) |.*/\1\t\2/p' "$DEPLOYMENT_SRC/README.md")
  [ "${#rows[@]}" -eq "${#ids[@]}" ] || { echo "README has ${#rows[@]} block rows"; return 1; }
  for i in "${!ids[@]}"; do
    id="${ids[$i]}"
    [ -n "${VERDICT[$id]:-}" ] || { echo "no verdict for $id"; return 1; }
    [ "${rows[$i]}" = "$id	${VERDICT[$id]}" ] || { echo "README row $i: '${rows[$i]}', expected '$id	${VERDICT[$id]}'"; return 1; }
    grep -q "^@test \"$id:" "$BATS_TEST_FILENAME" || { echo "no test for $id"; return 1; }
  done
}

# --- Daily operations --------------------------------------------------------------------------

@test "morning-checklist: as written only the --since \"12 hours ago\" fails; --since 12h works" {
  make_backup
  block morning-checklist .
  fails_only 'docker logs: .*failed to parse value as time or duration: "12 hours ago"'
  [[ "$output" == *"overall: healthy"* ]]
  [[ "$output" == *"Active: active (waiting)"* ]]
  [[ "$output" == *"toogoodtogo_"*".sql.gz"* ]]
  run_in . "docker compose -f $DEPLOY_DIR/docker-compose.prod.yml logs --since 12h | grep -i error | tail -20"
  clean
  [[ "$output" == *'"level":"ERROR"'* ]]
}

@test "weekly-checklist: works as written; the restore test is restore.sh --dry-run (and --verify)" {
  make_backup
  block weekly-checklist .
  clean
  [[ "$output" == *"Certificate Name"* ]] && [[ "$output" == *"Listing... Done"* ]]
  grep -q '^apt update' "$SHIM_STATE/host-calls.log"
  run_in . "scripts/restore.sh --dry-run \"\$(ls -t $BACKUP_DIR/toogoodtogo_*.sql.gz | head -1)\""
  clean
  [[ "$output" == *"dry run: database $TEST_DB is reachable"* ]]
  RESTORE_VERIFY_DB="${TEST_DB}_verify" run_in . "scripts/restore.sh --verify latest"
  clean
  [[ "$output" == *"2 tables, 70 rows; dropped it"* ]]
}

# --- Service management ------------------------------------------------------------------------

@test "starting-services: systemctl start runs the unit (config check, up), then compose up -d" {
  docker compose -f "$DEPLOY_DIR/docker-compose.prod.yml" down
  echo inactive >"$SHIM_STATE/units/toogoodtogo.service"
  block starting-services .
  clean
  for s in postgres redis bot nginx; do running "$s"; done
  [ "$(cat "$SHIM_STATE/units/toogoodtogo.service")" = active ]
  grep -q 'docker-compose.prod.yml config --quiet' "$SHIM_STATE/calls.log"
}

@test "stopping-services: works as written; everything is down" {
  block stopping-services .
  clean
  ! running bot && ! running postgres
  [ "$(cat "$SHIM_STATE/units/toogoodtogo.service")" = inactive ]
}

@test "restarting-services: works as written" {
  block restarting-services .
  clean
  grep -q 'restart bot' "$SHIM_STATE/calls.log" && grep -q 'restart nginx' "$SHIM_STATE/calls.log"
  running bot
}

@test "viewing-service-status: works as written" {
  block viewing-service-status .
  clean
  [[ "$output" == *"Active: active (exited)"* ]]
  [[ "$output" == *'"Running": true'* ]]
}

# --- Deployment --------------------------------------------------------------------------------

@test "standard-deployment: deploy works from scripts/; its logs command needs deployment/" {
  block standard-deployment .
  fails_only 'open .*/deployment/scripts/docker-compose.prod.yml: no such file or directory|docker compose -f docker-compose.prod.yml logs -f bot'
  [ "$(running_version)" = v1.2.3 ]
  grep -q '^ssh deploy@203.0.113.10' "$SHIM_STATE/host-calls.log"
  run_in scripts "cd .. && docker compose logs -f bot"
  clean
}

@test "rollback-procedure: rollback.sh works; the manual form needs deployment/ and BOT_VERSION" {
  "$DEPLOY_DIR/scripts/deploy.sh" v1.2.3 --skip-backup >/dev/null
  [ "$(running_version)" = v1.2.3 ]
  block rollback-procedure scripts
  fails_only 'open .*/deployment/scripts/docker-compose.prod.yml: no such file or directory|docker compose -f docker-compose.prod.yml up -d --build'
  [ "$(running_version)" = v1.2.2 ]
  # the README's manual rollback, from deployment/
  "$DEPLOY_DIR/scripts/deploy.sh" v1.2.3 --skip-backup >/dev/null
  run_in . "git -C $APP_ROOT checkout --force tags/v1.2.2 && sed -i 's/^BOT_VERSION=.*/BOT_VERSION=v1.2.2/' .env.production && docker compose -f docker-compose.prod.yml up -d --build --no-deps bot"
  clean
  [ "$(running_version)" = v1.2.2 ]
}

@test "skip-options: works as written" {
  block skip-options scripts
  clean
  [ "$(running_version)" = v1.2.3 ]
  [ -z "$(find "$BACKUP_DIR" -name '*pre_deployment*' 2>/dev/null)" ]
}

# --- Backup and recovery -----------------------------------------------------------------------

@test "backup-locations: a listing, not commands; the directory and names are what backup.sh makes" {
  python3 "$TESTS_DIR/guide_blocks.py" "$GUIDE" show backup-locations | bash -n
  make_backup
  "$DEPLOY_DIR/scripts/deploy.sh" v1.2.3 >/dev/null
  [[ "$(latest_backup)" =~ ^toogoodtogo_[0-9]{8}_[0-9]{6}(_pre_deployment)?\.sql\.gz$ ]]
  ls "$BACKUP_DIR" | grep -Eq '^toogoodtogo_[0-9]{8}_[0-9]{6}\.sql\.gz$'
  ls "$BACKUP_DIR" | grep -Eq '^toogoodtogo_[0-9]{8}_[0-9]{6}_pre_deployment\.sql\.gz$'
}

@test "manual-backup: works as written (latest-backup.sql.gz is the newest file)" {
  make_backup
  sleep 1
  block manual-backup .
  clean
  [[ "$(latest_backup)" == *_manual.sql.gz ]]
}

@test "restore-procedure: works as written with the stack stopped first (confirmation typed)" {
  make_backup
  psql -X -q -d "$TEST_DB" -c "DELETE FROM orders"
  GUIDE_INPUT=$'yes\n' block restore-procedure .
  clean
  [ "$(psql -X -tA -d "$TEST_DB" -c 'SELECT count(*) FROM orders')" = 20 ]
  [[ "$output" == *"restore complete"* ]] && [[ "$output" == *"overall: healthy"* ]]
  [ "$(cat "$SHIM_STATE/units/toogoodtogo.service")" = active ]
}

# --- Monitoring --------------------------------------------------------------------------------

@test "health-check-endpoint: works as written" {
  block health-check-endpoint .
  clean
  [[ "$output" == *'"status": "healthy"'* ]]
}

@test "prometheus-grafana-optional: works as written from deployment/ (monitoring/.env link)" {
  block prometheus-grafana-optional .
  clean
  [ -e "$SHIM_STATE/projects/toogoodtogo-monitoring/running/prometheus" ]
  [ -e "$SHIM_STATE/projects/toogoodtogo-monitoring/running/grafana" ]
}

@test "log-monitoring: works as written" {
  "$DEPLOY_DIR/scripts/health-check.sh" >/dev/null
  block log-monitoring .
  clean
  [[ "$output" == *'"level":"ERROR"'* ]]
  [[ "$output" == *"action=health-check"* ]]
}

# --- Troubleshooting ---------------------------------------------------------------------------

@test "health-check-failing: the bare docker compose commands work from deployment/" {
  block health-check-failing .
  clean
  [[ "$output" == *"accepting connections"* ]] && [[ "$output" == *PONG* ]]
}

@test "bot-not-responding: works as written" {
  block bot-not-responding .
  clean
  [[ "$output" == *"toogoodtogo_bot"*"MiB"* ]]
}

@test "ssl-certificate-issues: nginx is no host service here: docker compose ps nginx instead" {
  block ssl-certificate-issues .
  fails_only 'Unit nginx.service could not be found|^4	systemctl status nginx'
  run_in . "docker compose ps nginx && docker compose logs nginx --tail=50"
  clean
  [[ "$output" == *"toogoodtogo_nginx"*Up* ]]
}

@test "disk-space-issues: works as written" {
  block disk-space-issues .
  clean
  [[ "$output" == *"Total reclaimed space"* ]]
}

@test "database-connection-issues: no Python in the image, no '1 hour ago': the README's forms work" {
  block database-connection-issues .
  fails_only 'exec: "python": executable file not found|^126	docker compose exec bot python' \
    'failed to parse value as time or duration: "1 hour ago"|^1	docker compose logs postgres --since "1 hour ago"'
  run_in . "docker compose exec bot toogoodtogo-bot healthcheck && docker compose logs postgres --since 1h"
  clean
  [[ "$output" == *'"status": "healthy"'* ]]
}

# --- Secret rotation ---------------------------------------------------------------------------

@test "rotating-database-password: as written it prints the password; rotate-secret.sh db-password does it safely" {
  use_test_role
  block rotating-database-password .
  # base64 may contain '/', which breaks the guide's sed; otherwise the block works
  if [ -n "$FAILED" ]; then fails_only 'sed -i'; fi
  [[ "$output" == *"New password: "* ]]
  cp "$ENV_FILE" "$T/before.env"
  run_in . "scripts/rotate-secret.sh db-password"
  clean
  [[ "$(grep '^POSTGRES_PASSWORD=' "$ENV_FILE")" =~ ^POSTGRES_PASSWORD=[0-9a-f]{64}$ ]]
  [[ "$output" != *"$(sed -n 's/^POSTGRES_PASSWORD=//p' "$ENV_FILE")"* ]]
}

@test "rotating-telegram-bot-token: works as written (nano edits the file, restart re-reads it)" {
  NANO_EDIT='s/^TELEGRAM_BOT_TOKEN=.*/TELEGRAM_BOT_TOKEN=987654:AAHnewtokenvalue_abcdefghijklmnopqrstu/' \
    block rotating-telegram-bot-token .
  clean
  grep -qx 'TELEGRAM_BOT_TOKEN=987654:AAHnewtokenvalue_abcdefghijklmnopqrstu' "$SHIM_STATE/running/bot.env"
}

@test "rotating-stripe-api-key: works as written" {
  NANO_EDIT='s/^STRIPE_API_KEY=.*/STRIPE_API_KEY=sk_live_NewStripeKey12345/' block rotating-stripe-api-key .
  clean
  grep -qx 'STRIPE_API_KEY=sk_live_NewStripeKey12345' "$SHIM_STATE/running/bot.env"
  run_in . "docker compose exec bot toogoodtogo-bot payments-check"
  clean
  [[ "$output" == *"payments: ready"* ]]
}

@test "rotating-secret-key: works as written (buttons already sent stop working)" {
  block rotating-secret-key .
  clean
  [[ "$(grep '^SECRET_KEY=' "$SHIM_STATE/running/bot.env")" =~ ^SECRET_KEY=[0-9a-f]{64}$ ]]
  ! grep -q '^SECRET_KEY_PREVIOUS=' "$ENV_FILE"
}

# --- Emergency ---------------------------------------------------------------------------------

@test "complete-service-outage: journalctl takes '10 minutes ago', docker logs needs --since 10m" {
  block complete-service-outage .
  fails_only 'failed to parse value as time or duration: "10 minutes ago"|^1	docker compose logs --since "10 minutes ago"'
  grep -q '^journalctl -u toogoodtogo --since 10 minutes ago' "$SHIM_STATE/host-calls.log"
  run_in . "docker compose logs --since 10m"
  clean
}

@test "database-corruption: from deployment/, with -d, and scripts/restore.sh" {
  make_backup
  GUIDE_INPUT=$'yes\n' block database-corruption .
  fails_only '^127	\./restore\.sh '
  grep -q attached "$SHIM_STATE/attached"
  GUIDE_INPUT=$'yes\n' run_in . "systemctl stop toogoodtogo && docker compose up -d postgres && docker compose exec postgres pg_isready && scripts/restore.sh $BACKUP_DIR/$(latest_backup) && systemctl start toogoodtogo"
  clean
  [[ "$output" == *"restore complete"* ]]
}

@test "rollback-after-failed-deployment: works as written from scripts/" {
  "$DEPLOY_DIR/scripts/deploy.sh" v1.2.3 --skip-backup >/dev/null
  block rollback-after-failed-deployment scripts
  clean
  [ "$(running_version)" = v1.2.2 ]
  [[ "$output" == *"overall: healthy"* ]]
}

@test "server-compromise-suspected: ufw default deny changes nothing; emergency.sh isolate contains, journald has the SSH log" {
  # the rules setup-droplet.sh makes
  mkdir -p "$SHIM_STATE/ufw"
  printf '%s\n' 'allow OpenSSH' 'allow 80/tcp' 'allow 443/tcp' >"$SHIM_STATE/ufw/rules"
  block server-compromise-suspected .
  clean
  # the guide's pipeline ends in tail, so only the message tells
  [[ "$output" == *"auth.log: No such file or directory"* ]]
  # as written nothing was contained: nginx runs, the allow rules stay
  running nginx
  grep -qx 'allow 80/tcp' "$SHIM_STATE/ufw/rules"
  # the README's form: isolate (database up), rotate while isolated, review, open again
  run_in . "scripts/emergency.sh isolate && scripts/emergency.sh status; scripts/rotate-secret.sh secret-key && journalctl -u ssh --since '1 day ago' | tail -100"
  fails_only '^3	scripts/emergency.sh status'
  ! running nginx
  running postgres && running bot
  [ "$(cat "$SHIM_STATE/ufw/rules")" = "allow OpenSSH" ]
  # while isolated the stack unit does not reopen it
  run_in . "systemctl restart toogoodtogo"
  fails_only 'Job for toogoodtogo.service failed|^See "systemctl status|^1	systemctl restart toogoodtogo'
  ! running nginx
  running postgres && running redis
  run_in . "scripts/emergency.sh restore-access && systemctl start toogoodtogo"
  clean
  running nginx
  [ "$(sort "$SHIM_STATE/ufw/rules")" = "$(printf '%s\n' 'allow 443/tcp' 'allow 80/tcp' 'allow OpenSSH')" ]
}

@test "disk-space-exhaustion: the rm of *.sql.gz.old fails (there are none); backup.sh cleanup instead" {
  make_backup
  block disk-space-exhaustion .
  fails_only '^1	rm .*\*\.sql\.gz\.old'
  run_in . "scripts/backup.sh cleanup --older-than 7"
  clean
}

@test "redis-memory-exhaustion: works as written (a private Redis is flushed)" {
  private_redis
  redis-cli -p "$SHIM_REDIS_PORT" set ratelimit:1 5 >/dev/null
  block redis-memory-exhaustion .
  clean
  run_in . "docker compose exec redis redis-cli info memory && docker compose exec redis redis-cli flushdb"
  clean
  [[ "$output" == *used_memory:* ]] && [[ "$output" == *OK* ]]
  [ "$(redis-cli -p "$SHIM_REDIS_PORT" dbsize)" = 0 ]
}

@test "network-connectivity-loss: works as written" {
  block network-connectivity-loss .
  clean
  [[ "$output" == *"HTTP/2 302"* ]]
  run_in . "ufw status && docker compose ps nginx"
  clean
}

@test "missing-environment-variables: works as written from deployment/" {
  block missing-environment-variables .
  clean
  [[ "$output" == *"TELEGRAM_BOT_TOKEN="* ]]
  run_in . "grep -E '^[A-Z_]+=.' .env.production | cut -d= -f1"
  clean
  [[ "$output" != *old-secret-key* ]]
}
