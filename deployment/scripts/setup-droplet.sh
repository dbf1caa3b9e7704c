#!/usr/bin/env bash
# Prepare a fresh host (DigitalOcean droplet or any Debian/Ubuntu machine) for the stack.
# Every step checks first and only changes what is missing, so it can run again at any time.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: setup-droplet.sh [--dry-run] [--root DIR] [--user NAME]

Steps (each one skipped when already in place):
  1. packages: ca-certificates curl jq git gzip openssl ufw certbot logrotate sudo, Docker Engine
     with the compose plugin (Docker's apt repository);
  2. firewall: ufw denies incoming traffic except SSH, 80 and 443;
  3. directories: app root, /opt/backups/postgres (0700), /var/log/toogoodtogo,
     /var/lib/toogoodtogo, node_exporter's textfile directory, /var/www/certbot;
  4. the checkout in the app root (git clone $REPO_URL when it is missing);
  5. deployment/.env.production (0600) from the example, with generated secrets
     (openssl rand) for POSTGRES_PASSWORD, SECRET_KEY, REDIS_PASSWORD, WEBHOOK_SECRET_TOKEN and
     GRAFANA_ADMIN_PASSWORD; existing values are never replaced; the .env links Compose reads;
  6. systemd units (toogoodtogo.service, toogoodtogo-backup.service/.timer,
     toogoodtogo-restore-verify.service/.timer, toogoodtogo-health.service/.timer), enabled;
  7. logrotate rule and the certbot renewal hook that reloads nginx;
  8. with --user NAME: the login user of the operations guide (ssh NAME@host): created with a
     home, bash, the sudo group and a locked password (SSH keys only; root's
     authorized_keys are copied when NAME has none), and /etc/sudoers.d/toogoodtogo letting NAME
     run the scripts in deployment/scripts/ with sudo without a password (everything else
     through the sudo group needs a password: set one with `passwd NAME`).

--dry-run   show what would change, change nothing
--root DIR  install into DIR instead of / (packages, firewall and systemctl start are skipped;
            units are enabled with systemctl --root, the user is added with useradd --prefix)
--user NAME create the sudo user NAME (step 8)

Environment: APP_ROOT (/opt/toogoodtogo), REPO_URL, DOMAIN (written to the env file when
empty there), SKIP_PACKAGES=1, LOG_DIR.

Exit codes: 0 done (or nothing to do), 1 a step failed, 64 usage error,
75 another setup run holds the lock.
USAGE
}

SCRIPT_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
. "$SCRIPT_SRC_DIR/lib/common.sh"

dry_run=0
root=""
user=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --dry-run) dry_run=1 ;;
    --root)
      if [ "$#" -lt 2 ] || [ -z "$2" ]; then usage_error "--root needs a directory"; fi
      root="${2%/}"
      shift
      ;;
    --root=*) root="${1#*=}" root="${root%/}" ;;
    --user)
      if [ "$#" -lt 2 ] || [ -z "$2" ]; then usage_error "--user needs a name"; fi
      user="$2"
      shift
      ;;
    --user=*) user="${1#*=}" ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done

