"""A LangChain agent and a graph with parallel questions behind Slack, through real processes: uvicorn API
(with /slack/events), Celery worker, dispatcher, Redis, and the fake Slack Web API on loopback.

The agent (examples/agent.py, offline model) asks before every ``send_email``: the approval shows in the
thread with Approve / Edit / Reject; Edit and Reject open modals (``views.open``) whose submissions
(``view_submission``) answer it. The ``parallel`` graph waits on two questions at once, each with its own
buttons. Requests to the gateway are signed and shaped like Slack's own.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.fake_slack import FakeSlack, Msg
from graphgate.testing.slack import (
    SlackSender,
    accepted_posts,
    final_sections,
    new_channel,
    only_task,
    slack_env,
    slot_message,
    status_says,
    tasks_of,
)
from graphgate.testing.stack import Proc, Stack, running_stack
from graphgate.testing.waiting import wait_for

COMMANDS = {"/ask": "agent", "/review": "parallel"}
REQUEST = "email ann@example.com the Q3 report"
ARGS = {"to": "ann@example.com", "subject": "Q3 report", "body": "Hi Ann,\n\nQ3 report.\n\nBest regards"}


@pytest.fixture(scope="module")
def agent_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory, fake_slack: FakeSlack) -> Iterator[Stack]:
    env = slack_env(
        fake_slack,
        GRAPHGATE_SLACK_COMMANDS=json.dumps(COMMANDS),
        GRAPHGATE_SLACK_MENTION_GRAPH="agent",
        GRAPHGATE_OFFLINE_MODEL_DELAY="0.2",  # answers stream for a second or two: the tool progress shows
    )
    with running_stack(redis_url, tmp_path_factory.mktemp("slack-agent"), env) as stack:
        yield stack


@pytest.fixture(scope="module")
def dispatcher(agent_stack: Stack) -> Iterator[Proc]:
    proc = start_dispatcher(agent_stack)
    yield proc
    agent_stack.stop_proc(proc)


@pytest.fixture
def slack(agent_stack: Stack, fake_slack: FakeSlack, dispatcher: Proc) -> SlackSender:
    return SlackSender(agent_stack.url, fake_slack)


# --- helpers -------------------------------------------------------------------------------------------


def labels(message: Msg) -> list[str]:
    return [a["text"]["text"] for a in message.actions()]


def button(message: Msg, label: str) -> dict[str, Any]:
    return next(a for a in message.actions() if a["text"]["text"] == label)


def approval(fake: FakeSlack, channel: str) -> Msg:
    """The tool approval, once it has its buttons."""
    return slot_message(fake, channel, "question:", lambda m: bool(m.actions()))


def answered(fake: FakeSlack, channel: str, slot: str, words: str) -> Msg:
    return slot_message(fake, channel, slot, lambda m: words in m.contexts())


def final_text(fake: FakeSlack, channel: str, run: int, words: str) -> str:
    """Run ``run``'s final answer, once it says ``words``."""
    return wait_for(
        lambda: (
            "\n\n".join(final_sections(fake, channel, run))
            if words in "\n\n".join(final_sections(fake, channel, run))
            else ""
        ),
        60,
        what=f"a final answer saying {words!r}",
    )


def notes_to(fake: FakeSlack, channel: str, user: str) -> list[str]:
    return [e["text"] for e in fake.ephemerals if e.get("channel") == channel and e.get("user") == user]


def modal(fake: FakeSlack, callback_id: str, task_id: str) -> dict[str, Any]:
    """The modal of ``task_id`` that views.open opened with ``callback_id``."""
    return wait_for(
        lambda: next(
            (
                v
                for v in fake.views
                if v["callback_id"] == callback_id and json.loads(v["private_metadata"])["task_id"] == task_id
            ),
            None,
        ),
        10,
        what=f"a {callback_id} modal",
    )


def status_texts(fake: FakeSlack, channel: str) -> list[str]:
    """Every text the status message showed: what each accepted post or edit of it carried."""
    return [
        json.dumps(c.args.get("blocks"), ensure_ascii=False)
        for c in fake.calls_of(channel=channel)
        if c.ok and c.slot == "status" and c.method in ("chat.postMessage", "chat.update")
    ]


# --- a tool approval, answered by buttons and modals -----------------------------------------------------


