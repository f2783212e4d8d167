"""Markdown -> Slack mrkdwn, and cutting text within Slack's limits."""

from __future__ import annotations

import random

import pytest

from graphgate.connectors.slack.mrkdwn import (
    MESSAGE_BLOCKS_LIMIT,
    MESSAGE_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    escape,
    pack,
    split,
    to_mrkdwn,
)


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("# Title", "*Title*"),
        ("## A **bold** heading ##", "*A bold heading*"),
        ("some **bold** and __also__", "some *bold* and *also*"),
        ("an *italic* and _italic_ word", "an _italic_ and _italic_ word"),
        ("***both***", "*_both_*"),
        ("~~gone~~", "~gone~"),
        ("[the docs](https://example.com/a_b?x=1)", "<https://example.com/a_b?x=1|the docs>"),
        ("![a chart](https://example.com/c.png)", "<https://example.com/c.png|a chart>"),
        ("see <https://example.com>", "see <https://example.com>"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("already &amp; escaped", "already &amp; escaped"),
        ("`x < *y*`", "`x &lt; *y*`"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("- one\n* two\n+ three", "• one\n• two\n• three"),
        ("- top\n  - nested", "• top\n    • nested"),
        ("1. first\n2) second", "1. first\n2. second"),
        ("- [ ] todo\n- [x] done", "• ☐ todo\n• ☑ done"),
        ("> quoted **text**", "> quoted *text*"),
        ("---", "──────────"),
        ("[a|b](https://x.io)", "<https://x.io|a¦b>"),
    ],
)
def test_inline_and_block_conversion(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown) == expected


def test_code_fences_keep_their_content_and_drop_the_language() -> None:
    md = "before\n\n```python\nif a < b and **c**:\n    pass\n```\nafter"
    assert to_mrkdwn(md) == "before\n\n```\nif a &lt; b and **c**:\n    pass\n```\nafter"


def test_an_unclosed_fence_is_closed() -> None:
    assert to_mrkdwn("```\ncode").count("```") == 2


def test_tables_become_aligned_monospace() -> None:
    md = "| name | n |\n|------|---|\n| a | 10 |\n| bbb | 2 |"
    assert to_mrkdwn(md) == "```\nname  n\na     10\nbbb   2\n```"


def test_blank_lines_collapse() -> None:
    assert to_mrkdwn("a\n\n\n\nb") == "a\n\nb"


def test_escape_is_idempotent_on_slack_entities() -> None:
    assert escape(escape("<&>")) == "&lt;&amp;&gt;"


# --- split -----------------------------------------------------------------------------------------------


def test_short_text_is_one_piece() -> None:
    assert split("hello") == ["hello"]
    assert split("") == []


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    para = ("word " * 500).strip()  # 2,499 characters
    pieces = split(f"{para}\n\n{para}\n\n{para}")
    assert pieces == [para, para, para]
    lines = "\n".join(["x" * 100] * 50)
    assert all(p.endswith("x") and len(p) <= SECTION_TEXT_LIMIT for p in split(lines))
    assert "\n".join(split(lines)) == lines  # cut at line ends, nothing lost


def test_split_never_exceeds_the_limit_and_loses_no_word() -> None:
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "δέλτα", "*bold*", "<https://x.io/a|a link>", "&amp;", "x" * 40]
    text = ""
    for _ in range(4000):
        text += rng.choice(words) + rng.choice([" ", " ", " ", "\n", "\n\n"])
    pieces = split(text)
    assert all(0 < len(p) <= SECTION_TEXT_LIMIT for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


def test_split_keeps_links_and_escapes_whole() -> None:
    link = "<https://example.com/" + "p" * 40 + "|a link with several words>"
    text = ("filler " * 420) + link + " tail"
    for piece in split(text):
        assert piece.count("<") == piece.count(">")
    blob = "&amp;" * 1000  # no whitespace at all
    pieces = split(blob)
    assert all(p.count("&") == p.count("&amp;") for p in pieces) and "".join(pieces) == blob


def test_a_cut_inside_a_code_block_reopens_the_fence() -> None:
    code = "```\n" + "\n".join(f"line {i} = {i * i}" for i in range(600)) + "\n```"
    pieces = split(code)
    assert len(pieces) > 1
    assert all(p.count("```") == 2 and len(p) <= SECTION_TEXT_LIMIT for p in pieces)
    assert all(p.startswith("```") and p.endswith("```") for p in pieces)


def test_hard_cut_of_a_long_word() -> None:
    pieces = split("y" * 7000)
    assert [len(p) for p in pieces] == [2996, 2996, 1008]


# --- pack ------------------------------------------------------------------------------------------------


def test_pack_respects_blocks_and_characters() -> None:
    many = ["p"] * 120
    assert [len(m) for m in pack(many)] == [50, 50, 20]
    big = ["q" * 3000] * 30  # 90,000 characters
    messages = pack(big)
    assert all(sum(len(p) for p in m) <= MESSAGE_TEXT_LIMIT and len(m) <= MESSAGE_BLOCKS_LIMIT for m in messages)
    assert [p for m in messages for p in m] == big
    assert len(messages) == 3


def test_rule_only_table_and_control_characters() -> None:
    """Input that once crashed the converters: a table of rule rows only, and the placeholder markers."""
    assert isinstance(to_mrkdwn("|---|---|"), str)
    text = to_mrkdwn("a \x021\x03 b `c`")
    assert "\x02" not in text and "\x03" not in text and "`c`" in text
