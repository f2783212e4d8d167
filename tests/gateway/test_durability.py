"""The Redis durability checks of ``graphgate doctor`` and ``/readyz``, against a real redis-server whose
settings the test changes (its own, never the shared one)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from graphgate.core.durability import check_redis, durability_warnings
from graphgate.testing.stack import RedisServer


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop(signal.SIGKILL)  # its settings were changed under it: no shutdown save to wait for


def checked(url: str, *settings: tuple[str, str]) -> list[str]:
    async def go() -> list[str]:
        client = aioredis.Redis.from_url(url, decode_responses=True)
        try:
            for name, value in settings:
                await client.config_set(name, value)
            return await check_redis(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_redis_without_persistence_or_that_evicts_is_named_and_a_durable_one_passes(own_redis: RedisServer) -> None:
    [warning] = checked(own_redis.url, ("appendonly", "no"), ("save", ""))
    assert "no persistence" in warning and "appendonly yes" in warning
    [warning] = checked(own_redis.url, ("save", "3600 1"))
    assert "only RDB snapshots" in warning
    assert checked(own_redis.url, ("appendonly", "yes")) == []
    [warning] = checked(own_redis.url, ("maxmemory-policy", "allkeys-lru"))
    assert "maxmemory-policy is allkeys-lru" in warning and "noeviction" in warning
    assert checked(own_redis.url, ("maxmemory-policy", "noeviction")) == []


def test_without_config_access_the_aof_flag_still_tells() -> None:
    assert durability_warnings({"aof_enabled": 1, "maxmemory_policy": "noeviction"}, None) == []
    [warning] = durability_warnings({"aof_enabled": 0, "maxmemory_policy": "volatile-lru"}, None)[:1]
    assert "no AOF" in warning


def test_a_redis_cluster_is_used_only_as_a_cluster(tmp_path: Path) -> None:
    """Pointed at a Redis Cluster node without ``GRAPHGATE_REDIS_CLUSTER``, ``doctor`` fails and ``/readyz`` is not
    ready, saying why (a client of one node fails at random with MOVED), instead of starting. With it, the
    cluster is used and each primary's durability is checked by name; a single server with it does not connect."""
    from graphgate.cli.main import _redis_report
    from graphgate.core.durability import CLUSTER_UNSUPPORTED, unsupported
    from graphgate.core.settings import Settings
    from graphgate.testing.cluster import RedisCluster

    cluster = RedisCluster(tmp_path).start()
    broker = "redis://127.0.0.1:9/0"
    try:

        async def go(url: str) -> str | None:
            client = aioredis.Redis.from_url(url, decode_responses=True)
            try:
                return await unsupported(client)
            finally:
                await client.aclose()

        assert asyncio.run(go(cluster.url)) == CLUSTER_UNSUPPORTED
        assert _redis_report(Settings(redis_url=cluster.url)) == (CLUSTER_UNSUPPORTED, [])
        problem, warnings = _redis_report(Settings(redis_url=cluster.url, redis_cluster=True, broker_url=broker))
        assert problem is None
        # the test cluster's nodes keep no AOF: one warning per primary, each naming its node
        ports = sorted(node.port for node in cluster.primaries())
        assert sorted(int(w.split(":")[1]) for w in warnings if "persistence" in w or "AOF" in w) == ports, warnings
        standalone = RedisServer(tmp_path / "standalone").start()
        try:
            assert asyncio.run(go(standalone.url)) is None
            assert _redis_report(Settings(redis_url=standalone.url))[0] is None
            refused = _redis_report(Settings(redis_url=standalone.url, redis_cluster=True, broker_url=broker))[0]
            assert refused is not None and "Cluster mode is not enabled" in refused, refused
        finally:
            standalone.stop(signal.SIGKILL)
        assert "does not answer" in str(_redis_report(Settings(redis_url="redis://127.0.0.1:9/0"))[0])
    finally:
        cluster.stop()


def test_a_cluster_needs_a_broker_of_its_own() -> None:
    from pydantic import ValidationError

    from graphgate.core.settings import Settings

    with pytest.raises(ValidationError, match="GRAPHGATE_REDIS_CLUSTER needs GRAPHGATE_BROKER_URL"):
        Settings(redis_url="redis://127.0.0.1:7000/0", redis_cluster=True)
    with pytest.raises(ValidationError, match="exclude each other"):
        Settings(redis_cluster=True, broker_url="amqp://x", redis_sentinels="127.0.0.1:26379")
