#!/usr/bin/env bash
# The one command to run cueball locally: installs dependencies, builds,
# starts the project's own PostgreSQL (data in .data/pg, port 55432), creates
# the `cueball` database, and runs cueballd in the foreground (it applies
# migrations at start-up). Ctrl-C, SIGTERM or SIGHUP stops the daemon (it
# drains), then PostgreSQL; running it again reuses the data. Extra arguments
# go to cueballd. CUEBALL_PG_PORT and CUEBALL_DEV_DATA move PostgreSQL's port
# and data folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target cueballd cueball

port=${CUEBALL_PG_PORT:-55432}
data=${CUEBALL_DEV_DATA:-$root/.data/pg}
bash scripts/pg.sh start "$data" "$port"
trap 'bash "$root/scripts/pg.sh" stop "$data"' EXIT
psql "postgresql://postgres@127.0.0.1:$port/postgres" -qtAc \
  "SELECT 1 FROM pg_database WHERE datname = 'cueball'" | grep -q 1 ||
  psql "postgresql://postgres@127.0.0.1:$port/postgres" -qc "CREATE DATABASE cueball"

export CUEBALL_DATABASE_URL=${CUEBALL_DATABASE_URL:-postgresql://postgres@127.0.0.1:$port/cueball}
echo "dev: PostgreSQL on 127.0.0.1:$port (data in $data); starting cueballd"
# The daemon runs as a child this script waits for, so that whatever ends
# the script (Ctrl-C, SIGTERM, SIGHUP) first stops the daemon, then PostgreSQL.
build/cueballd "$@" &
daemon=$!
forward() { kill -TERM "$daemon" 2>/dev/null || true; }
trap forward INT TERM HUP
trap 'forward; wait "$daemon" 2>/dev/null || true; bash "$root/scripts/pg.sh" stop "$data"' EXIT
while kill -0 "$daemon" 2>/dev/null; do wait "$daemon" || true; done
status=0
wait "$daemon" || status=$?
exit "$status"
