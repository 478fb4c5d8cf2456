"""``python -m flow_automation [--port 8081]``: the orchestrator API and authorization server."""

from common.web.server import run_service
from flow_automation.app import build_app
from flow_automation.constants import SERVICE

if __name__ == "__main__":
    run_service(SERVICE, build_app)
