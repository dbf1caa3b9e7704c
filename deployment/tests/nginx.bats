#!/usr/bin/env bats
# The nginx site running for real on local ports with a throwaway certificate, the bot replaced
# by a stand-in: what the internet can and cannot reach.

load helpers

setup() {
  new_stack
  start_fake_bot
  N="$BATS_TEST_TMPDIR/nginx"
  mkdir -p "$N/live" "$N/acme/.well-known/acme-challenge"
  echo "challenge-token" >"$N/acme/.well-known/acme-challenge/abc"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bot.example.test \
    -keyout "$N/live/privkey.pem" -out "$N/live/fullchain.pem" 2>/dev/null
  HTTP_PORT=$((20000 + RANDOM % 10000))
  HTTPS_PORT=$((HTTP_PORT + 10000))
  UPSTREAM_PORT="$(cat "$T/fake_bot.port")"
}

teardown() {
  [ -z "${NGINX_PID:-}" ] || { kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; } || true
  stop_fake_bot
}

# start_nginx ALLOWLIST: the shipped template with only ports, paths and the upstream address
# replaced (Docker's DNS name "bot" does not exist here).
start_nginx() {
  sed -e 's|${DOMAIN}|bot.example.test|g' -e "s|\${WEBHOOK_IP_ALLOWLIST}|$1|g" \
    -e "s|/etc/letsencrypt/live/bot.example.test|$N/live|" \
    -e "s|/etc/nginx/snippets|$DEPLOYMENT_SRC/nginx/snippets|" \
    -e "s|root /var/www/certbot;|root $N/acme;|" \
    -e "s|listen 80 default_server;|listen 127.0.0.1:$HTTP_PORT default_server;|" \
    -e "s|listen 443 ssl http2 default_server;|listen 127.0.0.1:$HTTPS_PORT ssl http2 default_server;|" \
    -e '/listen \[::\]/d' \
    -e "s|resolver 127.0.0.11|resolver 127.0.0.1|" \
    -e "s|http://bot:8000|http://127.0.0.1:$UPSTREAM_PORT|" \
    "$DEPLOYMENT_SRC/nginx/templates/default.conf.template" >"$N/site.conf"
  cat >"$N/nginx.conf" <<CONF
daemon off;
master_process off;
pid $N/nginx.pid;
error_log $N/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $N; proxy_temp_path $N; fastcgi_temp_path $N;
  uwsgi_temp_path $N; scgi_temp_path $N;
  include $N/site.conf;
}
CONF
  nginx -c "$N/nginx.conf" -p "$N" 3>&- &
  NGINX_PID=$!
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/healthz" && return 0
    sleep 0.1
  done
  cat "$N/error.log"
  return 1
}

https() {
  curl -sk --resolve "bot.example.test:$HTTPS_PORT:127.0.0.1" "$@"
}
url() { echo "https://bot.example.test:$HTTPS_PORT$1"; }

@test "HTTP redirects to HTTPS except ACME challenges and the local liveness probe" {
  start_nginx off
  run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$HTTP_PORT/webhook"
  [[ "$output" == "301 https://127.0.0.1/webhook" ]]
  run curl -s "http://127.0.0.1:$HTTP_PORT/.well-known/acme-challenge/abc"
  [ "$output" = challenge-token ]
  run curl -s "http://127.0.0.1:$HTTP_PORT/healthz"
  [ "$output" = ok ]
}

@test "HTTPS: POST /webhook and /stripe/webhook reach the bot with forwarding headers" {
  start_nginx off
  run https -X POST -H 'X-Telegram-Bot-Api-Secret-Token: s3cret' -d '{"update_id":1}' "$(url /webhook)"
  echo "$output"
  [ "$(jq -r .path <<<"$output")" = /webhook ]
  [ "$(jq -r .forwarded_proto <<<"$output")" = https ]
  [ "$(jq -r .secret <<<"$output")" = s3cret ]
  run https -X POST -d '{}' "$(url /stripe/webhook)"
  [ "$(jq -r .path <<<"$output")" = /stripe/webhook ]
}

@test "HTTPS: /health, /metrics and everything else are not public; GET /webhook is refused" {
  start_nginx off
  for path in /health /metrics /ready / /admin; do
    code="$(https -o /dev/null -w '%{http_code}' "$(url "$path")")"
    [ "$code" = 404 ] || { echo "$path answered $code"; return 1; }
  done
  [ "$(https -o /dev/null -w '%{http_code}' "$(url /webhook)")" = 403 ]
}

@test "HTTPS: bodies over 1 MiB are refused with 413 before reaching the bot" {
  start_nginx off
  head -c 2000000 /dev/zero | tr '\0' 'a' >"$N/big.json"
  code="$(https -o /dev/null -w '%{http_code}' -X POST --data-binary @"$N/big.json" "$(url /webhook)")"
  [ "$code" = 413 ]
}

@test "HTTPS: security headers and no version in the Server header" {
  start_nginx off
  run https -D - -o /dev/null -X POST -d '{}' "$(url /webhook)"
  [[ "$output" == *"strict-transport-security: max-age=63072000"* || "$output" == *"Strict-Transport-Security: max-age=63072000"* ]]
  grep -qi '^x-content-type-options: nosniff' <<<"$output"
  grep -qi '^x-frame-options: DENY' <<<"$output"
  grep -qi '^server: nginx\s*$' <<<"$output"
}

@test "allow-list on: webhook from outside Telegram's ranges gets 403; Stripe is not affected" {
  start_nginx on
  [ "$(https -o /dev/null -w '%{http_code}' -X POST -d '{}' "$(url /webhook)")" = 403 ]
  [ "$(https -o /dev/null -w '%{http_code}' -X POST -d '{}' "$(url /stripe/webhook)")" = 200 ]
}

@test "request rate limit: a burst far beyond the limit gets 429" {
  start_nginx off
  # one curl, one kept-alive connection: far faster than the 10 r/s (burst 50) allowed
  args=()
  for _ in $(seq 1 300); do args+=(-o /dev/null "$(url /stripe/webhook)"); done
  codes="$(https -w '%{http_code}\n' -X POST -d '{}' "${args[@]}" | sort | uniq -c)"
  echo "$codes"
  grep -q ' 429$' <<<"$codes"
  grep -q ' 200$' <<<"$codes"
}

@test "certbot deploy hook: checks the configuration, reloads nginx in the stack, audits" {
  RENEWED_DOMAINS=bot.example.test run "$DEPLOYMENT_SRC/nginx/certbot-deploy-hook.sh"
  [ "$status" -eq 0 ]
  grep -q 'exec -T nginx nginx -t' "$SHIM_STATE/calls.log"
  grep -q 'exec -T nginx nginx -s reload' "$SHIM_STATE/calls.log"
  grep -q 'action=nginx-reload result=ok domains=bot.example.test' "$LOG_DIR/deployment.log"
  : >"$SHIM_STATE/calls.log"
  SHIM_FAIL=exec-nginx run "$DEPLOYMENT_SRC/nginx/certbot-deploy-hook.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"not reloading"* ]]
  ! grep -q 'nginx -s reload' "$SHIM_STATE/calls.log"
}
