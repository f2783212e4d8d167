"""Is the Redis that holds graphgate's state set up to keep it? Warnings for ``graphgate doctor`` and
``/readyz``, and the setups they refuse: a Redis Cluster node used as one Redis, and the other way round.

Task records, events, leases, delivery records and (with the Redis broker) queued runs live in Redis. Two
settings decide whether they survive: persistence (AOF, ``appendonly yes``, loses at most a second of writes
by default; RDB snapshots alone lose everything since the last one; neither loses everything on a restart)
and ``maxmemory-policy``, which must be ``noeviction``: any other policy lets Redis delete task records,
leases or stream entries when memory runs short, and a run whose lease was evicted is taken over by another
worker. The checks read ``INFO`` (which managed Redis services answer) and, where allowed, ``CONFIG GET
save``. On a Redis Cluster every primary is asked.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from graphgate.core import connections


def durability_warnings(info: dict[str, Any], save: str | None) -> list[str]:
    """What is wrong with the Redis described by ``info`` (``INFO persistence`` and ``INFO memory`` merged)
    and its ``save`` setting (None when ``CONFIG GET`` is not allowed)."""
    warnings = []
    if str(info.get("aof_enabled", "0")) != "1":
        if save:
            warnings.append(
                f"Redis writes only RDB snapshots (save {save!r}): a crash loses what was written since the last "
                "one (queued runs, task records, events); run it with appendonly yes"
            )
        elif save is not None:
            warnings.append(
                "Redis has no persistence (appendonly no, save ''): a restart loses every queued run, task record "
                "and event; run it with appendonly yes"
            )
        else:
            warnings.append("Redis has no AOF (appendonly no): a crash loses recent writes; run it with appendonly yes")
    policy = str(info.get("maxmemory_policy") or "noeviction")
    if policy != "noeviction":
        warnings.append(
            f"Redis maxmemory-policy is {policy}: under memory pressure it may evict task records, run leases "
            "and events; set it to noeviction"
        )
    return warnings


CLUSTER_UNSUPPORTED = (
    "this Redis is a Redis Cluster node (cluster_enabled:1) and GRAPHGATE_REDIS_CLUSTER is off: set it to use "
    "the cluster (a client of one node fails at random, MOVED, once keys of other nodes' slots are used)"
)


async def unsupported(client: aioredis.Redis) -> str | None:
    """Why graphgate cannot keep its state in the Redis behind ``client`` as configured, or None: a cluster node
    reached by a client of one server. (A cluster client of a single server does not even connect: redis-py says
    "Cluster mode is not enabled on this node", the error the caller reports.)"""
    if connections.is_cluster(client):
        return None
    cluster = await client.info("cluster")
    return CLUSTER_UNSUPPORTED if str(cluster.get("cluster_enabled", "0")) == "1" else None


async def check_redis(client: aioredis.Redis) -> list[str]:
    """The durability warnings of the Redis behind ``client`` (empty when it keeps what it is given): of each
    primary on a cluster, named."""
    warnings: list[str] = []
    for node in connections.primaries(client):
        info: dict[str, Any] = {
            **(await connections.on_node(client, node, "INFO", "persistence")),
            **(await connections.on_node(client, node, "INFO", "memory")),
        }
        try:
            raw = await connections.on_node(client, node, "CONFIG", "GET", "save")
            save: str | None = str(raw.get("save", ""))
        except RedisError:  # CONFIG is often disabled on managed Redis; INFO still tells about AOF
            save = None
        where = f"{node.name}: " if node is not None else ""
        warnings += [where + w for w in durability_warnings(info, save)]
    return warnings
