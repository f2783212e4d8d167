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
    # a fenced block without a language: a head with only the Copy button, the code as text
    (
        "```\n<b>x</b>\n  indented\n```",
        '<div class="code-block"><div class="code-head"><button type="button" class="copy-code">Copy</button></div>'
        "<pre><code>&lt;b&gt;x&lt;/b&gt;\n  indented</code></pre></div>",
    ),
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


# --- code blocks: head, highlighting (web/highlight.js), Copy ---------------------------------------------

PYTHON = '@cache\ndef greet(name: str = "world") -> str:\n    # say hello\n    count = 0x1F + 2.5\n    return f"Hello, {name}!" if name else None'
JAVASCRIPT = (
    'const re = /"[/]"/g; // a regex with quotes\nexport async function load(url) {\n'
    "  const res = await fetch(`${url}?n=${1}`);\n  return res.ok ? res.json() : null;\n}"
)
# one sample per language the highlighter knows (and one it does not), with the constructs that are easy to get wrong
SAMPLES = {
    "python": PYTHON + "\nx = '''multi\nline''' + r'\\d' + b\"\\\"\"\n'unterminated\n\"\"\"never closed",
    "js": JAVASCRIPT + "\nlet a = b / c / d; /* block */ x = `multi\nline ${y}` + '\\'' + /[/\\]]+/gi; /* open",
    "ts": "interface A extends B { n: number }\nconst f = (x: string): void => {};\nlet s = 'oops",
    "json": '{"a": 1, "b": [true, false, null, -2.5e-3], "c": {"d": "x\\"y"}, "e": "open',
    "bash": '#!/bin/sh\nexport FOO="a $HOME b" # c\nif [ -f ${FOO} ]; then echo \'x\' | grep -v y 2>&1; fi\necho "open',
    "sql": "SELECT id, count(*) AS n FROM \"t\" WHERE name = 'it''s' -- c\n/* b */ GROUP BY id LIMIT 10; 'open",
    "yaml": "---\nkey: value # c\nlist:\n  - name: x\n    on: true\n    n: 1.5\n    v: v1.2.3\n    a: &anc 'q'\n\"open",
    "html": '<?xml version="1.0"?>\n<!DOCTYPE html><!-- c --><a href="x" data-y=z disabled>t &amp; u</a><b class="open',
    "rust": "// a comment\nfn main() { let s = \"str\"; let n = 42; } # not a comment\ndon't 'c' /* open",
}

RENDER = """async ([source, options]) => {
    const { renderMarkdown } = await import('/web/markdown.js');
    const box = document.createElement('div');
    box.append(renderMarkdown(source, options));
    return box.innerHTML;
}"""

SPANS = """async ([code, language]) => {
    const { highlight } = await import('/web/highlight.js');
    const box = document.createElement('div');
    box.append(highlight(code, language));
    return {
        spans: [...box.children].map((el) => [el.tagName, el.className, el.textContent]),
        text: box.textContent,
        nodes: [...box.childNodes].every((n) => n.nodeType === Node.TEXT_NODE || (n.tagName === 'SPAN' && !n.children.length)),
    };
}"""


def spans(page: Any, code: str, language: str) -> list[tuple[str, str]]:
    got = page.evaluate(SPANS, [code, language])
    assert got["text"] == code
    assert got["nodes"], "highlight() returns text nodes and childless spans only"
    assert all(tag == "SPAN" for tag, _, _ in got["spans"])
    return [(cls, text) for _, cls, text in got["spans"]]


def test_code_block_has_a_head_with_its_language_and_a_copy_button(demo_page: Any) -> None:
    html = demo_page.evaluate(RENDER, ["```python\ndef f():\n    return 1\n```", None])
    assert html == (
        '<div class="code-block"><div class="code-head"><span class="code-lang">python</span>'
        '<button type="button" class="copy-code">Copy</button></div><pre><code class="language-python">'
        '<span class="tok-keyword">def</span> <span class="tok-function">f</span>():\n    '
        '<span class="tok-keyword">return</span> <span class="tok-number">1</span></code></pre></div>'
    )
    # the info string's first word is the language; a longer fence's extra backticks are not part of it
    html = demo_page.evaluate(RENDER, ["````js title=x.js\nnull\n````", None])
    assert '<span class="code-lang">js</span>' in html
    assert '<code class="language-js"><span class="tok-literal">null</span></code>' in html


