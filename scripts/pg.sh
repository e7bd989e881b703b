#!/usr/bin/env bash
# Manages a private PostgreSQL cluster for development and tests.
#   scripts/pg.sh start DIR [PORT]   init (first time) and start; prints nothing else
#   scripts/pg.sh restart DIR        restart it in immediate mode (crash + recovery)
#   scripts/pg.sh stop DIR           stop it (fast shutdown)
#   scripts/pg.sh url DIR [PORT]     print the connection URL
# The cluster lives in DIR/data, listens on 127.0.0.1:PORT (default 55432) and on
# a Unix socket in DIR. PostgreSQL refuses to run as root, so as root the
# server runs as the `postgres` user, which owns DIR.
set -euo pipefail

cmd=${1:?usage: pg.sh start|restart|stop|url DIR [PORT]}
dir=${2:?usage: pg.sh start|stop|url DIR [PORT]}
port=${3:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "pg.sh: PostgreSQL server binaries not found (run scripts/deps.sh)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      exit 0
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" \
      start >/dev/null || { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
    ;;
  restart)
    # Immediate mode: like a crash, then recovery; reuses the start options.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m immediate -w -t 60 restart \
      >/dev/null || { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
    ;;
  stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  url)
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  *)
    echo "pg.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
