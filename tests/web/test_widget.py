"""The web widget in a real browser (Debian's chromium) against real processes: uvicorn, Celery, Redis."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from graphgate.testing.client import Api, terminal_of
from graphgate.testing.stack import Stack, token
from tests.web.demo import WAIT_MS, DemoPage, markdown_words, words

# the first test to start the browser may install chromium (apt-get) first
pytestmark = pytest.mark.timeout(900)

RESTART_WAIT_MS = 120_000


def server_ids(api: Api, session_id: str, task_id: str) -> list[str]:
    """Every event id of the session up to the task's terminal event, as the API streams them."""
    return [e.id for e in api.events(session_id, terminal_of(task_id), timeout=120)]


def id_key(event_id: str) -> tuple[int, int]:
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


def step_labels(where: Any) -> list[str]:
    """The timeline's steps without their check marks (folded under the progress line: read, not seen)."""
    texts = where.locator(".steps li").evaluate_all("(items) => items.map((li) => li.textContent)")
    return [re.sub(r"^\W+", "", s).strip() for s in texts]


def assert_once_in_order(ids: list[str]) -> None:
    keys = [id_key(i) for i in ids]
    assert keys == sorted(keys), "events were shown out of order"
    assert len(set(keys)) == len(keys), "an event was shown twice"


def section_bodies(output: dict[str, Any]) -> list[str]:
    return [words(s["text"] if isinstance(s, dict) else s) for s in output["sections"]]


def assert_streamed_and_final(demo: DemoPage, api: Api, task_id: str) -> dict[str, Any]:
    """What the widget streamed and what it shows at the end match the task's output exactly."""
    task = api.get(task_id)
    assert task["status"] == "completed"
    streamed = [words(s) for s in demo.streamed_at_end(task_id)]
    assert streamed == section_bodies(task["output"]), "streamed text was lost or doubled"
    assert words(demo.final_text(task_id)) == markdown_words(task["output"]["article"])
    return task


