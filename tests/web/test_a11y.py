"""Accessibility of the demo page and its widget: axe-core (vendored in tests/web/vendor/, see its README) finds no
serious or critical violation of WCAG 2.0/2.1 A and AA or of axe's best practices in the states a reader meets.
Moderate and minor findings are printed (``-s`` shows them), not failed on.

axe goes in with ``add_init_script``: Playwright hands the script to the browser over the DevTools protocol, which
the page's ``script-src 'self'`` does not govern, so the page keeps its whole CSP, Trusted Types included, and axe
runs in the page as it ships. axe reaches into the widget's open shadow root by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from graphgate.testing.stack import Stack
from tests.web.demo import DemoPage

# the first test to start the browser may install chromium (apt-get) first
pytestmark = pytest.mark.timeout(900)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# axe's default preload copies the page's stylesheets into inline <style> elements, which the CSP refuses
# (style-src 'self', a console error each run); only the experimental css-orientation-lock rule, not run here,
# reads that copy. The media preload stays: no-autoplay-audio needs it.
AXE_OPTIONS = {
    "runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    "preload": {"assets": ["media"]},
}
BLOCKING = ("critical", "serious")

# Colour contrast is measured on what is painted now: wait for the widget's stylesheet (its <link> in the shadow
# root loads after the element is built) and for every transition, such as a button's background going from
# the browser's grey to the accent when that sheet applies, to end. Endless animations are off: the contexts
# ask for reduced motion.
SETTLE = """async () => {
  const root = document.querySelector('graphgate-chat').shadowRoot;
  const links = [...document.querySelectorAll('link[rel=stylesheet]'), ...root.querySelectorAll('link[rel=stylesheet]')];
  await Promise.all(links
    .filter((link) => link.sheet === null)
    .map((link) => new Promise((done) => { link.addEventListener('load', done, { once: true }); })));
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const running = [...document.getAnimations(), ...root.getAnimations()]
    .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity);
  await Promise.all(running.map((a) => a.finished.catch(() => null)));
}"""

# The violations, cut down to what the reader of a failed test needs. A target inside the widget is a list:
# the host's selector, then the selector inside its shadow root.
RUN_AXE = """async (options) => {
  const result = await axe.run(document, options);
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ impact: n.impact, target: n.target, summary: n.failureSummary })),
  }));
}"""


@pytest.fixture
def open_page(browser: Any, web_stack: Stack) -> Iterator[Callable[..., DemoPage]]:
    """``open_page(path, **context_options) -> DemoPage``: the demo page with axe loaded, on a fresh browser context."""
    contexts: list[Any] = []

    def open_(path: str = "/", **options: Any) -> DemoPage:
        options.setdefault("viewport", {"width": 1180, "height": 860})
        options.setdefault("reduced_motion", "reduce")  # no pulsing dot or blinking cursor mid-measure
        context = browser.new_context(**options)
        contexts.append(context)
        context.add_init_script(path=str(AXE))
        demo = DemoPage.open(context, web_stack.url, path)
        demo.chat.locator(".frame").wait_for()
        return demo

    yield open_
    for context in contexts:
        context.close()


def report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}: {' '.join(node['summary'].split())}")
    return "\n".join(lines)


def assert_accessible(demo: DemoPage, state: str) -> None:
    """No serious or critical violation on the page as it is now; ``state`` names it in the messages."""
    demo.page.evaluate(SETTLE)
    violations = demo.page.evaluate(RUN_AXE, AXE_OPTIONS)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    others = [v for v in violations if v["impact"] not in BLOCKING]
    if others:
        print(f"\naxe, {state}: moderate or minor (not failed on)\n{report(others)}")
    assert not blocking, f"axe, {state}: serious or critical\n{report(blocking)}"


def test_signed_out_and_signed_in_idle(open_page: Callable[..., DemoPage]) -> None:
    demo = open_page()
    assert_accessible(demo, "signed out (login form)")
    demo.sign_in("ally")
    assert_accessible(demo, "signed in, idle (the writer's form, its options open)")


def test_completed_answer(open_page: Callable[..., DemoPage]) -> None:
    demo = open_page()
    demo.sign_in("ally")
    demo.pick_graph("echo")
    task_id = demo.send("**Tide pools** hold `anemones`: see [the guide](https://example.org/).")
    demo.wait_event("task.completed", task_id)
    demo.turn(task_id).locator(".md.final").wait_for()
    assert_accessible(demo, "a conversation with a completed answer (echo)")


def test_pending_question(open_page: Callable[..., DemoPage]) -> None:
    demo = open_page()
    demo.sign_in("ally")
    demo.pick_graph("ask")
    task_id = demo.send("hello")
    demo.wait_event("interrupt", task_id)
    demo.turn(task_id).locator(".ask form.reply").wait_for()
    assert_accessible(demo, "a pending question (ask)")
    demo.chat.locator("button.new").click()
    demo.chat.locator(".leave-prompt").wait_for()
    assert_accessible(demo, "the prompt before leaving a conversation whose question waits")
    demo.chat.locator("button.stay").click()
    demo.chat.locator("button.list").click()
    demo.chat.locator(".sessions-list .session").first.wait_for()
    assert_accessible(demo, "the conversation list")


def test_chinese_ui(open_page: Callable[..., DemoPage]) -> None:
    demo = open_page(path="/?lang=zh")
    demo.sign_in("ally")
    demo.pick_graph("ask")
    task_id = demo.send("你好")
    demo.wait_event("interrupt", task_id)
    demo.turn(task_id).locator(".ask form.reply").wait_for()
    assert_accessible(demo, "the Chinese UI, a pending question")


def test_writer_outline_question_and_its_options(open_page: Callable[..., DemoPage]) -> None:
    demo = open_page()
    demo.sign_in("ally")
    task_id = demo.send("Tide pools", audience="curious kids", depth="deep", length=600)
    demo.wait_event("interrupt", task_id)
    card = demo.turn(task_id).locator(".ask").first
    card.locator(".choices button", has_text="Revise").wait_for()
    assert_accessible(demo, "the writer's outline question, its form's options open")
    card.locator(".choices button", has_text="Revise").click()
    card.get_by_placeholder("A note (optional)").wait_for()
    assert_accessible(demo, "the writer's outline question, Revise's note open")


def test_dark_theme(open_page: Callable[..., DemoPage]) -> None:
    demo = open_page(color_scheme="dark")
    assert demo.chat.locator(".frame").get_attribute("data-theme") == "dark"
    assert_accessible(demo, "dark theme, signed out")
    demo.sign_in("ally")
    task_id = demo.send("Tide pools", length=300)
    demo.wait_event("interrupt", task_id)
    demo.turn(task_id).locator(".ask .choices button", has_text="Approve").wait_for()
    assert_accessible(demo, "dark theme, the writer's outline question")
    demo.answer(task_id, "Approve")
    demo.wait_event("task.completed", task_id)
    demo.turn(task_id).locator(".md.final").wait_for()
    assert_accessible(demo, "dark theme, a completed answer (writer)")
