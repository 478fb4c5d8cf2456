#!/usr/bin/env bash
# FerretDB (MongoDB wire protocol on SQLite) on 127.0.0.1:27017: install | start | stop | status.
#
# Built from the pinned release's module source. `go install ...@v1.24.2` does not
# work: the module zip lacks build/version/version.txt (the binary panics at start)
# and the install path asks the proxy for the version list. So we download the
# module, add version.txt, and build it.
source "$(dirname "$0")/lib.sh"

VERSION="v1.24.2"
PORT="${DATAFLOW_FERRETDB_PORT:-27017}"
DEBUG_PORT="${DATAFLOW_FERRETDB_DEBUG_PORT:-27018}"
BINARY="$BIN_DIR/ferretdb"
DATA_DIR="$STATE_DIR/ferretdb"
LOG="$LOG_DIR/ferretdb.log"

installed() { [ -x "$BINARY" ] && "$BINARY" --version 2>/dev/null | grep -q "version: $VERSION"; }

install() {
  if installed; then
    info "ferretdb: $VERSION already built"
    return
  fi
  command -v go >/dev/null || fail "Go is needed to build FerretDB (https://go.dev/doc/install)"
  step "ferretdb: building $VERSION from source (first time, about two minutes)"
  local module_dir build_dir="$STATE_DIR/build/ferretdb-src"
  module_dir="$(GOTOOLCHAIN=local go mod download -json "github.com/FerretDB/FerretDB@$VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$module_dir" ] && [ -d "$module_dir" ] || fail "could not download the FerretDB $VERSION module"
  rm -rf "$build_dir"
  mkdir -p "$(dirname "$build_dir")"
  cp -r "$module_dir" "$build_dir"
  chmod -R u+w "$build_dir"
  echo "$VERSION" >"$build_dir/build/version/version.txt"
  (cd "$build_dir" && GOTOOLCHAIN=local go build -buildvcs=false -trimpath -o "$BINARY" ./cmd/ferretdb)
  rm -rf "$build_dir"
  installed || fail "the FerretDB build did not produce a working binary"
  info "ferretdb: built $BINARY"
}

ping() { python_ready; "$VENV/bin/python" "$REPO_ROOT/scripts/ping.py" mongo "127.0.0.1:$PORT"; }

start() {
  if pid_alive ferretdb "$BINARY"; then
    info "ferretdb: already running on 127.0.0.1:$PORT (pid $(pid_of ferretdb))"
    return
  fi
  if port_open "$PORT"; then
    ping || fail "port $PORT is taken by something that is not a MongoDB server"
    info "ferretdb: a MongoDB server already answers on 127.0.0.1:$PORT; using it"
    return
  fi
  install
  mkdir -p "$DATA_DIR"
  step "ferretdb: starting on 127.0.0.1:$PORT"
  start_daemon ferretdb "$LOG" env DO_NOT_TRACK=1 "$BINARY" \
    --handler=sqlite --sqlite-url="file:$DATA_DIR/" \
    --listen-addr="127.0.0.1:$PORT" --state-dir="$DATA_DIR" \
    --debug-addr="127.0.0.1:$DEBUG_PORT" --telemetry=disable --log-level=warn
  wait_for ferretdb 30 "$LOG" ping
  info "ferretdb: ready on 127.0.0.1:$PORT (pid $(pid_of ferretdb))"
}

status() {
  if pid_alive ferretdb "$BINARY"; then
    info "ferretdb: running on 127.0.0.1:$PORT (pid $(pid_of ferretdb))"
  else
    info "ferretdb: stopped"
    return 3
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_pid ferretdb ferretdb ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
