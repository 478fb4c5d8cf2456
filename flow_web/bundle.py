"""Serving the built front end (``flow_web/frontend/dist``, made by ``scripts/frontend.sh``).

The bundle is a single-page application: ``index.html`` plus content-hashed
files under ``assets/``. A hashed file never changes under its name, so it is
cached for a year (``immutable``); ``index.html`` is revalidated on every load
(``no-cache``), so a new build reaches the browser at once. Every path that
is not an asset, an API or a sign-in route answers ``index.html`` and the
browser's router draws the screen (``/flows/sales``, ``/auth/callback``).

When the bundle has not been built, every page says so, and how to build it,
instead of a bare 404.
"""

from __future__ import annotations

import html
import mimetypes
from pathlib import Path
from typing import Any

import tornado.web

from common.web import BaseHandler
from flow_web.constants import (
    ASSET_CACHE_CONTROL,
    ASSETS_PREFIX,
    INDEX_CACHE_CONTROL,
    OTHER_FILE_CACHE_CONTROL,
)

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dataflow: web UI not built</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:12vh auto;padding:0 1rem;color:#1d2433}}
code{{background:#eef1f5;padding:.1rem .3rem;border-radius:4px}}</style></head>
<body><h1>The web UI is not built yet</h1>
<p>flow_web serves the front end from <code>{bundle}</code>, which has no <code>index.html</code>.</p>
<p>Build it with <code>make install</code> (or <code>bash scripts/frontend.sh</code>), then reload this page.
It needs Node.js 20.19 or newer.</p>
<p>The APIs work meanwhile: <code>/api/&lt;service&gt;/...</code>, <code>/healthz</code>,
<code>/openapi.json</code>.</p>
</body></html>
"""


def not_built_page(bundle_dir: Path) -> str:
    return NOT_BUILT_PAGE.format(bundle=html.escape(str(bundle_dir)))


class AssetHandler(tornado.web.StaticFileHandler):
    """``/assets/<hashed name>``: long-cached, with ranges and ETags from StaticFileHandler; JSON 404s."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", ASSET_CACHE_CONTROL)
        self.set_header("X-Content-Type-Options", "nosniff")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        message = "No such file in the web UI bundle" if status_code == 404 else self._reason
        code = "not_found" if status_code == 404 else "invalid_argument"
        self.finish({"error": {"code": code, "message": message}})


class AppPageHandler(BaseHandler):
    """Everything else: a top-level file of the bundle if it exists, else ``index.html``."""

    def initialize(self, route_template: str = "unmatched", *, bundle_dir: Path, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(route_template, **kwargs)
        self.bundle_dir = bundle_dir

    async def get(self, path: str = "") -> None:
        await self._serve(path, include_body=True)

    async def head(self, path: str = "") -> None:
        await self._serve(path, include_body=False)

    async def _serve(self, path: str, *, include_body: bool) -> None:
        index = self.bundle_dir / "index.html"
        if not index.is_file():
            self.set_status(503)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(not_built_page(self.bundle_dir) if include_body else None)
            return
        target = self._top_level_file(path)
        if target is None and "." in path.rsplit("/", 1)[-1]:
            raise tornado.web.HTTPError(404, reason=f"No file {path!r} in the web UI bundle")
        file = target or index
        self.set_header("Content-Type", _content_type(file))
        self.set_header("Cache-Control", INDEX_CACHE_CONTROL if file == index else OTHER_FILE_CACHE_CONTROL)
        self.finish(file.read_bytes() if include_body else None)

    def _top_level_file(self, path: str) -> Path | None:
        if not path or "/" in path or path.startswith(".") or path.startswith(ASSETS_PREFIX):
            return None
        candidate = self.bundle_dir / path
        return candidate if candidate.is_file() else None


def _content_type(file: Path) -> str:
    guessed, _ = mimetypes.guess_type(file.name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") or guessed.endswith("javascript") else guessed
