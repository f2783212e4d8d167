// The form of a tool approval: LangChain's human-in-the-loop middleware asks before a tool runs, and the
// person approves, edits or rejects each call.
//
// An interrupt of kind "tool_approval" lists its calls in ``actions`` (name, args, description,
// allowed_decisions). The form shows each call with its arguments as editable JSON and a reason box, and
// sends ``{"decisions": [...]}``, one decision per call in order (graphgate/core/interrupts.py): {"type":
// "approve"}, {"type": "edit", "edited_action": {name, args}}, {"type": "reject", "message"?} or {"type":
// "respond", "message"}. One call gets a button per decision; several get a choice each and one Submit.

import { h } from './dom.js';
import { english } from './i18n.js';

const BUTTON_TEXT = { approve: 'approve', edit: 'saveEdits', reject: 'reject', respond: 'respondInstead' };
const CHOICE_TEXT = { approve: 'approve', edit: 'approveWithEdits', reject: 'reject', respond: 'respondInstead' };
const SHOWN_VALUE_CHARS = 60;

let uid = 0;

/** ``text`` cut to ``max`` characters, on one line. */
function short(text, max) {
  const flat = String(text).replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** ``to=ann@example.com, subject=Q3``: arguments as a reader wants them (strings as they are). */
export function argsText(args, maxValue = SHOWN_VALUE_CHARS) {
  if (!args || typeof args !== 'object') return args === undefined || args === null ? '' : short(args, maxValue);
  return Object.entries(args)
    .map(([key, value]) => `${key}=${short(typeof value === 'string' ? value : JSON.stringify(value), maxValue)}`)
    .join(', ');
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The decisions an answer (a resume value as the gateway's events carry it) gives each of ``count`` calls. */
export function decisionsOf(answer, count) {
  let decisions = answer && typeof answer === 'object' && !Array.isArray(answer) && 'decisions' in answer ? answer.decisions : answer;
  if (typeof decisions === 'string') decisions = { type: decisions.trim().toLowerCase() };
  if (decisions && !Array.isArray(decisions) && typeof decisions === 'object') decisions = Array(count).fill(decisions);
  return Array.isArray(decisions) ? decisions : [];
}

/** "Approved", "Rejected: wrong recipient", "Edited: send_email(to=bob@example.com)", … */
export function describeDecision(action, decision, t = english) {
  if (!decision || typeof decision !== 'object') return t('tallyOther');
  const message = typeof decision.message === 'string' && decision.message.trim() ? decision.message.trim() : '';
  switch (decision.type) {
    case 'approve':
      return t('approved');
    case 'reject':
      return message ? t('rejectedBecause', { reason: message }) : t('rejected');
    case 'respond':
      return t('respondedInstead', { message });
    case 'edit': {
      const edited = decision.edited_action || {};
      const before = (action && action.args) || {};
      const after = edited.args && typeof edited.args === 'object' ? edited.args : {};
      const changed = Object.fromEntries(Object.entries(after).filter(([key, value]) => !same(before[key], value)));
      const removed = Object.keys(before).filter((key) => !(key in after));
      const parts = [argsText(changed), ...removed.map((key) => `−${key}`)].filter(Boolean).join(', ');
      const name = edited.name || (action && action.name) || 'tool';
      return parts ? t('edited', { call: `${name}(${parts})` }) : t('editedNoChanges', { name });
    }
    default:
      return JSON.stringify(decision);
  }
}

const TALLY_WORDS = { approve: 'tallyApprove', edit: 'tallyEdit', reject: 'tallyReject', respond: 'tallyRespond' };

/** "2 approved, 1 rejected": several decisions at a glance. */
export function tally(decisions, t = english) {
  const counts = new Map();
  for (const d of decisions) {
    const word = t(TALLY_WORDS[d && d.type] || 'tallyOther');
    counts.set(word, (counts.get(word) || 0) + 1);
  }
  return [...counts].map(([word, n]) => `${n} ${word}`).join(', ');
}

/** The question with its `code` spans as code elements (the gateway writes tool names that way). */
export function questionNodes(text) {
  return String(text)
    .split(/(`[^`]+`)/)
    .filter(Boolean)
    .map((part) => (part.length > 2 && part.startsWith('`') && part.endsWith('`') ? h('code', {}, part.slice(1, -1)) : part));
}

/** A call's description: its first line, and the rest (often the arguments again) behind a disclosure. */
function descriptionNode(text) {
  const [first, ...rest] = String(text).trim().split('\n');
  const more = rest.join('\n').trim();
  if (!more) return h('p', { class: 'description' }, first);
  return h('details', { class: 'description' }, h('summary', {}, first), h('p', {}, more));
}

function reasonLabel(allowed, t) {
  return t(allowed.includes('respond') ? 'reasonOrResponse' : 'reasonOptional');
}

class ActionView {
  /** One tool call of the request: its name, description, JSON arguments, reason and (with several) choice. */
  constructor(action, index, count, onEdit, t) {
    this.t = t;
    this.action = action;
    this.allowed = (action.allowed_decisions || []).filter((d) => d in BUTTON_TEXT);
    this.original = JSON.stringify(action.args || {}, null, 2);
    const n = ++uid;
    const nameId = `gg-tool-${n}`;
    const argsId = `gg-args-${n}`;
    const argsError = `gg-args-error-${n}`;
    const reasonId = `gg-reason-${n}`;
    const reasonError = `gg-reason-error-${n}`;
    const place = t('nOfM', { i: index + 1, n: count });
    this.args = h('textarea', {
      id: argsId,
      class: 'args',
      rows: String(Math.max(3, Math.min(10, this.original.split('\n').length))),
      spellcheck: 'false',
      autocomplete: 'off',
      'aria-describedby': argsError,
    });
    this.args.value = this.original;
    this.argsError = h('p', { id: argsError, class: 'field-error', hidden: true });
    this.reason = h('input', { id: reasonId, class: 'reason', type: 'text', maxlength: '2000', autocomplete: 'off', 'aria-describedby': reasonError });
    this.reasonError = h('p', { id: reasonError, class: 'field-error', hidden: true });
    this.outcome = h('p', { class: 'outcome', hidden: true });
    this.choices = new Map(); // decision -> radio (several calls only)
    // one call: the card's question already names the tool
    this.el = h(
      'section',
      count > 1 ? { class: 'action', role: 'group', 'aria-labelledby': nameId } : { class: 'action', role: 'group', 'aria-label': action.name },
      count > 1 ? h('p', { class: 'tool-name', id: nameId }, h('code', {}, action.name), place) : null,
      action.description ? descriptionNode(action.description) : null,
      h('div', { class: 'field' }, h('label', { for: argsId }, t('argumentsOf', { name: action.name })), this.args, this.argsError),
      h('div', { class: 'field' }, h('label', { for: reasonId }, reasonLabel(this.allowed, t)), this.reason, this.reasonError),
    );
    if (count > 1) this.el.append(this.choiceGroup());
    this.el.append(this.outcome);
    this.args.addEventListener('input', () => {
      this.clearError(this.args, this.argsError);
      if (this.choices.has('edit') && this.edited()) this.choices.get('edit').checked = true;
      onEdit();
    });
    this.reason.addEventListener('input', () => {
      this.clearError(this.reason, this.reasonError);
      // a reason is sent only with a rejection: writing one next to "Approve" means "Reject"
      if (this.choices.has('reject') && this.reason.value.trim() && this.chosen() === 'approve') this.choices.get('reject').checked = true;
    });
  }

  choiceGroup() {
    const group = h('fieldset', { class: 'decision' }, h('legend', { class: 'sr' }, this.t('decisionFor', { name: this.action.name })));
    const name = `gg-decision-${++uid}`;
    const initial = this.allowed.includes('approve') ? 'approve' : this.allowed[0];
    for (const decision of this.allowed) {
      const id = `${name}-${decision}`;
      const radio = h('input', { type: 'radio', id, name, value: decision, '.checked': decision === initial });
      this.choices.set(decision, radio);
      group.append(h('label', { for: id, class: 'choice', 'data-decision': decision }, radio, ` ${this.t(CHOICE_TEXT[decision])}`));
    }
    return group;
  }

  get controls() {
    return [this.args, this.reason, ...this.choices.values()];
  }

  /** The decision chosen with the radio buttons (several calls only). */
  chosen() {
    for (const [decision, radio] of this.choices) if (radio.checked) return decision;
    return null;
  }

  /** True when the arguments in the box differ from the call's (unparsable text counts as a change). */
  edited() {
    try {
      return !same(JSON.parse(this.args.value), this.action.args || {});
    } catch {
      return true;
    }
  }

  /** The decision of ``type`` for this call, or null after showing next to its field why there is none. */
  decision(type) {
    const reason = this.reason.value.trim();
    if (type === 'approve') return { type };
    if (type === 'reject') return reason ? { type, message: reason } : { type };
    if (type === 'respond') {
      if (reason) return { type, message: reason };
      this.showError(this.reason, this.reasonError, this.t('writeResponse'));
      return null;
    }
    if (type !== 'edit') return null;
    let args;
    try {
      args = JSON.parse(this.args.value);
    } catch (err) {
      this.showError(this.args, this.argsError, this.t('invalidJson', { error: err.message }));
      return null;
    }
    if (!args || typeof args !== 'object' || Array.isArray(args)) {
      this.showError(this.args, this.argsError, this.t('notAnObject'));
      return null;
    }
    return { type: 'edit', edited_action: { name: this.action.name, args } };
  }

  showError(field, note, text) {
    note.textContent = text;
    note.hidden = false;
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }

  clearError(field, note) {
    if (note.hidden) return;
    note.hidden = true;
    note.textContent = '';
    field.removeAttribute('aria-invalid');
  }

  /** Show the decision the gateway accepted for this call (its outcome line only when ``own``); its text. */
  settle(decision, own) {
    const text = describeDecision(this.action, decision, this.t);
    const type = decision && decision.type;
    if (type === 'edit' && decision.edited_action && decision.edited_action.args) {
      this.args.value = JSON.stringify(decision.edited_action.args, null, 2);
    } else if (this.edited()) {
      this.args.value = this.original; // what ran is what the reader sees
    }
    // the card shows what was sent: a reason only with a rejection (or a response)
    this.reason.value = (type === 'reject' || type === 'respond') && typeof decision.message === 'string' ? decision.message : '';
    for (const [value, radio] of this.choices) {
      radio.checked = value === type;
      radio.parentElement.classList.toggle('chosen', value === type);
    }
    this.outcome.textContent = text;
    this.outcome.dataset.decision = type || '';
    this.outcome.hidden = !own;
    return text;
  }
}

export class ApprovalForm {
  /**
   * @param {{actions: object[], interrupt_id: string}} data  the interrupt event's data
   * @param {(answer: any, label: string, button: HTMLElement) => void} submit  sends an answer
   * @param {(key: string, params?: object) => string} [t]  the widget's words (web/i18n.js)
   */
  constructor(data, submit, t = english) {
    this.t = t;
    this.actions = (data.actions || []).map(
      (action, i, all) => new ActionView(action, i, all.length, () => this.updateButtons(), t),
    );
    this.submit = submit;
    this.buttons = new Map(); // decision -> button (one call), or 'submit' -> button (several)
    const row = h('div', { class: 'choices' });
    if (this.actions.length === 1) {
      for (const decision of this.actions[0].allowed) {
        const button = h('button', { type: 'button', class: 'secondary', 'data-decision': decision }, t(BUTTON_TEXT[decision]));
        button.addEventListener('click', () => this.decideOne(decision, button));
        this.buttons.set(decision, button);
        row.append(button);
      }
    } else {
      const button = h('button', { type: 'button', class: 'primary', 'data-decision': 'submit' }, t('submitDecisions'));
      button.addEventListener('click', () => this.decideAll(button));
      this.buttons.set('submit', button);
      row.append(button);
    }
    this.el = h('div', { class: 'approval' }, this.actions.map((a) => a.el), row);
    for (const action of this.actions) {
      action.args.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
          ev.preventDefault();
          const target = this.buttons.get('edit') || this.buttons.get('submit');
          if (target && !target.disabled) target.click();
        }
      });
    }
    this.updateButtons();
  }

  get controls() {
    return [...this.actions.flatMap((a) => a.controls), ...this.buttons.values()];
  }

  /** The control a keyboard user starts from: the prominent button. */
  get first() {
    return [...this.buttons.values()].find((b) => b.classList.contains('primary')) || this.controls[0];
  }

  /** One call: Save edits is the prominent button once the arguments were changed, Approve otherwise. */
  updateButtons() {
    if (this.actions.length !== 1) return;
    const lead = this.buttons.has('edit') && this.actions[0].edited() ? 'edit' : this.buttons.has('approve') ? 'approve' : null;
    for (const [decision, button] of this.buttons) {
      button.classList.toggle('primary', decision === lead);
      button.classList.toggle('secondary', decision !== lead);
    }
  }

  decideOne(type, button) {
    const decision = this.actions[0].decision(type);
    if (decision) this.submit({ decisions: [decision] }, describeDecision(this.actions[0].action, decision, this.t), button);
  }

  decideAll(button) {
    const decisions = this.actions.map((a) => a.decision(a.chosen()));
    const invalid = decisions.indexOf(null);
    if (invalid >= 0) {
      // the first call's error should hold the focus, not the last one's
      const first = this.actions[invalid];
      (first.argsError.hidden ? first.reason : first.args).focus();
      return;
    }
    this.submit({ decisions }, tally(decisions, this.t), button);
  }

  /** Show the answer the gateway accepted (a resume value); the card's summary of it. */
  settle(answer) {
    const decisions = decisionsOf(answer, this.actions.length);
    const texts = this.actions.map((a, i) => a.settle(decisions[i], this.actions.length > 1));
    if (this.actions.length === 1) {
      const type = decisions[0] && decisions[0].type;
      for (const [decision, button] of this.buttons) {
        button.classList.toggle('primary', decision === type);
        button.classList.toggle('secondary', decision !== type);
        button.classList.toggle('chosen', decision === type);
      }
      return texts[0];
    }
    this.buttons.get('submit').classList.add('chosen');
    return tally(decisions.slice(0, this.actions.length), this.t);
  }
}
