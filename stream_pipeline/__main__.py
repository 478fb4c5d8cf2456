"""``python -m stream_pipeline [--port 8084]``: the stream pipeline API."""

from common.web.server import run_service
from stream_pipeline.app import build_app
from stream_pipeline.constants import SERVICE

if __name__ == "__main__":
    run_service(SERVICE, build_app)
