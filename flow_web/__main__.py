"""``python -m flow_web [--port 8080]``: the web UI."""

from common.web.server import run_service
from flow_web.app import build_app
from flow_web.constants import SERVICE

if __name__ == "__main__":
    run_service(SERVICE, build_app)
