"""A Celery app with one task that does nothing, configured like graphgate's worker (late acks, prefetch 1,
JSON, task events on), on the bench's private Redis: its round trip is the floor under a graphgate run.

    BENCH_REDIS_URL=redis://127.0.0.1:6379/0 celery -A bench.celery_noop worker -Q bench.noop
"""

from __future__ import annotations

import os

from celery import Celery

QUEUE = "bench.noop"
url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("bench_noop", broker=url, backend=url)
app.conf.update(
    task_default_queue=QUEUE,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_send_task_events=True,
    task_send_sent_event=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    result_expires=600,
)
# variants bench/celery_cost.py compares (unset: as above, graphgate's settings)
if os.environ.get("BENCH_CELERY_NO_EVENTS"):
    app.conf.update(worker_send_task_events=False, task_send_sent_event=False)
if os.environ.get("BENCH_CELERY_NO_RATE_LIMITS"):
    app.conf.update(worker_disable_rate_limits=True)
if os.environ.get("BENCH_CELERY_PREFETCH"):
    app.conf.update(worker_prefetch_multiplier=int(os.environ["BENCH_CELERY_PREFETCH"]))


@app.task(name="bench.noop")
def noop() -> None:
    """Nothing: the whole cost is Celery's and Redis's."""
    return None
