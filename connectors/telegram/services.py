"""What the Telegram update handlers need from the process they run in.

The webhook route builds it anew for each app lifespan (connectors/telegram/webhook.py), the polling
process once (connectors/telegram/polling.py); the handlers ask for it per update through a callable, so
they always use the services of the running app.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphgate.connectors.telegram.store import TelegramStore
from graphgate.core.attachments import AttachmentStore
from graphgate.core.feedback import FeedbackService
from graphgate.core.inbound import InboundLog
from graphgate.core.schedules import ScheduleService
from graphgate.core.services import Services
from graphgate.core.tasks import TaskService


@dataclass
class TelegramServices:
    """The task service, the log of updates already handled, the chats' own bookkeeping, feedback, schedules."""

    tasks: TaskService
    inbound: InboundLog
    store: TelegramStore
    feedback: FeedbackService
    schedules: ScheduleService
    attachments: AttachmentStore

    @classmethod
    def of(cls, services: Services) -> TelegramServices:
        return cls(
            tasks=services.tasks,
            inbound=services.inbound,
            store=TelegramStore(services.redis, services.settings),
            feedback=services.feedback,
            schedules=services.schedules,
            attachments=services.attachments,
        )
