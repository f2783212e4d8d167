"""Markdown (what graphs and models write) to Slack ``mrkdwn``, and splitting text within Slack's limits.

Slack's mrkdwn differs from Markdown: ``*bold*``, ``_italic_``, ``~strike~``, ``<url|text>`` links, no
headings, no tables, and ``&``, ``<``, ``>`` must be escaped. ``to_mrkdwn`` converts line by line and leaves
code (spans and fences) alone apart from the escaping. ``split`` cuts text into pieces of at most one
section block (3,000 characters), preferring paragraph, then line, then word boundaries, and re-opening a
code fence that a cut falls into; ``pack`` groups pieces into messages of at most 50 blocks and 40,000
characters.
"""

from __future__ import annotations

import re

from graphgate.connectors import markdown as md

SECTION_TEXT_LIMIT = 3000  # characters of text in one section block
MESSAGE_BLOCKS_LIMIT = 50  # blocks in one message
MESSAGE_TEXT_LIMIT = 40_000  # characters of text in one message
FENCE = "```"

_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_ENTITY_RE = re.compile(r"&(?!(?:amp|lt|gt);)")
_BOLD_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC_RE = re.compile(r"(?<![\w*\\])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_BOLD_MARK = "\x01"


def escape(text: str) -> str:
    """Escape the three characters Slack reserves (``&`` only where it does not start an escape already)."""
    return _ENTITY_RE.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def _link_text(text: str) -> str:
    return escape(text.replace("|", "¦")).strip() or "link"


def inline(text: str) -> str:
    """Convert one line's inline Markdown (emphasis, links, code spans) to mrkdwn."""
    held = md.Placeholders()
    hold = held.hold
    text = text.replace("\x02", "").replace("\x03", "")  # the placeholders' own markers never come from input
    text = md.CODE_SPAN_RE.sub(lambda m: hold("`" + escape(m.group(2).strip("`")) + "`"), text)
    text = md.IMAGE_RE.sub(lambda m: hold(f"<{m.group(2)}|{_link_text(m.group(1) or 'image')}>"), text)
    text = md.LINK_RE.sub(lambda m: hold(f"<{m.group(2)}|{_link_text(m.group(1))}>"), text)
    text = md.AUTOLINK_RE.sub(lambda m: hold(f"<{m.group(1)}>"), text)
    text = escape(text)
    text = md.BOLD_ITALIC_RE.sub(lambda m: f"{_BOLD_MARK}_{m.group(1)}_{_BOLD_MARK}", text)
    text = _BOLD_RE.sub(lambda m: f"{_BOLD_MARK}{m.group(1) or m.group(2)}{_BOLD_MARK}", text)
    text = _ITALIC_RE.sub(lambda m: f"_{m.group(1)}_", text)
    text = md.STRIKE_RE.sub(lambda m: f"~{m.group(1)}~", text)
    text = text.replace(_BOLD_MARK, "*")
    return held.restore(text)


def _table(rows: list[str]) -> list[str]:
    """A Markdown table as aligned monospace text (Slack has no tables)."""
    return [FENCE, *(escape(line) for line in md.table_lines(rows)), FENCE]


def to_mrkdwn(markdown: str) -> str:
    """Slack mrkdwn for a Markdown text."""
    out: list[str] = []
    table: list[str] = []
    in_fence = False
    for line in markdown.replace("\r\n", "\n").split("\n"):
        if not in_fence and md.TABLE_RE.match(line):
            table.append(line)
            continue
        if table:
            out += _table(table)
            table = []
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            out.append(FENCE)  # the language tag has no meaning in Slack
            continue
        if in_fence:
            out.append(escape(line))
            continue
        converted = md.block_line(line, inline, lambda text: f"*{text}*", indent="    ")
        if converted is not None:
            out.append(converted)
        elif m := md.QUOTE_RE.match(line):
            out.append(f"> {inline(m.group(1))}")
        else:
            out.append(inline(line))
    if table:
        out += _table(table)
    if in_fence:
        out.append(FENCE)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


# --- splitting ---------------------------------------------------------------------------------------


def _inside_link(text: str, pos: int) -> bool:
    opened = text.rfind("<", 0, pos)
    return opened != -1 and text.find(">", opened, pos) == -1


def _cut(text: str, budget: int) -> tuple[int, int]:
    """Where to cut ``text`` so the first part has at most ``budget`` characters: (index, separator length)."""
    floor = budget // 2
    for sep in ("\n\n", "\n", " "):
        pos = text.rfind(sep, 0, budget + 1)
        while pos >= floor and sep == " " and _inside_link(text, pos):
            pos = text.rfind(sep, 0, pos)
        if pos >= floor:
            return pos, len(sep)
    pos = budget
    amp = text.rfind("&", max(0, pos - 5), pos)
    if amp != -1 and ";" not in text[amp:pos]:
        pos = amp  # do not cut an escape such as &amp; in two
    return max(1, pos), 0


def split(text: str, limit: int = SECTION_TEXT_LIMIT) -> list[str]:
    """Cut mrkdwn into pieces of at most ``limit`` characters, none empty, code fences kept balanced."""
    pieces: list[str] = []
    rest = text.strip("\n")
    reopen = False
    while rest:
        prefix = FENCE + "\n" if reopen else ""
        budget = limit - len(prefix)
        if len(rest) <= budget:
            piece, rest = rest, ""
        else:
            cut, skip = _cut(rest, budget - len(FENCE) - 1)  # room to close a fence
            piece, rest = rest[:cut].rstrip(), rest[cut + skip :]
            if skip:
                rest = rest.lstrip("\n")
        piece = prefix + piece
        reopen = piece.count(FENCE) % 2 == 1 and bool(rest)
        if reopen:
            piece += "\n" + FENCE
        if piece.strip():
            pieces.append(piece)
    return pieces


def pack(
    pieces: list[str],
    max_blocks: int = MESSAGE_BLOCKS_LIMIT,
    max_chars: int = MESSAGE_TEXT_LIMIT,
) -> list[list[str]]:
    """Group pieces into messages: each at most ``max_blocks`` pieces and ``max_chars`` characters."""
    messages: list[list[str]] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        if current and (len(current) >= max_blocks or size + len(piece) > max_chars):
            messages.append(current)
            current, size = [], 0
        current.append(piece)
        size += len(piece)
    if current:
        messages.append(current)
    return messages
