#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests: trust auth, 127.0.0.1 only, a free port.
#
#   .ci/postgres.sh [DIR]        start one in DIR (default: a new temporary folder) and
#                                print its SQLAlchemy URL on stdout
#   .ci/postgres.sh --stop DIR   stop it and delete DIR
#
# Usage: export FLOODMARK_TEST_POSTGRES_URL="$(.ci/postgres.sh)"
set -euo pipefail
bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres.sh: no PostgreSQL server found (apt-get install postgresql)" >&2
    exit 1
fi
# initdb and the server refuse to run as root: the cluster then belongs to `postgres`.
as_owner=()
if [ "$(id -u)" = 0 ]; then
    as_owner=(runuser -u postgres --)
fi

if [ "${1:-}" = "--stop" ]; then
    dir="${2:?usage: postgres.sh --stop DIR}"
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true
    rm -rf "$dir"
    exit 0
fi

dir="${1:-$(mktemp -d -t floodmark-pg.XXXXXX)}"
mkdir -p "$dir"
[ "${#as_owner[@]}" -eq 0 ] || chown postgres: "$dir"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log"
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
echo "postgres.sh: cluster in $dir (port $port); stop it with .ci/postgres.sh --stop $dir" >&2
echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
