"""The checkpointer factory: durable LangGraph checkpoints, SQLite embedded or PostgreSQL for many machines.

Checkpoints are separate from task records (those live in Redis): a run killed mid-way restarts from its
last completed step because LangGraph reads that step back from here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from graphgate.core.settings import Settings


def sqlite_path(settings: Settings) -> Path:
    return settings.data_dir / "checkpoints.sqlite"


def open_checkpointer(settings: Settings) -> BaseCheckpointSaver[Any]:
    """A ready checkpointer for this process (call once per process: connections do not survive fork).

    ``GRAPHGATE_CHECKPOINTER_URL`` = ``postgresql://...`` selects langgraph-checkpoint-postgres with a
    connection pool; otherwise a SQLite file in ``data_dir`` (WAL mode, safe for several worker processes
    on one machine).
    """
    url = settings.checkpointer_url
    if url and url.startswith(("postgresql://", "postgres://")):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            url,
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=True,
        )
        postgres = PostgresSaver(pool)  # type: ignore[arg-type]
        postgres.setup()
        return postgres
    if url and url.startswith("memory:"):
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver()
    if url and not url.startswith("sqlite:"):
        raise ValueError(f"unsupported checkpointer URL {url!r}: use postgresql://..., sqlite:///path or memory:")
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = Path(url.removeprefix("sqlite:///")) if url else sqlite_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


def check_checkpointer(settings: Settings) -> None:
    """Open the configured checkpointer and read from it once; raises when it is unreachable."""
    url = settings.checkpointer_url
    if url and url.startswith(("postgresql://", "postgres://")):
        # one plain connection with a short timeout: a readiness probe must answer in seconds, and a pool
        # that cannot connect would wait its full timeout and keep reconnecting after the probe gave up
        import psycopg

        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
        return
    saver = open_checkpointer(settings)
    try:
        saver.get_tuple({"configurable": {"thread_id": "graphgate-readiness-probe"}})
    finally:
        close = getattr(getattr(saver, "conn", None), "close", None)
        if callable(close):
            close()
