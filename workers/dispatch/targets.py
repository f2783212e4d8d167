"""Where a task is delivered: its chat binding and the platform that binding names, read once and cached.

A task's binding is written with its record by its connector and never changes, so the dispatcher reads
it (with the task's graph) once per task and keeps it until the task ends or the cache grows too large.
"""

from __future__ import annotations

from graphgate.core.platform import Binding, Platform, PlatformRegistry
from graphgate.workers.deliverystore import DeliveryStore, TaskInfo
from graphgate.workers.dispatch.reader import DeliveryEntry

INFO_CACHE_SIZE = 10_000  # tasks whose record is cached; the whole cache is dropped above it


class Targets:
    def __init__(self, store: DeliveryStore, platforms: PlatformRegistry) -> None:
        self.store = store
        self.platforms = platforms
        self._infos: dict[tuple[str, str], TaskInfo | None] = {}

    async def info(self, session_id: str, task_id: str) -> TaskInfo | None:
        """The task's binding and graph (None when its record is gone)."""
        key = (session_id, task_id)
        if key not in self._infos:
            self._infos[key] = await self.store.task_info(session_id, task_id)
        return self._infos[key]

    async def of(self, session_id: str, task_id: str) -> tuple[Platform | None, Binding | None]:
        """The task's platform (None when this process has none by that name) and binding (None: not chat-bound)."""
        info = await self.info(session_id, task_id)
        binding = info.binding if info else None
        if not binding:
            return None, None
        return self.platforms.get(str(binding.get("platform", ""))), binding

    async def channel_of(self, entry: DeliveryEntry) -> str | None:
        """The channel the entry's task is paced by, if it is delivered anywhere."""
        if entry.event is None:
            return None
        platform, binding = await self.of(entry.session_id, entry.event.task_id)
        return platform.channel_key(binding) if platform and binding else None

    def forget(self, session_id: str, task_id: str) -> None:
        """The task ended: no entry of its can follow."""
        self._infos.pop((session_id, task_id), None)

    def trim(self) -> None:
        if len(self._infos) > INFO_CACHE_SIZE:
            self._infos.clear()
