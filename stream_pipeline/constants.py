"""Collection names and defaults of stream_pipeline."""

from __future__ import annotations

SERVICE = "stream_pipeline"  # package name, metrics label and log field

PIPELINES_COLLECTION = "stream_pipelines"  # pipeline definitions
