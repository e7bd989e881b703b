#!/bin/sh
# cueball's container entrypoint, also used as-is outside containers (the
# end-to-end tests run it against a real daemon). Commands:
#   serve [FLAGS]    run cueballd (the default)
#   migrate          apply pending migrations and exit
#   healthcheck      exit 0 when the daemon's /readyz answers 200
#   demo             enqueue a demo.pipeline run on CUEBALL_SERVER and wait for it
#   anything else    exec'd as given (e.g. `cueball list`)
# Settings are CUEBALL_* environment variables (see `cueballd --help`), plus:
#   CUEBALL_DATABASE_URL_FILE  read the database URL from this file (a mounted secret)
#   CUEBALL_BIN_DIR            where cueballd and cueball live (default /usr/local/bin)
#   CUEBALL_HEALTHCHECK_URL    what `healthcheck` asks (default http://127.0.0.1:7421/readyz)
#   CUEBALL_DEMO_TIMEOUT       how long `demo` waits for the daemon and the run (default 60s)
set -eu

bin=${CUEBALL_BIN_DIR:-/usr/local/bin}

if [ -n "${CUEBALL_DATABASE_URL_FILE:-}" ]; then
  if [ ! -r "$CUEBALL_DATABASE_URL_FILE" ]; then
    echo "entrypoint: CUEBALL_DATABASE_URL_FILE=$CUEBALL_DATABASE_URL_FILE is not readable" >&2
    exit 2
  fi
  CUEBALL_DATABASE_URL=$(head -n 1 "$CUEBALL_DATABASE_URL_FILE")
  export CUEBALL_DATABASE_URL
fi

cmd=${1:-serve}
[ $# -gt 0 ] && shift

case "$cmd" in
  serve)
    exec "$bin/cueballd" "$@"
    ;;
  migrate)
    exec "$bin/cueballd" migrate "$@"
    ;;
  healthcheck)
    exec curl -fsS --max-time 3 "${CUEBALL_HEALTHCHECK_URL:-http://127.0.0.1:7421/readyz}" >/dev/null
    ;;
  demo)
    timeout=${CUEBALL_DEMO_TIMEOUT:-60s}
    deadline=$(( $(date +%s) + ${timeout%s} ))
    # The daemon may still be starting: retry the enqueue until it answers.
    until id=$("$bin/cueball" enqueue demo.pipeline --input '{"n": 4}' --key "demo-$(hostname)-$$" 2>/dev/null); do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "entrypoint: demo: no daemon answered at ${CUEBALL_SERVER:-localhost:7420}" >&2
        exit 1
      fi
      sleep 1
    done
    echo "demo: enqueued demo.pipeline run $id"
    exec "$bin/cueball" wait "$id" --timeout "$timeout"
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac
