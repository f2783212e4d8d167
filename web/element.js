// <graphgate-chat>: a chat with a LangGraph graph behind a graphgate gateway.
//
// Attributes: graph, api, token, session-id, theme (light | dark), heading, mode (inline | launcher), lang,
// remember (false: no conversation kept across reloads). Properties: token, getToken (async () => token,
// called when there is no token or the server refused it), sessionId, lastEventId, send(text),
// newConversation(), switchGraph(name). Events (bubbling, composed): graphgate-event {id, event} for every
// event, once, in order, before it is shown; graphgate-session {sessionId}; graphgate-theme {theme};
// graphgate-auth-required; graphgate-error {code, message}. docs/web.md is the embedding guide.
//
// This module is the element itself: its attributes, properties and lifecycle, and the wiring of its parts,
// each in its own module: the conversation (web/conversation.js: session, event stream, turns), the composer
// (web/composer.js), sign-in (web/auth.js), the status line (web/statusline.js), the theme (web/theme.js),
// the conversation list (web/sessions.js), the leave prompt (web/leave.js), what is kept across reloads
// (web/memory.js) and the words (web/i18n.js).

import { TokenSource } from './auth.js';
import { ApiError, GatewayClient } from './client.js';
import { Composer } from './composer.js';
import { Conversation } from './conversation.js';
import { h, icon } from './dom.js';
import { FORMS, formFor, taskBody } from './forms.js';
import { english, pickLanguage, translator } from './i18n.js';
import { LeavePrompt } from './leave.js';
import { Memory } from './memory.js';
import { SessionList } from './sessions.js';
import { StatusLine } from './statusline.js';
import { ThemeChoice } from './theme.js';

const STYLESHEET = new URL('./widget.css', import.meta.url).href;
const DEFAULT_API = new URL('..', import.meta.url).href; // the widget is served at <gateway>/web/

export class GraphgateChat extends HTMLElement {
  static observedAttributes = ['graph', 'api', 'token', 'session-id', 'theme', 'heading', 'mode', 'lang', 'data-lang'];

  /** Form configs by graph name; add yours before sending (see web/forms.js). */
  static forms = FORMS;

