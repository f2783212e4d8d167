"""Files in the widget, in a real browser against real processes: attached with the paperclip and by
dropping them on the composer, uploaded at once (a refused one says why on its chip and is not sent), sent
with the message, and shown in the message's bubble (the image loaded from its signed URL); a graph that
takes text only offers no paperclip. And files out: a graph's images shown under its answer, its PDF as a
link."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphgate.testing.client import Api
from graphgate.testing.stack import ROOT, Stack, running_stack
from tests.web.demo import DemoPage

pytestmark = pytest.mark.timeout(900)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

DROP = """([name, type, text]) => {
  const chat = document.querySelector('graphgate-chat');
  const composer = chat.shadowRoot.querySelector('form.composer');
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, { type }));
  for (const kind of ['dragover', 'drop']) {
    composer.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
}"""


def test_files_are_attached_uploaded_sent_and_shown(
    open_demo: Any, web_stack: Stack, tmp_path: Path, artifacts: Path
) -> None:
    demo: DemoPage = open_demo()
    errors: list[str] = []
    demo.page.on("pageerror", lambda e: errors.append(str(e)))
    demo.sign_in("iris")
    demo.pick_graph("echo")
    assert demo.chat.locator("button.attach").is_hidden()  # echo takes text only
    demo.pick_graph("agent")
    attach = demo.chat.locator("button.attach")
    assert attach.is_visible() and attach.get_attribute("aria-label") == "Attach files"

    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    demo.chat.locator("input[type=file]").set_input_files(str(image))
    demo.page.evaluate(DROP, ["notes.pdf", "application/pdf", "%PDF-1.7 the notes"])
    demo.page.evaluate(DROP, ["page.html", "text/html", "<p>no</p>"])
    chips = demo.chat.locator(".attachments .chip")
    demo.chat.locator(".attachments .chip[data-state='ready']").nth(1).wait_for()
    refused = demo.chat.locator(".attachments .chip[data-state='refused']")
    refused.wait_for()
    assert "page.html" in refused.inner_text() and "not accepted" in refused.inner_text()
    assert chips.count() == 3
    demo.page.screenshot(path=str(artifacts / "widget-files.png"))

    demo.chat.locator("textarea").fill("what is 2+3?")
    task_id = demo.send()
    demo.wait_event("task.completed", task_id)
    assert chips.count() == 0  # the composer is empty again
    bubble = demo.turn(task_id).locator(".user")
    img = bubble.locator(".file.image img")
    img.wait_for()
    demo.page.wait_for_function("(img) => img.complete && img.naturalWidth === 1", arg=img.element_handle())
    assert img.get_attribute("alt") == "dot.png"
    assert bubble.locator("a.file", has_text="notes.pdf").count() == 1
    assert bubble.locator(".bubble").inner_text() == "what is 2+3?"
    assert "2+3 = 5" in demo.turn(task_id).locator(".answer").inner_text()

    task = Api(web_stack.url, "iris").get(task_id)
    content = task["input"]["messages"][-1]["content"]
    assert [(p["type"], p.get("mime_type")) for p in content] == [
        ("text", None),
        ("image", "image/png"),
        ("file", "application/pdf"),
    ]
    assert errors == []


@pytest.fixture(scope="module")
def drawing_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """API + worker with the test graphs of files (``draw`` answers with two images and a PDF)."""
    env = {"GRAPHGATE_DEV_LOGIN": "true", "GRAPHGATE_CONFIG": str(ROOT / "tests" / "e2e" / "files" / "langgraph.json")}
    with running_stack(redis_url, tmp_path_factory.mktemp("web-files"), env, concurrency=1, public_url=True) as stack:
        yield stack


def test_files_a_graph_answers_with_show_under_its_answer(browser: Any, drawing_stack: Stack, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 1180, "height": 860})
    try:
        demo = DemoPage.open(context, drawing_stack.url)
        demo.sign_in("dora")
        demo.pick_graph("draw")
        demo.chat.locator("textarea").fill("chart the quarter")
        task_id = demo.send()
        demo.wait_event("task.completed", task_id)
        files = demo.turn(task_id).locator(".answer-files")
        images = files.locator(".file.image img")
        images.nth(1).wait_for()
        for n in range(2):
            demo.page.wait_for_function(
                "(img) => img.complete && img.naturalWidth > 0", arg=images.nth(n).element_handle()
            )
        assert [images.nth(n).get_attribute("alt") for n in range(2)] == ["revenue.png", "costs.png"]
        assert files.locator("a.file", has_text="report.pdf").count() == 1
        assert demo.turn(task_id).locator(".final").inner_text().strip() == "Here are the charts and the report."
        demo.page.screenshot(path=str(artifacts / "widget-files-out.png"))
    finally:
        context.close()
