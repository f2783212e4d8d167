"""The workers' Celery app: the core's run queue (graphgate/core/queue.py) with the worker's tasks and signal
handlers registered on it. ``celery -A graphgate.workers.celery_app`` and ``graphgate worker`` load this."""

from graphgate.core.queue import app
from graphgate.workers import metrics, run, webhooks  # noqa: F401  (registers the tasks and the metrics handlers)

__all__ = ["app"]