def test_writer_flow_form_outline_approve_stream_followup_and_new_conversation(
    open_demo: Any, web_stack: Stack, artifacts: Path
) -> None:
    demo: DemoPage = open_demo()
    demo.sign_in("alice")
    api = Api(web_stack.url, "alice")

    # the writer's form: topic, audience, depth, length
    task_id = demo.send("Tide pools", audience="curious kids", depth="deep", length=640)
    session = demo.session_id()
    assert session and demo.page.evaluate("location.hash") == f"#session={session}"
    task = api.get(task_id)
    assert task["input"] == {"topic": "Tide pools"} and task["mode"] == "interactive"
    assert task["config"] == {"target_audience": "curious kids", "depth_level": "deep", "target_length": 640}

    # the outline question, with its options as buttons
    demo.wait_event("interrupt", task_id)
    turn = demo.turn(task_id)
    assert turn.locator(".ask .question").inner_text() == "Approve this outline?"
    outline = api.wait_status(task_id, {"waiting_input"})["interrupt"]["value"]["outline"]
    assert turn.locator(".ask .outline li").all_inner_texts() == outline
    assert turn.locator(".ask .choices button").all_inner_texts() == ["Approve", "Revise"]
    assert demo.status_of(task_id) == "waiting_input"

    demo.answer(task_id, "Approve")
    demo.wait_deltas(task_id, "write", 130)
    assert turn.locator(".answer").get_attribute("aria-busy") == "true"
    demo.page.screenshot(path=str(artifacts / "demo-running.png"))
    # the streamed text's block: the final answer will take its place (the same element, nothing appended)
    turn.locator(".md.stream").first.evaluate("(el) => { el.dataset.probe = 'streamed'; }")

    demo.wait_event("task.completed", task_id)
    turn.locator(".md.final").wait_for()
    assert turn.locator(".md.final").get_attribute("data-probe") == "streamed"
    assert turn.locator(".md.stream").count() == 0 and turn.locator(".md.final").count() == 1
    task = assert_streamed_and_final(demo, api, task_id)
    assert demo.final_text(task_id).startswith("Tide pools")
    assert step_labels(turn) == ["Outline", "Approve", "Review", "Write", "Assemble"]
    assert turn.locator(".status").inner_text().startswith("Done in")
    assert turn.locator(".answer").get_attribute("aria-busy") == "false"
    assert turn.locator(".ask").get_attribute("class") == "ask answered"
    ids = [e["id"] for e in demo.events()]
    assert_once_in_order(ids)
    assert ids == server_ids(api, session, task_id)
    demo.page.evaluate(
        """(id) => {
            const root = document.querySelector('graphgate-chat').shadowRoot;
            const log = root.querySelector('.log');
            const turn = root.querySelector(`article[data-task-id='${id}']`);
            log.scrollTop += turn.getBoundingClientRect().top - log.getBoundingClientRect().top - 12;
        }""",
        task_id,
    )
    demo.page.screenshot(path=str(artifacts / "demo-finished.png"))

    # a follow-up message continues the same session
    follow_up = demo.send("Rock pools", length=120)
    assert api.get(follow_up)["session_id"] == session and demo.session_id() == session
    demo.wait_event("interrupt", follow_up)
    demo.answer(follow_up, "Approve")
    demo.wait_event("task.completed", follow_up)
    assert demo.turns.count() == 2
    assert demo.final_text(follow_up).startswith("Rock pools")

    # "new conversation" starts another session; cancel ends its run
    demo.chat.locator("button.new").click()
    assert demo.turns.count() == 0 and demo.session_id() is None
    assert demo.page.evaluate("location.hash") == ""
    third = demo.send("Kelp forests", length=120)
    assert demo.session_id() not in (None, session)
    assert api.get(third)["session_id"] == demo.session_id()
    demo.wait_event("interrupt", third)
    demo.chat.locator("button.cancel").click()
    demo.wait_event("task.cancelled", third)
    assert demo.status_of(third) == "cancelled"
    assert api.get(third)["status"] == "cancelled"
    assert demo.turn(third).locator(".ask .choices button").first.is_disabled()
    assert demo.chat.locator("button.send").is_enabled() and demo.chat.locator("button.cancel").is_hidden()
    assert demo.dialogs == []


def test_xss_topic_and_markdown_are_shown_as_text(open_demo: Any, web_stack: Stack) -> None:
    demo: DemoPage = open_demo()
    demo.sign_in("mallory")
    topic = "<img src=x onerror=alert(1)>"
    task_id = demo.send(topic, length=100)
    demo.wait_event("interrupt", task_id)
    turn = demo.turn(task_id)
    assert turn.locator(".user .bubble").inner_text() == topic
    assert turn.locator(".ask .outline li").first.inner_text() == f"Introduction to {topic}"
    demo.answer(task_id, "Approve")
    demo.wait_event("task.completed", task_id)
    assert turn.locator(".md.final h1").inner_text() == topic
    assert topic in turn.locator(".md.final").inner_text()

    # Markdown: formatting renders, markup stays text, only http(s)/mailto links become links
    demo.page.select_option("#graph", "echo")
    text = "**bold** <script>alert(2)</script> [safe](https://example.org/) [bad](javascript:alert%283%29) `<b>x</b>`"
    echo_id = demo.send(text)
    demo.wait_event("task.completed", echo_id)
    final = demo.turn(echo_id).locator(".md.final")
    assert final.locator("strong").inner_text() == "bold"
    assert final.locator("code").inner_text() == "<b>x</b>"
    assert final.locator("a").count() == 1
    assert final.locator("a").get_attribute("href") == "https://example.org/"
    assert "<script>alert(2)</script>" in final.inner_text() and "[bad](javascript:alert%283%29)" in final.inner_text()

    assert demo.chat.locator("img, script, b").count() == 0
    assert demo.page.evaluate("document.querySelectorAll('img').length") == 0
    assert demo.dialogs == []


