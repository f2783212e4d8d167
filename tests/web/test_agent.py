"""The widget with a LangChain agent and a graph that asks twice at once, in a real browser (Debian's chromium)
against real processes: tool approvals approved, edited and rejected in the form, several calls in one
request, the tools' progress, and two questions pending together, each answered on its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graphgate.testing.client import Api, Received, terminal_of
from graphgate.testing.stack import Stack
from tests.web.demo import DemoPage, words
from tests.web.test_widget import step_labels

# the first test to start the browser may install chromium (apt-get) first
pytestmark = pytest.mark.timeout(900)

OFFLINE = "[offline model] "  # examples/agent.py's deterministic stand-in opens every reply with this
EMAIL_ANN = "email ann@example.com the Q3 report"
ANN_ARGS = {"to": "ann@example.com", "subject": "Q3 report", "body": "Hi Ann,\n\nQ3 report.\n\nBest regards"}
ARGS_LABEL = "Arguments of send_email (JSON)"
REASON_LABEL = "Reason (optional, sent with a rejection)"


def server_events(api: Api, session: str, task_id: str) -> list[Received]:
    return api.events(session, terminal_of(task_id), timeout=120)


def resumed_answer(api: Api, session: str, task_id: str) -> Any:
    """The resume value the gateway recorded for the task's (only) pause."""
    [resumed] = [e for e in server_events(api, session, task_id) if e.type == "task.resumed" and e.task_id == task_id]
    return resumed.data["answer"]


def ask_agent(demo: DemoPage, text: str) -> tuple[str, Any]:
    """Send ``text`` to the agent; the task id and its approval card once it is shown."""
    task_id = demo.send(text)
    demo.wait_event("interrupt", task_id)
    card = demo.approval(task_id)
    card.wait_for()
    return task_id, card


def test_approve_an_email_from_the_form_with_the_keyboard(open_demo: Any, web_stack: Stack, artifacts: Path) -> None:
    demo: DemoPage = open_demo(viewport={"width": 900, "height": 720}, color_scheme="light")
    demo.sign_in("agnes")
    demo.pick_graph("agent")
    api = Api(web_stack.url, "agnes")
    task_id, card = ask_agent(demo, EMAIL_ANN)
    session = demo.session_id()
    assert session

    # the request as the gateway has it, shown readably: tool, description, arguments as JSON, decisions
    [action] = api.get(task_id)["interrupt"]["actions"]
    assert action["args"] == ANN_ARGS
    assert card.locator(".question").inner_text() == "Approve the tool call send_email?"
    assert card.locator(".question code").inner_text() == "send_email"
    assert card.locator(".action").count() == 1 and card.locator(".ask-count").count() == 0
    assert card.locator(".action").get_attribute("aria-label") == "send_email"
    description = card.locator(".description")
    assert description.locator("summary").inner_text() == "Send an email to ann@example.com?"
    assert description.get_attribute("open") is None
    assert json.loads(card.get_by_label(ARGS_LABEL).input_value()) == ANN_ARGS
    assert card.get_by_label(REASON_LABEL).input_value() == ""
    assert card.locator(".choices button").all_inner_texts() == ["Approve", "Save edits", "Reject"]
    assert card.locator(".choices button.primary").all_inner_texts() == ["Approve"]
    assert demo.status_of(task_id) == "waiting_input"
    assert demo.turn(task_id).locator(".tools").is_hidden()  # nothing ran before the approval
    demo.wait_focus(".ask .choices button[data-decision=approve]")  # a keyboard user starts at Approve
    demo.page.evaluate(  # the whole turn in view, from the user's message down
        """(id) => {
            const root = document.querySelector('graphgate-chat').shadowRoot;
            const log = root.querySelector('.log');
            const turn = root.querySelector(`article[data-task-id='${id}']`);
            log.scrollTop += turn.getBoundingClientRect().top - log.getBoundingClientRect().top - 12;
        }""",
        task_id,
    )
    demo.page.screenshot(path=str(artifacts / "widget-approval.png"))
    description.locator("summary").click()  # the rest of the description: what the tool was asked to do
    assert words(description.inner_text()) == words(action["description"])

    # from the description, Tab goes through the arguments and the reason to Approve; Enter approves
    for _ in range(3):
        demo.page.keyboard.press("Tab")
    assert demo.focused(".ask .choices button[data-decision=approve]")
    demo.page.keyboard.press("Enter")
    demo.wait_event("task.completed", task_id)

    task = api.get(task_id)
    final = demo.final_text(task_id)
    assert final == task["output"]["messages"][-1]["content"]
    assert final.startswith(OFFLINE + 'The email to ann@example.com is queued (subject: "Q3 report").')
    assert card.locator(".answered-note").inner_text() == "Approved"
    assert card.locator("button.chosen").all_inner_texts() == ["Approve"]
    assert card.locator("button.primary").all_inner_texts() == ["Approve"]
    assert all(b.is_disabled() for b in card.locator("button").all())
    assert card.get_by_label(ARGS_LABEL).is_disabled()
    assert resumed_answer(api, session, task_id) == {"decisions": [{"type": "approve"}]}

    # the tool's progress: one line, running, then done with its result
    lines = demo.tool_lines(task_id)
    assert [line["type"] for line in lines] == ["tool.started", "tool.completed"]
    running = "🔧 send_email (to=ann@example.com, subject=Q3 report, body=Hi Ann, Q3 report. Best regards)"
    assert lines[0]["text"] == running + " …"
    assert lines[1]["text"] == running + " — done: Email to ann@example.com queued: Q3 report"
    assert demo.turn(task_id).locator(".tool-call").all_inner_texts() == [lines[1]["text"]]
    assert step_labels(demo.turn(task_id)) == ["model", "Approved", "tools", "model"]
    assert demo.dialogs == []


