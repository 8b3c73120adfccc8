# Sourced by scripts that need PostgreSQL: when KEYHAVEN_TEST_POSTGRES is unset, starts a
# throwaway cluster in a temporary directory (unix socket only, no TCP port), exports its URL
# and stops and removes it when the calling script exits.
if [ -z "${KEYHAVEN_TEST_POSTGRES:-}" ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "PostgreSQL server binaries not found: install them (apt-get install postgresql) or set KEYHAVEN_TEST_POSTGRES" >&2
    exit 1
  fi
  pg_dir=$(mktemp -d /tmp/keyhaven-pg.XXXXXX)
  as_pg() { "$@"; }
  if [ "$(id -u)" = 0 ]; then
    # The server refuses to run as root.
    chown postgres "$pg_dir"
    as_pg() { runuser -u postgres -- "$@"; }
  fi
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres --no-sync >"$pg_dir/initdb.log" 2>&1 ||
    { cat "$pg_dir/initdb.log" >&2; exit 1; }
  # A throwaway cluster for tests: durability is not wanted, speed and many connections are.
  # Benchmarks set KEYHAVEN_PG_DURABLE=1 to measure with every commit flushed, as in production.
  pg_opts="-k $pg_dir -c listen_addresses= -c max_connections=500"
  if [ "${KEYHAVEN_PG_DURABLE:-}" != 1 ]; then
    pg_opts="$pg_opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -o "$pg_opts" start >/dev/null ||
    { cat "$pg_dir/server.log" >&2; exit 1; }
  stop_postgres() {
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  }
  trap stop_postgres EXIT
  export KEYHAVEN_TEST_POSTGRES="postgres://postgres@/postgres?host=$pg_dir"
fi
