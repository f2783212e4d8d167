"""Every setting graphgate reads, in one place.

Values come from ``GRAPHGATE_*`` environment variables or a ``.env`` file in the working directory.
docs/configuration.md documents each of them; keep the two in step.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRAPHGATE_", env_file=".env", extra="ignore")

    # --- where things live -------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = None  # Celery broker; defaults to redis_url
    data_dir: Path = Path(".graphgate")  # SQLite checkpoints, the dev secret, a private Redis
    config: Path | None = None  # langgraph.json; defaults to ./langgraph.json, else the bundled examples
    default_graph: str | None = None  # graph used when a request names none; defaults to the first registered
    checkpointer_url: str | None = None  # postgresql://... for many machines; SQLite file in data_dir otherwise
    key_prefix: str = "gg"  # prefix of every Redis key and of the Celery queue name

    # --- HTTP -----------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # how clients reach the API; used in events_url links
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 1_048_576
    sse_ping_seconds: float = 15.0

    # --- auth ------------------------------------------------------------------------------------
    jwt_secret: str | None = None  # HS256 shared secret; generated into data_dir for development when unset
    jwt_public_key: str | None = None  # PEM public key (RS256/ES256); takes precedence over jwt_secret
    jwt_algorithms: list[str] = Field(default_factory=list)  # defaults: ["HS256"] or ["RS256", "ES256"]
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    secret_key: str | None = None  # signs session-scoped SSE tokens; generated into data_dir when unset
    stream_token_ttl_seconds: int = 600

    # --- tasks and events ------------------------------------------------------------------------
    stream_maxlen: int = 10_000  # approximate cap on entries kept per session stream
    session_ttl_seconds: int = 7 * 24 * 3600  # a session's Redis keys expire this long after its last write
    delivery_shards: int = 8  # chat delivery streams; one dispatcher owns a shard at a time
    delivery_maxlen: int = 1_000_000  # approximate cap per delivery shard stream
    task_max_retries: int = 2
    task_retry_backoff_seconds: float = 1.0
    task_soft_time_limit: float = 600.0
    task_time_limit: float = 660.0
    task_lease_seconds: float = 15.0  # a run's ownership lease, renewed while the run is alive

    # --- processes --------------------------------------------------------------------------------
    worker_concurrency: int = 2
    worker_pool: Literal["prefork", "threads", "solo"] = "prefork"
    log_level: str = "INFO"

    @property
    def broker(self) -> str:
        return self.broker_url or self.redis_url

    @property
    def queue_name(self) -> str:
        return f"{self.key_prefix}.runs"

    def resolved_jwt_secret(self) -> str:
        """The HS256 bearer-token secret: the configured one, else a development one kept in data_dir."""
        return self.jwt_secret or self._generated_secret("jwt-secret")

    def resolved_secret_key(self) -> str:
        """The gateway's own signing key (session-scoped SSE tokens); set it alike on every API replica."""
        return self.secret_key or self._generated_secret("secret-key")

    def _generated_secret(self, name: str) -> str:
        path = self.data_dir / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{name}.{secrets.token_hex(4)}.tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.replace(path)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
