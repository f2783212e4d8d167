"""The dispatcher's task view: events folded into what a chat should show."""

from __future__ import annotations

from graphgate.core.events import Event, EventType
from graphgate.core.taskview import Status, TaskView


def apply(view: TaskView, kind: EventType, data: dict, ts: float = 1000.0) -> None:  # type: ignore[type-arg]
    view.apply(Event(kind, view.task_id, "s", data, ts=ts))


def test_a_writer_run_folds_into_one_view() -> None:
    view = TaskView("t1")
    apply(view, EventType.TASK_QUEUED, {"graph": "writer", "position": 0})
    apply(view, EventType.TASK_STARTED, {"run": 1, "attempt": 1}, 1001)
    apply(view, EventType.MESSAGE_DELTA, {"text": "1. Intro", "message_id": "m1"})
    apply(view, EventType.NODE_COMPLETED, {"node": "plan"})
    apply(
        view,
        EventType.INTERRUPT,
        {"interrupt_id": "i1", "question": "Approve?", "options": [{"label": "Approve", "value": "approve"}]},
    )
    assert view.status == Status.WAITING and view.pending_question() is view.questions[0]
    apply(view, EventType.TASK_RESUMED, {"interrupt_id": "i1", "answer": "approve", "by": "slack:T:U"})
    assert view.run == 2 and view.questions[0].answered and view.questions[0].answer_label() == "Approve"
    apply(view, EventType.TASK_STARTED, {"run": 2, "attempt": 1})
    apply(view, EventType.MESSAGE_DELTA, {"text": "First ", "message_id": "m2"})
    apply(view, EventType.MESSAGE_DELTA, {"text": "section.", "message_id": "m2"})
    apply(view, EventType.MESSAGE_DELTA, {"text": "Second.", "message_id": "m3"})
    apply(view, EventType.CUSTOM, {"payload": {"status": "writing section 2"}})
    apply(view, EventType.NODE_COMPLETED, {"node": "write"})
    assert view.answer(1) == "1. Intro" and view.answer(2) == "First section.\n\nSecond."
    assert view.activity == "writing section 2" and view.nodes == ["plan", "write"] and view.steps == 2
    apply(view, EventType.TASK_COMPLETED, {"output": {"article": "# A"}, "text": "# A"}, 1010)
    assert view.status == Status.COMPLETED and view.final_text == "# A" and not view.active
    assert view.finished_at == 1010 and view.created_at == 1000.0

    again = TaskView.from_json(view.to_json())
    assert again == view


def test_an_output_without_text_gets_a_json_summary() -> None:
    view = TaskView("t2")
    apply(view, EventType.TASK_COMPLETED, {"output": {"score": 3}, "text": None})
    assert view.final_text is None and '"score": 3' in (view.final_summary or "")
