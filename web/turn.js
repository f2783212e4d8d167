// One task in the conversation: the user's message, a timeline of steps, the tools an agent runs, streamed
// text, questions and the final answer. A TurnView only renders events; the chat element decides what to do
// with user actions.
//
// A run may pause on several interrupts at once: each ``interrupt`` event is its own card, answered on its
// own (by interrupt id); ``interrupt.answered`` settles one while others still wait, ``task.resumed`` carries
// the answers of all of them.

import { ApprovalForm, questionNodes } from './approval.js';
import { fileNodes, filesOf } from './attachments.js';
import { ApiError } from './client.js';
import { h } from './dom.js';
import { messageOf } from './forms.js';
import { english, localized } from './i18n.js';
import { copyButton, renderMarkdown } from './markdown.js';
import { EventType } from './stream.js';
import { TERMINAL_STATUSES, TaskStatus } from './taskstatus.js';
import { ToolLog } from './tools.js';

const RENDER_EVERY_MS = 50;
const STATUS_TEXT = {
  [TaskStatus.QUEUED]: 'statusQueued',
  [TaskStatus.RUNNING]: 'statusWorking',
  [TaskStatus.WAITING_INPUT]: 'statusWaiting',
  [TaskStatus.COMPLETED]: 'statusDone',
  [TaskStatus.FAILED]: 'statusFailed',
  [TaskStatus.CANCELLED]: 'statusCancelled',
};

const STEP_CHARS = 60;
// a LangChain agent's middleware hooks ("HumanInTheLoopMiddleware.after_model") are plumbing, not steps
const HOOK_NODE = /\.(before|after)_(agent|model)$/;

let uid = 0;

/** What the card says when an answer was refused. */
function refusalText(err, t) {
  if (!(err instanceof ApiError)) return t('answerNotSent');
  if (err.status === 0) return t('unreachable');
  if (err.status === 401) return t('signInToAnswer');
  return t('answerRefused', { reason: err.message });
}

export class TurnView {
  /**
   * @param {string} taskId
   * @param {{steps: Record<string,string>, answer: (turn: TurnView, interruptId: string, value: any, label: string) => Promise<void>,
   *          announce: (text: string) => void, rendered: () => void, focus: (el: HTMLElement) => void,
   *          t: (key: string, params?: object) => string, retry: (turn: TurnView) => Promise<void>,
   *          edit: (turn: TurnView) => void, rate: (turn: TurnView, score: number, comment: string) => Promise<void>,
   *          answered: () => void}} ctx
   *   ``t``: the widget's words (web/i18n.js); ``retry``: send the turn's message again; ``edit``: put it in the
   *   message box
   */
  constructor(taskId, ctx) {
    this.taskId = taskId;
    this.ctx = ctx;
    this.t = ctx.t || english;
    this.status = TaskStatus.QUEUED;
    this.startedTs = null;
    this.message = ''; // the user's words, as the message box would hold them
    this.streams = new Map(); // key -> {el, text, dirty}
    this.asks = new Map(); // interrupt id -> card entry
    this.tools = new ToolLog(this.t);
    this.renderTimer = null;
    this.userText = h('p', { class: 'bubble' });
    this.userFiles = h('div', { class: 'files' });
    this.userTime = h('time', { class: 'sent-at' });
    this.editBtn = h('button', { type: 'button', class: 'link edit', hidden: true, title: this.t('editLabel'), 'aria-label': this.t('editLabel') }, this.t('edit'));
    this.editBtn.addEventListener('click', () => this.ctx.edit && this.ctx.edit(this));
    this.userRow = h('div', { class: 'user', hidden: true }, this.userFiles, this.userText, h('div', { class: 'meta' }, this.userTime, this.editBtn));
    // the progress line: status, latest step and a count; the steps themselves fold under it
    this.steps = h('ol', { class: 'steps', 'aria-label': this.t('steps') });
    this.statusText = h('span', { class: 'status' }, this.t(STATUS_TEXT[TaskStatus.QUEUED]));
    this.lastStep = h('span', { class: 'last-step' });
    this.stepCount = h('span', { class: 'step-count', hidden: true });
    this.spinner = h('span', { class: 'spinner', 'aria-hidden': 'true', hidden: true });
    this.progress = h(
      'details',
      { class: 'progress' },
      h('summary', { title: this.t('showSteps') }, this.spinner, this.statusText, this.lastStep, this.stepCount),
      this.steps,
    );
    this.answer = h('div', { class: 'answer', 'aria-live': 'polite', 'aria-busy': 'false' });
    this.el = h(
      'article',
      { class: 'turn', 'data-task-id': taskId, 'data-status': TaskStatus.QUEUED },
      this.userRow,
      h('div', { class: 'bot' }, this.progress, this.tools.el, this.answer),
    );
  }

