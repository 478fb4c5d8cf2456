#!/usr/bin/env bash
# The real servers the platform runs on (FerretDB, Kafka, PostgreSQL):
#   servers.sh install|start|stop|status
# install (and start, which installs what is missing) also prepares the Debian
# packages and the Python environment; install also builds the web UI (frontend.sh).
source "$(dirname "$0")/lib.sh"

HERE="$REPO_ROOT/scripts"
SERVERS=(ferretdb kafka postgres)

prerequisites() {
  bash "$HERE/system-packages.sh"
  bash "$HERE/python-env.sh"
}

case "${1:-}" in
  install)
    prerequisites
    for server in "${SERVERS[@]}"; do bash "$HERE/$server.sh" install; done
    bash "$HERE/frontend.sh" build
    ;;
  start)
    prerequisites
    for server in "${SERVERS[@]}"; do bash "$HERE/$server.sh" start; done
    ;;
  stop)
    # Reverse order; keep going when one of them fails.
    rc=0
    for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do bash "$HERE/${SERVERS[$i]}.sh" stop || rc=1; done
    exit "$rc"
    ;;
  status)
    rc=0
    for server in "${SERVERS[@]}"; do bash "$HERE/$server.sh" status || rc=3; done
    exit "$rc"
    ;;
  *)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac
