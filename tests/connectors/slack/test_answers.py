"""Slack's answer handlers in-process, on a real task service: only the person who started a task answers
it — a click, a modal submission or a typed reply by anyone else gets a note and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from graphgate.connectors.slack import modals
from graphgate.connectors.slack.answers import ANSWERED, NOT_YOURS, Answers
from graphgate.connectors.slack.threads import SlackThread, principal
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.testing.world import QUESTION, World

THREAD = SlackThread("T0001", "C0001", "1700000000.000100")
ADA, BO = "UADA0001", "UBO00001"


class RecordingClient:
    """The Web API calls the handlers make, recorded instead of sent."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str]] = []  # (user, text) of each ephemeral message

    async def chat_postEphemeral(self, *, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        self.notes.append((user, text))


class Acks:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def click(user: str, record: TaskRecord, option: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body and action of a click by ``user`` on an option's button of ``record``'s question."""
    body = {
        "user": {"id": user, "team_id": THREAD.team},
        "channel": {"id": THREAD.channel},
        "message": {"ts": "1700000000.000200", "thread_ts": THREAD.thread_ts},
    }
    return body, {"value": json.dumps({"t": record.id, "i": "i0", "o": option})}


def waiting(world: World) -> TaskRecord:
    return world.waiting(
        principal(THREAD.team, ADA),
        [QUESTION],
        graph="plain",
        session_id=THREAD.session_id,
        binding=THREAD.binding(ADA),
    )


def status(world: World, record: TaskRecord) -> TaskStatus:
    return world.task(principal(THREAD.team, ADA), record.id).status


def test_a_click_by_anyone_but_the_starter_changes_nothing(world: World) -> None:
    answers, client = Answers(lambda: world.services), RecordingClient()
    record = waiting(world)
    world.run(answers.on_answer(Acks(), *click(BO, record), client))
    assert client.notes == [(BO, NOT_YOURS)]
    assert status(world, record) == TaskStatus.WAITING_INPUT and world.enqueued == []

    world.run(answers.on_answer(Acks(), *click(ADA, record), client))
    assert status(world, record) == TaskStatus.QUEUED and world.enqueued == [record.id]
    world.run(answers.on_answer(Acks(), *click(ADA, record, option=1), client))
    assert client.notes == [(BO, NOT_YOURS), (ADA, ANSWERED)]


def test_a_modal_submitted_by_anyone_but_the_starter_is_refused_in_the_modal(world: World) -> None:
    answers = Answers(lambda: world.services)
    record = waiting(world)
    origin = modals.Origin(record.id, "i0", THREAD.channel, THREAD.thread_ts)
    view = {"private_metadata": origin.metadata(), "state": {"values": {}}}
    ack = Acks()
    world.run(answers.on_reject_submitted(ack, {"user": {"id": BO, "team_id": THREAD.team}}, view, RecordingClient()))
    assert ack.calls == [{"response_action": "errors", "errors": modals.field_errors(modals.REASON_BLOCK, NOT_YOURS)}]
    assert status(world, record) == TaskStatus.WAITING_INPUT and world.enqueued == []


def test_a_typed_answer_as_anyone_but_the_starter_changes_nothing(world: World) -> None:
    answers, client = Answers(lambda: world.services), RecordingClient()
    record = waiting(world)
    world.run(answers.typed(client, principal(THREAD.team, BO), record, "approve", THREAD.channel, THREAD.thread_ts))
    assert client.notes == [(BO, NOT_YOURS)]
    assert status(world, record) == TaskStatus.WAITING_INPUT
    world.run(answers.typed(client, principal(THREAD.team, ADA), record, "reject", THREAD.channel, THREAD.thread_ts))
    assert status(world, record) == TaskStatus.QUEUED and world.enqueued == [record.id]
