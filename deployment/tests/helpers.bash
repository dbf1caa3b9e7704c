# shellcheck shell=bash
# shellcheck disable=SC2034 # variables used by the suites that load this file
# Shared set-up for the deployment bats suites: a throwaway APP_ROOT, backup and log directories,
# the docker shim on PATH, a fresh PostgreSQL database and a fake bot health endpoint.

bats_require_minimum_version 1.5.0

TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEPLOYMENT_SRC="$(cd "$TESTS_DIR/.." && pwd)"
SCRIPTS="$DEPLOYMENT_SRC/scripts"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"

# new_stack: fresh directories and env file; sets T, APP_ROOT, ... and exports them.
new_stack() {
  T="$BATS_TEST_TMPDIR/stack"
  mkdir -p "$T"
  export APP_ROOT="$T/app"
  export DEPLOY_DIR="$APP_ROOT/deployment"
  export ENV_FILE="$DEPLOY_DIR/.env.production"
  export COMPOSE_FILE="$DEPLOY_DIR/docker-compose.prod.yml"
  export BACKUP_DIR="$T/backups" LOG_DIR="$T/log" STATE_DIR="$T/state" LOCK_DIR="$T/lock"
  export BACKUP_TEXTFILE_DIR="$T/textfile" SHIM_STATE="$T/shim"
  export PATH="$TESTS_DIR/bin:$PATH"
  unset COMPOSE BOT_VERSION SHIM_FAIL SHIM_SLOW SHIM_MIGRATE_FAIL BACKUP_UPLOAD_CMD
  export HEALTH_WAIT_SECONDS=3 HEALTH_INTERVAL=0.2 HEALTH_TIMEOUT=2
  mkdir -p "$DEPLOY_DIR" "$SHIM_STATE/running"
  cp "$DEPLOYMENT_SRC/docker-compose.prod.yml" "$COMPOSE_FILE"
  TEST_DB="tgtg_test_$(date +%s)_${RANDOM}${RANDOM}"
  export TEST_DB
  cat >"$ENV_FILE" <<ENV
BOT_VERSION=v1.0.0
POSTGRES_USER=postgres
POSTGRES_DB=$TEST_DB
POSTGRES_PASSWORD=old-db-password-0000
SECRET_KEY=old-secret-key-1111
WEBHOOK_SECRET_TOKEN=old-webhook-secret-2222
TELEGRAM_BOT_TOKEN=123456:old-telegram-token
STRIPE_API_KEY=sk_test_old_stripe_key
STRIPE_PROVIDER_TOKEN=284685063:TEST:old-provider-token
STRIPE_WEBHOOK_SECRET=whsec_oldwebhooksecret0000
REDIS_PASSWORD=old-redis-password-3333
DOMAIN=bot.example.test
COMPOSE_FILE=docker-compose.prod.yml
ENV
  chmod 600 "$ENV_FILE"
  # Compose reads .env (a link to the env file, as setup-droplet.sh makes it) for interpolation
  ln -s .env.production "$DEPLOY_DIR/.env"
  for s in postgres redis bot nginx; do : >"$SHIM_STATE/running/$s"; done
  echo v1.0.0 >"$SHIM_STATE/running/bot"
  cp "$ENV_FILE" "$SHIM_STATE/running/bot.env"
}

create_db() {
  createdb "$TEST_DB"
  psql -X -q -v ON_ERROR_STOP=1 -d "$TEST_DB" <<'SQL'
CREATE TABLE listings (id bigint PRIMARY KEY, title text NOT NULL, price_cents int NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, listing_id bigint REFERENCES listings(id), qty int);
INSERT INTO listings SELECT g, 'bag ' || g, 100 * g FROM generate_series(1, 50) g;
INSERT INTO orders (listing_id, qty) SELECT g, g % 3 + 1 FROM generate_series(1, 20) g;
SQL
}

drop_db() {
  if [ -n "${TEST_DB:-}" ]; then
    dropdb --if-exists --force "$TEST_DB" >/dev/null 2>&1 || true
  fi
}

# db_fingerprint: every row of the test tables, in order (what a restore must reproduce).
db_fingerprint() {
  psql -X -tA -d "$TEST_DB" -c "SELECT coalesce(string_agg(t::text, ';' ORDER BY t::text), '') FROM (SELECT 'l', id, title, price_cents FROM listings) t" \
    -c "SELECT coalesce(string_agg(t::text, ';' ORDER BY t::text), '') FROM (SELECT 'o', id, listing_id, qty FROM orders) t" 2>&1
}

start_fake_bot() {
  python3 "$TESTS_DIR/fake_bot.py" "$SHIM_STATE" "$T/fake_bot.port" 3>&- &
  FAKE_BOT_PID=$!
  local port
  for _ in $(seq 1 50); do
    [ -s "$T/fake_bot.port" ] && break
    sleep 0.1
  done
  [ -s "$T/fake_bot.port" ] || { echo "fake bot did not start" >&2; return 1; }
  port="$(cat "$T/fake_bot.port")"
  export BOT_HEALTH_URL="http://127.0.0.1:$port/health"
  export NGINX_HEALTH_URL="http://127.0.0.1:$port/healthz"
}

stop_fake_bot() {
  if [ -n "${FAKE_BOT_PID:-}" ]; then
    kill "$FAKE_BOT_PID" 2>/dev/null || true
    wait "$FAKE_BOT_PID" 2>/dev/null || true
  fi
}

# calls: the compose calls the scripts made (shim log).
calls() { cat "$SHIM_STATE/calls.log" 2>/dev/null || true; }

# audit_log: the deployment audit log.
audit_log() { cat "$LOG_DIR/deployment.log" 2>/dev/null || true; }

# git_releases: APP_ROOT becomes a git checkout with tags v1.0.0, v1.1.0 and v2.0.0 (each
# changes RELEASE), checked out at v1.0.0; the env file stays untracked.
git_releases() {
  local g=(git -C "$APP_ROOT" -c user.name=test -c user.email=test@example.test -c advice.detachedHead=false)
  "${g[@]}" init -q
  printf 'deployment/.env*\n' >"$APP_ROOT/.gitignore"
  for v in v1.0.0 v1.1.0 v2.0.0; do
    echo "$v" >"$APP_ROOT/RELEASE"
    "${g[@]}" add -A
    "${g[@]}" commit -q -m "release $v"
    "${g[@]}" tag "$v"
  done
  "${g[@]}" checkout -q --force tags/v1.0.0
}

checked_out() { cat "$APP_ROOT/RELEASE"; }
running_version() { cat "$SHIM_STATE/running/bot" 2>/dev/null || echo stopped; }
recorded_version() { grep '^BOT_VERSION=' "$ENV_FILE" | cut -d= -f2-; }
