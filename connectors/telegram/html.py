"""Markdown (what graphs and models write) to Telegram's HTML parse mode, and splitting it within limits.

Telegram's HTML mode knows ``<b> <i> <u> <s> <code> <pre> <a href> <blockquote> <tg-spoiler>``; every
``<``, ``>`` and ``&`` outside a tag must be escaped, and a message may show at most 4,096 characters.
``to_html`` converts line by line (headings become bold lines, lists get bullets, tables become
preformatted text) and falls back to plain escaped text for any line whose emphasis would not nest.
``split`` cuts HTML into messages of at most ``limit`` characters *of HTML* (tags and escapes counted, so
the text Telegram shows is always shorter), preferring paragraph, then line, then word boundaries; it
never cuts inside a tag or an escape, and closes the tags open at a cut and re-opens them in the next part.
Lengths are counted in UTF-16 code units, as Telegram counts them.
"""

from __future__ import annotations

import html as _html
import re

from graphgate.connectors import markdown as md

MESSAGE_LIMIT = 4096  # characters (UTF-16 code units) of one message's text
ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "a",
        "blockquote",
        "tg-spoiler",
        "span",
        "tg-emoji",
    }
)

_FENCE_RE = re.compile(r"^\s*(```|~~~)\s*([\w+#.-]*)")
_BOLD_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_ITALIC_RE = re.compile(r"(?<![\w*\\])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])|(?<![\w\\])_(?=\S)(.+?)(?<=\S)_(?!\w)")
_SAFE_URL_RE = re.compile(r"^(https?://|mailto:|tg://)[^\s\"<>]+$", re.IGNORECASE)
_ATOM_RE = re.compile(r"<[^<>]*>|&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});|[\s\S]")
_TAG_RE = re.compile(r"^<(/?)([a-zA-Z][\w-]*)[^>]*>$")


