#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests (installing Debian's package if needed)
# and prints its URL. Usage: export POSTATO_TEST_POSTGRES_URL=$(./scripts/postgres.sh)
set -euo pipefail
PORT="${POSTATO_PG_PORT:-54329}"
DATA="${POSTATO_PG_DATA:-/tmp/postato-pg-$PORT}"
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing PostgreSQL (Debian package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq postgresql >&2
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  echo "$URL"
  exit 0
fi
# Nothing answers: start a fresh cluster (a killed one may have left a stale pid file).
as_postgres "'$PGBIN/pg_ctl' -D '$DATA' -m immediate stop" >/dev/null 2>&1 || true
rm -rf "$DATA" && mkdir -p "$DATA"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
as_postgres "'$PGBIN/initdb' -D '$DATA' -A trust -U postgres" >/dev/null
as_postgres "'$PGBIN/pg_ctl' -D '$DATA' -l '$DATA/server.log' -w -o \"-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off\" start" >&2
"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 30
echo "$URL"
