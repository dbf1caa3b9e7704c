#!/usr/bin/env bats
# setup-droplet.sh installed into a throwaway root (--root): directories, env file with generated
# secrets, links, systemd units (enabled with systemctl --root), logrotate and certbot hook.

load helpers

setup() {
  R="$BATS_TEST_TMPDIR/root"
  mkdir -p "$R/opt/toogoodtogo"
  cp -r "$DEPLOYMENT_SRC" "$R/opt/toogoodtogo/deployment"
  rm -f "$R/opt/toogoodtogo/deployment/.env.production" "$R/opt/toogoodtogo/deployment/.env"
  unset APP_ROOT LOG_DIR
  export LOCK_DIR="$BATS_TEST_TMPDIR/lock"
}

# snapshot: every path under the root with type, mode, size and content hash.
snapshot() {
  (cd "$R" && find . -printf '%p %y %m %s %l\n' | sort &&
    find . -type f -exec sha256sum {} + | sort)
}

envv() { grep "^$1=" "$R/opt/toogoodtogo/deployment/.env.production" | tail -n 1 | cut -d= -f2-; }

@test "fresh root: directories, env file with generated secrets, links, units, rotation, hook" {
  DOMAIN=bot.test.example run "$SCRIPTS/setup-droplet.sh" --root "$R"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(stat -c %a "$R/opt/backups/postgres")" = 700 ]
  [ -d "$R/var/log/toogoodtogo" ] && [ -d "$R/var/lib/node_exporter/textfile_collector" ]
  envf="$R/opt/toogoodtogo/deployment/.env.production"
  [ "$(stat -c %a "$envf")" = 600 ]
  for k in POSTGRES_PASSWORD SECRET_KEY REDIS_PASSWORD WEBHOOK_SECRET_TOKEN GRAFANA_ADMIN_PASSWORD; do
    [[ "$(envv "$k")" =~ ^[0-9a-f]{64}$ ]] || { echo "$k not generated"; return 1; }
  done
  [ "$(envv POSTGRES_PASSWORD)" != "$(envv SECRET_KEY)" ]
  [ "$(envv DOMAIN)" = bot.test.example ]
  [ "$(envv WEBHOOK_URL)" = https://bot.test.example/webhook ]
  # every other line of the example is kept
  [ "$(grep -c '=' "$envf")" -ge "$(grep -c '=' "$DEPLOYMENT_SRC/.env.production.example")" ]
  # generated secrets are not printed
  [[ "$output" != *"$(envv SECRET_KEY)"* ]]
  [ "$(readlink "$R/opt/toogoodtogo/deployment/.env")" = .env.production ]
  [ "$(readlink "$R/opt/toogoodtogo/deployment/monitoring/.env")" = ../.env.production ]
  cmp "$R/etc/systemd/system/toogoodtogo.service" "$DEPLOYMENT_SRC/systemd/toogoodtogo.service"
  [ -L "$R/etc/systemd/system/multi-user.target.wants/toogoodtogo.service" ]
  [ -L "$R/etc/systemd/system/timers.target.wants/toogoodtogo-backup.timer" ]
  [ -L "$R/etc/systemd/system/timers.target.wants/toogoodtogo-restore-verify.timer" ]
  [ -f "$R/etc/logrotate.d/toogoodtogo" ]
  [ "$(readlink "$R/etc/letsencrypt/renewal-hooks/deploy/toogoodtogo-nginx.sh")" = /opt/toogoodtogo/deployment/nginx/certbot-deploy-hook.sh ]
  [[ "$output" == *"fill in TELEGRAM_BOT_TOKEN"* ]]
  grep -q 'action=setup result=changed' "$R/var/log/toogoodtogo/deployment.log"
}

@test "second run changes nothing (idempotent) and keeps the secrets" {
  "$SCRIPTS/setup-droplet.sh" --root "$R" >/dev/null 2>&1
  before="$(snapshot)"
  secret="$(envv SECRET_KEY)"
  run "$SCRIPTS/setup-droplet.sh" --root "$R"
  [ "$status" -eq 0 ]
  [[ "$output" == *"setup complete: 0 change(s)"* ]]
  [ "$(snapshot)" = "$before" ]
  [ "$(envv SECRET_KEY)" = "$secret" ]
}

@test "existing env file: operator values kept, only empty generated secrets filled, mode fixed" {
  envf="$R/opt/toogoodtogo/deployment/.env.production"
  printf 'TELEGRAM_BOT_TOKEN=123:keep-me\nSECRET_KEY=operator-chosen\nPOSTGRES_PASSWORD=\n' >"$envf"
  chmod 644 "$envf"
  run "$SCRIPTS/setup-droplet.sh" --root "$R"
  [ "$status" -eq 0 ]
  [ "$(envv TELEGRAM_BOT_TOKEN)" = 123:keep-me ]
  [ "$(envv SECRET_KEY)" = operator-chosen ]
  [[ "$(envv POSTGRES_PASSWORD)" =~ ^[0-9a-f]{64}$ ]]
  # an env file from before COMPOSE_FILE existed gets it, so bare `docker compose` works
  [ "$(envv COMPOSE_FILE)" = docker-compose.prod.yml ]
  [ "$(stat -c %a "$envf")" = 600 ]
}

@test "--dry-run lists the changes and makes none" {
  before="$(snapshot)"
  run "$SCRIPTS/setup-droplet.sh" --dry-run --root "$R"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"would: directory $R/opt/backups/postgres"* ]]
  [[ "$output" == *"would: install $R/etc/systemd/system/toogoodtogo.service"* ]]
  [[ "$output" =~ dry\ run:\ [0-9]+\ change ]]
  [ "$(snapshot)" = "$before" ]
}

