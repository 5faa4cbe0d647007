#!/usr/bin/env bash
# Run a command against a private, throwaway PostgreSQL server on 127.0.0.1.
# The server's data lives in a private folder under build/ (one per run, so
# runs side by side never meet) and is removed afterwards; the command sees
# its URL in LEDGER_TEST_DATABASE_URL.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ]; then
  echo "PostgreSQL is not installed: run scripts/system-deps.sh (as root)." >&2
  exit 1
fi

mkdir -p build
root=$(mktemp -d "$(pwd)/build/postgres.XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses to run as root: the server runs as the postgres user.
  chown postgres:postgres "$root"
  as_pg=(runuser -u postgres --)
fi

"${as_pg[@]}" "$bindir/initdb" -D "$root/data" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 >"$root/initdb.log"
"${as_pg[@]}" "$bindir/pg_ctl" -D "$root/data" -l "$root/server.log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $root -c fsync=off" start >/dev/null

stop() {
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null || true
  rm -rf "$root"
}
trap stop EXIT

"$bindir/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE ledger_test;"
export LEDGER_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/ledger_test"
"$@"
