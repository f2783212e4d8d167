"""How processes reach Redis (graphgate/core/connections.py): one URL, or a primary through Sentinel, for the
state and for Celery's broker. The failover itself is tested with real servers in
tests/reliability/test_sentinel.py."""

from __future__ import annotations

import pytest

from graphgate.core import connections
from graphgate.core.queue import create_celery
from graphgate.core.settings import Settings


def test_sentinels_come_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHGATE_REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26380,10.0.0.3")
    monkeypatch.setenv("GRAPHGATE_REDIS_SENTINEL_MASTER", "gg")
    settings = Settings()
    assert connections.sentinels(settings) == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26379)]
    monkeypatch.setenv("GRAPHGATE_REDIS_SENTINELS", '["a:1", "b:2"]')
    assert connections.sentinels(Settings()) == [("a", 1), ("b", 2)]


def test_the_broker_follows_the_sentinels_unless_another_broker_is_named() -> None:
    plain = Settings(redis_url="redis://127.0.0.1:6379/3")
    assert connections.broker_url(plain) == "redis://127.0.0.1:6379/3" and connections.broker_options(plain) == {}
    ha = Settings(
        redis_url="redis://:s3cret@ignored:6379/2",
        redis_sentinels=["s1:26379", "s2:26379"],
        redis_sentinel_master="gg",
        redis_sentinel_password="watch",
    )
    assert connections.broker_url(ha) == "sentinel://:s3cret@s1:26379/2;sentinel://:s3cret@s2:26379/2"
    assert connections.broker_options(ha) == {"master_name": "gg", "sentinel_kwargs": {"password": "watch"}}
    options = create_celery(ha).conf.broker_transport_options
    assert options["master_name"] == "gg" and options["visibility_timeout"] > 0
    rabbit = Settings(redis_sentinels=["s1:26379"], broker_url="amqp://guest:guest@127.0.0.1:5672//")
    assert connections.broker_url(rabbit).startswith("amqp://") and connections.broker_options(rabbit) == {}


def test_a_client_through_sentinels_asks_them_for_the_primary_and_keeps_the_data_db() -> None:
    ha = Settings(redis_url="redis://:pw@ignored:6379/4", redis_sentinels=["127.0.0.1:1"], redis_sentinel_master="gg")
    client = connections.sync_client(ha, decode_responses=True)
    pool = client.connection_pool
    assert pool.service_name == "gg" and pool.connection_kwargs["db"] == 4  # type: ignore[attr-defined]
    assert pool.connection_kwargs["password"] == "pw"
    aclient = connections.async_client(ha, max_connections=3, decode_responses=True)
    assert aclient.connection_pool.service_name == "gg"  # type: ignore[attr-defined]
    assert aclient.connection_pool.max_connections == 3


def test_rabbitmq_as_the_broker_gets_quorum_queues_and_publisher_confirms() -> None:
    conf = create_celery(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//")).conf
    assert conf.task_default_queue_type == "quorum" and conf.task_create_missing_queue_type == "quorum"
    assert conf.broker_transport_options == {"confirm_publish": True}
    assert conf.task_acks_late and conf.task_reject_on_worker_lost  # the same at-least-once runs as on Redis
    redis_conf = create_celery(Settings(redis_url="redis://127.0.0.1:6379/0")).conf
    assert (
        redis_conf.task_default_queue_type == "classic" and "visibility_timeout" in redis_conf.broker_transport_options
    )