def test_slash_command_agent_asks_to_approve_the_email_and_approve_sends_it(
    slack: SlackSender, fake_slack: FakeSlack, agent_stack: Stack
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UAPPROVE"
    assert slack.slash("/ask", REQUEST, user=user, channel=channel).status_code == 200
    question = approval(fake, channel)
    assert labels(question) == ["Approve", "Edit", "Reject"]
    assert question.section_text().startswith(":lock: *Approve the tool call `send_email`?*")
    assert "*send_email*" in question.section_text()
    shown = question.section_text().split("```\n", 1)[1].rsplit("\n```", 1)[0]
    assert json.loads(shown) == ARGS  # the arguments, as indented JSON
    status_says(fake, channel, "is waiting for an answer")
    task = only_task(agent_stack, user)
    assert task["status"] == "waiting_input" and task["interrupt"]["kind"] == "tool_approval"

    assert slack.click(question, button(question, "Approve"), user=user).status_code == 200
    answered(fake, channel, question.slot or "", f"<@{user}> answered: *Approved*")
    status_says(fake, channel, "used send_email)")
    text = final_text(fake, channel, 2, "queued")
    assert text == '[offline model] The email to ann@example.com is queued (subject: "Q3 report").'
    progress = [t for t in status_texts(fake, channel) if "send_email" in t]
    assert progress, "the status never showed the tool running or done"
    assert "send_email done: Email to ann@example.com queued: Q3 report" in " ".join(progress)
    assert only_task(agent_stack, user)["status"] == "completed"
    assert not [v for v in fake.views if task["task_id"] in v["private_metadata"]]  # no modal for Approve
    posts = accepted_posts(fake, channel)
    assert set(posts.values()) == {1}, posts
    assert {"status", question.slot, "answer:2"} <= set(posts)


def test_edit_opens_a_modal_with_the_arguments_and_its_submission_changes_the_call(
    slack: SlackSender, fake_slack: FakeSlack, agent_stack: Stack
) -> None:
    fake, channel, user, stranger = fake_slack, new_channel(), "UEDITOR1", "USTRANG2"
    root, _ = slack.mention(channel, user, REQUEST)
    question = approval(fake, channel)
    assert question.thread_ts == root.ts
    task = only_task(agent_stack, user)

    slack.click(question, button(question, "Edit"), user=stranger)  # not theirs: no modal
    assert "Only the person who started this task" in wait_for(lambda: notes_to(fake, channel, stranger))[0]

    assert slack.click(question, button(question, "Edit"), user=user).status_code == 200
    view = modal(fake, "gg_edit", task["task_id"])
    field = next(b for b in view["blocks"] if b["type"] == "input")
    assert json.loads(field["element"]["initial_value"]) == ARGS

    # invalid JSON: refused inside the modal, nothing changes
    resp = slack.submit(view, user=user, args='{"to": "bob@example.com",')
    assert resp.status_code == 200
    refused = resp.json()
    assert refused["response_action"] == "errors" and list(refused["errors"]) == [field["block_id"]]
    assert "not valid JSON" in refused["errors"][field["block_id"]]
    # a stranger who got hold of the form cannot answer with it
    resp = slack.submit(view, user=stranger, args=json.dumps({**ARGS, "to": "eve@example.com"}))
    assert "Only the person who started this task" in resp.json()["errors"][field["block_id"]]
    assert only_task(agent_stack, user)["status"] == "waiting_input"
    assert labels(fake.by_slot(channel, question.slot or "")[0]) == ["Approve", "Edit", "Reject"]

    resp = slack.submit(view, user=user, args=json.dumps({**ARGS, "to": "bob@example.com"}, indent=2))
    assert resp.status_code == 200 and resp.content in (b"", b"{}")  # closes the modal
    answered(fake, channel, question.slot or "", f"<@{user}> answered: *Edited and approved: send_email(")
    text = final_text(fake, channel, 2, "queued")
    assert text == (
        '[offline model] The email to bob@example.com is queued (subject: "Q3 report"). '
        "A reviewer edited it before it went out."
    )
    assert "bob@example.com" in " ".join(status_texts(fake, channel))
    again = slack.submit(view, user=user, args=json.dumps(ARGS))
    assert "already answered" in again.json()["errors"][field["block_id"]]
    done = only_task(agent_stack, user)
    assert done["status"] == "completed"
    assert set(accepted_posts(fake, channel).values()) == {1}


def test_reject_asks_for_a_reason_in_a_modal_and_typed_answers_are_checked(
    slack: SlackSender, fake_slack: FakeSlack, agent_stack: Stack
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UREJECT1"
    slack.slash("/ask", REQUEST, user=user, channel=channel)
    question = approval(fake, channel)
    before = copy.deepcopy(question)  # as the user's client still shows it after the answer (the fake edits in place)
    task = only_task(agent_stack, user)

    # a typed answer the request cannot take: an ephemeral note says why; nothing changes
    slack.reply(channel, user, "edit {not json", question.thread_ts or "")
    note = wait_for(lambda: notes_to(fake, channel, user))[0]
    assert note.startswith("I could not take that answer: the new arguments must be a JSON object")
    assert only_task(agent_stack, user)["status"] == "waiting_input"

    slack.click(question, button(question, "Reject"), user=user)
    view = modal(fake, "gg_reject", task["task_id"])
    assert view["title"]["text"] == "Reject the tool call"
    resp = slack.submit(view, user=user, reason="wrong recipient")
    assert resp.status_code == 200 and resp.content in (b"", b"{}")
    answered(fake, channel, question.slot or "", f"<@{user}> answered: *Rejected: wrong recipient*")
    text = final_text(fake, channel, 2, "not sent")
    assert (
        text
        == '[offline model] The email to ann@example.com was not sent: the reviewer rejected it, saying "wrong recipient".'
    )
    slack.click(before, button(before, "Approve"), user=user)  # a stale button of the answered question
    assert any("already answered" in n for n in wait_for(lambda: notes_to(fake, channel, user)[1:]))
    assert only_task(agent_stack, user)["status"] == "completed"


def test_a_thread_is_one_conversation_the_agent_remembers(
    slack: SlackSender, fake_slack: FakeSlack, agent_stack: Stack
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UMEMORY1"
    root, _ = slack.mention(channel, user, "hello, I am Ann")
    first = final_text(fake, channel, 1, "message 1")
    assert first.startswith('[offline model] This is message 1 of our conversation. You said: "hello, I am Ann".')
    status_says(fake, channel, "finished")
    slack.reply(channel, user, "what did I say?", root.ts)
    wait_for(
        lambda: len(tasks_of(agent_stack, user)) == 2 and tasks_of(agent_stack, user)[0]["status"] == "completed",
        60,
        what="the second task",
    )
    second = wait_for(
        lambda: [
            m.section_text()
            for m in fake.bot_messages(channel)
            if m.slot == "answer:1" and "message 2" in m.section_text()
        ],
        30,
    )
    assert second == ['[offline model] This is message 2 of our conversation. Earlier you said: "hello, I am Ann".']
    tasks = tasks_of(agent_stack, user)
    assert tasks[0]["session_id"] == tasks[1]["session_id"] == f"slack:T0001:{channel}:{root.ts}"


# --- several questions at once ------------------------------------------------------------------------------


def test_parallel_questions_each_have_buttons_and_are_answered_one_by_one(
    slack: SlackSender, fake_slack: FakeSlack, agent_stack: Stack
) -> None:
    fake, channel, user = fake_slack, new_channel(), "UREVIEW1"
    slack.slash("/review", "ship the new pricing page", user=user, channel=channel)
    wait_for(
        lambda: (
            len([m for m in fake.bot_messages(channel) if (m.slot or "").startswith("question:") and m.actions()]) == 2
        ),
        60,
        what="two questions with buttons",
    )
    questions = {
        ("legal" if "Legal" in m.section_text() else "finance"): m
        for m in fake.bot_messages(channel)
        if (m.slot or "").startswith("question:")
    }
    assert set(questions) == {"legal", "finance"}
    for q in questions.values():
        assert labels(q) == ["approve", "reject"]
    ids = {name: json.loads(q.actions()[0]["value"])["i"] for name, q in questions.items()}
    assert ids["legal"] != ids["finance"]

    slack.click(questions["finance"], button(questions["finance"], "reject"), user=user)
    answered(fake, channel, questions["finance"].slot or "", f"<@{user}> answered: *reject*")
    legal = fake.by_slot(channel, questions["legal"].slot or "")[0]
    assert labels(legal) == ["approve", "reject"]  # still waiting, still has its buttons
    task = only_task(agent_stack, user)
    assert task["status"] == "waiting_input"
    assert [i["interrupt_id"] for i in task["interrupts"]] == [ids["legal"]]  # the one still pending

    slack.click(legal, button(legal, "approve"), user=user)
    answered(fake, channel, questions["legal"].slot or "", f"<@{user}> answered: *approve*")
    text = final_text(fake, channel, 2, "legal chose")
    assert text == "Request 'ship the new pricing page' is rejected: legal chose approve, finance chose reject."
    assert only_task(agent_stack, user)["status"] == "completed"
    assert set(accepted_posts(fake, channel).values()) == {1}
