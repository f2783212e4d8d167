"""One batch of a session's entries: fold it into the task views, bring each task's chat up to date, record it.

For each batch (workers/dispatch/lanes.py takes it):

1. entries at or before the session's recorded ``eid`` are skipped (already applied: a redelivery);
2. the new events are folded into each task's ``TaskView`` (as recorded at that ``eid``);
3. for each task touched, its platform renders the view into messages with stable slots, and the chat is
   reconciled: a slot never posted is posted, a changed slot is edited, a slot no longer rendered is left;
4. the views and the new ``eid`` are recorded (one ``MULTI``); the lane acks only after that.

Recovery: a slot recorded as "post in flight" (no id) means a dispatcher stopped between a post and its
record; the platform is asked for it (``Platform.find``, Slack message metadata) and it is posted again
only when not found. A ``PermanentError`` ends the task's delivery with ``delivery.failed`` on its session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from graphgate.core.approvals import target_key
from graphgate.core.events import TERMINAL_EVENTS
from graphgate.core.platform import Binding, MessageGone, PermanentError, Platform, Posted, Tag
from graphgate.core.taskview import TaskView
from graphgate.workers.deliverystore import DeliveryStore, SessionDelivery
from graphgate.workers.dispatch.calls import Chat, ChatCalls
from graphgate.workers.dispatch.faults import Faults
from graphgate.workers.dispatch.reader import DeliveryEntry
from graphgate.workers.dispatch.stats import Stats
from graphgate.workers.dispatch.targets import Targets

log = logging.getLogger("graphgate.dispatcher")

UNDELIVERABLE = "undeliverable"  # delivery.failed error code of an entry given up after repeated failures
PLACE_SEP = "@"  # <task id>@<place>: the delivery key of a task's question in an approvers' chat


def place_key(task_id: str, place: Binding) -> str:
    return f"{task_id}{PLACE_SEP}{target_key(place)}"


class Reconciler:
    def __init__(self, store: DeliveryStore, targets: Targets, calls: ChatCalls, faults: Faults, stats: Stats) -> None:
        self.store = store
        self.targets = targets
        self.calls = calls
        self.faults = faults
        self.stats = stats

    async def deliver(self, state: SessionDelivery, batch: list[DeliveryEntry], fence: Callable[[], None]) -> None:
        """Apply the batch's new events to the task views, bring the chat up to date, record it all."""
        fresh = [e for e in batch if e.event is not None and state.is_new(e.event_id)]
        self.stats.skipped_entries += len(batch) - len(fresh)
        if not fresh:
            return
        touched: dict[str, DeliveryEntry] = {}  # task -> its last entry in the batch
        finished: set[str] = set()
        for entry in fresh:
            event = entry.event
            assert event is not None
            view = state.views.get(event.task_id)
            if view is None:
                info = await self.targets.info(entry.session_id, event.task_id)
                view = state.views[event.task_id] = TaskView(event.task_id, graph=info.graph if info else "")
            view.apply(event)
            touched[event.task_id] = entry
            if event.type in TERMINAL_EVENTS:
                finished.add(event.task_id)
        crash = self.faults.armed(e.event for e in fresh if e.event is not None)
        calls_before = self.stats.calls
        saved: set[str] = set()  # delivery keys whose records change: the tasks, and their approvers' places
        for task_id, entry in touched.items():
            for key, platform, binding in await self._chats(entry.session_id, task_id, state.views[task_id]):
                saved.add(key)
                if key in state.failed:
                    continue
                if platform is None:
                    await self.fail(
                        state,
                        key,
                        str(binding.get("platform")),
                        "platform_unavailable",
                        "this dispatcher has no configured platform for the binding",
                    )
                    continue
                chat = Chat(platform, binding, platform.channel_key(binding), state, key, fence)
                try:
                    await self._reconcile(chat, state.views[task_id], entry, crash)
                except PermanentError as exc:
                    await self.fail(state, key, platform.name, exc.code, str(exc))
        if crash and self.stats.calls > calls_before:
            self.faults.crash("after the batch's last accepted call")
        state.last_eid = fresh[-1].event_id
        await self.store.save_progress(state, set(touched) | saved, finished)
        for task_id in finished:
            self.targets.forget(state.session_id, task_id)

    async def _chats(self, session_id: str, task_id: str, view: TaskView) -> list[tuple[str, Platform | None, Binding]]:
        """Where the task is shown, each under its delivery key: its own chat (key: the task id), and every
        place an approval policy posted one of its questions to (key: ``<task id>@<place>``)."""
        chats: list[tuple[str, Platform | None, Binding]] = []
        platform, binding = await self.targets.of(session_id, task_id)
        if binding is not None:
            chats.append((task_id, platform, binding))
        for place in view.places:
            chats.append((place_key(task_id, place), self.targets.platforms.get(str(place.get("platform"))), place))
        return chats

    async def give_up(self, state: SessionDelivery, entry: DeliveryEntry, error: str) -> None:
        """Record the entry as applied without delivering it, and end its task's delivery with
        ``delivery.failed`` (error ``undeliverable``): its batch failed too often to go on trying."""
        if entry.event is None or not state.is_new(entry.event_id):
            return
        task_id = entry.event.task_id
        self.stats.given_up += 1
        if task_id not in state.failed:
            info = await self.targets.info(entry.session_id, task_id)
            platform = str((info.binding or {}).get("platform", "")) if info else ""
            await self.fail(state, task_id, platform, UNDELIVERABLE, error)
        finished = {task_id} if entry.event.type in TERMINAL_EVENTS else set()
        state.last_eid = entry.event_id
        await self.store.save_progress(state, {task_id}, finished)
        if finished:
            self.targets.forget(state.session_id, task_id)

    async def fail(self, state: SessionDelivery, key: str, platform: str, code: str, detail: str) -> None:
        """End the delivery of ``key`` (a task, or one approvers' place of it): nothing more is sent there;
        ``delivery.failed`` goes to the session."""
        self.stats.failures += 1
        state.failed[key] = code
        task_id, _, place = key.partition(PLACE_SEP)
        log.warning(
            "delivery of task %s to %s%s failed for good: %s",
            task_id,
            platform,
            f" ({place})" if place else "",
            detail or code,
        )
        await self.store.record_failure(state.session_id, task_id, platform, code, detail)

    async def _reconcile(self, chat: Chat, view: TaskView, entry: DeliveryEntry, crash: bool) -> None:
        """Make the chat show what the view says: post missing slots, edit changed ones."""
        slots = chat.slots
        messages = chat.platform.render(view, chat.binding)
        new = [m.slot for m in messages if not (slots.get(m.slot) and slots[m.slot].id)]
        last_new = new[-1] if new else None  # the fault injection fires after this one's post
        for message in messages:
            tag = Tag(chat.task_id, message.slot, entry.event_id)
            posted = slots.get(message.slot)
            if posted is not None and not posted.id:  # a post was in flight when a dispatcher stopped
                found = await self.calls.find(chat, tag)
                posted = slots[message.slot] = found if found else Posted("")
                if found:
                    log.info("task %s: found %s posted before a restart (%s)", chat.task_id, message.slot, found.id)
                    await self.store.save_posted(chat.state, chat.task_id)
            if posted is not None and posted.id:
                try:
                    await self.calls.edit(chat, message, tag)
                    continue
                except MessageGone:
                    log.info("task %s: %s was deleted in the chat; posting it again", chat.task_id, message.slot)
            await self.calls.post(chat, message, tag, crash_after=crash and message.slot == last_new)
            await self.calls.edit(chat, message, tag)  # when the post was partial