def test_code_tools_off_renders_plain_pre_code(demo_page: Any) -> None:
    off = {"codeTools": False}
    assert demo_page.evaluate(RENDER, ["```\n<b>x</b>\n```", off]) == "<pre><code>&lt;b&gt;x&lt;/b&gt;</code></pre>"
    assert demo_page.evaluate(RENDER, ["```json\n[1]\n```", off]) == (
        '<pre><code class="language-json">[<span class="tok-number">1</span>]</code></pre>'
    )


def test_code_block_labels_can_be_translated(demo_page: Any) -> None:
    html = demo_page.evaluate(RENDER, ["```\nx\n```", {"labels": {"copy": "Kopieren"}}])
    assert '<button type="button" class="copy-code">Kopieren</button>' in html


def test_python_is_highlighted(demo_page: Any) -> None:
    assert spans(demo_page, PYTHON, "python") == [
        ("tok-meta", "@cache"),
        ("tok-keyword", "def"),
        ("tok-function", "greet"),
        ("tok-string", '"world"'),
        ("tok-comment", "# say hello"),
        ("tok-number", "0x1F"),
        ("tok-number", "2.5"),
        ("tok-keyword", "return"),
        ("tok-string", 'f"Hello, {name}!"'),
        ("tok-keyword", "if"),
        ("tok-keyword", "else"),
        ("tok-literal", "None"),
    ]


def test_javascript_is_highlighted(demo_page: Any) -> None:
    expected = [
        ("tok-keyword", "const"),
        ("tok-string", '/"[/]"/g'),  # a regular expression: its quotes start no string
        ("tok-comment", "// a regex with quotes"),
        ("tok-keyword", "export"),
        ("tok-keyword", "async"),
        ("tok-keyword", "function"),
        ("tok-function", "load"),
        ("tok-keyword", "const"),
        ("tok-keyword", "await"),
        ("tok-function", "fetch"),
        ("tok-string", "`${url}?n=${1}`"),
        ("tok-keyword", "return"),
        ("tok-function", "json"),  # res.ok is a property, res.json() a call
        ("tok-literal", "null"),
    ]
    assert spans(demo_page, JAVASCRIPT, "javascript") == expected
    assert spans(demo_page, JAVASCRIPT, "js") == expected


def test_other_languages_are_highlighted(demo_page: Any) -> None:
    json_spans = spans(demo_page, '{"a": "b", "n": -1.5, "t": true}', "json")
    assert json_spans == [
        ("tok-property", '"a"'),
        ("tok-string", '"b"'),
        ("tok-property", '"n"'),
        ("tok-number", "-1.5"),
        ("tok-property", '"t"'),
        ("tok-literal", "true"),
    ]
    assert ("tok-variable", "$HOME") in spans(demo_page, 'cd "$HOME" && ls $HOME # home', "bash")
    assert ("tok-function", "ls") in spans(demo_page, 'cd "$HOME" && ls $HOME # home', "bash")
    assert ("tok-comment", "# home") in spans(demo_page, 'cd "$HOME" && ls $HOME # home', "sh")
    assert spans(demo_page, "select count(*) from t where a = 'x' -- why", "sql") == [
        ("tok-keyword", "select"),
        ("tok-function", "count"),
        ("tok-keyword", "from"),
        ("tok-keyword", "where"),
        ("tok-string", "'x'"),
        ("tok-comment", "-- why"),
    ]
    assert spans(demo_page, "name: x  # c\nitems:\n  - on: yes", "yaml") == [
        ("tok-property", "name"),
        ("tok-comment", "# c"),
        ("tok-property", "items"),
        ("tok-property", "on"),
        ("tok-literal", "yes"),
    ]
    assert spans(demo_page, '<a href="x">t</a><!-- c -->', "html") == [
        ("tok-tag", "<a"),
        ("tok-attr", "href"),
        ("tok-string", '"x"'),
        ("tok-tag", ">"),
        ("tok-tag", "</a>"),
        ("tok-comment", "<!-- c -->"),
    ]
    # a language it does not know: strings, numbers and comments
    assert spans(demo_page, 'let s = "x"; // 1\nlet n = 2;', "rust") == [
        ("tok-string", '"x"'),
        ("tok-comment", "// 1"),
        ("tok-number", "2"),
    ]


