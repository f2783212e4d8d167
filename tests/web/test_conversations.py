"""Conversations in the widget, in Chromium against a real stack: the list of a person's conversations and
resuming one (a question still open in it), the prompt before leaving a conversation that runs, Back, a
conversation kept across reloads, the launcher mode, cross-origin embeds with and without CORS (and with a
wrong address or an expired token: the widget says so), Retry after a failure, edit-and-resend, copy, and
the Chinese UI."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphgate.testing.client import Api
from graphgate.testing.stack import JWT_SECRET, Stack, token
from tests.web.conftest import EmbedHosts
from tests.web.demo import WAIT_MS, DemoPage

# the first test to start the browser may install chromium (apt-get) first
pytestmark = pytest.mark.timeout(900)

QUESTION = "What should I call you?"


def host_page(api: str, bearer: str, graph: str = "ask", mode: str = "launcher", extra: str = "") -> str:
    """Another site's page with only the documented script tag (and a listener for the widget's errors)."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>host</title></head><body>"
        "<h1>Someone's site</h1><p id='errors'></p>"
        "<script>document.addEventListener('graphgate-error', (ev) => {"
        " document.getElementById('errors').textContent += ev.detail.code + ';'; });</script>"
        f"<script type='module' src='{api}/widget.js' data-graph='{graph}' data-mode='{mode}'"
        f" data-token='{bearer}' {extra}></script></body></html>"
    )


def echo_form(demo: DemoPage, field: dict[str, Any]) -> None:
    """Give the echo graph a form with one more input ``field`` (as a page may register one: docs/web.md,
    "Forms") and wait for the composer to show it."""
    demo.page.evaluate(
        """(field) => {
            customElements.get('graphgate-chat').forms.echo = { messageField: 'text', fields: [field] };
            document.querySelector('graphgate-chat').setAttribute('graph', 'echo');
        }""",
        {"in": "input", "label": field["name"], **field},
    )
    demo.chat.locator(f'[data-field="{field["name"]}"]').wait_for(state="attached")


def ask_to_leave(demo: DemoPage) -> str:
    """Click New conversation while a task of the conversation runs or waits: the leave prompt's words."""
    demo.chat.locator("button.new").click()
    prompt = demo.chat.locator(".leave-prompt")
    prompt.wait_for()
    return str(prompt.inner_text())


def test_conversation_list_leave_prompt_resume_and_back(open_demo: Any, web_stack: Stack, artifacts: Path) -> None:
    demo: DemoPage = open_demo()
    who = f"lina{int(time.time() * 1000)}"
    demo.sign_in(who)
    demo.pick_graph("ask")
    first = demo.send("hello there")
    demo.wait_event("interrupt", first)
    asked = demo.session_id()

    # leaving a conversation whose question waits: the widget asks, and Stay keeps everything as it was
    assert "waiting for your answer" in ask_to_leave(demo)
    demo.wait_focus("button.stay")
    demo.chat.locator("button.stay").click()
    assert demo.chat.locator(".leave-prompt").is_hidden() and demo.session_id() == asked
    assert demo.turn(first).locator(".ask input").is_enabled()

    # Leave: a new conversation; the old task still waits on the server
    demo.chat.locator("button.new").click()
    demo.chat.locator("button.leave").click()
    assert demo.session_id() is None and demo.turns.count() == 0
    api = Api(web_stack.url, who)
    assert api.get(first)["status"] == "waiting_input"
    demo.pick_graph("echo")
    second = demo.send("a second conversation")
    demo.wait_event("task.completed", second)
    echoed = demo.session_id()

    # Back returns to the conversation before (the demo keeps it in the address)
    demo.page.go_back()
    demo.page.wait_for_function("(id) => document.querySelector('graphgate-chat').sessionId === id", arg=asked)
    demo.turn(first).locator(".ask input").wait_for()
    demo.page.go_forward()
    demo.page.wait_for_function("(id) => document.querySelector('graphgate-chat').sessionId === id", arg=echoed)

    # the list: both conversations, newest activity first, titled by their first message
    demo.chat.locator("button.list").click()
    items = demo.chat.locator(".sessions-list .session")
    items.first.wait_for()
    assert items.count() == 2
    titles = demo.chat.locator(".session-title").all_inner_texts()
    assert titles == ["a second conversation", "hello there"]
    assert items.nth(0).get_attribute("aria-current") == "true"
    assert "waiting for you" in items.nth(1).inner_text()
    demo.page.screenshot(path=str(artifacts / "widget-conversations.png"))
    assert Api(web_stack.url, "someone-else").http.get("/api/v1/sessions").json()["sessions"] == []

    # picking the waiting one replays it, question open; answering it finishes the task
    items.nth(1).click()
    demo.page.wait_for_function("(id) => document.querySelector('graphgate-chat').sessionId === id", arg=asked)
    card = demo.turn(first).locator(".ask")
    card.locator("input").fill("Lina")
    card.locator("input").press("Enter")
    demo.wait_event("task.completed", first)
    assert demo.final_text(first) == "Nice to meet you, Lina!"
    # nothing runs now: New conversation leaves without asking
    demo.chat.locator("button.new").click()
    assert demo.chat.locator(".leave-prompt").is_hidden() and demo.session_id() is None
    assert demo.dialogs == []


def test_a_running_task_streams_on_while_away_and_is_there_on_return(open_demo: Any, web_stack: Stack) -> None:
    demo: DemoPage = open_demo()
    who = f"noor{int(time.time() * 1000)}"
    demo.sign_in(who)
    demo.pick_graph("echo")
    # echo's "sleep" keeps the run going for a while (examples/echo.py), long enough to leave and come back
    echo_form(demo, {"name": "sleep", "type": "number", "value": 4})
    slow = demo.send("slow one")
    demo.wait_event("task.started", slow)
    away = demo.session_id()
    assert "still being written" in ask_to_leave(demo)
    demo.chat.locator("button.leave").click()
    assert demo.session_id() is None

    demo.chat.locator("button.list").click()
    item = demo.chat.locator(f'.session[data-session-id="{away}"]')
    item.wait_for()
    assert item.get_attribute("data-status") == "running" and "running" in item.inner_text()
    item.click()
    # replayed from its first event, then live: the answer arrives in the conversation it belongs to
    demo.wait_event("task.completed", slow)
    assert demo.final_text(slow) == "slow one"
    assert demo.session_id() == away and demo.turns.count() == 1


def test_launcher_reload_keeps_an_unanswered_question(
    browser: Any, web_stack: Stack, embed_hosts: EmbedHosts, artifacts: Path
) -> None:
    bearer = token(f"ravi{int(time.time() * 1000)}")
    path = embed_hosts.page("launcher.html", host_page(web_stack.url, bearer))
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(embed_hosts.allowed + path)
        chat = page.locator("graphgate-chat")
        bubble = chat.locator("button.launcher")
        bubble.wait_for()
        assert chat.locator(".frame").is_hidden() and bubble.get_attribute("aria-expanded") == "false"
        box = bubble.bounding_box()
        assert box and box["x"] > 800 and box["y"] > 600  # the page's bottom right corner

        bubble.click()
        assert chat.locator(".frame").is_visible() and bubble.get_attribute("aria-expanded") == "true"
        page.wait_for_function(
            "() => document.querySelector('graphgate-chat').shadowRoot.activeElement?.matches('textarea')"
        )
        chat.locator("textarea").fill("hi")
        chat.locator("textarea").press("Enter")
        chat.locator(".ask .question").wait_for()
        session = page.evaluate("document.querySelector('graphgate-chat').sessionId")

        # closed with Escape: the bubble says a question waits, with a badge
        chat.locator("textarea").press("Escape")
        assert chat.locator(".frame").is_hidden()
        assert chat.locator(".badge").is_visible()
        assert "question is waiting" in (bubble.get_attribute("aria-label") or "")
        bubble.click()

        # a reload: the panel is open again on the same conversation, its question still open
        page.reload()
        chat.locator(".ask .question").wait_for()
        assert page.evaluate("document.querySelector('graphgate-chat').sessionId") == session
        assert chat.locator(".frame").is_visible()
        assert chat.locator(".ask .question").inner_text() == QUESTION
        # the message box answers the one open question
        chat.locator("textarea").fill("Ravi")
        chat.locator("textarea").press("Enter")
        chat.locator(".turn[data-status=completed] .md.final").wait_for()
        assert chat.locator(".md.final").inner_text() == "Nice to meet you, Ravi!"
        assert page.locator("#errors").inner_text() == ""
        page.screenshot(path=str(artifacts / "widget-launcher.png"))

        # the remembered conversation deleted meanwhile: the next visit starts afresh, without an error
        gone = httpx.delete(f"{web_stack.url}/threads/{session}", headers={"Authorization": f"Bearer {bearer}"})
        assert gone.status_code == 204, gone.text
        page.reload()
        chat.locator(".frame").wait_for()
        page.wait_for_function("() => document.querySelector('graphgate-chat').sessionId === null")
        assert chat.locator(".turn").count() == 0 and chat.locator(".alert").is_hidden()
        assert page.evaluate("(id) => Object.values(localStorage).includes(id)", session) is False
    finally:
        context.close()


