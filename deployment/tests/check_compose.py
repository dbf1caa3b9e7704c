#!/usr/bin/env python3
"""Checks deployment/docker-compose.prod.yml for what the operations guide relies on.

Usage: check_compose.py COMPOSE_FILE ENV_EXAMPLE SECTION
SECTION: names | networks | healthchecks | dependencies | runtime | environment | keys
Prints one line per problem and exits 1 when there is any.
"""
import re
import sys

import yaml

path, env_example, section = sys.argv[1:4]
with open(path, encoding="utf-8") as f:
    doc = yaml.safe_load(f)
services = doc.get("services", {})
problems = []


def fail(msg):
    problems.append(msg)


def svc(name):
    s = services.get(name)
    if s is None:
        fail(f"service {name} missing")
        return {}
    return s


def nets(s):
    n = s.get("networks", [])
    return sorted(n.keys() if isinstance(n, dict) else n)


def healthtest(s):
    t = (s.get("healthcheck") or {}).get("test")
    return t if isinstance(t, list) else [t]


CORE = {"bot": "toogoodtogo_bot", "postgres": "toogoodtogo_postgres",
        "redis": "toogoodtogo_redis", "nginx": "toogoodtogo_nginx"}

if section == "names":
    for name, container in CORE.items():
        got = svc(name).get("container_name")
        if got != container:
            fail(f"{name}: container_name is {got!r}, expected {container!r}")
    image = svc("postgres").get("image", "")
    if not re.match(r"^postgres:15(\.|-|$)", image):
        fail(f"postgres image {image!r} is not PostgreSQL 15")
    bot_image = svc("bot").get("image", "")
    if not re.match(r"^toogoodtogo/bot:\$\{BOT_VERSION[:?}]", bot_image):
        fail(f"bot image {bot_image!r} is not toogoodtogo/bot:${{BOT_VERSION}}")
    if not svc("bot").get("build"):
        fail("bot has no build section (image built locally when not published)")

elif section == "networks":
    networks = doc.get("networks", {})
    internal = [n for n, v in networks.items() if (v or {}).get("internal") is True]
    external_ok = [n for n, v in networks.items() if not (v or {}).get("internal")]
    if len(internal) != 1:
        fail(f"expected exactly one internal network, found {internal}")
    else:
        inet = internal[0]
        for name in ("postgres", "redis"):
            if nets(svc(name)) != [inet]:
                fail(f"{name} must be only on the internal network {inet}, is on {nets(svc(name))}")
        if inet not in nets(svc("bot")):
            fail("bot is not on the internal network")
        if not any(n in external_ok for n in nets(svc("bot"))):
            fail("bot has no network with outside access (Telegram, Stripe)")
        if inet in nets(svc("nginx")):
            fail("nginx must not reach the internal network")
        shared = set(nets(svc("bot"))) & set(nets(svc("nginx")))
        if not shared:
            fail("bot and nginx share no network")
    for name, s in services.items():
        ports = [str(p) for p in s.get("ports", [])]
        if name == "bot":
            if ports != ["127.0.0.1:8000:8000"]:
                fail(f"bot must publish only 127.0.0.1:8000:8000, publishes {ports}")
        elif name == "nginx":
            if sorted(ports) != ["443:443", "80:80"]:
                fail(f"nginx must publish 80 and 443, publishes {ports}")
        elif ports:
            fail(f"{name} must not publish ports, publishes {ports}")

elif section == "healthchecks":
    pg = " ".join(map(str, healthtest(svc("postgres"))))
    if "pg_isready" not in pg:
        fail(f"postgres healthcheck does not use pg_isready: {pg}")
    rd = " ".join(map(str, healthtest(svc("redis"))))
    if "redis-cli" not in rd or "ping" not in rd:
        fail(f"redis healthcheck does not use redis-cli ping: {rd}")
    if "REDISCLI_AUTH" not in (svc("redis").get("environment") or {}):
        fail("redis container does not set REDISCLI_AUTH (redis-cli ping would fail with NOAUTH)")
    bt = healthtest(svc("bot"))
    if bt != ["CMD", "/usr/local/bin/toogoodtogo-bot", "healthcheck"]:
        fail(f"bot healthcheck is {bt}, expected the binary's healthcheck subcommand")
    if not healthtest(svc("nginx"))[0]:
        fail("nginx has no healthcheck")

