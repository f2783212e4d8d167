// <graphgate-chat>: a chat with a LangGraph graph behind a graphgate gateway.
//
// Attributes: graph, api, token, session-id, theme (light | dark), heading. Properties: token, getToken
// (async () => token, called when there is no token or the server refused it), sessionId, lastEventId,
// send(text), newConversation(). Events (bubbling, composed): graphgate-event {id, event} for every event,
// once, in order, before it is shown; graphgate-session {sessionId}; graphgate-theme {theme};
// graphgate-auth-required. docs/web.md is the embedding guide.
//
// This module is the element itself: its attributes, properties and lifecycle, and the wiring of its parts,
// each in its own module: the conversation (web/conversation.js: session, event stream, turns), the composer
// (web/composer.js), sign-in (web/auth.js), the status line (web/statusline.js) and the theme (web/theme.js).

import { TokenSource } from './auth.js';
import { GatewayClient } from './client.js';
import { Composer } from './composer.js';
import { Conversation } from './conversation.js';
import { h } from './dom.js';
import { FORMS, formFor, taskBody } from './forms.js';
import { StatusLine } from './statusline.js';
import { ThemeChoice } from './theme.js';

const STYLESHEET = new URL('./widget.css', import.meta.url).href;
const DEFAULT_API = new URL('..', import.meta.url).href; // the widget is served at <gateway>/web/

export class GraphgateChat extends HTMLElement {
  static observedAttributes = ['graph', 'api', 'token', 'session-id', 'theme', 'heading'];

  /** Form configs by graph name; add yours before sending (see web/forms.js). */
  static forms = FORMS;

  constructor() {
    super();
    this._client = null;
    this._reflecting = false;
    this.graphList = null;
    this.form = null;
    this.sending = false;
    this.auth = new TokenSource({
      onChange: () => this.authChanged(),
      onRequired: () => this.emit('graphgate-auth-required', {}),
    });
    this.themeChoice = new ThemeChoice(this, () => this.applyTheme());
    this.statusLine = new StatusLine(() => this.emit('graphgate-auth-required', {}));
    this.composer = new Composer({
      onSend: () => this.send(),
      onCancel: () => this.conversation.cancelActive(),
      upload: (file) => this.client.uploadFile(file),
    });
    this.conversation = new Conversation({
      client: () => this.client,
      steps: () => this.currentForm().steps || {},
      onEvent: (id, envelope) => this.emit('graphgate-event', { id, event: envelope }),
      onStreamState: (state, detail) => this.streamState(state, detail),
      onChange: () => this.updateComposer(),
      showError: (err) => this.statusLine.showError(err),
      clearError: () => this.statusLine.clearError(),
      announce: (text) => this.statusLine.announce(text),
      focus: (el) => {
        // a question takes the focus only when the reader is not busy elsewhere on the page
        const active = document.activeElement;
        if (el && (!active || active === document.body || active === this)) el.focus({ preventScroll: true });
      },
      answered: () => this.focusComposer(),
    });
    this.root = this.attachShadow({ mode: 'open' });
    this.build();
  }

  // --- public API ------------------------------------------------------------------------------------

  get token() {
    return this.auth.token;
  }

  set token(value) {
    this.auth.token = value || null;
    if (this.isConnected) this.auth.changed();
  }

  get getToken() {
    return this.auth.getToken;
  }

  set getToken(fn) {
    this.auth.getToken = typeof fn === 'function' ? fn : null;
    if (this.isConnected) this.auth.changed();
  }

  get sessionId() {
    return this.conversation.sessionId;
  }

  /** The id of the last event shown. */
  get lastEventId() {
    return this.conversation.lastEventId;
  }

  set lastEventId(id) {
    this.conversation.lastEventId = id;
  }

  /** The theme in use: 'light' or 'dark'. */
  get theme() {
    return this.themeChoice.current();
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
    if (typeof text === 'string') this.composer.text = text;
    const message = this.composer.text.trim();
    const files = this.composer.attachments.ids();
    const asking = this.questionToAnswer();
    if (asking && message && !files.length) {
      // the task waits on one question that takes words: the message box answers it
      asking.text.input.value = message;
      asking.text.el.requestSubmit();
      this.composer.sent();
      return null;
    }
    if ((!message && !files.length) || this.sending || this.conversation.activeTurn()) return null;
    this.sending = true;
    this.statusLine.clearError();
    this.updateComposer();
    try {
      const body = taskBody(this.currentForm(), this.graph, message, this.composer.values());
      if (files.length) body.files = files;
      const created = await this.conversation.start(body);
      this.composer.sent();
      if (created.session_id !== this.conversation.sessionId) this.setSession(created.session_id, false);
      return created;
    } catch (err) {
      this.statusLine.showError(err);
      return null;
    } finally {
      this.sending = false;
      this.updateComposer();
    }
  }

