#!/usr/bin/env bash
# The real servers the platform runs on: install | start | stop | status.
# install also prepares the Python environment and the Debian packages.
source "$(dirname "$0")/lib.sh"

HERE="$(dirname "$0")"
SERVERS=(ferretdb kafka postgres)

case "${1:-}" in
  install)
    bash "$HERE/system-packages.sh"
    bash "$HERE/python-env.sh"
    for server in "${SERVERS[@]}"; do bash "$HERE/$server.sh" install; done
    ;;
  start)
    bash "$HERE/system-packages.sh"
    bash "$HERE/python-env.sh"
    for server in "${SERVERS[@]}"; do bash "$HERE/$server.sh" start; done
    ;;
  stop)
    for server in "${SERVERS[@]}"; do bash "$HERE/$server.sh" stop; done
    ;;
  status)
    rc=0
    for server in "${SERVERS[@]}"; do bash "$HERE/$server.sh" status || rc=3; done
    exit "$rc"
    ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
