"""The PostgreSQL checkpointer (many machines): a whole interactive run with its checkpoints in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from graphgate.testing.client import Api, terminal_of
from graphgate.testing.stack import Stack, running_stack

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    name = f"graphgate_test_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_stack(redis_url: str, pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(redis_url, tmp_path_factory.mktemp("pg"), {"GRAPHGATE_CHECKPOINTER_URL": pg_url}) as stack:
        yield stack


def test_interactive_writer_with_postgres_checkpoints(pg_stack: Stack, pg_url: str) -> None:
    api = Api(pg_stack.url, "pg-user")
    created = api.create(graph="writer", topic="glaciers", mode="interactive", config={"target_length": 300})
    question = api.events(created["session_id"], lambda e: e.type == "interrupt")[-1]
    assert api.resume(created["task_id"], "approve", question.data["interrupt_id"]).status_code == 202
    final = api.events(created["session_id"], terminal_of(created["task_id"]), last_event_id=question.id)[-1]
    assert final.type == "task.completed" and final.data["output"]["article"].startswith("# glaciers")
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = %s", (created["session_id"],)
        ).fetchone()
    assert rows and rows[0] >= 4  # the run's steps were checkpointed in PostgreSQL
    assert api.http.get("/readyz").json()["checks"]["checkpointer"] == "ok"
