"""Defaults of flow_web."""

from __future__ import annotations

from pathlib import Path

SERVICE = "flow_web"  # package name, metrics label and log field

BUNDLE_DIR = Path(__file__).parent / "frontend" / "dist"  # the built front end (scripts/frontend.sh)
ASSETS_PREFIX = "assets"  # Vite's folder of content-hashed files inside the bundle

ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"  # a hashed name changes with its content
INDEX_CACHE_CONTROL = "no-cache"  # index.html names the current assets: revalidate every time
OTHER_FILE_CACHE_CONTROL = "public, max-age=300"  # unhashed top-level files of the bundle

PROXIED_SERVICES = ("flow_automation", "coderunner", "ecron", "stream_pipeline")  # /api/<service>/...

PROXY_CONNECT_TIMEOUT_S = 5.0  # a service that does not accept a connection by then is down: 502
PROXY_READ_TIMEOUT_S = 330.0  # between two reads of a response; above coderunner's longest run
PROXY_WRITE_TIMEOUT_S = 60.0  # between two writes of a request body
PROXY_POOL_TIMEOUT_S = 10.0  # waiting for a free upstream connection
PROXY_MAX_CONNECTIONS = 1000  # upstream connections at once (each open event stream holds one)
PROXY_BODY_QUEUE_CHUNKS = 16  # request body chunks buffered between the browser and the service
