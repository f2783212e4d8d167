"""Answering in the widget, in a real browser against real processes: an option that takes a note (the writer's
Revise) opens a field for it and goes as ``{"action", "note"}``; the message box answers an open question that
takes words, and says why Send waits when the question takes only its options; the message box has the focus
after sign-in and after an answer."""

from __future__ import annotations

from typing import Any

import pytest

from graphgate.testing.client import Api
from graphgate.testing.stack import Stack
from tests.web.demo import DemoPage

pytestmark = pytest.mark.timeout(900)

FOCUSED_BOX = "() => document.activeElement === document.querySelector('graphgate-chat') && document.querySelector('graphgate-chat').shadowRoot.activeElement && document.querySelector('graphgate-chat').shadowRoot.activeElement.id === 'gg-message'"


def test_revise_with_a_note_and_the_hint_while_options_wait(open_demo: Any, web_stack: Stack) -> None:
    demo: DemoPage = open_demo()
    demo.sign_in("nora")
    demo.page.wait_for_function(FOCUSED_BOX)  # the message box, not <body>, after sign-in
    demo.pick_graph("writer")
    task_id = demo.send("urban beekeeping")
    card = demo.turn(task_id).locator(".ask").first
    card.locator(".choices button", has_text="Revise").wait_for()
    assert card.locator("form.reply").count() == 0  # the writer takes only its options
    hint = demo.chat.locator("#gg-hint")
    assert hint.inner_text() == "Choose an answer above to go on"
    assert demo.chat.locator("button.send").is_disabled()

    revise = card.locator(".choices button", has_text="Revise")
    assert revise.get_attribute("aria-expanded") == "false"
    revise.click()
    note = card.get_by_placeholder("A note (optional)")
    note.wait_for()
    assert card.locator(".note-label").inner_text() == "Revise: what should change?"
    assert revise.get_attribute("aria-expanded") == "true"
    note.fill("focus on rooftop hives")
    card.locator("form.option-note button", has_text="Send").click()
    card.locator(".answered-note", has_text="Answered: Revise — focus on rooftop hives").wait_for()
    demo.page.wait_for_function(FOCUSED_BOX)  # back to the message box after answering

    # the writer planned again with the note: the next outline is about rooftop hives
    again = demo.turn(task_id).locator(".ask").nth(1)
    again.locator(".outline").wait_for()
    assert "rooftop hives" in again.locator(".outline").inner_text().lower()
    assert Api(web_stack.url, "nora").get(task_id)["status"] == "waiting_input"


def test_the_message_box_answers_a_question_that_takes_words(open_demo: Any, web_stack: Stack) -> None:
    demo: DemoPage = open_demo()
    demo.sign_in("omar")
    demo.pick_graph("ask")
    task_id = demo.send("hello")
    demo.turn(task_id).locator(".ask form.reply").wait_for()
    send = demo.chat.locator("button.send")
    demo.page.wait_for_function(
        "() => document.querySelector('graphgate-chat').shadowRoot.querySelector('button.send').textContent === 'Answer'"
    )
    assert demo.chat.locator("#gg-hint").inner_text() == "Enter answers the question above"
    box = demo.chat.locator("textarea")
    box.fill("Ada")
    box.press("Enter")
    demo.wait_event("task.completed", task_id)
    assert "Nice to meet you, Ada!" in demo.turn(task_id).locator(".answer").inner_text()
    assert box.input_value() == ""
    assert send.inner_text() == "Send"
