#!/usr/bin/env python3
"""Keeps deploy/ honest without a container engine: every file the compose
file, Dockerfile, Kubernetes manifests and systemd unit name exists, every
command they give the entrypoint is one it handles, and every CUEBALL_*
variable they set is understood by cueballd (run here as `cueballd config`
with exactly those values) or the cueball CLI or the entrypoint itself.

usage: check_deploy.py SOURCE_DIR BUILD_DIR
"""
import os
import re
import subprocess
import sys

import yaml

src, build = sys.argv[1], sys.argv[2]
deploy = os.path.join(src, "deploy")
cueballd = os.path.join(build, "cueballd")
cueball = os.path.join(build, "cueball")
errors = []


def fail(where, msg):
    errors.append(f"{where}: {msg}")


def must_exist(where, path):
    if not os.path.exists(path):
        fail(where, f"names {os.path.relpath(path, src)}, which does not exist")


entrypoint_text = open(os.path.join(deploy, "entrypoint.sh")).read()
# Commands the entrypoint handles (its case labels) and variables it reads itself.
entry_commands = set(re.findall(r"^  ([a-z]+)\)$", entrypoint_text, re.M))
entry_vars = set(re.findall(r"^#   (CUEBALL_[A-Z_]+)", entrypoint_text, re.M))
cli_help = subprocess.run([cueball, "--help"], capture_output=True, text=True).stdout
cli_vars = set(re.findall(r"Env:(CUEBALL_[A-Z_]+)", cli_help))
daemon_help = subprocess.run([cueballd, "--help"], capture_output=True, text=True).stdout
daemon_flags = set(re.findall(r"--([a-z][a-z-]+)", daemon_help))


def check_daemon_env(where, env, args=()):
    """cueballd must accept these settings and read every daemon variable."""
    env = dict(env)
    for var in [v for v in env if v in entry_vars]:
        if var == "CUEBALL_DATABASE_URL_FILE":
            env.setdefault("CUEBALL_DATABASE_URL", "postgresql://u:p@db:5432/cb")
        del env[var]
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("CUEBALL_")}
    run_env.update(env)
    r = subprocess.run([cueballd, *args, "config"], capture_output=True, text=True, env=run_env)
    if r.returncode != 0:
        fail(where, f"cueballd refuses these settings: {r.stderr.strip()}")
        return
    for var in env:
        if f"# env {var}\n" not in r.stdout:
            fail(where, f"sets {var}, which cueballd does not read")


def check_cli_env(where, env):
    for var in env:
        if var not in cli_vars and var not in entry_vars:
            fail(where, f"sets {var}, which neither the cueball CLI nor the entrypoint reads")


def read_env_file(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k] = v
    return out


# --- docker-compose.yml ---------------------------------------------------------
compose_path = os.path.join(deploy, "docker-compose.yml")
compose = yaml.safe_load(open(compose_path))
for name, secret in compose.get("secrets", {}).items():
    must_exist(f"compose secret {name}", os.path.join(deploy, secret["file"]))
images_built = set()
for name, svc in compose["services"].items():
    where = f"compose service {name}"
    if "build" in svc:
        ctx = os.path.join(deploy, svc["build"]["context"])
        must_exist(where, ctx)
        must_exist(where, os.path.join(ctx, svc["build"]["dockerfile"]))
        images_built.add(svc.get("image"))
for name, svc in compose["services"].items():
    where = f"compose service {name}"
    if svc.get("image") not in images_built:
        continue  # not ours (postgres)
    env = {}
    for f in svc.get("env_file", []):
        must_exist(where, os.path.join(deploy, f))
        env.update(read_env_file(os.path.join(deploy, f)))
    env.update({k: str(v) for k, v in (svc.get("environment") or {}).items()})
    command = svc.get("command", ["serve"])
    if command[0] not in entry_commands:
        fail(where, f"runs entrypoint command '{command[0]}', which it does not handle")
    if "CUEBALL_DATABASE_URL_FILE" in env:
        secret = os.path.basename(env["CUEBALL_DATABASE_URL_FILE"])
        if secret not in svc.get("secrets", []):
            fail(where, f"reads the secret {secret} but does not mount it")
    if command[0] in ("serve", "migrate"):
        check_daemon_env(where, env, command[1:])
    else:
        check_cli_env(where, env)
    hc = (svc.get("healthcheck") or {}).get("test", [])
    if hc and not (hc[1] == "/usr/local/bin/entrypoint.sh" and hc[2] in entry_commands):
        fail(where, f"healthcheck {hc} is not an entrypoint command")
    for port in svc.get("ports", []):
        container_port = port.split(":")[-1]
        listens = [env.get("CUEBALL_LISTEN", ""), env.get("CUEBALL_METRICS_LISTEN", "")]
        if not any(l.endswith(":" + container_port) for l in listens):
            fail(where, f"publishes port {container_port}, where the daemon does not listen")

