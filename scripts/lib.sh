#!/usr/bin/env bash
# Shared helpers for the provisioning scripts: paths, progress lines, pid files,
# readiness waits. Sourced, never run.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${DATAFLOW_STATE_DIR:-.dataflow}"
case "$STATE_DIR" in
  /*) ;;
  *) STATE_DIR="$REPO_ROOT/$STATE_DIR" ;;
esac
export STATE_DIR REPO_ROOT
BIN_DIR="$STATE_DIR/bin"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"
VENV="$REPO_ROOT/.venv"
mkdir -p "$BIN_DIR" "$LOG_DIR" "$RUN_DIR"

# Nothing we run may phone home.
export DO_NOT_TRACK=1

step() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# pid_alive NAME PATTERN: the pid in run/NAME.pid is alive and its command line matches PATTERN.
pid_alive() {
  local pidfile="$RUN_DIR/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile" 2>/dev/null)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

pid_of() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME SECONDS LOGFILE COMMAND...: poll COMMAND until it succeeds; on timeout show the log tail.
wait_for() {
  local name="$1" seconds="$2" logfile="$3"
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      printf 'error: %s did not become ready within %ss. Last lines of %s:\n' "$name" "$seconds" "$logfile" >&2
      tail -n 40 "$logfile" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
}

# stop_pid NAME LABEL: SIGTERM, wait up to 20 s, then SIGKILL; removes the pid file.
stop_pid() {
  local name="$1" label="$2" pid
  pid="$(pid_of "$name")"
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    info "$label: not running"
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    info "$label: killed (did not stop within 20 s)"
  else
    info "$label: stopped"
  fi
  rm -f "$RUN_DIR/$name.pid"
}

# start_daemon NAME LOGFILE COMMAND...: run COMMAND detached, output to LOGFILE, pid in run/NAME.pid.
start_daemon() {
  local name="$1" logfile="$2"
  shift 2
  : >"$logfile"
  setsid nohup "$@" >>"$logfile" 2>&1 < /dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

python_ready() { [ -x "$VENV/bin/python" ] || fail "the Python environment is missing: run scripts/python-env.sh (or make install)"; }
