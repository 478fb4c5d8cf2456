#!/usr/bin/env bash
# FerretDB (the MongoDB wire protocol on SQLite) on 127.0.0.1:27017:
#   ferretdb.sh install|start|stop|status
#
# Built from the pinned release's Go module. `go install ...ferretdb@VERSION` does
# not work: the proxy refuses the version-list lookup `go install` makes, and the
# module zip lacks build/version/version.txt, without which the binary panics at
# start. So we download the module, add version.txt, and build it ourselves.
source "$(dirname "$0")/lib.sh"

FERRETDB_VERSION="v1.24.2"
GO_MIN_VERSION="1.24"

PORT="${DATAFLOW_FERRETDB_PORT:-27017}"
# SQLite's synchronous setting for FerretDB's databases (WAL mode). "normal" syncs the WAL at checkpoints,
# not at every commit: a write survives any process being killed, and only a power loss or OS crash can
# undo the last commits before the next checkpoint; the same promise as MongoDB's default write concern,
# whose journal is synced every 100 ms. An fsync per commit cost about 2.5 ms per write here (an insert
# took 3.2-4.5 ms with it, 1.0-1.4 ms without). "full" restores it.
SYNCHRONOUS="${DATAFLOW_FERRETDB_SYNCHRONOUS:-normal}"
DEBUG_PORT="${DATAFLOW_FERRETDB_DEBUG_PORT:-27018}"
BINARY="$BIN_DIR/ferretdb"
DATA_DIR="$STATE_DIR/ferretdb"
LOG="$LOG_DIR/ferretdb.log"

installed() { [ -x "$BINARY" ] && "$BINARY" --version 2>/dev/null | grep -qx "version: $FERRETDB_VERSION"; }

check_go() {
  need_command go "Go $GO_MIN_VERSION or newer is needed to build FerretDB: https://go.dev/doc/install"
  local version
  version="$(GOTOOLCHAIN=local go env GOVERSION)"
  version="${version#go}"
  if [ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "$version" | sort -V | head -n 1)" != "$GO_MIN_VERSION" ]; then
    die "FerretDB $FERRETDB_VERSION needs Go $GO_MIN_VERSION or newer; $(command -v go) is $version"
  fi
}

install() {
  if installed; then
    note "ferretdb: $FERRETDB_VERSION already built ($BINARY)"
    return
  fi
  check_go
  log "ferretdb: building $FERRETDB_VERSION (first time, one to two minutes)"
  local module_json module_dir build_dir="$STATE_DIR/build/ferretdb-src" build_log="$LOG_DIR/ferretdb-build.log"
  module_json="$(GOTOOLCHAIN=local go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" 2>"$build_log")" \
    || { cat "$build_log" >&2; printf '%s\n' "$module_json" >&2; die "could not download the FerretDB $FERRETDB_VERSION module"; }
  module_dir="$(printf '%s\n' "$module_json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  if [ -z "$module_dir" ] || [ ! -d "$module_dir" ]; then
    die "go mod download did not report the module directory"
  fi
  rm -rf "$build_dir"
  mkdir -p "$(dirname "$build_dir")"
  cp -R "$module_dir" "$build_dir"
  chmod -R u+w "$build_dir"
  printf '%s\n' "$FERRETDB_VERSION" >"$build_dir/build/version/version.txt"
  if ! (cd "$build_dir" && GOTOOLCHAIN=local go build -buildvcs=false -trimpath -o "$BINARY.new" ./cmd/ferretdb) >>"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    die "building FerretDB failed; the whole log is in $build_log"
  fi
  mv -f "$BINARY.new" "$BINARY"
  rm -rf "$build_dir"
  installed || die "the FerretDB build did not produce a working binary ($BINARY --version)"
  note "ferretdb: built $BINARY"
}

ping() { "$VENV/bin/python" "$REPO_ROOT/scripts/ping.py" mongo "127.0.0.1:$PORT"; }

start() {
  if is_running ferretdb "$BINARY"; then
    note "ferretdb: already running on 127.0.0.1:$PORT (pid $(pid_of ferretdb))"
    return
  fi
  need_venv
  if port_open "$PORT"; then
    ping 2>/dev/null || die "port $PORT is taken by something that does not answer as MongoDB; stop it first"
    note "ferretdb: a MongoDB server not started by this script already answers on 127.0.0.1:$PORT; using it"
    return
  fi
  if port_open "$DEBUG_PORT"; then
    die "FerretDB's debug port $DEBUG_PORT is taken; set DATAFLOW_FERRETDB_DEBUG_PORT to a free port"
  fi
  case "$SYNCHRONOUS" in
    off | normal | full | extra) ;;
    *) die "DATAFLOW_FERRETDB_SYNCHRONOUS must be off, normal, full or extra, not '$SYNCHRONOUS'" ;;
  esac
  install
  mkdir -p "$DATA_DIR"
  log "ferretdb: starting on 127.0.0.1:$PORT"
  start_daemon ferretdb "$LOG" env DO_NOT_TRACK=1 "$BINARY" \
    --handler=sqlite --sqlite-url="file:$DATA_DIR/?_pragma=synchronous($SYNCHRONOUS)" \
    --listen-addr="127.0.0.1:$PORT" --state-dir="$DATA_DIR" \
    --debug-addr="127.0.0.1:$DEBUG_PORT" --telemetry=disable --log-level=warn
  wait_for ferretdb 30 "$LOG" -- ping
  note "ferretdb: ready on 127.0.0.1:$PORT (pid $(pid_of ferretdb))"
}

status() {
  if is_running ferretdb "$BINARY"; then
    note "ferretdb: running on 127.0.0.1:$PORT (pid $(pid_of ferretdb))"
  else
    note "ferretdb: stopped"
    return 3
  fi
}

[ "$#" -eq 0 ] || [ "$1" = status ] || lock ferretdb

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_daemon ferretdb "$BINARY" ;;
  status) status ;;
  *)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac
