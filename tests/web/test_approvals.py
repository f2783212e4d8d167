"""The widget with approval policies, in a real browser against real processes: a question routed to other
approvers shows who it waits for and no buttons, and settles when an approver answers through the API; a
question whose policy lets the starter answer keeps its buttons and says it needs approval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphgate.testing.client import Api
from graphgate.testing.stack import Stack
from tests.web.conftest import TOKEN_DELAY
from tests.web.demo import DemoPage

pytestmark = pytest.mark.timeout(900)

POLICIES = {
    "policies": {
        "legal": {
            "label": "@legal",
            "approvers": {"api": {"subjects": ["lee"]}},
            "post": [{"slack": {"channel": "CLEGAL"}}],
        },
        "finance": {
            "label": "@finance",
            "approvers": {"api": {"subjects": ["fay"]}, "starter": True},
            "post": ["starter"],
        },
    }
}


@pytest.fixture(scope="module")
def approvals_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("web-approvals")
    policies = workdir / "approvals.json"
    policies.write_text(json.dumps(POLICIES))
    stack = Stack(
        redis_url=redis_url,
        workdir=workdir,
        extra_env={
            "GRAPHGATE_DEV_LOGIN": "true",
            "GRAPHGATE_OFFLINE_MODEL_DELAY": TOKEN_DELAY,
            "GRAPHGATE_APPROVALS_FILE": str(policies),
        },
    )
    try:
        stack.start_worker(concurrency=2)
        stack.start_api()
        yield stack
    finally:
        stack.stop()


def test_a_routed_question_waits_for_its_approvers_and_the_starters_own_keeps_its_buttons(
    browser: Any, approvals_stack: Stack, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1180, "height": 860})
    try:
        demo = DemoPage.open(context, approvals_stack.url)
        demo.sign_in("paula")
        demo.pick_graph("parallel")
        task_id = demo.send("ship v3")
        demo.page.wait_for_function(
            "(task) => window.__gg.events.filter((e) => e.type === 'interrupt' && e.task === task).length === 2",
            arg=task_id,
        )
        pending = {
            i["value"]["route"]: i["interrupt_id"] for i in Api(approvals_stack.url, "paula").get(task_id)["interrupts"]
        }
        turn = demo.turn(task_id)
        legal = turn.locator(f'.ask[data-interrupt-id="{pending["legal"]}"]')
        finance = turn.locator(f'.ask[data-interrupt-id="{pending["finance"]}"]')
        assert legal.locator(".approval-note").inner_text() == "Waiting for approval by @legal"
        assert legal.locator("button").count() == 0 and "awaiting-approval" in (legal.get_attribute("class") or "")
        assert finance.locator(".approval-note").inner_text() == "Needs approval by @finance"
        assert finance.locator(".choices button").all_inner_texts() == ["approve", "reject"]
        demo.page.screenshot(path=str(artifacts / "widget-approvals.png"))

        before = len(demo.events())
        assert Api(approvals_stack.url, "lee").resume(task_id, "approve", pending["legal"]).status_code == 202
        demo.wait_event("interrupt.answered", task_id, after=before)
        legal.locator(".answered-note").wait_for()
        assert legal.locator(".answered-note").inner_text() == "Answered: approve"

        finance.locator("button", has_text="approve").click()
        demo.wait_event("task.completed", task_id)
        assert demo.final_text(task_id) == "Request 'ship v3' is approved: legal chose approve, finance chose approve."
    finally:
        context.close()
