#!/usr/bin/env bats
# Monitoring: Prometheus configuration and rules (promtool), alert behaviour (promtool test
# rules), the Grafana dashboard and provisioning, and the monitoring compose file.

load helpers

setup() {
  M="$DEPLOYMENT_SRC/monitoring"
  PY=python3
  python3 -c 'import yaml' 2>/dev/null || PY=/usr/bin/python3
}

@test "promtool check config: prometheus.yml (with its rule file)" {
  run promtool check config "$M/prometheus.yml"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"1 rule files found"* ]]
}

@test "promtool check rules: alerts.yml" {
  run promtool check rules "$M/alerts.yml"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "promtool test rules: bot down, degraded, backup too old, disk, Redis memory, error rate, webhook latency" {
  run promtool test rules "$M/alerts.test.yml"
  echo "$output"
  [ "$status" -eq 0 ]
  for a in TooGoodToGoBotDown TooGoodToGoBotDegraded TooGoodToGoBackupTooOld HostDiskAlmostFull \
    RedisMemoryHigh TooGoodToGoUpdateErrorRate TooGoodToGoWebhookLatencyHigh TooGoodToGoWebhookErrors \
    TooGoodToGoRestoreVerifyFailed TooGoodToGoRestoreVerifyNotRun; do
    grep -q "alertname: $a" "$M/alerts.test.yml" || { echo "no test for $a"; return 1; }
  done
}

@test "alert rules cover the guide's list" {
  for a in TooGoodToGoBotDown TooGoodToGoBotUnhealthy TooGoodToGoBotDegraded TooGoodToGoUpdateErrorRate \
    TooGoodToGoWebhookLatencyHigh TooGoodToGoBackupTooOld HostDiskAlmostFull RedisMemoryHigh; do
    grep -q "alert: $a$" "$M/alerts.yml" || { echo "missing alert $a"; return 1; }
  done
  grep -q '26 \* 3600' "$M/alerts.yml"
  grep -q '> 0.8' "$M/alerts.yml"
}

@test "prometheus scrapes the bot's /metrics and the three exporters" {
  run "$PY" - "$M/prometheus.yml" <<'PY'
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
bot = jobs["toogoodtogo-bot"]
assert bot.get("metrics_path", "/metrics") == "/metrics", bot
assert bot["static_configs"][0]["targets"] == ["bot:8000"], bot
for job, target in (("postgres", "postgres-exporter:9187"), ("redis", "redis-exporter:9121"), ("node", "node-exporter:9100")):
    assert jobs[job]["static_configs"][0]["targets"] == [target], job
PY
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "Grafana dashboard: valid JSON, provisioned data source, only metrics the bot or exporters export" {
  run python3 "$TESTS_DIR/check_metrics.py" dashboard "$M/grafana/dashboards/toogoodtogo.json"
  echo "$output"
  [ "$status" -eq 0 ]
  run "$PY" "$TESTS_DIR/check_metrics.py" rules "$M/alerts.yml"
  echo "$output"
  [ "$status" -eq 0 ]
  grep -q 'uid: prometheus' "$M/grafana/provisioning/datasources/prometheus.yml"
  grep -q 'path: /var/lib/grafana/dashboards' "$M/grafana/provisioning/dashboards/toogoodtogo.yml"
}

@test "metric checker rejects a metric nobody exports" {
  jq '.panels[0].targets[0].expr = "sum(rate(toogoodtogo_webhooks_total[5m]))"' \
    "$M/grafana/dashboards/toogoodtogo.json" >"$BATS_TEST_TMPDIR/bad.json"
  run python3 "$TESTS_DIR/check_metrics.py" dashboard "$BATS_TEST_TMPDIR/bad.json"
  [ "$status" -eq 1 ]
  [[ "$output" == *"unknown metric toogoodtogo_webhooks_total"* ]]
}

@test "the bot registers every toogoodtogo_* metric the dashboard and alerts use" {
  src="$DEPLOYMENT_SRC/../bot/src/metrics.rs"
  [ -f "$src" ] || skip "bot/src/metrics.rs does not exist yet"
  mapfile -t used < <(cat "$M/grafana/dashboards/toogoodtogo.json" "$M/alerts.yml" |
    grep -o 'toogoodtogo_[a-z_]*' | grep -v '^toogoodtogo_backup_' | sort -u)
  [ "${#used[@]}" -ge 10 ]
  missing=()
  for m in "${used[@]}"; do
    base="${m#toogoodtogo_}"
    base="${base%_bucket}"
    base="${base%_total}"
    grep -q "\"$base\"" "$src" || missing+=("$m")
  done
  echo "not registered in bot/src/metrics.rs: ${missing[*]}"
  [ "${#missing[@]}" -eq 0 ]
}

@test "monitoring compose: Grafana password from the environment, loopback ports, exporters, textfile collector" {
  run "$PY" - "$M/docker-compose.monitoring.yml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
s = doc["services"]
pw = s["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
assert pw.startswith("${GRAFANA_ADMIN_PASSWORD:?"), pw
assert "admin" != pw
for name in ("prometheus", "grafana"):
    for p in s[name].get("ports", []):
        assert str(p).startswith("127.0.0.1:"), (name, p)
for name in ("postgres-exporter", "redis-exporter", "node-exporter"):
    assert name in s, name
    assert not s[name].get("ports"), name
assert any("--collector.textfile.directory=" in c for c in s["node-exporter"]["command"])
assert doc["networks"]["toogoodtogo_frontend"]["external"] is True
assert "toogoodtogo_frontend" in s["prometheus"]["networks"]
assert "toogoodtogo_backend" in s["postgres-exporter"]["networks"]
assert s["redis-exporter"]["environment"]["REDIS_ADDR"] == "redis://redis:6379"
PY
  echo "$output"
  [ "$status" -eq 0 ]
  # the textfile directory the node exporter reads is where backup.sh writes
  grep -q '/var/lib/node_exporter/textfile_collector' "$SCRIPTS/lib/pg-backup.sh"
  grep -q 'textfile.directory=/host/var/lib/node_exporter/textfile_collector' "$M/docker-compose.monitoring.yml"
}

@test "monitoring joins the main stack's networks and reaches its services by their names" {
  run "$PY" - "$M/docker-compose.monitoring.yml" "$DEPLOYMENT_SRC/docker-compose.prod.yml" "$M/prometheus.yml" <<'PY'
import sys, yaml
mon = yaml.safe_load(open(sys.argv[1]))
prod = yaml.safe_load(open(sys.argv[2]))
prom = yaml.safe_load(open(sys.argv[3]))
prod_names = {v.get("name", k): k for k, v in prod["networks"].items()}
for net, spec in mon["networks"].items():
    if (spec or {}).get("external"):
        name = spec.get("name", net)
        assert name in prod_names, f"external network {name} is not created by the main stack"
frontend = prod_names["toogoodtogo_frontend"]
backend = prod_names["toogoodtogo_backend"]
assert frontend in prod["services"]["bot"]["networks"]
for svc in ("postgres", "redis"):
    assert backend in prod["services"][svc]["networks"], svc
targets = {j["job_name"]: j["static_configs"][0]["targets"][0] for j in prom["scrape_configs"]}
assert targets["toogoodtogo-bot"].split(":")[0] in prod["services"], targets
for job in ("postgres", "redis", "node"):
    host = targets[job].split(":")[0]
    assert host in mon["services"], (job, host)
assert mon["services"]["postgres-exporter"]["environment"]["DATA_SOURCE_URI"].startswith("postgres:5432/")
assert "postgres" in prod["services"] and "redis" in prod["services"]
PY
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "Kubernetes alert rules (the chart's PrometheusRule): generated from alerts.yml, pass its promtool tests" {
  R="$DEPLOYMENT_SRC/../charts/toogoodtogo-operator/rules/toogoodtogo.rules.yml"
  run promtool check rules "$R"
  echo "$output"
  [ "$status" -eq 0 ]
  # The single host's unit tests, for the rules the Kubernetes file keeps (its annotations are
  # the summaries only).
  run "$PY" - "$M/alerts.test.yml" "$R" "$BATS_TEST_TMPDIR/kubernetes.test.yml" <<'PY'
import sys, yaml
tests = yaml.safe_load(open(sys.argv[1]))
rules = yaml.safe_load(open(sys.argv[2]))
kept = {r["alert"] for g in rules["groups"] for r in g["rules"]}
tests["rule_files"] = [sys.argv[2]]
cases = []
for case in tests["tests"]:
    checks = [c for c in case.get("alert_rule_test", []) if c["alertname"] in kept]
    for check in checks:
        for alert in check.get("exp_alerts", []):
            alert.get("exp_annotations", {}).pop("description", None)
    if checks:
        case["alert_rule_test"] = checks
        case.pop("promql_expr_test", None)
        cases.append(case)
tested = {c["alertname"] for case in cases for c in case["alert_rule_test"]}
assert {"TooGoodToGoBackupTooOld", "TooGoodToGoUpdateErrorRate", "TooGoodToGoWebhookErrors",
        "TooGoodToGoWebhookLatencyHigh"} <= tested, tested
tests["tests"] = cases
yaml.safe_dump(tests, open(sys.argv[3], "w"))
PY
  echo "$output"
  [ "$status" -eq 0 ]
  run promtool test rules "$BATS_TEST_TMPDIR/kubernetes.test.yml"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *SUCCESS* ]]
}
