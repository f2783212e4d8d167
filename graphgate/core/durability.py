"""Is the Redis that holds graphgate's state set up to keep it? Warnings for ``graphgate doctor`` and
``/readyz``, and the one setup they refuse: a Redis Cluster (not supported yet).

Task records, events, leases, delivery records and (with the Redis broker) queued runs live in Redis. Two
settings decide whether they survive: persistence (AOF, ``appendonly yes``, loses at most a second of writes
by default; RDB snapshots alone lose everything since the last one; neither loses everything on a restart)
and ``maxmemory-policy``, which must be ``noeviction``: any other policy lets Redis delete task records,
leases or stream entries when memory runs short, and a run whose lease was evicted is taken over by another
worker. The checks read ``INFO`` (which managed Redis services answer) and, where allowed, ``CONFIG GET
save``.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError


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
    "this Redis is a Redis Cluster node (cluster_enabled:1): graphgate keeps its state in one Redis primary "
    "(with replicas, and Sentinel for failover); Redis Cluster is not supported yet (docs/scaling.md)"
)


async def unsupported(client: aioredis.Redis) -> str | None:
    """Why graphgate cannot keep its state in the Redis behind ``client`` (a Redis Cluster node), or None.
    A standalone client on a cluster node fails at random (MOVED) once keys of other nodes' slots are used."""
    cluster = await client.info("cluster")
    return CLUSTER_UNSUPPORTED if str(cluster.get("cluster_enabled", "0")) == "1" else None


async def check_redis(client: aioredis.Redis) -> list[str]:
    """The durability warnings of the Redis behind ``client`` (empty when it keeps what it is given)."""
    info: dict[str, Any] = {**(await client.info("persistence")), **(await client.info("memory"))}
    try:
        raw = await client.config_get("save")
        save: str | None = str(raw.get("save", ""))
    except RedisError:  # CONFIG is often disabled on managed Redis; INFO still tells about AOF
        save = None
    return durability_warnings(info, save)
