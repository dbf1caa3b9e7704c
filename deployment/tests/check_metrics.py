#!/usr/bin/env python3
"""Checks that PromQL in the Grafana dashboard and the alert rules uses only known metrics:
the bot's toogoodtogo_* metrics, backup.sh's textfile metric and those of the named exporters.

Usage: check_metrics.py dashboard FILE.json | rules FILE.yml
Prints one line per problem; exits 1 when there is any.
"""
import json
import re
import sys

BOT_COUNTERS = ["http_requests_total", "updates_received_total", "updates_processed_total",
                "updates_failed_total", "telegram_api_errors_total", "rate_limited_total"]
BOT_HISTOGRAMS = ["http_request_duration_seconds", "update_processing_seconds"]
BOT_GAUGES = ["inbox_backlog", "outbound_queue_depth", "db_pool_connections", "build_info"]
KNOWN = {"toogoodtogo_" + m for m in BOT_COUNTERS + BOT_GAUGES}
for h in BOT_HISTOGRAMS:
    KNOWN |= {f"toogoodtogo_{h}{s}" for s in ("_bucket", "_sum", "_count")}
# backup.sh through node_exporter's textfile collector
KNOWN |= {"toogoodtogo_backup_last_success_timestamp_seconds", "toogoodtogo_backup_last_size_bytes"}
# restore.sh --verify (weekly timer), same directory
KNOWN |= {"toogoodtogo_backup_restore_verify_success", "toogoodtogo_backup_restore_verify_last_run_timestamp_seconds",
          "toogoodtogo_backup_restore_verify_last_success_timestamp_seconds", "toogoodtogo_backup_restore_verify_tables",
          "toogoodtogo_backup_restore_verify_rows"}
# Prometheus itself and the exporters in docker-compose.monitoring.yml
KNOWN |= {"up",
          "pg_up", "pg_stat_database_numbackends", "pg_database_size_bytes",
          "redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes", "redis_connected_clients",
          "node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_cpu_seconds_total",
          "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"}

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan"}


def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings
    e = re.sub(r"\{[^}]*\}", "", e)                         # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                        # ranges
    e = re.sub(r"\$\w+", "", e)                             # Grafana variables
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        tok = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("("):
            continue                                        # function call
        if tok.lower() in KEYWORDS:
            continue
        if re.fullmatch(r"\d+[smhdwy]", tok) or re.fullmatch(r"[eE]\d+", tok):
            continue
        names.add(tok)
    return names


problems = []
kind, path = sys.argv[1], sys.argv[2]
exprs = []
if kind == "dashboard":
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    for key in ("uid", "title", "panels"):
        if key not in dash:
            problems.append(f"dashboard has no {key}")
    ids = [p.get("id") for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")
    for p in dash.get("panels", []):
        targets = p.get("targets", [])
        if not targets:
            problems.append(f"panel {p.get('title')!r} has no query")
        for t in targets:
            ds = t.get("datasource") or p.get("datasource") or {}
            if ds.get("uid") != "prometheus":
                problems.append(f"panel {p.get('title')!r} does not use the provisioned Prometheus data source")
            exprs.append((p.get("title"), t.get("expr", "")))
elif kind == "rules":
    import yaml
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            exprs.append((r.get("alert") or r.get("record"), r.get("expr", "")))
else:
    problems.append(f"unknown kind {kind}")

used = set()
for title, expr in exprs:
    names = metric_names(str(expr))
    if not names:
        problems.append(f"{title!r}: no metric in {expr!r}")
    for n in sorted(names - KNOWN):
        problems.append(f"{title!r}: unknown metric {n}")
    used |= names

for p in problems:
    print(f"FAIL: {p}")
if not problems:
    print(f"{len(exprs)} queries, metrics used: {', '.join(sorted(used))}")
sys.exit(1 if problems else 0)
