"""Telegram's update handlers in-process, on a real task service: which messages are for the bot, the
help text, and the starter check — in a group only the member who started a task answers or cancels it,
whether they press a key, type an answer or send /cancel."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import CallbackQuery, Message

from graphgate.connectors.commands import CommandTarget
from graphgate.connectors.telegram.addressing import Addressed, addressed
from graphgate.connectors.telegram.answers import Answers, starter_refusal
from graphgate.connectors.telegram.chats import TelegramChat, answer_data, cancel_data
from graphgate.connectors.telegram.keys import Keys
from graphgate.connectors.telegram.replies import Replies
from graphgate.connectors.telegram.router import Router, help_text
from graphgate.connectors.telegram.services import TelegramServices
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.testing.world import QUESTION, World

BOT_ID, BOT = 123456789, "graphgate_test_bot"
ADA, BO = 7, 8
GROUP = TelegramChat(-1001, "supergroup")
ONLY_ADA = "Only Ada can answer or cancel this task."


class RecordingBot:
    """The Bot API calls the handlers make, recorded instead of sent."""

    username = BOT

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.press_answers: list[tuple[str | None, bool]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        self.sent.append({"chat_id": chat_id, "text": text, **kwargs})

    async def answer_callback_query(self, query_id: str, text: str | None = None, show_alert: bool = False) -> None:
        self.press_answers.append((text, show_alert))


def task(binding: dict[str, Any] | None) -> TaskRecord:
    return TaskRecord("t1", "s1", "telegram:-1001", "plain", TaskStatus.WAITING_INPUT, binding=binding)


def test_in_a_group_only_the_starter_may_answer_or_cancel() -> None:
    started = task(GROUP.binding(ADA, "Ada", 1))
    assert starter_refusal(started, private=False, user_id=ADA) is None
    assert starter_refusal(started, private=False, user_id=BO) == ONLY_ADA
    assert starter_refusal(started, private=False, user_id=None) == ONLY_ADA
    assert starter_refusal(started, private=True, user_id=BO) is None  # a private chat is one person
    assert starter_refusal(task(None), private=False, user_id=BO) is None  # started elsewhere (the API)
    unnamed = task({**GROUP.binding(ADA, "", 1), "user_name": ""})
    assert starter_refusal(unnamed, private=False, user_id=BO) == (
        "Only the person who started it can answer or cancel this task."
    )


def message(text: str, chat_type: str = "supergroup", reply_to_bot: bool = False) -> Message:
    entities = []
    for word in text.split():
        offset = text.index(word)
        if word.startswith("/") and offset == 0:
            entities.append({"type": "bot_command", "offset": 0, "length": len(word)})
        elif word.startswith("@"):
            entities.append({"type": "mention", "offset": offset, "length": len(word)})
    data: dict[str, Any] = {
        "message_id": 10,
        "date": 0,
        "chat": {"id": -1001 if chat_type != "private" else ADA, "type": chat_type},
        "from": {"id": ADA, "is_bot": False, "first_name": "Ada"},
        "text": text,
        "entities": entities,
    }
    if reply_to_bot:
        data["reply_to_message"] = {
            "message_id": 9,
            "date": 0,
            "chat": data["chat"],
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Graphgate", "username": BOT},
            "text": "a question",
        }
    return Message.de_json(data, None)


@pytest.mark.parametrize(
    ("text", "chat_type", "reply_to_bot", "expected"),
    [
        ("write a brief", "private", False, Addressed(None, "write a brief")),
        ("write a brief", "supergroup", False, None),  # group chatter
        ("write a brief", "supergroup", True, Addressed(None, "write a brief")),
        ("/Ask@graphgate_test_bot tides   and moons", "supergroup", False, Addressed("ask", "tides and moons")),
        ("/ask@other_bot tides", "supergroup", False, None),  # another bot's command
        ("@graphgate_test_bot tides", "group", False, Addressed(None, "tides")),
        ("@someone_else tides", "group", False, None),
    ],
)
def test_what_a_message_asks_of_the_bot(
    text: str, chat_type: str, reply_to_bot: bool, expected: Addressed | None
) -> None:
    assert addressed(message(text, chat_type, reply_to_bot), BOT, BOT_ID) == expected


def test_help_lists_each_command_with_its_description_or_graph() -> None:
    text = help_text(
        {
            "ask": CommandTarget(graph="writer", mode="auto", description="write <an> article"),
            "echo": CommandTarget(graph=None, mode="auto"),
        }
    )
    assert "/ask <i>request</i> — write &lt;an&gt; article" in text
    assert "/echo <i>request</i> — runs the default graph" in text
    assert "/new — start a fresh conversation" in text


# --- the starter check on a real task service ------------------------------------------------------------


class Handlers:
    """Keys, answers and the router of one bot, as the connector wires them, on ``world``'s services."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.bot = RecordingBot()
        services = TelegramServices.of(world.services)
        self.services = services
        replies = Replies(self.bot)
        self.answers = Answers(lambda: services, replies, BOT_ID)
        self.keys = Keys(self.bot, lambda: services, self.answers)
        self.router = Router(world.settings, lambda: services, self.answers, replies)

    def waiting(self) -> TaskRecord:
        """A task Ada started in the group's current session, waiting on one question."""
        session = self.world.run(self.services.store.current(GROUP)).session_id
        record = self.world.waiting(
            GROUP.principal, [QUESTION], graph="plain", session_id=session, binding=GROUP.binding(ADA, "Ada", 1)
        )
        self.world.run(self.services.store.started(GROUP, session, "plain", record.id))
        return record

    def press(self, user: int, data: str) -> tuple[str | None, bool]:
        query = CallbackQuery.de_json(
            {
                "id": f"q{len(self.bot.press_answers)}",
                "from": {"id": user, "is_bot": False, "first_name": "Ada" if user == ADA else "Bo"},
                "chat_instance": "1",
                "data": data,
                "message": {"message_id": 20, "date": 0, "chat": {"id": GROUP.chat_id, "type": GROUP.chat_type}},
            },
            None,
        )
        self.world.run(self.keys.on_callback(query))
        return self.bot.press_answers[-1]

    def status(self, record: TaskRecord) -> TaskStatus:
        return self.world.task(GROUP.principal, record.id).status


