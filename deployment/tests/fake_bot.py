#!/usr/bin/env python3
"""Stand-in for the bot's /health endpoint (the document of bot/src/health.rs, byte for byte in
shape: health.bats checks it with the real `toogoodtogo-bot healthcheck` when that is built) (and nginx's /healthz: 503 when the nginx container is stopped) driven by the docker shim state.

Usage: fake_bot.py STATE_DIR PORT_FILE

The answer follows the shim's view of the stack:
  - STATE_DIR/health_mode (healthy|degraded|unhealthy|hang) overrides everything;
  - no STATE_DIR/running/bot: 503 unhealthy (the bot is stopped);
  - the running version listed in STATE_DIR/broken_versions: 503 unhealthy;
  - a line of STATE_DIR/unhealthy_if found in the running container's environment
    (STATE_DIR/running/bot.env): 503 unhealthy;
  - a line of STATE_DIR/degraded_if found there: 200 degraded (Redis unreachable);
  - otherwise 200 healthy with the running version.
GET /api/user stands in for Grafana's API: 200 for admin with the password in
STATE_DIR/projects/toogoodtogo-monitoring/grafana_password (written by the docker double's
`grafana cli admin reset-admin-password`), 401 otherwise or when STATE_DIR/grafana_reject exists.
The port it listens on is written to PORT_FILE.
"""
import base64
import json
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = sys.argv[1]


def read(name, default=""):
    try:
        with open(os.path.join(STATE, name), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return default


def verdict():
    mode = read("health_mode").strip()
    version = read("running/bot").strip()
    if mode:
        return mode, version
    if not os.path.exists(os.path.join(STATE, "running/bot")):
        return "unhealthy", version
    if version and version in read("broken_versions").split():
        return "unhealthy", version
    env = read("running/bot.env")
    for pattern in read("unhealthy_if").splitlines():
        if pattern and re.search(pattern, env, re.M):
            return "unhealthy", version
    for pattern in read("degraded_if").splitlines():
        if pattern and re.search(pattern, env, re.M):
            return "degraded", version
    return "healthy", version


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        """Webhook stand-in (behind nginx): echoes what reached the bot."""
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"path": self.path, "bytes": length,
                           "forwarded_proto": self.headers.get("X-Forwarded-Proto"),
                           "real_ip": self.headers.get("X-Real-IP"),
                           "secret": self.headers.get("X-Telegram-Bot-Api-Secret-Token")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        status, version = verdict()
        if status == "hang":
            time.sleep(30)
            status = "healthy"
        if self.path == "/api/user":
            # Grafana's API: admin with the password the docker double's grafana cli set
            want = read("projects/toogoodtogo-monitoring/grafana_password").strip()
            auth = self.headers.get("Authorization") or ""
            ok = bool(want) and not os.path.exists(os.path.join(STATE, "grafana_reject")) and \
                auth == "Basic " + base64.b64encode(f"admin:{want}".encode()).decode()
            code, body, ctype = (200, b'{"login":"admin"}', "application/json") if ok else \
                (401, b'{"message":"Invalid username or password"}', "application/json")
        elif self.path == "/healthz":
            # a stopped nginx container does not answer either
            down = read("nginx_mode").strip() == "down" or not os.path.exists(os.path.join(STATE, "running/nginx"))
            code = 503 if down else 200
            body = b"ok\n"
            ctype = "text/plain"
        elif self.path == "/health":
            # as bot/src/health.rs: "error" only when there is one, Redis down is "degraded"
            pg = {"status": "healthy", "response_time_ms": 3.12}
            redis = {"status": "healthy", "response_time_ms": 0.87}
            doc = {"status": status, "version": version or "unknown", "uptime_seconds": 42,
                   "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "dependencies": {"postgres": pg, "redis": redis}}
            if status == "degraded":
                redis.update(status="degraded", response_time_ms=None, error="connection refused")
                doc["warnings"] = ["Rate limiting temporarily disabled"]
            if status == "unhealthy":
                pg.update(status="unhealthy", response_time_ms=None, error="connection refused")
                doc["errors"] = ["PostgreSQL unreachable: updates cannot be stored or processed"]
            code = 503 if status == "unhealthy" else 200
            body = json.dumps(doc).encode()
            ctype = "application/json"
        else:
            code, body, ctype = 404, b"not found\n", "text/plain"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(sys.argv[2] + ".tmp", "w", encoding="utf-8") as f:
    f.write(str(server.server_address[1]))
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
