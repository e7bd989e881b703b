#!/usr/bin/env bash
# The one command that runs every test (unit, Postgres, end-to-end): installs
# dependencies, builds, starts a throwaway PostgreSQL in a temporary folder
# (Unix socket only, so no port can clash), runs CTest, and stops and removes
# PostgreSQL whatever the outcome. Exits non-zero if any test fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2

pgdir=$(mktemp -d /tmp/cueball-pgtest.XXXXXX)
cleanup() {
  bash "$root/scripts/pg.sh" stop "$pgdir" || true
  rm -rf "$pgdir"
}
trap cleanup EXIT
port=$(( 20000 + RANDOM % 20000 ))
bash scripts/pg.sh start "$pgdir" "$port"
export CUEBALL_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
echo "test: PostgreSQL at 127.0.0.1:$port (data in $pgdir)"

cd build
ctest --output-on-failure --timeout 600 -j2 "$@"
