// A small, safe Markdown renderer: it builds DOM nodes and sets text with text nodes only, so nothing a
// graph or a user writes can ever become markup or script. Supported: ATX headings, paragraphs (single
// newlines are line breaks), fenced code, block quotes, bullet and numbered lists, rules, pipe tables (GFM:
// a header row, a delimiter row, alignment), `code`, **strong**, *emphasis*, ~~strike~~, [links](https://...)
// and bare https:// addresses (autolinks), to http(s) and mailto addresses only.
//
// A fenced block whose info string names a language is highlighted (web/highlight.js) and gets the class
// ``language-<name>``. For the widget each block also gets a head with that name and a Copy button
// (``options.codeTools``, on by default); the button's words come from ``options.labels`` so a widget can
// pass its own language's.

import { highlight } from './highlight.js';

/** What a code block's Copy button says, in English unless ``renderMarkdown`` is given other ``labels``. */
export const CODE_LABELS = Object.freeze({ copy: 'Copy', copied: 'Copied', copyFailed: 'Copy failed' });
const COPIED_FOR_MS = 1500; // how long the button says Copied (or Copy failed) before it says Copy again

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

/** A button that puts ``text`` on the clipboard and says, for a moment, whether that worked (``labels``: its
 * words, as ``CODE_LABELS``; ``className``: its classes). The widget's Copy under an answer is one too. */
export function copyButton(text, labels, className = 'copy-code') {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = className;
  button.textContent = labels.copy;
  let timer = null;
  button.addEventListener('click', async () => {
    let copied = true;
    try {
      await navigator.clipboard.writeText(text); // no clipboard (an insecure page) throws here too
    } catch {
      copied = false;
    }
    clearTimeout(timer);
    button.textContent = copied ? labels.copied : labels.copyFailed;
    button.dataset.state = copied ? 'copied' : 'refused';
    timer = setTimeout(() => {
      button.textContent = labels.copy;
      delete button.dataset.state;
    }, COPIED_FOR_MS);
  });
  return button;
}

/** A fenced block: ``<pre><code>``, highlighted when ``info`` names a language, in a head-and-body box for the widget. */
function codeBlock(text, info, options) {
  const language = info.split(/\s/, 1)[0];
  const code = document.createElement('code');
  if (language) {
    code.className = `language-${language}`;
    code.append(highlight(text, language));
  } else {
    code.textContent = text;
  }
  const pre = document.createElement('pre');
  pre.append(code);
  if (!options.codeTools) return pre;
  const head = document.createElement('div');
  head.className = 'code-head';
  if (language) {
    const label = textElement('span', language);
    label.className = 'code-lang';
    head.append(label);
  }
  head.append(copyButton(text, options.labels));
  const block = document.createElement('div');
  block.className = 'code-block';
  block.append(head, pre);
  return block;
}

/**
 * Render ``source`` into a DocumentFragment.
 *
 * ``options.codeTools`` (default true): code blocks get a head with their language and a Copy button;
 * false renders them as plain ``<pre><code>``. ``options.labels``: the button's words, ``{copy, copied,
 * copyFailed}``, any of them (CODE_LABELS for the rest).
 */
export function renderMarkdown(source, options) {
  const { codeTools = true, labels } = options || {};
  return render(source, { codeTools, labels: { ...CODE_LABELS, ...labels } });
}

function render(source, options) {
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
      const info = line.slice(m[0].length).replace(/^[`~]+/, '').trim(); // a longer fence's extra marks are not info
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
      i += 1;
      frag.append(codeBlock(body.join('\n'), info, options));
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
      q.append(render(body.join('\n'), options));
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
