"""ecron's own settings, ``DATAFLOW_ECRON_*``, next to the shared ones in :mod:`common.settings`.

They live here rather than in common because only ecron reads them. The
service's client credentials for calls to other Dataflow services are the
shared ``DATAFLOW_SERVICE_CLIENT_ID`` / ``DATAFLOW_SERVICE_CLIENT_SECRET``.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EcronSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DATAFLOW_ECRON_", frozen=True, extra="ignore")

    lease_s: float = Field(5.0, gt=0.5, description="a node silent for this long loses its executions to others")
    heartbeat_s: float = Field(1.0, gt=0, description="how often a node renews its lease and looks at the others")
    lookahead_s: float = Field(
        2.5,
        ge=0,
        description="slots are claimed this long before they are due (a slow store then delays no slot); the half "
        "second puts the claims of whole-second slots between two fire instants, not on one",
    )
    changes_poll_s: float = Field(0.5, gt=0, description="how often a node reads the job change feed")
    rescue_window_s: float = Field(
        15.0, gt=0, description="how far back a node re-checks slots when membership changes"
    )
    max_in_flight: int = Field(2000, ge=1, description="actions one node runs at the same time")
    http_max_timeout_s: float = Field(300.0, gt=0)
    job_cache_size: int = Field(20_000, ge=100, description="job definitions a node keeps in memory")
    history_days: float = Field(30.0, gt=0, description="executions older than this are deleted")
    prune_interval_s: float = Field(
        3600.0, gt=0, description="how often one node deletes executions older than history_days"
    )
    shutdown_wait_s: float = Field(5.0, ge=0, description="how long a stopping node lets running actions finish")


@lru_cache(maxsize=1)
def get_ecron_settings() -> EcronSettings:
    return EcronSettings()
