// One task in the conversation: the user's message, a timeline of steps, streamed text, questions and the
// final answer. A TurnView only renders events; the chat element decides what to do with user actions.

import { h } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { messageOf } from './forms.js';

const RENDER_EVERY_MS = 50;
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const STATUS_TEXT = {
  queued: 'Queued',
  running: 'Working…',
  waiting_input: 'Waiting for your answer',
  completed: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

let uid = 0;

export class TurnView {
  /**
   * @param {string} taskId
   * @param {{steps: Record<string,string>, answer: (turn: TurnView, interruptId: string, value: any, label: string) => Promise<void>,
   *          announce: (text: string) => void, rendered: () => void, focus: (el: HTMLElement) => void}} ctx
   */
  constructor(taskId, ctx) {
    this.taskId = taskId;
    this.ctx = ctx;
    this.status = 'queued';
    this.startedTs = null;
    this.streams = new Map(); // key -> {el, text, dirty}
    this.asks = new Map(); // interrupt id -> card
    this.renderTimer = null;
    this.userText = h('p', { class: 'bubble' });
    this.userRow = h('div', { class: 'user', hidden: true }, this.userText);
    this.steps = h('ol', { class: 'steps', 'aria-label': 'Steps' });
    this.statusText = h('span', { class: 'status' }, STATUS_TEXT.queued);
    this.answer = h('div', { class: 'answer', 'aria-live': 'polite', 'aria-busy': 'false' });
    this.el = h(
      'article',
      { class: 'turn', 'data-task-id': taskId, 'data-status': 'queued' },
      this.userRow,
      h('div', { class: 'bot' }, h('div', { class: 'progress' }, this.steps, this.statusText), this.answer),
    );
  }

  get active() {
    return !TERMINAL.has(this.status);
  }

  setStatus(status, text) {
    this.status = status;
    this.el.dataset.status = status;
    this.statusText.textContent = text || STATUS_TEXT[status] || status;
    if (!this.active) this.steps.querySelector('.step-working')?.remove();
    else this.ensureWorking();
  }

  ensureWorking() {
    if (this.status !== 'running') {
      this.steps.querySelector('.step-working')?.remove();
      return;
    }
    if (!this.steps.querySelector('.step-working')) {
      this.steps.append(h('li', { class: 'step step-working' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { class: 'sr' }, 'working')));
    }
  }

  addStep(label, kind = 'done') {
    const working = this.steps.querySelector('.step-working');
    const mark = { done: '✓', ask: '?', answer: '↩', retry: '↻' }[kind] || '•';
    const li = h('li', { class: `step step-${kind}` }, h('span', { class: 'mark', 'aria-hidden': 'true' }, mark), label);
    this.steps.insertBefore(li, working);
  }

  /** Apply one event of this task (``type`` and ``data`` of the envelope). */
  apply(type, data, ts) {
    switch (type) {
      case 'task.queued': {
        if (this.startedTs === null) this.startedTs = ts;
        const text = messageOf(data.input);
        this.userText.textContent = text;
        this.userRow.hidden = !text;
        this.setStatus('queued', data.position ? `Queued (${data.position} ahead)` : STATUS_TEXT.queued);
        break;
      }
      case 'task.started':
        this.setStatus('running');
        break;
      case 'node.completed':
        this.flush();
        this.addStep(this.ctx.steps[data.node] || data.node);
        if (this.status !== 'running') this.setStatus('running');
        break;
      case 'message.delta':
        this.delta(data);
        break;
      case 'interrupt':
        this.flush();
        this.ask(data);
        break;
      case 'task.resumed':
        this.resumed(data);
        break;
      case 'task.retrying':
        this.addStep(`Retry ${data.retry ?? data.attempt ?? ''}`.trim(), 'retry');
        this.setStatus('queued', 'Retrying…');
        break;
      case 'task.completed':
        this.completed(data, ts);
        break;
      case 'task.failed':
        this.finish('failed');
        this.answer.append(h('p', { class: 'note error', role: 'alert' }, `Failed: ${(data.error && data.error.message) || 'unknown error'}`));
        break;
      case 'task.cancelled':
        this.finish('cancelled');
        this.answer.append(h('p', { class: 'note' }, `Cancelled${data.reason ? `: ${data.reason}` : ''}`));
        break;
      default:
        break;
    }
  }

  delta(data) {
    const key = data.message_id || `node:${data.node}`;
    let block = this.streams.get(key);
    if (!block) {
      block = { el: h('div', { class: 'md stream', 'data-node': data.node || '' }), text: '', dirty: false };
      this.streams.set(key, block);
      this.answer.append(block.el);
    }
    block.text += data.text || '';
    block.dirty = true;
    this.answer.setAttribute('aria-busy', 'true');
    if (this.status !== 'running') this.setStatus('running');
    if (!this.renderTimer) this.renderTimer = setTimeout(() => this.flush(), RENDER_EVERY_MS);
  }

  /** Render streamed text that arrived since the last render. */
  flush() {
    clearTimeout(this.renderTimer);
    this.renderTimer = null;
    let changed = false;
    for (const block of this.streams.values()) {
      if (!block.dirty) continue;
      block.el.replaceChildren(renderMarkdown(block.text));
      block.dirty = false;
      changed = true;
    }
    if (changed) this.ctx.rendered();
  }

  /** The text streamed so far, block by block (what the reader saw before the final answer). */
  streamedText() {
    return [...this.streams.values()].map((b) => b.text);
  }

  ask(data) {
    const id = data.interrupt_id || `ask-${++uid}`;
    if (this.asks.has(id)) return;
    const value = data.value && typeof data.value === 'object' ? data.value : {};
    const qid = `gg-q-${++uid}`;
    const card = h('div', { class: 'ask', role: 'group', 'aria-labelledby': qid });
    card.append(h('p', { class: 'question', id: qid }, data.question || 'The assistant needs your answer.'));
    if (Array.isArray(value.outline) && value.outline.length) {
      card.append(h('ol', { class: 'outline' }, value.outline.map((item) => h('li', {}, String(item)))));
      // the card shows the parsed outline: the model's raw text of it above would only repeat it
      for (const [key, block] of this.streams) {
        block.el.remove();
        this.streams.delete(key);
      }
    }
    const options = Array.isArray(data.options) ? data.options : [];
    const controls = [];
    const send = async (answerValue, label, button) => {
      controls.forEach((c) => (c.disabled = true));
      if (button) button.classList.add('chosen');
      try {
        await this.ctx.answer(this, id, answerValue, label);
      } catch (err) {
        if (button) button.classList.remove('chosen');
        if (!card.classList.contains('answered')) controls.forEach((c) => (c.disabled = false));
      }
    };
    if (options.length) {
      const row = h('div', { class: 'choices' });
      options.forEach((opt, i) => {
        const button = h('button', { type: 'button', class: i === 0 ? 'primary' : 'secondary', 'data-value': opt.value }, opt.label);
        button.addEventListener('click', () => send(opt.value, opt.label, button));
        controls.push(button);
        row.append(button);
      });
      card.append(row);
    } else {
      const inputId = `gg-a-${++uid}`;
      const input = h('input', { id: inputId, type: 'text', autocomplete: 'off', required: true, maxlength: 4000 });
      const button = h('button', { type: 'submit', class: 'primary' }, 'Answer');
      controls.push(input, button);
      const form = h('form', { class: 'reply' }, h('label', { for: inputId, class: 'sr' }, 'Your answer'), input, button);
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const text = input.value.trim();
        if (text) send(text, text, button);
      });
      card.append(form);
    }
    const answered = h('p', { class: 'answered-note', hidden: true });
    card.append(answered);
    this.asks.set(id, { card, controls, options, answered });
    this.answer.append(card);
    this.setStatus('waiting_input');
    this.ctx.announce(`Question: ${data.question || 'the assistant needs your answer'}`);
    this.ctx.focus(controls[0]);
  }

  resumed(data) {
    const entry = this.asks.get(data.interrupt_id) || [...this.asks.values()].find((a) => !a.card.classList.contains('answered'));
    if (entry) {
      const answer = data.answer;
      const option = entry.options.find((o) => o.value === answer);
      const label = option ? option.label : typeof answer === 'string' ? answer : JSON.stringify(answer);
      entry.card.classList.add('answered');
      entry.controls.forEach((c) => {
        c.disabled = true;
        if (option && c.dataset && c.dataset.value === option.value) c.classList.add('chosen');
        else if (c.classList) c.classList.remove('chosen');
      });
      entry.answered.hidden = false;
      entry.answered.textContent = `Answered: ${label}`;
      this.addStep(label, 'answer');
    }
    this.setStatus('queued', 'Continuing…');
  }

  completed(data, ts) {
    this.flush();
    for (const block of this.streams.values()) block.el.remove();
    const final = h('div', { class: 'md final' });
    if (typeof data.text === 'string' && data.text) {
      final.append(renderMarkdown(data.text));
    } else if (data.output !== undefined && data.output !== null) {
      final.append(h('details', {}, h('summary', {}, 'Output'), h('pre', {}, h('code', {}, JSON.stringify(data.output, null, 2)))));
    }
    if (final.childNodes.length) this.answer.append(final);
    const took = this.startedTs && ts ? ` in ${Math.max(0, ts - this.startedTs).toFixed(1)} s` : '';
    this.finish('completed', `Done${took}`);
    this.ctx.announce('The answer is complete.');
  }

  finish(status, text) {
    this.flush();
    for (const entry of this.asks.values()) {
      entry.controls.forEach((c) => (c.disabled = true));
      if (!entry.card.classList.contains('answered')) entry.card.classList.add('closed');
    }
    this.answer.setAttribute('aria-busy', 'false');
    this.setStatus(status, text);
    this.ctx.rendered();
  }
}
