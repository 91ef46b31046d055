#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on loopback for the tests and benchmarks (Debian's postgresql).
#
#   eval "$(deploy/pg-cluster.sh start DIR [PORT])"   # initdb + start (on PORT, else a free one); prints exports
#   deploy/pg-cluster.sh restart DIR           # restart it (tests of lost connections)
#   deploy/pg-cluster.sh stop DIR              # stop and delete it
#
# The server runs as the 'postgres' system user when invoked as root (PostgreSQL refuses root),
# listens on 127.0.0.1 only, trusts local connections, and is tuned for throw-away speed
# (fsync=off): never use these settings for data you want to keep.
set -euo pipefail
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  start|restart|stop) ;;
  *) { echo "usage: $0 start DIR [PORT] | restart DIR | stop DIR   (--help for more)"; } >&2; exit 2 ;;
esac
cmd=$1
[ $# -ge 2 ] || { echo "usage: $0 $1 DIR${1/start/ [PORT]}" >&2; exit 2; }
dir=$2
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
  start)
    port=${3:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    [[ "$port" =~ ^[0-9]+$ && "$port" -ge 1 && "$port" -le 65535 ]] || { echo "$0: PORT must be 1 to 65535, not '$port'" >&2; exit 2; }
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U edgarpipe --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB -c shared_buffers=256MB" \
      >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U edgarpipe edgarpipe_test
    echo "$port" > "$dir/port"
    echo "export EDGARPIPE_TEST_PG='postgresql://edgarpipe@127.0.0.1:$port/edgarpipe_test'"
    echo "export EDGARPIPE_TEST_PG_DIR='$dir'"
    ;;
  restart)
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 restart >/dev/null
    ;;
  stop)
    [ -d "$dir/data" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
esac