  get active() {
    return !TERMINAL_STATUSES.has(this.status);
  }

  setStatus(status, text) {
    this.status = status;
    this.el.dataset.status = status;
    this.statusText.textContent = text || this.t(STATUS_TEXT[status]) || status;
    this.spinner.hidden = status !== TaskStatus.RUNNING;
  }

  addStep(label, kind = 'done') {
    const mark = { done: '✓', ask: '?', answer: '↩', retry: '↻' }[kind] || '•';
    this.steps.append(h('li', { class: `step step-${kind}` }, h('span', { class: 'mark', 'aria-hidden': 'true' }, mark), label));
    this.lastStep.textContent = label;
    const n = this.steps.children.length;
    this.stepCount.textContent = this.t('stepsCount', { n });
    this.stepCount.hidden = false;
  }

  /** The time of an event (seconds since the epoch) as the reader's clock shows it. */
  timeNode(el, ts) {
    if (!ts) return;
    const when = new Date(ts * 1000);
    el.dateTime = when.toISOString();
    el.textContent = when.toLocaleTimeString(this.t.lang, { hour: '2-digit', minute: '2-digit' });
    el.title = when.toLocaleString(this.t.lang);
  }

  /** Whether this turn's message may be edited and sent again (the conversation's last, with words, ended). */
  set editable(on) {
    this.editBtn.hidden = !(on && this.message && !this.active);
  }

