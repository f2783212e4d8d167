"""Redis Cluster on loopback for tests: N primaries (and optional replicas), each a private ``redis-server
--cluster-enabled yes`` (graphgate/testing/stack.py's ``RedisServer``), joined with ``redis-cli --cluster create``.

``migrate_slot`` moves one slot and its live keys to another primary the way ``redis-cli --cluster reshard``
does (``CLUSTER SETSLOT IMPORTING/MIGRATING``, ``MIGRATE`` in batches, ``CLUSTER SETSLOT NODE``), with a hook
between the steps so a test can run graphgate while the slot is half moved (clients then get ``ASK`` and
``TRYAGAIN`` answers) and check that no event or chat post is lost or repeated.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from graphgate.cli.processes import free_port, wait_until
from graphgate.testing.stack import RedisServer

SLOTS = 16384


class RedisCluster:
    """``primaries`` primaries with ``replicas`` replicas each, every slot assigned, ``cluster_state:ok``."""

    def __init__(
        self,
        workdir: Path,
        primaries: int = 3,
        replicas: int = 0,
        appendonly: bool = False,
        node_timeout_ms: int = 2000,
    ) -> None:
        if primaries < 3:
            raise ValueError("redis-cli --cluster create needs at least 3 primaries")
        self.workdir = workdir
        self.primaries_count = primaries
        self.replicas = replicas
        self.nodes: list[RedisServer] = []  # primaries first (as created; a failover may change roles), then replicas
        for n in range(primaries * (1 + replicas)):
            # the bus port is set explicitly: the default, port + 10000, overflows for high ephemeral ports
            extra = [
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(free_port()),
                "--cluster-node-timeout", str(node_timeout_ms),
                "--cluster-require-full-coverage", "yes",
            ]  # fmt: skip
            self.nodes.append(RedisServer(workdir / f"node{n}", appendonly=appendonly, extra=extra))

    @property
    def url(self) -> str:
        """A startup node's URL, for ``redis.cluster.RedisCluster.from_url`` (any node leads to all of them)."""
        return self.nodes[0].url

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", node.port) for node in self.nodes]

    def client(self, node: RedisServer, **kwargs: object) -> redis.Redis:
        """A plain (non-cluster) client of one node, for CLUSTER commands and looking at one node's keys."""
        return redis.Redis(port=node.port, decode_responses=True, **kwargs)  # type: ignore[arg-type]

    def command(self, node: RedisServer, *args: object) -> Any:
        """One command sent to ``node`` itself (``CLUSTER ...``, ``MIGRATE``), not routed by slot."""
        return self.client(node).execute_command(*args)  # type: ignore[no-untyped-call]

    # --- life -----------------------------------------------------------------------------------------

    def start(self) -> RedisCluster:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed")
        for node in self.nodes:
            node.start()
        done = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout}{done.stderr}")
        if not wait_until(self._ready, 30, 0.1):
            self.stop()
            raise RuntimeError("the cluster did not reach cluster_state:ok on every node")
        return self

    def _ready(self) -> bool:
        """Every node says ok and knows every node, and the replicas are in sync with their primaries."""
        try:
            for node in self.nodes:
                client = self.client(node)
                if client.cluster("INFO")["cluster_state"] != "ok":
                    return False
                if len(client.cluster("NODES")) != len(self.nodes):
                    return False
                if node not in self.primaries() and client.info("replication").get("master_link_status") != "up":
                    return False
            return True
        except redis.RedisError:
            return False

    def stop(self) -> None:
        for node in self.nodes:
            try:
                node.stop()
            except subprocess.TimeoutExpired:
                if node.proc is not None:
                    node.proc.kill()
                    node.proc.wait(10)
                node.proc = None

    # --- where things are -----------------------------------------------------------------------------

    def node_id(self, node: RedisServer) -> str:
        return str(self.command(node, "CLUSTER", "MYID"))

    def primaries(self) -> list[RedisServer]:
        """The nodes that are primaries now (asked of each live node)."""
        found = []
        for node in self.nodes:
            if node.proc is None:
                continue
            try:
                if self.client(node).info("replication").get("role") == "master":
                    found.append(node)
            except redis.RedisError:
                continue
        return found

    def keyslot(self, key: str) -> int:
        return int(self.command(self.nodes[0], "CLUSTER", "KEYSLOT", key))

    def owner(self, slot: int) -> RedisServer:
        """The primary serving ``slot`` (as the first live node sees it)."""
        by_port = {node.port: node for node in self.nodes}
        live = next(node for node in self.nodes if node.proc is not None)
        for start, end, primary, *_ in self.command(live, "CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return by_port[int(primary[1])]
        raise LookupError(f"slot {slot} is not served")

    # --- moving a slot --------------------------------------------------------------------------------

    def migrate_slot(
        self,
        slot: int,
        to_node: RedisServer,
        *,
        batch: int = 10,
        between: Callable[[str], None] | None = None,
    ) -> int:
        """Move ``slot`` with its keys to the primary ``to_node``; how many keys moved.

        ``between(step)`` is called while the slot is half moved: ``"marked"`` (both sides know, no key moved
        yet), then ``"batch"`` after each ``MIGRATE`` of at most ``batch`` keys, and ``"moved"`` once every key
        is on ``to_node`` but before ownership changes. Meanwhile a key still on the source is served there,
        a key already moved gets ``ASK`` (the client retries on ``to_node``), and a multi-key command over keys
        on both sides gets ``TRYAGAIN``.
        """
        source = self.owner(slot)
        if source is to_node:
            return 0
        step = between or (lambda _: None)
        src_id, dst_id = self.node_id(source), self.node_id(to_node)
        self.command(to_node, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        self.command(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        step("marked")
        moved = 0
        while True:
            keys = self.command(source, "CLUSTER", "GETKEYSINSLOT", slot, batch)
            if not keys:
                break
            self.command(source, "MIGRATE", "127.0.0.1", to_node.port, "", 0, 5000, "KEYS", *keys)
            moved += len(keys)
            step("batch")
        step("moved")
        # the new owner first, then the old one, then everyone else (as redis-cli does): no moment with no owner
        self.command(to_node, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        self.command(source, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        for node in self.primaries():
            if node is not source and node is not to_node:
                self.command(node, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        if not wait_until(lambda: all(self._sees_owner(n, slot, to_node) for n in self.nodes if n.proc), 10, 0.05):
            raise RuntimeError(f"the nodes did not agree that slot {slot} moved")
        return moved

    def _sees_owner(self, node: RedisServer, slot: int, owner: RedisServer) -> bool:
        try:
            for start, end, primary, *_ in self.command(node, "CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    return int(primary[1]) == owner.port
        except redis.RedisError:
            return False
        return False