def test_highlighted_text_is_the_code_exactly(demo_page: Any) -> None:
    results = demo_page.evaluate(
        """async (samples) => {
            const { highlight } = await import('/web/highlight.js');
            const { renderMarkdown } = await import('/web/markdown.js');
            return Object.entries(samples).map(([language, code]) => {
                const box = document.createElement('div');
                box.append(highlight(code, language));
                const md = document.createElement('div');
                md.append(renderMarkdown('```' + language + '\\n' + code + '\\n```'));
                return [language, box.textContent === code, md.querySelector('code').textContent === code,
                        box.querySelectorAll('span').length];
            });
        }""",
        SAMPLES,
    )
    for language, highlighted, rendered, count in results:
        assert highlighted, language
        assert rendered, language
        assert count > 0, language


def test_code_that_looks_like_markup_stays_text(demo_page: Any) -> None:
    evil = '</code></pre><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    for language in ["", "html", "js", "python", "unknown"]:
        got = demo_page.evaluate(
            """async ([source, code]) => {
                const { renderMarkdown } = await import('/web/markdown.js');
                const box = document.createElement('div');
                box.append(renderMarkdown(source));
                document.body.append(box);
                const result = {
                    text: box.querySelector('code').textContent === code,
                    elements: [...box.querySelectorAll('*')].map((el) => el.tagName)
                        .filter((tag) => !['DIV', 'SPAN', 'BUTTON', 'PRE', 'CODE'].includes(tag)),
                    pwned: window.pwned ?? null,
                };
                box.remove();
                return result;
            }""",
            [f"```{language}\n{evil}\n```", evil],
        )
        assert got == {"text": True, "elements": [], "pwned": None}, language


def test_a_large_block_highlights_quickly(demo_page: Any) -> None:
    # pieces that make a careless tokenizer backtrack: unterminated strings, comments, regexes and tags
    timings = demo_page.evaluate(
        """async () => {
            const { highlight } = await import('/web/highlight.js');
            const pieces = ['(/[', '"\\\\', "'\\\\", '/*', '\"\"\"', '`', '<!--', '<a ', 'a: ', '# ', '0x', '$', 'def f(x): return "y" # z\\n'];
            const out = [];
            for (const language of ['python', 'js', 'json', 'bash', 'sql', 'yaml', 'html', 'other']) {
                for (const piece of pieces) {
                    const code = piece.repeat(Math.ceil(50000 / piece.length));
                    const start = performance.now();
                    const box = document.createElement('div');
                    box.append(highlight(code, language));
                    out.push([language, piece, performance.now() - start, box.textContent === code]);
                }
            }
            return out;
        }"""
    )
    for language, piece, ms, exact in timings:
        assert exact, (language, piece)
        assert ms < 1000, (language, piece, ms)


@pytest.fixture
def clipboard_page(browser: Any, web_stack: Stack) -> Any:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"{web_stack.url}/")
    yield page
    context.close()


def show(page: Any, source: str) -> None:
    page.evaluate(
        """async (source) => {
            const { renderMarkdown } = await import('/web/markdown.js');
            const box = document.createElement('div');
            box.id = 'md-under-test';
            box.append(renderMarkdown(source));
            document.body.prepend(box);
        }""",
        source,
    )


def wait_for_button(page: Any, text: str) -> None:
    page.wait_for_function(
        "(text) => document.querySelector('#md-under-test .copy-code').textContent === text", arg=text, timeout=5000
    )


