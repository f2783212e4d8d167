"""Prometheus ``/metrics`` of an API process.

Everything is read at scrape time; nothing is counted on the request path. Three kinds of series:

* **cluster-wide**, the same on every API replica (read from Redis): ``graphgate_tasks`` (tasks by state),
  ``graphgate_queue_depth`` (messages waiting in each run queue), ``graphgate_run_duration_seconds`` (run
  attempts, written by the workers: see workers/metrics.py). Aggregate them across replicas with ``max``,
  not ``sum``; or scrape one replica for them.
* **chat delivery**, cluster-wide, read from the delivery shard streams and their ``dispatchers`` consumer
  group: ``graphgate_delivery_backlog`` (events not yet delivered, per shard),
  ``graphgate_delivery_oldest_undelivered_seconds`` (how long the oldest of them has waited: the delivery
  latency as the queue sees it) and ``graphgate_dispatchers`` (live dispatcher processes).
* **per process**: ``graphgate_event_stream_lag_seconds``, ``graphgate_sse_subscribers``,
  ``graphgate_sse_streams`` and the standard ``process_*`` series. Sum these across replicas.

Tasks by state are counted by scanning the task hashes (``SCAN`` + ``HGET status``, tallied inside Redis by
a small read-only Lua step per 1,000 keys: ``COUNT_STEP``) at most every
``CACHE_SECONDS`` per process and over at most ``GRAPHGATE_METRICS_TASK_SCAN_LIMIT`` keys;
``graphgate_tasks_scan_complete`` says whether the last scan saw the whole keyspace. Task records expire with
their session (``GRAPHGATE_SESSION_TTL_SECONDS``), so finished states count the recent tasks, not all time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from graphgate.core import connections
from graphgate.core.events import parse_id
from graphgate.core.keys import DELIVERY_GROUP, Keys
from graphgate.core.queue import queue_depths
from graphgate.core.runmetrics import read_run_histograms
from graphgate.core.store import TaskStatus

log = logging.getLogger("graphgate.metrics")

router = APIRouter(tags=["health"])

CACHE_SECONDS = 10.0  # tasks-by-state scans run at most this often per process
SCAN_BATCH = 1000
LAG_STREAMS_MAX = 1000  # event-lag probes look at most at this many followed streams per scrape


@dataclass
class TaskCounts:
    by_state: dict[str, int]
    complete: bool
    at: float


@dataclass
class MetricsCache:
    tasks: TaskCounts | None = None


@dataclass
class Snapshot:
    """Everything one scrape exports, gathered asynchronously before the text is rendered."""

    families: list[Metric] = field(default_factory=list)


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition of this process and of the cluster's queues and runs."""
    gw = request.app.state.gateway
    cache: MetricsCache = getattr(request.app.state, "metrics_cache", None) or MetricsCache()
    request.app.state.metrics_cache = cache
    snapshot = await gather(gw, cache)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(snapshot.families))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def gather(gw: Any, cache: MetricsCache) -> Snapshot:
    """Read every series' current value (see the module docstring for what each one means)."""

    settings, client = gw.settings, gw.redis
    keys = Keys.of(settings)
    snap = Snapshot()

    depth = GaugeMetricFamily("graphgate_queue_depth", "Run messages waiting in a Celery queue", labels=["queue"])
    try:  # asked of the broker, Redis or RabbitMQ alike
        for queue, n in (await asyncio.to_thread(queue_depths, settings)).items():
            depth.add_metric([queue], n)
    except Exception as exc:  # kombu's and the transports' errors alike: the other series still count
        log.warning("metrics: the broker did not say how many runs wait (%s)", exc)
    snap.families.append(depth)

    runs = HistogramMetricFamily(
        "graphgate_run_duration_seconds",
        "Wall time of run_graph attempts in the workers, by graph and outcome",
        labels=["graph", "outcome"],
    )
    for hist in read_run_histograms(await client.hgetall(keys.run_metrics()) or {}):
        runs.add_metric([hist.graph, hist.outcome], hist.cumulative(), hist.total)
    snap.families.append(runs)

    if settings.metrics_task_scan_limit > 0:
        now = time.monotonic()
        if cache.tasks is None or now - cache.tasks.at > CACHE_SECONDS:
            cache.tasks = await count_tasks(client, keys, settings.metrics_task_scan_limit)
        tasks = GaugeMetricFamily("graphgate_tasks", "Task records by state (recent: records expire)", labels=["state"])
        for state in TaskStatus:
            tasks.add_metric([state.value], cache.tasks.by_state.get(state.value, 0))
        snap.families.append(tasks)
        snap.families.append(
            GaugeMetricFamily(
                "graphgate_tasks_scan_complete",
                "1 when the last tasks-by-state scan covered every key, 0 when it stopped at the scan limit",
                value=1 if cache.tasks.complete else 0,
            )
        )

    snap.families.extend(await delivery_families(client, keys, settings.delivery_shards))

    rated = GaugeMetricFamily(
        "graphgate_feedback_total",
        "Feedback on final answers now recorded, by graph and score (up: 1, down: -1); a changed vote moves",
        labels=["graph", "score"],
    )
    for (graph, score), n in sorted((await gw.services.feedback.counts()).items()):
        rated.add_metric([graph, "up" if score > 0 else "down"], n)
    snap.families.append(rated)

    hub = gw.hub
    snap.families.append(
        GaugeMetricFamily("graphgate_sse_subscribers", "SSE clients connected to this process", value=hub.subscribers)
    )
    snap.families.append(
        GaugeMetricFamily("graphgate_sse_streams", "Session streams this process's hub follows", value=hub.streams)
    )
    snap.families.append(
        GaugeMetricFamily(
            "graphgate_event_stream_lag_seconds",
            "Age of the oldest event this process's SSE hub has not read yet (0 when it is caught up)",
            value=await event_stream_lag(hub, client),
        )
    )
    return snap