def tg_len(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Text safe anywhere in a Telegram HTML message."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(text: str) -> str:
    return escape(text).replace('"', "&quot;")


def visible(html: str) -> str:
    """The text a Telegram HTML message shows (tags dropped, escapes resolved)."""
    return _html.unescape(re.sub(r"<[^<>]*>", "", html))


def well_formed(html: str) -> bool:
    """True when every tag is an allowed one and tags nest properly."""
    stack: list[str] = []
    for atom in _ATOM_RE.findall(html):
        if atom == "<" or atom == ">":
            return False
        m = _TAG_RE.match(atom) if atom.startswith("<") else None
        if atom.startswith("<") and m is None:
            return False
        if m:
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name not in ALLOWED_TAGS:
                return False
            if closing:
                if not stack or stack.pop() != name:
                    return False
            else:
                stack.append(name)
    return not stack


def _link(url: str, text: str) -> str | None:
    if not _SAFE_URL_RE.match(url):
        return None
    return f'<a href="{escape_attr(url)}">{escape(text.strip() or url)}</a>'


def inline(text: str) -> str:
    """One line's inline Markdown (emphasis, links, code spans) as Telegram HTML; plain text if it won't nest."""
    held = md.Placeholders()
    hold = held.hold

    def link(m: re.Match[str], label: str) -> str:
        made = _link(m.group(2), label)
        return hold(made) if made else m.group(0)

    out = text.replace("\x02", "").replace("\x03", "")
    out = md.CODE_SPAN_RE.sub(lambda m: hold(f"<code>{escape(m.group(2).strip('`'))}</code>"), out)
    out = md.IMAGE_RE.sub(lambda m: link(m, m.group(1) or "image"), out)
    out = md.LINK_RE.sub(lambda m: link(m, m.group(1)), out)
    out = md.AUTOLINK_RE.sub(lambda m: hold(_link(m.group(1), m.group(1)) or escape(m.group(0))), out)
    out = escape(out)
    out = md.BOLD_ITALIC_RE.sub(r"<b><i>\1</i></b>", out)
    out = _BOLD_RE.sub(lambda m: f"<b>{m.group(1) or m.group(2)}</b>", out)
    out = _ITALIC_RE.sub(lambda m: f"<i>{m.group(1) or m.group(2)}</i>", out)
    out = held.restore(md.STRIKE_RE.sub(r"<s>\1</s>", out))
    if not well_formed(out):
        return escape(text)
    return out


def _table(rows: list[str]) -> str:
    """A Markdown table as aligned preformatted text (Telegram has no tables)."""
    return "<pre>" + escape("\n".join(md.table_lines(rows))) + "</pre>"


def to_html(markdown: str) -> str:
    """Telegram HTML for a Markdown text; always well formed."""
    out: list[str] = []
    table: list[str] = []
    quote: list[str] = []
    code: list[str] | None = None  # lines of the open fenced block
    language = ""

    def flush() -> None:
        nonlocal table, quote
        if table:
            out.append(_table(table))
            table = []
        if quote:
            out.append("<blockquote>" + "\n".join(quote) + "</blockquote>")
            quote = []

    for line in markdown.replace("\r\n", "\n").split("\n"):
        fence = _FENCE_RE.match(line)
        if code is not None:
            if fence and not fence.group(2):
                out.append(_pre(code, language))
                code = None
            else:
                code.append(line)
            continue
        if fence:
            flush()
            code, language = [], fence.group(2)
            continue
        if md.TABLE_RE.match(line):
            if quote:
                flush()
            table.append(line)
            continue
        if (m := md.QUOTE_RE.match(line)) and not table:
            quote.append(inline(m.group(1)))
            continue
        flush()
        converted = md.block_line(line, inline, lambda text: f"<b>{text}</b>", indent="   ")
        out.append(inline(line) if converted is None else converted)
    flush()
    if code is not None:
        out.append(_pre(code, language))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def _pre(lines: list[str], language: str) -> str:
    body = escape("\n".join(lines))
    if language and re.fullmatch(r"[\w+#.-]{1,30}", language):
        return f'<pre><code class="language-{escape_attr(language)}">{body}</code></pre>'
    return f"<pre>{body}</pre>"


# --- splitting ------------------------------------------------------------------------------------


def _tag(atom: str) -> tuple[bool, str] | None:
    """(closing?, name) of a tag atom, None for text."""
    if not atom.startswith("<") or len(atom) < 3:
        return None
    m = _TAG_RE.match(atom)
    return (m.group(1) == "/", m.group(2).lower()) if m else None


def _closers(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _has_text(atoms: list[str]) -> bool:
    return any(_tag(a) is None and not a.isspace() for a in atoms)


def split(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut well-formed Telegram HTML into parts of at most ``limit`` UTF-16 units each, none empty.

    Cuts fall on paragraph, line or word boundaries when one lies in the second half of a part, else
    between two characters; never inside a tag or an escape. Tags open at a cut are closed at the end of
    the part and re-opened at the start of the next.
    """
    atoms = _ATOM_RE.findall(html)
    sizes = [tg_len(a) for a in atoms]
    parts: list[str] = []
    stack: list[tuple[str, str]] = []  # (name, opening tag) open at the start of the current part
    i = 0
    while i < len(atoms):
        while i < len(atoms) and atoms[i] in ("\n", " "):
            i += 1  # a part never starts with the whitespace it was cut at
        if i >= len(atoms):
            break
        prefix = "".join(opening for _, opening in stack)
        current = list(stack)
        size = tg_len(prefix)
        cuts: dict[str, tuple[int, list[tuple[str, str]]]] = {}  # kind -> (end index, stack there)
        fit: tuple[int, list[tuple[str, str]]] | None = None
        j = i
        while j < len(atoms):
            atom = atoms[j]
            nxt = list(current)
            tag = _tag(atom)
            if tag is not None:
                closing, name = tag
                if closing:
                    if nxt and nxt[-1][0] == name:
                        nxt.pop()
                else:
                    nxt.append((name, atom))
            if size + sizes[j] + tg_len(_closers(nxt)) > limit and j > i:
                break
            if atom in ("\n", " ") and j > i:
                kind = "para" if atom == "\n" and atoms[j - 1] == "\n" else ("line" if atom == "\n" else "word")
                end = j - 1 if kind == "para" else j  # the part ends before its separator
                cuts[kind] = (end, list(current))  # whitespace opens or closes no tag
            current, size = nxt, size + sizes[j]
            j += 1
            fit = (j, list(current))
        if j >= len(atoms):
            body, end_stack, nxt_i = atoms[i:], current, len(atoms)
        else:
            floor = i + (j - i) // 2
            chosen = next((cuts[k] for k in ("para", "line", "word") if k in cuts and cuts[k][0] >= floor), None)
            end, end_stack = chosen if chosen else fit  # type: ignore[misc]
            body, nxt_i = atoms[i:end], end
        while body and body[-1] in ("\n", " "):
            body = body[:-1]
        if _has_text(body):
            parts.append(prefix + "".join(body) + _closers(end_stack))
        stack = end_stack
        i = nxt_i
    return parts
