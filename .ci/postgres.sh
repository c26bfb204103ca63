#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster on 127.0.0.1 (trust auth, a free port) and print
# its SQLAlchemy URL on stdout. The cluster lives in a temporary folder (named on stderr);
# stop it with `pg_ctl -D FOLDER/data stop` (as the postgres user when started as root).
# Usage: export FLOODMARK_TEST_POSTGRES_URL="$(.ci/postgres.sh)"
set -euo pipefail
bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres.sh: no PostgreSQL server found (apt-get install postgresql)" >&2
    exit 1
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
dir="$(mktemp -d -t floodmark-pg.XXXXXX)"
# initdb refuses to run as root: the cluster belongs to the `postgres` user then.
as_owner=()
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    as_owner=(runuser -u postgres --)
fi
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log"
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
echo "postgres.sh: cluster in $dir/data, port $port, log $dir/server.log" >&2
echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