def test_cross_origin_embeds_say_what_is_wrong(browser: Any, web_stack: Stack, embed_hosts: EmbedHosts) -> None:
    bearer = token("omar")
    expired = _expired_token("omar")
    dead_api = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback
    cases = [
        # (host origin, page, the words the widget shows, the graphgate-error code)
        (embed_hosts.allowed, host_page(web_stack.url, bearer, "echo", "inline"), None, ""),
        (
            embed_hosts.refused,
            host_page(web_stack.url, bearer, "echo", "inline"),
            "does not accept requests from this page",
            "cors;",
        ),
        (
            embed_hosts.allowed,
            host_page(web_stack.url, bearer, "echo", "inline", f"data-api='{dead_api}'"),
            "did not answer",
            "unreachable;",
        ),
        (embed_hosts.allowed, host_page(web_stack.url, expired, "echo", "inline"), "Sign in to chat", "unauthorized;"),
    ]
    context = browser.new_context(viewport={"width": 900, "height": 700})
    try:
        for n, (origin, html, words, code) in enumerate(cases):
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(origin + embed_hosts.page(f"embed{n}.html", html))
            chat = page.locator("graphgate-chat")
            chat.locator(".frame").wait_for()
            if words is None:
                # CORS allows this origin: the widget works across origins
                chat.locator("textarea").fill("across origins")
                chat.locator("textarea").press("Enter")
                chat.locator(".turn[data-status=completed] .md.final").wait_for()
                assert chat.locator(".md.final").inner_text() == "across origins"
            else:
                alert = chat.locator(".alert")
                alert.wait_for()
                assert words in alert.inner_text(), alert.inner_text()
                page.wait_for_function("(code) => document.getElementById('errors').textContent === code", arg=code)
                if code == "cors;":
                    assert origin in alert.inner_text()
            page.close()
    finally:
        context.close()


def _expired_token(sub: str) -> str:
    import jwt

    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now - 7200, "exp": now - 3600}, JWT_SECRET, algorithm="HS256")


