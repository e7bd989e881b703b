#!/usr/bin/env bash
# cueball and the raw-SQL floor (floor.sh) measured in one invocation, on the
# same cluster, in alternating rounds: each round runs the floor, then a
# cueballd of BUILD_DIR against a fresh database and `cueball bench
# throughput` against it. Prints each round and the medians, and cueball's
# rates as a share of the floor's (docs/performance.md, "Side by side").
#
#   bash tests/bench/side_by_side.sh DATABASE_URL [ROUNDS] [JOBS]
#
# DATABASE_URL names any database of the cluster (used to create and drop the
# round's own). BUILD_DIR (default: build) holds cueballd and cueball; the
# daemon listens on 127.0.0.1:PORT (default 7531; metrics on PORT + 1) and
# is stopped by its pid.
set -euo pipefail

url=${1:?usage: side_by_side.sh DATABASE_URL [ROUNDS] [JOBS]}
rounds=${2:-3}
jobs=${3:-100000}
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../../build}
port=${PORT:-7531}
export PGOPTIONS="-c client_min_messages=warning"

db=cueball_side_$$
log=$(mktemp)
daemon=""
cleanup() {
  if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
  psql -q "$url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -f "$log"
}
trap cleanup EXIT

figure() { awk -v k="$1" '$1 == k { gsub(",", "", $2); print $2 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

f_enq=(); f_drain=(); f_both=(); c_enq=(); c_drain=(); c_both=()
for r in $(seq "$rounds"); do
  out=$(bash "$here/floor.sh" "$url" "$jobs" 1)
  f_enq+=("$(echo "$out" | figure floor.enqueue)")
  f_drain+=("$(echo "$out" | figure floor.drain)")
  f_both+=("$(echo "$out" | figure floor.both)")

  psql -q "$url" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  "$build/cueballd" --database-url "${url%/*}/$db" --listen 127.0.0.1:$port \
    --metrics-listen 127.0.0.1:$((port + 1)) >"$log" 2>&1 &
  daemon=$!
  for _ in $(seq 100); do
    "$build/cueball" --server 127.0.0.1:$port list >/dev/null 2>&1 && break
    sleep 0.1
  done
  out=$("$build/cueball" --server 127.0.0.1:$port bench throughput --repeat 1 --runs "$jobs" \
    --metrics 127.0.0.1:$((port + 1)) --progress never)
  kill "$daemon"
  wait "$daemon" || true
  daemon=""
  e=$(echo "$out" | figure throughput.enqueue)
  d=$(echo "$out" | figure throughput.drain)
  c_enq+=("$e")
  c_drain+=("$d")
  c_both+=("$(awk -v n="$jobs" -v e="$e" -v d="$d" 'BEGIN { printf "%.0f", n / (n / e + n / d) }')")
  echo "round $r: floor enqueue ${f_enq[-1]} drain ${f_drain[-1]} both ${f_both[-1]} jobs/s;" \
    "cueball enqueue $e drain $d both ${c_both[-1]} runs/s"
done

m() { printf '%s\n' "$@" | median; }
share() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
fe=$(m "${f_enq[@]}"); fd=$(m "${f_drain[@]}"); fb=$(m "${f_both[@]}")
ce=$(m "${c_enq[@]}"); cd=$(m "${c_drain[@]}"); cb=$(m "${c_both[@]}")
echo "medians of $rounds rounds, $jobs jobs or runs each:"
echo "  enqueue  floor $fe jobs/s  cueball $ce runs/s  ($(share "$ce" "$fe") of the floor)"
echo "  drain    floor $fd jobs/s  cueball $cd runs/s  ($(share "$cd" "$fd") of the floor)"
echo "  both     floor $fb jobs/s  cueball $cb runs/s  ($(share "$cb" "$fb") of the floor)"
