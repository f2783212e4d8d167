// A small, safe Markdown renderer: it builds DOM nodes and sets text with text nodes only, so nothing a
// graph or a user writes can ever become markup or script. Supported: ATX headings, paragraphs (single
// newlines are line breaks), fenced code, block quotes, bullet and numbered lists, rules, pipe tables (GFM:
// a header row, a delimiter row, alignment), `code`, **strong**, *emphasis*, ~~strike~~, [links](https://...)
// and bare https:// addresses (autolinks), to http(s) and mailto addresses only.

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

const INLINE_RULES = [
  { re: /`([^`\n]+)`/, make: (m) => textElement('code', m[1]) },
  { re: /\[([^\]\n]+)\]\(([^()\s]+)\)/, make: (m) => link(m[1], m[2]) },
  { re: /\*\*(\S(?:[^\n]*?\S)?)\*\*/, make: (m) => nested('strong', m[1]) },
  { re: /__(\S(?:[^\n]*?\S)?)__/, make: (m) => nested('strong', m[1]) },
  { re: /\*(\S(?:[^*\n]*?\S)?)\*/, make: (m) => nested('em', m[1]) },
  { re: /(?<![\p{L}\p{N}_])_(\S(?:[^_\n]*?\S)?)_(?![\p{L}\p{N}_])/u, make: (m) => nested('em', m[1]) },
  { re: /~~(\S(?:[^~\n]*?\S)?)~~/, make: (m) => nested('del', m[1]) },
  // a bare address; trailing punctuation of the sentence is not part of it
  { re: /\bhttps?:\/\/[^\s<>()]*[^\s<>().,;:!?'"]/, make: (m) => link(m[0], m[0], false) },
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

function link(label, href, markdown = true) {
  const url = safeUrl(href);
  if (!url) return document.createTextNode(markdown ? `[${label}](${href})` : label);
  const a = document.createElement('a');
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer nofollow';
  if (markdown) appendInline(a, label);
  else a.textContent = label; // an autolink shows its address as it is
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
const TABLE_DELIMITER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function isBlockStart(line) {
  return HEADING.test(line) || FENCE.test(line) || RULE.test(line) || BULLET.test(line) || NUMBERED.test(line) || QUOTE.test(line);
}

/** The cells of a table row: ``| a | b |`` or ``a | b`` (``\|`` is a pipe inside a cell). */
function cells(line) {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/** Whether ``lines[i]`` starts a table: a row with a pipe, then a delimiter row with as many columns. */
function isTable(lines, i) {
  return lines[i].includes('|') && i + 1 < lines.length && TABLE_DELIMITER.test(lines[i + 1]) && lines[i + 1].includes('-') && cells(lines[i]).length === cells(lines[i + 1]).length;
}

function table(lines, i) {
  const head = cells(lines[i]);
  const aligns = cells(lines[i + 1]).map((d) => (d.startsWith(':') && d.endsWith(':') ? 'center' : d.endsWith(':') ? 'right' : d.startsWith(':') ? 'left' : ''));
  const el = document.createElement('table');
  const row = (values, tag) => {
    const tr = document.createElement('tr');
    head.forEach((_, n) => {
      const cell = document.createElement(tag);
      if (aligns[n]) cell.style.textAlign = aligns[n];
      appendInline(cell, values[n] ?? '');
      tr.append(cell);
    });
    return tr;
  };
  const thead = document.createElement('thead');
  thead.append(row(head, 'th'));
  const tbody = document.createElement('tbody');
  let j = i + 2;
  while (j < lines.length && lines[j].trim() && lines[j].includes('|')) tbody.append(row(cells(lines[j++]), 'td'));
  el.append(thead);
  if (tbody.childNodes.length) el.append(tbody);
  const wrap = document.createElement('div');
  wrap.className = 'table';
  wrap.append(el);
  return { node: wrap, next: j };
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
    } else if (isTable(lines, i)) {
      const made = table(lines, i);
      frag.append(made.node);
      i = made.next;
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
      while (i < lines.length && lines[i].trim() && !(body.length && (isBlockStart(lines[i]) || isTable(lines, i)))) body.push(lines[i++]);
      const p = document.createElement('p');
      appendLines(p, body);
      frag.append(p);
    }
  }
  return frag;
}
