"""Telegram end to end, through real processes: uvicorn API (with /telegram/webhook), Celery worker, a
dispatcher process, a polling process, Redis, and a fake Bot API on loopback that records every call and
enforces Telegram's limits (HTML parsing, 4,096 characters, 64-byte callback data, flood control).

Updates are real ``Update`` JSON shapes, sent to the webhook with the secret header or served to the
polling process by ``getUpdates``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphgate.connectors.telegram import html
from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.fake_bot_api import (
    CALLBACK_DATA_LIMIT,
    TEXT_LIMIT,
    FakeBotApi,
    Msg,
    utf16,
)
from graphgate.testing.stack import Proc, Stack
from graphgate.testing.telegram import (
    Webhook,
    by_id,
    calls_on_failure,
    chat_api,
    press,
    question_of,
    start_polling,
    tasks_of,
    telegram_env,
)
from graphgate.testing.waiting import wait_for

REPORT = Path(__file__).resolve().parents[2] / ".graphgate" / "telegram-calls-interactive-writer.txt"
PART_RE = re.compile(r"\((\d+)/(\d+)\)\s*$")
DELIVERY_METHODS = {"sendMessage", "editMessageText", "sendMessageDraft"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotApi]:
    api = FakeBotApi().start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def tg(redis_url: str, tmp_path_factory: pytest.TempPathFactory, fake: FakeBotApi) -> Iterator[Stack]:
    """API (webhook mounted), one worker, one dispatcher, all pointed at the fake Bot API."""
    stack = Stack(redis_url=redis_url, workdir=tmp_path_factory.mktemp("telegram"), extra_env=telegram_env(fake))
    procs: list[Proc] = []
    try:
        stack.start_worker()
        stack.start_api()
        procs.append(start_dispatcher(stack))
        yield stack
    finally:
        for proc in procs:
            stack.stop_proc(proc)
        stack.stop()


def parts_of(fake: FakeBotApi, chat: int) -> list[Msg]:
    """The chat's numbered answer parts ``(i/n)``, in chat order."""
    return [m for m in fake.bot_messages(chat) if PART_RE.search(m.text)]


def wait_final(fake: FakeBotApi, chat: int, timeout: float = 120) -> list[Msg]:
    """The answer parts once all of them are in the chat."""

    def complete() -> list[Msg] | None:
        parts = parts_of(fake, chat)
        if not parts:
            return None
        total = int(PART_RE.search(parts[0].text).group(2))  # type: ignore[union-attr]
        return parts if len(parts) >= total else None

    return wait_for(complete, timeout, what=f"the final answer in chat {chat}")


def joined_answer(parts: list[Msg]) -> str:
    return " ".join(PART_RE.sub("", m.text) for m in parts)


def assert_answer_is(parts: list[Msg], article: str) -> None:
    """The parts show the article, in order, each part once, each within Telegram's limits."""
    numbers = [PART_RE.search(m.text).groups() for m in parts]  # type: ignore[union-attr]
    total = int(numbers[0][1])
    assert [int(n) for n, _ in numbers] == list(range(1, total + 1)), numbers  # no part twice, none missing
    assert total >= 2  # long enough to need splitting
    for m in parts:
        assert utf16(m.html) <= TEXT_LIMIT
    expected = html.visible(html.to_html(article))
    assert joined_answer(parts).split() == expected.split()


# --- webhook ----------------------------------------------------------------------------------------------


def test_webhook_interactive_writer_message_to_final_answer(tg: Stack, fake: FakeBotApi) -> None:
    with calls_on_failure(fake, 1001):
        run_webhook_interactive_writer_message_to_final_answer(tg, fake, 1001)


