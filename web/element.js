// <graphgate-chat>: a chat with a LangGraph graph behind a graphgate gateway.
//
// Attributes: graph, api, token, session-id, theme (light | dark), heading. Properties: token, getToken
// (async () => token, called when there is no token or the server refused it), sessionId, lastEventId,
// send(text), newConversation(). Events (bubbling, composed): graphgate-event {id, event} for every event,
// once, in order, before it is shown; graphgate-session {sessionId}; graphgate-theme {theme};
// graphgate-auth-required. docs/web.md is the embedding guide.

import { ApiError, GatewayClient } from './client.js';
import { h } from './dom.js';
import { FORMS, formFor, taskBody } from './forms.js';
import { SessionStream } from './stream.js';
import { TurnView } from './turn.js';

const STYLESHEET = new URL('./widget.css', import.meta.url).href;
const DEFAULT_API = new URL('..', import.meta.url).href; // the widget is served at <gateway>/web/
const THEME_KEY = 'graphgate-theme';
const TERMINAL_TYPES = new Set(['task.completed', 'task.failed', 'task.cancelled']);
const CONNECTION_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Not connected',
  error: 'Unavailable',
};

function storedTheme() {
  try {
    const value = window.localStorage.getItem(THEME_KEY);
    return value === 'light' || value === 'dark' ? value : null;
  } catch {
    return null;
  }
}

export class GraphgateChat extends HTMLElement {
  static observedAttributes = ['graph', 'api', 'token', 'session-id', 'theme', 'heading'];

  /** Form configs by graph name; add yours before sending (see web/forms.js). */
  static forms = FORMS;

  constructor() {
    super();
    this._token = null;
    this._getToken = null;
    this._sessionId = null;
    this._client = null;
    this._reflecting = false;
    this.stream = null;
    this.turns = new Map();
    this.graphList = null;
    this.form = null;
    this.sending = false;
    this.pendingTaskId = null;
    this.lastEventId = null;
    this.stick = true;
    this.media = window.matchMedia('(prefers-color-scheme: dark)');
    this.onMedia = () => this.applyTheme();
    this.root = this.attachShadow({ mode: 'open' });
    this.build();
  }

  // --- public API ------------------------------------------------------------------------------------

  get token() {
    return this._token;
  }

  set token(value) {
    this._token = value || null;
    if (this.isConnected) this.authChanged();
  }

  get getToken() {
    return this._getToken;
  }

  set getToken(fn) {
    this._getToken = typeof fn === 'function' ? fn : null;
    if (this.isConnected) this.authChanged();
  }

  get sessionId() {
    return this._sessionId;
  }

  /** The theme in use: 'light' or 'dark'. */
  get theme() {
    return this.effectiveTheme();
  }

  get graph() {
    return this.getAttribute('graph') || (this.graphList && this.graphList.default) || null;
  }

  set graph(name) {
    if (name) this.setAttribute('graph', name);
    else this.removeAttribute('graph');
  }

  /** Send ``text`` (or what is in the message box) as a new task of this conversation. */
  async send(text) {
    if (typeof text === 'string') this.input.value = text;
    const message = this.input.value.trim();
    if (!message || this.sending || this.activeTurn()) return null;
    this.sending = true;
    this.clearError();
    this.updateComposer();
    try {
      const body = taskBody(this.currentForm(), this.graph, message, this.optionValues());
      if (this._sessionId) body.session_id = this._sessionId;
      const created = await this.client.createTask(body);
      this.input.value = '';
      this.optionsEl.open = false;
      if (!this.turns.has(created.task_id)) this.pendingTaskId = created.task_id;
      if (created.session_id !== this._sessionId) this.setSession(created.session_id, false);
      return created;
    } catch (err) {
      this.showError(err);
      return null;
    } finally {
      this.sending = false;
      this.updateComposer();
    }
  }

  /** Leave this conversation; the next message starts a new session. */
  newConversation() {
    this.setSession(null, true);
    this.input.focus();
  }

  // --- lifecycle ----------------------------------------------------------------------------------------

