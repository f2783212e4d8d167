"""Operations: /metrics, /readyz, routing a graph to its own queue, Flower, JSON worker logs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from graphgate.cli.processes import free_port, wait_until
from graphgate.testing.client import Api, terminal_of
from graphgate.testing.stack import ROOT
from tests.deploy.conftest import Deployment, DeployStack, wait_for


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """``/metrics`` parsed by prometheus_client's own parser: sample name -> [(labels, value)]."""
    resp = httpx.get(f"{url}/metrics", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float | None:
    for have, v in samples.get(name, []):
        if all(have.get(k) == want for k, want in labels.items()):
            return v
    return None


def test_readyz_with_everything_up(deployment: Deployment) -> None:
    for url in (deployment.replica_a, deployment.replica_b):
        resp = httpx.get(f"{url}/readyz", timeout=15)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "ok"
        assert {k: body["checks"][k] for k in ("redis", "broker", "checkpointer")} == {
            "redis": "ok",
            "broker": "ok",
            "checkpointer": "ok",
        }
        assert isinstance(body["warnings"], list)  # the durability of its Redis (tests/gateway/test_durability.py)


def test_readyz_503_when_the_checkpointer_is_unreachable(deployment: Deployment, tmp_path) -> None:  # type: ignore[no-untyped-def]
    stack = DeployStack(
        redis_url=deployment.stack.redis_url,
        workdir=tmp_path,
        prefix=deployment.stack.prefix,
        extra_env={**deployment.stack.extra_env, "GRAPHGATE_CHECKPOINTER_URL": "postgresql://127.0.0.1:1/x"},
    )
    stack.gunicorns = []
    try:
        url = stack.start_api()
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200  # alive, but not ready
        started = time.monotonic()
        resp = httpx.get(f"{url}/readyz", timeout=30)
        assert time.monotonic() - started < 10  # a probe answers in seconds, not after a pool timeout
        assert resp.status_code == 503
        body = resp.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["checkpointer"].startswith("error")
        assert body["checks"]["redis"] == "ok" and body["checks"]["broker"] == "ok"
    finally:
        stack.stop()


def test_metrics_tasks_queues_runs_and_stream_lag(deployment: Deployment) -> None:
    api = Api(deployment.replica_a, "metrics-user")
    created = api.create(graph="echo", input={"text": "count me"})
    api.events(created["session_id"], terminal_of(created["task_id"]), timeout=60)
    stack = deployment.stack
    for url in (deployment.replica_a, deployment.replica_b):  # uvicorn and gunicorn alike

        def fresh():  # type: ignore[no-untyped-def]
            samples = scrape(url)  # tasks by state are cached ~10 s per process
            return samples if (value(samples, "graphgate_tasks", state="completed") or 0) >= 1 else None

        samples = wait_for(fresh, 30, 1.0)
        for state in ("queued", "running", "waiting_input", "completed", "failed", "cancelled"):
            assert value(samples, "graphgate_tasks", state=state) is not None, state
        assert value(samples, "graphgate_tasks_scan_complete") == 1
        for queue in (f"{stack.prefix}.runs", f"{stack.prefix}.runs.long", f"{stack.prefix}.runs.parked"):
            assert value(samples, "graphgate_queue_depth", queue=queue) is not None, queue
        count = value(samples, "graphgate_run_duration_seconds_count", graph="echo", outcome="completed")
        assert count is not None and count >= 1
        inf = value(samples, "graphgate_run_duration_seconds_bucket", graph="echo", outcome="completed", le="+Inf")
        assert inf == count
        assert (value(samples, "graphgate_run_duration_seconds_sum", graph="echo", outcome="completed") or 0) > 0
        assert value(samples, "graphgate_event_stream_lag_seconds") is not None
        assert value(samples, "graphgate_sse_subscribers") is not None
        assert value(samples, "process_resident_memory_bytes") is not None


def test_event_stream_lag_is_zero_while_a_client_keeps_up(deployment: Deployment) -> None:
    api = Api(deployment.replica_a, "lag-user")
    created = api.create(graph="echo", input={"text": "lag", "sleep": 3})
    lags: list[float] = []

    def on_event(e) -> None:  # type: ignore[no-untyped-def]
        if e.type == "task.started":  # a client follows the session on replica A now
            lags.append(value(scrape(deployment.replica_a), "graphgate_event_stream_lag_seconds") or 0.0)
            subscribers = value(scrape(deployment.replica_a), "graphgate_sse_subscribers") or 0
            assert subscribers >= 1

    api.events(created["session_id"], terminal_of(created["task_id"]), on_event=on_event, timeout=60)
    assert lags and lags[0] < 2.0


def test_graph_routed_to_its_own_queue(deployment: Deployment) -> None:
    """GRAPHGATE_GRAPH_QUEUES sends "ask" runs to <prefix>.runs.parked, which no worker of the stack consumes:
    the run waits there (queue depth 1) until a worker started with ``--queues parked`` takes it."""
    stack = deployment.stack
    api = Api(deployment.replica_b, "router")
    created = api.create(graph="ask")
    parked = f"{stack.prefix}.runs.parked"

    def parked_one():  # type: ignore[no-untyped-def]
        samples = scrape(deployment.replica_b)
        return samples if value(samples, "graphgate_queue_depth", queue=parked) == 1 else None

    samples = wait_for(parked_one)
    assert value(samples, "graphgate_queue_depth", queue=f"{stack.prefix}.runs") == 0
    # the sentinel: a run sent after it to the default queue is taken and finished by the stack's workers,
    # which would have taken the parked message first had they consumed its queue
    later = api.create(graph="echo", input={"text": "after the parked one"})
    api.wait_status(later["task_id"], {"completed"}, timeout=60)
    assert value(scrape(deployment.replica_b), "graphgate_queue_depth", queue=parked) == 1
    assert api.get(created["task_id"])["status"] == "queued"  # nobody took it
    worker = stack.start_queue_worker("parked", pool="solo")
    try:
        task = api.wait_status(created["task_id"], {"waiting_input"}, timeout=60)
        assert task["interrupt"]["question"]
        assert "parked" in worker.text() and created["task_id"] in worker.text()
        assert api.cancel(created["task_id"]).status_code == 202
    finally:
        stack.stop_proc(worker)
        stack.workers.remove(worker)


def test_worker_json_logs_carry_task_and_session_ids(deployment: Deployment) -> None:
    api = Api(deployment.replica_a, "log-user")
    created = api.create(graph="echo", input={"text": "log me"})
    api.events(created["session_id"], terminal_of(created["task_id"]), timeout=60)

    def line_for_task():  # type: ignore[no-untyped-def]
        for proc in deployment.stack.workers:
            for raw in proc.text().splitlines():
                if created["task_id"] in raw and raw.startswith("{"):
                    record = json.loads(raw)
                    if record.get("task_id") == created["task_id"]:
                        return record
        return None

    record = wait_for(line_for_task, 10)
    assert record["session_id"] == created["session_id"]
    assert record["logger"].startswith("graphgate.worker") and record["level"] == "info"


def test_flower_runs_on_the_celery_app(deployment: Deployment) -> None:
    port = free_port()
    env = {**deployment.stack.env, "FLOWER_BASIC_AUTH": "ops:secret-pass"}
    log = deployment.stack.workdir / "flower.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphgate.cli", "flower", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"flower exited:\n{log.read_text()[-3000:]}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(up, 60), log.read_text()[-3000:]
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 401  # basic auth from FLOWER_*
        workers = wait_for(
            lambda: httpx.get(
                f"http://127.0.0.1:{port}/api/workers?refresh=1", auth=("ops", "secret-pass"), timeout=15
            ).json(),
            30,
            1.0,
        )
        assert any(name.startswith("graphgate-") for name in workers)  # it sees the stack's workers
        # task events are off by default (GRAPHGATE_CELERY_TASK_EVENTS); Flower turns them on, so it sees runs
        created = Api(deployment.replica_a, "flower-watcher").create(graph="echo", input={"text": "seen"})

        def seen() -> bool:
            tasks = httpx.get(f"http://127.0.0.1:{port}/api/tasks", auth=("ops", "secret-pass"), timeout=15).json()
            return any(created["task_id"] in str(task.get("args")) for task in tasks.values())

        for _ in range(6):  # a run sent before Flower's enable_events reached the worker goes unseen: send again
            if wait_until(seen, 10):
                break
            created = Api(deployment.replica_a, "flower-watcher").create(graph="echo", input={"text": "seen"})
        assert seen(), "Flower saw no run of the stack's workers"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_gunicorn_replica_serves_the_app_factory(deployment: Deployment) -> None:
    """The compose/k8s command really builds the app: tasks, SSE and OpenAPI come from replica B."""
    resp = httpx.get(f"{deployment.replica_b}/openapi.json", timeout=10)
    assert resp.status_code == 200 and "/api/v1/tasks" in resp.json()["paths"]
    api = Api(deployment.replica_b, "gunicorn-user")
    created = api.create(graph="echo", input={"text": "gunicorn"})
    events = api.events(created["session_id"], terminal_of(created["task_id"]), timeout=60)
    assert events[-1].type == "task.completed" and events[-1].data["text"] == "gunicorn"


def test_delivery_metrics_follow_the_shard_streams(deployment: Deployment) -> None:
    """A chat-bound task's events wait in its delivery shard until a dispatcher acks them: the backlog and
    the oldest waiting event's age say so, first with no dispatcher at all, then with the dispatchers'
    consumer group reading and acking (as workers/dispatcher.py does)."""
    import asyncio

    import redis as sync_redis
    import redis.asyncio as aioredis

    from graphgate.core.keys import DELIVERY_GROUP, Keys, delivery_shard
    from graphgate.core.queue import RUN_GRAPH, create_celery, run_queue
    from graphgate.core.registry import load_registry
    from graphgate.core.settings import Settings
    from graphgate.core.tasks import Principal, TaskService

    stack = deployment.stack
    settings = Settings(
        redis_url=stack.redis_url,
        key_prefix=stack.prefix,
        config=ROOT / "langgraph.json",
        data_dir=stack.workdir / "data",
        graph_queues=json.loads(stack.extra_env["GRAPHGATE_GRAPH_QUEUES"]),
    )
    celery = create_celery(settings)

    async def enqueue(task_id: str, session_id: str, countdown: float | None = None, graph: str | None = None) -> None:
        celery.send_task(RUN_GRAPH, args=[task_id, session_id], countdown=countdown, queue=run_queue(settings, "echo"))

    async def create_bound() -> tuple[str, str]:
        client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            service = TaskService(client, settings, enqueue, load_registry(settings.config, None))
            record = await service.create_task(
                Principal("slack:T1:U1"),
                input={"text": "to slack"},
                graph="echo",
                binding={"platform": "slack", "team_id": "T1", "channel": "C1", "thread_ts": "1.0"},
            )
            return record.id, record.session_id
        finally:
            await client.aclose()

    task_id, session_id = asyncio.run(create_bound())
    Api(deployment.replica_a, "slack:T1:U1").wait_status(task_id, {"completed"}, timeout=60)
    shard = delivery_shard(session_id, settings.delivery_shards)
    key = Keys(stack.prefix).delivery(shard)
    r = sync_redis.Redis.from_url(stack.redis_url, decode_responses=True)
    total = r.xlen(key)
    assert total >= 5  # queued, started, node.completed x3, completed

    samples = scrape(deployment.replica_a)
    assert value(samples, "graphgate_delivery_backlog", shard=str(shard)) == total
    assert (value(samples, "graphgate_delivery_oldest_undelivered_seconds") or 0) > 0
    assert value(samples, "graphgate_dispatchers") == 0

    r.xgroup_create(key, DELIVERY_GROUP, id="0")
    read = r.xreadgroup(DELIVERY_GROUP, "probe", {key: ">"}, count=2)
    ids = [entry_id for entry_id, _ in read[0][1]]
    assert (
        value(scrape(deployment.replica_a), "graphgate_delivery_backlog", shard=str(shard)) == total
    )  # read, not acked
    r.xack(key, DELIVERY_GROUP, *ids)
    assert value(scrape(deployment.replica_a), "graphgate_delivery_backlog", shard=str(shard)) == total - 2
    rest = r.xreadgroup(DELIVERY_GROUP, "probe", {key: ">"})
    r.xack(key, DELIVERY_GROUP, *[entry_id for entry_id, _ in rest[0][1]])
    samples = scrape(deployment.replica_a)
    assert value(samples, "graphgate_delivery_backlog", shard=str(shard)) == 0
    assert value(samples, "graphgate_delivery_oldest_undelivered_seconds") == 0
