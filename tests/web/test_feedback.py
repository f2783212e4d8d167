"""👍/👎 under a final answer in the widget, in a real browser against real processes: the rating is recorded
(and shown as chosen), a 👎 takes a comment, and the API lists what was given."""

from __future__ import annotations

from typing import Any

import pytest

from graphgate.testing.client import Api
from graphgate.testing.stack import Stack
from tests.web.demo import DemoPage

pytestmark = pytest.mark.timeout(900)


def test_rate_an_answer_then_change_it_with_a_comment(open_demo: Any, web_stack: Stack) -> None:
    demo: DemoPage = open_demo()
    demo.sign_in("rhea")
    demo.pick_graph("echo")
    task_id = demo.send("rate me")
    demo.wait_event("task.completed", task_id)
    turn = demo.turn(task_id)
    up, down = turn.locator(".rating button[data-score='1']"), turn.locator(".rating button[data-score='-1']")
    assert up.get_attribute("aria-label") == "Helpful" and down.get_attribute("aria-label") == "Not helpful"
    assert turn.locator(".rating-comment").is_hidden()

    up.click()
    demo.page.wait_for_function(
        "(task) => window.__gg.events.some((e) => e.type === 'feedback' && e.task === task)", arg=task_id
    )
    assert up.get_attribute("aria-pressed") == "true" and down.get_attribute("aria-pressed") == "false"
    assert turn.locator(".rating-note").inner_text() == "Thanks for the feedback."

    down.click()
    comment = turn.get_by_label("What was wrong? (optional)")
    comment.wait_for()
    comment.fill("it only repeated me")
    turn.locator(".rating-comment button").click()
    turn.locator(".rating-note", has_text="your comment is recorded").wait_for()
    assert down.get_attribute("aria-pressed") == "true" and up.get_attribute("aria-pressed") == "false"
    listed = Api(web_stack.url, "rhea").http.get("/api/v1/feedback", params={"graph": "echo"}).json()["feedback"]
    mine = [f for f in listed if f["task_id"] == task_id]
    assert [(f["score"], f["comment"]) for f in mine] == [(-1, "it only repeated me")]
    assert demo.dialogs == []
