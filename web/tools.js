// An agent's tool calls in a turn, as short lines that follow each call from start to result:
// "🔧 send_email (to=ann@example.com, …) …", then "… — done: Email to ann@example.com queued".
// Only the latest few stay; older ones fold into a count, so a long agent loop does not grow the page.

import { argsText } from './approval.js';
import { h } from './dom.js';
import { english } from './i18n.js';

export const VISIBLE_CALLS = 3;
const ARGS_CHARS = 120;
const RESULT_CHARS = 120;

function cut(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The first line of a tool's result, short. */
function resultLine(result) {
  const text = typeof result === 'string' ? result : result === undefined || result === null ? '' : JSON.stringify(result);
  return cut(text.trim().split('\n', 1)[0] || '', RESULT_CHARS);
}

export class ToolLog {
  /** @param {(key: string, params?: object) => string} [t]  the widget's words (web/i18n.js) */
  constructor(t = english) {
    this.t = t;
    this.calls = new Map(); // call id -> {li, result}
    this.folded = 0;
    this.more = h('p', { class: 'tools-more', hidden: true });
    this.list = h('ul', { class: 'tool-calls' });
    this.el = h('div', { class: 'tools', role: 'group', 'aria-label': t('toolCalls'), hidden: true }, this.more, this.list);
  }

  /** A ``tool.started`` event: a new line, running. */
  started(data) {
    const call = this.line(data, 'running');
    call.result.textContent = '…';
  }

  /** A ``tool.completed`` event: the call's line shows its result (or its error). */
  completed(data) {
    const failed = data.status === 'error';
    const call = this.line(data, failed ? 'error' : 'done');
    call.li.dataset.state = failed ? 'error' : 'done';
    const line = resultLine(data.result);
    call.result.textContent = `— ${this.t(failed ? 'toolFailed' : 'toolDone')}${line ? `: ${line}` : ''}`;
  }

  /** Calls still running when the task ended will not report back. */
  stop() {
    for (const { li, result } of this.calls.values()) {
      if (li.dataset.state !== 'running') continue;
      li.dataset.state = 'stopped';
      result.textContent = this.t('toolStopped');
    }
  }

  /** The line of the call in ``data``, made (in ``state``) when it is new. */
  line(data, state) {
    const id = String(data.call_id || `${data.tool}:${this.calls.size}`);
    let call = this.calls.get(id);
    if (call) return call;
    const args = cut(argsText(data.args), ARGS_CHARS);
    const result = h('span', { class: 'tool-result' });
    const li = h(
      'li',
      { class: 'tool-call', 'data-call-id': id, 'data-tool': data.tool || '', 'data-state': state },
      h('span', { class: 'tool-icon', 'aria-hidden': 'true' }, '🔧'),
      ' ',
      h('span', { class: 'tool-name' }, data.tool || 'tool'),
      args ? h('span', { class: 'tool-args' }, ` (${args})`) : null,
      ' ',
      result,
    );
    call = { li, result };
    this.calls.set(id, call);
    this.list.append(li);
    this.el.hidden = false;
    this.fold();
    return call;
  }

  /** Keep the latest ``VISIBLE_CALLS`` lines; finished ones fold first, running ones stay in view. */
  fold() {
    while (this.list.children.length > VISIBLE_CALLS) {
      const lines = [...this.list.children];
      const oldest = lines.find((li) => li.dataset.state !== 'running') || lines[0];
      oldest.remove();
      this.folded += 1;
    }
    this.more.hidden = this.folded === 0;
    this.more.textContent = this.t('toolsFolded', { n: this.folded });
  }
}
