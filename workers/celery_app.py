"""The Celery application: Redis broker, late acks, and the queue graphgate's runs travel on."""

from __future__ import annotations

from celery import Celery

from gateway.settings import Settings, get_settings

RUN_GRAPH = "graphgate.run_graph"


def create_celery(settings: Settings) -> Celery:
    app = Celery("graphgate", broker=settings.broker, include=["workers.run"])
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
        worker_send_task_events=True,  # Flower
        task_send_sent_event=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            # a message whose worker vanished without a trace comes back after this long; a duplicate
            # delivery of a run that is still alive waits for the run's lease and does no work twice
            "visibility_timeout": max(int(settings.task_time_limit) + 60, 120),
        },
    )
    return app


app = create_celery(get_settings())


def enqueue_run(task_id: str, session_id: str, countdown: float | None = None) -> None:
    """Hand a task to the workers."""
    app.send_task(RUN_GRAPH, args=[task_id, session_id], countdown=countdown)
