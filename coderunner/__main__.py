"""``python -m coderunner [--port 8082]``: the sandboxed code runner API."""

from coderunner.app import build_app
from coderunner.constants import SERVICE
from common.web.server import run_service

if __name__ == "__main__":
    run_service(SERVICE, build_app)
