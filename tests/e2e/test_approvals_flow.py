"""Approvals routed to the right people, end to end through real processes: the API, a Celery worker, a
dispatcher (which runs the approval clock), Redis, and fake Slack and Telegram servers on loopback.

* a task started from the web widget's API whose question is posted into a Slack channel and answered there
  by a member of the policy's user group, after a stranger's click was refused;
* an N-of-M approval across a Slack channel and a Telegram group, beside a question that is reminded,
  escalated to a DM, and finally rejected by its deadline; the graph resumes with both answers;
* a dispatcher killed right after posting a question into the approvers' channel: the question is there once;
* each task's audit trail, in order.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphgate.testing.client import Api
from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.fake_bot_api import FakeBotApi
from graphgate.testing.fake_slack import FakeSlack, Msg
from graphgate.testing.slack import SlackSender, accepted_posts, new_channel, slack_env, slot_message
from graphgate.testing.stack import Proc, Stack, running_stack
from graphgate.testing.telegram import Webhook, telegram_env
from graphgate.testing.waiting import wait_for

EDITORS, LEGAL, FINANCE = new_channel(), new_channel(), new_channel()
LEGAL_GROUP = -1007001
EDITOR, STRANGER, LAWYER, CFO = "UEDITOR1", "USTRANGE", "ULAWYER1", "UCFO0001"
TELEGRAM_LAWYER = 7001
POLICIES: dict[str, Any] = {
    "policies": {
        "editors": {
            "label": "@editors",
            "approvers": {"slack": {"groups": ["SEDITORS"]}},
            "post": [{"slack": {"channel": EDITORS, "team": "T0001"}}],
        },
        "legal": {
            "label": "@legal",
            "approvers": {"slack": {"users": [LAWYER]}, "telegram": {"users": [TELEGRAM_LAWYER]}},
            "post": [{"slack": {"channel": LEGAL, "team": "T0001"}}, {"telegram": {"chat": LEGAL_GROUP}}],
            "required": 2,
        },
        "finance": {
            "label": "@finance",
            "approvers": {"api": {"subjects": ["fin"]}},
            "post": [{"slack": {"channel": FINANCE, "team": "T0001"}}],
            "remind_every": 1.5,
            "timeout": 4,
            "on_timeout": {"escalate": "cfo"},
        },
        "cfo": {
            "label": "the CFO",
            "approvers": {"slack": {"users": [f"T0001:{CFO}"]}},
            "post": ["approvers"],
            "timeout": 3,
            "on_timeout": "reject",
        },
    },
    "graphs": {"writer": "editors"},
}


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.usergroups["SEDITORS"] = [EDITOR]
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def stack(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, fake_slack: FakeSlack, fake_telegram: FakeBotApi
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("approvals")
    policies = workdir / "approvals.json"
    policies.write_text(json.dumps(POLICIES))
    env = {
        **telegram_env(fake_telegram),
        **slack_env(fake_slack, GRAPHGATE_OFFLINE_MODEL_DELAY="0.001"),
        "GRAPHGATE_APPROVALS_FILE": str(policies),
        "GRAPHGATE_APPROVAL_TICK_SECONDS": "0.2",
        "GRAPHGATE_DISPATCHER_CHANNEL_INTERVAL": "0.05",
    }
    with running_stack(redis_url, workdir, env) as s:
        yield s


@pytest.fixture
def dispatcher(stack: Stack) -> Iterator[Proc]:
    proc = start_dispatcher(stack)
    yield proc
    stack.stop_proc(proc)


def card(fake: FakeSlack, channel: str, check: Any = lambda m: bool(m.actions())) -> Msg:
    """The approval card in an approvers' channel (a top-level ``question:`` message of the bot)."""
    return slot_message(fake, channel, "question:", check)


def audit(api: Api, task_id: str) -> list[dict[str, Any]]:
    resp = api.http.get(f"/api/v1/tasks/{task_id}/audit")
    assert resp.status_code == 200, resp.text
    return resp.json()["events"]


