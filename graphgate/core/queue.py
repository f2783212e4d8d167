"""The run queue: the Celery application (Redis broker, late acks) and the queues graphgate's runs travel on.

Both sides use this one app: the API and the connectors publish runs (``enqueue_run``, or ``enqueue_run_async``
on an event loop), and the workers register ``run_graph`` on it (graphgate/graphgate/core/queue.py). The core
holds only the configuration and the publishing side; no worker code is imported here.

Runs travel on ``<prefix>.runs``; ``GRAPHGATE_GRAPH_QUEUES`` (``{"writer": "long"}``) sends the runs of a graph
to ``<prefix>.runs.long`` instead, which ``graphgate worker --queues long,default`` consumes. A worker takes
from its queues in the order given (the first one first whenever it holds messages): that order is the priority.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, cast

import redis
from celery import Celery
from kombu.connection import Connection

from graphgate.core import connections
from graphgate.core.keys import Keys
from graphgate.core.settings import Settings, get_settings

RUN_GRAPH = "graphgate.run_graph"
DELIVER_WEBHOOK = "graphgate.deliver_webhook"


def create_celery(settings: Settings) -> Celery:
    app = Celery("graphgate", broker=connections.broker_url(settings))
    app.conf.update(
        task_default_queue=settings.queue_name,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        # at-least-once: a message is acked when the run is over, and re-queued if its worker dies
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        worker_concurrency=settings.worker_concurrency,
        worker_hijack_root_logger=False,
        # off by default: ~1.1 ms of worker CPU per run (docs/performance.md); Flower turns the workers' events
        # on while it watches them (its --enable_events, on by default)
        worker_send_task_events=settings.celery_task_events,
        task_send_sent_event=settings.celery_task_events,
        broker_connection_retry_on_startup=True,
        # a publish outlives a broker restart or a Sentinel failover (a few seconds) instead of failing after
        # Celery's default 0.4 s: a run that was never published would stay queued (docs/reliability.md)
        task_publish_retry_policy={"max_retries": 20, "interval_start": 0, "interval_step": 0.25, "interval_max": 1.0},
        broker_transport_options=transport_options(settings),
    )
    if is_amqp(connections.broker_url(settings)):
        app.conf.update(
            # RabbitMQ: replicated (Raft) queues, which survive the loss of a node; Celery then uses RabbitMQ's
            # own delayed delivery for countdowns, and no global prefetch (quorum queues have none)
            task_default_queue_type="quorum",
            task_create_missing_queue_type="quorum",
        )
    return app


def is_amqp(url: str) -> bool:
    return url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp")


def transport_options(settings: Settings) -> dict[str, object]:
    """The broker transport's options: Redis's redelivery of a vanished worker's message, or RabbitMQ's
    publisher confirms (a publish returns once the broker has the message)."""
    if is_amqp(connections.broker_url(settings)):
        # a worker that dies makes RabbitMQ requeue its unacked message at once: nothing to time out
        return {"confirm_publish": True}
    return {
        # a message whose worker vanished without a trace comes back after this long; a duplicate
        # delivery of a run that is still alive waits for the run's lease and does no work twice
        "visibility_timeout": visibility_timeout(settings),
        # look for such messages every quarter of it (at most every 10 s; kombu's own default is ~100 s)
        "unacked_restore_interval": max(1, min(10, visibility_timeout(settings) // 4)),
        "unacked_restore_throttle": 1,
        # the lock a worker holds while it looks: a worker killed meanwhile leaves it behind, and nobody
        # looks again until it expires (kombu's default: 5 minutes)
        "unacked_mutex_expire": max(5, 3 * min(10, visibility_timeout(settings) // 4)),
        # a worker consuming several queues (--queues) empties them in the order given
        "queue_order_strategy": "priority",
        # Sentinel: the master's name (and the sentinels' password), graphgate/core/connections.py
        **connections.broker_options(settings),
    }


def visibility_timeout(settings: Settings) -> int:
    """Seconds after which the broker hands the message of a worker that vanished to another worker:
    ``GRAPHGATE_BROKER_VISIBILITY_TIMEOUT``, else the hard time limit plus a minute (at least 120 s)."""
    if settings.broker_visibility_timeout:
        return max(1, settings.broker_visibility_timeout)
    return max(int(settings.task_time_limit) + 60, 120)


app = create_celery(get_settings())


def run_queue(settings: Settings, graph: str | None) -> str:
    """The queue the runs of ``graph`` travel on: ``<prefix>.runs[.<name>]``."""
    name = settings.graph_queues.get(graph or "")
    return f"{settings.queue_name}.{name}" if name else settings.queue_name


def all_run_queues(settings: Settings) -> list[str]:
    """Every queue a run may travel on: the default one, then each named in ``GRAPHGATE_GRAPH_QUEUES``."""
    names = [settings.queue_name]
    for name in settings.graph_queues.values():
        queue = f"{settings.queue_name}.{name}"
        if queue not in names:
            names.append(queue)
    return names


def broker_connection(settings: Settings) -> Connection:
    """A kombu connection to the broker (opened on first use; ``release()`` it)."""
    return Connection(  # type: ignore[no-untyped-call]
        connections.broker_url(settings), transport_options=transport_options(settings)
    )


def queue_depths(settings: Settings, connection: Any | None = None) -> dict[str, int]:
    """Run messages waiting in each run queue, asked of the broker itself (a Redis list's length, a RabbitMQ
    queue's message count), whichever broker it is. ``connection``: a kombu connection to reuse (else one is
    opened and closed). A queue nobody declared yet holds nothing. Blocking: call it off the event loop."""
    conn = connection or broker_connection(settings)
    try:
        return {name: _depth(conn, name) for name in all_run_queues(settings)}
    finally:
        if connection is None:
            conn.release()


def _depth(conn: Any, name: str) -> int:
    channel = conn.channel()
    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except conn.channel_errors:  # NOT_FOUND: never declared, or (Redis) drained
        return 0
    finally:
        try:
            channel.close()
        except Exception:  # a RabbitMQ channel is closed already by its NOT_FOUND
            pass


def worker_queues(settings: Settings, spec: str | None) -> list[str]:
    """The queues of ``graphgate worker --queues long,default``, in priority order.

    ``default`` (or ``runs``) is ``<prefix>.runs``; another short name ``x`` is ``<prefix>.runs.x``; full
    names pass as they are. No spec: the default queue.
    """
    out: list[str] = []
    for part in (spec or "default").split(","):
        part = part.strip()
        if not part:
            continue
        if part in ("default", "runs"):
            queue = settings.queue_name
        elif part.startswith(settings.queue_name):
            queue = part
        else:
            queue = f"{settings.queue_name}.{part}"
        if queue not in out:
            out.append(queue)
    return out or [settings.queue_name]


_sessions: tuple[int, redis.Redis] | None = None


def _session_graph(settings: Settings, session_id: str) -> str | None:
    """The graph a session runs (each session runs one graph); read only when graphs are routed."""
    return cast("str | None", _client(settings).hget(Keys.of(settings).session(session_id), "graph"))


def _client(settings: Settings) -> redis.Redis:
    """This process's Redis client for publishing's bookkeeping (one per process: prefork children make theirs)."""
    global _sessions
    if _sessions is None or _sessions[0] != os.getpid():
        _sessions = (os.getpid(), connections.sync_client(settings, decode_responses=True, socket_timeout=5))
    return _sessions[1]


def enqueue_run(task_id: str, session_id: str, countdown: float | None = None, graph: str | None = None) -> None:
    """Hand a task to the workers, on its graph's queue.

    ``graph`` saves a Redis read when graphs are routed to their own queues; without it the session's graph
    is looked up (only then).
    """
    settings = get_settings()
    queue = None
    if settings.graph_queues:
        queue = run_queue(settings, graph or _session_graph(settings, session_id))
    # noted before it is sent: a message lost on its way (a failover) is sent again (TaskService.republish)
    keys = Keys.of(settings)
    _client(settings).zadd(
        keys.published(keys.group(session_id)), {f"{session_id} {task_id}": time.time() + (countdown or 0)}
    )
    app.send_task(RUN_GRAPH, args=[task_id, session_id], countdown=countdown, queue=queue)


def enqueue_webhook(task_id: str, session_id: str, stop: str) -> None:
    """Have a worker POST the run to its webhook (workers/webhooks.py): ``stop`` is where it stopped, as the
    run's status then (a resumed run stops again later)."""
    app.send_task(DELIVER_WEBHOOK, args=[task_id, session_id, stop])


async def enqueue_webhook_async(task_id: str, session_id: str, stop: str) -> None:
    await asyncio.get_running_loop().run_in_executor(_publisher, partial(enqueue_webhook, task_id, session_id, stop))


# Publishing is a blocking broker round trip; one thread does it for every event loop of the process, so an
# API or connector loop never waits on the broker and messages leave in the order they were handed over.
_publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphgate-publish")


async def enqueue_run_async(
    task_id: str, session_id: str, countdown: float | None = None, graph: str | None = None
) -> None:
    """``enqueue_run`` without blocking the event loop."""
    await asyncio.get_running_loop().run_in_executor(
        _publisher, partial(enqueue_run, task_id, session_id, countdown=countdown, graph=graph)
    )
