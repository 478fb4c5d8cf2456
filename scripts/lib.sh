#!/usr/bin/env bash
# Shared helpers for the provisioning scripts: paths, progress lines, pid files,
# readiness waits. Sourced by the other scripts, never run on its own.

set -euo pipefail
# Background jobs must stay in our process group so that setsid keeps their pid.
set +m

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# State (binaries, data, logs, pid files) lives under DATAFLOW_STATE_DIR, default
# .dataflow in the repository. A relative path is taken relative to the repository,
# which is also the working directory of every process started from here.
STATE_DIR="${DATAFLOW_STATE_DIR:-.dataflow}"
case "$STATE_DIR" in
  /*) ;;
  *) STATE_DIR="$REPO_ROOT/$STATE_DIR" ;;
esac
mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd)"
BIN_DIR="$STATE_DIR/bin"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"
VENV="$REPO_ROOT/.venv"
mkdir -p "$BIN_DIR" "$LOG_DIR" "$RUN_DIR"

# Every process started from here sees the same absolute state directory.
export DATAFLOW_STATE_DIR="$STATE_DIR"
# Nothing we run may phone home.
export DO_NOT_TRACK=1

# ---------------------------------------------------------------------------
# Progress lines: `log` for a step, `note` for a detail or a result, `die` to stop.
#   ==> ferretdb: building v1.24.2 (first time, about a minute)
#       ferretdb: ready on 127.0.0.1:27017 (pid 1234)

log() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

need_command() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed. ${2:-}"
}

need_venv() {
  [ -x "$VENV/bin/python" ] || die "the Python environment .venv is missing: run scripts/python-env.sh (or make install)"
}

# ---------------------------------------------------------------------------
# Processes and pid files (run/NAME.pid).

pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# pid_of NAME: the pid recorded for NAME, or nothing.
pid_of() {
  local pid=""
  [ -f "$(pid_file "$1")" ] && pid="$(head -n 1 "$(pid_file "$1")" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && printf '%s' "$pid"
  return 0
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
  local stat
  [ -n "${1:-}" ] && stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat%% *}" != Z ]
}

# is_running NAME PATTERN: the pid in run/NAME.pid is alive AND its command line
# contains PATTERN (so a stale pid file whose pid was reused does not count).
is_running() {
  local pid cmdline
  pid="$(pid_of "$1")"
  pid_alive "$pid" || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$2"* ]]
}

# lock NAME: hold run/NAME.lock until this script exits, so that two scripts (a
# developer's and a test session's, say) never install, start or stop the same
# thing at the same time; the second one waits, then finds the work done.
lock() {
  need_command flock "(it comes with util-linux)"
  exec 9>"$RUN_DIR/$1.lock"
  flock -w 600 9 || die "another script has held $RUN_DIR/$1.lock for 10 minutes; is one stuck?"
}

# port_open PORT [HOST]: something accepts TCP connections there.
port_open() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c ': >"/dev/tcp/$1/$2"' _ "${2:-127.0.0.1}" "$1" 2>/dev/null
}

# start_daemon NAME LOGFILE COMMAND...: run COMMAND detached in its own session from
# the repository root, stdout and stderr to LOGFILE (the previous one is kept as
# LOGFILE.1), pid in run/NAME.pid.
start_daemon() {
  local name="$1" logfile="$2"
  shift 2
  if [ -s "$logfile" ]; then mv -f "$logfile" "$logfile.1"; fi
  : >"$logfile"
  # fd 9 is the lock (see lock): the daemon must not keep holding it.
  (cd "$REPO_ROOT" && exec setsid nohup "$@" >>"$logfile" 2>&1 </dev/null 9>&-) &
  echo "$!" >"$(pid_file "$name")"
}

# wait_for NAME SECONDS LOGFILE... -- COMMAND...: poll COMMAND until it succeeds.
# Gives up at the deadline, or at once when the process in run/NAME.pid dies; then
# prints the last 40 lines of each LOGFILE and exits non-zero.
wait_for() {
  local name="$1" seconds="$2"
  shift 2
  local logs=()
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
    logs+=("$1")
    shift
  done
  [ "$#" -gt 1 ] || die "wait_for: no command after --"
  shift
  local deadline=$((SECONDS + seconds)) pid problem=""
  pid="$(pid_of "$name")"
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! pid_alive "$pid"; then
      problem="exited during startup"
    elif [ "$SECONDS" -ge "$deadline" ]; then
      problem="did not answer within $seconds s"
    fi
    if [ -n "$problem" ]; then
      printf 'error: %s %s.\n' "$name" "$problem" >&2
      local logfile
      for logfile in "${logs[@]}"; do
        if [ -s "$logfile" ]; then
          printf -- '--- last 40 lines of %s\n' "$logfile" >&2
          tail -n 40 "$logfile" >&2
        else
          printf -- '--- %s is empty\n' "$logfile" >&2
        fi
      done
      exit 1
    fi
    sleep 0.5
  done
}

# stop_daemons NAME PATTERN [NAME PATTERN]...: SIGTERM to each running one at once,
# wait up to 20 s for all of them, then SIGKILL what is left. A process started by
# start_daemon leads its own process group, which goes with it (so no child is
# left behind). Removes the pid files.
STOP_TIMEOUT=20
stop_daemons() {
  local names=() pids=() name pid index
  while [ "$#" -ge 2 ]; do
    name="$1"
    if is_running "$name" "$2"; then
      pid="$(pid_of "$name")"
      log "$name: stopping (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      names+=("$name")
      pids+=("$pid")
    else
      rm -f "$(pid_file "$name")"
      note "$name: not running"
    fi
    shift 2
  done
  local deadline=$((SECONDS + STOP_TIMEOUT)) waiting=1
  while [ "$waiting" -eq 1 ] && [ "$SECONDS" -lt "$deadline" ]; do
    waiting=0
    for pid in "${pids[@]}"; do
      if pid_alive "$pid"; then
        waiting=1
        sleep 0.2
        break
      fi
    done
  done
  for index in "${!pids[@]}"; do
    name="${names[$index]}"
    pid="${pids[$index]}"
    if pid_alive "$pid"; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      note "$name: killed (still running after $STOP_TIMEOUT s)"
    else
      kill -KILL -- "-$pid" 2>/dev/null || true
      note "$name: stopped"
    fi
    rm -f "$(pid_file "$name")"
  done
}

stop_daemon() { stop_daemons "$1" "$2"; }
