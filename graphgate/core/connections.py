"""Connections to the Redis that holds graphgate's state: one URL, or a primary found through Redis Sentinel.

Every process opens its Redis clients here (``sync_client``, ``async_client``), so all of them follow a
failover the same way. With ``GRAPHGATE_REDIS_SENTINELS`` (``host:port,host:port,…``) set, clients ask the
sentinels for the primary of ``GRAPHGATE_REDIS_SENTINEL_MASTER`` and, when a connection breaks or the server
answers READONLY (a demoted primary), ask again: after a failover every process reconnects to the promoted
replica by itself. The database number and password of the data Redis come from ``GRAPHGATE_REDIS_URL``
(its host is not used then); ``GRAPHGATE_REDIS_SENTINEL_PASSWORD`` is the sentinels' own.

With ``GRAPHGATE_REDIS_CLUSTER`` the URL is any node of a Redis Cluster: the clients are redis-py's cluster
clients, which learn the slots' owners from it and follow ``MOVED`` / ``ASK`` redirects (a resharding, a
replica promoted by the cluster). The Celery broker is then another server (``GRAPHGATE_BROKER_URL``).

The Celery broker follows too: unless ``GRAPHGATE_BROKER_URL`` names another broker, it is the same Redis
through kombu's Sentinel transport (``broker_url`` / ``broker_options``).
"""

from __future__ import annotations

from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.asyncio.sentinel as aiosentinel
import redis.cluster as cluster
import redis.sentinel as sentinel

from graphgate.core.settings import Settings


def sentinels(settings: Settings) -> list[tuple[str, int]]:
    """The sentinels' addresses, or [] when Redis is reached by its URL."""
    return _addresses(settings.redis_sentinels, 26379)


def _addresses(items: list[str], default_port: int) -> list[tuple[str, int]]:
    found = []
    for item in items:
        host, _, port = item.strip().rpartition(":")
        if item.strip():
            found.append((host or item.strip(), int(port) if port.isdigit() else default_port))
    return found


def _startup_nodes(settings: Settings, node_class: Any) -> dict[str, Any]:
    """``GRAPHGATE_REDIS_CLUSTER_NODES`` as a cluster client's further startup nodes (redis_url's node is one)."""
    nodes = [node_class(host, port) for host, port in _addresses(settings.redis_cluster_nodes, 6379)]
    return {"startup_nodes": nodes} if nodes else {}


def _data_params(settings: Settings) -> dict[str, Any]:
    """The database and credentials of the data Redis, from its URL."""
    parts = urlsplit(settings.redis_url)
    params: dict[str, Any] = {"db": int((parts.path or "/0").lstrip("/") or 0)}
    if parts.password:
        params["password"] = unquote(parts.password)
    if parts.username:
        params["username"] = unquote(parts.username)
    return params


def _sentinel_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"socket_timeout": 2, "socket_connect_timeout": 2}
    if settings.redis_sentinel_password:
        kwargs["password"] = settings.redis_sentinel_password
    return kwargs


def sync_client(settings: Settings, **kwargs: Any) -> redis.Redis:
    """A Redis client for threads and Celery tasks (``kwargs``: ``decode_responses``, timeouts…)."""
    if settings.redis_cluster:
        extra = _startup_nodes(settings, cluster.ClusterNode)
        return cast("redis.Redis", _patient(cluster.RedisCluster.from_url(settings.redis_url, **extra, **kwargs)))
    found = sentinels(settings)
    if not found:
        return redis.Redis.from_url(settings.redis_url, **kwargs)
    manager = sentinel.Sentinel(found, sentinel_kwargs=_sentinel_kwargs(settings))  # type: ignore[no-untyped-call]
    client = manager.master_for(  # type: ignore[no-untyped-call]
        settings.redis_sentinel_master, **_data_params(settings), **kwargs
    )
    return cast("redis.Redis", client)


def async_client(settings: Settings, *, max_connections: int | None = None, **kwargs: Any) -> aioredis.Redis:
    """A Redis client for an event loop. ``max_connections``: a bounded pool whose callers wait for a free
    connection (the API under a burst of SSE clients) instead of failing."""
    if settings.redis_cluster:  # max_connections is per node there, and past it a call fails (no waiting)
        per_node = {"max_connections": max_connections} if max_connections is not None else {}
        extra = _startup_nodes(settings, aiocluster.ClusterNode)
        client = aiocluster.RedisCluster.from_url(settings.redis_url, **extra, **per_node, **kwargs)
        return cast("aioredis.Redis", _patient(client))
    found = sentinels(settings)
    if not found:
        if max_connections is None:
            return aioredis.Redis.from_url(settings.redis_url, **kwargs)
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=max_connections, timeout=10, **kwargs
        )
        return aioredis.Redis(connection_pool=pool)
    manager = aiosentinel.Sentinel(found, sentinel_kwargs=_sentinel_kwargs(settings))  # type: ignore[no-untyped-call]
    if max_connections is not None:
        kwargs["max_connections"] = max_connections  # a sentinel pool cannot block: past it, calls fail
    return cast(
        "aioredis.Redis", manager.master_for(settings.redis_sentinel_master, **_data_params(settings), **kwargs)
    )


# Redirections and TRYAGAIN answers a cluster client follows before giving up; past half of them it waits 50 ms
# before each. redis-py's 16 allow about 0.4 s of TRYAGAIN: a script whose keys are on both sides of a slot being
# moved; 48 wait out 1.2 s of it, as a resharding moves a slot's keys in batches.
CLUSTER_REQUEST_TTL = 48

_Cluster = TypeVar("_Cluster", cluster.RedisCluster, aiocluster.RedisCluster)


def _patient(client: _Cluster) -> _Cluster:
    client.RedisClusterRequestTTL = CLUSTER_REQUEST_TTL
    return client


def broker_url(settings: Settings) -> str:
    """The Celery broker: ``GRAPHGATE_BROKER_URL``, else the state Redis (through its sentinels when set)."""
    if settings.broker_url:
        return settings.broker_url
    found = sentinels(settings)
    if not found:
        return settings.redis_url
    params = _data_params(settings)
    auth = f":{params['password']}@" if "password" in params else ""
    return ";".join(f"sentinel://{auth}{host}:{port}/{params['db']}" for host, port in found)


def broker_options(settings: Settings) -> dict[str, Any]:
    """The transport options the broker URL needs beyond graphgate's own (the Sentinel master's name)."""
    if settings.broker_url or not sentinels(settings):
        return {}
    options: dict[str, Any] = {"master_name": settings.redis_sentinel_master}
    if settings.redis_sentinel_password:
        options["sentinel_kwargs"] = {"password": settings.redis_sentinel_password}
    return options


def is_cluster(client: Any) -> bool:
    return isinstance(client, (aiocluster.RedisCluster, cluster.RedisCluster))


def primaries(client: Any) -> list[Any]:
    """Where a keyless command must run to see every key: each primary of a cluster, else [None] (the server)."""
    return list(client.get_primaries()) if is_cluster(client) else [None]


async def on_node(client: Any, node: Any, *command: Any) -> Any:
    """``command`` on ``node`` (one of ``primaries``): routed there on a cluster, sent as is otherwise."""
    if node is None:
        return await client.execute_command(*command)
    return await client.execute_command(*command, target_nodes=node)
