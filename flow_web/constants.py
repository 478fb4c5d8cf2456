"""Defaults of flow_web."""

from __future__ import annotations

from pathlib import Path

SERVICE = "flow_web"  # package name, metrics label and log field

STATIC_DIR = Path(__file__).parent / "static"  # the built front end (and the placeholder page)