def test_edit_the_recipient_after_an_invalid_and_a_refused_edit(open_demo: Any, web_stack: Stack) -> None:
    demo: DemoPage = open_demo()
    demo.sign_in("edith")
    demo.pick_graph("agent")
    api = Api(web_stack.url, "edith")
    resumes: list[str] = []
    demo.page.on("request", lambda r: resumes.append(r.post_data or "") if r.url.endswith("/resume") else None)
    task_id, card = ask_agent(demo, EMAIL_ANN)
    session = demo.session_id()
    assert session
    args = card.get_by_label(ARGS_LABEL)
    save = card.locator("button[data-decision=edit]")

    # invalid JSON: an error next to the field, the field keeps the focus, nothing is sent
    args.fill('{"to": "bob@example.com",')
    assert card.locator(".choices button.primary").all_inner_texts() == ["Save edits"]  # edits lead now
    save.click()
    error = card.locator(".action .field-error").first
    assert error.inner_text().startswith("The arguments are not valid JSON:")
    assert args.get_attribute("aria-invalid") == "true"
    assert args.get_attribute("aria-describedby") == error.get_attribute("id")
    assert demo.focused("textarea.args")
    args.fill('["bob@example.com"]')
    save.click()
    assert error.inner_text() == 'The arguments must be a JSON object, such as {"to": "bob@example.com"}.'

    # an answer the gateway refuses (413: too large): its message in the card, the form still usable
    args.fill(json.dumps({**ANN_ARGS, "to": "bob@example.com", "body": "x" * 1_100_000}))
    assert error.is_hidden() and args.get_attribute("aria-invalid") is None
    save.click()
    refusal = card.locator(".ask-error")
    refusal.wait_for()
    assert refusal.inner_text() == "Not accepted: body exceeds 1048576 bytes"
    assert [len(body) > 1_100_000 for body in resumes] == [True]  # the refused one; the invalid ones never left
    assert save.is_enabled() and args.is_enabled() and not card.locator("button.chosen").count()
    assert api.get(task_id)["status"] == "waiting_input"

    # a good edit goes through, and the tool and the answer use the new address
    edited = {**ANN_ARGS, "to": "bob@example.com"}
    args.fill(json.dumps(edited, indent=2))
    save.click()
    demo.wait_event("task.completed", task_id)
    assert refusal.is_hidden()
    final = demo.final_text(task_id)
    assert final == OFFLINE + (
        'The email to bob@example.com is queued (subject: "Q3 report"). A reviewer edited it before it went out.'
    )
    assert card.locator(".answered-note").inner_text() == "Edited: send_email(to=bob@example.com)"
    assert card.locator("button.chosen").all_inner_texts() == ["Save edits"]
    assert card.locator("button.primary").all_inner_texts() == ["Save edits"]
    assert json.loads(args.input_value()) == edited
    expected = {"decisions": [{"type": "edit", "edited_action": {"name": "send_email", "args": edited}}]}
    assert resumed_answer(api, session, task_id) == expected
    interrupt_id = card.get_attribute("data-interrupt-id")
    assert len(resumes) == 2 and json.loads(resumes[-1]) == {"answer": expected, "interrupt_id": interrupt_id}
    done = "🔧 send_email (to=bob@example.com, subject=Q3 report, body=Hi Ann, Q3 report. Best regards)"
    assert demo.turn(task_id).locator(".tool-call").all_inner_texts() == [
        done + " — done: Email to bob@example.com queued: Q3 report"
    ]
    assert demo.dialogs == []


