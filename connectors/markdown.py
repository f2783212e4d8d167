"""Markdown as graphs and models write it, read the same way for every chat platform.

The patterns that recognise Markdown's blocks and inline spans, the placeholders that keep converted spans
out of later substitutions, and the block lines whose conversion differs only in markup (headings, rules,
bullets, numbered items). Each platform's module (connectors/slack/mrkdwn.py, connectors/telegram/html.py)
owns its escaping, its emphasis patterns and its output format.
"""

from __future__ import annotations

import re
from collections.abc import Callable

HEADING_RE = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HR_RE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
BULLET_RE = re.compile(r"^(\s*)[-*+]\s+(.*)$")
ORDERED_RE = re.compile(r"^(\s*)(\d{1,9})[.)]\s+(.*)$")
QUOTE_RE = re.compile(r"^\s{0,3}>\s?(.*)$")
TABLE_RE = re.compile(r"^\s*\|.*\|\s*$")
TABLE_RULE_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1")
IMAGE_RE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
LINK_RE = re.compile(r"\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
AUTOLINK_RE = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
BOLD_ITALIC_RE = re.compile(r"\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*")
STRIKE_RE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
PLACEHOLDER_RE = re.compile("\x02(\\d+)\x03")
RULE = "──────────"  # what a horizontal rule becomes


class Placeholders:
    """Converted spans of one line, set aside as ``\\x02<n>\\x03`` while the rest of the line is converted."""

    def __init__(self) -> None:
        self._held: list[str] = []

    def hold(self, value: str) -> str:
        """The placeholder that ``restore`` turns back into ``value``."""
        self._held.append(value)
        return f"\x02{len(self._held) - 1}\x03"

    def restore(self, text: str) -> str:
        """``text`` with every placeholder (also those inside held values) replaced by what it holds."""
        while PLACEHOLDER_RE.search(text):
            text = PLACEHOLDER_RE.sub(lambda m: self._held[int(m.group(1))], text)
        return text


def strip_emphasis(text: str) -> str:
    """Inline text with emphasis markers removed (for headings, which become one bold line)."""
    return re.sub(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1", r"\2", text)


def table_lines(rows: list[str]) -> list[str]:
    """A Markdown table's rows (rule rows dropped) as lines of space-aligned columns, not escaped."""
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows if not TABLE_RULE_RE.match(row)]
    if not cells:  # a table of rule rows only
        return []
    width = max(len(r) for r in cells)
    cells = [r + [""] * (width - len(r)) for r in cells]
    sizes = [max(len(r[i]) for r in cells) for i in range(width)]
    return ["  ".join(c.ljust(sizes[i]) for i, c in enumerate(r)).rstrip() for r in cells]


def block_line(line: str, inline: Callable[[str], str], bold: Callable[[str], str], indent: str) -> str | None:
    """``line`` converted when it is a heading (one ``bold`` line), a rule, a bullet or a numbered item, else None.

    ``inline`` converts the text of the line; ``indent`` stands for each two columns a list item is indented.
    """
    if m := HEADING_RE.match(line):
        return bold(inline(strip_emphasis(m.group(2)))) if m.group(2) else ""
    if HR_RE.match(line):
        return RULE
    if m := BULLET_RE.match(line):
        item = m.group(2)
        box = re.match(r"^\[([ xX])\]\s+(.*)$", item)
        if box:
            item = ("☑ " if box.group(1) != " " else "☐ ") + box.group(2)
        return f"{_indent(m.group(1), indent)}• {inline(item)}"
    if m := ORDERED_RE.match(line):
        return f"{_indent(m.group(1), indent)}{m.group(2)}. {inline(m.group(3))}"
    return None


def _indent(spaces: str, unit: str) -> str:
    return unit * (len(spaces.replace("\t", "    ")) // 2)
