"""The demo page at ``/`` as a test drives it: sign in, pick a graph, fill the writer's form, answer, read
what is shown."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Runs in the page before its own scripts: records what the widget hands to graphgate-event listeners,
# what its streamed blocks showed when each task ended, how each tool call's line read right after each of
# its events was shown, and every dialog (none must ever open).
RECORDER = """
window.__gg = { events: [], streamed: {}, connection: [], sources: [], tools: [] };
window.EventSource = class extends window.EventSource {  // the stream URLs the widget opens
  constructor(url, options) {
    super(url, options);
    window.__gg.sources.push(String(url));
  }
};
setInterval(() => {  // the widget's connection indicator, as it changes
  const conn = document.querySelector('graphgate-chat')?.shadowRoot?.querySelector('.conn');
  const states = window.__gg.connection;
  if (conn && states[states.length - 1] !== conn.dataset.state) states.push(conn.dataset.state);
}, 25);
document.addEventListener('graphgate-event', (ev) => {
  const { id, event } = ev.detail;
  const data = event.data || {};
  window.__gg.events.push({ id, type: event.type, task: event.task_id, session: event.session_id,
                            node: data.node || null, text: event.type === 'message.delta' ? data.text : null });
  if (event.type === 'tool.started' || event.type === 'tool.completed') {
    const root = ev.target.shadowRoot;
    queueMicrotask(() => {  // after the widget has shown the event (listeners run before it does)
      const line = root.querySelector(`article[data-task-id="${event.task_id}"] .tool-call[data-call-id="${data.call_id}"]`);
      window.__gg.tools.push({ type: event.type, task: event.task_id, call: data.call_id, text: line ? line.innerText : null });
    });
  }
  if (event.type === 'task.completed') {
    const chat = ev.target;
    const turn = chat.shadowRoot.querySelector(`article[data-task-id="${event.task_id}"]`);
    window.__gg.streamed[event.task_id] = turn
      ? [...turn.querySelectorAll('.md.stream[data-node="write"]')].map((el) => el.innerText) : null;
  }
}, true);
"""

WAIT_MS = 60_000


def words(text: str) -> str:
    """Text with every run of whitespace collapsed: how rendered and source text are compared."""
    return " ".join(text.split())


def markdown_words(source: str) -> str:
    """What a reader sees of simple Markdown (headings and paragraphs): the words, without ``#`` markers."""
    return words(re.sub(r"(?m)^#{1,6}\s+", "", source))


@dataclass
class DemoPage:
    page: Any
    base_url: str
    dialogs: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, context: Any, base_url: str, path: str = "/") -> DemoPage:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        demo = cls(page, base_url)
        page.add_init_script(RECORDER)

        def on_dialog(dialog: Any) -> None:
            demo.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(base_url + path)
        return demo

    # --- parts of the page ---------------------------------------------------------------------------

    @property
    def chat(self) -> Any:
        return self.page.locator("graphgate-chat")

    def turn(self, task_id: str) -> Any:
        return self.chat.locator(f'article[data-task-id="{task_id}"]')

    @property
    def turns(self) -> Any:
        return self.chat.locator("article.turn")

    # --- actions ---------------------------------------------------------------------------------------

    def sign_in(self, name: str) -> None:
        self.page.fill("#login-value", name)
        self.page.click("#login-button")
        self.page.wait_for_selector("#signed-in:not([hidden])")
        self.page.wait_for_function("() => document.querySelector('graphgate-chat').token")
        self.page.wait_for_selector("#graph option", state="attached")

    def pick_graph(self, name: str) -> None:
        """Choose the graph in the demo's picker (which starts a new conversation)."""
        self.page.select_option("#graph", name)
        self.page.wait_for_function("(name) => document.querySelector('graphgate-chat').graph === name", arg=name)

    def fill_writer(
        self, topic: str, audience: str | None = None, depth: str | None = None, length: int | None = None
    ) -> None:
        options = self.chat.locator("details.options")
        if (audience, depth, length) != (None, None, None) and options.get_attribute("open") is None:
            options.locator("summary").click()
        if audience is not None:
            self.chat.locator('[data-field="target_audience"]').fill(audience)
        if depth is not None:
            self.chat.locator('[data-field="depth_level"]').select_option(depth)
        if length is not None:
            self.chat.locator('[data-field="target_length"]').fill(str(length))
        self.chat.locator("textarea").fill(topic)

    def send(self, text: str | None = None, **writer: Any) -> str:
        """Send a message (through the writer form when options are given); the new task's id."""
        before = len(self.events())
        if writer or text is not None:
            self.fill_writer(text or "", **writer)
        self.chat.locator("button.send").click()
        return self.wait_event("task.queued", after=before)["task"]

    def answer(self, task_id: str, label: str) -> None:
        self.turn(task_id).locator(".ask .choices button", has_text=label).click()

    def approval(self, task_id: str) -> Any:
        """The task's (latest) tool approval card."""
        return self.turn(task_id).locator(".ask[data-kind=tool_approval]").last

    def focused(self, selector: str) -> bool:
        """Whether the element with the focus inside the widget matches ``selector``."""
        return bool(
            self.page.evaluate(
                "(sel) => !!document.querySelector('graphgate-chat').shadowRoot.activeElement?.matches(sel)", selector
            )
        )

    def wait_focus(self, selector: str) -> None:
        self.page.wait_for_function(
            "(sel) => !!document.querySelector('graphgate-chat').shadowRoot.activeElement?.matches(sel)", arg=selector
        )

    # --- what happened ---------------------------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        return self.page.evaluate("window.__gg.events")

    def wait_event(self, etype: str, task: str | None = None, after: int = 0, timeout: int = WAIT_MS) -> dict[str, Any]:
        """The first recorded event of ``etype`` (of ``task``) at or after position ``after``."""
        self.page.wait_for_function(
            """([etype, task, after]) => window.__gg.events.slice(after)
                 .some((e) => e.type === etype && (!task || e.task === task))""",
            arg=[etype, task, after],
            timeout=timeout,
        )
        return next(e for e in self.events()[after:] if e["type"] == etype and (not task or e["task"] == task))

    def wait_deltas(self, task: str, node: str, count: int) -> None:
        self.page.wait_for_function(
            """([task, node, count]) => window.__gg.events
                 .filter((e) => e.type === 'message.delta' && e.task === task && e.node === node).length >= count""",
            arg=[task, node, count],
        )

    def tool_lines(self, task_id: str) -> list[dict[str, Any]]:
        """How each tool call's line read right after each of its events was shown, in order."""
        return [t for t in self.page.evaluate("window.__gg.tools") if t["task"] == task_id]

    def streamed_at_end(self, task_id: str) -> list[str]:
        return self.page.evaluate("(task) => window.__gg.streamed[task]", task_id)

    def connection_states(self) -> list[str]:
        return self.page.evaluate("window.__gg.connection")

    def stream_urls(self) -> list[str]:
        return self.page.evaluate("window.__gg.sources")

    def session_id(self) -> str | None:
        return self.page.evaluate("document.querySelector('graphgate-chat').sessionId")

    def final_text(self, task_id: str) -> str:
        return self.turn(task_id).locator(".md.final").inner_text()

    def status_of(self, task_id: str) -> str:
        return self.turn(task_id).get_attribute("data-status") or ""