  connectedCallback() {
    for (const name of ['token', 'getToken']) {
      // a property set before the element was defined shadows the accessor: take it over
      if (Object.prototype.hasOwnProperty.call(this, name)) {
        const value = this[name];
        delete this[name];
        this[name] = value;
      }
    }
    if (!this._token && this.hasAttribute('token')) this._token = this.getAttribute('token');
    this.media.addEventListener('change', this.onMedia);
    this.applyTheme();
    this.titleEl.textContent = this.getAttribute('heading') || 'Chat';
    this.renderForm();
    const session = this.getAttribute('session-id');
    if (session && session !== this._sessionId) this.setSession(session, true);
    this.authChanged();
  }

  disconnectedCallback() {
    this.media.removeEventListener('change', this.onMedia);
    if (this.stream) this.stream.close();
    this.stream = null;
  }

  attributeChangedCallback(name, old, value) {
    if (this._reflecting || !this.root) return;
    switch (name) {
      case 'graph':
        this.form = null;
        this.renderForm();
        break;
      case 'api':
        this._client = null;
        if (this._sessionId && this.isConnected) this.openStream();
        break;
      case 'token':
        this.token = value;
        break;
      case 'session-id':
        if (this.isConnected && (value || null) !== this._sessionId) this.setSession(value || null, true);
        break;
      case 'theme':
        this.applyTheme();
        break;
      case 'heading':
        this.titleEl.textContent = value || 'Chat';
        break;
      default:
        break;
    }
  }

  // --- plumbing -----------------------------------------------------------------------------------------

  get client() {
    if (!this._client) {
      const base = this.getAttribute('api') || DEFAULT_API;
      this._client = new GatewayClient(
        base,
        async () => this._token || (this._getToken ? (this._token = (await this._getToken({ refresh: false })) || null) : null),
        async () => this.refreshToken(),
      );
    }
    return this._client;
  }