  /** Leave this conversation; the next message starts a new session. */
  newConversation() {
    this.setSession(null, true);
    this.composer.focus();
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
    if (!this.auth.token && this.hasAttribute('token')) this.auth.token = this.getAttribute('token');
    this.themeChoice.watch();
    this.applyTheme();
    this.titleEl.textContent = this.getAttribute('heading') || 'Chat';
    this.renderForm();
    const session = this.getAttribute('session-id');
    if (session && session !== this.sessionId) this.setSession(session, true);
    this.auth.changed();
  }

  disconnectedCallback() {
    this.themeChoice.unwatch();
    this.conversation.close();
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
        if (this.sessionId && this.isConnected) this.conversation.follow();
        break;
      case 'token':
        this.token = value;
        break;
      case 'session-id':
        if (this.isConnected && (value || null) !== this.sessionId) this.setSession(value || null, true);
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

  // --- wiring -------------------------------------------------------------------------------------------

  /** The gateway client for the ``api`` attribute (made again when it changes). */
  get client() {
    if (!this._client) {
      const base = this.getAttribute('api') || DEFAULT_API;
      this._client = new GatewayClient(base, () => this.auth.current(), () => this.auth.refresh());
    }
    return this._client;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  /** The token or getToken changed (once for both when set together): load the graphs and follow the session. */
  authChanged() {
    this.updateComposer();
    if (!this.auth.has()) return;
    requestAnimationFrame(() => this.focusComposer()); // after the host page hid its sign-in form
    this.loadGraphs();
    if (this.sessionId && !this.conversation.stream) this.conversation.follow();
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

  /** The form of the current graph: a registered one, or one made from the graph's input schema. */
  currentForm() {
    if (!this.form) {
      const name = this.graph || '';
      const info = this.graphList && this.graphList.graphs.find((g) => g.name === name);
      this.form = formFor(name, info ? info.input_schema : null, GraphgateChat.forms);
    }
    return this.form;
  }

  renderForm() {
    this.composer.show(this.currentForm());
  }

  /** Switch to ``sessionId`` (null: a new conversation starts with the next message); ``clear`` empties the log. */
  setSession(sessionId, clear) {
    this.conversation.switchTo(sessionId, clear);
    if (clear) {
      this.composer.openOptions();
      this.statusLine.clearError();
    }
    this._reflecting = true;
    if (sessionId) this.setAttribute('session-id', sessionId);
    else this.removeAttribute('session-id');
    this._reflecting = false;
    this.statusLine.connection('idle');
    this.emit('graphgate-session', { sessionId });
    if (sessionId && this.auth.has()) this.conversation.follow();
    this.updateComposer();
  }

  streamState(state, detail) {
    if (state === 'error') this.statusLine.showError(detail, 'This conversation is not available.');
    if (state !== 'unauthorized') this.statusLine.connection(state);
  }

  updateComposer() {
    const turn = this.conversation.activeTurn();
    const active = Boolean(turn);
    const open = turn && typeof turn.pending === 'function' ? turn.pending() : [];
    const answering = Boolean(this.questionToAnswer());
    this.composer.update({ sending: this.sending, active, answering, choosing: open.length > 0 && !answering });
    this.frame.dataset.busy = active ? 'true' : 'false';
  }

  /** Focus the chat: its message box (the host page calls it after signing the reader in). */
  focus(options) {
    this.composer.input.focus(options);
  }

  /** The message box takes the focus when nothing else on the page has it (after sign-in, after an answer). */
  focusComposer() {
    const active = document.activeElement;
    const inside = this.root.activeElement;
    if (!active || active === document.body || (active === this && (!inside || inside.disabled))) this.composer.focus();
  }

  /** The one open question of the running task that takes words (the message box answers it), or null. */
  questionToAnswer() {
    const turn = this.conversation.activeTurn();
    const open = turn && typeof turn.pending === 'function' ? turn.pending() : [];
    return open.length === 1 && open[0].text ? open[0] : null;
  }

  // --- view ---------------------------------------------------------------------------------------------

  build() {
    this.titleEl = h('h2', { class: 'title' }, 'Chat');
    this.themeBtn = h('button', { type: 'button', class: 'icon theme', onclick: () => this.toggleTheme() });
    const newBtn = h('button', { type: 'button', class: 'ghost new', onclick: () => this.newConversation() }, 'New conversation');
    this.frame = h(
      'div',
      { class: 'frame', part: 'frame' },
      h('header', { class: 'head' }, this.titleEl, this.statusLine.connEl, h('span', { class: 'spacer' }), this.themeBtn, newBtn),
      this.conversation.log,
      this.statusLine.alertEl,
      this.composer.el,
      this.statusLine.region,
    );
    this.root.append(h('link', { rel: 'stylesheet', href: STYLESHEET }), this.frame);
  }

  applyTheme() {
    const theme = this.themeChoice.current();
    this.frame.dataset.theme = theme;
    const next = theme === 'dark' ? 'light' : 'dark';
    this.themeBtn.textContent = theme === 'dark' ? '☀' : '☾';
    this.themeBtn.setAttribute('aria-label', `Switch to ${next} theme`);
    this.themeBtn.title = `Switch to ${next} theme`;
    this.emit('graphgate-theme', { theme });
  }

  toggleTheme() {
    this.themeChoice.toggle();
    this.applyTheme();
  }
}
