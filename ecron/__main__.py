"""``python -m ecron [--port 8083]``: a distributed cron node and its API."""

from common.web.server import run_service
from ecron.app import build_app
from ecron.constants import SERVICE

if __name__ == "__main__":
    run_service(SERVICE, build_app)
