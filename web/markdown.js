// A small, safe Markdown renderer: it builds DOM nodes and sets text with text nodes only, so nothing a
// graph or a user writes can ever become markup or script. Supported: ATX headings, paragraphs (single
// newlines are line breaks), fenced code, block quotes, bullet and numbered lists, rules, `code`,
// **strong**, *emphasis*, ~~strike~~ and [links](https://...) to http(s) and mailto addresses only.

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

const INLINE_RULES = [
  { re: /`([^`\n]+)`/, make: (m) => textElement('code', m[1]) },
  { re: /\[([^\]\n]+)\]\(([^()\s]+)\)/, make: (m) => link(m[1], m[2]) },
  { re: /\*\*(\S(?:[^\n]*?\S)?)\*\*/, make: (m) => nested('strong', m[1]) },
  { re: /__(\S(?:[^\n]*?\S)?)__/, make: (m) => nested('strong', m[1]) },
  { re: /\*(\S(?:[^*\n]*?\S)?)\*/, make: (m) => nested('em', m[1]) },
  { re: /(?<![\p{L}\p{N}_])_(\S(?:[^_\n]*?\S)?)_(?![\p{L}\p{N}_])/u, make: (m) => nested('em', m[1]) },
  { re: /~~(\S(?:[^~\n]*?\S)?)~~/, make: (m) => nested('del', m[1]) },
];

function textElement(tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}

function nested(tag, text) {
  const el = document.createElement(tag);
  appendInline(el, text);
  return el;
}

/** A safe URL for a link, or null: absolute http(s)/mailto addresses only. */
export function safeUrl(href) {
  try {
    const url = new URL(href);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(label, href) {
  const url = safeUrl(href);
  if (!url) return document.createTextNode(`[${label}](${href})`);
  const a = document.createElement('a');
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer nofollow';
  appendInline(a, label);
  return a;
}

/** Append ``text`` with inline Markdown to ``parent`` (text nodes and a few formatting elements). */
export function appendInline(parent, text) {
  let rest = text;
  while (rest) {
    let best = null;
    for (const rule of INLINE_RULES) {
      const m = rule.re.exec(rest);
      if (m && (!best || m.index < best.m.index)) best = { rule, m };
    }
    if (!best) {
      parent.append(rest);
      return;
    }
    if (best.m.index) parent.append(rest.slice(0, best.m.index));
    parent.append(best.rule.make(best.m));
    rest = rest.slice(best.m.index + best.m[0].length);
  }
}

function appendLines(parent, lines) {
  lines.forEach((line, i) => {
    if (i) parent.append(document.createElement('br'));
    appendInline(parent, line);
  });
}

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;
const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s*>\s?(.*)$/;

function isBlockStart(line) {
  return HEADING.test(line) || FENCE.test(line) || RULE.test(line) || BULLET.test(line) || NUMBERED.test(line) || QUOTE.test(line);
}

/** Render ``source`` into a DocumentFragment. */
export function renderMarkdown(source) {
  const frag = document.createDocumentFragment();
  const lines = String(source ?? '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    let m;
    if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
      i += 1;
      const pre = document.createElement('pre');
      pre.append(textElement('code', body.join('\n')));
      frag.append(pre);
    } else if ((m = HEADING.exec(line))) {
      const h = document.createElement(`h${m[1].length}`);
      appendInline(h, m[2]);
      frag.append(h);
      i += 1;
    } else if (RULE.test(line)) {
      frag.append(document.createElement('hr'));
      i += 1;
    } else if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) {
        body.push(m[1]);
        i += 1;
      }
      const q = document.createElement('blockquote');
      q.append(renderMarkdown(body.join('\n')));
      frag.append(q);
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const numbered = !BULLET.test(line);
      const pattern = numbered ? NUMBERED : BULLET;
      const list = document.createElement(numbered ? 'ol' : 'ul');
      if (numbered) {
        const start = Number(NUMBERED.exec(line)[1]);
        if (start !== 1) list.start = start;
      }
      while (i < lines.length && (m = pattern.exec(lines[i]))) {
        const item = document.createElement('li');
        appendInline(item, numbered ? m[2] : m[1]);
        list.append(item);
        i += 1;
      }
      frag.append(list);
    } else {
      const body = [];
      while (i < lines.length && lines[i].trim() && !(body.length && isBlockStart(lines[i]))) body.push(lines[i++]);
      const p = document.createElement('p');
      appendLines(p, body);
      frag.append(p);
    }
  }
  return frag;
}
