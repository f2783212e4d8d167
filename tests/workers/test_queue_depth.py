"""How many runs wait in the run queues, asked of the broker itself (``queue_depths``: /metrics'
``graphgate_queue_depth`` and the dispatcher's republishing read it): a private Redis as the broker, and the
machine's RabbitMQ when it answers (quorum queues, as graphgate declares them). Before, the depth was read
from the state Redis: with RabbitMQ it said 0 whatever waited."""

from __future__ import annotations

import uuid

import pytest
from kombu.connection import Connection

from graphgate.core.queue import broker_connection, create_celery, queue_depths
from graphgate.core.settings import Settings
from graphgate.testing.stack import RedisServer, delete_queues

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def rabbitmq_answers() -> bool:
    try:
        with Connection(RABBITMQ, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_the_depth_of_each_run_queue_comes_from_the_broker(kind: str, redis_server: RedisServer) -> None:
    if kind == "rabbitmq" and not rabbitmq_answers():
        pytest.skip(f"no RabbitMQ answers at {RABBITMQ}")
    prefix = f"qd{uuid.uuid4().hex[:8]}"
    broker = RABBITMQ if kind == "rabbitmq" else redis_server.url  # a plain Redis, also when state is on a cluster
    # the state Redis is elsewhere (a port nothing listens on): the depth must not be read from it
    settings = Settings(
        redis_url="redis://127.0.0.1:9/0", broker_url=broker, key_prefix=prefix, graph_queues={"writer": "long"}
    )
    app = create_celery(settings)
    try:
        assert queue_depths(settings) == {f"{prefix}.runs": 0, f"{prefix}.runs.long": 0}  # never declared
        for n in range(3):
            app.send_task("graphgate.run_graph", args=[f"t{n}", "s"], queue=f"{prefix}.runs")
        app.send_task("graphgate.run_graph", args=["t9", "s"], queue=f"{prefix}.runs.long")
        conn = broker_connection(settings)
        try:  # a connection kept and asked again, as the dispatcher does
            assert queue_depths(settings, conn) == {f"{prefix}.runs": 3, f"{prefix}.runs.long": 1}
            assert queue_depths(settings, conn) == {f"{prefix}.runs": 3, f"{prefix}.runs.long": 1}
        finally:
            conn.release()
    finally:
        if kind == "rabbitmq":
            delete_queues(RABBITMQ, prefix)
            with Connection(RABBITMQ) as conn:
                conn.channel().queue_delete(f"{prefix}.runs.long")