# --- Dockerfile -----------------------------------------------------------------
dockerfile = open(os.path.join(deploy, "Dockerfile")).read()
for m in re.finditer(r"^COPY (?!--from)(.+)$", dockerfile, re.M):
    for s in m.group(1).split()[:-1]:
        must_exist("Dockerfile COPY", os.path.join(src, s))
if "COPY deploy/entrypoint.sh /usr/local/bin/entrypoint.sh" not in dockerfile:
    fail("Dockerfile", "does not install deploy/entrypoint.sh as /usr/local/bin/entrypoint.sh")
if 'ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]' not in dockerfile:
    fail("Dockerfile", "ENTRYPOINT is not the entrypoint script")
m = re.search(r'CMD \["/usr/local/bin/entrypoint.sh", "(\w+)"\]', dockerfile)
if not m or m.group(1) not in entry_commands:
    fail("Dockerfile", "HEALTHCHECK is not an entrypoint command")
if "USER cueball" not in dockerfile:
    fail("Dockerfile", "does not run as the non-root user")

# --- Kubernetes -----------------------------------------------------------------
k8s = os.path.join(deploy, "k8s")
docs = {}
for f in sorted(os.listdir(k8s)):
    for d in yaml.safe_load_all(open(os.path.join(k8s, f))):
        docs.setdefault(d["kind"], []).append((f, d))
secrets = {d["metadata"]["name"]: d.get("stringData", {}) for _, d in docs.get("Secret", [])}
for kind in ("Deployment", "Job"):
    for f, d in docs.get(kind, []):
        for c in d["spec"]["template"]["spec"]["containers"]:
            where = f"k8s {f} container {c['name']}"
            env = {}
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    if ref["key"] not in secrets.get(ref["name"], {}):
                        fail(where, f"reads secret {ref['name']}/{ref['key']}, which the example lacks")
                    env[e["name"]] = secrets.get(ref["name"], {}).get(ref["key"], "")
                elif "valueFrom" in e:
                    env[e["name"]] = "pod-name"
                else:
                    env[e["name"]] = str(e["value"])
            args = c.get("args", ["serve"])
            if args[0] not in entry_commands:
                fail(where, f"runs entrypoint command '{args[0]}', which it does not handle")
            check_daemon_env(where, env, args[1:])
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe not in c:
                    continue
                get = c[probe]["httpGet"]
                if get["path"] not in ("/healthz", "/readyz"):
                    fail(where, f"{probe} asks {get['path']}, which the daemon does not serve")
                port = ports.get(get["port"], get["port"])
                if not env.get("CUEBALL_METRICS_LISTEN", "").endswith(f":{port}"):
                    fail(where, f"{probe} asks port {port}, where metrics do not listen")

# --- systemd --------------------------------------------------------------------
unit = open(os.path.join(deploy, "cueballd.service")).read()
unit_env = dict(re.findall(r"^Environment=(CUEBALL_[A-Z_]+)=(.*)$", unit, re.M))
for var in unit_env:
    if var not in daemon_help:
        fail("cueballd.service", f"sets {var}, which cueballd does not read")
m = re.search(r"^ExecStart=/usr/local/bin/cueballd(.*)$", unit, re.M)
if not m:
    fail("cueballd.service", "ExecStart is not /usr/local/bin/cueballd")
else:
    check_daemon_env("cueballd.service ExecStart", {"CUEBALL_DATABASE_URL": "postgresql://x@y/z"},
                     m.group(1).split())
conf = os.path.join(deploy, "cueballd.conf.example")
for n, line in enumerate(open(conf), 1):
    line = line.strip()
    if line and not line.startswith("#"):
        key = line.split("=")[0].strip().replace("_", "-")
        if key not in daemon_flags:
            fail(f"cueballd.conf.example:{n}", f"unknown setting '{key}'")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print("deploy: compose, Dockerfile, k8s and systemd are consistent with cueballd")
