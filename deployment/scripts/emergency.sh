#!/usr/bin/env bash
# Containment when a compromise is suspected: close the stack to the outside while the database
# stays up, and open it again exactly as it was.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: emergency.sh isolate [--stop-bot] [--ssh-from ADDRESS]
       emergency.sh restore-access
       emergency.sh status
       emergency.sh guard

isolate         stops nginx, the only container that publishes public ports (80, 443; Docker's
                published ports bypass ufw, so only stopping the container closes them), and
                deletes ufw's allow rules for 80 and 443. PostgreSQL and Redis keep running (for
                backups, inspection and secret rotation); the bot keeps running on its loopback
                port unless --stop-bot is given. Everything done is recorded in
                $STATE_DIR/isolation, so restore-access undoes exactly that.
  --stop-bot          also stop the bot (no more calls to Telegram or Stripe from this host)
  --ssh-from ADDRESS  let SSH in only from ADDRESS (an address or CIDR): adds
                      "allow from ADDRESS to any port 22 proto tcp" first, then deletes the
                      other SSH allow rules (OpenSSH, 22, 22/tcp, ssh)
restore-access  undoes what isolate recorded: starts the stopped containers (the bot first,
                waiting until it is healthy, then nginx), adds the deleted ufw rules again and
                deletes the ones isolate added; then removes the record. Run it again after a
                failure: every step can be repeated.
status          prints whether the stack is isolated and what was done
guard           for toogoodtogo.service (ExecStartPre): when isolated, starts only what isolate
                left running (PostgreSQL, Redis, and the bot unless --stop-bot) and fails, so a
                restart or a reboot cannot reopen the public ports

A deliberately isolated host is not reopened by systemctl: `systemctl start toogoodtogo` fails
with "isolated" until restore-access has run.

Environment: APP_ROOT, ENV_FILE, COMPOSE, LOG_DIR, STATE_DIR, LOCK_DIR, UFW (ufw),
HEALTH_WAIT_SECONDS (120), HEALTH_INTERVAL (5), NGINX_HEALTH_URL.

Exit codes: 0 done (isolate on an isolated stack and restore-access on an open one change
nothing and exit 0); status: 0 open, 3 isolated; guard: 0 open, 1 isolated; 1 a step failed
(the record keeps what is still to undo); 64 usage error; 75 another operation holds the lock.
USAGE
}

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/release.sh
. "$SCRIPTS_DIR/lib/release.sh"

UFW="${UFW:-ufw}"
NGINX_HEALTH_URL="${NGINX_HEALTH_URL:-http://127.0.0.1/healthz}"
STATE_FILE="$STATE_DIR/isolation"

action=""
stop_bot=0
ssh_from=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    isolate | restore-access | status | guard)
      [ -z "$action" ] || usage_error "one action at a time"
      action="$1"
      ;;
    --stop-bot) stop_bot=1 ;;
    --ssh-from)
      if [ "$#" -lt 2 ] || [ -z "$2" ]; then usage_error "--ssh-from needs an address"; fi
      ssh_from="$2"
      shift
      ;;
    --ssh-from=*) ssh_from="${1#*=}" ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done
[ -n "$action" ] || usage_error "name an action: isolate, restore-access, status or guard"
if [ "$action" != isolate ] && { [ "$stop_bot" = 1 ] || [ -n "$ssh_from" ]; }; then
  usage_error "--stop-bot and --ssh-from belong to isolate"
fi
if [ -n "$ssh_from" ] && ! [[ "$ssh_from" =~ ^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$ ]]; then
  usage_error "--ssh-from takes an IP address or CIDR, not '$ssh_from'"
fi

# record_get KEY: every value of KEY in the record, one a line.
record_get() { sed -n "s/^$1=//p" "$STATE_FILE" 2>/dev/null; }
record_add() { printf '%s=%s\n' "$1" "$2" >>"$STATE_FILE"; }

# running_services: the services of the stack whose containers run.
running_services() { compose ps --status running --services 2>/dev/null; }

ufw_active() {
  local out
  command -v "$UFW" >/dev/null 2>&1 || return 1
  out="$("$UFW" status 2>/dev/null)" || return 1
  [[ "$out" == "Status: active"* ]]
}

# ufw_rule SPEC...: runs `ufw SPEC` (the words of a rule as `ufw show added` prints them).
ufw_rule() {
  local -a words
  read -r -a words <<<"$*"
  "$UFW" "${words[@]}" >/dev/null
}

# added_rules: the user rules as `ufw show added` prints them, without the leading "ufw ".
added_rules() { "$UFW" show added 2>/dev/null | sed -n 's/^ufw //p'; }

describe() {
  local what
  info "isolated since $(record_get isolated_at) by $(record_get by)"
  what="$(record_get stopped | paste -sd, -)"
  info "  stopped containers: ${what:-none}"
  while IFS= read -r what; do [ -z "$what" ] || info "  deleted ufw rule: $what"; done < <(record_get ufw_deleted)
  while IFS= read -r what; do [ -z "$what" ] || info "  added ufw rule: $what"; done < <(record_get ufw_added)
}

