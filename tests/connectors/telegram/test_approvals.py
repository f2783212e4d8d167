"""Tool approvals and several questions at once in Telegram: what the renderer draws (keys, arguments within
Telegram's limits, the answer once given), the buttons' callback data, and the fake Bot API's force reply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from telegram import Bot, ForceReply, ReplyParameters
from telegram.error import BadRequest

from graphgate.connectors.telegram import html
from graphgate.connectors.telegram.answers import json_object
from graphgate.connectors.telegram.chats import (
    CALLBACK_DATA_LIMIT,
    interrupt_token,
    parse_callback,
    question_of_buttons,
    task_token,
)
from graphgate.connectors.telegram.render import render_task
from graphgate.core.errors import InvalidInput
from graphgate.core.events import Event, EventType
from graphgate.core.interrupts import interrupt_data, resume_value
from graphgate.core.platform import Message
from graphgate.core.taskview import TaskView
from graphgate.testing.fake_bot_api import TEXT_LIMIT, FakeBotApi, parse_html, utf16

TASK = "0b8e6a52-5d1f-4c0e-9d0a-2f6f3f1c7a10"
EMAIL = {"to": "ann@example.com", "subject": "Q3 report", "body": "Hi Ann,\n\nQ3 report.\n\nBest regards"}


def approval(
    interrupt_id: str, *calls: dict[str, Any], allowed: tuple[str, ...] = ("approve", "edit", "reject")
) -> dict[str, Any]:
    """The ``interrupt`` event data of HumanInTheLoopMiddleware's request for ``calls`` of send_email."""
    value = {
        "action_requests": [
            {"name": "send_email", "args": args, "description": f"Send an email to {args['to']}?"} for args in calls
        ],
        "review_configs": [{"action_name": "send_email", "allowed_decisions": list(allowed)}],
    }
    return interrupt_data(interrupt_id, value)


def view_of(*events: tuple[EventType, dict]) -> TaskView:
    view = TaskView(TASK, graph="agent")
    for kind, data in events:
        view.apply(Event(kind, view.task_id, "telegram:42", data))
    return view


def binding(chat: int = 42, chat_type: str = "private") -> dict[str, object]:
    return {
        "platform": "telegram",
        "chat": chat,
        "chat_type": chat_type,
        "thread": None,
        "user": 7,
        "user_name": "Ada",
        "reply_to": None,
    }


def question(view: TaskView, interrupt_id: str, chat_type: str = "private") -> Message:
    messages = {m.slot: m for m in render_task(view, binding(42 if chat_type == "private" else -5, chat_type))}
    return messages[f"question:{interrupt_id}"]


def keys(message: Message) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in message.body.get("keyboard", []) for b in row]


def test_a_tool_approval_shows_the_call_and_approve_edit_reject() -> None:
    data = approval("i" * 32, EMAIL)
    view = view_of((EventType.TASK_STARTED, {"run": 1}), (EventType.INTERRUPT, data))
    message = question(view, "i" * 32)
    text = message.body["text"]
    assert text.startswith("🔐 <b>Approve the tool call <code>send_email</code>?</b>")
    shown = parse_html(text)  # Telegram's parser accepts it
    assert "send_email" in shown and '"to": "ann@example.com"' in shown and '"subject": "Q3 report"' in shown
    assert "Send an email to ann@example.com?" in shown
    assert "reject: why" in shown and 'edit {"to": "…"}' in shown  # the reply words
    assert [label for label, _ in keys(message)] == ["Approve", "Edit", "Reject"]
    presses = [parse_callback(d) for _, d in keys(message)]
    assert [(p.action, p.option) for p in presses if p] == [("answer", 0), ("edit", 0), ("answer", 1)]
    for _, d in keys(message):
        assert 1 <= len(d.encode()) <= CALLBACK_DATA_LIMIT
    assert all(p and p.token == task_token(TASK) and p.interrupt == interrupt_token("i" * 32) for p in presses)
    # the option a key carries is the decision the interrupt's options list at that index
    assert [data["options"][p.option]["value"] for p in presses if p and p.action == "answer"] == ["approve", "reject"]


def test_edit_is_offered_only_for_one_editable_call() -> None:
    two = approval("t" * 32, EMAIL, {**EMAIL, "to": "bob@example.com"})
    fixed = approval("f" * 32, EMAIL, allowed=("approve", "reject"))
    view = view_of((EventType.TASK_STARTED, {"run": 1}), (EventType.INTERRUPT, two))
    message = question(view, "t" * 32)
    assert [label for label, _ in keys(message)] == ["Approve", "Reject"]
    assert "edit {" not in parse_html(message.body["text"])
    assert "1. send_email" in parse_html(message.body["text"]) and "bob@example.com" in message.body["text"]
    view = view_of((EventType.TASK_STARTED, {"run": 1}), (EventType.INTERRUPT, fixed))
    assert [label for label, _ in keys(question(view, "f" * 32))] == ["Approve", "Reject"]


