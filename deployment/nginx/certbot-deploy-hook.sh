#!/usr/bin/env bash
# certbot deploy hook: reload nginx in the stack after a certificate was renewed.
# Installed by setup-droplet.sh as /etc/letsencrypt/renewal-hooks/deploy/toogoodtogo-nginx.sh.
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  cat <<'USAGE'
Usage: certbot-deploy-hook.sh
Checks the nginx configuration and reloads nginx in the toogoodtogo_nginx container so it serves
the renewed certificate. certbot runs it after every successful renewal (RENEWED_DOMAINS set).
Environment: APP_ROOT (/opt/toogoodtogo), COMPOSE, LOG_DIR.
Exit codes: 0 reloaded, 1 nginx rejected the configuration or could not reload.
USAGE
  exit 0
fi

export SCRIPT_NAME="certbot-deploy-hook.sh"
# Installed as a symlink into certbot's hook directory: find the scripts through it.
SCRIPTS_DIR="${SCRIPTS_DIR:-$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../scripts" && pwd)}"
# shellcheck source=/dev/null
. "$SCRIPTS_DIR/lib/common.sh"

if ! compose exec -T nginx nginx -t; then
  err "nginx rejected its configuration; not reloading (the old certificate stays in use)"
  audit nginx-reload failed "domains=${RENEWED_DOMAINS:-unknown}"
  exit 1
fi
if ! compose exec -T nginx nginx -s reload; then
  err "nginx reload failed"
  audit nginx-reload failed "domains=${RENEWED_DOMAINS:-unknown}"
  exit 1
fi
info "nginx reloaded for renewed certificate(s): ${RENEWED_DOMAINS:-unknown}"
audit nginx-reload ok "domains=${RENEWED_DOMAINS:-unknown}"
