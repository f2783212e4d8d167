"""web/markdown.js in the browser, under the demo page's Content-Security-Policy: what it renders, exactly."""

from __future__ import annotations

from typing import Any

import pytest

from graphgate.testing.stack import Stack

# the first test to start the browser may install chromium (apt-get) first
pytestmark = pytest.mark.timeout(900)

LINK = '<a href="https://example.org/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer nofollow">'
CASES = [
    (
        "# Title\n\nSome **bold**, *em*, `code` and ~~old~~.",
        "<h1>Title</h1><p>Some <strong>bold</strong>, <em>em</em>, <code>code</code> and <del>old</del>.</p>",
    ),
    ("## Closed heading ##", "<h2>Closed heading</h2>"),
    ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
    ("**<script>alert(1)</script>**", "<p><strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong></p>"),
    ('a "quote" & <b>tag</b>', '<p>a "quote" &amp; &lt;b&gt;tag&lt;/b&gt;</p>'),
    (
        "- one\n- two\n\n3. three\n4. four",
        '<ul><li>one</li><li>two</li></ul><ol start="3"><li>three</li><li>four</li></ol>',
    ),
    ("```\n<b>x</b>\n  indented\n```", "<pre><code>&lt;b&gt;x&lt;/b&gt;\n  indented</code></pre>"),
    ("> quoted *text*", "<blockquote><p>quoted <em>text</em></p></blockquote>"),
    ("first line\nsecond line", "<p>first line<br>second line</p>"),
    ("[site](https://example.org/x?a=1&b=2)", f"<p>{LINK}site</a></p>"),
    (
        "[x](javascript:alert%281%29) [y](data:text/html,hi) [z](/relative)",
        "<p>[x](javascript:alert%281%29) [y](data:text/html,hi) [z](/relative)</p>",
    ),
    ("snake_case_name stays, _this_ is em", "<p>snake_case_name stays, <em>this</em> is em</p>"),
    ("para\n\n---\n\nafter", "<p>para</p><hr><p>after</p>"),
    ("text\n- item", "<p>text</p><ul><li>item</li></ul>"),
    ("", ""),
    # autolinks: a bare http(s) address, without the sentence's punctuation; never javascript:
    (
        "see https://example.org/a?b=1, then (http://x.test/p).",
        '<p>see <a href="https://example.org/a?b=1" target="_blank" rel="noopener noreferrer nofollow">'
        'https://example.org/a?b=1</a>, then (<a href="http://x.test/p" target="_blank" '
        'rel="noopener noreferrer nofollow">http://x.test/p</a>).</p>',
    ),
    ("javascript:alert(1) and `https://in.code/`", "<p>javascript:alert(1) and <code>https://in.code/</code></p>"),
    # pipe tables (GFM), with alignment and inline Markdown in cells; a pipe escaped inside a cell
    (
        "| name | n |\n|:--|--:|\n| **bees** | 3 |\n| a \\| b | 4 |",
        '<div class="table"><table><thead><tr><th style="text-align: left;">name</th>'
        '<th style="text-align: right;">n</th></tr></thead><tbody><tr><td style="text-align: left;">'
        '<strong>bees</strong></td><td style="text-align: right;">3</td></tr><tr><td style="text-align: left;">'
        'a | b</td><td style="text-align: right;">4</td></tr></tbody></table></div>',
    ),
    (
        "before\n| a | b |\n| --- | --- |\n| <b>x</b> | y |",
        '<p>before</p><div class="table"><table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr>'
        "<td>&lt;b&gt;x&lt;/b&gt;</td><td>y</td></tr></tbody></table></div>",
    ),
    ("a | b but no delimiter row", "<p>a | b but no delimiter row</p>"),
]


@pytest.fixture(scope="module")
def demo_page(browser: Any, web_stack: Stack) -> Any:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{web_stack.url}/")
    yield page
    context.close()


def test_markdown_renders_dom_nodes_and_never_markup(demo_page: Any) -> None:
    rendered = demo_page.evaluate(
        """async (sources) => {
            const { renderMarkdown } = await import('/web/markdown.js');
            return sources.map((source) => {
              const box = document.createElement('div');
              box.append(renderMarkdown(source));
              return box.innerHTML;
            });
        }""",
        [source for source, _ in CASES],
    )
    for (source, expected), got in zip(CASES, rendered):
        assert got == expected, source