def test_reject_with_a_reason_using_only_the_keyboard(open_demo: Any, web_stack: Stack) -> None:
    demo: DemoPage = open_demo()
    demo.sign_in("rex")
    demo.pick_graph("agent")
    api = Api(web_stack.url, "rex")
    task_id, card = ask_agent(demo, EMAIL_ANN)
    session = demo.session_id()
    assert session
    other: DemoPage = open_demo(context=demo.page.context, path=f"/#session={session}")  # a second tab
    other.wait_event("interrupt", task_id)
    other_card = other.approval(task_id)
    assert other_card.locator(".choices button").first.is_enabled()

    # from Approve: back to the reason box, type, then forward past Approve and Save edits to Reject
    demo.wait_focus(".ask .choices button[data-decision=approve]")
    demo.page.keyboard.press("Shift+Tab")
    assert demo.focused("input.reason")
    demo.page.keyboard.type("wrong recipient")
    for _ in range(3):
        demo.page.keyboard.press("Tab")
    assert demo.focused("button[data-decision=reject]")
    demo.page.keyboard.press("Enter")
    demo.wait_event("task.completed", task_id)

    assert demo.final_text(task_id) == OFFLINE + (
        'The email to ann@example.com was not sent: the reviewer rejected it, saying "wrong recipient".'
    )
    assert card.locator(".answered-note").inner_text() == "Rejected: wrong recipient"
    assert card.locator("button.chosen").all_inner_texts() == ["Reject"]
    assert card.locator("button.primary").all_inner_texts() == ["Reject"]
    assert resumed_answer(api, session, task_id) == {"decisions": [{"type": "reject", "message": "wrong recipient"}]}
    assert demo.turn(task_id).locator(".tools").is_hidden() and demo.tool_lines(task_id) == []  # nothing ran

    # the other tab shows the same outcome, from the gateway's events
    other.wait_event("task.completed", task_id)
    assert other_card.locator(".answered-note").inner_text() == "Rejected: wrong recipient"
    assert other_card.get_by_label(REASON_LABEL).input_value() == "wrong recipient"
    assert other_card.locator("button.primary").all_inner_texts() == ["Reject"]
    assert other.final_text(task_id) == demo.final_text(task_id)
    assert step_labels(demo.turn(task_id)) == ["model", "Rejected: wrong recipient", "model"]