CONNECTION_STATE = "document.querySelector('graphgate-chat').shadowRoot.querySelector('.conn').dataset.state"


def restart_api(stack: Stack, demo: DemoPage, **env: str) -> None:
    """Stop the API process under the page, start it again on the same port (with ``env``), wait until live."""
    proc, port = stack.apis[-1]
    stack.stop_proc(proc)
    demo.page.wait_for_function(f"() => {CONNECTION_STATE} !== 'open'")
    saved = dict(stack.extra_env)
    stack.extra_env.update(env)
    try:
        assert stack.start_api(port=port) == stack.url
    finally:
        stack.extra_env.clear()
        stack.extra_env.update(saved)
    demo.page.wait_for_function(f"() => {CONNECTION_STATE} === 'open'", timeout=RESTART_WAIT_MS)


def write_deltas(demo: DemoPage, task_id: str) -> int:
    return sum(
        1 for e in demo.events() if e["type"] == "message.delta" and e["task"] == task_id and e["node"] == "write"
    )


def test_api_restarts_mid_stream_lose_and_double_nothing(open_demo: Any, web_stack: Stack) -> None:
    demo: DemoPage = open_demo()
    demo.sign_in("bob")
    api = Api(web_stack.url, "bob")
    task_id = demo.send("Lighthouses", depth="standard", length=2400)
    session = demo.session_id()
    demo.wait_event("interrupt", task_id)
    demo.answer(task_id, "Approve")
    demo.wait_deltas(task_id, "write", 30)

    # 1. the API process goes away and comes back: the browser reconnects with Last-Event-ID
    restart_api(web_stack, demo)
    demo.wait_deltas(task_id, "write", write_deltas(demo, task_id) + 30)

    # 2. it comes back with a new signing key: the old stream token is refused, the widget mints a new one
    #    and resumes with ?last_event_id=
    assert api.get(task_id)["status"] == "running", "the run ended before the second restart; make it longer"
    restart_api(web_stack, demo, GRAPHGATE_SECRET_KEY="a-rotated-signing-key-for-stream-tokens")
    urls = demo.stream_urls()
    assert len(urls) >= 2 and "last_event_id=" in urls[-1] and "last_event_id=" not in urls[0]

    demo.wait_event("task.completed", task_id, timeout=RESTART_WAIT_MS)
    states = demo.connection_states()
    assert states.count("reconnecting") >= 2 and states[-1] == "open", states
    ids = [e["id"] for e in demo.events()]
    assert_once_in_order(ids)
    assert ids == server_ids(api, session, task_id)
    assert_streamed_and_final(demo, api, task_id)
    assert demo.dialogs == []


def test_two_tabs_on_one_session_see_the_same_events(open_demo: Any, web_stack: Stack) -> None:
    first: DemoPage = open_demo()
    first.sign_in("carol")
    api = Api(web_stack.url, "carol")
    task_id = first.send("Coral reefs", length=300)
    session = first.session_id()
    first.wait_event("interrupt", task_id)

    # the second tab opens the conversation's address; the demo signs it in as the same user
    second = open_demo(context=first.page.context, path=f"/#session={session}")
    second.wait_event("interrupt", task_id)
    assert second.session_id() == session
    second.answer(task_id, "Approve")

    for tab in (first, second):
        tab.wait_event("task.completed", task_id)
        assert tab.turn(task_id).locator(".ask .answered-note").inner_text() == "Answered: Approve"
        assert tab.turn(task_id).locator(".ask .choices button").first.is_disabled()
    expected = server_ids(api, session, task_id)
    assert [e["id"] for e in first.events()] == expected
    assert [e["id"] for e in second.events()] == expected
    assert first.final_text(task_id) == second.final_text(task_id)
    assert_streamed_and_final(first, api, task_id)
    assert_streamed_and_final(second, api, task_id)


