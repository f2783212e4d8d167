"""Every setting graphgate reads, in one place.

Values come from ``GRAPHGATE_*`` environment variables or a ``.env`` file in the working directory.
docs/configuration.md documents each of them; keep the two in step.
"""

from __future__ import annotations

import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRAPHGATE_", env_file=".env", extra="ignore")

    # --- where things live -------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis Sentinel (graphgate/core/connections.py): "host:port,host:port"; the data Redis's db and password
    # still come from redis_url. Empty: redis_url is the Redis
    redis_sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_sentinel_master: str = "mymaster"
    redis_sentinel_password: str | None = None  # the sentinels' own password (requirepass in sentinel.conf)
    # redis_url is a node of a Redis Cluster: keys are laid out by slot group (graphgate/core/keys.py), the broker
    # must be another server (broker_url), and delivery_shards is the number of slot groups, fixed for the data
    redis_cluster: bool = False
    # more nodes to start from beside redis_url's ("host:port,host:port"): a process that starts, or opens a
    # client, while redis_url's node is down finds the cluster through them
    redis_cluster_nodes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # SSE clients get an event only once a replica holds it (a failover cannot take back what they saw);
    # None: on with Sentinel, off with one Redis URL
    sse_wait_for_replica: bool | None = None
    broker_url: str | None = None  # Celery broker; defaults to redis_url (through its sentinels when set)
    data_dir: Path = Path(".graphgate")  # SQLite checkpoints, the dev secret, a private Redis
    config: Path | None = None  # langgraph.json; defaults to ./langgraph.json, else the bundled examples
    default_graph: str | None = None  # graph used when a request names none; defaults to the first registered
    checkpointer_url: str | None = None  # postgresql://... for many machines; SQLite file in data_dir otherwise
    key_prefix: str = "gg"  # prefix of every Redis key and of the Celery queue name
    redis_max_connections: int = 200  # per API process; more clients wait for a free connection

    # --- HTTP -----------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # how clients reach the API; used in events_url links
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 1_048_576
    sse_ping_seconds: float = 15.0
    tls_certfile: Path | None = None  # serve HTTPS with this certificate chain (PEM); see graphgate/cli/tls.py
    tls_keyfile: Path | None = None  # ... and this private key

    # --- auth ------------------------------------------------------------------------------------
    jwt_secret: str | None = None  # HS256 shared secret; generated into data_dir for development when unset
    jwt_public_key: str | None = None  # PEM public key (RS256/ES256); takes precedence over jwt_secret
    jwt_algorithms: list[str] = Field(default_factory=list)  # defaults: ["HS256"] or ["RS256", "ES256"]
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    secret_key: str | None = None  # signs session-scoped SSE tokens; generated into data_dir when unset
    stream_token_ttl_seconds: int = 600
    dev_login: bool = False  # POST /api/v1/dev/token mints a bearer token for any name: development only

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
    # when LangGraph writes a run's checkpoints: 'sync' (each before the next step starts; the default: the most
    # durable, and the cheapest here, as no thread is started per run), 'async' (in a background thread, while the
    # next step runs), 'exit' (only when the run stops: a crash restarts the run from its start)
    durability: Literal["sync", "async", "exit"] = "sync"
    # run webhooks (the LangGraph API's ``webhook``): may they point at loopback or private addresses (off: a
    # caller could make the workers reach internal services), and the secret that signs each POST
    webhook_allow_private: bool = False
    webhook_secret: str | None = None  # X-Graphgate-Signature: t=<unix>,v1=HMAC(secret, "<t>.<body>") when set
    webhook_timeout_seconds: float = 10.0
    graph_webhooks: dict[str, str] = Field(default_factory=dict)  # {"writer": "https://…"}: a graph's default webhook
    # a message whose worker vanished comes back to the queue after this long; None: task_time_limit + 60 s
    # (at least 120 s). Keep it above the longest run: a run outliving it is delivered again (harmless but idle)
    broker_visibility_timeout: int | None = None
    # a run published this long ago that no worker has picked up while the run queues are empty lost its
    # message (a failover, a broker restart): the dispatchers publish it again (TaskService.republish)
    republish_after_seconds: float = 60.0
    rate_limit_per_minute: int = 600  # task creates, resumes and cancels per principal per minute; 0: off

    # --- files people send (graphgate/core/attachments.py, docs/files.md) --------------------------------
    attachments_dir: Path | None = None  # where their bytes are kept; None: <data_dir>/attachments
    attachments_s3_bucket: str | None = None  # keep them in this S3 (or S3-compatible) bucket instead
    attachments_s3_endpoint: str | None = None  # an S3-compatible store's URL (MinIO, Ceph, R2…); None: AWS
    attachments_s3_region: str | None = None
    attachments_s3_prefix: str = "graphgate/attachments/"  # key prefix inside the bucket
    attachment_max_bytes: int = 20 * 1_048_576  # per file (Telegram's bots download at most 20 MB)
    attachments_per_message: int = 10
    # the types a graph gets inline (base64) rather than by URL: models that cannot fetch a URL need it (OpenAI's
    # Chat Completions takes PDFs and audio only so); ["*/*"] when the model provider cannot reach the gateway
    attachments_inline: list[str] = Field(default_factory=lambda: ["application/*", "text/*", "audio/*"])
    attachment_types: list[str] = Field(
        default_factory=lambda: [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "text/plain",
            "text/markdown",
            "text/csv",
            "application/json",
            "audio/*",
        ]
    )

    # --- processes --------------------------------------------------------------------------------
    worker_concurrency: int = 2
    # Celery task events cost ~1.1 ms of worker CPU per run (docs/performance.md); Flower turns them on while it runs
    celery_task_events: bool = False
    worker_pool: Literal["prefork", "threads", "solo"] = "prefork"
    log_level: str = "INFO"
    # runs of these graphs travel on '<prefix>.runs.<name>', e.g. {"writer": "long"}; see docs/scaling.md
    graph_queues: dict[str, str] = Field(default_factory=dict)
    metrics_task_scan_limit: int = 50_000  # /metrics counts tasks by state scanning at most this many keys; 0: off

    # --- Slack (docs/slack.md) --------------------------------------------------------------------
    slack_bot_token: str | None = None  # xoxb-...: one workspace; without it, OAuth installs (client id/secret)
    slack_signing_secret: str | None = None  # verifies Slack's requests; /slack/* is mounted only when set
    slack_app_token: str | None = None  # xapp-...: Socket Mode (`graphgate slack --socket`)
    slack_api_url: str = "https://slack.com/api/"  # Web API base URL (tests point it at a fake server)
    slack_commands: dict[str, object] = Field(default_factory=dict)  # {"/ask": "writer"}; {} = /ask -> default
    slack_client_id: str | None = None  # OAuth install (multi-workspace), with slack_client_secret
    slack_client_secret: str | None = None
    slack_scopes: list[str] = Field(
        default_factory=lambda: [
            "app_mentions:read",
            "channels:history",
            "chat:write",
            "commands",
            "files:read",
            "groups:history",
            "im:history",
            "mpim:history",
            "usergroups:read",
        ]
    )
    slack_installation_db: str | None = None  # SQLAlchemy URL or SQLite path; default data_dir/slack-installations.db
    slack_task_mode: str = "interactive"  # mode of tasks started from Slack: graphs may ask their questions
    slack_mention_graph: str | None = None  # graph for mentions and DMs; default: the first command's graph
    slack_streaming: bool = True  # stream answers with chat.startStream where the workspace allows it

    # --- Telegram (docs/telegram.md) --------------------------------------------------------------
    telegram_bot_token: str | None = None  # from BotFather; /telegram/webhook is mounted only when set
    telegram_webhook_secret: str | None = None  # X-Telegram-Bot-Api-Secret-Token the webhook requires
    telegram_api_url: str = "https://api.telegram.org"  # Bot API base URL (a local Bot API server, a test fake)
    telegram_commands: dict[str, object] = Field(default_factory=dict)  # {"ask": "writer"}; {} = /ask -> default
    telegram_task_mode: str = "interactive"  # mode of tasks started from Telegram: graphs may ask their questions
    telegram_drafts: bool = True  # stream answers in private chats with sendMessageDraft (else edited messages)

    # --- chat delivery (docs/dispatcher.md) -------------------------------------------------------
    dispatcher_lease_seconds: float = 15.0  # a shard's ownership lease; a dead dispatcher's shards move after it
    dispatcher_channel_interval: float = 1.0  # seconds between two calls into one chat channel
    dispatcher_crash_after_post: str | None = None  # FAULT INJECTION (tests): die after a post for this event type

    # --- approvals (docs/approvals.md) ---------------------------------------------------------------
    approvals_file: Path | None = (
        None  # a JSON file of approval policies; default: langgraph.json's graphgate.approvals
    )
    schedule_poll_seconds: float = 1.0  # how often a scheduler looks for due schedules
    schedule_stale_seconds: float = 30.0  # a tick being started this long: its scheduler died, another finishes it
    approval_tick_seconds: float = 1.0  # how often a dispatcher looks for due reminders and timeouts

    @field_validator("redis_sentinels", "redis_cluster_nodes", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``host:port,host:port`` (a JSON list works too)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _cluster_needs_a_broker(self) -> Settings:
        if self.redis_cluster and not self.broker_url:
            raise ValueError(
                "GRAPHGATE_REDIS_CLUSTER needs GRAPHGATE_BROKER_URL: Celery's Redis transport cannot use a Redis "
                "Cluster, so the broker is another Redis (redis://, or Sentinel) or RabbitMQ (amqp://)"
            )
        if self.redis_cluster and self.redis_sentinels:
            raise ValueError("GRAPHGATE_REDIS_CLUSTER and GRAPHGATE_REDIS_SENTINELS exclude each other")
        return self

    @property
    def broker(self) -> str:
        """The broker as configured (graphgate/core/connections.py ``broker_url`` adds Sentinel's form)."""
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