  /** Apply one event of this task (``type`` and ``data`` of the envelope). */
  apply(type, data, ts) {
    switch (type) {
      case EventType.TASK_QUEUED: {
        if (this.startedTs === null) {
          this.startedTs = ts;
          this.timeNode(this.userTime, ts);
        }
        const text = messageOf(data.input);
        const files = filesOf(data.input);
        this.message = files.length ? '' : text; // a message with files is sent again with Retry, not edited
        this.userText.textContent = text;
        this.userText.hidden = !text;
        this.userFiles.replaceChildren(...fileNodes(files));
        this.userRow.hidden = !text && !files.length;
        this.setStatus(TaskStatus.QUEUED, data.position ? this.t('queuedAhead', { n: data.position }) : null);
        break;
      }
      case EventType.TASK_STARTED:
        this.setStatus(TaskStatus.RUNNING);
        break;
      case EventType.NODE_COMPLETED:
        this.flush();
        if (!HOOK_NODE.test(data.node || '') || this.ctx.steps[data.node]) this.addStep(localized(this.ctx.steps[data.node], this.t.lang) || data.node);
        if (this.status !== TaskStatus.RUNNING) this.setStatus(TaskStatus.RUNNING);
        break;
      case EventType.TOOL_STARTED:
        this.flush();
        this.tools.started(data);
        if (this.status !== TaskStatus.RUNNING) this.setStatus(TaskStatus.RUNNING);
        this.ctx.announce(this.t('runningTool', { tool: data.tool || this.t('aTool') }));
        break;
      case EventType.TOOL_COMPLETED:
        this.tools.completed(data);
        break;
      case EventType.MESSAGE_DELTA:
        this.delta(data);
        break;
      case EventType.INTERRUPT:
        this.flush();
        this.ask(data);
        break;
      case EventType.INTERRUPT_ANSWERED:
        this.answered(data);
        break;
      case EventType.FEEDBACK:
        this.rated(data.score);
        break;
      case EventType.APPROVAL_GIVEN:
      case EventType.APPROVAL_ESCALATED:
      case EventType.APPROVAL_TIMED_OUT:
        this.approvalChanged(type, data);
        break;
      case EventType.TASK_RESUMED:
        this.resumed(data);
        break;
      case EventType.TASK_RETRYING:
        this.addStep(this.t('retryStep', { n: data.retry ?? data.attempt ?? '' }).trim(), 'retry');
        this.setStatus(TaskStatus.QUEUED, this.t('retrying'));
        break;
      case EventType.TASK_COMPLETED:
        this.completed(data, ts);
        break;
      case EventType.TASK_FAILED:
        this.finish(TaskStatus.FAILED, null, ts);
        this.answer.append(
          h('p', { class: 'note error', role: 'alert' }, this.t('failedBecause', { reason: (data.error && data.error.message) || this.t('unknownError') })),
          this.retryRow(),
        );
        break;
      case EventType.TASK_CANCELLED:
        this.finish(TaskStatus.CANCELLED, null, ts);
        this.answer.append(h('p', { class: 'note' }, data.reason ? this.t('cancelledBecause', { reason: data.reason }) : this.t('statusCancelled')), this.retryRow());
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
    if (this.status !== TaskStatus.RUNNING) this.setStatus(TaskStatus.RUNNING);
    if (!this.renderTimer) this.renderTimer = setTimeout(() => this.flush(), RENDER_EVERY_MS);
  }

  /** Render streamed text that arrived since the last render. */
  flush() {
    clearTimeout(this.renderTimer);
    this.renderTimer = null;
    let changed = false;
    for (const block of this.streams.values()) {
      if (!block.dirty) continue;
      block.el.replaceChildren(this.markdown(block.text));
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
    const approval = data.kind === 'tool_approval' && Array.isArray(data.actions) && data.actions.length > 0;
    const qid = `gg-q-${++uid}`;
    const card = h('div', { class: 'ask', role: 'group', 'aria-labelledby': qid, 'data-interrupt-id': id, 'data-kind': approval ? 'tool_approval' : 'question' });
    const count = Number(data.count) || 1;
    if (count > 1) {
      const cid = `gg-c-${++uid}`;
      card.setAttribute('aria-labelledby', `${cid} ${qid}`);
      card.append(h('p', { class: 'ask-count', id: cid }, this.t(approval ? 'approvalOf' : 'questionOf', { i: (Number(data.index) || 0) + 1, n: count })));
    }
    const question = data.question || this.t('needsAnswer');
    card.append(h('p', { class: 'question', id: qid }, approval ? questionNodes(question) : question));
    if (Array.isArray(value.outline) && value.outline.length) {
      card.append(h('ol', { class: 'outline' }, value.outline.map((item) => h('li', {}, String(item)))));
      // the card shows the parsed outline: the model's raw text of it above would only repeat it
      for (const [key, block] of this.streams) {
        block.el.remove();
        this.streams.delete(key);
      }
    }
    const entry = {
      id,
      card,
      options: Array.isArray(data.options) ? data.options : [],
      controls: [],
      form: null,
      error: h('p', { class: 'ask-error', role: 'alert', hidden: true }),
      answered: h('p', { class: 'answered-note', hidden: true }),
    };
    const send = (answerValue, label, button) => this.send(entry, answerValue, label, button);
    const routed = data.approval && typeof data.approval === 'object' ? data.approval : null;
    if (routed) {
      // an approval policy routes the question: who decides, and how far they got
      entry.approval = { ...routed, votes: { ...(routed.votes || {}) } };
      entry.note = h('p', { class: 'approval-note', role: 'status' }, approvalText(entry.approval, this.t));
      card.append(entry.note);
    }
    if (routed && !routed.in_thread) {
      // answered by the policy's approvers elsewhere (Slack, Telegram, the API): nothing to click here
      card.classList.add('awaiting-approval');
    } else if (approval) {
      entry.form = new ApprovalForm(data, send, this.t);
      entry.controls = entry.form.controls;
      card.append(entry.form.el);
    } else if (entry.options.length) {
      const row = h('div', { class: 'choices' });
      let note = null; // made after the buttons: they come first in the card's controls (the first takes the focus)
      entry.options.forEach((opt, i) => {
        const button = h('button', { type: 'button', class: i === 0 ? 'primary' : 'secondary', 'data-value': opt.value }, opt.label);
        if (opt.note) {
          // this option takes a note with it (the writer's Revise): a field opens for it
          button.setAttribute('aria-expanded', 'false');
          button.addEventListener('click', () => note.open(opt, button));
        } else {
          button.addEventListener('click', () => send(opt.value, opt.label, button));
        }
        entry.controls.push(button);
        row.append(button);
      });
      note = noteForm(entry, send, this.t);
      card.append(row, note.el);
      if (!(data.value && data.value.free_text === false)) {
        // any other answer in words, unless the graph said it takes only its options
        entry.text = replyForm(entry, send, this.t('ownWords'), this.t('send'));
        card.append(entry.text.el);
      }
    } else {
      entry.text = replyForm(entry, send, this.t('yourAnswer'), this.t('answer'));
      card.append(entry.text.el);
    }
    card.append(entry.error, entry.answered);
    this.asks.set(id, entry);
    this.answer.append(card);
    this.setStatus(TaskStatus.WAITING_INPUT, this.waitingText());
    this.ctx.announce(this.t(approval ? 'approvalNeeded' : 'question', { text: question }));
    if (!Number(data.index) && (entry.form || entry.controls.length)) this.ctx.focus(entry.form ? entry.form.first : entry.controls[0]);
  }

  /** Send an answer for a card; a refused answer is shown in the card, which stays usable. */
  async send(entry, value, label, button) {
    if (entry.card.classList.contains('answered')) return;
    entry.error.hidden = true;
    entry.controls.forEach((c) => (c.disabled = true));
    if (button) button.classList.add('chosen');
    try {
      await this.ctx.answer(this, entry.id, value, label);
      // the last open question answered: the message box is next (another open card takes the focus itself)
      if (!this.pending().some((e) => e !== entry)) this.ctx.answered();
    } catch (err) {
      if (button) button.classList.remove('chosen');
      if (entry.card.classList.contains('answered') || entry.card.classList.contains('closed')) return;
      entry.controls.forEach((c) => (c.disabled = false));
      entry.error.textContent = refusalText(err, this.t);
      entry.error.hidden = false;
      if (button) button.focus({ preventScroll: true });
    }
  }

  /** The cards still waiting for an answer. */
  pending() {
    return [...this.asks.values()].filter((e) => !e.card.classList.contains('answered') && !e.card.classList.contains('closed'));
  }

  waitingText() {
    const left = this.pending().length;
    return this.t(left > 1 ? 'waitingAnswers' : 'statusWaiting', { n: left });
  }

  /** Show the answer the gateway accepted for a card (``answer`` is the resume value) and mark it answered. */
  settle(entry, answer) {
    if (entry.card.classList.contains('answered')) return;
    let label;
    if (entry.form) {
      label = entry.form.settle(answer);
    } else {
      const chosen = answer && typeof answer === 'object' && !Array.isArray(answer) ? answer.action : answer;
      const option = entry.options.find((o) => o.value === chosen);
      const note = answer && typeof answer === 'object' && answer.note ? ` — ${answer.note}` : '';
      label = option ? option.label + note : typeof answer === 'string' ? answer : JSON.stringify(answer);
      if (option) {
        // the chosen option becomes the prominent button
        for (const c of entry.controls) {
          const chosen = c.dataset.value === option.value;
          c.classList.toggle('chosen', chosen);
          c.classList.toggle('primary', chosen);
          c.classList.toggle('secondary', !chosen);
        }
      }
      label = this.t('answered', { label });
    }
    entry.card.classList.remove('closed');
    entry.card.classList.add('answered');
    entry.controls.forEach((c) => (c.disabled = true));
    entry.error.hidden = true;
    entry.answered.hidden = false;
    entry.answered.textContent = label;
    const step = entry.form ? label : label.slice(this.t('answered', { label: '' }).length);
    this.addStep(step.length > STEP_CHARS ? `${step.slice(0, STEP_CHARS - 1)}…` : step, 'answer');
    // the next card of the pause takes the focus when this one had it (its controls are disabled now)
    const next = this.pending()[0];
    const active = this.el.getRootNode().activeElement;
    if (next && (!active || entry.card.contains(active))) this.ctx.focus(next.form ? next.form.first : next.controls[0]);
  }

  /** An ``approval.*`` event: a vote, an escalation or a timeout of a routed question updates its note. */
  approvalChanged(type, data) {
    const entry = this.asks.get(data.interrupt_id);
    if (!entry || !entry.approval || !entry.note) return;
    if (type === EventType.APPROVAL_GIVEN) {
      entry.approval.votes[data.by] = { approves: !!data.approves, name: data.name };
    } else if (type === EventType.APPROVAL_ESCALATED && data.approval) {
      entry.approval = { ...data.approval, votes: {} };
    } else if (type === EventType.APPROVAL_TIMED_OUT) {
      entry.timedOut = true;
    }
    entry.note.textContent = entry.timedOut ? this.t('noDeadlineAnswer') : approvalText(entry.approval, this.t);
  }

  /** ``interrupt.answered``: one card is settled; the others of the pause still wait. */
  answered(data) {
    const entry = this.asks.get(data.interrupt_id);
    if (entry) this.settle(entry, data.answer);
    if (this.active) this.setStatus(TaskStatus.WAITING_INPUT, this.waitingText());
  }

  /** ``task.resumed``: every card of the pause is settled (``answers`` by interrupt id) and the run goes on. */
  resumed(data) {
    const answers = data.answers && typeof data.answers === 'object' ? data.answers : null;
    if (answers) {
      for (const [id, answer] of Object.entries(answers)) {
        const entry = this.asks.get(id);
        if (entry) this.settle(entry, answer);
      }
    } else {
      const entry = this.asks.get(data.interrupt_id) || this.pending()[0];
      if (entry) this.settle(entry, data.answer);
    }
    this.setStatus(TaskStatus.QUEUED, this.t('continuing'));
  }

  completed(data, ts) {
    this.flush();
    // the final answer takes the place of the streamed text, in the same spot: the page does not jump
    const blocks = [...this.streams.values()];
    const final = blocks.length ? blocks[0].el : h('div');
    final.className = 'md final';
    delete final.dataset.node;
    for (const block of blocks.slice(1)) block.el.remove();
    this.streams.clear();
    let copyText = null;
    if (typeof data.text === 'string' && data.text) {
      copyText = data.text;
      if (!blocks.length || blocks.map((b) => b.text).join('') !== data.text) final.replaceChildren(this.markdown(data.text));
    } else if (data.output !== undefined && data.output !== null) {
      copyText = JSON.stringify(data.output, null, 2);
      final.replaceChildren(h('details', {}, h('summary', {}, this.t('output')), h('pre', {}, h('code', {}, copyText))));
    } else {
      final.replaceChildren();
    }
    if (final.childNodes.length && !final.isConnected) this.answer.append(final);
    if (!final.childNodes.length) final.remove();
    const files = Array.isArray(data.files) ? data.files : [];
    if (files.length) {
      const blocks = files.map((f) => ({ type: (f.mime_type || '').startsWith('image/') ? 'image' : 'file', url: f.url, extras: { filename: f.name } }));
      this.answer.append(h('div', { class: 'files answer-files' }, fileNodes(blocks)));
    }
    this.answer.append(this.feedbackRow(copyText));
    const took = this.startedTs && ts ? this.t('doneIn', { s: Math.max(0, ts - this.startedTs).toFixed(1) }) : null;
    this.finish(TaskStatus.COMPLETED, took, ts);
    this.ctx.announce(this.t('answerComplete'));
  }

  /** Markdown with the widget's words on its code blocks' buttons. */
  markdown(text) {
    return renderMarkdown(text, { labels: this.copyLabels() });
  }

  /** What a Copy button says, in the widget's language. */
  copyLabels() {
    return { copy: this.t('copy'), copied: this.t('copied'), copyFailed: this.t('copyFailed') };
  }

  /** Copy under the final answer, then 👍 / 👎; a 👎 offers a comment (graphgate/core/feedback.py). */
  feedbackRow(copyText) {
    const row = h('div', { class: 'rating', role: 'group', 'aria-label': this.t('helpfulQuestion') });
    const note = h('p', { class: 'rating-note', 'aria-live': 'polite' });
    const comment = h('form', { class: 'rating-comment', hidden: true });
    const input = h('input', { type: 'text', maxlength: 2000, 'aria-label': this.t('whatWasWrong'), placeholder: this.t('whatWasWrong') });
    comment.append(input, h('button', { type: 'submit', class: 'secondary' }, this.t('send')));
    const send = async (score, text) => {
      try {
        await this.ctx.rate(this, score, text);
        this.rated(score);
        note.textContent = this.t(text ? 'thanksComment' : 'thanks');
      } catch (err) {
        note.textContent = refusalText(err, this.t);
      }
    };
    this.rateButtons = [1, -1].map((score) => {
      const label = this.t(score > 0 ? 'helpful' : 'notHelpful');
      const button = h('button', { type: 'button', class: 'secondary rate', 'data-score': String(score), 'aria-pressed': 'false', 'aria-label': label, title: label }, score > 0 ? '👍' : '👎');
      button.addEventListener('click', () => {
        comment.hidden = score > 0;
        if (score < 0) this.ctx.focus(input);
        send(score, '');
      });
      return button;
    });
    comment.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (input.value.trim()) send(-1, input.value.trim());
    });
    if (copyText) {
      const copy = copyButton(copyText, this.copyLabels(), 'secondary copy-answer');
      copy.title = this.t('copyAnswer');
      copy.setAttribute('aria-label', this.t('copyAnswer'));
      row.append(copy);
    }
    row.append(...this.rateButtons, note, comment);
    return row;
  }

