"""Feedback forwarded to LangSmith, through real processes (the API, a Celery worker tracing with the real
``langsmith`` SDK) and a fake LangSmith on loopback: the worker's traced root run has the id graphgate gave
it, a 👍 on the task arrives as feedback ``user_score`` 1 on that run, a change to 👎 with a comment changes
the same feedback, and a LangSmith that is away costs the person rating nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from graphgate.core.lgrun import NAMESPACE_TRACE
from graphgate.testing.client import Api
from graphgate.testing.fake_langsmith import FakeLangSmith
from graphgate.testing.stack import Stack, running_stack
from graphgate.testing.waiting import wait_for


@pytest.fixture(scope="module")
def langsmith() -> Iterator[FakeLangSmith]:
    fake = FakeLangSmith().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory, langsmith: FakeLangSmith) -> Iterator[Stack]:
    with running_stack(redis_url, tmp_path_factory.mktemp("langsmith"), langsmith.env) as s:
        yield s


def test_feedback_reaches_the_traced_run_in_langsmith_and_changes_in_place(
    stack: Stack, langsmith: FakeLangSmith
) -> None:
    api = Api(stack.url, "rater")
    task = api.create(graph="echo", input={"text": "trace me"})
    api.wait_status(task["task_id"], {"completed"}, timeout=60)
    run_id = str(uuid.uuid5(NAMESPACE_TRACE, f"{task['task_id']}:1:1"))
    traced = wait_for(lambda: langsmith.runs.get(run_id), 30, what="the worker's traced root run")
    assert not traced.get("parent_run_id")

    resp = api.http.post(f"/api/v1/tasks/{task['task_id']}/feedback", json={"score": 1})
    assert resp.status_code == 201, resp.text
    [given] = wait_for(lambda: list(langsmith.feedback.values()), 30, what="the feedback in LangSmith")
    assert (given["run_id"], given["key"], given["score"]) == (run_id, "user_score", 1)
    assert given["feedback_source"]["metadata"]["graphgate_task_id"] == task["task_id"]

    resp = api.http.post(f"/api/v1/tasks/{task['task_id']}/feedback", json={"score": -1, "comment": "too terse"})
    assert resp.status_code == 201, resp.text
    wait_for(lambda: given.get("score") == 0, 30, what="the changed feedback")
    assert given["comment"] == "too terse" and len(langsmith.feedback) == 1
    assert [c.method for c in langsmith.calls if c.path.startswith("/feedback")] == ["POST", "POST", "PATCH"]

    langsmith.stop()  # away: rating still works, and says nothing of it
    other = Api(stack.url, "rater")
    second = other.create(graph="echo", input={"text": "again"})
    other.wait_status(second["task_id"], {"completed"}, timeout=60)
    resp = other.http.post(f"/api/v1/tasks/{second['task_id']}/feedback", json={"score": 1})
    assert resp.status_code == 201, resp.text
