#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster and its URL in
# FAPIAO_TEST_POSTGRES:
#
#   bash scripts/with-postgres.sh cargo test -p fapiao-proxy --test faults
#
# Installs the Debian package `postgresql` when it is missing, runs `initdb` in a
# temporary directory as the `postgres` OS user (PostgreSQL refuses to run as
# root), starts the server on loopback on a free port with its unix socket in the
# same directory and trust authentication, runs the command, then stops the
# server and removes the directory, whatever the command's outcome.
set -euo pipefail
say() { echo "with-postgres: $*" >&2; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin=$(pg_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  if command -v apt-get >/dev/null; then
    say "apt-get install postgresql"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
    bin=$(pg_bin)
  else
    say "please install PostgreSQL (initdb and pg_ctl)"; exit 1
  fi
fi

# As root, the cluster belongs to the `postgres` user (created by the package).
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
  as_pg=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/fapiao-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
# A non-default port; pg_ctl fails below if it happens to be taken.
port=${FAPIAO_TEST_PG_PORT:-$((20000 + RANDOM % 20000))}
# The server runs in its own directory: the postgres user may not be allowed to
# look at the caller's working directory.
pg() { (cd "$dir" && "${as_pg[@]}" "$@"); }
stop() {
  pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# A test cluster: loopback only, enough connections for several proxies.
pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c shared_buffers=64MB" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
export FAPIAO_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (FAPIAO_TEST_POSTGRES)"
set +e
"$@"
rc=$?
set -e
exit $rc
