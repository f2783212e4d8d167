"""Completion webhooks of ``/api/v1`` tasks through real processes (API, Celery worker, dispatcher, Redis)
and a receiver on loopback: each stopping event arrives once, signed, after a forced failure and its retry,
with one idempotency key for every try; a graph's default webhook; a cancel without a run; bad webhooks
refused with 422 and nothing stored."""

from __future__ import annotations

import pytest

from graphgate.core import webhooks
from graphgate.testing.client import Api
from graphgate.testing.stack import Stack
from graphgate.testing.waiting import wait_for
from graphgate.testing.webhooks import Receiver
from tests.e2e.conftest import WEBHOOK_SECRET

SECRET = WEBHOOK_SECRET


@pytest.fixture(scope="module")
def receiver(chat_receiver: Receiver) -> Receiver:
    return chat_receiver


@pytest.fixture(scope="module")
def stack(chat_stack: Stack) -> Stack:
    """The package's shared stack (tests/e2e/conftest.py): webhooks signed with SECRET and allowed to
    loopback, ``receiver`` the ``ask`` graph's default webhook."""
    return chat_stack


def of_task(task_id: str):  # type: ignore[no-untyped-def]
    return lambda body: body.get("task", {}).get("task_id") == task_id


def test_a_finished_task_is_posted_once_signed_after_a_refused_try(stack: Stack, receiver: Receiver) -> None:
    api = Api(stack.url)
    receiver.fail_first = 1  # the receiver answers 503 once: the worker tries again later
    created = api.create(graph="echo", input={"text": "hooked"}, webhook=receiver.url)
    [post] = wait_for(lambda: receiver.accepted(of_task(created["task_id"])), 30, what="the webhook")
    tries = [p for p in receiver.posts if of_task(created["task_id"])(p.body)]
    assert [p.status for p in tries] == [503, 200]
    keys = {p.headers["X-Graphgate-Delivery"] for p in tries}
    assert keys == {post.body["delivery_id"]}  # one idempotency key for every try
    assert webhooks.verify(SECRET, post.headers["X-Graphgate-Signature"], post.raw)
    assert not webhooks.verify("another secret", post.headers["X-Graphgate-Signature"], post.raw)
    assert not webhooks.verify(SECRET, post.headers["X-Graphgate-Signature"], post.raw + b" ")
    body = post.body
    assert body["type"] == "task.completed" and body["task"]["status"] == "completed"
    [event] = body["events"]
    assert event["type"] == "task.completed" and event["data"]["text"] == "hooked" and event["id"]
    assert body["task"]["output"]["answer"] == "hooked"


def test_a_graphs_default_webhook_gets_its_questions_and_its_end(stack: Stack, receiver: Receiver) -> None:
    api = Api(stack.url)
    created = api.create(graph="ask", input={})  # names no webhook: the graph's default
    [asked] = wait_for(lambda: receiver.accepted(of_task(created["task_id"])), 30, what="the question's webhook")
    assert asked.body["type"] == "interrupt" and asked.body["task"]["status"] == "waiting_input"
    assert [e["type"] for e in asked.body["events"]] == ["interrupt"]
    assert asked.body["task"]["interrupts"][0]["interrupt_id"] == asked.body["events"][0]["data"]["interrupt_id"]
    assert api.resume(created["task_id"], "Ada").status_code == 202
    done = wait_for(
        lambda: [p for p in receiver.accepted(of_task(created["task_id"])) if p.body["type"] == "task.completed"],
        30,
        what="the completion's webhook",
    )
    assert len(done) == 1 and len(receiver.accepted(of_task(created["task_id"]))) == 2


def test_a_task_cancelled_without_a_run_calls_its_webhook(stack: Stack, receiver: Receiver) -> None:
    api = Api(stack.url)
    created = api.create(graph="ask", input={}, webhook=receiver.url)
    api.wait_status(created["task_id"], {"waiting_input"})
    wait_for(lambda: receiver.accepted(of_task(created["task_id"])), 30, what="the question's webhook")
    assert api.cancel(created["task_id"]).status_code == 202
    cancelled = wait_for(
        lambda: [p for p in receiver.accepted(of_task(created["task_id"])) if p.body["type"] == "task.cancelled"],
        30,
        what="the cancel's webhook",
    )
    assert cancelled[0].body["events"][0]["data"]["reason"] == "cancelled by request"


@pytest.fixture(scope="module")
def strict(shared_stack: Stack) -> Stack:
    """A stack that keeps webhooks off private addresses (the default): the run's shared default stack."""
    return shared_stack


@pytest.mark.parametrize(
    ("webhook", "words"),
    [
        ("ftp://example.com/hook", "absolute http:// or https:// URL"),
        ("/relative/hook", "absolute http:// or https:// URL"),
        ("http://127.0.0.1:9/hook", "resolves to 127.0.0.1, which is not a public address"),
        ("http://10.1.2.3/hook", "not a public address"),
        ("http://[::1]:8080/hook", "not a public address"),
        ("http://169.254.169.254/latest/meta-data", "not a public address"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_a_webhook_to_a_forbidden_address_is_refused_and_nothing_is_stored(
    strict: Stack, webhook: str, words: str
) -> None:
    api = Api(strict.url, "webhook-prober")
    resp = api.http.post("/api/v1/tasks", json={"graph": "echo", "input": {"text": "x"}, "webhook": webhook})
    assert resp.status_code == 422, resp.text
    assert words in resp.json()["error"]["message"]
    assert api.http.get("/api/v1/tasks").json()["tasks"] == []