def test_a_widget_task_is_approved_in_slack_by_the_policys_group_after_a_stranger_is_refused(
    stack: Stack, fake_slack: FakeSlack, dispatcher: Proc
) -> None:
    alice = Api(stack.url, "alice")
    created = alice.create(graph="writer", topic="urban beekeeping", mode="interactive", config={"target_length": 200})
    task = alice.wait_status(created["task_id"], {"waiting_input"})
    assert task["approvals"][task["interrupt"]["interrupt_id"]]["label"] == "@editors"

    question = card(fake_slack, EDITORS)
    assert question.thread_ts is None  # a top-level message in the editors' channel
    assert "Approval needed" in question.contexts() and "asked by alice" in question.contexts()
    assert [a["text"]["text"] for a in question.actions()] == ["Approve", "Revise"]

    # the starter may not answer a question the policy gives to the editors: 403, recorded, nothing changes
    refused = alice.resume(created["task_id"], "approve")
    assert refused.status_code == 403 and "only @editors may answer" in refused.json()["error"]["message"]

    slack = SlackSender(stack.url, fake_slack)
    assert slack.click(question, question.actions()[0], user=STRANGER).status_code == 200
    wait_for(lambda: any(e["user"] == STRANGER for e in fake_slack.ephemerals), 10, what="the stranger's note")
    note = next(e for e in fake_slack.ephemerals if e["user"] == STRANGER)
    assert "Only @editors may answer this question" in note["text"]
    assert alice.get(created["task_id"])["status"] == "waiting_input"

    assert slack.click(question, question.actions()[0], user=EDITOR).status_code == 200
    done = alice.wait_status(created["task_id"], {"completed"}, timeout=60)
    assert done["output"]["article"]
    answered = card(fake_slack, EDITORS, lambda m: "answered" in m.contexts())
    assert f"<@{EDITOR}> answered: *Approve*" in answered.contexts() and answered.actions() == []
    assert set(accepted_posts(fake_slack, EDITORS).values()) == {1}

    trail = audit(alice, created["task_id"])
    kinds = [e["type"] for e in trail]
    assert kinds[:3] == ["task.queued", "task.started", "interrupt"]
    assert kinds[3:8] == [
        "approval.requested",
        "approval.refused",
        "approval.refused",
        "approval.given",
        "task.resumed",
    ]
    assert kinds[-1] == "task.completed"
    refusals = [e["data"] for e in trail if e["type"] == "approval.refused"]
    assert [(r["by"], r["where"]) for r in refusals] == [
        ("alice", "api"),
        (f"slack:T0001:{STRANGER}", f"slack:T0001:{EDITORS}"),
    ]
    given = next(e["data"] for e in trail if e["type"] == "approval.given")
    assert given["by"] == f"slack:T0001:{EDITOR}" and given["where"] == f"slack:T0001:{EDITORS}"
    jsonl = alice.http.get(f"/api/v1/tasks/{created['task_id']}/audit", params={"format": "jsonl"})
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line)["type"] for line in jsonl.text.splitlines()] == kinds
    assert Api(stack.url, "mallory").http.get(f"/api/v1/tasks/{created['task_id']}/audit").status_code == 404