def test_copy_puts_the_exact_code_on_the_clipboard(clipboard_page: Any) -> None:
    page = clipboard_page
    code = 'def f():\n    return "<b>tab\there</b>"  # ü 🐍\n\n  trailing  '
    show(page, f"Intro\n\n```python\n{code}\n```")
    button = page.locator("#md-under-test .copy-code")
    assert button.text_content() == "Copy"
    button.click()
    wait_for_button(page, "Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == code
    wait_for_button(page, "Copy")  # again, after a moment


def test_copy_says_when_the_clipboard_refuses(clipboard_page: Any) -> None:
    page = clipboard_page
    page.evaluate(
        """() => Object.defineProperty(navigator.clipboard, 'writeText', {
            value: () => Promise.reject(new DOMException('refused', 'NotAllowedError')),
        })"""
    )
    show(page, "```\nx\n```")
    page.locator("#md-under-test .copy-code").click()
    wait_for_button(page, "Copy failed")


def _rgb(css: str) -> tuple[float, ...]:
    values = css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()
    assert len(values) == 3 or float(values[3]) == 1, css  # opaque colours only
    return tuple(float(v) for v in values[:3])


def _contrast(fg: str, bg: str) -> float:
    def luminance(css: str) -> float:
        channels = [c / 255 for c in _rgb(css)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted([luminance(fg), luminance(bg)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


MOUNT = """async ([source, theme]) => {
    const { renderMarkdown } = await import('/web/markdown.js');
    document.getElementById('widget-styled')?.remove();
    const host = document.createElement('div');
    host.id = 'widget-styled';
    document.body.prepend(host);
    const root = host.attachShadow({ mode: 'open' });
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = '/web/widget.css';
    const loaded = new Promise((resolve, reject) => { link.onload = resolve; link.onerror = reject; });
    const frame = document.createElement('div');
    frame.className = 'frame';
    frame.dataset.theme = theme;
    const md = document.createElement('div');
    md.className = 'md';
    md.append(renderMarkdown(source));
    frame.append(md);
    root.append(link, frame);
    await loaded;
}"""


def mount(page: Any, source: str, theme: str = "light") -> None:
    """Render ``source`` inside a shadow root styled by web/widget.css, as the widget shows it."""
    page.evaluate(MOUNT, [source, theme])


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_token_colours_meet_wcag_aa_on_the_code_background(demo_page: Any, theme: str) -> None:
    mount(demo_page, "\n\n".join(f"```{lang}\n{code}\n```" for lang, code in SAMPLES.items()), theme)
    colours = demo_page.evaluate(
        """() => {
            const root = document.getElementById('widget-styled').shadowRoot;
            const pairs = [];
            for (const block of root.querySelectorAll('.code-block')) {
                const bg = getComputedStyle(block.querySelector('pre')).backgroundColor;
                for (const span of block.querySelectorAll('[class^="tok-"]')) pairs.push([span.className, getComputedStyle(span).color, bg]);
                const label = block.querySelector('.code-lang');
                pairs.push(['code-lang', getComputedStyle(label).color, getComputedStyle(block).backgroundColor]);
                const button = block.querySelector('.copy-code');
                pairs.push(['copy-code', getComputedStyle(button).color, getComputedStyle(button).backgroundColor]);
            }
            return pairs;
        }"""
    )
    kinds = {kind for kind, _, _ in colours}
    assert {"tok-keyword", "tok-string", "tok-comment", "tok-number", "tok-function", "tok-tag"} <= kinds
    for kind, fg, bg in colours:
        assert _contrast(fg, bg) >= 4.5, (theme, kind, fg, bg)


OPACITY = """(opacity) => getComputedStyle(
    document.getElementById('widget-styled').shadowRoot.querySelector('.copy-code')).opacity === opacity"""


def test_copy_button_shows_on_hover_and_keyboard_focus(demo_page: Any) -> None:
    page = demo_page
    page.mouse.move(0, 0)
    mount(page, "```python\nx = 1\n```")
    page.wait_for_function(OPACITY, arg="0")
    page.locator("#widget-styled .code-block").hover()
    page.wait_for_function(OPACITY, arg="1")
    page.mouse.move(0, 0)
    page.wait_for_function(OPACITY, arg="0")
    # from the keyboard: the button is transparent, not hidden, so Tab reaches it and it shows
    page.evaluate("() => document.getElementById('widget-styled').shadowRoot.querySelector('.frame').tabIndex = -1")
    page.evaluate("() => document.getElementById('widget-styled').shadowRoot.querySelector('.frame').focus()")
    page.keyboard.press("Tab")
    page.wait_for_function(OPACITY, arg="1")


def test_copy_button_is_always_shown_on_touch_screens(browser: Any, web_stack: Stack) -> None:
    context = browser.new_context(has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(f"{web_stack.url}/")
        assert page.evaluate("() => matchMedia('(hover: none)').matches")
        mount(page, "```\nx\n```")
        page.wait_for_function(OPACITY, arg="1")
    finally:
        context.close()