  async refreshToken() {
    this._token = null;
    if (this._getToken) {
      try {
        this._token = (await this._getToken({ refresh: true })) || null;
      } catch {
        this._token = null;
      }
    }
    if (!this._token) this.emit('graphgate-auth-required', {});
    return this._token;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  hasAuth() {
    return Boolean(this._token || this._getToken);
  }

  authChanged() {
    if (this._authQueued) return;
    this._authQueued = true;
    queueMicrotask(() => {
      // token and getToken are often set one after the other: act once
      this._authQueued = false;
      this.updateComposer();
      if (!this.hasAuth()) return;
      this.loadGraphs();
      if (this._sessionId && !this.stream) this.openStream();
    });
  }

  async loadGraphs() {
    try {
      this.graphList = await this.client.graphs();
    } catch {
      return; // the registered forms still work; errors show when the user sends
    }
    this.form = null;
    this.renderForm();
  }

  currentForm() {
    if (!this.form) {
      const name = this.graph || '';
      const info = this.graphList && this.graphList.graphs.find((g) => g.name === name);
      this.form = formFor(name, info ? info.input_schema : null, GraphgateChat.forms);
    }
    return this.form;
  }

  setSession(sessionId, clear) {
    if (this.stream) this.stream.close();
    this.stream = null;
    this.lastEventId = null;
    this.pendingTaskId = null;
    if (clear) {
      for (const turn of this.turns.values()) turn.el.remove();
      this.turns.clear();
      this.empty.hidden = false;
      this.optionsEl.open = true;
      this.clearError();
    }
    this._sessionId = sessionId;
    this._reflecting = true;
    if (sessionId) this.setAttribute('session-id', sessionId);
    else this.removeAttribute('session-id');
    this._reflecting = false;
    this.setConnection('idle');
    this.emit('graphgate-session', { sessionId });
    if (sessionId && this.hasAuth()) this.openStream();
    this.updateComposer();
  }

  openStream() {
    if (this.stream) this.stream.close();
    const stream = new SessionStream(this.client, this._sessionId, {
      onEvent: (id, envelope) => this.onEvent(id, envelope),
      onState: (state, detail) => {
        if (stream !== this.stream) return;
        if (state === 'error') {
          this.showError(detail, 'This conversation is not available.');
        }
        if (state !== 'unauthorized') this.setConnection(state);
      },
    });
    this.stream = stream;
    stream.lastId = this.lastEventId;
    stream.start();
  }

  onEvent(id, envelope) {
    if (envelope.session_id && envelope.session_id !== this._sessionId) return;
    let turn = this.turns.get(envelope.task_id);
    if (turn && TERMINAL_TYPES.has(envelope.type)) turn.flush();
    this.emit('graphgate-event', { id, event: envelope });
    if (!turn) {
      turn = new TurnView(envelope.task_id, this.turnContext());
      this.turns.set(envelope.task_id, turn);
      this.log.append(turn.el);
      this.empty.hidden = true;
    }
    this.lastEventId = id;
    if (this.pendingTaskId === envelope.task_id) this.pendingTaskId = null;
    turn.apply(envelope.type, envelope.data || {}, envelope.ts);
    this.updateComposer();
    this.scrollDown();
  }

  turnContext() {
    return {
      steps: this.currentForm().steps || {},
      answer: (turn, interruptId, value) => this.answer(turn, interruptId, value),
      announce: (text) => {
        this.statusRegion.textContent = text;
      },
      rendered: () => this.scrollDown(),
      focus: (el) => {
        const active = document.activeElement;
        if (el && (!active || active === document.body || active === this)) el.focus({ preventScroll: true });
      },
    };
  }

  /** Answer one interrupt; a refusal is thrown to the question's card, which shows it (a 401 shows here too). */
  async answer(turn, interruptId, value) {
    this.clearError();
    try {
      await this.client.resume(turn.taskId, value, interruptId);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.showError(err);
      throw err;
    }
  }

  async cancelActive() {
    const turn = this.activeTurn();
    if (!turn) return;
    this.clearError();
    try {
      await this.client.cancel(turn.taskId);
    } catch (err) {
      this.showError(err);
    }
  }

  /** The task of this conversation that has not ended yet, if any. */
  activeTurn() {
    if (this.pendingTaskId) return { taskId: this.pendingTaskId };
    const turns = [...this.turns.values()];
    for (let i = turns.length - 1; i >= 0; i -= 1) if (turns[i].active) return turns[i];
    return null;
  }

  optionValues() {
    const values = {};
    for (const field of this.fieldsEl.querySelectorAll('[data-field]')) {
      const name = field.dataset.field;
      if (field.type === 'checkbox') values[name] = field.checked;
      else if (field.type === 'number') values[name] = field.value === '' ? undefined : Number(field.value);
      else values[name] = field.value.trim();
    }
    return values;
  }

  // --- view -------------------------------------------------------------------------------------------------

  build() {
    this.titleEl = h('h2', { class: 'title' }, 'Chat');
    this.connText = h('span', { class: 'conn-text' }, CONNECTION_TEXT.idle);
    this.connEl = h('span', { class: 'conn', 'data-state': 'idle' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), this.connText);
    this.themeBtn = h('button', { type: 'button', class: 'icon theme', onclick: () => this.toggleTheme() });
    this.newBtn = h('button', { type: 'button', class: 'ghost new', onclick: () => this.newConversation() }, 'New conversation');
    this.empty = h('p', { class: 'empty' }, 'Send a message to start a conversation.');
    this.log = h('section', { class: 'log', 'aria-label': 'Conversation', tabindex: '0' }, this.empty);
    this.log.addEventListener('scroll', () => {
      this.stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 96;
    });
    this.statusRegion = h('p', { class: 'sr', role: 'status' });
    this.alertEl = h('p', { class: 'alert', role: 'alert', hidden: true });
    this.fieldsEl = h('div', { class: 'fields' });
    this.optionsEl = h('details', { class: 'options', open: true, hidden: true }, h('summary', {}, 'Options'), this.fieldsEl);
    this.inputLabel = h('label', { for: 'gg-message', class: 'label' }, 'Message');
    this.input = h('textarea', { id: 'gg-message', rows: '2', maxlength: '20000', 'aria-describedby': 'gg-hint' });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
        ev.preventDefault();
        this.send();
      }
    });
    this.sendBtn = h('button', { type: 'submit', class: 'primary send' }, 'Send');
    this.cancelBtn = h('button', { type: 'button', class: 'secondary cancel', hidden: true, onclick: () => this.cancelActive() }, 'Cancel');
    this.hint = h('p', { id: 'gg-hint', class: 'hint' }, 'Enter sends · Shift+Enter adds a line');
    this.composer = h(
      'form',
      { class: 'composer', novalidate: true },
      this.inputLabel,
      h('div', { class: 'row' }, this.input, h('div', { class: 'actions' }, this.sendBtn, this.cancelBtn)),
      this.optionsEl,
      this.hint,
    );
    this.composer.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.send();
    });
    this.frame = h(
      'div',
      { class: 'frame', part: 'frame' },
      h('header', { class: 'head' }, this.titleEl, this.connEl, h('span', { class: 'spacer' }), this.themeBtn, this.newBtn),
      this.log,
      this.alertEl,
      this.composer,
      this.statusRegion,
    );
    this.root.append(h('link', { rel: 'stylesheet', href: STYLESHEET }), this.frame);
  }

  renderForm() {
    const form = this.currentForm();
    this.inputLabel.textContent = form.messageLabel || 'Message';
    this.input.placeholder = form.placeholder || 'Type a message';
    const previous = this.optionValues();
    this.fieldsEl.replaceChildren();
    for (const field of form.fields || []) {
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
          placeholder: field.placeholder,
          required: field.required,
        });
        if (field.value !== undefined) control.value = String(field.value);
      }
      control.dataset.field = field.name;
      if (field.name in previous && previous[field.name] !== undefined) {
        if (control.type === 'checkbox') control.checked = previous[field.name];
        else control.value = String(previous[field.name]);
      }
      this.fieldsEl.append(h('div', { class: `field ${field.type}` }, h('label', { for: id }, field.label || field.name), control));
    }
    this.optionsEl.hidden = !(form.fields || []).length;
  }

  updateComposer() {
    const active = this.activeTurn();
    this.sendBtn.disabled = this.sending || Boolean(active);
    this.cancelBtn.hidden = !active;
    this.frame.dataset.busy = active ? 'true' : 'false';
  }

  setConnection(state) {
    this.connEl.dataset.state = state;
    this.connText.textContent = CONNECTION_TEXT[state] || state;
  }

  scrollDown() {
    if (this.stick) this.log.scrollTop = this.log.scrollHeight;
  }

  showError(err, fallback) {
    let text = fallback || 'Something went wrong.';
    if (err instanceof ApiError) {
      if (err.status === 401) {
        text = 'Sign in to chat: the server needs a valid token.';
        this.emit('graphgate-auth-required', {});
      } else if (err.status === 0) text = 'The server could not be reached. Try again in a moment.';
      else text = fallback || err.message;
    }
    this.alertEl.textContent = text;
    this.alertEl.hidden = false;
  }

  clearError() {
    this.alertEl.hidden = true;
    this.alertEl.textContent = '';
  }

  effectiveTheme() {
    const chosen = storedTheme();
    if (chosen) return chosen;
    const attr = this.getAttribute('theme');
    if (attr === 'light' || attr === 'dark') return attr;
    return this.media.matches ? 'dark' : 'light';
  }

  applyTheme() {
    const theme = this.effectiveTheme();
    this.frame.dataset.theme = theme;
    const next = theme === 'dark' ? 'light' : 'dark';
    this.themeBtn.textContent = theme === 'dark' ? '☀' : '☾';
    this.themeBtn.setAttribute('aria-label', `Switch to ${next} theme`);
    this.themeBtn.title = `Switch to ${next} theme`;
    this.emit('graphgate-theme', { theme });
  }

  toggleTheme() {
    const next = this.effectiveTheme() === 'dark' ? 'light' : 'dark';
    try {
      window.localStorage.setItem(THEME_KEY, next);
    } catch {
      this.setAttribute('theme', next);
    }
    this.applyTheme();
  }
}