def test_n_of_m_across_slack_and_telegram_beside_a_reminded_escalated_and_rejected_question(
    stack: Stack, fake_slack: FakeSlack, fake_telegram: FakeBotApi, dispatcher: Proc
) -> None:
    alice = Api(stack.url, "alice")
    created = alice.create(graph="parallel", request="open an office in Lisbon")
    task = alice.wait_status(created["task_id"], {"waiting_input"})
    by_route = {i["value"]["route"]: i["interrupt_id"] for i in task["interrupts"]}
    assert {a["policy"] for a in task["approvals"].values()} == {"legal", "finance"}

    # legal needs two approvals: one click in Slack, one key in the Telegram group
    slack = SlackSender(stack.url, fake_slack)
    legal_card = card(fake_slack, LEGAL)
    slack.click(legal_card, legal_card.actions()[0], user=LAWYER)
    wait_for(lambda: "Approved so far by" in card(fake_slack, LEGAL).contexts(), 15, what="the first vote on the card")
    assert alice.get(created["task_id"])["status"] == "waiting_input"
    group_card = wait_for(
        lambda: next((m for m in fake_telegram.bot_messages(LEGAL_GROUP) if m.keyboard), None),
        15,
        what="the legal card in the Telegram group",
    )
    assert "Approval needed" in group_card.text and all(d.startswith("v:") for d in group_card.callback_data)
    hook = Webhook(stack.url)
    group = fake_telegram.chat(LEGAL_GROUP, "supergroup", "Legal")
    approve = next(b["callback_data"] for row in group_card.keyboard for b in row if b["text"] == "approve")
    outsider = fake_telegram.user(8008, "Eve", "eve")
    assert hook.send(fake_telegram.callback_update(group, outsider, group_card, approve)).status_code == 200
    lawyer = fake_telegram.user(TELEGRAM_LAWYER, "Lena", "lena")
    assert hook.send(fake_telegram.callback_update(group, lawyer, group_card, approve)).status_code == 200
    wait_for(
        lambda: by_route["legal"] not in {i["interrupt_id"] for i in alice.get(created["task_id"])["interrupts"]},
        15,
        what="legal's two approvals",
    )
    refused = [
        c for c in fake_telegram.calls_of("answerCallbackQuery") if "Only @legal may answer" in str(c.args.get("text"))
    ]
    assert len(refused) == 1, [c.args for c in fake_telegram.calls_of("answerCallbackQuery")]
    assert refused[0].args.get("show_alert") in (True, "true", "True")

    # finance: reminded in its channel, escalated to the CFO's DM, then rejected by the CFO's deadline
    wait_for(lambda: fake_slack.by_slot(FINANCE, f"reminder:{by_route['finance']}:1"), 15, what="a reminder")
    cfo_card = wait_for(lambda: fake_slack.by_slot(CFO, f"question:{by_route['finance']}"), 20, what="the CFO's DM")
    assert cfo_card[0].actions(), "the CFO's DM has the buttons"
    escalated = card(fake_slack, FINANCE, lambda m: "Escalated to" in m.contexts())
    assert escalated.actions() == []
    done = alice.wait_status(created["task_id"], {"completed"}, timeout=30)
    assert "legal chose approve, finance chose reject" in done["output"]["answer"]
    timed_out = card(fake_slack, CFO, lambda m: "No answer before the deadline" in m.contexts())
    assert timed_out.actions() == []

    kinds = [e["type"] for e in audit(alice, created["task_id"]) if e["type"].startswith("approval.")]
    legal_events = [
        e["type"]
        for e in audit(alice, created["task_id"])
        if e["type"].startswith("approval.") and e["data"]["interrupt_id"] == by_route["legal"]
    ]
    assert legal_events == [
        "approval.requested",
        "approval.given",
        "approval.refused",
        "approval.given",
    ]
    finance_events = [
        e["type"]
        for e in audit(alice, created["task_id"])
        if e["type"].startswith("approval.") and e["data"]["interrupt_id"] == by_route["finance"]
    ]
    assert finance_events[0] == "approval.requested" and "approval.reminded" in finance_events
    assert finance_events[-2:] == ["approval.escalated", "approval.timed_out"]
    assert len(kinds) == len(legal_events) + len(finance_events)


def test_a_dispatcher_killed_after_posting_a_question_to_the_approvers_posts_it_once(
    stack: Stack, fake_slack: FakeSlack
) -> None:
    doomed = start_dispatcher(stack, "doomed", GRAPHGATE_DISPATCHER_CRASH_AFTER_POST="approval.requested")
    alice = Api(stack.url, "alice")
    channel_before = len(fake_slack.bot_messages(EDITORS))
    try:
        created = alice.create(graph="writer", topic="tide pools", mode="interactive", config={"target_length": 200})
        assert doomed.popen.wait(60) == -signal.SIGKILL
        assert "FAULT INJECTION: SIGKILL after posting" in doomed.text()
    finally:
        stack.stop_proc(doomed)
    survivor = start_dispatcher(stack, "survivor")
    try:
        question = wait_for(
            lambda: next(
                (
                    m
                    for m in fake_slack.bot_messages(EDITORS)[channel_before:]
                    if m.task_id and m.task_id.startswith(created["task_id"]) and m.actions()
                ),
                None,
            ),
            30,
            what="the question in the editors' channel",
        )
        SlackSender(stack.url, fake_slack).click(question, question.actions()[0], user=EDITOR)
        alice.wait_status(created["task_id"], {"completed"}, timeout=60)
        wait_for(
            lambda: "answered" in fake_slack.by_slot(EDITORS, question.slot or "")[-1].contexts(), 15, what="the edit"
        )
    finally:
        stack.stop_proc(survivor)
    assert "posted before a restart" in survivor.text()
    cards = [m for m in fake_slack.bot_messages(EDITORS) if m.task_id and m.task_id.startswith(created["task_id"])]
    assert len(cards) == 1, [m.slot for m in cards]
    assert any(c.method == "conversations.history" for c in fake_slack.calls_of(channel=EDITORS))


def test_bad_policies_stop_the_process_with_the_place_of_the_mistake(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "approvals.json"
    bad.write_text(json.dumps({"policies": {"p": {"approvers": {}}}}))
    out = subprocess.run(
        [sys.executable, "-m", "graphgate.cli", "doctor"],
        env={
            "GRAPHGATE_APPROVALS_FILE": str(bad),
            "PATH": "/usr/bin:/bin",
            "GRAPHGATE_REDIS_URL": "redis://127.0.0.1:1/0",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "policies.p.approvers names nobody" in out.stdout + out.stderr
