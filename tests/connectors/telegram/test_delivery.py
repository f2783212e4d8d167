"""The Telegram platform against the fake Bot API over real HTTP: what each Bot API answer becomes for the
dispatcher, and the messages a task view renders to. The fake's flood limits and the platform's own flood
control run on one fake clock: a test moves it past a chat's one-message-a-second instead of waiting."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest

from graphgate.connectors.telegram.chats import (
    CALLBACK_DATA_LIMIT,
    parse_callback,
    task_token,
)
from graphgate.connectors.telegram.delivery import NOTHING, TelegramPlatform
from graphgate.connectors.telegram.flood import FloodControl
from graphgate.connectors.telegram.render import render_task
from graphgate.core.events import Event, EventType
from graphgate.core.platform import (
    Message,
    MessageGone,
    PermanentError,
    Posted,
    RateLimited,
    Tag,
)
from graphgate.core.settings import Settings
from graphgate.core.taskview import TaskView
from graphgate.testing.clock import FakeClock
from graphgate.testing.fake_bot_api import TEXT_LIMIT, FakeBotApi, utf16

TAG = Tag("task-1", "status", "1-0")
CHAT_SECOND = 1.05  # past the fake's refill of a chat's one message a second
_chats = itertools.count(50_001)
clock = FakeClock()  # the fake Bot API's and the platforms' time


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotApi]:
    api = FakeBotApi(clock=clock).start()
    yield api
    api.stop()


@pytest.fixture(autouse=True)
def quiet_minute() -> None:
    """Each test starts a minute after the last: no flood window of an earlier test is still open."""
    clock.now += 60.0


def platform_for(fake: FakeBotApi, **settings: object) -> TelegramPlatform:
    return TelegramPlatform(
        Settings(telegram_bot_token=fake.token, telegram_api_url=fake.url, **settings),
        flood=FloodControl(clock=clock, sleep=clock.sleep),
    )


def binding(chat: int, chat_type: str = "private") -> dict[str, object]:
    return {
        "platform": "telegram",
        "chat": chat,
        "chat_type": chat_type,
        "thread": None,
        "user": 7,
        "user_name": "Ada",
        "reply_to": None,
    }


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_post_edit_and_unchanged_edit(fake: FakeBotApi) -> None:
    chat = next(_chats)

    async def go() -> None:
        p = platform_for(fake)
        try:
            body = {"text": "<b>hi</b> &amp; bye", "keyboard": [[{"text": "Cancel", "callback_data": "c:abc"}]]}
            posted = await p.post(binding(chat), Message("status", body), TAG)
            await clock.sleep(CHAT_SECOND)
            again = await p.edit(binding(chat), posted, Message("status", body), TAG)  # "message is not modified"
            assert again.id == posted.id
            await clock.sleep(CHAT_SECOND)
            await p.edit(binding(chat), posted, Message("status", {"text": "<i>done</i>"}), TAG)
        finally:
            await p.close()

    run(go())
    msg = fake.bot_messages(chat)[0]
    assert msg.text == "done" and msg.keyboard == []  # an edit without a keyboard removes it
    edits = fake.calls_of("editMessageText", chat)
    assert "not modified" in edits[0].response["description"] and edits[1].ok


def test_flood_answers_become_rate_limited_with_retry_after(fake: FakeBotApi) -> None:
    chat = next(_chats)
    fake.fail("sendMessage", lambda a: a.get("chat_id") == chat, retry_after=7)

    async def go() -> None:
        p = platform_for(fake)
        try:
            with pytest.raises(RateLimited) as caught:
                await p.post(binding(chat), Message("status", {"text": "x"}), TAG)
            assert caught.value.retry_after == 7
        finally:
            await p.close()

    run(go())


def test_missing_message_is_gone_and_a_blocked_bot_is_permanent(fake: FakeBotApi) -> None:
    chat = next(_chats)

    async def go() -> None:
        p = platform_for(fake)
        try:
            with pytest.raises(MessageGone):
                await p.edit(binding(chat), Posted("9999"), Message("status", {"text": "x"}), TAG)
            fake.blocked.add(chat)
            await clock.sleep(CHAT_SECOND)
            with pytest.raises(PermanentError) as caught:
                await p.post(binding(chat), Message("status", {"text": "x"}), TAG)
            assert caught.value.code == "forbidden"
        finally:
            await p.close()

    run(go())


def test_html_telegram_cannot_parse_is_sent_as_plain_text(fake: FakeBotApi) -> None:
    chat = next(_chats)

    async def go() -> None:
        p = platform_for(fake)
        try:
            await p.post(binding(chat), Message("answer:1", {"text": "<b>bold <i>crossed</b></i> 1 &lt; 2"}), TAG)
        finally:
            await p.close()

    run(go())
    sends = fake.calls_of("sendMessage", chat)
    assert sends[0].status == 400 and sends[1].ok and "parse_mode" not in sends[1].args
    assert fake.bot_messages(chat)[0].text == "bold crossed 1 < 2"


def test_drafts_in_private_chats_and_fallback_when_refused(fake: FakeBotApi) -> None:
    chat = next(_chats)

    async def go() -> None:
        p = platform_for(fake)
        try:
            draft = Message("draft:1", {"text": "streaming…", "draft_id": 5}, stream=True)
            posted = await p.post(binding(chat), draft, TAG)
            assert posted.id == "draft:5" and posted.extra == {"draft": True}
            await clock.sleep(CHAT_SECOND)
            await p.edit(binding(chat), posted, Message("draft:1", {"text": "streaming… more", "draft_id": 5}), TAG)
            fake.drafts_supported = False
            await clock.sleep(CHAT_SECOND)
            assert (await p.edit(binding(chat), posted, draft, TAG)).id == NOTHING
            assert p.drafts is False  # from now on answers stream by edits
        finally:
            fake.drafts_supported = True
            await p.close()

    run(go())
    assert fake.drafts[chat] == {5: "streaming… more"}
    assert fake.bot_messages(chat) == []  # drafts are not messages


def test_flood_control_limits_groups_per_minute_and_all_chats_per_second() -> None:
    own = FakeClock()

    async def go() -> None:
        flood = FloodControl(group_per_minute=3, global_per_second=5, clock=own, sleep=own.sleep)
        for _ in range(3):
            await flood.admit(-1, group=True)
            await own.sleep(1.0)
        with pytest.raises(RateLimited) as caught:
            await flood.admit(-1, group=True)
        assert caught.value.retry_after == 57.0  # the first of the three leaves the window then
        await flood.admit(-2, group=True)  # another group has its own minute
        started = own()
        times = []
        for _ in range(6):
            await flood.admit(1, group=False)
            times.append(own() - started)
        assert times == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]  # with -2's call, five in that second: the rest waited
        own.now += 60.0
        for _ in range(3):
            await flood.admit(-1, group=True)  # a minute later the group has room again

    run(go())


# --- rendering ---------------------------------------------------------------------------------------------


def view_of(*events: tuple[EventType, dict]) -> TaskView:
    view = TaskView("3f1d2c55-9b1e-4c2a-a7f3-4b9e2f0d8c11", graph="writer")
    for kind, data in events:
        view.apply(Event(kind, view.task_id, "telegram:42", data))
    return view


QUESTION = {
    "interrupt_id": "f" * 32,
    "question": "Approve this outline?",
    "options": [{"label": "Approve", "value": "approve"}, {"label": "Revise " + "x" * 80, "value": "revise"}],
    "value": {"question": "Approve this outline?", "outline": ["A < B", "C & D"], "revisions_left": 3},
}


def test_question_keyboard_fits_telegram() -> None:
    view = view_of((EventType.TASK_STARTED, {"run": 1}), (EventType.INTERRUPT, QUESTION))
    messages = {m.slot: m for m in render_task(view, binding(42))}
    question = messages[f"question:{'f' * 32}"]
    assert "1. A &lt; B\n2. C &amp; D" in question.body["text"]
    buttons = [b for row in question.body["keyboard"] for b in row]
    assert [len(row) for row in question.body["keyboard"]] == [1, 1]  # long labels: one per row
    for b in buttons:
        assert 1 <= len(b["callback_data"].encode()) <= CALLBACK_DATA_LIMIT and len(b["text"]) <= 40
        pressed = parse_callback(b["callback_data"])
        assert pressed is not None and pressed.token == task_token(view.task_id)
    assert messages["status"].body["keyboard"][0][0]["callback_data"] == f"c:{task_token(view.task_id)}"


def test_answered_question_and_finished_task_drop_their_buttons() -> None:
    view = view_of(
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, QUESTION),
        (EventType.TASK_RESUMED, {"interrupt_id": "f" * 32, "answer": "approve", "by": "telegram:user:7"}),
        (EventType.TASK_STARTED, {"run": 2}),
        (EventType.TASK_COMPLETED, {"output": {}, "text": "word " * 3000}),
    )
    messages = render_task(view, binding(-5, "supergroup"))
    question = next(m for m in messages if m.slot.startswith("question:"))
    assert "keyboard" not in question.body and "Ada answered: <b>Approve</b>" in question.body["text"]
    assert "keyboard" not in messages[0].body and "finished" in messages[0].body["text"]
    final = [m for m in messages if m.final]
    assert [m.slot for m in final] == ["answer:2", "answer:2:1", "answer:2:2", "answer:2:3"]
    assert all(utf16(m.body["text"]) <= TEXT_LIMIT for m in final)
    assert final[-1].body["text"].endswith("<i>(4/4)</i>")


def test_streaming_uses_drafts_in_private_chats_and_edits_in_groups() -> None:
    view = view_of((EventType.TASK_STARTED, {"run": 1}), (EventType.MESSAGE_DELTA, {"text": "x < y " * 2000}))
    private = [m for m in render_task(view, binding(42), drafts=True) if m.stream]
    group = [m for m in render_task(view, binding(-5, "group"), drafts=True) if m.stream]
    assert [m.slot for m in private] == ["draft:1"] and private[0].body["draft_id"] > 0
    assert [m.slot for m in group] == ["answer:1"] and "writing" in group[0].body["text"]
    for m in private + group:
        assert utf16(m.body["text"]) <= TEXT_LIMIT and m.body["text"].rstrip().endswith(("y", "</i>"))
    no_drafts = [m for m in render_task(view, binding(42), drafts=False) if m.stream]
    assert [m.slot for m in no_drafts] == ["answer:1"]
