// The composer at the bottom of the widget: the message box, files attached to it (web/attachments.js), the
// graph's option fields (web/forms.js decides which), Send and Cancel. It shows what it is told (which form,
// whether a task is running) and hands what the reader does to the element: ``onSend`` for Send or Enter,
// ``onCancel`` for Cancel, ``upload`` for each file attached.

import { Attachments } from './attachments.js';
import { h } from './dom.js';
import { english, localized } from './i18n.js';

export class Composer {
  /**
   * @param {{onSend: () => void, onCancel: () => void, upload: (file: File) => Promise<{file_id: string}>,
   *          t?: (key: string, params?: object) => string}} handlers  ``t``: the widget's words (web/i18n.js)
   */
  constructor({ onSend, onCancel, upload, t = english }) {
    this.t = t;
    this.form = null;
    this.state = { sending: false, active: false };
    this.attachments = new Attachments({ upload, changed: () => this.update(this.state), t });
    this.fieldsEl = h('div', { class: 'fields' });
    this.optionsEl = h('details', { class: 'options', open: true, hidden: true }, (this.optionsSummary = h('summary', {}, t('options'))), this.fieldsEl);
    this.label = h('label', { for: 'gg-message', class: 'label' }, t('message'));
    this.input = h('textarea', { id: 'gg-message', rows: '2', maxlength: '20000', 'aria-describedby': 'gg-hint' });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
        ev.preventDefault();
        onSend();
      }
    });
    this.sendBtn = h('button', { type: 'submit', class: 'primary send' }, t('send'));
    this.cancelBtn = h('button', { type: 'button', class: 'secondary cancel', hidden: true, onclick: () => onCancel() }, t('cancel'));
    this.el = h(
      'form',
      { class: 'composer', novalidate: true },
      this.label,
      this.attachments.list,
      h('div', { class: 'row' }, this.input, h('div', { class: 'actions' }, this.attachments.button, this.sendBtn, this.cancelBtn)),
      this.attachments.input,
      this.optionsEl,
      (this.hint = h('p', { id: 'gg-hint', class: 'hint' }, t('hintSend'))),
    );
    this.el.addEventListener('submit', (ev) => {
      ev.preventDefault();
      onSend();
    });
    this.attachments.watch(this.el, this.input);
  }

  /** What is in the message box. */
  get text() {
    return this.input.value;
  }

  set text(value) {
    this.input.value = value;
  }

  focus() {
    this.input.focus();
  }

  /** After a message was sent: an empty box, no files, the options folded away. */
  sent() {
    this.input.value = '';
    this.attachments.clear();
    this.optionsEl.open = false;
  }

  /** A new conversation shows its options open. */
  openOptions() {
    this.optionsEl.open = true;
  }

  /** Send is off while a message is being sent, a file uploads or a task runs (unless the message box can
   * answer its question: ``answering``); the hint says why. Cancel shows while a task runs. */
  update({ sending, active, answering = false, choosing = false }) {
    this.state = { sending, active, answering, choosing };
    this.sendBtn.disabled = sending || (active && !answering) || this.attachments.uploading;
    this.sendBtn.textContent = this.t(answering ? 'answer' : 'send');
    this.cancelBtn.hidden = !active;
    this.hint.textContent = this.t(answering ? 'hintAnswer' : choosing ? 'hintChoose' : active ? 'hintWorking' : 'hintSend');
  }

  /** Words in the widget's language (it was chosen when the widget joined the page). */
  relabel() {
    this.optionsSummary.textContent = this.t('options');
    this.cancelBtn.textContent = this.t('cancel');
    this.attachments.relabel();
    this.update(this.state);
    if (this.form) this.show(this.form);
  }

  /** The option fields' values by field name (numbers as numbers, an empty number as undefined). */
  values() {
    const values = {};
    for (const field of this.fieldsEl.querySelectorAll('[data-field]')) {
      const name = field.dataset.field;
      if (field.type === 'checkbox') values[name] = field.checked;
      else if (field.type === 'number') values[name] = field.value === '' ? undefined : Number(field.value);
      else values[name] = field.value.trim();
    }
    return values;
  }

  /** Show ``form`` (a web/forms.js config); fields it shares with the form shown before keep their values. */
  show(form) {
    this.form = form;
    const lang = this.t.lang;
    this.label.textContent = localized(form.messageLabel, lang) || this.t('message');
    this.input.placeholder = localized(form.placeholder, lang) || this.t('typeMessage');
    const previous = this.values();
    this.fieldsEl.replaceChildren();
    for (const field of form.fields || []) {
      const control = fieldControl(field, lang);
      if (field.name in previous && previous[field.name] !== undefined) {
        if (control.type === 'checkbox') control.checked = previous[field.name];
        else control.value = String(previous[field.name]);
      }
      this.fieldsEl.append(h('div', { class: `field ${field.type}` }, h('label', { for: control.id }, localized(field.label, lang) || field.name), control));
    }
    this.optionsEl.hidden = !(form.fields || []).length;
    this.attachments.enabled = form.messageField === 'messages' || Boolean(form.files);
  }
}

/** The input for one form field, set to the field's default value. */
function fieldControl(field, lang) {
  const id = `gg-field-${field.name}`;
  let control;
  if (field.type === 'select') {
    control = h('select', { id }, (field.options || []).map((opt) => h('option', { value: opt }, opt)));
    control.value = String(field.value ?? '');
  } else if (field.type === 'checkbox') {
    control = h('input', { id, type: 'checkbox' });
    control.checked = Boolean(field.value);
  } else {
    control = h('input', {
      id,
      type: field.type === 'number' ? 'number' : 'text',
      min: field.min,
      max: field.max,
      step: field.step,
      placeholder: localized(field.placeholder, lang),
      required: field.required,
    });
    if (field.value !== undefined) control.value = String(field.value);
  }
  control.dataset.field = field.name;
  return control;
}
