#!/usr/bin/env bash
# Makes sure a PostgreSQL answers on 127.0.0.1:5432 for FerretDB's PostgreSQL handler: starts the local
# cluster if it is installed but stopped. Exits 0 when one answers, 1 when none can be had (the caller then
# runs FerretDB on SQLite). Each run (tests, reliability, bench) creates and drops a database of its own.
set -uo pipefail
HOST=127.0.0.1
PORT=5432

answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$HOST" -p "$PORT" -t 2
  else
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
  fi
}

if answers; then echo "postgresql: answering on $HOST:$PORT"; exit 0; fi

if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    for cluster in $(ls "/etc/postgresql/$version"); do
      echo "postgresql: starting cluster $version/$cluster"
      pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || true
    done
  done
  for _ in $(seq 1 30); do
    if answers; then echo "postgresql: answering on $HOST:$PORT"; exit 0; fi
    sleep 1
  done
fi
echo "postgresql: none answers on $HOST:$PORT and none could be started" >&2
exit 1
