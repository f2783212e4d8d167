"""Fault injection for tests: making a dispatcher die between a platform call and the ack.

The dispatcher calls two hooks of a ``Faults``: ``armed`` (is this batch to crash?) and ``crash``. Production
runs the base class, which is inert: ``armed`` is always False, so no batch ever asks for a crash, and
``crash`` does nothing. Only ``GRAPHGATE_DISPATCHER_CRASH_AFTER_POST=<event type>`` (tests) selects
``CrashAfterPost``, which SIGKILLs the process while it delivers a batch holding an event of that type:
right after the platform accepted the batch's last new message and before its id is recorded (or, when the
batch posts nothing new, after the batch's last accepted call), so always between a platform call and the
ack. tests/e2e/test_slack_flow.py uses it to check that recovery posts nothing twice.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable

from graphgate.core.events import Event
from graphgate.core.settings import Settings

log = logging.getLogger("graphgate.dispatcher")


class Faults:
    """The fault injection hooks. This base is inert (production): nothing is ever armed or crashes."""

    def armed(self, events: Iterable[Event]) -> bool:
        """Whether the batch of these events is to crash after its last post."""
        return False

    def crash(self, where: str) -> None:
        """End the process abruptly (never called when ``armed`` is always False)."""


class CrashAfterPost(Faults):
    """SIGKILL after a post of a batch holding an event of ``event_type``."""

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type

    def armed(self, events: Iterable[Event]) -> bool:
        return any(event.type.value == self.event_type for event in events)

    def crash(self, where: str) -> None:
        log.critical("FAULT INJECTION: SIGKILL %s", where)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def faults_from_settings(settings: Settings) -> Faults:
    """``CrashAfterPost`` when ``dispatcher_crash_after_post`` is set (tests), else the inert ``Faults``."""
    event_type = (settings.dispatcher_crash_after_post or "").strip()
    if not event_type:
        return Faults()
    log.warning("FAULT INJECTION: will SIGKILL itself after a post for %r", event_type)
    return CrashAfterPost(event_type)