# One SCAN step and the status of each key it found, tallied inside Redis: a scrape moves a few numbers per
# thousand keys instead of every key name. Read-only; it names keys it finds, which only the server holding them
# allows: on a Redis Cluster it runs on each primary, over that primary's keys.
COUNT_STEP = """
local found = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local tally, out = {}, {found[1]}
for _, key in ipairs(found[2]) do
  -- pcall: a session id may itself hold ':task:', and its other keys (a stream, a list) match the pattern too
  local status = redis.pcall('HGET', key, 'status')
  if type(status) == 'string' then tally[status] = (tally[status] or 0) + 1 end
end
for status, n in pairs(tally) do
  out[#out + 1] = status
  out[#out + 1] = n
end
return out
"""


async def count_tasks(client: Any, keys: Keys, limit: int) -> TaskCounts:
    """Task hashes by ``status``, scanning at most about ``limit`` keys of the keyspace (of each primary's, on a
    Redis Cluster)."""
    by_state: dict[str, int] = {}
    complete = True
    for node in connections.primaries(client):
        cursor, scanned = "0", 0
        while True:
            reply = await connections.on_node(
                client, node, "EVAL", COUNT_STEP, 0, cursor, keys.task_pattern(), SCAN_BATCH
            )
            cursor, pairs = str(reply[0]), reply[1:]
            for status, n in zip(pairs[::2], pairs[1::2]):
                by_state[status] = by_state.get(status, 0) + int(n)
            scanned += SCAN_BATCH
            if cursor == "0":
                break
            if scanned >= limit:
                complete = False
                break
    return TaskCounts(by_state, complete, time.monotonic())


async def event_stream_lag(hub: Any, client: Any) -> float:
    """Seconds since the oldest stream entry the hub has not passed on yet was written; 0 when caught up.

    For each stream the hub follows (at most ``LAG_STREAMS_MAX``), the first entry after the hub's read
    position is looked up; its id holds the Redis time of its ``XADD``, compared with Redis's ``TIME``.
    """
    cursors = list(hub.cursors().items())[:LAG_STREAMS_MAX]
    if not cursors:
        return 0.0
    seconds, micros = await client.time()  # not in the pipeline: a cluster pipeline refuses keyless commands
    now_ms = seconds * 1000 + micros // 1000
    async with client.pipeline(transaction=False) as pipe:
        for key, position in cursors:
            pipe.xrange(key, min=f"({position}", count=1)
        results = await pipe.execute()
    oldest: int | None = None
    for entries in results:
        if entries:
            written_ms = parse_id(entries[0][0])[0]
            oldest = written_ms if oldest is None else min(oldest, written_ms)
    return max(0.0, (now_ms - oldest) / 1000) if oldest is not None else 0.0


async def delivery_families(client: Any, keys: Keys, shards: int) -> list[Metric]:
    """Backlog and waiting time of chat delivery, per shard, from the shard streams' consumer group.

    An entry is undelivered while it is unread by the group or read and not yet acked (pending). The oldest
    undelivered entry is the first pending one, else the first one after the group's last-delivered id.
    """
    seconds, micros = await client.time()
    now_ms = seconds * 1000 + micros // 1000
    async with client.pipeline(transaction=False) as pipe:
        pipe.zcount(keys.dispatchers(), time.time(), "+inf")
        for shard in range(shards):
            pipe.xinfo_groups(keys.delivery(shard))
        results = await pipe.execute(raise_on_error=False)
    groups: list[dict[str, Any] | None] = []
    for info in results[1:]:
        found = (
            None if isinstance(info, Exception) else next((g for g in info if g.get("name") == DELIVERY_GROUP), None)
        )
        groups.append(found)

    async with client.pipeline(transaction=False) as pipe:
        for shard, group in enumerate(groups):
            if group is not None:
                pipe.xpending(keys.delivery(shard), DELIVERY_GROUP)
                pipe.xrange(keys.delivery(shard), min=f"({group['last-delivered-id']}", count=1)
            else:  # no dispatcher has read this shard yet: everything in it waits
                pipe.xlen(keys.delivery(shard))
                pipe.xrange(keys.delivery(shard), count=1)
        details = await pipe.execute(raise_on_error=False)

    backlog = GaugeMetricFamily(
        "graphgate_delivery_backlog", "Chat events not yet delivered (unread or unacked)", labels=["shard"]
    )
    oldest_ms: int | None = None
    it = iter(details)
    for shard, group in enumerate(groups):
        counted, after = next(it), next(it)  # (XPENDING summary | XLEN), the first unread entry
        firsts = []
        if group is None:
            backlog.add_metric([str(shard)], 0 if isinstance(counted, Exception) else int(counted))
        else:
            backlog.add_metric([str(shard)], int(group.get("pending") or 0) + int(group.get("lag") or 0))
            if not isinstance(counted, Exception) and counted.get("pending"):
                firsts.append(parse_id(counted["min"])[0])
        if not isinstance(after, Exception) and after:
            firsts.append(parse_id(after[0][0])[0])
        for first in firsts:
            oldest_ms = first if oldest_ms is None else min(oldest_ms, first)
    return [
        backlog,
        GaugeMetricFamily(
            "graphgate_delivery_oldest_undelivered_seconds",
            "How long the oldest chat event not yet delivered has waited (0 when all are delivered)",
            value=max(0.0, (now_ms - oldest_ms) / 1000) if oldest_ms is not None else 0.0,
        ),
        GaugeMetricFamily("graphgate_dispatchers", "Live dispatcher processes (by heartbeat)", value=results[0]),
    ]
