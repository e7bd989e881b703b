#!/usr/bin/env bash
# Brings the local dev stack (deploy/docker-compose.yml) up for real and
# checks it as a user would, from a machine that may have none of it:
#   1. installs docker.io, docker-compose (1.29, Compose v1) and debootstrap
#      from Debian's archive, if missing;
#   2. starts dockerd (--iptables=false --bridge=none; compose's own networks
#      work) unless one already answers;
#   3. makes the images no registry can give here: debian:bookworm (and
#      bookworm-slim) from the Debian mirror with debootstrap, and, standing
#      in for the official postgres:15-bookworm, an image built from Debian's
#      postgresql-15 (deploy/postgres-standin) that honours POSTGRES_USER,
#      POSTGRES_PASSWORD and POSTGRES_DB; then builds cueball:dev from
#      deploy/Dockerfile (host network, for apt);
#   4. `up`: PostgreSQL, migrate, cueballd and the demo, which must succeed;
#   5. runs the README's CLI tour from the host (BUILD_DIR/cueball) against
#      the stack's published port;
#   6. SIGTERM to the daemon's container (docker stop) while a step runs: it
#      drains and exits 0, and the run finishes once the daemon is back;
#   7. `down -v`, and stops every process it started (dockerd too), also on
#      failure.
# usage: scripts/compose-check.sh [BUILD_DIR]   (default build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
cli="$build/cueball"
project=cueballcheck
grpc_port=${CUEBALL_CHECK_GRPC_PORT:-17420}
metrics_port=${CUEBALL_CHECK_METRICS_PORT:-17421}
work=$(mktemp -d /tmp/cueball-compose.XXXXXX)
dockerd_pid=""
compose=(docker-compose -p "$project" -f "$root/deploy/docker-compose.yml")
export CUEBALL_GRPC_PORT=$grpc_port CUEBALL_METRICS_PORT=$metrics_port

say() { echo "compose-check: $*"; }
# has TEXT PATTERN: grep on captured text (a pipe into grep -q would fail
# under pipefail whenever grep stops reading before the writer is done).
has() { grep -q -- "$2" <<<"$1"; }
fail() {
  echo "compose-check: FAILED: $*" >&2
  "${compose[@]}" ps >&2 2>/dev/null || true
  "${compose[@]}" logs --no-color --tail 40 >&2 2>/dev/null || true
  exit 1
}

cleanup() {
  local code=$?
  if docker info >/dev/null 2>&1; then
    "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT

[ -x "$cli" ] || { echo "compose-check: $cli not built" >&2; exit 1; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# 1. Packages.
missing=()
for p in docker.io docker-compose debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}" >/dev/null
fi

# 2. dockerd.
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: $work/dockerd.log)"
  $SUDO dockerd --iptables=false --bridge=none >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 "$work/dockerd.log" >&2; fail "dockerd did not start"; }
fi

# 3. Images.
if ! docker image inspect debian:bookworm >/dev/null 2>&1; then
  # The mirror apt uses here for bookworm/main.
  mirror=$(apt-cache policy 2>/dev/null | grep -oE 'https?://[^ ]+ bookworm/main' | head -n 1 |
    cut -d' ' -f1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  say "making debian:bookworm with debootstrap from $mirror"
  $SUDO debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
  $SUDO tar -C "$work/rootfs" -c . | docker import - debian:bookworm >/dev/null
  $SUDO rm -rf "$work/rootfs"
fi
docker image inspect debian:bookworm-slim >/dev/null 2>&1 || docker tag debian:bookworm debian:bookworm-slim
if ! docker image inspect postgres:15-bookworm >/dev/null 2>&1; then
  if ! docker pull -q postgres:15-bookworm >/dev/null 2>&1; then
    say "no registry: building the postgres:15-bookworm stand-in from Debian's postgresql-15"
    docker build -q --network host -f "$root/deploy/postgres-standin/Dockerfile" \
      -t postgres:15-bookworm "$root" >"$work/postgres-build.log" 2>&1 ||
      { tail -20 "$work/postgres-build.log" >&2; fail "building the postgres stand-in"; }
  fi
fi
say "building cueball:dev from deploy/Dockerfile"
docker build -q --network host -f "$root/deploy/Dockerfile" -t cueball:dev "$root" \
  >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; fail "docker build"; }

