#!/usr/bin/env bash
# Same-run comparison of two cueballd builds on the throughput scenario:
# rounds alternate the daemons (and a tagged variant of the second), each
# run on a fresh database; prints one line per run and the medians.
#
#   tests/bench/ab_throughput.sh OLD_CUEBALLD NEW_CUEBALLD [ROUNDS] [ADMIN_URL]
#
# ADMIN_URL: a PostgreSQL server URL whose user may create databases
# (default postgresql://postgres@127.0.0.1:55432). The daemons listen on
# 127.0.0.1:7420/7421; the bench client is build/cueball.
set -euo pipefail
old=$1 new=$2 rounds=${3:-5} pg=${4:-postgresql://postgres@127.0.0.1:55432}
cli=$(dirname "$0")/../../build/cueball
out=$(mktemp)
for round in $(seq 1 "$rounds"); do
  for v in before after after+tags; do
    bin=$new extra=()
    [ "$v" = before ] && bin=$old
    [ "$v" = after+tags ] && extra=(--tags 2)
    db=ab_$$_$round
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    "$bin" --database-url "$pg/$db" --listen 127.0.0.1:7420 --metrics-listen 127.0.0.1:7421 \
      >/dev/null 2>&1 &
    pid=$!
    sleep 2
    line=$("$cli" --server 127.0.0.1:7420 bench throughput --repeat 1 --progress never \
      "${extra[@]}" 2>&1 | tr '\n' ' ')
    kill "$pid"; wait "$pid" || true
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null
    echo "$v round=$round $line" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    e = re.search(r"throughput.enqueue\s+([\d,]+)", line)
    d = re.search(r"throughput.drain\s+([\d,]+)", line)
    if e and d:
        rows.setdefault(line.split()[0], []).append(
            (int(e.group(1).replace(",", "")), int(d.group(1).replace(",", ""))))
for v, l in rows.items():
    print(f"{v}: enqueue median {statistics.median(x[0] for x in l):,.0f}, "
          f"drain median {statistics.median(x[1] for x in l):,.0f} runs/s ({len(l)} runs)")
PY
rm -f "$out"
