// Asking before leaving a conversation whose task still runs or waits for an answer: a small dialog inside
// the widget ("It goes on without you, and you can come back to it from Conversations"), Leave or Stay.
// Nothing is cancelled by leaving: the task keeps running on the server, and coming back replays it.

import { h } from './dom.js';

export class LeavePrompt {
  /** @param {(key: string, params?: object) => string} t  the widget's words (web/i18n.js) */
  constructor(t) {
    this.t = t;
    this.text = h('p', { class: 'leave-text', id: 'gg-leave-text' });
    this.leaveBtn = h('button', { type: 'button', class: 'secondary leave' });
    this.stayBtn = h('button', { type: 'button', class: 'primary stay' });
    this.el = h('div', { class: 'leave-prompt', role: 'alertdialog', 'aria-modal': 'false', 'aria-describedby': 'gg-leave-text', hidden: true }, this.text, h('div', { class: 'choices' }, this.stayBtn, this.leaveBtn));
    this.pending = null;
    this.leaveBtn.addEventListener('click', () => this.settle(true));
    this.stayBtn.addEventListener('click', () => this.settle(false));
    this.el.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        this.settle(false);
      }
    });
    this.relabel();
  }

  relabel() {
    this.leaveBtn.textContent = this.t('leave');
    this.stayBtn.textContent = this.t('stay');
    this.el.setAttribute('aria-label', this.t('leave'));
  }

  /** Ask; resolves true to leave. ``waiting``: a question waits for the reader (else the task still runs). */
  ask(waiting) {
    if (this.pending) this.settle(false);
    this.text.textContent = this.t(waiting ? 'leaveWaiting' : 'leaveRunning');
    this.el.hidden = false;
    this.stayBtn.focus();
    return new Promise((resolve) => {
      this.pending = resolve;
    });
  }

  settle(leave) {
    const resolve = this.pending;
    this.pending = null;
    this.el.hidden = true;
    if (resolve) resolve(leave);
  }
}
