#!/usr/bin/env bash
# The one command that runs every test (unit, Postgres, end-to-end): installs
# dependencies, builds, starts a throwaway PostgreSQL in a temporary folder on
# a random free port, runs CTest, and stops and removes PostgreSQL whatever
# the outcome. Exits non-zero if any test fails. Extra arguments go to ctest
# (e.g. -L unit, -R migrate).
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
started=""
for _ in 1 2 3 4 5; do
  port=$(( 20000 + RANDOM % 20000 ))
  if bash scripts/pg.sh start "$pgdir" "$port" 2>/dev/null; then
    started=yes
    break
  fi
done
[ -n "$started" ] || { echo "test: could not start PostgreSQL; see $pgdir/postgres.log" >&2; exit 1; }
export CUEBALL_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
echo "test: PostgreSQL at 127.0.0.1:$port (data in $pgdir)"

cd build
ctest --output-on-failure --timeout 600 -j2 "$@"