def test_several_calls_in_one_request_each_get_their_own_decision(
    open_demo: Any, web_stack: Stack, artifacts: Path
) -> None:
    demo: DemoPage = open_demo(color_scheme="dark")
    demo.sign_in("otto")
    demo.pick_graph("agent")
    api = Api(web_stack.url, "otto")
    task_id, card = ask_agent(demo, "email ann, bob, cat, dan and eve the Q3 report")
    session = demo.session_id()
    assert session
    names = ["ann", "bob", "cat", "dan", "eve"]
    actions = card.locator(".action")
    assert card.locator(".question").inner_text() == "Approve 5 tool calls (send_email)?"
    assert actions.count() == 5
    assert actions.locator(".tool-name").all_inner_texts() == [f"send_email ({i} of 5)" for i in range(1, 6)]
    assert card.locator(".choices button").all_inner_texts() == ["Submit decisions"]
    for i, name in enumerate(names):
        assert json.loads(actions.nth(i).get_by_label(ARGS_LABEL).input_value())["to"] == f"{name}@example.com"
        assert actions.nth(i).get_by_label("Approve", exact=True).is_checked()  # the default

    # bob: a new address (typing picks "Approve with my edits"); cat: rejected with a reason; dan: a reason,
    # but approved after all (the reason is then not sent)
    bob = actions.nth(1)
    bob_args = {**json.loads(bob.get_by_label(ARGS_LABEL).input_value()), "to": "bo@example.com"}
    bob.get_by_label(ARGS_LABEL).fill(json.dumps(bob_args))
    assert bob.get_by_label("Approve with my edits").is_checked()
    cat = actions.nth(2)
    cat.get_by_label(REASON_LABEL).fill("not on the list")
    assert cat.get_by_label("Reject", exact=True).is_checked()  # a reason next to "Approve" means "Reject"
    dan = actions.nth(3)
    dan.get_by_label(REASON_LABEL).fill("fine by me")
    dan.get_by_label("Approve", exact=True).check()
    demo.page.screenshot(path=str(artifacts / "widget-approval-several.png"))
    card.locator("button[data-decision=submit]").click()
    demo.wait_event("task.completed", task_id)
    demo.page.screenshot(path=str(artifacts / "widget-approval-several-done.png"))

    expected = [
        {"type": "approve"},
        {"type": "edit", "edited_action": {"name": "send_email", "args": bob_args}},
        {"type": "reject", "message": "not on the list"},
        {"type": "approve"},
        {"type": "approve"},
    ]
    assert resumed_answer(api, session, task_id) == {"decisions": expected}
    assert actions.locator(".outcome").all_inner_texts() == [
        "Approved",
        "Edited: send_email(to=bo@example.com)",
        "Rejected: not on the list",
        "Approved",
        "Approved",
    ]
    assert card.locator(".answered-note").inner_text() == "3 approved, 1 edited, 1 rejected"
    assert [a.get_by_label(REASON_LABEL).input_value() for a in actions.all()] == ["", "", "not on the list", "", ""]
    assert [t.strip() for t in card.locator(".choice.chosen").all_inner_texts()] == [
        "Approve",
        "Approve with my edits",
        "Reject",
        "Approve",
        "Approve",
    ]
    sentences = [
        'The email to ann@example.com is queued (subject: "Q3 report").',
        'The email to bo@example.com is queued (subject: "Q3 report"). A reviewer edited it before it went out.',
        'The email to cat@example.com was not sent: the reviewer rejected it, saying "not on the list".',
        'The email to dan@example.com is queued (subject: "Q3 report").',
        'The email to eve@example.com is queued (subject: "Q3 report").',
    ]
    assert demo.final_text(task_id) == OFFLINE + " ".join(sentences)

    # four tools ran; the turn shows the latest three and folds the first
    tools = demo.turn(task_id).locator(".tools")
    ran = [e for e in server_events(api, session, task_id) if e.type == "tool.completed"]
    assert sorted(e.data["result"] for e in ran) == sorted(
        f"Email to {to}@example.com queued: Q3 report" for to in ("ann", "bo", "dan", "eve")
    )
    shown = [line.split(" — done: ") for line in tools.locator(".tool-call").all_inner_texts()]
    assert all(len(parts) == 2 for parts in shown), shown
    results = {parts[1] for parts in shown}
    assert len(results) == 3 and results < {e.data["result"] for e in ran}
    assert tools.locator(".tools-more").inner_text() == "1 earlier tool call"
    assert demo.dialogs == []


