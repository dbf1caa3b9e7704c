#!/usr/bin/env bats
# Static checks of the single-host files: scripts, compose, env example, Dockerfile, nginx,
# Redis, systemd and logrotate. Each check runs the real tool where one exists.

load helpers

setup() {
  TMP="$BATS_TEST_TMPDIR"
  PY="$(yaml_python)"
}

# yaml_python: a python3 that has PyYAML (Debian's python3-yaml comes with yamllint).
yaml_python() {
  local p
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import yaml' 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "python3-with-yaml-missing"
}

compose_check() {
  run "$PY" "$TESTS_DIR/check_compose.py" "${2:-$DEPLOYMENT_SRC/docker-compose.prod.yml}" \
    "$DEPLOYMENT_SRC/.env.production.example" "$1"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "shellcheck: every shell script is clean" {
  mapfile -t files < <(find "$DEPLOYMENT_SRC" -type f \( -name '*.sh' -o -name '*.bash' \) -not -path '*/k8s/*'; echo "$TESTS_DIR/bin/docker"; echo "$TESTS_DIR/host-bin/host-double")
  [ "${#files[@]}" -ge 5 ]
  run shellcheck -x -P "$SCRIPTS" "${files[@]}"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "every script has --help, set -euo pipefail and exits 64 on an unknown option" {
  for s in "$SCRIPTS"/*.sh "$DEPLOYMENT_SRC/nginx/certbot-deploy-hook.sh"; do
    grep -q '^set -euo pipefail$' "$s" || { echo "no set -euo pipefail: $s"; return 1; }
    run "$s" --help
    [ "$status" -eq 0 ] || { echo "--help failed: $s"; return 1; }
    [[ "$output" == Usage:* ]] || { echo "--help has no usage: $s"; return 1; }
  done
  for s in "$SCRIPTS"/*.sh; do
    LOG_DIR="$TMP/log" LOCK_DIR="$TMP/lock" run "$s" --no-such-option
    [ "$status" -eq 64 ] || { echo "$s --no-such-option exited $status"; return 1; }
  done
}

@test "compose: container names, PostgreSQL 15, bot image toogoodtogo/bot:\${BOT_VERSION}" {
  compose_check names
}

@test "compose: internal network for postgres/redis, bot on loopback 8000, only nginx on 80/443" {
  compose_check networks
}

@test "compose: healthchecks pg_isready, redis-cli ping with REDISCLI_AUTH, bot healthcheck" {
  compose_check healthchecks
}

@test "compose: depends_on service_healthy and migrations before the bot serves" {
  compose_check dependencies
}

@test "compose: restart policies, limits, log rotation, named volumes, 30 s grace period" {
  compose_check runtime
}

@test "compose: env_file .env.production, POSTGRES_HOST and Redis address, documented variables" {
  compose_check environment
}

@test "compose: no unknown keys, undeclared networks/volumes or dependencies (both compose files)" {
  compose_check keys
  compose_check keys "$DEPLOYMENT_SRC/monitoring/docker-compose.monitoring.yml"
  sed -e 's/stop_grace_period: 30s/stop_grace_perod: 30s/' "$DEPLOYMENT_SRC/docker-compose.prod.yml" >"$TMP/typo.yml"
  run "$PY" "$TESTS_DIR/check_compose.py" "$TMP/typo.yml" "$DEPLOYMENT_SRC/.env.production.example" keys
  [ "$status" -eq 1 ]
  [[ "$output" == *"bot: unknown key stop_grace_perod"* ]]
}

@test "compose checker catches a bot published on all interfaces" {
  sed -e 's/"127.0.0.1:8000:8000"/"8000:8000"/' "$DEPLOYMENT_SRC/docker-compose.prod.yml" >"$TMP/bad.yml"
  run "$PY" "$TESTS_DIR/check_compose.py" "$TMP/bad.yml" "$DEPLOYMENT_SRC/.env.production.example" networks
  [ "$status" -eq 1 ]
  [[ "$output" == *"bot must publish only 127.0.0.1:8000:8000"* ]]
}

@test "yamllint: compose, monitoring and provisioning YAML" {
  mapfile -t files < <(find "$DEPLOYMENT_SRC" -type f \( -name '*.yml' -o -name '*.yaml' \) -not -path '*/k8s/*')
  run yamllint -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable, truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}' "${files[@]}"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test ".env.production.example documents every variable the bot reads" {
  config="$DEPLOYMENT_SRC/../bot/src/config.rs"
  if [ ! -f "$config" ] || ! grep -q 'pub const ENV_VARS' "$config"; then
    skip "bot/src/config.rs with ENV_VARS does not exist yet"
  fi
  mapfile -t vars < <(sed -n '/pub const ENV_VARS/,/\];/p' "$config" | grep -o '"[A-Z][A-Z0-9_]*"' | tr -d '"')
  [ "${#vars[@]}" -ge 10 ]
  missing=()
  for v in "${vars[@]}"; do
    grep -Eq "^(# )?$v=" "$DEPLOYMENT_SRC/.env.production.example" || missing+=("$v")
  done
  echo "missing: ${missing[*]}"
  [ "${#missing[@]}" -eq 0 ]
}

@test ".env.production.example: required minimum and BOT_VERSION present, no real secrets" {
  ex="$DEPLOYMENT_SRC/.env.production.example"
  for v in TELEGRAM_BOT_TOKEN POSTGRES_PASSWORD SECRET_KEY BOT_VERSION REDIS_PASSWORD GRAFANA_ADMIN_PASSWORD; do
    grep -q "^$v=" "$ex" || { echo "$v missing"; return 1; }
  done
  # secrets are left empty in the example
  for v in TELEGRAM_BOT_TOKEN POSTGRES_PASSWORD SECRET_KEY REDIS_PASSWORD WEBHOOK_SECRET_TOKEN STRIPE_API_KEY; do
    [ -z "$(env_get_file "$v" "$ex")" ] || { echo "$v has a value"; return 1; }
  done
}

env_get_file() { grep "^$1=" "$2" | tail -n 1 | cut -d= -f2-; }

@test "Dockerfile: multi-stage, locked release build, non-root distroless runtime, exec HEALTHCHECK" {
  df="$DEPLOYMENT_SRC/Dockerfile"
  [ "$(grep -c '^FROM ' "$df")" -ge 2 ]
  grep -q 'cargo build --release --locked -p toogoodtogo-bot' "$df"
  final="$(awk '/^FROM /{n++} n==2' "$df")"
  [[ "$(echo "$final" | head -n 1)" == *distroless* ]]
  echo "$final" | grep -q '^USER 65532:65532$'
  echo "$final" | grep -q 'CMD \["/usr/local/bin/toogoodtogo-bot", "healthcheck"\]'
  echo "$final" | grep -q '^ENTRYPOINT \["/usr/local/bin/toogoodtogo-bot"\]'
  echo "$final" | grep -q '^EXPOSE 8000$'
  # no floating base image tags
  ! grep -E '^FROM [^ ]+:latest' "$df"
  # the build context (workspace root) keeps secrets, VCS data and build output out
  for p in .git target '**/.env' '**/.env.*'; do
    grep -qxF "$p" "$DEPLOYMENT_SRC/../.dockerignore" || { echo ".dockerignore lacks $p"; return 1; }
  done
}

@test "Dockerfile: the paths it builds from exist in the workspace" {
  root="$DEPLOYMENT_SRC/.."
  [ -f "$root/Cargo.toml" ] || skip "the workspace (Cargo.toml) is not in this checkout yet"
  [ -f "$root/Cargo.lock" ] && [ -d "$root/bot" ]
  grep -q 'name = "toogoodtogo-bot"' "$root/bot/Cargo.toml"
  # the Rust image is at least the workspace's rust-version
  need="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$root/Cargo.toml")"
  have="$(sed -n 's/^ARG RUST_VERSION=//p' "$DEPLOYMENT_SRC/Dockerfile")"
  [ -n "$need" ] && [ -n "$have" ]
  [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" = "$need" ]
  # the version handed to the build is the variable the bot's build script reads
  if [ -f "$root/bot/build.rs" ]; then
    var="$(sed -n 's/^ENV \([A-Z_]*\)=\${BOT_VERSION}$/\1/p' "$DEPLOYMENT_SRC/Dockerfile")"
    [ -n "$var" ]
    grep -q "env::var(\"$var\")" "$root/bot/build.rs"
  fi
  # every workspace member is in the build context
  for m in $(sed -n 's/^members = \[\(.*\)\]/\1/p' "$root/Cargo.toml" | tr -d '",'); do
    ! grep -qxF "$m" "$root/.dockerignore" || { echo "member $m is excluded from the build context"; return 1; }
    [ -d "$root/$m" ] || { echo "member $m missing"; return 1; }
  done
}

# render_nginx DIR ALLOWLIST: the template rendered like the nginx image does, with the
# certificate paths pointing at a throwaway certificate in DIR.
render_nginx() {
  local dir="$1"
  mkdir -p "$dir/live"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bot.example.test \
    -keyout "$dir/live/privkey.pem" -out "$dir/live/fullchain.pem" 2>/dev/null
  # the nginx image substitutes only DOMAIN and WEBHOOK_IP_ALLOWLIST (NGINX_ENVSUBST_FILTER)
  sed -e 's|${DOMAIN}|bot.example.test|g' -e "s|\${WEBHOOK_IP_ALLOWLIST}|$2|g" \
    "$DEPLOYMENT_SRC/nginx/templates/default.conf.template" |
    sed -e "s|/etc/letsencrypt/live/bot.example.test|$dir/live|" \
      -e "s|/etc/nginx/snippets|$DEPLOYMENT_SRC/nginx/snippets|" >"$dir/site.conf"
  cat >"$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log stderr;
events {}
http {
  access_log off;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir;
  include $dir/site.conf;
}
CONF
}

@test "nginx -t accepts the site with a throwaway certificate (allow-list off and on)" {
  for mode in off on; do
    render_nginx "$TMP/ngx-$mode" "$mode"
    run nginx -t -c "$TMP/ngx-$mode/nginx.conf" -p "$TMP/ngx-$mode"
    echo "$output"
    [ "$status" -eq 0 ]
  done
}

@test "nginx -t rejects the site when the certificate is missing (the check is real)" {
  render_nginx "$TMP/ngx" off
  rm "$TMP/ngx/live/fullchain.pem"
  run nginx -t -c "$TMP/ngx/nginx.conf" -p "$TMP/ngx"
  [ "$status" -ne 0 ]
}

@test "systemd-analyze verify: units with ExecStart pointing at stubs" {
  command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
  u="$TMP/units"
  mkdir -p "$u/bin"
  printf '#!/bin/sh\nexit 0\n' >"$u/bin/docker"
  chmod +x "$u/bin/docker"
  # every script a unit runs gets a stub of the same name
  for s in $(grep -ho '/opt/toogoodtogo/deployment/scripts/[a-z-]*\.sh' "$DEPLOYMENT_SRC"/systemd/* | sort -u); do
    [ -x "$DEPLOYMENT_SRC/scripts/$(basename "$s")" ] || { echo "a unit runs $s, which does not exist"; return 1; }
    cp "$u/bin/docker" "$u/bin/$(basename "$s")"
  done
  for f in "$DEPLOYMENT_SRC"/systemd/*; do
    sed -e "s|/usr/bin/docker|$u/bin/docker|g" \
      -e "s|/opt/toogoodtogo/deployment/scripts/|$u/bin/|g" \
      -e "s|^WorkingDirectory=.*|WorkingDirectory=$u|" "$f" >"$u/$(basename "$f")"
  done
  printf '[Unit]\nDescription=docker stand-in\n[Service]\nExecStart=%s/bin/docker\n' "$u" >"$u/docker.service"
  mapfile -t units < <(cd "$u" && ls ./*.service ./*.timer | grep -v docker.service | sed "s|^\.|$u|")
  [ "${#units[@]}" -eq "$(ls "$DEPLOYMENT_SRC"/systemd | wc -l)" ]
  run env SYSTEMD_UNIT_PATH="$u:" systemd-analyze verify --man=no "${units[@]}"
  echo "$output"
  [ "$status" -eq 0 ]
  # warnings (unknown keys, bad values) count as failures too
  [ -z "$output" ]
}

@test "systemd: backup timer runs daily at 03:00, persistent; stack unit starts on boot" {
  timer="$DEPLOYMENT_SRC/systemd/toogoodtogo-backup.timer"
  grep -qx 'Persistent=true' "$timer"
  cal="$(sed -n 's/^OnCalendar=//p' "$timer")"
  run systemd-analyze calendar "$cal"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Normalized form: *-*-* 03:00:00"* ]]
  grep -qx 'ExecStart=/opt/toogoodtogo/deployment/scripts/backup.sh scheduled' "$DEPLOYMENT_SRC/systemd/toogoodtogo-backup.service"
  grep -qx 'WantedBy=multi-user.target' "$DEPLOYMENT_SRC/systemd/toogoodtogo.service"
  # the weekly restore test: Sundays 04:30, on the newest backup
  run systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' "$DEPLOYMENT_SRC/systemd/toogoodtogo-restore-verify.timer")"
  [[ "$output" == *"Normalized form: Sun *-*-* 04:30:00"* ]]
  grep -qx 'ExecStart=/opt/toogoodtogo/deployment/scripts/restore.sh --verify latest' "$DEPLOYMENT_SRC/systemd/toogoodtogo-restore-verify.service"
  grep -q '^ExecStop=.*docker compose -f docker-compose.prod.yml down' "$DEPLOYMENT_SRC/systemd/toogoodtogo.service"
}

@test "systemd: the stack unit is active only when healthy; the health timer marks a dead stack failed" {
  unit="$DEPLOYMENT_SRC/systemd/toogoodtogo.service"
  post="$(sed -n 's/^ExecStartPost=//p' "$unit")"
  [ "$post" = "/opt/toogoodtogo/deployment/scripts/health-check.sh --wait 300" ]
  # the wait fits in the start timeout
  [ "$(sed -n 's/^TimeoutStartSec=//p' "$unit")" -gt 300 ]
  grep -qx 'ExecStartPre=/opt/toogoodtogo/deployment/scripts/emergency.sh guard' "$unit"
  run systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' "$DEPLOYMENT_SRC/systemd/toogoodtogo-health.timer")"
  [[ "$output" == *"Normalized form: *-*-* *:00/5:00"* ]]
  svc="$DEPLOYMENT_SRC/systemd/toogoodtogo-health.service"
  grep -qx 'ExecStart=/opt/toogoodtogo/deployment/scripts/health-check.sh' "$svc"
  # skipped (not failed) while the stack is stopped on purpose
  grep -qx 'ExecCondition=/usr/bin/systemctl is-active --quiet toogoodtogo.service' "$svc"
}

@test "logrotate: the deployment log rule parses and rotates" {
  command -v logrotate >/dev/null || skip "logrotate is not installed"
  mkdir -p "$TMP/logs"
  echo "line" >"$TMP/logs/deployment.log"
  sed -e "s|/var/log/toogoodtogo|$TMP/logs|" -e "s|create 0640 root adm|create 0640 root root|" \
    "$DEPLOYMENT_SRC/logrotate/toogoodtogo" >"$TMP/logrotate.conf"
  run logrotate -f -s "$TMP/logrotate.state" "$TMP/logrotate.conf"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -e "$TMP/logs/deployment.log.1" ]
}

@test "redis.conf: a real redis-server with the compose command needs the password and evicts" {
  command -v redis-server >/dev/null || skip "redis-server is not installed"
  port=$((20000 + RANDOM % 20000))
  conf="$TMP/redis.conf"
  sed -e "s|^port 6379|port $port|" -e "s|^dir /data|dir $TMP|" -e 's|^bind 0.0.0.0|bind 127.0.0.1|' \
    "$DEPLOYMENT_SRC/redis/redis.conf" >"$conf"
  # the redis service's own command from the compose file ($$ is Compose's escape for $)
  "$PY" -c 'import sys, yaml
cmd = yaml.safe_load(open(sys.argv[1]))["services"]["redis"]["command"]
assert cmd[:2] == ["sh", "-c"], cmd
print(cmd[2].replace("$$", "$").replace("/usr/local/etc/redis/redis.conf", sys.argv[2]), end="")' \
    "$DEPLOYMENT_SRC/docker-compose.prod.yml" "$conf" >"$TMP/redis-command.sh"
  grep -q 'redis-server' "$TMP/redis-command.sh"
  REDIS_PASSWORD=test-redis-pass sh -c "$(cat "$TMP/redis-command.sh")" >"$TMP/redis.log" 2>&1 3>&- &
  pid=$!
  for _ in $(seq 1 50); do redis-cli -p "$port" ping 2>/dev/null | grep -q NOAUTH && break; sleep 0.1; done
  run redis-cli -p "$port" ping
  noauth="$output"
  run env REDISCLI_AUTH=test-redis-pass redis-cli -p "$port" ping
  pong="$output"
  policy="$(REDISCLI_AUTH=test-redis-pass redis-cli -p "$port" config get maxmemory-policy | tail -n 1)"
  maxmem="$(REDISCLI_AUTH=test-redis-pass redis-cli -p "$port" config get maxmemory | tail -n 1)"
  ps_line="$(ps -o args= -p "$pid")"
  # full memory evicts keys instead of failing writes (shrunk to 2 MB to get there quickly)
  REDISCLI_AUTH=test-redis-pass redis-cli -p "$port" config set maxmemory 2mb >/dev/null
  value="$(head -c 1024 /dev/zero | tr '\0' 'x')"
  for i in $(seq 1 6000); do printf 'SET key:%s %s\r\n' "$i" "$value"; done |
    REDISCLI_AUTH=test-redis-pass redis-cli -p "$port" --pipe >"$TMP/pipe.out" 2>&1 || true
  evicted="$(REDISCLI_AUTH=test-redis-pass redis-cli -p "$port" info stats | sed -n 's/^evicted_keys:\([0-9]*\).*/\1/p')"
  last_set="$(REDISCLI_AUTH=test-redis-pass redis-cli -p "$port" set after-full ok)"
  REDISCLI_AUTH=test-redis-pass redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid"
  wait "$pid" 2>/dev/null || true
  [[ "$noauth" == *NOAUTH* ]]
  [ "$pong" = PONG ]
  [ "$policy" = allkeys-lru ]
  cat "$TMP/pipe.out"
  grep -q 'errors: 0' "$TMP/pipe.out"
  [ "$evicted" -gt 0 ]
  [ "$last_set" = OK ]
  [ "$maxmem" -gt 0 ]
  [[ "$ps_line" != *test-redis-pass* ]]
  # without a password the container refuses to start, saying why
  run env -u REDIS_PASSWORD sh -c "$(cat "$TMP/redis-command.sh")"
  [ "$status" -ne 0 ]
  [[ "$output" == *"REDIS_PASSWORD is not set"* ]]
}