def run_webhook_interactive_writer_message_to_final_answer(tg: Stack, fake: FakeBotApi, chat_id: int) -> None:
    chat, user = fake.chat(chat_id), fake.user(chat_id)
    hook = Webhook(tg.url)
    first_call = len(fake.calls)
    started = fake.message_update(chat, user, "/ask the tides of the Bay of Fundy")
    assert hook.send(started).status_code == 200

    question = wait_for(lambda: question_of(fake, chat_id), 90, what="the question's keyboard")
    messages = fake.bot_messages(chat_id)
    status = messages[0]
    assert status.reply_to == started["message"]["message_id"]  # the progress message replies to the request
    assert "Approve this outline?" in question.text and "Outline" in question.text
    assert [b["text"] for row in question.keyboard for b in row] == ["Approve", "Revise"]
    assert all(1 <= len(d.encode()) <= CALLBACK_DATA_LIMIT for d in question.callback_data)

    task = tasks_of(chat_api(tg, chat_id))[0]
    assert task["status"] == "waiting_input" and task["graph"] == "writer"
    assert task["config"]["target_length"] == 1500 and task["mode"] == "interactive"

    pressed = press(fake, hook, chat, user, question, "Approve")
    query_id = pressed["callback_query"]["id"]
    wait_for(lambda: query_id in fake.answered, 30, what="answerCallbackQuery")
    assert fake.answered[query_id]["text"] == "Answered: Approve"

    # the same press delivered again (Telegram re-sends unanswered updates) resumes nothing and calls nothing
    assert hook.send(pressed).status_code == 200
    # a second press of the button (a new update) resumes nothing and says so
    again = fake.callback_update(chat, user, question, pressed["callback_query"]["data"])
    assert hook.send(again).status_code == 200
    assert "nothing was resumed" in fake.answered[again["callback_query"]["id"]]["text"]

    parts = wait_final(fake, chat_id)
    api = chat_api(tg, chat_id)
    done = api.wait_status(task["task_id"], {"completed"}, 60)
    assert_answer_is(parts, done["output"]["article"])
    answered = wait_for(
        lambda: (m := by_id(fake, chat_id, question.message_id)) and not m.keyboard and m,
        30,
        what="the question edited after the answer",
    )
    assert "answered: Approve" in answered.text
    wait_for(lambda: "finished" in fake.bot_messages(chat_id)[0].text, 30, what="the progress message to say finished")
    drafts = fake.calls_of("sendMessageDraft", chat_id)
    assert len(drafts) >= 2 and all(c.ok for c in drafts), "the article streamed as a draft in the private chat"
    assert len({c.args["draft_id"] for c in drafts if "topic" not in c.args}) <= 2  # one draft per run, animated
    progress = fake.bot_messages(chat_id)[0]
    assert progress.message_id == status.message_id and not progress.keyboard  # no Cancel button when finished
    assert len(progress.history) >= 2, "the progress message was edited as the graph ran"

    events = api.events(task["session_id"], lambda e: e.type == "task.completed")
    assert [e.type for e in events].count("task.resumed") == 1  # three presses, one resume
    assert not fake.flood_refusals(chat_id), [c.summary() for c in fake.flood_refusals(chat_id)]
    for call in fake.calls_of(chat=chat_id):
        if call.method in DELIVERY_METHODS:
            assert call.ok or "not modified" in call.response.get("description", ""), call.summary()
            assert call.args.get("parse_mode") == "HTML"

    calls = [c for c in fake.calls[first_call:] if c.chat in (chat_id, None) and c.method != "getMe"]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        f"Bot API calls recorded by the fake for one interactive writer run (chat {chat_id}):\n"
        + "\n".join(f"{c.at - calls[0].at:7.2f}s  {c.summary()}" for c in calls)
        + "\n"
    )


def test_webhook_resent_update_makes_one_task(tg: Stack, fake: FakeBotApi) -> None:
    chat_id = 1002
    chat, user = fake.chat(chat_id), fake.user(chat_id)
    hook = Webhook(tg.url)
    update = fake.message_update(chat, user, "/echo once only")
    for _ in range(3):
        assert hook.send(update).status_code == 200
    api = chat_api(tg, chat_id)
    wait_for(lambda: [m for m in fake.bot_messages(chat_id) if "once only" in m.text], 60, what="the echo answer")
    # the sentinel: a later message of the chat runs in the same session, after anything the re-sent update
    # could have started; once its answer is shown, every message of the tasks before it was sent too
    assert hook.send(fake.message_update(chat, user, "/echo the sentinel")).status_code == 200
    wait_for(lambda: [m for m in fake.bot_messages(chat_id) if "the sentinel" in m.text], 60, what="the sentinel")
    tasks = tasks_of(api)
    assert [t["input"] for t in tasks] == [{"text": "the sentinel"}, {"text": "once only"}]
    assert len({t["session_id"] for t in tasks}) == 1
    assert len([m for m in fake.bot_messages(chat_id) if "once only" in m.text]) == 1


def test_webhook_429_in_the_middle_of_the_final_answer(tg: Stack, fake: FakeBotApi) -> None:
    with calls_on_failure(fake, 1003):
        run_webhook_429_in_the_middle_of_the_final_answer(tg, fake, 1003)


def run_webhook_429_in_the_middle_of_the_final_answer(tg: Stack, fake: FakeBotApi, chat_id: int) -> None:
    chat, user = fake.chat(chat_id), fake.user(chat_id)
    fake.fail("sendMessage", lambda a: a.get("chat_id") == chat_id and "(2/" in str(a.get("text")), retry_after=3)
    assert Webhook(tg.url).send(fake.message_update(chat, user, "/brief ocean currents")).status_code == 200
    parts = wait_final(fake, chat_id, 150)
    api = chat_api(tg, chat_id)
    task = tasks_of(api)[0]
    done = api.wait_status(task["task_id"], {"completed"}, 60)
    assert_answer_is(parts, done["output"]["article"])

    sends = fake.calls_of("sendMessage", chat_id)
    refused = [c for c in sends if c.status == 429]
    assert len(refused) == 1 and "(2/" in refused[0].args["text"]
    retried = [c for c in sends if c.ok and c.args["text"] == refused[0].args["text"]]
    assert len(retried) == 1  # posted once, after the wait
    assert retried[0].at - refused[0].at >= 3 - 0.1
    assert not fake.flood_refusals(chat_id)


def test_webhook_wrong_or_missing_secret_is_403_and_starts_nothing(tg: Stack, fake: FakeBotApi) -> None:
    chat_id = 1004
    chat, user = fake.chat(chat_id), fake.user(chat_id)
    hook = Webhook(tg.url)
    update = fake.message_update(chat, user, "/echo should not run")
    for secret in (None, "wrong-secret", WEBHOOK_SECRET_PREFIX, ""):
        resp = hook.send(update, secret=secret)
        assert resp.status_code == 403, resp.text
        assert resp.json()["error"]["code"] == "forbidden"
    # the sentinel: a genuine update sent after the refused ones is handled (the webhook answers once it
    # was), and its reply is the only thing the bot has said in the chat
    assert hook.send(fake.message_update(chat, user, "/echo")).status_code == 200
    assert tasks_of(chat_api(tg, chat_id)) == []
    said = [m.text for m in fake.bot_messages(chat_id)]
    assert len(said) == 1 and said[0].startswith("Tell me what to do"), said
    # the update was not recorded as handled: with the right secret it runs
    assert hook.send(update).status_code == 200
    wait_for(lambda: tasks_of(chat_api(tg, chat_id)), 30, what="the task")


def test_webhook_rejects_what_is_not_an_update(tg: Stack) -> None:
    hook = Webhook(tg.url)
    for body in (b"not json", b"[]", b'{"message": {}}', b'{"update_id": "x"}'):
        resp = hook.http.post(hook.url, content=body, headers={"X-Telegram-Bot-Api-Secret-Token": hook.secret or ""})
        assert resp.status_code == 400, (body, resp.text)


WEBHOOK_SECRET_PREFIX = "test-telegram-webhook-secret"  # a prefix of the real one is still wrong


def test_webhook_commands_help_cancel_new_and_typed_answers(tg: Stack, fake: FakeBotApi) -> None:
    chat_id = 1005
    chat, user = fake.chat(chat_id), fake.user(chat_id)
    hook = Webhook(tg.url)
    api = chat_api(tg, chat_id)

    def say(text: str) -> None:
        assert hook.send(fake.message_update(chat, user, text)).status_code == 200

    def shown(needle: str, what: str) -> Msg:
        return wait_for(
            lambda: next((m for m in reversed(fake.bot_messages(chat_id)) if needle in m.text), None), 60, what=what
        )

    say("/help")
    help_text = shown("What I can do", "the help").text
    assert "/ask request — write an article" in help_text and "/new" in help_text and "/cancel" in help_text
    say("/hello")
    shown("Tell me what to do", "the usage hint")

    say("/hello there")  # the ask graph asks a free-text question
    shown("What should I call you?", "the first question")
    first = tasks_of(api)[0]
    say("/cancel")
    api.wait_status(first["task_id"], {"cancelled"}, 30)
    shown("was cancelled (cancelled by Ada)", "the cancelled status")

    say("/hello again")
    wait_for(
        lambda: len([m for m in fake.bot_messages(chat_id) if "What should I call you?" in m.text]) == 2,
        60,
        what="the second question",
    )
    second = tasks_of(api)[0]
    assert second["session_id"] == first["session_id"]  # the chat's conversation goes on
    status = wait_for(
        lambda: next(
            (
                m
                for m in fake.bot_messages(chat_id)
                if m.reply_to and m.keyboard and m.keyboard[0][0]["text"] == "Cancel" and "waiting" in m.text
            ),
            None,
        ),
        30,
        what="the second task's progress message",
    )
    cancel = fake.callback_update(chat, user, status, status.keyboard[0][0]["callback_data"])
    assert hook.send(cancel).status_code == 200
    wait_for(lambda: cancel["callback_query"]["id"] in fake.answered, 30, what="the cancel press answered")
    assert fake.answered[cancel["callback_query"]["id"]]["text"] == "Cancelling…"
    api.wait_status(second["task_id"], {"cancelled"}, 30)

    say("/hello once more")
    wait_for(
        lambda: len([m for m in fake.bot_messages(chat_id) if "What should I call you?" in m.text]) == 3,
        60,
        what="the third question",
    )
    third = tasks_of(api)[0]
    say("Grace")  # a plain message answers the waiting question
    done = api.wait_status(third["task_id"], {"completed"}, 60)
    assert done["output"]["answer"] == "Nice to meet you, Grace!"
    shown("Nice to meet you, Grace!", "the greeting")

    say("/new")
    shown("Started a new conversation", "the /new note")
    say("/echo a fresh start")
    wait_for(lambda: len(tasks_of(api)) == 4, 30, what="the echo task")
    fresh = tasks_of(api)[0]
    assert fresh["graph"] == "echo" and fresh["session_id"] != first["session_id"]
    shown("a fresh start", "the echo answer")