def from_user(user: int, text: str) -> Message:
    msg = message(text)
    return Message.de_json({**msg.to_dict(), "from": {"id": user, "is_bot": False, "first_name": "Bo"}}, None)


def test_keys_pressed_by_another_member_change_nothing(world: World) -> None:
    h = Handlers(world)
    record = h.waiting()
    assert h.press(BO, answer_data(record.id, "i0", 0)) == (ONLY_ADA, True)
    assert h.press(BO, cancel_data(record.id)) == (ONLY_ADA, True)
    assert h.status(record) == TaskStatus.WAITING_INPUT and world.enqueued == []

    assert h.press(ADA, answer_data(record.id, "i0", 0)) == ("Answered: approve", False)
    assert h.status(record) == TaskStatus.QUEUED and world.enqueued == [record.id]
    assert h.press(ADA, answer_data(record.id, "i0", 1)) == (
        "This question was already answered; nothing was resumed.",
        False,
    )


def test_typed_answers_and_cancel_by_another_member_change_nothing(world: World) -> None:
    h = Handlers(world)
    record = h.waiting()
    world.run(h.answers.typed(GROUP, from_user(BO, "approve"), record, "approve"))
    world.run(h.router.on_addressed(GROUP, from_user(BO, "/cancel"), Addressed("cancel", ""), BOT))
    assert [m["text"] for m in h.bot.sent] == [ONLY_ADA, ONLY_ADA]
    assert h.status(record) == TaskStatus.WAITING_INPUT and world.enqueued == []

    world.run(h.answers.typed(GROUP, from_user(ADA, "reject"), record, "reject"))
    assert h.status(record) == TaskStatus.QUEUED and world.enqueued == [record.id]
    assert len(h.bot.sent) == 2  # the starter's answer was taken without a note


def test_the_starter_cancels_with_a_command(world: World) -> None:
    h = Handlers(world)
    record = h.waiting()
    world.run(h.router.on_addressed(GROUP, from_user(ADA, "/cancel"), Addressed("cancel", ""), BOT))
    assert h.status(record) == TaskStatus.CANCELLED and h.bot.sent == []