  /** Retry under a failed or cancelled turn: the same message again, as a new task. */
  retryRow() {
    const button = h('button', { type: 'button', class: 'secondary retry', title: this.t('retryLabel') }, `↻ ${this.t('retry')}`);
    const error = h('span', { class: 'retry-error', role: 'alert' });
    button.addEventListener('click', async () => {
      button.disabled = true;
      error.textContent = '';
      try {
        await this.ctx.retry(this);
      } catch (err) {
        error.textContent = refusalText(err, this.t);
      } finally {
        button.disabled = false;
      }
    });
    this.retryButton = button;
    return h('div', { class: 'retry-row' }, button, error);
  }

  /** Show ``score`` as the chosen rating. */
  rated(score) {
    for (const button of this.rateButtons || []) button.setAttribute('aria-pressed', String(Number(button.dataset.score) === Number(score)));
  }

  finish(status, text, ts) {
    this.flush();
    for (const entry of this.asks.values()) {
      entry.controls.forEach((c) => (c.disabled = true));
      if (!entry.card.classList.contains('answered')) entry.card.classList.add('closed');
    }
    this.tools.stop();
    this.answer.setAttribute('aria-busy', 'false');
    this.setStatus(status, text);
    if (ts) {
      const at = h('time', { class: 'done-at' });
      this.timeNode(at, ts);
      this.lastStep.replaceWith(at);
      this.lastStep = at;
    }
    this.ctx.rendered();
  }
}

