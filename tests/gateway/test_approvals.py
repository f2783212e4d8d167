"""Approval policies in-process, on a real Redis and the real task service: which policy a question gets,
who may answer it (everyone else is refused, recorded, and changes nothing), N-of-M votes, the clock's
reminders, escalations and timeouts (exactly once with two clocks), and the audit trail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphgate.core import approvals
from graphgate.core.approvalclock import ApprovalClock, open_questions
from graphgate.core.approvals import Actor, AlreadyApproved, Approvals, PolicyError
from graphgate.core.errors import Forbidden, NotFound
from graphgate.core.interrupts import interrupt_data
from graphgate.core.registry import GraphRegistry
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.tasks import Principal
from graphgate.testing.world import PLAIN_GRAPH, QUESTION, World, write_registry

POLICIES: dict[str, Any] = {
    "policies": {
        "finance": {
            "label": "@finance",
            "approvers": {
                "slack": {"users": ["UFIN1"], "groups": ["SFIN"]},
                "telegram": {"users": [4242]},
                "api": {"subjects": ["fiona"], "claims": {"role": "finance"}},
            },
            "post": [{"slack": {"channel": "CFIN", "team": "T1"}}, {"telegram": {"chat": -1001}}, "approvers"],
            "required": 2,
        },
        "editors": {
            "approvers": {"api": {"subjects": ["ed"]}, "starter": True},
            "post": ["starter"],
            "remind_every": 10,
            "timeout": 25,
            "on_timeout": {"escalate": "chief"},
        },
        "chief": {"label": "the chief", "approvers": {"api": {"subjects": ["chief"]}}, "timeout": 10},
    },
    "graphs": {"plain": {"default": "editors", "tools": {"send_email": "finance"}}},
}
ALICE = Principal("alice")
FIONA = Actor.api("fiona")
CARL = Actor.api("carl", {"role": "finance"})


@pytest.fixture
def registry(tmp_path: Path) -> GraphRegistry:
    return write_registry(tmp_path, PLAIN_GRAPH, ["plain"], approvals=POLICIES)


@pytest.fixture
def world(redis_url: str, registry: GraphRegistry) -> Iterator[World]:
    w = World(redis_url, registry)
    yield w
    w.close()


def routed(world: World, value: Any = None) -> TaskRecord:
    """A task of alice waiting on one question routed to finance (by its ``route`` key)."""
    return world.waiting(ALICE, [value or {**QUESTION, "route": "finance"}], graph="plain")


def types(world: World, record: TaskRecord) -> list[str]:
    return [e["type"] for e in world.events(record)]


# --- configuration --------------------------------------------------------------------------------------


def test_policies_are_read_and_each_mistake_is_named() -> None:
    config = Approvals.from_dict(POLICIES, ["plain"])
    assert config.policies["finance"].required == 2
    assert config.policies["editors"].escalate_to == "chief"
    assert approvals.duration("4h") == 14400 and approvals.duration("1.5m") == 90
    bad = [
        ({"policies": {"p": {"approvers": {}}}}, "names nobody"),
        ({"policies": {"p": {"approvers": {"starter": True}, "required": 0}}}, "required"),
        ({"policies": {"p": {"approvers": {"starter": True}, "on_timeout": "maybe"}}}, "on_timeout"),
        ({"policies": {"p": {"approvers": {"starter": True}, "on_timeout": {"escalate": "q"}}}}, "unknown policy"),
        ({"policies": {"p": {"approvers": {"starter": True}, "timeout": "soon"}}}, "timeout"),
        ({"policies": {"p": {"approvers": {"starter": True}, "post": [{"slack": {}}]}}}, "post[0]"),
        ({"policies": {"p": {"approvers": {"starter": True}}}, "graphs": {"nope": "p"}}, "no graph"),
        ({"policies": {}, "graphs": {"plain": "missing"}}, "unknown policy"),
        ({"policies": {"p": {"approvers": {"slack": {"users": [True]}}}}}, "list of ids"),
    ]
    for raw, words in bad:
        with pytest.raises(PolicyError, match=words.replace("[", r"\[").replace("]", r"\]")):
            Approvals.from_dict(raw, ["plain"])


def test_the_policy_comes_from_the_route_then_the_tool_then_the_graph() -> None:
    config = Approvals.from_dict(POLICIES, ["plain"])
    routed_question = interrupt_data("i", {"question": "Pay?", "route": "chief"})
    assert config.policy_for("plain", routed_question).name == "chief"  # type: ignore[union-attr]
    email = interrupt_data(
        "i",
        {
            "action_requests": [{"name": "send_email", "args": {"to": "x"}}],
            "review_configs": [{"action_name": "send_email", "allowed_decisions": ["approve", "reject"]}],
        },
    )
    assert config.policy_for("plain", email).name == "finance"  # type: ignore[union-attr]
    assert config.policy_for("plain", interrupt_data("i", "Which city?")).name == "editors"  # type: ignore[union-attr]
    assert config.policy_for("other", interrupt_data("i", "Which city?")) is None


def test_places_are_chat_bindings_with_a_dm_for_each_listed_approver() -> None:
    policy = Approvals.from_dict(POLICIES, ["plain"]).policies["finance"]
    places = approvals.places(policy, None)
    assert [(p["platform"], p.get("channel"), p.get("chat")) for p in places] == [
        ("slack", "CFIN", None),
        ("telegram", None, -1001),
        ("slack", "UFIN1", None),
        ("telegram", None, 4242),
    ]
    assert all(p["audience"] == "approvers" for p in places)


# --- who may answer ---------------------------------------------------------------------------------------


def test_someone_the_policy_does_not_name_is_refused_recorded_and_changes_nothing(world: World) -> None:
    record = routed(world)
    for stranger in (Actor.api("mallory"), Actor.api("alice"), Actor.api("eve", {"role": "sales"})):
        with pytest.raises(Forbidden, match="only @finance may answer"):
            world.run(world.service.answer(stranger, record.id, "approve"))
    after = world.task(ALICE, record.id)
    assert after.status == TaskStatus.WAITING_INPUT and after.answer_rev == record.answer_rev
    assert world.enqueued == []
    refusals = [e["data"] for e in world.events(record) if e["type"] == "approval.refused"]
    assert [r["by"] for r in refusals] == ["mallory", "alice", "eve"]


def test_a_question_no_policy_routes_is_still_only_the_starters(world: World, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    plain = World(world.settings.redis_url, write_registry(tmp_path / "p", PLAIN_GRAPH, ["plain"]))
    try:
        record = plain.waiting(ALICE, [QUESTION], graph="plain")
        with pytest.raises(NotFound):
            plain.run(plain.service.answer(FIONA, record.id, "approve"))
        plain.run(plain.service.answer(Actor.api("alice"), record.id, "approve"))
        assert plain.task(ALICE, record.id).status == TaskStatus.QUEUED
    finally:
        plain.close()


def test_two_of_m_approvals_by_different_people_resume_once(world: World) -> None:
    record = routed(world)
    slack_user = Actor("slack:T1:UFIN1", "slack", "UFIN1", "slack:T1:UFIN1", where="slack:T1:CFIN", team="T1")
    world.run(world.service.answer(slack_user, record.id, "approve"))
    assert world.task(ALICE, record.id).status == TaskStatus.WAITING_INPUT and world.enqueued == []
    with pytest.raises(AlreadyApproved):
        world.run(world.service.answer(slack_user, record.id, "approve"))
    telegram_user = Actor("telegram:-1001", "telegram", "4242", "telegram:user:4242", where="telegram:-1001")
    world.run(world.service.answer(telegram_user, record.id, "approve"))
    assert world.task(ALICE, record.id).status == TaskStatus.QUEUED and world.enqueued == [record.id]
    given = [e["data"] for e in world.events(record) if e["type"] == "approval.given"]
    assert [(g["by"], g["votes"], g["decides"]) for g in given] == [
        ("slack:T1:UFIN1", 1, False),
        ("telegram:user:4242", 2, True),
    ]
    resumed = [e["data"] for e in world.events(record) if e["type"] == "task.resumed"]
    assert resumed[0]["by"] == "telegram:user:4242" and resumed[0]["answer"] == "approve"


def test_a_user_group_member_and_a_claim_count_and_one_rejection_is_enough(world: World) -> None:
    record = routed(world)
    grouped = Actor("slack:T1:UX", "slack", "UX", "slack:T1:UX", team="T1", groups=frozenset({"SFIN"}))
    world.run(world.service.answer(grouped, record.id, "approve"))
    world.run(world.service.answer(CARL, record.id, "reject"))
    after = world.task(ALICE, record.id)
    assert after.status == TaskStatus.QUEUED and (after.resume or {})["answers"] == {"i0": "reject"}


def test_the_starter_answers_when_the_policy_says_so(world: World) -> None:
    record = world.waiting(ALICE, ["Which city?"], graph="plain")  # editors: the starter is an approver
    world.run(world.service.answer(Actor.api("alice"), record.id, "Paris"))
    assert world.task(ALICE, record.id).status == TaskStatus.QUEUED


# --- the clock -----------------------------------------------------------------------------------------------


def test_reminders_then_escalation_then_the_timeout_outcome_each_written_once_by_two_clocks(world: World) -> None:
    record = world.waiting(ALICE, ["Which city?"], graph="plain")  # editors: remind 10 s, escalate at 25 s
    asked = float((world.task(ALICE, record.id).approvals or {})["i0"]["asked_at"])
    clocks = [ApprovalClock(world.service), ApprovalClock(world.service)]

    def tick(at: float) -> int:
        return sum(world.run(clock.tick(asked + at)) for clock in clocks)

    assert tick(5) == 0
    assert tick(11) == 1  # the first reminder, written by one clock only
    assert tick(12) == 0
    assert tick(21) == 1
    assert tick(26) == 1  # the deadline: escalated to the chief
    approval = (world.task(ALICE, record.id).approvals or {})["i0"]
    assert approval["policy"] == "chief" and approval["level"] == 1
    with pytest.raises(Forbidden):  # the editors' time is over
        world.run(world.service.answer(Actor.api("ed"), record.id, "Paris"))
    assert world.run(open_questions(world.service, Actor.api("chief"))) == [(world.task(ALICE, record.id), "i0")]
    assert tick(30) == 0
    assert tick(37) == 1  # the chief's deadline: the policy's outcome, reject
    after = world.task(ALICE, record.id)
    assert after.status == TaskStatus.QUEUED and world.enqueued == [record.id]
    assert (after.resume or {})["answers"] == {"i0": "reject"}
    assert tick(60) == 0 and world.run(world.service.redis.zcard(world.keys.approvals_due())) == 0
    trail = [e.type.value for e in world.run(world.service.audit(Actor.api("alice"), record.id))]
    assert trail == [
        "task.queued",
        "interrupt",
        "approval.requested",
        "approval.reminded",
        "approval.reminded",
        "approval.escalated",
        "approval.refused",
        "approval.timed_out",
        "task.resumed",
    ]
    resumed = world.events(record)[-1]["data"]
    assert resumed["by"] == approvals.TIMEOUT_BY


def test_an_answer_ends_the_clock_and_the_audit_is_for_the_starter_and_the_approvers(world: World) -> None:
    record = world.waiting(ALICE, ["Which city?"], graph="plain")
    world.run(world.service.answer(Actor.api("ed"), record.id, "Paris"))
    assert world.run(ApprovalClock(world.service).tick(time.time() + 3600)) == 0
    assert world.run(world.service.audit(Actor.api("ed"), record.id))[-1].data["by"] == "ed"
    with pytest.raises(NotFound):
        world.run(world.service.audit(Actor.api("mallory"), record.id))


def test_a_timeout_answers_a_tool_approval_with_a_rejection_the_middleware_takes() -> None:
    data = interrupt_data(
        "i",
        {
            "action_requests": [{"name": "send_email", "args": {"to": "x"}}],
            "review_configs": [{"action_name": "send_email", "allowed_decisions": ["approve", "reject"]}],
        },
    )
    assert approvals.timeout_answer(data, "reject") == [{"type": "reject", "message": approvals.TIMEOUT_REASON}]
    assert approvals.timeout_answer(data, "approve") == [{"type": "approve"}]
    assert approvals.is_approval(data, {"decisions": [{"type": "approve"}]})
    assert not approvals.is_approval(data, {"decisions": [{"type": "reject"}]})
    question = interrupt_data("i", {"question": "Ship?", "options": [{"label": "Yes", "value": 1}, "No"]})
    assert approvals.timeout_answer(question, "approve") == "1" and approvals.timeout_answer(question, "reject") == "No"


def test_the_example_policies_load_and_route_the_writer_and_the_agent() -> None:
    from graphgate.core.registry import BUNDLED_CONFIG

    config = Approvals.load(None, BUNDLED_CONFIG.parent / "examples" / "approvals.json", ["writer", "agent"])
    writer = interrupt_data("i", {"question": "Approve this outline?", "options": ["Approve", "Revise"]})
    assert config.policy_for("writer", writer).name == "editors"  # type: ignore[union-attr]
    email = interrupt_data(
        "i",
        {
            "action_requests": [{"name": "send_email", "args": {"to": "x"}}],
            "review_configs": [{"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]}],
        },
    )
    policy = config.policy_for("agent", email)
    assert policy is not None and policy.name == "finance" and policy.required == 2
    assert config.policies["editors"].escalate_to == "managing-editor"