@test "missing checkout: clear error without REPO_URL, git clone with it" {
  rm -rf "$R/opt/toogoodtogo"
  run "$SCRIPTS/setup-droplet.sh" --root "$R"
  [ "$status" -eq 1 ]
  [[ "$output" == *"no checkout in $R/opt/toogoodtogo"* ]]
  # a repository that holds the deployment files
  repo="$BATS_TEST_TMPDIR/repo"
  mkdir -p "$repo"
  cp -r "$DEPLOYMENT_SRC" "$repo/deployment"
  git -C "$repo" init -q
  git -C "$repo" add -A
  git -C "$repo" -c user.name=t -c user.email=t@example.test commit -q -m release
  rm -rf "$R/opt/toogoodtogo"
  REPO_URL="$repo" run "$SCRIPTS/setup-droplet.sh" --root "$R"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -f "$R/opt/toogoodtogo/deployment/docker-compose.prod.yml" ]
  git -C "$R/opt/toogoodtogo" rev-parse HEAD
  # the generated env file is not something git would commit
  [ -z "$(git -C "$R/opt/toogoodtogo" status --porcelain)" ]
}

@test "usage errors exit 64" {
  run "$SCRIPTS/setup-droplet.sh" --root
  [ "$status" -eq 64 ]
  run "$SCRIPTS/setup-droplet.sh" --bogus
  [ "$status" -eq 64 ]
}

@test "a second setup run while one is running is refused with exit 75" {
  mkdir -p "$LOCK_DIR"
  flock "$LOCK_DIR/setup.lock" sleep 3 &
  holder=$!
  sleep 0.3
  run "$SCRIPTS/setup-droplet.sh" --root "$R"
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  [ "$status" -eq 75 ]
  [ ! -e "$R/opt/toogoodtogo/deployment/.env.production" ]
}

# base_accounts: the account files of a fresh Debian 12 (root and the sudo group), and root's
# SSH key as DigitalOcean puts it there.
base_accounts() {
  mkdir -p "$R/etc" "$R/root/.ssh" "$R/home"
  printf 'root:x:0:0:root:/root:/bin/bash\n' >"$R/etc/passwd"
  printf 'root:x:0:\nsudo:x:27:\n' >"$R/etc/group"
  printf 'root:*:19000:0:99999:7:::\n' >"$R/etc/shadow"
  printf 'root:*::\nsudo:*::\n' >"$R/etc/gshadow"
  chmod 640 "$R/etc/shadow" "$R/etc/gshadow"
  echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBXr operator@workstation' >"$R/root/.ssh/authorized_keys"
}

@test "--user deploy: the guide's login user with sudo, a locked password, root's SSH key and a sudoers rule" {
  base_accounts
  run "$SCRIPTS/setup-droplet.sh" --root "$R" --user deploy
  echo "$output"
  [ "$status" -eq 0 ]
  grep -Eq '^deploy:x:[0-9]+:[0-9]+::/home/deploy:/bin/bash$' "$R/etc/passwd"
  grep -Eq '^sudo:x:27:(.*,)?deploy$' "$R/etc/group"
  # no password: SSH keys only
  [[ "$(grep '^deploy:' "$R/etc/shadow" | cut -d: -f2)" == '!'* ]]
  cmp "$R/home/deploy/.ssh/authorized_keys" "$R/root/.ssh/authorized_keys"
  [ "$(stat -c %a "$R/home/deploy/.ssh")" = 700 ] && [ "$(stat -c %a "$R/home/deploy/.ssh/authorized_keys")" = 600 ]
  uid="$(grep '^deploy:' "$R/etc/passwd" | cut -d: -f3)"
  [ "$(stat -c %u "$R/home/deploy/.ssh/authorized_keys")" = "$uid" ]
  sudoers="$R/etc/sudoers.d/toogoodtogo"
  [ "$(stat -c %a "$sudoers")" = 440 ]
  grep -qx 'deploy ALL=(root) NOPASSWD: /opt/toogoodtogo/deployment/scripts/' "$sudoers"
  if command -v visudo >/dev/null; then visudo -cf "$sudoers"; fi
  # a second run changes nothing
  before="$(snapshot)"
  run "$SCRIPTS/setup-droplet.sh" --root "$R" --user deploy
  [ "$status" -eq 0 ]
  [[ "$output" == *"ok: user deploy exists"* ]]
  [[ "$output" == *"setup complete: 0 change(s)"* ]]
  [ "$(snapshot)" = "$before" ]
}

@test "--user: an existing user is put into the sudo group; dry run and bad names change nothing" {
  base_accounts
  run "$SCRIPTS/setup-droplet.sh" --dry-run --root "$R" --user deploy
  [ "$status" -eq 0 ]
  [[ "$output" == *"would: create user deploy"* ]]
  ! grep -q '^deploy:' "$R/etc/passwd"
  useradd --prefix "$R" --create-home --shell /bin/bash ops
  run "$SCRIPTS/setup-droplet.sh" --root "$R" --user ops
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"changed: add ops to the sudo group"* ]]
  grep -Eq '^sudo:x:27:(.*,)?ops$' "$R/etc/group"
  for bad in Root 'a b' '-x' ''; do
    run "$SCRIPTS/setup-droplet.sh" --root "$R" --user "$bad"
    [ "$status" -eq 64 ] || { echo "'$bad' exited $status"; return 1; }
  done
}

@test "fresh root: the health timer is installed and enabled with the other units" {
  run "$SCRIPTS/setup-droplet.sh" --root "$R"
  [ "$status" -eq 0 ]
  cmp "$R/etc/systemd/system/toogoodtogo-health.service" "$DEPLOYMENT_SRC/systemd/toogoodtogo-health.service"
  [ -L "$R/etc/systemd/system/timers.target.wants/toogoodtogo-health.timer" ]
}
