# Sourced by .ci/run: install PostgreSQL if missing, start a throwaway server on loopback as the
# postgres user, create a database, and export IVR_TEST_POSTGRES_URL for the journey store tests.
# Stops the server when the sourcing shell exits.

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
fi
IVR_PG_BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)")"
if [ ! -x "$IVR_PG_BIN/pg_ctl" ]; then
  IVR_PG_BIN="$(dirname "$(command -v pg_ctl)")"
fi

# The server refuses to run as root: run it as the postgres user (created by the package).
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  ivr_pg_as() { runuser -u postgres -- "$@"; }
else
  ivr_pg_as() { "$@"; }
fi

IVR_PG_DIR="$(mktemp -d /tmp/ivr-postgres.XXXXXX)"
chmod 755 "$IVR_PG_DIR"
[ "$(id -u)" = 0 ] && chown postgres "$IVR_PG_DIR"
IVR_PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ivr_pg_as "$IVR_PG_BIN/initdb" --pgdata "$IVR_PG_DIR/data" --auth trust --username postgres \
  --encoding UTF8 --no-locale >"$IVR_PG_DIR/initdb.log"
ivr_pg_as "$IVR_PG_BIN/pg_ctl" --pgdata "$IVR_PG_DIR/data" --log "$IVR_PG_DIR/server.log" --wait \
  --options "-c listen_addresses=127.0.0.1 -p $IVR_PG_PORT -k $IVR_PG_DIR -c fsync=off" start >/dev/null
ivr_pg_stop() {
  ivr_pg_as "$IVR_PG_BIN/pg_ctl" --pgdata "$IVR_PG_DIR/data" --mode fast stop >/dev/null || true
  rm -rf "$IVR_PG_DIR"
}
# Keep whatever EXIT trap .ci/run already had, and stop the server too.
ivr_pg_prev_trap="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT\$/\1/")"
trap "ivr_pg_stop; ${ivr_pg_prev_trap:-:}" EXIT
ivr_pg_as "$IVR_PG_BIN/createdb" --host 127.0.0.1 --port "$IVR_PG_PORT" --username postgres ivr_test

export IVR_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$IVR_PG_PORT/ivr_test"
echo "PostgreSQL for the tests: $IVR_TEST_POSTGRES_URL"