  constructor() {
    super();
    this._client = null;
    this._reflecting = false;
    this.graphList = null;
    this.form = null;
    this.sending = false;
    this.loadError = null; // what went wrong loading the graphs, shown until a request succeeds
    this.restored = null; // the session id taken from what was remembered, until it proves to exist
    // the words: English until the widget joins the page and picks its language (connectedCallback)
    this.words = english;
    const t = (key, params) => this.words(key, params);
    Object.defineProperty(t, 'lang', { get: () => this.words.lang });
    this.t = t;
    this.memory = new Memory(this);
    this.auth = new TokenSource({
      onChange: () => this.authChanged(),
      onRequired: () => this.emit('graphgate-auth-required', {}),
    });
    this.themeChoice = new ThemeChoice(this, () => this.applyTheme());
    this.statusLine = new StatusLine(() => this.emit('graphgate-auth-required', {}), t);
    this.composer = new Composer({
      onSend: () => this.send(),
      onCancel: () => this.conversation.cancelActive(),
      upload: (file) => this.client.uploadFile(file),
      t,
    });
    this.leavePrompt = new LeavePrompt(t);
    this.sessionList = new SessionList({
      client: () => this.client,
      t,
      current: () => this.sessionId,
      pick: (id) => this.openConversation(id),
      closed: (back) => {
        this.listBtn.setAttribute('aria-expanded', 'false');
        if (back) this.listBtn.focus();
      },
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
      resend: (body) => this.startTask(body),
      edit: (text) => {
        this.composer.text = text;
        this.composer.focus();
      },
      t,
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
    if (!message && !files.length) return null;
    const body = taskBody(this.currentForm(), this.graph, message, this.composer.values());
    if (files.length) body.files = files;
    const created = await this.startTask(body);
    if (created) this.composer.sent();
    return created;
  }

  /** Start a task of this conversation with ``body`` (Send, Retry); resolves with it, or null when refused. */
  async startTask(body) {
    if (this.sending || this.conversation.activeTurn()) return null;
    this.sending = true;
    this.statusLine.clearError();
    this.updateComposer();
    try {
      const created = await this.conversation.start(body);
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

  /** Leave this conversation (after asking, when a task of it still runs or waits); the next message starts
   * a new session. Resolves false when the reader chose to stay. */
  async newConversation() {
    if (!(await this.mayLeave())) return false;
    this.setSession(null, true);
    this.memory.keep(null);
    this.composer.focus();
    return true;
  }

  /** Chat with another graph: leave this conversation (after asking) for the one last shown with that graph,
   * if any. Resolves false when the reader chose to stay. */
  async switchGraph(name) {
    if (name === this.graph) return true;
    if (!(await this.mayLeave())) return false;
    this.graph = name;
    const remembered = await this.memory.session(name);
    this.restored = remembered;
    this.setSession(remembered || null, true);
    return true;
  }

  /** Show the conversation ``sessionId`` (after asking before leaving a running one). */
  async openConversation(sessionId) {
    this.sessionList.close(false);
    if (sessionId !== this.sessionId) {
      if (!(await this.mayLeave())) return false;
      this.setSession(sessionId, true);
    }
    this.composer.focus();
    return true;
  }

  /** Whether the reader may leave the conversation now: yes when nothing of it runs, else they are asked. */
  async mayLeave() {
    const turn = this.conversation.activeTurn();
    if (!turn) return true;
    const waiting = typeof turn.pending === 'function' && turn.pending().length > 0;
    return this.leavePrompt.ask(waiting);
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
    this.words = translator(pickLanguage(this));
    this.relabel();
    this.themeChoice.watch();
    this.applyTheme();
    this.applyMode();
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
        this.titleEl.textContent = value || this.t('chat');
        break;
      case 'mode':
        this.applyMode();
        break;
      case 'lang':
      case 'data-lang':
        // the widget's own words change at once; turns already shown keep theirs
        if (!this.isConnected) break;
        this.words = translator(pickLanguage(this));
        this.relabel();
        this.applyTheme();
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

  /** The token or getToken changed (once for both when set together): load the graphs and follow the session
   * (or the one this person had open here before a reload). */
  async authChanged() {
    this.updateComposer();
    if (!this.auth.has()) return;
    requestAnimationFrame(() => this.focusComposer()); // after the host page hid its sign-in form
    this.loadGraphs();
    if (this.sessionId) {
      if (!this.conversation.stream) this.conversation.follow();
      this.memory.keep(this.sessionId);
      return;
    }
    const remembered = await this.memory.session();
    if (remembered && !this.sessionId) {
      this.restored = remembered;
      this.setSession(remembered, true);
    }
  }

  async loadGraphs() {
    try {
      this.graphList = await this.client.graphs();
    } catch (err) {
      // the registered forms still work, but a widget that cannot reach its API says so, and why
      await this.showLoadError(err);
      return;
    }
    if (this.loadError) {
      this.loadError = null;
      delete this.frame.dataset.error;
      this.statusLine.clearError();
      this.updateLauncher();
    }
    this.form = null;
    this.renderForm();
  }

  /** Say why the API could not be used: a token it refused, a page origin it does not allow (CORS), or no
   * answer at all. Also told to the host page as ``graphgate-error``. */
  async showLoadError(err) {
    if (err instanceof ApiError && err.status === 401) {
      this.statusLine.showError(err);
      this.loadError = { code: 'unauthorized', message: this.statusLine.alertEl.textContent };
    } else if (err instanceof ApiError && err.status === 0) {
      // a refused CORS request and a server that is down look the same to a script: a request that
      // asks for no CORS reaches a running server (its answer stays unreadable), a down one fails
      const api = this.client.baseUrl;
      let reachable = false;
      try {
        await fetch(`${api}/healthz`, { mode: 'no-cors', credentials: 'omit', cache: 'no-store' });
        reachable = true;
      } catch {
        reachable = false;
      }
      const code = reachable ? 'cors' : 'unreachable';
      const message = this.t(reachable ? 'blockedByCors' : 'cannotLoad', { api, origin: location.origin });
      this.statusLine.showText(message);
      this.loadError = { code, message };
    } else {
      this.statusLine.showError(err);
      this.loadError = { code: (err && err.code) || 'error', message: this.statusLine.alertEl.textContent };
    }
    this.frame.dataset.error = this.loadError.code;
    this.updateLauncher();
    this.emit('graphgate-error', this.loadError);
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
    this.sessionList.close(false);
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
    if (sessionId && this.auth.has()) {
      this.conversation.follow();
      this.memory.keep(sessionId);
    }
    this.updateComposer();
  }

  streamState(state, detail) {
    if (state === 'error' && this.restored && this.restored === this.sessionId) {
      // the conversation remembered from an earlier visit is gone (expired, deleted): start afresh, quietly
      this.restored = null;
      this.memory.keep(null);
      this.setSession(null, true);
      return;
    }
    if (state === 'error') this.statusLine.showError(detail, this.t('conversationUnavailable'));
    if (state !== 'unauthorized') this.statusLine.connection(state);
    this.connState = state;
  }

  updateComposer() {
    const turn = this.conversation.activeTurn();
    const active = Boolean(turn);
    const open = turn && typeof turn.pending === 'function' ? turn.pending() : [];
    const answering = Boolean(this.questionToAnswer());
    this.composer.update({ sending: this.sending, active, answering, choosing: open.length > 0 && !answering });
    this.frame.dataset.busy = active ? 'true' : 'false';
    this.updateLauncher(open.length > 0);
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
    this.titleEl = h('h2', { class: 'title' });
    this.themeBtn = h('button', { type: 'button', class: 'icon theme', onclick: () => this.toggleTheme() });
    // header buttons: an icon and words (the words fold away when the widget is narrow: they stay its name)
    this.listText = h('span', { class: 'btn-text' });
    this.newText = h('span', { class: 'btn-text' });
    this.listBtn = h('button', { type: 'button', class: 'ghost list', 'aria-expanded': 'false', onclick: () => this.toggleList() }, icon('list', 16), this.listText);
    this.newBtn = h('button', { type: 'button', class: 'ghost new', onclick: () => this.newConversation() }, icon('plus', 16), this.newText);
    this.closeBtn = h('button', { type: 'button', class: 'icon close-panel', onclick: () => this.setPanel(false) }, icon('close', 18));
    this.frame = h(
      'div',
      { class: 'frame', part: 'frame' },
      h('header', { class: 'head' }, this.titleEl, this.statusLine.connEl, h('span', { class: 'spacer' }), this.themeBtn, this.listBtn, this.newBtn, this.closeBtn),
      this.sessionList.el,
      this.conversation.log,
      this.leavePrompt.el,
      this.statusLine.alertEl,
      this.composer.el,
      this.statusLine.region,
    );
    // launcher mode: a bubble in the corner opens the chat as a panel above it
    this.badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
    this.launcher = h('button', { type: 'button', class: 'launcher', part: 'launcher', hidden: true, 'aria-expanded': 'false', onclick: () => this.setPanel(this.frame.hidden) }, icon('chat', 26), this.badge);
    this.frame.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.launcherMode && !ev.defaultPrevented) this.setPanel(false);
    });
    this.root.append(h('link', { rel: 'stylesheet', href: STYLESHEET }), this.frame, this.launcher);
  }

  /** Words in the widget's language, on everything already built. */
  relabel() {
    this.titleEl.textContent = this.getAttribute('heading') || this.t('chat');
    this.listText.textContent = this.t('conversations');
    this.listBtn.title = this.t('conversations');
    this.newText.textContent = this.t('newConversation');
    this.newBtn.title = this.t('newConversation');
    this.closeBtn.setAttribute('aria-label', this.t('closeChat'));
    this.closeBtn.title = this.t('closeChat');
    this.composer.relabel();
    this.conversation.relabel();
    this.sessionList.relabel();
    this.leavePrompt.relabel();
    this.statusLine.connection(this.connState || 'idle');
    this.updateLauncher(false);
  }

  get launcherMode() {
    return this.getAttribute('mode') === 'launcher';
  }

  /** Inline (the default) or launcher mode; a launcher reopens its panel after a reload if it was open. */
  applyMode() {
    const launcher = this.launcherMode;
    this.launcher.hidden = !launcher;
    this.closeBtn.hidden = !launcher;
    this.frame.dataset.mode = launcher ? 'launcher' : 'inline';
    this.setPanel(!launcher || this.memory.panelOpen, false);
  }

  /** Launcher mode: open or close the panel (``focus``: move the focus into it, or back to the bubble). */
  setPanel(open, focus = true) {
    this.frame.hidden = !open;
    this.launcher.setAttribute('aria-expanded', String(open));
    if (!this.launcherMode) return;
    this.memory.panelOpen = open;
    this.updateLauncher();
    if (focus) {
      if (open) this.composer.focus();
      else this.launcher.focus();
    }
  }

  /** The bubble's label, and its badge while a question waits behind a closed panel. */
  updateLauncher(waiting = this.launcher.dataset.waiting === 'true') {
    this.launcher.dataset.waiting = String(waiting);
    const closed = this.frame.hidden;
    this.badge.hidden = !(closed && (waiting || this.loadError));
    this.badge.dataset.kind = this.loadError ? 'error' : 'question';
    const label = this.t(closed ? 'openChat' : 'closeChat');
    const more = closed && this.loadError ? this.loadError.message : closed && waiting ? this.t('unanswered') : '';
    this.launcher.setAttribute('aria-label', more ? `${label}: ${more}` : label);
    this.launcher.title = more || label;
  }

  async toggleList() {
    if (this.sessionList.isOpen) {
      this.sessionList.close();
    } else {
      this.listBtn.setAttribute('aria-expanded', 'true');
      await this.sessionList.open();
    }
    this.listBtn.setAttribute('aria-expanded', String(this.sessionList.isOpen));
  }

  applyTheme() {
    const theme = this.themeChoice.current();
    this.frame.dataset.theme = theme;
    this.launcher.dataset.theme = theme;
    const next = this.t(theme === 'dark' ? 'light' : 'dark');
    this.themeBtn.textContent = theme === 'dark' ? '☀' : '☾';
    this.themeBtn.setAttribute('aria-label', this.t('switchTheme', { theme: next }));
    this.themeBtn.title = this.t('switchTheme', { theme: next });
    this.emit('graphgate-theme', { theme });
  }

  toggleTheme() {
    this.themeChoice.toggle();
    this.applyTheme();
  }
}
