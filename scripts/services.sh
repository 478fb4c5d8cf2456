#!/usr/bin/env bash
# The Dataflow services as background processes, run from the repository root
# with the project's .venv:   services.sh start|stop|status
# Logs in <state>/logs/<name>.log, pids in <state>/run/<name>.pid.
source "$(dirname "$0")/lib.sh"

# One entry per process, NAME:MODULE:PORT, started with `python -m MODULE --port PORT`.
# The port can be moved with DATAFLOW_<MODULE>_PORT (the services read the same
# variable). flow_automation must come first: it is the token issuer, and
# `dataflow bootstrap` runs as soon as it answers. Processes without HTTP (executors,
# stream workers) leave the port empty; several replicas need distinct names:
#   "executor-1:flow_automation.executor:"
#   "stream-worker-1:stream_pipeline.worker:"
SERVICES=(
  "flow_automation:flow_automation:8081"
  "coderunner:coderunner:8082"
  "ecron:ecron:8083"
  "stream_pipeline:stream_pipeline:8084"
  "flow_web:flow_web:8080"
  "executor-1:flow_automation.executor:"
  "executor-2:flow_automation.executor:"
  "stream-worker-1:stream_pipeline.worker:"
  "stream-worker-2:stream_pipeline.worker:"
)
HEALTH_TIMEOUT=30

NAMES=()
MODULES=()
PORTS=()
for entry in "${SERVICES[@]}"; do
  IFS=: read -r name module port <<<"$entry"
  if [ -n "$port" ]; then
    variable="DATAFLOW_$(printf '%s' "${module//./_}" | tr '[:lower:]' '[:upper:]')_PORT"
    port="${!variable:-$port}"
    # Services find each other (and the issuer) where this script puts them.
    url_variable="${variable%_PORT}_URL"
    export "$url_variable=${!url_variable:-http://127.0.0.1:$port}"
    if [ "$module" = flow_automation ]; then
      export DATAFLOW_OAUTH_ISSUER="${DATAFLOW_OAUTH_ISSUER:-http://127.0.0.1:$port}"
    fi
  fi
  NAMES+=("$name")
  MODULES+=("$module")
  PORTS+=("$port")
done
unset entry name module port variable url_variable

pattern() { printf ' -m %s ' "$1"; }

# healthy PORT: GET /healthz answers 200.
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/healthz")" = 200 ]; }

LAUNCHED=()
LAUNCHED_AT=0

# launch INDEX: start one process unless it (or something healthy on its port) already runs.
launch() {
  local name="${NAMES[$1]}" module="${MODULES[$1]}" port="${PORTS[$1]}"
  if is_running "$name" "$(pattern "$module")"; then
    note "$name: already running${port:+ on http://127.0.0.1:$port} (pid $(pid_of "$name"))"
    return
  fi
  if [ -n "$port" ] && port_open "$port"; then
    healthy "$port" || die "$name: port $port is taken by something that does not answer GET /healthz; stop it first"
    note "$name: a service not started by this script already answers on http://127.0.0.1:$port; not starting another"
    return
  fi
  log "$name: starting${port:+ on 127.0.0.1:$port}"
  local args=(-m "$module")
  [ -z "$port" ] || args+=(--port "$port")
  start_daemon "$name" "$LOG_DIR/$name.log" "$VENV/bin/python" "${args[@]}"
  LAUNCHED+=("$1")
  LAUNCHED_AT=$SECONDS
}

# settle: wait until everything launch() started is up. A process with a port is up
# when GET /healthz answers 200; one without counts as up when it is still alive two
# seconds after its start.
settle() {
  local index name port workers=()
  for index in "${LAUNCHED[@]}"; do
    name="${NAMES[$index]}"
    port="${PORTS[$index]}"
    if [ -z "$port" ]; then
      workers+=("$index")
      continue
    fi
    wait_for "$name" "$HEALTH_TIMEOUT" "$LOG_DIR/$name.log" -- healthy "$port"
    note "$name: ready on http://127.0.0.1:$port (pid $(pid_of "$name"))"
  done
  [ "${#workers[@]}" -gt 0 ] || return 0
  [ $((SECONDS - LAUNCHED_AT)) -ge 2 ] || sleep 2
  for index in "${workers[@]}"; do
    name="${NAMES[$index]}"
    wait_for "$name" 0 "$LOG_DIR/$name.log" -- pid_alive "$(pid_of "$name")"
    note "$name: running (pid $(pid_of "$name"))"
  done
}

bootstrap() {
  [ -x "$VENV/bin/dataflow" ] || die "$VENV/bin/dataflow is missing: run scripts/python-env.sh"
  log "bootstrap: admin user and development client"
  local output
  if ! output="$(cd "$REPO_ROOT" && "$VENV/bin/dataflow" bootstrap 2>&1)"; then
    printf '%s\n' "$output" >&2
    die "dataflow bootstrap failed"
  fi
  [ -z "$output" ] || printf '%s\n' "$output" | sed 's/^/    /'
}

start() {
  need_venv
  need_command curl
  port_open 27017 || note "warning: nothing answers on 127.0.0.1:27017 (FerretDB); start the servers first: scripts/servers.sh start"
  local index
  # The issuer first, then the credentials, then everything else at once.
  LAUNCHED=()
  launch 0
  settle
  bootstrap
  LAUNCHED=()
  for ((index = 1; index < ${#NAMES[@]}; index++)); do launch "$index"; done
  settle
}

# All at once (each gets SIGTERM, then up to 20 s together before SIGKILL).
stop() {
  local index pairs=()
  for ((index = ${#NAMES[@]} - 1; index >= 0; index--)); do
    pairs+=("${NAMES[$index]}" "$(pattern "${MODULES[$index]}")")
  done
  stop_daemons "${pairs[@]}"
}

status() {
  local rc=0 index name port
  for ((index = 0; index < ${#NAMES[@]}; index++)); do
    name="${NAMES[$index]}"
    port="${PORTS[$index]}"
    if is_running "$name" "$(pattern "${MODULES[$index]}")"; then
      note "$name: running${port:+ on http://127.0.0.1:$port} (pid $(pid_of "$name"))"
    else
      note "$name: stopped"
      rc=3
    fi
  done
  return "$rc"
}

[ "$#" -eq 0 ] || [ "$1" = status ] || lock services

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
