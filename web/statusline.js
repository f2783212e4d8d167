// What the widget says about itself rather than about a task: the connection indicator in the header
// ("Live", "Reconnecting…"), the alert under the conversation for an error the reader must see, and the
// screen-reader status region that announces questions, running tools and finished answers. This is the one
// place that turns a refused request (ApiError) into words for the widget as a whole; a question's card
// words its own refusals (web/turn.js).

import { ApiError } from './client.js';
import { h } from './dom.js';
import { english } from './i18n.js';

const CONNECTION_TEXT = {
  idle: 'connIdle', // no conversation followed yet: nothing is wrong
  connecting: 'connConnecting',
  open: 'connOpen',
  reconnecting: 'connReconnecting',
  closed: 'connClosed',
  error: 'connError',
};

export class StatusLine {
  /**
   * @param {() => void} onAuthRequired  called when an error says the server needs a (new) token
   * @param {(key: string, params?: object) => string} [t]  the widget's words (web/i18n.js)
   */
  constructor(onAuthRequired, t = english) {
    this.onAuthRequired = onAuthRequired;
    this.t = t;
    this.connText = h('span', { class: 'conn-text' }, t(CONNECTION_TEXT.idle));
    /** The connection indicator, for the header. */
    this.connEl = h('span', { class: 'conn', 'data-state': 'idle' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), this.connText);
    /** The error alert, for under the conversation. */
    this.alertEl = h('p', { class: 'alert', role: 'alert', hidden: true });
    /** The status region (visually hidden), for the end of the frame. */
    this.region = h('p', { class: 'sr', role: 'status' });
  }

  /** Show the event stream's state: a SessionStream state, or 'idle' before a conversation is followed. */
  connection(state) {
    this.connEl.dataset.state = state;
    this.connText.textContent = CONNECTION_TEXT[state] ? this.t(CONNECTION_TEXT[state]) : state;
  }

  /** Show ``err`` in the alert; ``fallback`` words anything that is not a sign-in or network problem. */
  showError(err, fallback) {
    let text = fallback || this.t('somethingWrong');
    if (err instanceof ApiError) {
      if (err.status === 401) {
        text = this.t('signInToChat');
        this.onAuthRequired();
      } else if (err.status === 0) text = this.t('unreachable');
      else text = fallback || err.message;
    }
    this.showText(text);
  }

  /** Show ``text`` as it is in the alert. */
  showText(text) {
    this.alertEl.textContent = text;
    this.alertEl.hidden = false;
  }

  clearError() {
    this.alertEl.hidden = true;
    this.alertEl.textContent = '';
  }

  /** Say ``text`` to screen readers (politely, through the status region). */
  announce(text) {
    this.region.textContent = text;
  }
}
