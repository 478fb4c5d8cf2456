"""Configuration by environment, one prefix: ``DATAFLOW_``.

Every knob of every service is a field here, so ``DATAFLOW_MONGO_URI`` or
``DATAFLOW_CODERUNNER_PORT`` are documented in one place and no module reads
``os.environ`` itself. Values are read once per process (:func:`get_settings`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All configuration, read from ``DATAFLOW_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DATAFLOW_", frozen=True, extra="ignore")

    # Servers underneath.
    mongo_uri: str = "mongodb://127.0.0.1:27017/dataflow"
    mongo_timeout_ms: int = Field(3000, description="server selection and connect timeout")
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_timeout_ms: int = 5000

    # Where each service listens; several replicas on one machine take --port.
    bind_address: str = "127.0.0.1"
    flow_automation_port: int = 8081
    coderunner_port: int = 8082
    ecron_port: int = 8083
    stream_pipeline_port: int = 8084
    flow_web_port: int = 8080

    # Service-to-service base URLs.
    flow_automation_url: str = "http://127.0.0.1:8081"
    coderunner_url: str = "http://127.0.0.1:8082"
    ecron_url: str = "http://127.0.0.1:8083"
    stream_pipeline_url: str = "http://127.0.0.1:8084"

    # OAuth2: who issues tokens and for whom they are meant.
    oauth_issuer: str = "http://127.0.0.1:8081"
    oauth_audience: str = "dataflow"
    oauth_jwks_url: str | None = Field(None, description="defaults to <issuer>/oauth2/jwks")
    oauth_jwks_cache_s: int = 300
    oauth_jwks_min_refresh_s: float = Field(5.0, description="at most one refetch per interval on unknown kid")
    oauth_leeway_s: int = Field(30, description="clock skew tolerated on exp and nbf")
    oauth_token_lifetime_s: int = 3600
    oauth_key_rotation_days: int = Field(30, description="a new signing key after this many days")
    service_client_id: str | None = Field(None, description="client id a service uses to call others")
    service_client_secret: str | None = None

    # OAuth2 browser sign-in (authorization code with PKCE, refresh tokens) for the web UI.
    web_redirect_uris: str = Field(
        "http://127.0.0.1:8080/auth/callback,http://localhost:8080/auth/callback",
        description="comma-separated redirect URIs of the first-party web client 'flow-web'",
    )
    oauth_code_lifetime_s: int = Field(60, gt=0, description="an authorization code must be exchanged within this")
    oauth_refresh_token_lifetime_s: int = Field(
        14 * 24 * 3600, gt=0, description="a refresh token unused for this long expires (each refresh rotates it)"
    )
    oauth_login_max_failures: int = Field(
        10, ge=1, description="failed sign-ins per username and client address per window before a 429"
    )
    oauth_login_max_account_failures: int = Field(
        50, ge=1, description="failed sign-ins per username from any address per window before a 429"
    )
    oauth_login_failure_window_s: int = Field(60, gt=0, description="the window of the sign-in failure limits")

    # HTTP behaviour.
    max_body_bytes: int = Field(10 * 1024 * 1024, description="larger request bodies get 413")
    shutdown_grace_s: float = 10.0

    # Local state and secrets.
    state_dir: Path = Path(".dataflow")
    secret_key: str | None = Field(
        None,
        description="Fernet key(s) for secrets at rest; comma-separated to rotate (the first encrypts); "
        "unset: <state_dir>/secret.key",
    )

    # coderunner: the sandbox worker pool and its limits.
    coderunner_workers: int = Field(0, description="sandbox worker processes; 0 means one per CPU (at least 2)")
    coderunner_max_runs_per_worker: int = Field(10_000, description="a worker is replaced after this many runs")
    coderunner_worker_max_rss_mb: int = Field(1024, description="a worker whose memory grew past this is replaced")
    coderunner_default_timeout_s: float = 10.0
    coderunner_max_timeout_s: float = 120.0
    coderunner_default_memory_mb: int = 512
    coderunner_max_memory_mb: int = 4096
    coderunner_max_output_bytes: int = Field(1024 * 1024, description="captured print output per run")
    coderunner_max_code_bytes: int = 512 * 1024
    coderunner_pip_index_url: str | None = Field(None, description="index for sandbox packages (pip --index-url)")
    coderunner_pip_find_links: str | None = Field(None, description="a directory or URL of wheels (pip --find-links)")
    coderunner_pip_no_index: bool = Field(False, description="install only from find_links")
    coderunner_pip_timeout_s: float = 600.0
    coderunner_queue_timeout_s: float = Field(30.0, description="wait for a free worker before answering 503")

    # flow_automation: executors, outputs, run events.
    executor_concurrency: int = Field(8, ge=1, description="tasks one executor process runs at once")
    executor_lease_s: float = Field(30.0, gt=0, description="a task whose executor stops heartbeating is reclaimed")
    executor_poll_s: float = Field(0.25, gt=0, description="longest wait between claims when no task is ready")
    flow_inline_output_bytes: int = Field(256 * 1024, description="larger task outputs go to the artifact store")
    artifacts_uri: str | None = Field(
        None, description="artifact store (a path or s3://...); default <state>/artifacts"
    )
    flow_events_partitions: int = Field(3, ge=1, description="partitions of dataflow.flow-events when created")

    log_level: str = "INFO"
    log_format: str = Field("json", description="json or text")

    def service_port(self, service: str) -> int:
        """The configured port of ``service`` (a package name such as ``coderunner``)."""
        return int(getattr(self, f"{service}_port"))

    @property
    def jwks_url(self) -> str:
        return self.oauth_jwks_url or f"{self.oauth_issuer.rstrip('/')}/oauth2/jwks"

    @property
    def credentials_path(self) -> Path:
        return self.state_dir / "credentials.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read from the environment once)."""
    return Settings()
