#!/usr/bin/env bash
# PostgreSQL (Debian's server binaries, a private cluster under the state dir) on
# 127.0.0.1:5432 for SQL data connections and the tests:
#   postgres.sh install|start|stop|status
# Role `dataflow` with password `dataflow` (LOGIN, CREATEDB) owns database `dataflow_test`:
#   postgresql://dataflow:dataflow@127.0.0.1:5432/dataflow_test
source "$(dirname "$0")/lib.sh"

PORT="${DATAFLOW_POSTGRES_PORT:-5432}"
CLUSTER_DIR="$STATE_DIR/postgres"
DATA_DIR="$CLUSTER_DIR/data"
SOCKET_DIR="$CLUSTER_DIR/run"
LOG="$LOG_DIR/postgres.log"
URL="postgresql://dataflow:dataflow@127.0.0.1:$PORT/dataflow_test"

# The server binaries: those of the cluster's version once it exists, else the newest installed.
pg_bin() {
  local dir=""
  if [ -f "$DATA_DIR/PG_VERSION" ]; then
    dir="/usr/lib/postgresql/$(cat "$DATA_DIR/PG_VERSION")/bin"
    [ -x "$dir/postgres" ] || die "the cluster in $DATA_DIR is PostgreSQL $(cat "$DATA_DIR/PG_VERSION") but $dir is missing"
  else
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$dir" ] || die "the PostgreSQL server is not installed: run scripts/system-packages.sh"
  fi
  printf '%s' "$dir"
}

# initdb and postgres refuse to run as root: as root they run as the `postgres` user.
as_owner() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

install() {
  if [ -f "$DATA_DIR/PG_VERSION" ]; then
    note "postgres: cluster $(cat "$DATA_DIR/PG_VERSION") already initialised in $DATA_DIR"
    return
  fi
  local bin
  bin="$(pg_bin)"
  log "postgres: initialising a cluster in $DATA_DIR"
  mkdir -p "$DATA_DIR" "$SOCKET_DIR"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "the postgres system user is missing: reinstall Debian's postgresql package"
    chown -R postgres:postgres "$CLUSTER_DIR"
    runuser -u postgres -- test -w "$DATA_DIR" \
      || die "the postgres user cannot reach $DATA_DIR (a parent directory is private?); set DATAFLOW_STATE_DIR to a path it can reach"
  fi
  chmod 700 "$DATA_DIR" "$SOCKET_DIR"
  # The superuser gets a random password nobody needs: administration goes through
  # the private unix socket, everything else uses the dataflow role over TCP.
  local pwfile="$CLUSTER_DIR/.initdb-password"
  (umask 077 && head -c 32 /dev/urandom | base64 >"$pwfile")
  is_root && chown postgres:postgres "$pwfile"
  local init_log="$LOG_DIR/postgres-initdb.log"
  if ! as_owner "$bin/initdb" -D "$DATA_DIR" --username=postgres --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$init_log" 2>&1; then
    rm -f "$pwfile"
    tail -n 30 "$init_log" >&2
    die "initdb failed; the whole log is in $init_log"
  fi
  rm -f "$pwfile"
  # A disposable development and test cluster: durability is traded for speed.
  cat >>"$DATA_DIR/postgresql.conf" <<CONF

# --- added by scripts/postgres.sh ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  note "postgres: cluster initialised"
}

ping() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

# psql as the superuser over the private unix socket.
admin_psql() { as_owner "$(pg_bin)/psql" -h "$SOCKET_DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtAX "$@"; }

ensure_role_and_database() {
  if [ "$(admin_psql -c "select 1 from pg_roles where rolname = 'dataflow'")" != "1" ]; then
    admin_psql -c "create role dataflow login createdb password 'dataflow'"
    note "postgres: created role dataflow"
  fi
  if [ "$(admin_psql -c "select 1 from pg_database where datname = 'dataflow_test'")" != "1" ]; then
    admin_psql -c "create database dataflow_test owner dataflow"
    note "postgres: created database dataflow_test"
  fi
}

start() {
  if is_running postgres "$DATA_DIR"; then
    note "postgres: already running on 127.0.0.1:$PORT (pid $(pid_of postgres))"
    return
  fi
  if port_open "$PORT"; then
    if timeout 10 env PGCONNECT_TIMEOUT=5 "$(pg_bin)/psql" "$URL" -qtAXc "select 1" >/dev/null 2>&1; then
      note "postgres: a server not started by this script already answers on 127.0.0.1:$PORT with the dataflow role; using it"
      return
    fi
    die "port $PORT is taken by a server without the dataflow role; stop it first (or create role dataflow, password dataflow, and database dataflow_test in it)"
  fi
  install
  local bin
  bin="$(pg_bin)"
  mkdir -p "$SOCKET_DIR"
  [ -s "$LOG" ] && mv -f "$LOG" "$LOG.1"
  : >"$LOG"
  if is_root; then chown postgres:postgres "$SOCKET_DIR" "$LOG"; fi
  log "postgres: starting on 127.0.0.1:$PORT"
  rm -f "$(pid_file postgres)"
  # pg_ctl's own wait is bounded; its failure is reported like wait_for's.
  if ! as_owner "$bin/pg_ctl" -D "$DATA_DIR" -l "$LOG" -o "-p $PORT" -w -t 30 start >/dev/null 2>&1 9>&-; then
    printf 'error: postgres did not start within 30 s.\n--- last 40 lines of %s\n' "$LOG" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
  head -n 1 "$DATA_DIR/postmaster.pid" >"$(pid_file postgres)"
  wait_for postgres 30 "$LOG" -- ping
  ensure_role_and_database
  note "postgres: ready on 127.0.0.1:$PORT (pid $(pid_of postgres)); tests use $URL"
}

# pg_ctl's fast shutdown (SIGINT: disconnect clients, checkpoint) for up to 20 s,
# then an immediate one (SIGQUIT), then SIGKILL.
stop() {
  if ! is_running postgres "$DATA_DIR"; then
    rm -f "$(pid_file postgres)"
    note "postgres: not running"
    return
  fi
  local pid bin
  pid="$(pid_of postgres)"
  bin="$(pg_bin)"
  log "postgres: stopping (pid $pid)"
  if as_owner "$bin/pg_ctl" -D "$DATA_DIR" -m fast -w -t 20 stop >/dev/null 2>&1; then
    note "postgres: stopped"
  elif as_owner "$bin/pg_ctl" -D "$DATA_DIR" -m immediate -w -t 10 stop >/dev/null 2>&1; then
    note "postgres: stopped (immediate shutdown after 20 s)"
  else
    kill -KILL "$pid" 2>/dev/null || true
    note "postgres: killed"
  fi
  rm -f "$(pid_file postgres)"
}

status() {
  if is_running postgres "$DATA_DIR"; then
    note "postgres: running on 127.0.0.1:$PORT (pid $(pid_of postgres))"
  else
    note "postgres: stopped"
    return 3
  fi
}

[ "$#" -eq 0 ] || [ "$1" = status ] || lock postgres

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac
