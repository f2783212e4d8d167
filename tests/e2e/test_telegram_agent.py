"""A LangChain agent with a tool that waits for approval, in Telegram, end to end through real processes:
uvicorn API (with /telegram/webhook), Celery worker, dispatcher, Redis and the fake Bot API on loopback.

The bot's ``/ask`` (and so any plain message) runs the ``agent`` example graph (offline model): "email
ann@example.com the Q3 report" makes one ``send_email`` call that ``HumanInTheLoopMiddleware`` holds for
approval. The question comes with Approve / Edit / Reject keys; the answer is a key, a reply to the force-
reply prompt of Edit (the new arguments as JSON), or a reply in words ("reject: wrong recipient").
``/review`` runs the ``parallel`` graph, whose two reviews wait at the same time, each with its own keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from graphgate.testing.client import Api
from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.fake_bot_api import CALLBACK_DATA_LIMIT, FakeBotApi, Msg
from graphgate.testing.stack import Stack
from graphgate.testing.telegram import (
    Webhook,
    by_id,
    calls_on_failure,
    chat_api,
    press,
    question_of,
    tasks_of,
    telegram_env,
)
from graphgate.testing.waiting import wait_for

REQUEST = "email ann@example.com the Q3 report"
COMMANDS = {"ask": "agent", "review": "parallel"}
MODEL_DELAY = "0.2"  # seconds per streamed word: the final answer streams for ~2 s, so progress shows in edits


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotApi]:
    api = FakeBotApi().start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def tg(redis_url: str, tmp_path_factory: pytest.TempPathFactory, fake: FakeBotApi) -> Iterator[Stack]:
    """API (webhook mounted), one worker, one dispatcher; /ask runs the agent, /review the parallel graph."""
    env = telegram_env(
        fake, GRAPHGATE_TELEGRAM_COMMANDS=json.dumps(COMMANDS), GRAPHGATE_OFFLINE_MODEL_DELAY=MODEL_DELAY
    )
    stack = Stack(redis_url=redis_url, workdir=tmp_path_factory.mktemp("telegram-agent"), extra_env=env)
    dispatcher = None
    try:
        stack.start_worker()
        stack.start_api()
        dispatcher = start_dispatcher(stack)
        yield stack
    finally:
        if dispatcher is not None:
            stack.stop_proc(dispatcher)
        stack.stop()


class Chat:
    """One private chat with the bot: what the user sends, what the bot shows."""

    def __init__(self, stack: Stack, fake: FakeBotApi, chat_id: int) -> None:
        self.fake, self.id = fake, chat_id
        self.chat, self.user = fake.chat(chat_id), fake.user(chat_id)
        self.hook = Webhook(stack.url)
        self.api: Api = chat_api(stack, chat_id)

    def say(self, text: str, reply_to: Msg | None = None) -> dict[str, Any]:
        update = self.fake.message_update(self.chat, self.user, text, reply_to=reply_to)
        assert self.hook.send(update).status_code == 200
        return update

    def press(self, msg: Msg, label: str) -> str:
        """Press ``label`` under ``msg``; the text the press was answered with."""
        query = press(self.fake, self.hook, self.chat, self.user, msg, label)["callback_query"]["id"]
        return self._answer_of(query)

    def press_again(self, msg: Msg, data: str) -> str:
        """Press a key carrying ``data`` that ``msg`` showed before (its keys may be gone since)."""
        update = self.fake.callback_update(self.chat, self.user, msg, data)
        assert self.hook.send(update).status_code == 200
        return self._answer_of(update["callback_query"]["id"])

    def _answer_of(self, query: str) -> str:
        wait_for(lambda: query in self.fake.answered, 30, what="the press answered")
        return str(self.fake.answered[query]["text"])

    def shown(self, check: Callable[[Msg], bool], what: str, timeout: float = 60) -> Msg:
        """The latest bot message that passes ``check``, once there is one."""
        return wait_for(
            lambda: next((m for m in reversed(self.fake.bot_messages(self.id)) if check(m)), None), timeout, what=what
        )

    def saying(self, needle: str, what: str) -> Msg:
        return self.shown(lambda m: needle in m.text, what)

    def message(self, msg: Msg) -> Msg:
        """``msg`` as the chat shows it now."""
        current = by_id(self.fake, self.id, msg.message_id)
        assert current is not None
        return current

    def task(self) -> dict[str, Any]:
        return tasks_of(self.api)[0]

    def approval(self) -> Msg:
        """The tool approval, once it is shown with its keys."""
        question = wait_for(lambda: question_of(self.fake, self.id), 60, what="the tool approval's keys")
        assert question.text.startswith("🔐 Approve the tool call send_email?")
        return question

    def answered(self, question: Msg, label: str) -> Msg:
        """``question`` once it was edited to show ``label`` as its answer, without keys."""
        return wait_for(
            lambda: (m := self.message(question)) and not m.keyboard and f"answered: {label}" in m.text and m,
            30,
            what=f"the question to say it was answered: {label}",
        )


def labels(msg: Msg) -> list[str]:
    return [b["text"] for row in msg.keyboard for b in row]


def status_texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    """Every text the task's progress message showed (it is the chat's first bot message)."""
    status = fake.bot_messages(chat_id)[0]
    return [*status.history, status.html]


def test_approve_key_runs_the_tool_and_the_next_message_continues_the_thread(tg: Stack, fake: FakeBotApi) -> None:
    with calls_on_failure(fake, 3001):
        chat = Chat(tg, fake, 3001)
        chat.say(REQUEST)
        question = chat.approval()
        assert labels(question) == ["Approve", "Edit", "Reject"]
        assert all(1 <= len(d.encode()) <= CALLBACK_DATA_LIMIT for d in question.callback_data)
        assert '"to": "ann@example.com"' in question.text and '"subject": "Q3 report"' in question.text
        task = chat.task()
        assert task["graph"] == "agent" and task["status"] == "waiting_input"
        assert task["interrupt"]["kind"] == "tool_approval"

        approve = question.callback_data[0]
        assert chat.press(question, "Approve") == "Approved"
        final = chat.saying('is queued (subject: "Q3 report")', "the agent's final answer")
        assert final.text == '[offline model] The email to ann@example.com is queued (subject: "Q3 report").'
        done = chat.api.wait_status(task["task_id"], {"completed"}, 30)
        assert chat.answered(question, "Approved")
        # the tool's progress showed in the progress message while the run went on
        wait_for(lambda: "finished" in status_texts(fake, 3001)[-1], 30, what="the progress message to say finished")
        assert "used send_email)" in status_texts(fake, 3001)[-1]
        progress = [t for t in status_texts(fake, 3001)[:-1] if "running send_email" in t or "send_email done" in t]
        assert progress, status_texts(fake, 3001)
        assert chat.press_again(question, approve) == "This question was already answered; nothing was resumed."

        chat.say("thanks, what did I ask you?")  # the same chat: the same LangGraph thread
        memory = chat.saying("Earlier you said", "the follow-up answer")
        assert memory.text == (f'[offline model] This is message 2 of our conversation. Earlier you said: "{REQUEST}".')
        follow_up = chat.task()
        assert follow_up["task_id"] != done["task_id"] and follow_up["session_id"] == done["session_id"]


def test_edit_key_asks_for_json_and_the_reply_changes_the_call(tg: Stack, fake: FakeBotApi) -> None:
    with calls_on_failure(fake, 3002):
        chat = Chat(tg, fake, 3002)
        chat.say(REQUEST)
        question = chat.approval()
        assert chat.press(question, "Edit") == "Reply with the new arguments"
        prompt = chat.shown(lambda m: m.force_reply is not None, "the force-reply prompt")
        assert prompt.reply_to == question.message_id
        assert prompt.force_reply == {"force_reply": True, "input_field_placeholder": '{"to": "…"}'}
        assert prompt.text.startswith("Reply to this message with the new arguments of send_email as JSON, e.g. {")
        assert '"to": "ann@example.com"' in prompt.text

        chat.say("{to: bob@example.com}", reply_to=prompt)
        refused = chat.saying("That is not a JSON object", "the refusal of the invalid JSON")
        assert "nothing was changed" in refused.text
        task = chat.task()
        assert task["status"] == "waiting_input"  # nothing was resumed
        assert labels(chat.message(question)) == ["Approve", "Edit", "Reject"]

        chat.say('{"to": "bob@example.com"}', reply_to=prompt)
        final = chat.saying("A reviewer edited it", "the final answer after the edit")
        assert final.text == (
            '[offline model] The email to bob@example.com is queued (subject: "Q3 report"). '
            "A reviewer edited it before it went out."
        )
        chat.api.wait_status(task["task_id"], {"completed"}, 30)
        assert chat.answered(question, 'Edited and approved: send_email("to": "bob@example.com"')
        events = chat.api.events(task["session_id"], lambda e: e.type == "task.completed")
        [resumed] = [e for e in events if e.type == "task.resumed"]
        [decision] = resumed.data["answer"]["decisions"]
        assert decision["type"] == "edit"
        assert decision["edited_action"]["args"]["to"] == "bob@example.com"
        assert decision["edited_action"]["args"]["subject"] == "Q3 report"  # arguments left out keep their value


def test_reply_with_a_reason_rejects_the_call(tg: Stack, fake: FakeBotApi) -> None:
    with calls_on_failure(fake, 3003):
        chat = Chat(tg, fake, 3003)
        chat.say(REQUEST)
        question = chat.approval()
        chat.say("reject: wrong recipient", reply_to=question)
        final = chat.saying("was not sent", "the final answer after the rejection")
        assert final.text == (
            "[offline model] The email to ann@example.com was not sent: the reviewer rejected it, "
            'saying "wrong recipient".'
        )
        assert chat.answered(question, "Rejected: wrong recipient")
        task = chat.task()
        chat.api.wait_status(task["task_id"], {"completed"}, 30)
        events = chat.api.events(task["session_id"], lambda e: e.type == "task.completed")
        assert "task.resumed" in [e.type for e in events]
        assert not [e for e in events if e.type == "tool.started"]  # the rejected e-mail never ran


def test_two_questions_at_once_each_have_their_keys(tg: Stack, fake: FakeBotApi) -> None:
    with calls_on_failure(fake, 3004):
        chat = Chat(tg, fake, 3004)
        chat.say("/review the Q3 budget")
        second = wait_for(lambda: question_of(fake, 3004, 2), 60, what="both questions with keys")
        first = question_of(fake, 3004, 1)
        assert first is not None and labels(first) == labels(second) == ["approve", "reject"]
        reviewers = [q.text.split(" review:")[0].split()[-1].lower() for q in (first, second)]
        assert sorted(reviewers) == ["finance", "legal"]
        task = chat.task()
        assert task["graph"] == "parallel" and len(task["interrupts"]) == 2

        chat.say("reject", reply_to=second)  # a reply answers the question it replies to, not the first one
        chat.answered(second, "reject")
        assert labels(chat.message(first)) == ["approve", "reject"]
        assert chat.api.get(task["task_id"])["status"] == "waiting_input"

        assert chat.press(first, "approve") == "Answered: approve"
        done = chat.api.wait_status(task["task_id"], {"completed"}, 30)
        said = dict(zip(reviewers, ["approve", "reject"]))
        assert done["output"]["answer"] == (
            f"Request 'the Q3 budget' is rejected: legal chose {said['legal']}, finance chose {said['finance']}."
        )
        chat.saying("is rejected: legal chose", "the final answer")
        chat.answered(first, "approve")
