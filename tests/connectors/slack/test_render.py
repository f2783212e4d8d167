"""A task's view as Block Kit: every message stays within Slack's limits (checked like the fake Slack does)."""

from __future__ import annotations

import json

from graphgate.connectors.slack import mrkdwn
from graphgate.connectors.slack.render import render_task
from graphgate.core.events import Event, EventType
from graphgate.core.interrupts import interrupt_data
from graphgate.core.taskview import TaskView
from graphgate.testing.fake_slack import check_blocks

BINDING = {"platform": "slack", "team": "T1", "channel": "C1", "thread_ts": "1.000001", "user": "U1"}


def fold(*events: tuple[EventType, dict]) -> TaskView:  # type: ignore[type-arg]
    view = TaskView("task-1")
    for i, (kind, data) in enumerate(events):
        view.apply(Event(kind, "task-1", "s-1", data, ts=1000.0 + i))
    return view


def completed(answer: str) -> TaskView:
    """A writer task whose first run completed with ``answer``."""
    return fold(
        (EventType.TASK_QUEUED, {"graph": "writer"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.TASK_COMPLETED, {"text": answer, "output": {}}),
    )


def assert_valid(view: TaskView) -> list:  # type: ignore[type-arg]
    messages = render_task(view, BINDING)
    slots = [m.slot for m in messages]
    assert len(slots) == len(set(slots))
    for m in messages:
        assert check_blocks(m.body["text"], m.body["blocks"]) is None, (
            m.slot,
            check_blocks(m.body["text"], m.body["blocks"]),
        )
    return messages


def test_status_shows_state_and_a_cancel_button_only_while_active() -> None:
    running = fold(
        (EventType.TASK_QUEUED, {"graph": "writer", "position": 0}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.NODE_COMPLETED, {"node": "plan"}),
    )
    status = assert_valid(running)[0]
    assert status.slot == "status"
    assert "*writer* is running: step 2, after `plan`" in status.body["blocks"][0]["text"]["text"]
    assert status.body["blocks"][-1]["elements"][0]["action_id"] == "gg_cancel"
    done = fold((EventType.TASK_QUEUED, {"graph": "writer"}), (EventType.TASK_COMPLETED, {"text": "ok"}))
    status = assert_valid(done)[0]
    assert all(b["type"] != "actions" for b in status.body["blocks"])
    failed = fold(
        (EventType.TASK_QUEUED, {"graph": "echo"}),
        (EventType.TASK_FAILED, {"error": {"kind": "RuntimeError", "message": "x < y"}}),
    )
    assert "failed: RuntimeError: x &lt; y" in assert_valid(failed)[0].body["blocks"][0]["text"]["text"]
    cancelled = fold(
        (EventType.TASK_QUEUED, {"graph": "echo"}), (EventType.TASK_CANCELLED, {"reason": "cancelled by slack:T1:U9"})
    )
    assert "(cancelled by <@U9>)" in assert_valid(cancelled)[0].body["blocks"][0]["text"]["text"]


def test_a_huge_final_answer_is_split_over_messages_within_limits() -> None:
    paragraph = "A long paragraph with **bold** text, <tags> & ampersands. " * 40
    answer = "\n\n".join(f"## Part {i}\n\n{paragraph}" for i in range(80))  # ~190,000 characters
    messages = assert_valid(completed(answer))
    finals = [m for m in messages if m.final]
    assert len(finals) >= 5 and [m.slot for m in finals][:2] == ["answer:1", "answer:1:1"]
    sections = [b["text"]["text"] for m in finals for b in m.body["blocks"] if b["type"] == "section"]
    assert sections == mrkdwn.split(mrkdwn.to_mrkdwn(answer))
    for m in finals:
        assert len(m.body["text"]) <= mrkdwn.MESSAGE_TEXT_LIMIT and len(m.body["blocks"]) <= mrkdwn.MESSAGE_BLOCKS_LIMIT
    assert "part 2 of" in json.dumps(finals[1].body["blocks"][-1])


def test_the_thumbs_are_on_the_final_answers_last_message_not_a_message_of_their_own() -> None:
    """One paced call fewer per answered task: the buttons ride on the answer's last message, which the
    completion posts or edits anyway."""
    paragraph = "Tides rise and fall. " * 200
    for answer, parts in (("short answer", 1), ("\n\n".join([paragraph] * 60), None)):
        messages = assert_valid(completed(answer))
        finals = [m for m in messages if m.final]
        assert parts is None or len(finals) == parts
        assert "feedback" not in [m.slot for m in messages]
        thumbs = [
            [e["action_id"] for b in m.body["blocks"] if b["type"] == "actions" for e in b["elements"]] for m in finals
        ]
        assert thumbs[-1] == ["gg_feedback:1", "gg_feedback:-1"] and not any(thumbs[:-1])
    # an answer without text is shown as its output's summary, which carries them too
    silent = fold((EventType.TASK_QUEUED, {"graph": "echo"}), (EventType.TASK_COMPLETED, {"output": {"n": 1}}))
    last = assert_valid(silent)[-1]
    assert last.final and last.body["blocks"][-1]["block_id"] == "gg_feedback"


def test_a_growing_answer_shows_its_tail_and_carries_the_full_markdown() -> None:
    text = "word " * 3000
    view = fold(
        (EventType.TASK_QUEUED, {"graph": "writer"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.MESSAGE_DELTA, {"text": text, "message_id": "m1"}),
    )
    preview = assert_valid(view)[1]
    assert preview.slot == "answer:1" and preview.stream
    assert preview.body["markdown"] == text
    assert preview.body["blocks"][0]["text"]["text"].startswith("…")


def test_questions_have_buttons_within_limits_then_say_who_answered() -> None:
    options = [{"label": f"Option {'x' * 100} {i}", "value": "v" * 3000} for i in range(30)]
    asking = fold(
        (EventType.TASK_QUEUED, {"graph": "g"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (
            EventType.INTERRUPT,
            {
                "interrupt_id": "i1",
                "question": "Pick *one*",
                "options": options,
                "value": {"question": "Pick", "outline": ["a", "b"], "note": "n"},
            },
        ),
    )
    question = assert_valid(asking)[-1]
    assert question.slot == "question:i1"
    buttons = [e for b in question.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert len(buttons) == 25 and json.loads(buttons[3]["value"]) == {"t": "task-1", "i": "i1", "o": 3}
    assert "*Outline*\n1. a\n2. b" in json.dumps(question.body["blocks"], ensure_ascii=False).replace("\\n", "\n")
    answered = fold(
        (EventType.TASK_QUEUED, {"graph": "g"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, {"interrupt_id": "i1", "question": "Pick", "options": options[:2]}),
        (EventType.TASK_RESUMED, {"interrupt_id": "i1", "answer": "v" * 3000, "by": "slack:T1:U1"}),
    )
    question = assert_valid(answered)[-1]
    assert all(b["type"] != "actions" for b in question.body["blocks"])
    assert f"<@U1> answered: *{'Option ' + 'x' * 100} 0*" in json.dumps(question.body["blocks"])


def test_free_text_question_invites_a_reply() -> None:
    view = fold(
        (EventType.TASK_QUEUED, {"graph": "ask"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, {"interrupt_id": "i2", "question": "What should I call you?", "options": []}),
    )
    question = assert_valid(view)[-1]
    assert "Reply in this thread to answer." in json.dumps(question.body["blocks"])


def approval(
    interrupt_id: str = "i1", actions: int = 1, allowed: list[str] | None = None, args: dict | None = None
) -> dict:  # type: ignore[type-arg]
    """The data of a tool approval interrupt, as the worker writes it (graphgate/core/interrupts.py)."""
    requests = [
        {
            "name": "send_email",
            "args": args or {"to": f"p{n}@example.com", "subject": "Q3"},
            "description": "Send an e-mail",
        }
        for n in range(actions)
    ]
    configs = [{"action_name": "send_email", "allowed_decisions": allowed or ["approve", "edit", "reject"]}]
    return interrupt_data(interrupt_id, {"action_requests": requests, "review_configs": configs})


def buttons(message) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    return [e for b in message.body["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_a_tool_approval_shows_the_call_and_approve_edit_reject() -> None:
    view = fold(
        (EventType.TASK_QUEUED, {"graph": "agent"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, approval()),
    )
    question = assert_valid(view)[-1]
    text = json.dumps(question.body["blocks"], ensure_ascii=False)
    assert question.body["blocks"][0]["text"]["text"] == ":lock: *Approve the tool call `send_email`?*"
    assert '*send_email*\\nSend an e-mail\\n```\\n{\\n \\"to\\": \\"p0@example.com\\"' in text
    shown = buttons(question)
    assert [(b["action_id"], b["text"]["text"], b.get("style")) for b in shown] == [
        ("gg_answer:0", "Approve", "primary"),
        ("gg_edit", "Edit", None),
        ("gg_reject", "Reject", "danger"),
    ]
    assert json.loads(shown[0]["value"]) == {"t": "task-1", "i": "i1", "o": 0}  # the option "approve"
    assert json.loads(shown[1]["value"]) == json.loads(shown[2]["value"]) == {"t": "task-1", "i": "i1"}
    assert "`reject: &lt;reason&gt;`" in text  # the reply words, escaped for mrkdwn


def test_several_calls_cannot_be_edited_with_one_button_and_disallowed_decisions_have_none() -> None:
    two = fold(
        (EventType.TASK_QUEUED, {"graph": "agent"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, approval(actions=2)),
    )
    question = assert_valid(two)[-1]
    assert [b["text"]["text"] for b in buttons(question)] == ["Approve", "Reject"]
    assert "*1. send_email*" in json.dumps(question.body["blocks"]) and "*2. send_email*" in json.dumps(
        question.body["blocks"]
    )
    approve_only = fold(
        (EventType.TASK_QUEUED, {"graph": "agent"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, approval(allowed=["approve"])),
    )
    assert [b["text"]["text"] for b in buttons(assert_valid(approve_only)[-1])] == ["Approve"]


def test_huge_tool_arguments_stay_within_slacks_limits() -> None:
    args = {"body": "<&>" * 20_000, "to": "x@example.com"}  # escaping makes it five times longer
    view = fold(
        (EventType.TASK_QUEUED, {"graph": "agent"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, approval(args=args)),
    )
    question = assert_valid(view)[-1]
    assert len(buttons(question)) == 3
    assert "&lt;&amp;&gt;" in json.dumps(question.body["blocks"])


def test_an_answered_approval_says_who_decided_what() -> None:
    data = approval()
    view = fold(
        (EventType.TASK_QUEUED, {"graph": "agent"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, data),
        (
            EventType.TASK_RESUMED,
            {
                "interrupt_id": "i1",
                "by": "slack:T1:U7",
                "answer": {"decisions": [{"type": "reject", "message": "wrong <person>"}]},
            },
        ),
    )
    question = assert_valid(view)[-1]
    assert buttons(question) == []
    assert "<@U7> answered: *Rejected: wrong &lt;person&gt;*" in json.dumps(question.body["blocks"])


def test_every_pending_question_of_a_pause_has_its_own_buttons() -> None:
    legal = interrupt_data("il", {"question": "Legal review?", "options": ["approve", "reject"]})
    finance = interrupt_data("if", {"question": "Finance review?", "options": ["approve", "reject"]})
    both = fold(
        (EventType.TASK_QUEUED, {"graph": "parallel"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, legal),
        (EventType.INTERRUPT, finance),
    )
    questions = [m for m in assert_valid(both) if m.slot.startswith("question:")]
    assert [m.slot for m in questions] == ["question:il", "question:if"]
    assert [[json.loads(b["value"])["i"] for b in buttons(m)] for m in questions] == [["il", "il"], ["if", "if"]]
    one_left = fold(
        (EventType.TASK_QUEUED, {"graph": "parallel"}),
        (EventType.TASK_STARTED, {"run": 1}),
        (EventType.INTERRUPT, legal),
        (EventType.INTERRUPT, finance),
        (
            EventType.INTERRUPT_ANSWERED,
            {"interrupt_id": "il", "answer": "approve", "by": "slack:T1:U1", "pending": ["if"]},
        ),
    )
    legal_msg, finance_msg = [m for m in assert_valid(one_left) if m.slot.startswith("question:")]
    assert buttons(legal_msg) == [] and "<@U1> answered: *approve*" in json.dumps(legal_msg.body["blocks"])
    assert [b["text"]["text"] for b in buttons(finance_msg)] == ["approve", "reject"]