def test_long_arguments_are_cut_before_escaping_and_fit_one_message() -> None:
    body = "<b>&amp; 'quoted' & <tags>\n" * 900  # escaping makes it longer; cut in half it must not break
    calls = [{"to": f"p{i}@example.com", "subject": "S & <T>", "body": body} for i in range(3)]
    view = view_of((EventType.TASK_STARTED, {"run": 1}), (EventType.INTERRUPT, approval("l" * 32, *calls)))
    message = question(view, "l" * 32, "supergroup")
    text = message.body["text"]
    assert utf16(text) <= TEXT_LIMIT and html.well_formed(text)
    shown = parse_html(text)
    for i in range(3):  # every call is still listed, each with the start of its arguments
        assert f"{i + 1}. send_email" in shown and f'"to": "p{i}@example.com"' in shown
    assert "…" in shown and "Ada: tap a key" in shown


def test_the_answer_replaces_the_keys() -> None:
    data = approval("a" * 32, EMAIL)
    answer = resume_value(data, "reject: wrong recipient")
    view = view_of(
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, data),
        (EventType.TASK_RESUMED, {"interrupt_id": "a" * 32, "answer": answer, "by": "telegram:user:7"}),
    )
    message = question(view, "a" * 32)
    assert "keyboard" not in message.body
    assert message.body["text"].endswith("✅ answered: <b>Rejected: wrong recipient</b>")
    approved = view_of(
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, data),
        (EventType.TASK_RESUMED, {"interrupt_id": "a" * 32, "answer": resume_value(data, "approve"), "by": "x"}),
    )
    assert question(approved, "a" * 32).body["text"].endswith("✅ answered: <b>Approved</b>")


def test_every_waiting_question_of_the_pause_has_its_own_keys() -> None:
    legal = interrupt_data(
        "l" * 32, {"question": "Legal review?", "options": ["approve", "reject"], "reviewer": "legal"}
    )
    finance = interrupt_data("f" * 32, {"question": "Finance review?", "options": ["approve", "reject"]})
    view = view_of((EventType.TASK_STARTED, {"run": 1}), (EventType.INTERRUPT, legal), (EventType.INTERRUPT, finance))
    first, second = question(view, "l" * 32), question(view, "f" * 32)
    assert [label for label, _ in keys(first)] == [label for label, _ in keys(second)] == ["approve", "reject"]
    assert {question_of_buttons([d]) for _, d in keys(first)} == {(task_token(TASK), interrupt_token("l" * 32))}
    assert {question_of_buttons([d]) for _, d in keys(second)} == {(task_token(TASK), interrupt_token("f" * 32))}
    view.apply(
        Event(
            EventType.INTERRUPT_ANSWERED,
            TASK,
            "telegram:42",
            {"interrupt_id": "l" * 32, "answer": "approve", "by": "x", "pending": ["f" * 32]},
        )
    )
    first, second = question(view, "l" * 32), question(view, "f" * 32)
    assert "keyboard" not in first.body and "answered: <b>approve</b>" in first.body["text"]
    assert [label for label, _ in keys(second)] == ["approve", "reject"]


def test_a_question_message_names_its_interrupt_through_its_keys() -> None:
    view = view_of((EventType.TASK_STARTED, {"run": 1}), (EventType.INTERRUPT, approval("q" * 32, EMAIL)))
    data = [d for _, d in keys(question(view, "q" * 32))]
    assert question_of_buttons(data) == (task_token(TASK), interrupt_token("q" * 32))
    assert question_of_buttons(["c:" + task_token(TASK)]) is None and question_of_buttons([]) is None


def test_json_object_says_why_a_reply_is_not_one() -> None:
    assert json_object('{"to": "bob@example.com"}') == {"to": "bob@example.com"}
    for text, why in (
        ("{to: bob}", "Expecting property name"),
        ('["bob"]', "an array"),
        ('"bob"', "a string"),
        ("null", "null"),
    ):
        with pytest.raises(InvalidInput, match=why):
            json_object(text)


# --- the fake Bot API's force reply, through python-telegram-bot ------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotApi]:
    api = FakeBotApi().start()
    yield api
    api.stop()


def test_force_reply_is_sent_as_telegram_takes_it(fake: FakeBotApi) -> None:
    chat = 60_001

    async def go() -> None:
        bot = Bot(fake.token, base_url=f"{fake.url}/bot")
        async with bot:
            asked = await bot.send_message(
                chat,
                "<b>new arguments?</b>",
                parse_mode="HTML",
                reply_markup=ForceReply(input_field_placeholder='{"to": "…"}'),
                reply_parameters=ReplyParameters(1, allow_sending_without_reply=True),
            )
            assert asked.message_id > 0
            with pytest.raises(BadRequest, match="(?i)reply_markup_invalid"):
                await bot.send_message(chat, "x", reply_markup=ForceReply(input_field_placeholder="y" * 65))

    asyncio.run(go())
    [prompt] = fake.bot_messages(chat)
    assert prompt.force_reply == {"force_reply": True, "input_field_placeholder": '{"to": "…"}'}
    assert prompt.text == "new arguments?" and prompt.keyboard == [] and prompt.reply_to == 1
    reply = fake.message_update(fake.chat(chat), fake.user(chat), '{"to": "bob@example.com"}', reply_to=prompt)
    replied = reply["message"]["reply_to_message"]
    assert replied["message_id"] == prompt.message_id and replied["from"]["is_bot"] is True
    assert json.loads(reply["message"]["text"]) == {"to": "bob@example.com"}
