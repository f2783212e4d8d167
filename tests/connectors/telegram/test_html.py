"""Markdown -> Telegram HTML, escaping and splitting: what Telegram's parser would accept, within 4,096."""

from __future__ import annotations

import random

import pytest

from graphgate.connectors.telegram import html
from graphgate.testing.fake_bot_api import ApiError, parse_html, utf16


def shown(text: str) -> str:
    """What Telegram would show, refusing what it would refuse (the fake's parser)."""
    return parse_html(text)


def test_escapes_the_three_reserved_characters_everywhere() -> None:
    out = html.to_html("a < b && c > d, <script>alert(1)</script> &amp; &lt;")
    assert "<script>" not in out
    assert shown(out) == "a < b && c > d, <script>alert(1)</script> &amp; &lt;"


def test_markdown_becomes_telegram_tags() -> None:
    out = html.to_html(
        "# Title *x*\n\nSome **bold**, *italic*, ~~gone~~ and `a<b>` in [a link](https://example.org/?q=1&r=2).\n\n"
        "- one\n- two\n\n1. first\n\n```python\nif a < b:\n    pass\n```\n\n> quoted\n> lines\n\n"
        "| k | v |\n|---|---|\n| a | 1 |"
    )
    assert "<b>Title x</b>" in out
    assert "<b>bold</b>" in out and "<i>italic</i>" in out and "<s>gone</s>" in out
    assert "<code>a&lt;b&gt;</code>" in out
    assert '<a href="https://example.org/?q=1&amp;r=2">a link</a>' in out
    assert "• one\n• two" in out and "1. first" in out
    assert '<pre><code class="language-python">if a &lt; b:\n    pass</code></pre>' in out
    assert "<blockquote>quoted\nlines</blockquote>" in out
    assert "<pre>k  v\na  1</pre>" in out
    shown(out)  # parses


@pytest.mark.parametrize(
    "text",
    [
        "**a _b** c_",  # emphasis that would not nest
        "*unclosed **bold",
        "[x](javascript:alert(1))",  # not a link we make
        "```\nunclosed fence < &",
        "__init__ and snake_case_names and 2*3*4",
        "<b>literal tags</b> & <i>",
        "\x02 0 \x03 placeholders",
    ],
)
def test_any_input_gives_html_telegram_accepts(text: str) -> None:
    out = html.to_html(text)
    assert html.well_formed(out)
    shown(out)
    assert 'href="javascript' not in out


def test_unsafe_links_stay_text() -> None:
    out = html.to_html("[click](javascript:alert(1)) and [ok](https://ok.example)")
    assert 'href="javascript' not in out
    assert '<a href="https://ok.example">ok</a>' in out


def test_short_text_is_one_part() -> None:
    assert html.split("<b>hi</b> there") == ["<b>hi</b> there"]


def test_split_measures_after_escaping() -> None:
    text = "&" * 3000  # 3,000 characters shown, 15,000 once escaped
    parts = html.split(html.to_html(text))
    assert len(parts) == 4
    assert all(len(p) <= html.MESSAGE_LIMIT for p in parts)
    assert "".join(shown(p) for p in parts) == text
    assert all("&amp;" in p and not p.endswith("&") and not p.startswith("amp;") for p in parts)


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    para = ("word " * 150).strip()  # 749 characters
    parts = html.split("\n\n".join([para] * 12), 2000)
    assert all(p.endswith("word") and p.startswith("word") for p in parts)
    assert all(p.count("\n\n") == 1 for p in parts[:-1])  # two paragraphs (1,500 chars) per part
    lines = html.split("\n".join(["x" * 90] * 100), 1000)
    assert all(len(line) == 90 for p in lines for line in p.split("\n"))


def test_split_closes_and_reopens_tags_at_a_cut() -> None:
    code = "\n".join(f"line {i} < {i + 1}" for i in range(800))
    out = html.to_html("Intro **bold " + "very " * 1200 + "end**\n\n```py\n" + code + "\n```")
    parts = html.split(out)
    assert len(parts) >= 5
    for part in parts:
        assert len(part.encode("utf-16-le")) // 2 <= html.MESSAGE_LIMIT
        assert html.well_formed(part)
        shown(part)
    pre = [p for p in parts if "line 400" in p][0]
    assert pre.startswith('<pre><code class="language-py">') and pre.endswith("</code></pre>")
    assert parts[1].startswith("<b>")  # the bold run continues bold in the next part
    joined = "".join(shown(p) for p in parts)
    assert joined.replace("\n", "").replace(" ", "") == shown(out).replace("\n", "").replace(" ", "")


def test_split_counts_utf16_like_telegram() -> None:
    text = "😀" * 3000  # 2 UTF-16 units each
    parts = html.split(text)
    assert len(parts) == 2
    assert all(utf16(p) <= html.MESSAGE_LIMIT for p in parts)
    assert "".join(parts) == text


def test_split_never_cuts_inside_a_tag_or_escape_random() -> None:
    rng = random.Random(7)
    vocab = [
        "&",
        "<",
        ">",
        "**b**",
        "*i*",
        "`c<d>`",
        "[l](https://x.org/a?b=1&c=2)",
        "word",
        "é",
        "😀",
        "\n",
        "\n\n",
        "- item",
        "# head",
        "```\nx < y\n```",
        "> q",
    ]
    for _ in range(60):
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(50, 3000)))
        out = html.to_html(text)
        limit = rng.choice([200, 1000, html.MESSAGE_LIMIT])
        parts = html.split(out, limit)
        for part in parts:
            assert utf16(part) <= limit
            assert html.well_formed(part), part
            shown(part)
        assert " ".join(shown(p) for p in parts).split() == shown(out).split()


def test_the_fake_refuses_what_telegram_refuses() -> None:
    for bad in ("a < b", "<b>x", "<b><i>x</b></i>", "<div>x</div>", "AT&T"):
        with pytest.raises(ApiError):
            parse_html(bad)


def test_rule_only_table() -> None:
    """A table of rule rows only once crashed the converter."""
    assert isinstance(html.to_html("|---|---|"), str)