# --- polling -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def polling(tg: Stack, fake: FakeBotApi) -> Iterator[Proc]:
    proc = start_polling(tg)
    yield proc
    tg.stop_proc(proc)


def test_polling_interactive_writer_message_to_final_answer(tg: Stack, fake: FakeBotApi, polling: Proc) -> None:
    with calls_on_failure(fake, 2001):
        run_polling_interactive_writer_message_to_final_answer(tg, fake, polling, 2001)


def run_polling_interactive_writer_message_to_final_answer(
    tg: Stack, fake: FakeBotApi, polling: Proc, chat_id: int
) -> None:
    chat, user = fake.chat(chat_id), fake.user(chat_id, "Grace", "grace")
    fake.enqueue(fake.message_update(chat, user, "the history of lighthouses"))  # plain text: the /ask graph
    question = wait_for(lambda: question_of(fake, chat_id), 90, what="the question's keyboard")
    data = next(b["callback_data"] for row in question.keyboard for b in row if b["text"] == "Approve")
    pressed = fake.callback_update(chat, user, question, data)
    fake.enqueue(pressed)
    parts = wait_final(fake, chat_id)
    api = chat_api(tg, chat_id)
    task = tasks_of(api)[0]
    done = api.wait_status(task["task_id"], {"completed"}, 60)
    assert done["graph"] == "writer" and done["input"] == {"topic": "the history of lighthouses"}
    assert_answer_is(parts, done["output"]["article"])
    assert fake.answered[pressed["callback_query"]["id"]]["text"] == "Answered: Approve"
    assert fake.calls_of("deleteWebhook") and fake.calls_of("getUpdates")
    assert not fake.flood_refusals(chat_id)


def test_polling_group_answers_only_when_addressed(tg: Stack, fake: FakeBotApi, polling: Proc) -> None:
    chat_id = -100_500_1
    chat = fake.chat(chat_id, "supergroup", "Lighthouse keepers")
    ada, bob = fake.user(31, "Ada", "ada"), fake.user(32, "Bob", "bob")
    fake.enqueue(fake.message_update(chat, bob, "just chatting among humans"))
    fake.enqueue(fake.message_update(chat, ada, "/hello@someotherbot hi"))
    fake.enqueue(fake.message_update(chat, ada, f"/hello@{fake.username} hi"))
    question = wait_for(
        lambda: next((m for m in fake.bot_messages(chat_id) if "What should I call you?" in m.text), None),
        60,
        what="the ask graph's question",
    )
    api = chat_api(tg, chat_id)
    assert len(tasks_of(api)) == 1  # the chatter and the other bot's command started nothing
    assert "Ada: reply to this message" in question.text and not question.keyboard

    fake.enqueue(fake.message_update(chat, bob, "Robert", reply_to=question))  # not the one who asked
    wait_for(lambda: any("Only Ada can answer" in m.text for m in fake.bot_messages(chat_id)), 30, what="the refusal")
    fake.enqueue(fake.message_update(chat, ada, "Grace", reply_to=question))  # a reply answers the question
    task = tasks_of(api)[0]
    done = api.wait_status(task["task_id"], {"completed"}, 60)
    assert done["output"]["answer"] == "Nice to meet you, Grace!"
    wait_for(
        lambda: any("Nice to meet you, Grace!" in m.text for m in fake.bot_messages(chat_id)),
        60,
        what="the answer in the group",
    )
    fake.enqueue(fake.message_update(chat, ada, f"@{fake.username} once more"))  # a mention continues the session
    wait_for(lambda: len(tasks_of(api)) == 2, 30, what="a second task from the mention")
    sessions = {t["session_id"] for t in tasks_of(api)}
    assert len(sessions) == 1
    for call in fake.calls_of(chat=chat_id):
        if call.method == "sendMessageDraft":
            raise AssertionError("no drafts in groups")