elif section == "dependencies":
    want = {
        "bot": {"postgres": "service_healthy", "redis": "service_healthy",
                "migrate": "service_completed_successfully"},
        "nginx": {"bot": "service_healthy"},
        "migrate": {"postgres": "service_healthy"},
    }
    for name, deps in want.items():
        got = svc(name).get("depends_on") or {}
        for dep, cond in deps.items():
            c = (got.get(dep) or {}).get("condition") if isinstance(got, dict) else None
            if c != cond:
                fail(f"{name} depends_on {dep}: condition {c!r}, expected {cond!r}")
    mig = svc("migrate")
    if mig.get("command") != ["migrate"] or mig.get("image") != svc("bot").get("image"):
        fail("migrate service must run `migrate` with the bot's image")

elif section == "runtime":
    for name in CORE:
        s = svc(name)
        if s.get("restart") not in ("unless-stopped", "always"):
            fail(f"{name}: restart policy {s.get('restart')!r}")
        limits = ((s.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        if not limits.get("memory") or not limits.get("cpus"):
            fail(f"{name}: no memory/CPU limits")
        log = s.get("logging") or {}
        opts = log.get("options") or {}
        if log.get("driver") != "json-file" or not opts.get("max-size") or not opts.get("max-file"):
            fail(f"{name}: logs not rotated (json-file with max-size/max-file)")
        if s.get("stop_grace_period") != "30s":
            fail(f"{name}: stop_grace_period is {s.get('stop_grace_period')!r}, expected 30s")
    volumes = doc.get("volumes") or {}
    for name, target in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        mounts = [v for v in svc(name).get("volumes", []) if isinstance(v, str)]
        named = [m for m in mounts if m.split(":")[0] in volumes and m.split(":")[1] == target]
        if not named:
            fail(f"{name}: {target} is not on a named volume")

elif section == "environment":
    for name in ("bot", "postgres", "migrate", "redis"):
        ef = svc(name).get("env_file")
        ef = [ef] if isinstance(ef, str) else (ef or [])
        if ".env.production" not in ef:
            fail(f"{name}: does not read .env.production through env_file")
    env = svc("bot").get("environment") or {}
    if env.get("POSTGRES_HOST") != "postgres":
        fail("bot: POSTGRES_HOST is not set to postgres")
    if env.get("REDIS_HOST") != "redis" and "redis:6379" not in str(env.get("REDIS_URL", "")):
        fail("bot: the Redis address is not set to the redis service")
    with open(env_example, encoding="utf-8") as f:
        documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", f.read(), re.M))
    with open(path, encoding="utf-8") as f:
        used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", f.read()))
    for var in sorted(used - documented):
        fail(f"compose interpolates ${{{var}}} which .env.production.example does not document")
elif section == "keys":
    # Typos in Compose keys are silently ignored by older versions and rejected by newer ones.
    top = {"name", "services", "networks", "volumes", "configs", "secrets", "include"}
    service_keys = {
        "image", "build", "container_name", "command", "entrypoint", "environment", "env_file",
        "ports", "expose", "volumes", "tmpfs", "networks", "network_mode", "depends_on",
        "healthcheck", "restart", "deploy", "logging", "stop_grace_period", "stop_signal",
        "read_only", "security_opt", "cap_drop", "cap_add", "user", "working_dir", "pid",
        "shm_size", "ulimits", "labels", "profiles", "init", "extra_hosts", "mem_limit", "cpus",
        "pull_policy", "hostname", "sysctls", "devices", "secrets", "configs"}
    health_keys = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for k in doc:
        if k not in top and not k.startswith("x-"):
            fail(f"unknown top-level key {k}")
    for name, s in services.items():
        for k in s:
            if k not in service_keys:
                fail(f"{name}: unknown key {k}")
        for k in (s.get("healthcheck") or {}):
            if k not in health_keys:
                fail(f"{name}: unknown healthcheck key {k}")
        deps = s.get("depends_on") or {}
        if isinstance(deps, dict):
            for dep, spec in deps.items():
                if dep not in services:
                    fail(f"{name}: depends on unknown service {dep}")
                if (spec or {}).get("condition", "service_started") not in conditions:
                    fail(f"{name}: unknown depends_on condition {spec}")
        else:
            for dep in deps:
                if dep not in services:
                    fail(f"{name}: depends on unknown service {dep}")
        declared = set((doc.get("networks") or {}).keys())
        for n in nets(s):
            if n not in declared:
                fail(f"{name}: network {n} is not declared")
        limits = ((s.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        for k in limits:
            if k not in {"cpus", "memory", "pids"}:
                fail(f"{name}: unknown resource limit {k}")
        declared_volumes = set((doc.get("volumes") or {}).keys())
        for v in s.get("volumes", []):
            src = str(v).split(":")[0]
            if not src.startswith(("/", ".", "~")) and src not in declared_volumes:
                fail(f"{name}: volume {src} is not declared")
else:
    fail(f"unknown section {section}")

for p in problems:
    print(f"FAIL: {p}")
sys.exit(1 if problems else 0)