def test_keyboard_free_text_question_dark_theme_and_phone_width(open_demo: Any, artifacts: Path) -> None:
    demo: DemoPage = open_demo(
        viewport={"width": 375, "height": 760}, color_scheme="dark", is_mobile=True, has_touch=True
    )
    frame = demo.chat.locator(".frame")
    assert frame.get_attribute("data-theme") == "dark"
    assert demo.page.evaluate("document.documentElement.dataset.theme") == "dark"

    demo.page.fill("#login-value", "dana")
    demo.page.press("#login-value", "Enter")
    demo.page.wait_for_function("() => document.querySelector('graphgate-chat').token")
    demo.page.wait_for_selector("#graph option[value=ask]", state="attached")
    demo.page.select_option("#graph", "ask")

    # type and press Enter; the question's text box takes the focus; Enter answers
    demo.chat.locator("textarea").focus()
    before = len(demo.events())
    demo.page.keyboard.type("hello")
    demo.page.keyboard.press("Enter")
    task_id = demo.wait_event("task.queued", after=before)["task"]
    demo.wait_event("interrupt", task_id)
    reply = demo.turn(task_id).locator(".ask .reply input")
    reply.wait_for()
    demo.page.wait_for_function(
        "() => document.querySelector('graphgate-chat').shadowRoot.activeElement?.matches('.ask .reply input')"
    )
    demo.page.keyboard.type("Ada")
    demo.page.keyboard.press("Enter")
    demo.wait_event("task.completed", task_id)
    assert demo.final_text(task_id) == "Nice to meet you, Ada!"
    assert demo.turn(task_id).locator(".answered-note").inner_text() == "Answered: Ada"

    # screen readers: the answer is a live region; questions and completion are announced
    assert demo.turn(task_id).locator(".answer").get_attribute("aria-live") == "polite"
    assert demo.chat.locator("[role=status]").inner_text() == "The answer is complete."

    # phone width: nothing sticks out sideways
    assert demo.page.evaluate("document.documentElement.scrollWidth") <= 375
    box = frame.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    demo.page.screenshot(path=str(artifacts / "demo-phone-dark.png"))

    # the theme toggle switches to light and is remembered
    demo.chat.locator("button.theme").click()
    assert frame.get_attribute("data-theme") == "light"
    assert demo.page.evaluate("localStorage.getItem('graphgate-theme')") == "light"
    assert demo.page.evaluate("document.documentElement.dataset.theme") == "light"
    demo.page.screenshot(path=str(artifacts / "demo-phone-light.png"))
    assert demo.dialogs == []


def test_script_tag_embed_on_another_page(browser: Any, web_stack: Stack) -> None:
    """A host page with only the documented script tag gets a working widget right after the tag."""
    host = (
        "<!doctype html><html><head><meta charset='utf-8'><title>host</title></head><body>"
        "<h1>A host page</h1>"
        f"<script type='module' src='/widget.js' data-graph='echo' data-heading='Echo' data-token='{token('erin')}'></script>"
        "<p id='after'>after the widget</p></body></html>"
    )
    context = browser.new_context(viewport={"width": 900, "height": 700})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.route("**/host-page.html", lambda route: route.fulfill(status=200, content_type="text/html", body=host))
        page.goto(f"{web_stack.url}/host-page.html")
        chat = page.locator("script + graphgate-chat")
        chat.wait_for()
        assert chat.get_attribute("graph") == "echo"
        assert chat.locator(".title").inner_text() == "Echo"
        assert chat.locator(".label").inner_text() == "Message"
        chat.locator("textarea").fill("hello from a host page")
        chat.locator("textarea").press("Enter")
        chat.locator(".turn[data-status=completed] .md.final").wait_for()
        assert chat.locator(".md.final").inner_text() == "hello from a host page"
        assert step_labels(chat) == ["receive", "transform", "respond"]
    finally:
        context.close()
