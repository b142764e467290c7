#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests (installing Debian's package if needed)
# and prints its URL. Usage: export POSTATO_TEST_POSTGRES_URL=$(./scripts/postgres.sh)
# (`./scripts/postgres.sh --ca` prints the path of its TLS certificate instead).
# The server also accepts TLS, with a certificate for "localhost" signed by a throwaway CA
# whose PEM file is at $DATA-ca.pem (the TLS tests read POSTATO_TEST_POSTGRES_CA).
set -euo pipefail
PORT="${POSTATO_PG_PORT:-54329}"
DATA="${POSTATO_PG_DATA:-/tmp/postato-pg-$PORT}"
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
CA="$DATA-ca.pem"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing PostgreSQL (Debian package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq postgresql >&2
fi
if ! command -v openssl >/dev/null 2>&1; then
  echo "installing openssl (Debian package), for the server's TLS certificate" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq openssl >&2
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

# Prints the URL, or with --ca the certificate's PEM file.
answer() { if [ "${1:-}" = "--ca" ]; then echo "$CA"; else echo "$URL"; fi; }

if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && [ -f "$CA" ]; then
  answer "$@"
  exit 0
fi
# Nothing answers (or a server from before TLS): start a fresh cluster (a killed one may
# have left a stale pid file).
as_postgres "'$PGBIN/pg_ctl' -D '$DATA' -m immediate stop" >/dev/null 2>&1 || true
rm -rf "$DATA" && mkdir -p "$DATA"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
as_postgres "'$PGBIN/initdb' -D '$DATA' -A trust -U postgres" >/dev/null
# TLS as a managed PostgreSQL offers it: a certificate for "localhost" signed by a CA of its
# own, whose certificate clients pass as sslrootcert.
TLS=$(mktemp -d)
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=postato test CA" \
  -keyout "$TLS/ca.key" -out "$TLS/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$DATA/server.key" -out "$TLS/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' > "$TLS/san"
openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial -days 3650 \
  -extfile "$TLS/san" -out "$DATA/server.crt" 2>/dev/null
chmod 600 "$DATA/server.key"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA/server.key" "$DATA/server.crt"
cp "$TLS/ca.crt" "$CA" && chmod 644 "$CA"
rm -rf "$TLS"
as_postgres "'$PGBIN/pg_ctl' -D '$DATA' -l '$DATA/server.log' -w -o \"-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c ssl=on\" start" >&2
"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 30
answer "$@"