if [ -n "$user" ] && ! [[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
  usage_error "--user: '$user' is not a valid user name"
fi

# Paths as the host sees them (written into units) and as this run writes them (under --root).
HOST_APP_ROOT="${APP_ROOT:-/opt/toogoodtogo}"
HOST_BACKUP_DIR="/opt/backups/postgres"
HOST_LOG_DIR="/var/log/toogoodtogo"
app="$root$HOST_APP_ROOT"
LOG_DIR="$root$HOST_LOG_DIR"
src_deploy="$(cd "$SCRIPT_SRC_DIR/.." && pwd)"
live=1
[ -z "$root" ] || live=0
changes=0

step() { info "== $*"; }
ok() { info "ok: $*"; }
# change DESCRIPTION CMD...: runs CMD (or only says so with --dry-run).
change() {
  local what="$1"
  shift
  changes=$((changes + 1))
  if [ "$dry_run" -eq 1 ]; then
    info "would: $what"
    return 0
  fi
  "$@"
  info "changed: $what"
  audit setup "changed" "what=\"$what\""
}

# install_file SRC DEST MODE [SED-EXPR]: copy when DEST is missing or different.
install_file() {
  local src="$1" dest="$2" mode="$3" expr="${4:-}" tmp
  tmp="$(mktemp)"
  if [ -n "$expr" ]; then sed -e "$expr" "$src" >"$tmp"; else cat "$src" >"$tmp"; fi
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest" && [ "$(stat -c %a "$dest")" = "$mode" ]; then
    ok "$dest"
  else
    change "install $dest" install -D -m "$mode" "$tmp" "$dest"
  fi
  rm -f "$tmp"
}

ensure_dir() {
  local dir="$1" mode="$2"
  if [ -d "$dir" ] && [ "$(stat -c %a "$dir")" = "$mode" ]; then
    ok "$dir"
  else
    change "directory $dir (mode $mode)" install -d -m "$mode" "$dir"
  fi
}

ensure_link() {
  local target="$1" link="$2"
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
    ok "$link -> $target"
  else
    change "link $link -> $target" ln -sfn "$target" "$link"
  fi
}

# Two runs at once would race on the same files.
[ "$dry_run" -eq 1 ] || acquire_lock setup

# 1. Packages
step "packages"
if [ "$live" -eq 0 ] || [ "${SKIP_PACKAGES:-0}" = 1 ]; then
  info "skipped: packages (not the live system or SKIP_PACKAGES=1)"
else
  wanted=(ca-certificates curl jq git gzip openssl ufw certbot logrotate sudo)
  missing=()
  for p in "${wanted[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *"install ok installed"* ]] || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then ok "packages ${wanted[*]}"; else
    change "apt-get install ${missing[*]}" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing[*]}"
  fi
  if docker compose version >/dev/null 2>&1; then
    ok "docker with the compose plugin"
  else
    # shellcheck disable=SC1091
    distro="$(. /etc/os-release && echo "$ID")" codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
    change "Docker Engine and compose plugin from download.docker.com ($distro $codename)" sh -c "
      install -m 0755 -d /etc/apt/keyrings &&
      curl -fsSL https://download.docker.com/linux/$distro/gpg -o /etc/apt/keyrings/docker.asc &&
      chmod a+r /etc/apt/keyrings/docker.asc &&
      echo 'deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/$distro $codename stable' >/etc/apt/sources.list.d/docker.list &&
      apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-ce docker-ce-cli containerd.io docker-compose-plugin &&
      systemctl enable --now docker"
  fi
fi

# 2. Firewall
step "firewall"
if [ "$live" -eq 0 ]; then
  info "skipped: firewall (not the live system)"
elif ! command -v ufw >/dev/null 2>&1; then
  if [ "$dry_run" -eq 1 ]; then info "would: configure ufw once it is installed"; else
    err "ufw is not installed"
    exit 1
  fi
else
  status="$(ufw status verbose 2>/dev/null || true)"
  if [[ "$status" == *"Status: active"* ]] && [[ "$status" == *"deny (incoming)"* ]] &&
    [[ "$status" == *"22/tcp"* || "$status" == *OpenSSH* ]] && [[ "$status" == *"80/tcp"* ]] && [[ "$status" == *"443/tcp"* ]]; then
    ok "ufw: deny incoming except SSH, 80, 443"
  else
    change "ufw: deny incoming except SSH, 80, 443" sh -c \
      "ufw default deny incoming && ufw default allow outgoing && ufw allow OpenSSH && ufw allow 80/tcp && ufw allow 443/tcp && ufw --force enable"
  fi
fi

# 3. Directories
step "directories"
ensure_dir "$app" 755
ensure_dir "$root$HOST_BACKUP_DIR" 700
ensure_dir "$LOG_DIR" 750
ensure_dir "$root/var/lib/toogoodtogo" 750
ensure_dir "$root/var/lib/node_exporter/textfile_collector" 755
ensure_dir "$root/var/www/certbot" 755

# 4. Checkout
step "application checkout"
if [ -f "$app/deployment/docker-compose.prod.yml" ]; then
  ok "$app holds the deployment files"
elif [ -n "${REPO_URL:-}" ]; then
  if [ -n "$(ls -A "$app" 2>/dev/null)" ]; then
    err "$app is not empty but has no deployment/docker-compose.prod.yml; move it away first"
    exit 1
  fi
  change "git clone $REPO_URL $app" git clone --quiet "$REPO_URL" "$app"
else
  if [ "$dry_run" -eq 1 ]; then info "would: need a checkout in $app (set REPO_URL)"; else
    err "no checkout in $app: clone the repository there first, or set REPO_URL"
    exit 1
  fi
fi
deploy="$app/deployment"
[ -d "$deploy" ] || deploy="$src_deploy"

# 5. Env file with generated secrets
step "environment file"
env_file="$app/deployment/.env.production"
generated=(POSTGRES_PASSWORD SECRET_KEY REDIS_PASSWORD WEBHOOK_SECRET_TOKEN GRAFANA_ADMIN_PASSWORD)
if [ ! -f "$env_file" ]; then
  change "create $env_file from the example" install -m 600 "$deploy/.env.production.example" "$env_file"
fi
if [ -f "$env_file" ]; then
  fill=()
  for key in "${generated[@]}"; do
    [ -n "$(env_get "$key" "$env_file")" ] || fill+=("$key=$(openssl rand -hex 32)")
  done
  # Compose finds the stack without -f from the deployment directory (env file read as .env).
  [ -n "$(env_get COMPOSE_FILE "$env_file")" ] || fill+=("COMPOSE_FILE=docker-compose.prod.yml")
  current_domain="$(env_get DOMAIN "$env_file")"
  if [ -n "${DOMAIN:-}" ] && { [ -z "$current_domain" ] || [ "$current_domain" = bot.example.com ]; }; then
    fill+=("DOMAIN=$DOMAIN" "WEBHOOK_URL=https://$DOMAIN/webhook")
  fi
  if [ "${#fill[@]}" -gt 0 ]; then
    change "set ${#fill[@]} value(s) in $env_file: $(printf '%s ' "${fill[@]%%=*}")" env_set "$env_file" "${fill[@]}"
  else
    ok "$env_file has its generated secrets"
  fi
  if [ "$(stat -c %a "$env_file")" != 600 ]; then
    change "mode 600 on $env_file" chmod 600 "$env_file"
  fi
  todo=()
  for key in TELEGRAM_BOT_TOKEN DOMAIN; do
    value="$(env_get "$key" "$env_file")"
    [ -n "$value" ] && [ "$value" != bot.example.com ] || todo+=("$key")
  done
  [ "${#todo[@]}" -eq 0 ] || warn "fill in ${todo[*]} in $env_file before starting the stack"
elif [ "$dry_run" -eq 1 ]; then
  info "would: generate ${generated[*]} in $env_file"
fi
ensure_link .env.production "$app/deployment/.env"
ensure_link ../.env.production "$app/deployment/monitoring/.env"

# 6. systemd units
step "systemd units"
paths="s|/opt/toogoodtogo|$HOST_APP_ROOT|g"
for unit in toogoodtogo.service toogoodtogo-backup.service toogoodtogo-backup.timer \
  toogoodtogo-restore-verify.service toogoodtogo-restore-verify.timer \
  toogoodtogo-health.service toogoodtogo-health.timer; do
  install_file "$deploy/systemd/$unit" "$root/etc/systemd/system/$unit" 644 "$paths"
done
for unit in toogoodtogo.service toogoodtogo-backup.timer toogoodtogo-restore-verify.timer toogoodtogo-health.timer; do
  if [ "$live" -eq 1 ]; then
    if systemctl is-enabled --quiet "$unit" 2>/dev/null; then ok "$unit enabled"; else
      change "enable $unit" sh -c "systemctl daemon-reload && systemctl enable $unit"
    fi
  elif command -v systemctl >/dev/null 2>&1; then
    if [ -n "$(find "$root/etc/systemd/system" -path "*.wants/$unit" 2>/dev/null)" ]; then ok "$unit enabled"; else
      change "enable $unit (systemctl --root)" systemctl --root="$root" --quiet enable "$unit"
    fi
  fi
done
if [ "$live" -eq 1 ] && [ "$dry_run" -eq 0 ]; then
  systemctl start toogoodtogo-backup.timer toogoodtogo-restore-verify.timer toogoodtogo-health.timer ||
    warn "could not start the backup, restore-test and health timers"
fi

# 7. logrotate and certbot hook
step "logrotate and certbot"
install_file "$deploy/logrotate/toogoodtogo" "$root/etc/logrotate.d/toogoodtogo" 644 "s|/var/log/toogoodtogo|$HOST_LOG_DIR|g"
ensure_dir "$root/etc/letsencrypt/renewal-hooks/deploy" 755
ensure_link "$HOST_APP_ROOT/deployment/nginx/certbot-deploy-hook.sh" "$root/etc/letsencrypt/renewal-hooks/deploy/toogoodtogo-nginx.sh"

# 8. The login user of the guide
if [ -n "$user" ]; then
  step "user $user"
  passwd_file="$root/etc/passwd"
  user_line="$(grep "^$user:" "$passwd_file" 2>/dev/null || true)"
  if [ -n "$user_line" ]; then
    ok "user $user exists"
    if ! grep -q "^sudo:.*[:,]$user\(,\|$\)" "$root/etc/group" 2>/dev/null; then
      change "add $user to the sudo group" usermod ${root:+--prefix "$root"} --append --groups sudo "$user"
    fi
  elif [ ! -f "$passwd_file" ] && [ "$dry_run" -eq 0 ]; then
    err "no $passwd_file: cannot create user $user there"
    exit 1
  else
    # no password (locked): logins with SSH keys only
    change "create user $user (home, bash, sudo group, password locked)" \
      useradd ${root:+--prefix "$root"} --create-home --shell /bin/bash --user-group --groups sudo "$user"
    user_line="$(grep "^$user:" "$passwd_file" 2>/dev/null || true)"
  fi
  home="$(cut -d: -f6 <<<"$user_line")"
  home="${home:-/home/$user}"
  uid="$(cut -d: -f3 <<<"$user_line")"
  gid="$(cut -d: -f4 <<<"$user_line")"
  keys="$root$home/.ssh/authorized_keys"
  if [ -s "$keys" ]; then
    ok "$keys"
  elif [ -s "$root/root/.ssh/authorized_keys" ]; then
    # shellcheck disable=SC2016 # expanded by sh -c
    change "copy root's SSH keys to $keys" sh -c \
      'install -d -m 700 "$1" && install -m 600 "$2" "$3" && chown -R "$4:$5" "$1"' sh \
      "$root$home/.ssh" "$root/root/.ssh/authorized_keys" "$keys" "${uid:-$user}" "${gid:-$user}"
  else
    warn "no SSH key for $user: add one to $home/.ssh/authorized_keys before logging in as $user"
  fi
  sudoers_src="$(mktemp)"
  cat >"$sudoers_src" <<SUDOERS
# Installed by setup-droplet.sh: $user runs the operations scripts as root without a password.
# Everything else through the sudo group needs $user's password (passwd $user).
$user ALL=(root) NOPASSWD: $HOST_APP_ROOT/deployment/scripts/
SUDOERS
  if command -v visudo >/dev/null 2>&1 && ! visudo -cqf "$sudoers_src"; then
    err "the sudoers rule for $user does not parse"
    exit 1
  fi
  install_file "$sudoers_src" "$root/etc/sudoers.d/toogoodtogo" 440
  rm -f "$sudoers_src"
fi

if [ "$dry_run" -eq 1 ]; then
  info "dry run: $changes change(s) would be made"
else
  info "setup complete: $changes change(s)"
  cat <<NEXT
Next steps:
  1. fill in TELEGRAM_BOT_TOKEN and DOMAIN (and Stripe values) in $HOST_APP_ROOT/deployment/.env.production
  2. certbot certonly --standalone -d <domain>     (before nginx holds port 80)
  3. systemctl start toogoodtogo && $HOST_APP_ROOT/deployment/scripts/health-check.sh
NEXT
fi