/**
 * "Waiting for approval by @finance (1 of 2 approvals)" for a routed question's approval; "Needs approval by …"
 * when the policy posts it here too (its approvers, the starter among them if the policy says so, answer here).
 */
export function approvalText(approval, t = english) {
  const who = approval.label || approval.policy || t('theApprovers');
  const required = Number(approval.required) || 1;
  const given = Object.values(approval.votes || {}).filter((v) => v && v.approves).length;
  const progress = required > 1 ? t('approvalProgress', { given, required }) : '';
  return t(approval.in_thread ? 'needsApproval' : 'waitingApproval', { who }) + progress;
}

/** A one-line text answer: ``label`` for screen readers (and as placeholder), ``action`` on its button. */
function replyForm(entry, send, label, action) {
  const inputId = `gg-a-${++uid}`;
  const input = h('input', { id: inputId, type: 'text', autocomplete: 'off', required: true, maxlength: 4000, placeholder: label });
  const button = h('button', { type: 'submit', class: entry.options.length ? 'secondary' : 'primary' }, action);
  entry.controls.push(input, button);
  const el = h('form', { class: 'reply' }, h('label', { for: inputId, class: 'sr' }, label), input, button);
  el.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (text) send(text, text, button);
  });
  return { el, input, button };
}

/** The note an option takes with it (``{"label", "value", "note": true}``): answered as ``{action, note}``. */
function noteForm(entry, send, t) {
  const inputId = `gg-n-${++uid}`;
  const label = h('label', { for: inputId, class: 'note-label' });
  const input = h('input', { id: inputId, type: 'text', autocomplete: 'off', maxlength: 2000, placeholder: t('notePlaceholder') });
  const button = h('button', { type: 'submit', class: 'primary' }, t('send'));
  const el = h('form', { class: 'option-note', hidden: true }, label, h('div', { class: 'row' }, input, button));
  entry.controls.push(input, button);
  let current = null;
  el.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!current) return;
    const text = input.value.trim();
    const { opt, button: chosen } = current;
    send(text ? { action: opt.value, note: text } : opt.value, text ? `${opt.label} — ${text}` : opt.label, chosen);
  });
  return {
    el,
    open(opt, optionButton) {
      current = { opt, button: optionButton };
      label.textContent = t('whatShouldChange', { option: opt.label });
      el.hidden = false;
      optionButton.setAttribute('aria-expanded', 'true');
      input.focus({ preventScroll: true });
    },
  };
}