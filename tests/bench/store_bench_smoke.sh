#!/usr/bin/env bash
# The ctest of tests/store_bench: on a database of its own (made on the
# server of $CUEBALL_TEST_DATABASE_URL, dropped after), 500 demo.pipeline
# runs are enqueued, claimed and recorded to the end, then listed with every
# mix of filters. Checks that each figure is printed, never how fast.
# usage: store_bench_smoke.sh STORE_BENCH
set -uo pipefail
bench=$1
db=cueball_store_bench_$$
url=${CUEBALL_TEST_DATABASE_URL%/*}/$db
psql -q "$CUEBALL_TEST_DATABASE_URL" -c "CREATE DATABASE $db" || exit 1
trap 'psql -q "$CUEBALL_TEST_DATABASE_URL" -c "DROP DATABASE $db WITH (FORCE)"' EXIT

fail() { echo "store_bench_smoke: $*" >&2; exit 1; }
out=$("$bench" --database-url "$url" --runs 500 --type demo.pipeline --claim 64) ||
  fail "the run failed"
echo "$out"
echo "$out" | grep -qE '^store_bench.enqueue +[0-9]+ runs/s$' || fail "no enqueue rate"
echo "$out" | grep -qE '^store_bench.drain +[0-9]+ runs/s  \([0-9]+ claims, 3 steps each\)$' ||
  fail "no drain rate"

out=$("$bench" --database-url "$url" --migrate false --phase list --list-types demo.pipeline \
  --list-repeat 1) || fail "the list phase failed"
echo "$out"
# Two types (none and demo.pipeline), nine status filters each.
[ "$(echo "$out" | grep -cE '^store_bench.list  type=[a-z.]+ +status=[a-z, ]+ +[0-9.]+ ms  \([0-9]+ runs\)$')" = 18 ] ||
  fail "not 18 list lines"
# All 500 runs succeeded: a page of 50 for them, none waiting.
echo "$out" | grep -qE '^store_bench.list  type=demo.pipeline +status=succeeded +[0-9.]+ ms  \(50 runs\)$' ||
  fail "succeeded runs not listed"
echo "$out" | grep -qE '^store_bench.list  type=any +status=waiting +[0-9.]+ ms  \(0 runs\)$' ||
  fail "waiting runs listed"
