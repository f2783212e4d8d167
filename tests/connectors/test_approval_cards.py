"""How Slack and Telegram show a routed question: in the approvers' places a card with its buttons while it
waits for them (and reminders), in the starter's chat who it waits for; votes, escalation and the deadline
change both."""

from __future__ import annotations

from typing import Any

from graphgate.connectors.slack.render import render_task as slack_render
from graphgate.connectors.telegram.chats import parse_callback
from graphgate.connectors.telegram.render import render_task as telegram_render
from graphgate.core import approvals
from graphgate.core.events import Event, EventType
from graphgate.core.interrupts import interrupt_data
from graphgate.core.platform import Message
from graphgate.core.taskview import TaskView

TASK = "0b6f3c1e-4d5a-4f7e-9a51-3c2d1e0f9a87"
POLICY = approvals.Policy.from_dict(
    "finance",
    {
        "label": "@finance",
        "approvers": {"slack": {"users": ["UFIN"]}, "telegram": {"users": [42]}},
        "post": [{"slack": {"channel": "CFIN", "team": "T1"}}, {"telegram": {"chat": -100}}],
        "required": 2,
        "timeout": 60,
        "on_timeout": {"escalate": "cfo"},
    },
)
CFO = approvals.Policy.from_dict(
    "cfo", {"label": "the CFO", "approvers": {"slack": {"users": ["UCFO"]}}, "post": ["approvers"]}
)
STARTER_SLACK = {"platform": "slack", "team": "T1", "channel": "CSTART", "thread_ts": "1.0", "user": "UALICE"}


def view_with(*events: tuple[EventType, dict[str, Any]]) -> TaskView:
    view = TaskView(TASK, graph="parallel")
    for n, (kind, data) in enumerate(
        [(EventType.TASK_QUEUED, {"graph": "parallel"}), (EventType.TASK_STARTED, {"run": 1, "attempt": 1}), *events]
    ):
        view.apply(Event(kind, TASK, "s", data, ts=1_800_000_000.0 + n))
    return view


def asked() -> tuple[EventType, dict[str, Any]]:
    approval = approvals.resolve(POLICY, STARTER_SLACK, "slack:T1:UALICE", now=1_800_000_000.0)
    data = interrupt_data("i0", {"question": "Pay 12,000 EUR to ACME?", "options": ["approve", "reject"]})
    return EventType.INTERRUPT, {**data, "approval": approval, "index": 0, "count": 1}


def place(view: TaskView, platform: str) -> dict[str, Any]:
    return next(p for p in view.places if p["platform"] == platform)


def slack_card(messages: list[Message]) -> Message:
    return next(m for m in messages if m.slot == "question:i0")


def texts(message: Message) -> str:
    """The mrkdwn of a Slack message's section and context blocks."""
    out = []
    for block in message.body["blocks"]:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out += [e["text"] for e in block["elements"]]
    return "\n".join(out)


def buttons(message: Message) -> list[str]:
    return [e["text"]["text"] for b in message.body["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_the_approvers_get_a_card_with_buttons_and_the_starter_is_told_who_it_waits_for() -> None:
    view = view_with(asked())
    assert [p["platform"] for p in view.places] == ["slack", "telegram"]

    card = slack_card(slack_render(view, place(view, "slack")))
    assert "Approval needed" in texts(card) and "asked by <@UALICE>" in texts(card)
    assert buttons(card) == ["approve", "reject"]
    assert "@finance (0 of 2 approvals)" in texts(card) and "<!date^1800000060^" in texts(card)

    starter = slack_render(view, STARTER_SLACK)
    question = slack_card(starter)
    assert buttons(question) == [] and "Waiting for approval by *@finance (0 of 2 approvals)*" in texts(question)
    status = next(m for m in starter if m.slot == "status")
    assert "from @finance" in texts(status)

    tg = next(m for m in telegram_render(view, place(view, "telegram")) if m.slot == "question:i0")
    keys = [b["callback_data"] for row in tg.body["keyboard"] for b in row]
    pressed = [parse_callback(k) for k in keys]
    assert [(p.action, p.token, p.option) for p in pressed if p] == [("vote", TASK, 0), ("vote", TASK, 1)]
    assert all(len(k.encode()) <= 64 for k in keys)
    assert "Deadline: 2027-01-15 08:01 UTC" in tg.body["text"]


def test_votes_reminders_escalation_and_the_deadline_show_in_every_place() -> None:
    vote = (
        EventType.APPROVAL_GIVEN,
        {
            "interrupt_id": "i0",
            "by": "slack:T1:UFIN",
            "name": "fin",
            "where": "slack:T1:CFIN",
            "answer": "approve",
            "approves": True,
            "votes": 1,
            "required": 2,
            "decides": False,
        },
    )
    reminded = (EventType.APPROVAL_REMINDED, {"interrupt_id": "i0", "reminder": 1, "left": 3600})
    view = view_with(asked(), vote, reminded)
    slack_place = place(view, "slack")
    messages = slack_render(view, slack_place)
    assert "Approved so far by <@UFIN>" in texts(slack_card(messages))
    reminder = next(m for m in messages if m.slot == "reminder:i0:1")
    assert "still waits for *@finance (1 of 2 approvals)* (1h 00m left)" in texts(reminder)

    escalation = approvals.resolve(CFO, STARTER_SLACK, "slack:T1:UALICE", level=1)
    view = view_with(
        asked(),
        vote,
        reminded,
        (EventType.APPROVAL_ESCALATED, {"interrupt_id": "i0", "from": "finance", "to": "cfo", "approval": escalation}),
    )
    old = slack_card(slack_render(view, slack_place))
    assert buttons(old) == [] and "Escalated to *the CFO*" in texts(old)
    assert not [m for m in slack_render(view, slack_place) if m.slot.startswith("reminder:")]
    dm = next(p for p in view.places if p.get("channel") == "UCFO")
    assert buttons(slack_card(slack_render(view, dm))) == ["approve", "reject"]

    timed_out = (
        EventType.APPROVAL_TIMED_OUT,
        {"interrupt_id": "i0", "policy": "cfo", "outcome": "reject", "answer": "reject"},
    )
    resumed = (
        EventType.TASK_RESUMED,
        {"interrupt_id": "i0", "answer": "reject", "answers": {"i0": "reject"}, "by": approvals.TIMEOUT_BY},
    )
    view = view_with(
        asked(),
        (EventType.APPROVAL_ESCALATED, {"interrupt_id": "i0", "from": "finance", "to": "cfo", "approval": escalation}),
        timed_out,
        resumed,
    )
    for binding in (*view.places, STARTER_SLACK):
        card = slack_card(slack_render(view, binding))
        assert buttons(card) == [] and "No answer before the deadline: *reject*" in texts(card)
    tg = next(m for m in telegram_render(view, place(view, "telegram")) if m.slot == "question:i0")
    assert "keyboard" not in tg.body and "No answer before the deadline" in tg.body["text"]


def test_a_policy_that_posts_to_the_starter_keeps_the_buttons_there() -> None:
    policy = approvals.Policy.from_dict("team", {"approvers": {"slack": {"users": ["UBOB"]}}, "post": ["starter"]})
    approval = approvals.resolve(policy, STARTER_SLACK, "slack:T1:UALICE")
    data = interrupt_data("i0", {"question": "Ship it?", "options": ["approve", "reject"]})
    view = view_with((EventType.INTERRUPT, {**data, "approval": approval, "index": 0, "count": 1}))
    assert view.places == []
    card = slack_card(slack_render(view, STARTER_SLACK))
    assert buttons(card) == ["approve", "reject"] and "Needs approval by *team*" in texts(card)