def test_two_questions_pending_at_once_are_answered_one_by_one(
    open_demo: Any, web_stack: Stack, artifacts: Path
) -> None:
    demo: DemoPage = open_demo()
    demo.sign_in("paula")
    demo.pick_graph("parallel")
    api = Api(web_stack.url, "paula")
    task_id = demo.send("ship v2")
    demo.page.wait_for_function(
        "(task) => window.__gg.events.filter((e) => e.type === 'interrupt' && e.task === task).length === 2",
        arg=task_id,
    )
    turn = demo.turn(task_id)
    cards = turn.locator(".ask")
    assert cards.count() == 2
    assert turn.locator(".user .bubble").inner_text() == "ship v2"
    pending = api.get(task_id)["interrupts"]
    assert [c.get_attribute("data-interrupt-id") for c in cards.all()] == [i["interrupt_id"] for i in pending]
    assert cards.locator(".ask-count").all_inner_texts() == ["Question 1 of 2", "Question 2 of 2"]
    assert cards.locator(".question").all_inner_texts() == [i["question"] for i in pending]
    assert sorted(i["value"]["reviewer"] for i in pending) == ["finance", "legal"]
    assert turn.locator(".status").inner_text() == "Waiting for 2 answers"
    first_id = pending[0]["interrupt_id"]
    first_button = f'.ask[data-interrupt-id="{first_id}"] .choices button[data-value=approve]'
    demo.wait_focus(first_button)

    # the second card first: it is settled, the first still waits and takes the focus
    before = len(demo.events())
    cards.nth(1).locator("button", has_text="reject").click()
    demo.wait_event("interrupt.answered", task_id, after=before)
    assert cards.nth(1).get_attribute("class") == "ask answered"
    assert cards.nth(1).locator(".answered-note").inner_text() == "Answered: reject"
    assert cards.nth(1).locator("button.chosen").all_inner_texts() == ["reject"]
    assert cards.nth(1).locator("button.primary").all_inner_texts() == ["reject"]  # the chosen one stands out
    assert cards.nth(0).get_attribute("class") == "ask"
    assert cards.nth(0).locator("button").first.is_enabled()
    assert (
        turn.locator(".status").inner_text() == "Waiting for your answer" and demo.status_of(task_id) == "waiting_input"
    )
    demo.wait_focus(first_button)
    demo.page.screenshot(path=str(artifacts / "widget-two-questions.png"))
    assert [i["interrupt_id"] for i in api.get(task_id)["interrupts"]] == [pending[0]["interrupt_id"]]

    demo.page.keyboard.press("Enter")  # the first card's first button: approve
    demo.wait_event("task.completed", task_id)
    decisions = {pending[0]["value"]["reviewer"]: "approve", pending[1]["value"]["reviewer"]: "reject"}
    assert demo.final_text(task_id) == (
        f"Request 'ship v2' is rejected: legal chose {decisions['legal']}, finance chose {decisions['finance']}."
    )
    assert cards.nth(0).locator(".answered-note").inner_text() == "Answered: approve"
    labels = step_labels(turn)
    assert (
        labels[:2] == ["reject", "approve"] and sorted(labels[2:4]) == ["finance", "legal"] and labels[4:] == ["decide"]
    )
    assert demo.dialogs == []