def test_retry_after_a_failure_edit_and_copy(open_demo: Any, web_stack: Stack) -> None:
    demo: DemoPage = open_demo(permissions=["clipboard-read", "clipboard-write"])
    who = f"mia{int(time.time() * 1000)}"
    demo.sign_in(who)
    demo.pick_graph("echo")
    echo_form(demo, {"name": "fail", "type": "checkbox", "value": True})  # echo raises when asked (examples/echo.py)
    failed = demo.send("boom")
    demo.wait_event("task.failed", failed)
    turn = demo.turn(failed)
    assert "echo asked to fail" in turn.locator(".note.error").inner_text()
    api = Api(web_stack.url, who)

    # Retry: a new task of the same conversation with the same input
    before = len(demo.events())
    turn.locator("button.retry").click()
    again = demo.wait_event("task.queued", after=before)["task"]
    assert again != failed
    assert api.get(again)["input"] == api.get(failed)["input"] == {"text": "boom", "fail": True}
    assert api.get(again)["session_id"] == api.get(failed)["session_id"]
    demo.wait_event("task.failed", again)

    # Edit: the last message goes back into the message box; sent as it is now, it works
    demo.chat.locator("details.options summary").click()
    demo.chat.locator('[data-field="fail"]').uncheck()
    assert demo.turn(failed).locator("button.edit").is_hidden()  # only the last message
    demo.turn(again).locator("button.edit").click()
    assert demo.chat.locator("textarea").input_value() == "boom"
    demo.wait_focus("textarea")
    demo.chat.locator("textarea").fill("boom, fixed")
    fixed = demo.send()
    demo.wait_event("task.completed", fixed)
    assert demo.final_text(fixed) == "boom, fixed"
    assert demo.turn(again).locator("button.edit").is_hidden() and demo.turn(fixed).locator("button.edit").is_visible()

    # copy the answer; the times are the reader's clock
    demo.turn(fixed).locator("button.copy-answer").click()
    demo.turn(fixed).locator("button.copy-answer", has_text="Copied").wait_for()
    assert demo.page.evaluate("navigator.clipboard.readText()") == "boom, fixed"
    sent_at = demo.turn(fixed).locator("time.sent-at")
    when = datetime.fromisoformat(sent_at.get_attribute("datetime") or "").timestamp()
    assert abs(when - api.get(fixed)["created_at"]) < 0.01
    shown = demo.page.evaluate(
        "(iso) => new Date(iso).toLocaleTimeString('en', {hour: '2-digit', minute: '2-digit'})",
        sent_at.get_attribute("datetime"),
    )
    assert sent_at.inner_text() == shown
    assert demo.dialogs == []


def test_the_chinese_ui(open_demo: Any, web_stack: Stack, artifacts: Path) -> None:
    demo: DemoPage = open_demo(path="/?lang=zh", locale="zh-CN")
    demo.page.wait_for_function("() => document.documentElement.lang === 'zh'")
    assert demo.page.locator("#login-button").inner_text() == "登录"
    demo.sign_in(f"wei{int(time.time() * 1000)}")
    chat = demo.chat
    assert chat.locator("button.send").inner_text() == "发送"
    assert chat.locator("button.new").inner_text() == "新对话"
    assert chat.locator(".label").inner_text() == "主题"  # the writer's form, in Chinese too
    assert chat.locator(".conn-text").inner_text() == "就绪"
    task = demo.send("潮池")
    demo.wait_event("interrupt", task)
    turn = demo.turn(task)
    assert turn.locator(".status").inner_text() == "等待你的回答"
    demo.answer(task, "Revise")  # the graph's own words stay as it wrote them; the note field is the widget's
    assert turn.locator(".option-note input").get_attribute("placeholder") == "备注（可选）"
    assert turn.locator(".option-note label").inner_text() == "Revise：需要改什么？"
    demo.page.screenshot(path=str(artifacts / "widget-zh.png"))
    demo.answer(task, "Approve")
    demo.wait_event("task.completed", task)
    assert turn.locator(".status").inner_text().startswith("用时")
    assert turn.locator("button.copy-answer").inner_text() == "复制"
    demo.page.screenshot(path=str(artifacts / "widget-zh-done.png"))


def test_the_language_is_chosen_by_attribute_page_and_browser(
    browser: Any, web_stack: Stack, embed_hosts: EmbedHosts
) -> None:
    bearer = token("lang-check")
    cases = [
        ("<html lang='en'>", "", "en-US", "Send"),
        ("<html lang='zh-CN'>", "", "en-US", "发送"),
        ("<html>", "", "zh-CN", "发送"),
        ("<html lang='zh'>", "data-lang='en'", "zh-CN", "Send"),
    ]
    for n, (html_tag, attr, locale, send) in enumerate(cases):
        page_html = host_page(web_stack.url, bearer, "echo", "inline", attr).replace("<html lang='en'>", html_tag)
        context = browser.new_context(locale=locale)
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(embed_hosts.allowed + embed_hosts.page(f"lang{n}.html", page_html))
            assert page.locator("graphgate-chat button.send").inner_text() == send, (html_tag, attr, locale)
        finally:
            context.close()