# 4. Up.
"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
say "up"
"${compose[@]}" up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "up"; }
demo=$("${compose[@]}" ps -q demo)
for _ in $(seq 1 120); do
  [ -n "$demo" ] || demo=$("${compose[@]}" ps -q demo)
  [ -n "$demo" ] && [ "$(docker inspect -f '{{.State.Status}}' "$demo")" = exited ] && break
  sleep 1
done
[ -n "$demo" ] || fail "the demo container never started"
[ "$(docker inspect -f '{{.State.ExitCode}}' "$demo")" = 0 ] || fail "the demo run did not succeed"
has "$(docker logs "$demo" 2>&1)" "demo: enqueued demo.pipeline run" || fail "demo output"
say "demo succeeded: $(docker logs "$demo" 2>&1 | head -n 1)"

# 5. The README's tour, from the host.
c() { "$cli" --server "127.0.0.1:$grpc_port" "$@"; }
types=$(c types) || fail "cueball types"
[ "$(echo "$types" | tail -n +2 | wc -l)" -eq 10 ] || fail "cueball types lists $(echo "$types" | wc -l) lines"
id=$(c enqueue noop --input '{"n":1}') || fail "enqueue noop"
c wait "$id" --timeout 30s >/dev/null || fail "wait noop"
has "$(c get "$id")" succeeded || fail "get noop"
p=$(c enqueue demo.pipeline --input '{"n":4}')
c wait "$p" --timeout 30s >/dev/null || fail "wait pipeline"
[ "$(c get "$p" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["n"])')" = 40 ] ||
  fail "pipeline result"
f=$(c enqueue demo.flaky --input '{"succeed_on":9}')
set +e
c wait "$f" --timeout 60s >/dev/null
code=$?
set -e
[ "$code" = 3 ] || fail "wait on a failing run exited $code, not 3"
has "$(c list --status failed --type demo.flaky --limit 50 2>/dev/null)" "$f" ||
  fail "list failed runs"
c retry "$f" --reason "try again" >/dev/null || fail "retry"
s=$(c enqueue demo.sleep --input '{"ms":600000}')
c cancel "$s" --reason "not needed" >/dev/null || fail "cancel"
k1=$(c enqueue noop --key order-42 2>/dev/null)
k2=$(c enqueue noop --key order-42 2>/dev/null)
[ "$k1" = "$k2" ] || fail "the same key gave two runs"
has "$(c list --limit 5 2>/dev/null)" noop || fail "list"
curl -fsS "http://127.0.0.1:$metrics_port/readyz" >/dev/null || fail "/readyz"
say "README tour passed against the stack"

# 6. SIGTERM drains the daemon; nothing is lost.
daemon=$("${compose[@]}" ps -q cueballd)
slow=$(c enqueue demo.sleep --input '{"ms":3000}')
for _ in $(seq 1 50); do has "$(c get "$slow" --no-history)" running && break; sleep 0.1; done
docker stop -t 30 "$daemon" >/dev/null
[ "$(docker inspect -f '{{.State.ExitCode}}' "$daemon")" = 0 ] || fail "cueballd exited non-zero on SIGTERM"
daemon_log=$(docker logs "$daemon" 2>&1)
has "$daemon_log" '"msg":"shutting down".*"signal":"SIGTERM"' ||
  fail "no SIGTERM shutdown line in the daemon's JSON log"
has "$daemon_log" '"msg":"stopped"' || fail "the daemon did not stop cleanly"
docker start "$daemon" >/dev/null
for _ in $(seq 1 60); do c types >/dev/null 2>&1 && break; sleep 1; done
c wait "$slow" --timeout 60s >/dev/null || fail "the run in flight at SIGTERM did not finish"
say "SIGTERM drained the daemon (exit 0), and the run in flight finished after restart"

"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || fail "down -v"
say "passed"
