"""``deliver_webhook``: POST a run to the webhook it was started with, when it stops.

A LangGraph server API run may name a ``webhook``. When the run completes, fails, is cancelled or pauses on its
interrupts, the worker that stopped it (or the API, for a run cancelled before it ran) queues this task, which
POSTs the run as the LangGraph server does: the run's fields, its ``status`` then, the thread's ``values``, the
``error`` of a failed run, and ``webhook_sent_at``. It runs on a worker, so a webhook survives the API process;
a refused or unreachable receiver (network error, 429, 5xx) is tried again with growing delays, up to
``MAX_TRIES`` times; another 4xx is final.

Where a webhook may point is checked when it is called: unless ``GRAPHGATE_WEBHOOK_ALLOW_PRIVATE`` is set, a
host that resolves to a loopback, private, link-local or reserved address is refused (a caller must not be able
to make the workers reach internal services). With ``GRAPHGATE_WEBHOOK_SECRET`` set, each POST carries
``X-Graphgate-Signature: sha256=<hex HMAC of the body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from graphgate.core import lgrun
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
    url = RunOptions.from_dict(record.options).webhook
    if not url:
        return
    try:
        post(rt, url, payload(rt, record, stop))
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


def _values(rt: Runtime, record: TaskRecord) -> Any:
    config = {"configurable": {"thread_id": record.session_id}}
    try:
        graph = rt.registry.compiled(record.graph, rt.checkpointer, config)
        return jsonable(graph.get_state(config).values)
    except Exception:  # a graph that is gone, or a checkpoint it cannot read: the run's own output, if any
        return record.output


def post(rt: Runtime, url: str, body: dict[str, Any]) -> None:
    """POST ``body`` to ``url``: ``RetryLater`` or ``Refused`` when it did not arrive."""
    if not rt.settings.webhook_allow_private:
        check_public(url)
    data = json.dumps(body, ensure_ascii=False, default=str).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "graphgate-webhook"}
    if rt.settings.webhook_secret:
        digest = hmac.new(rt.settings.webhook_secret.encode(), data, hashlib.sha256).hexdigest()
        headers["X-Graphgate-Signature"] = f"sha256={digest}"
    try:
        # no redirects: a redirect could lead to an address the check above would have refused
        response = httpx.post(url, content=data, headers=headers, timeout=rt.settings.webhook_timeout_seconds)
    except httpx.HTTPError as exc:
        raise RetryLater(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryLater(f"the receiver answered {response.status_code}")
    if response.status_code >= 300:
        raise Refused(f"the receiver answered {response.status_code}")


def check_public(url: str) -> None:
    """``Refused`` unless every address ``url``'s host resolves to is a public one."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise RetryLater(f"cannot resolve {host!r}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise Refused(f"{host!r} resolves to {address}, which is not a public address")
