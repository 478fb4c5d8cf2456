#!/usr/bin/env bash
# The Dataflow services as background processes: start | stop | status.
# Logs in .dataflow/logs/<name>.log, pids in .dataflow/run/<name>.pid.
source "$(dirname "$0")/lib.sh"

# name:module:port (port empty for workers without HTTP). flow_automation comes first:
# it is the token issuer the others validate against.
SERVICES=(
  "flow_automation:flow_automation:8081"
  "coderunner:coderunner:8082"
  "ecron:ecron:8083"
  "stream_pipeline:stream_pipeline:8084"
  "flow_web:flow_web:8080"
)

healthy() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/healthz"; }

start_one() {
  local name="$1" module="$2" port="$3"
  if pid_alive "$name" "-m $module"; then
    info "$name: already running (pid $(pid_of "$name"))"
    return
  fi
  if [ -n "$port" ] && port_open "$port"; then
    fail "$name: port $port is already in use by another process"
  fi
  step "$name: starting${port:+ on 127.0.0.1:$port}"
  local args=(-m "$module")
  [ -n "$port" ] && args+=(--port "$port")
  (cd "$REPO_ROOT" && start_daemon "$name" "$LOG_DIR/$name.log" "$VENV/bin/python" "${args[@]}")
  if [ -n "$port" ]; then
    wait_for "$name" 30 "$LOG_DIR/$name.log" healthy "$port"
    info "$name: up at http://127.0.0.1:$port (pid $(pid_of "$name"))"
  fi
}

start() {
  python_ready
  local entry name module port
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name module port <<<"$entry"
    start_one "$name" "$module" "$port"
    if [ "$name" = flow_automation ]; then
      # Wait until the issuer can sign tokens, then create the admin user and the development client.
      wait_for "flow_automation (ready)" 60 "$LOG_DIR/$name.log" \
        curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz"
      (cd "$REPO_ROOT" && "$VENV/bin/dataflow" bootstrap | sed 's/^/    /')
    fi
  done
}

stop() {
  local index entry name module port
  for ((index = ${#SERVICES[@]} - 1; index >= 0; index--)); do
    IFS=: read -r name module port <<<"${SERVICES[$index]}"
    stop_pid "$name" "$name"
  done
}

status() {
  local rc=0 entry name module port
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name module port <<<"$entry"
    if pid_alive "$name" "-m $module"; then
      info "$name: running${port:+ on http://127.0.0.1:$port} (pid $(pid_of "$name"))"
    else
      info "$name: stopped"
      rc=3
    fi
  done
  return "$rc"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
