#!/usr/bin/env bash
# PostgreSQL (Debian's server binaries) on 127.0.0.1:5432 for SQL data connections
# and tests: install | start | stop | status. Role and password `dataflow`, database `dataflow_test`.
source "$(dirname "$0")/lib.sh"

PORT=5432
DATA_DIR="$STATE_DIR/postgres/data"
SOCKET_DIR="$STATE_DIR/postgres/run"
LOG="$LOG_DIR/postgres.log"
URL="postgresql://dataflow:dataflow@127.0.0.1:$PORT/dataflow_test"

pg_bin() {
  local dir
  dir="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] || fail "PostgreSQL server binaries are missing: run scripts/system-packages.sh"
  echo "$dir"
}

# initdb and the server refuse to run as root: as root they run as the `postgres` user.
as_owner() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

install() {
  if [ -f "$DATA_DIR/PG_VERSION" ]; then
    info "postgres: cluster already initialised in $DATA_DIR"
    return
  fi
  local bin
  bin="$(pg_bin)"
  step "postgres: initialising a cluster in $DATA_DIR"
  mkdir -p "$DATA_DIR" "$SOCKET_DIR"
  if is_root; then
    id postgres >/dev/null 2>&1 || fail "the postgres system user is missing: reinstall Debian's postgresql package"
    chown -R postgres:postgres "$STATE_DIR/postgres"
  fi
  local pwfile
  pwfile="$(mktemp)"
  echo "postgres-local" >"$pwfile"
  chmod 644 "$pwfile"
  as_owner "$bin/initdb" -D "$DATA_DIR" --auth-local=trust --auth-host=scram-sha-256 \
    --username=postgres --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  cat >>"$DATA_DIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
  info "postgres: cluster ready"
}

ping() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

ensure_role_and_database() {
  local bin psql
  bin="$(pg_bin)"
  psql=(as_owner "$bin/psql" -h "$SOCKET_DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "select 1 from pg_roles where rolname = 'dataflow'")" != "1" ]; then
    "${psql[@]}" -c "create role dataflow login createdb password 'dataflow'"
  fi
  if [ "$("${psql[@]}" -c "select 1 from pg_database where datname = 'dataflow_test'")" != "1" ]; then
    "${psql[@]}" -c "create database dataflow_test owner dataflow"
  fi
}

start() {
  if pid_alive postgres "$DATA_DIR"; then
    info "postgres: already running on 127.0.0.1:$PORT (pid $(pid_of postgres))"
    return
  fi
  if port_open "$PORT"; then
    if psql "$URL" -qtAc "select 1" >/dev/null 2>&1; then
      info "postgres: a server with the dataflow role already answers on 127.0.0.1:$PORT; using it"
      return
    fi
    fail "port $PORT is taken by a server without the dataflow role; stop it or create role dataflow (password dataflow) and database dataflow_test"
  fi
  install
  local bin
  bin="$(pg_bin)"
  mkdir -p "$SOCKET_DIR"
  if is_root; then chown postgres:postgres "$SOCKET_DIR"; touch "$LOG"; chown postgres "$LOG"; fi
  step "postgres: starting on 127.0.0.1:$PORT"
  as_owner "$bin/pg_ctl" -D "$DATA_DIR" -l "$LOG" -w -t 30 start >/dev/null \
    || { tail -n 40 "$LOG" >&2; exit 1; }
  head -n 1 "$DATA_DIR/postmaster.pid" >"$RUN_DIR/postgres.pid"
  wait_for postgres 30 "$LOG" ping
  ensure_role_and_database
  info "postgres: ready on 127.0.0.1:$PORT (pid $(pid_of postgres)); tests use $URL"
}

stop() {
  if ! pid_alive postgres "$DATA_DIR"; then
    info "postgres: not running"
    rm -f "$RUN_DIR/postgres.pid"
    return
  fi
  as_owner "$(pg_bin)/pg_ctl" -D "$DATA_DIR" -m fast -w -t 20 stop >/dev/null || stop_pid postgres postgres
  rm -f "$RUN_DIR/postgres.pid"
  info "postgres: stopped"
}

status() {
  if pid_alive postgres "$DATA_DIR"; then
    info "postgres: running on 127.0.0.1:$PORT (pid $(pid_of postgres))"
  else
    info "postgres: stopped"
    return 3
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