isolate() {
  local s running rule
  if [ -e "$STATE_FILE" ]; then
    describe
    info "already isolated; nothing changed (undo with emergency.sh restore-access)"
    return 0
  fi
  mkdir -p "$STATE_DIR"
  (umask 077 && : >"$STATE_FILE")
  record_add isolated_at "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  record_add by "$(id -un 2>/dev/null || id -u)"

  # 1. Containers: what runs now is what restore-access starts again.
  running="$(running_services)" || true
  local -a stop=(nginx)
  [ "$stop_bot" = 0 ] || stop+=(bot)
  for s in "${stop[@]}"; do
    if ! grep -qxF "$s" <<<"$running"; then
      info "$s is not running; nothing to stop"
      continue
    fi
    if ! compose stop "$s" >/dev/null; then
      err "could not stop $s"
      audit emergency failed "action=isolate step=stop-$s"
      return 1
    fi
    record_add stopped "$s"
    info "stopped $s"
  done
  running="$(running_services)" || true
  for s in "${stop[@]}"; do
    if grep -qxF "$s" <<<"$running"; then
      err "$s still runs after it was stopped"
      audit emergency failed "action=isolate step=verify-$s"
      return 1
    fi
  done

  # 2. Firewall: host services on 80/443 (and SSH from anywhere, with --ssh-from).
  if ! ufw_active; then
    warn "ufw is not active; no firewall rule changed"
  else
    if [ -n "$ssh_from" ]; then
      rule="allow from $ssh_from to any port 22 proto tcp"
      ufw_rule "$rule" || { err "could not add the ufw rule '$rule'"; return 1; }
      record_add ufw_added "$rule"
      info "added ufw rule: $rule"
    fi
    while IFS= read -r rule; do
      [ -n "$rule" ] || continue
      case "$rule" in
        "allow 80" | "allow 80/tcp" | "allow 443" | "allow 443/tcp") ;;
        "allow OpenSSH" | "allow 22" | "allow 22/tcp" | "allow ssh" | "limit OpenSSH" | "limit 22" | "limit 22/tcp" | "limit ssh")
          [ -n "$ssh_from" ] || continue
          ;;
        *) continue ;;
      esac
      ufw_rule "delete $rule" || { err "could not delete the ufw rule '$rule'"; return 1; }
      record_add ufw_deleted "$rule"
      info "deleted ufw rule: $rule"
    done < <(added_rules)
  fi

  info "isolated: nothing of the stack answers on public ports; PostgreSQL and Redis run"
  info "undo with: $SCRIPTS_DIR/emergency.sh restore-access"
  audit emergency isolated "stopped=$(record_get stopped | paste -sd, -) ufw_deleted=$(record_get ufw_deleted | wc -l) ufw_added=$(record_get ufw_added | wc -l)"
}

# wait_for_nginx: polls NGINX_HEALTH_URL until it answers 200 or HEALTH_WAIT_SECONDS passed.
wait_for_nginx() {
  local deadline
  deadline=$(($(date +%s) + HEALTH_WAIT_SECONDS))
  while :; do
    if HEALTH_AUDIT=0 NGINX_HEALTH_URL="$NGINX_HEALTH_URL" "$SCRIPTS_DIR/health-check.sh" nginx >/dev/null 2>&1; then
      info "nginx answers on $NGINX_HEALTH_URL"
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      err "nginx did not answer on $NGINX_HEALTH_URL within ${HEALTH_WAIT_SECONDS}s"
      return 1
    fi
    sleep "$HEALTH_INTERVAL"
  done
}

restore_access() {
  local s rule
  if [ ! -e "$STATE_FILE" ]; then
    info "not isolated; nothing to restore"
    return 0
  fi
  describe
  # 1. Containers: the bot first (healthy), then nginx; started again, not recreated.
  for s in bot nginx; do
    grep -qxF "$s" <<<"$(record_get stopped)" || continue
    if ! compose start "$s" >/dev/null 2>&1 && ! compose up -d --no-deps "$s" >/dev/null; then
      err "could not start $s"
      audit emergency failed "action=restore-access step=start-$s"
      return 1
    fi
    info "started $s"
    if [ "$s" = bot ] && ! wait_for_health; then
      audit emergency failed "action=restore-access step=bot-health"
      return 1
    fi
    if [ "$s" = nginx ] && ! wait_for_nginx; then
      audit emergency failed "action=restore-access step=nginx-health"
      return 1
    fi
  done
  # 2. Firewall: deleted rules back first, so SSH is never shut out; then the added ones go.
  if [ -n "$(record_get ufw_deleted)$(record_get ufw_added)" ]; then
    while IFS= read -r rule; do
      [ -n "$rule" ] || continue
      ufw_rule "$rule" || { err "could not add the ufw rule '$rule' again"; return 1; }
      info "added ufw rule again: $rule"
    done < <(record_get ufw_deleted)
    while IFS= read -r rule; do
      [ -n "$rule" ] || continue
      ufw_rule "delete $rule" || { err "could not delete the ufw rule '$rule'"; return 1; }
      info "deleted ufw rule: $rule"
    done < <(record_get ufw_added)
  fi
  local stopped
  stopped="$(record_get stopped | paste -sd, -)"
  mv -f "$STATE_FILE" "$STATE_FILE.restored"
  info "access restored; the record is kept as $STATE_FILE.restored"
  audit emergency restored "started=$stopped"
}

case "$action" in
  status)
    if [ -e "$STATE_FILE" ]; then
      describe
      exit 3
    fi
    info "not isolated"
    ;;
  guard)
    if [ -e "$STATE_FILE" ]; then
      # what isolate left running (PostgreSQL, Redis and the bot unless --stop-bot), never nginx
      keep=(postgres redis)
      grep -qxF bot <<<"$(record_get stopped)" || keep+=(bot)
      err "the stack is isolated (emergency.sh isolate, $(record_get isolated_at)); starting only ${keep[*]}"
      compose up -d --no-deps "${keep[@]}" >&2 || err "could not start ${keep[*]}"
      err "run $SCRIPTS_DIR/emergency.sh restore-access to open it again"
      exit 1
    fi
    ;;
  isolate)
    acquire_lock operations
    isolate
    ;;
  restore-access)
    acquire_lock operations
    restore_access
    ;;
esac
