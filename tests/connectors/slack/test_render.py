"""A task's view as Block Kit: every message stays within Slack's limits (checked like the fake Slack does)."""

from __future__ import annotations

import json

from connectors.slack import mrkdwn
from connectors.slack.render import render_task
from gateway.events import Event, EventType
from tests.connectors.slack.fake_slack import check_blocks
from workers.taskview import TaskView

BINDING = {"platform": "slack", "team": "T1", "channel": "C1", "thread_ts": "1.000001", "user": "U1"}


def fold(*events: tuple[EventType, dict]) -> TaskView:  # type: ignore[type-arg]
    view = TaskView("task-1")
    for i, (kind, data) in enumerate(events):
        view.apply(Event(kind, "task-1", "s-1", data, ts=1000.0 + i))
    return view


def assert_valid(view: TaskView) -> list:  # type: ignore[type-arg]
    messages = render_task(view, BINDING)
    slots = [m.slot for m in messages]
    assert len(slots) == len(set(slots))
    for m in messages:
        assert check_blocks(m.body["text"], m.body["blocks"]) is None, (m.slot, check_blocks(m.body["text"], m.body["blocks"]))
    return messages


def test_status_shows_state_and_a_cancel_button_only_while_active() -> None:
    running = fold((EventType.TASK_QUEUED, {"graph": "writer", "position": 0}), (EventType.TASK_STARTED, {"run": 1}),
                   (EventType.NODE_COMPLETED, {"node": "plan"}))
    status = assert_valid(running)[0]
    assert status.slot == "status"
    assert "*writer* is running: step 2, after `plan`" in status.body["blocks"][0]["text"]["text"]
    assert status.body["blocks"][-1]["elements"][0]["action_id"] == "gg_cancel"
    done = fold((EventType.TASK_QUEUED, {"graph": "writer"}), (EventType.TASK_COMPLETED, {"text": "ok"}))
    status = assert_valid(done)[0]
    assert all(b["type"] != "actions" for b in status.body["blocks"])
    failed = fold((EventType.TASK_QUEUED, {"graph": "echo"}),
                  (EventType.TASK_FAILED, {"error": {"kind": "RuntimeError", "message": "x < y"}}))
    assert "failed: RuntimeError: x &lt; y" in assert_valid(failed)[0].body["blocks"][0]["text"]["text"]
    cancelled = fold((EventType.TASK_QUEUED, {"graph": "echo"}),
                     (EventType.TASK_CANCELLED, {"reason": "cancelled by slack:T1:U9"}))
    assert "(cancelled by <@U9>)" in assert_valid(cancelled)[0].body["blocks"][0]["text"]["text"]


def test_a_huge_final_answer_is_split_over_messages_within_limits() -> None:
    paragraph = "A long paragraph with **bold** text, <tags> & ampersands. " * 40
    answer = "\n\n".join(f"## Part {i}\n\n{paragraph}" for i in range(80))  # ~190,000 characters
    view = fold((EventType.TASK_QUEUED, {"graph": "writer"}), (EventType.TASK_STARTED, {"run": 1}),
                (EventType.TASK_COMPLETED, {"text": answer, "output": {}}))
    messages = assert_valid(view)
    finals = [m for m in messages if m.final]
    assert len(finals) >= 5 and [m.slot for m in finals][:2] == ["answer:1", "answer:1:1"]
    sections = [b["text"]["text"] for m in finals for b in m.body["blocks"] if b["type"] == "section"]
    assert sections == mrkdwn.split(mrkdwn.to_mrkdwn(answer))
    for m in finals:
        assert len(m.body["text"]) <= mrkdwn.MESSAGE_TEXT_LIMIT and len(m.body["blocks"]) <= mrkdwn.MESSAGE_BLOCKS_LIMIT
    assert "part 2 of" in json.dumps(finals[1].body["blocks"][-1])


def test_a_growing_answer_shows_its_tail_and_carries_the_full_markdown() -> None:
    text = "word " * 3000
    view = fold((EventType.TASK_QUEUED, {"graph": "writer"}), (EventType.TASK_STARTED, {"run": 1}),
                (EventType.MESSAGE_DELTA, {"text": text, "message_id": "m1"}))
    preview = assert_valid(view)[1]
    assert preview.slot == "answer:1" and preview.stream
    assert preview.body["markdown"] == text
    assert preview.body["blocks"][0]["text"]["text"].startswith("…")


def test_questions_have_buttons_within_limits_then_say_who_answered() -> None:
    options = [{"label": f"Option {'x' * 100} {i}", "value": "v" * 3000} for i in range(30)]
    asking = fold((EventType.TASK_QUEUED, {"graph": "g"}), (EventType.TASK_STARTED, {"run": 1}),
                  (EventType.INTERRUPT, {"interrupt_id": "i1", "question": "Pick *one*", "options": options,
                                         "value": {"question": "Pick", "outline": ["a", "b"], "note": "n"}}))
    question = assert_valid(asking)[-1]
    assert question.slot == "question:i1"
    buttons = [e for b in question.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert len(buttons) == 25 and json.loads(buttons[3]["value"]) == {"t": "task-1", "i": "i1", "o": 3}
    assert "*Outline*\n1. a\n2. b" in json.dumps(question.body["blocks"], ensure_ascii=False).replace("\\n", "\n")
    answered = fold((EventType.TASK_QUEUED, {"graph": "g"}), (EventType.TASK_STARTED, {"run": 1}),
                    (EventType.INTERRUPT, {"interrupt_id": "i1", "question": "Pick", "options": options[:2]}),
                    (EventType.TASK_RESUMED, {"interrupt_id": "i1", "answer": "v" * 3000, "by": "slack:T1:U1"}))
    question = assert_valid(answered)[-1]
    assert all(b["type"] != "actions" for b in question.body["blocks"])
    assert f"<@U1> answered: *{'Option ' + 'x' * 100} 0*" in json.dumps(question.body["blocks"])


def test_free_text_question_invites_a_reply() -> None:
    view = fold((EventType.TASK_QUEUED, {"graph": "ask"}), (EventType.TASK_STARTED, {"run": 1}),
                (EventType.INTERRUPT, {"interrupt_id": "i2", "question": "What should I call you?", "options": []}))
    question = assert_valid(view)[-1]
    assert "Reply in this thread to answer." in json.dumps(question.body["blocks"])
