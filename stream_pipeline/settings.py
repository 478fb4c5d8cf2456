"""Settings of the stream worker, read from ``DATAFLOW_STREAM_*`` variables.

They sit here rather than in :mod:`common.settings` because only the stream
worker reads them; the shared settings (Mongo URI, Kafka bootstrap) still come
from :func:`common.settings.get_settings`.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StreamSettings(BaseSettings):
    """Knobs of ``python -m stream_pipeline.worker``."""

    model_config = SettingsConfigDict(env_prefix="DATAFLOW_STREAM_", frozen=True, extra="ignore")

    reconcile_interval_s: float = Field(1.0, description="how often a worker re-reads the pipeline definitions")
    status_interval_s: float = Field(2.0, description="how often a worker writes its heartbeat and rates")
    session_timeout_ms: int = Field(10_000, description="a dead worker's partitions move after this long")
    heartbeat_interval_ms: int = Field(2_000, description="consumer-group heartbeat")
    sink_retry_max_s: float = Field(30.0, description="longest pause between two attempts at a failing sink")
    pipelines: str = Field("*", description="comma-separated glob patterns of the pipeline ids this worker runs")


@lru_cache(maxsize=1)
def get_stream_settings() -> StreamSettings:
    return StreamSettings()
