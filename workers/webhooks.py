"""``deliver_webhook``: POST a task to the webhook it was started with, when it stops.

A task may name a ``webhook`` (``POST /api/v1/tasks``, a graph's default ``GRAPHGATE_GRAPH_WEBHOOKS``, or a
LangGraph server API run). When it completes, fails, is cancelled or pauses on its interrupts, whoever stopped
it (the worker; the API or a dispatcher for a task cancelled without a run) queues this task, which POSTs:

* for ``/api/v1`` tasks, the event that stopped it (``task.completed``, ``task.failed``, ``task.cancelled``, or
  the ``interrupt`` events of a pause) with the task's status, output, error and pending interrupts;
* for LangGraph API runs, the run as the LangGraph server posts it: the run's fields, its ``status`` then,
  the thread's ``values``, the ``error`` of a failed run, and ``webhook_sent_at``.

It runs on a worker, so a webhook survives the API process; a refused or unreachable receiver (network error,
429, 5xx) is tried again with growing delays, up to ``MAX_TRIES`` times; another 4xx is final. Delivery is
at least once: every try of one POST carries the same ``X-Graphgate-Delivery`` (and ``delivery_id``), the
receiver's idempotency key. Where a webhook may point and how it is signed: graphgate/core/webhooks.py.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from graphgate.core import lgrun, webhooks
from graphgate.core.events import APPROVAL_EVENTS, STREAM_FIELD, deserialize_event
from graphgate.core.queue import DELIVER_WEBHOOK, app
from graphgate.core.runoptions import RunOptions
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.wirejson import jsonable
from graphgate.workers.runtime import Runtime, runtime

log = logging.getLogger("graphgate.webhooks")

MAX_TRIES = 6  # the first try and five retries, 2, 4, 8, 16 and 32 s apart


class RetryLater(Exception):
    """The receiver could not take it now (a network error, 429 or 5xx)."""


@app.task(name=DELIVER_WEBHOOK, bind=True, max_retries=MAX_TRIES - 1)
def deliver_webhook(self: Any, task_id: str, session_id: str, stop: str) -> None:
    rt = runtime()
    record = rt.store.load(session_id, task_id)
    if record is None:
        return  # the thread was deleted meanwhile
    options = RunOptions.from_dict(record.options)
    if not options.webhook:
        return
    delivery = f"{task_id}:{record.run}:{stop}"
    body = event_payload(rt, record, delivery) if options.webhook_body == "event" else payload(rt, record, stop)
    try:
        post(rt, options.webhook, body, delivery)
    except RetryLater as exc:
        log.warning("webhook of run %s: %s; trying again", task_id, exc, extra={"task_id": task_id})
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    except Refused as exc:
        log.warning("webhook of run %s not sent: %s", task_id, exc, extra={"task_id": task_id})


class Refused(Exception):
    """The webhook cannot be sent (its address is not allowed) or the receiver said no for good (4xx)."""


def payload(rt: Runtime, record: TaskRecord, stop: str) -> dict[str, Any]:
    """The run as the LangGraph server posts it: its fields, status, the thread's values and any error."""
    body: dict[str, Any] = {
        **lgrun.run(record),
        "status": stop,
        "run_started_at": lgrun.iso(record.created_at),
        "run_ended_at": lgrun.iso(record.finished_at or record.updated_at),
        "webhook_sent_at": datetime.now(UTC).isoformat(),
        "values": _values(rt, record),
    }
    if record.status == TaskStatus.FAILED and record.error:
        body["error"] = {"error": record.error.get("kind"), "message": record.error.get("message")}
    return body


STOPPING = {
    TaskStatus.COMPLETED: ("task.completed",),
    TaskStatus.FAILED: ("task.failed",),
    TaskStatus.CANCELLED: ("task.cancelled",),
    TaskStatus.WAITING_INPUT: ("interrupt",),
}
SCAN_BACK = 200  # stream entries read back from the newest to find the stopping event


def event_payload(rt: Runtime, record: TaskRecord, delivery: str) -> dict[str, Any]:
    """An ``/api/v1`` task's webhook: the event that stopped it (every ``interrupt`` of a pause) and the task."""
    wanted = STOPPING.get(record.status, ())
    events = []
    for entry_id, fields in rt.store.redis.xrevrange(rt.store.keys.events(record.session_id), count=SCAN_BACK):
        event = deserialize_event(entry_id, fields[STREAM_FIELD])
        if event.task_id != record.id or event.type in APPROVAL_EVENTS:
            continue
        if event.type.value not in wanted:
            break  # past the stop: the events of the pause (or the one terminal event) are behind us
        events.append({"id": entry_id, **event.envelope()})
    events.reverse()
    return {
        "delivery_id": delivery,
        "type": events[-1]["type"] if events else "task." + record.status.value,
        "events": events,
        "task": {
            "task_id": record.id,
            "session_id": record.session_id,
            "graph": record.graph,
            "status": record.status.value,
            "run": record.run,
            "output": record.output,
            "error": record.error,
            "interrupts": record.pending(),
            "created_at": record.created_at,
            "finished_at": record.finished_at,
        },
        "sent_at": datetime.now(UTC).isoformat(),
    }


def _values(rt: Runtime, record: TaskRecord) -> Any:
    config = {"configurable": {"thread_id": record.session_id}}
    try:
        graph = rt.registry.compiled(record.graph, rt.checkpointer, config)
        return jsonable(graph.get_state(config).values)
    except Exception:  # a graph that is gone, or a checkpoint it cannot read: the run's own output, if any
        return record.output


def post(rt: Runtime, url: str, body: dict[str, Any], delivery: str) -> None:
    """POST ``body`` to ``url``: ``RetryLater`` or ``Refused`` when it did not arrive."""
    if not rt.settings.webhook_allow_private:
        try:
            webhooks.check_public(url)
        except webhooks.AddressRefused as exc:
            raise Refused(str(exc)) from exc
        except OSError as exc:
            raise RetryLater(f"cannot resolve {url!r}: {exc}") from exc
    data = json.dumps(body, ensure_ascii=False, default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "graphgate-webhook",
        webhooks.DELIVERY_HEADER: delivery,
    }
    if rt.settings.webhook_secret:
        headers[webhooks.SIGNATURE_HEADER] = webhooks.sign(rt.settings.webhook_secret, data)
    try:
        # no redirects: a redirect could lead to an address the check above would have refused
        response = httpx.post(url, content=data, headers=headers, timeout=rt.settings.webhook_timeout_seconds)
    except httpx.HTTPError as exc:
        raise RetryLater(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryLater(f"the receiver answered {response.status_code}")
    if response.status_code >= 300:
        raise Refused(f"the receiver answered {response.status_code}")
