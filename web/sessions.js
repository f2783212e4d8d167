// The conversation list: the signed-in person's conversations (GET /api/v1/sessions), newest activity first,
// each with its title (its first message), where its latest task stands and when. Picking one hands its
// session id to the element, which asks before leaving a running conversation (web/leave.js) and follows
// the picked one from its first event, so a task still running there streams on.

import { h, icon } from './dom.js';
import { TaskStatus } from './taskstatus.js';

const STATE_WORDS = {
  [TaskStatus.QUEUED]: 'stateRunning',
  [TaskStatus.RUNNING]: 'stateRunning',
  [TaskStatus.WAITING_INPUT]: 'stateWaiting',
  [TaskStatus.FAILED]: 'stateFailed',
  [TaskStatus.CANCELLED]: 'stateCancelled',
};
const LIST_LIMIT = 30;

export class SessionList {
  /**
   * @param {{client: () => import('./client.js').GatewayClient, t: (key: string, params?: object) => string,
   *          current: () => string|null, pick: (sessionId: string) => void, closed: (back: boolean) => void}} host
   *   ``current``: the conversation shown now; ``pick``: the reader chose one; ``closed``: the list was closed
   *   (``back``: by the reader, who goes back to what opened it)
   */
  constructor(host) {
    this.host = host;
    this.heading = h('h3', { class: 'sessions-title', id: 'gg-sessions-title' });
    this.closeBtn = h('button', { type: 'button', class: 'icon close', onclick: () => this.close() }, icon('close', 16));
    this.status = h('p', { class: 'sessions-status', 'aria-live': 'polite' });
    this.list = h('ul', { class: 'sessions-list' });
    this.el = h(
      'section',
      { class: 'sessions', hidden: true, 'aria-labelledby': 'gg-sessions-title' },
      h('div', { class: 'sessions-head' }, this.heading, this.closeBtn),
      this.status,
      this.list,
    );
    this.el.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        this.close();
      }
    });
    this.relabel();
  }

  get isOpen() {
    return !this.el.hidden;
  }

  relabel() {
    const t = this.host.t;
    this.heading.textContent = t('conversations');
    this.closeBtn.setAttribute('aria-label', t('close'));
    this.closeBtn.title = t('close');
  }

  /** Show the list and load it (again). */
  async open() {
    this.el.hidden = false;
    this.status.textContent = '…';
    this.list.replaceChildren();
    let sessions;
    try {
      sessions = (await this.host.client().sessions(LIST_LIMIT)).sessions;
    } catch {
      this.status.textContent = this.host.t('conversationsFailed');
      this.closeBtn.focus();
      return;
    }
    this.status.textContent = sessions.length ? '' : this.host.t('conversationsEmpty');
    this.list.replaceChildren(...sessions.map((s) => this.item(s)));
    const first = this.list.querySelector('[aria-current="true"]') || this.list.querySelector('button') || this.closeBtn;
    first.focus();
  }

  /** Hide the list; ``back``: the focus goes back to the button that opened it. */
  close(back = true) {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.host.closed(back);
  }

  item(session) {
    const t = this.host.t;
    const current = session.session_id === this.host.current();
    const state = STATE_WORDS[session.status] ? t(STATE_WORDS[session.status]) : '';
    const when = new Date(session.updated_at * 1000);
    const time = h('time', { class: 'when', datetime: when.toISOString(), title: when.toLocaleString(t.lang) }, shortWhen(when, t.lang));
    const button = h(
      'button',
      { type: 'button', class: 'session', 'data-session-id': session.session_id, 'data-status': session.status || 'empty', 'aria-current': current ? 'true' : 'false' },
      h('span', { class: 'session-title' }, session.title || t('untitled')),
      h('span', { class: 'session-meta' }, session.graph || '', state ? h('span', { class: 'session-state' }, state) : null, current ? h('span', { class: 'session-current' }, t('current')) : null, time),
    );
    button.addEventListener('click', () => this.host.pick(session.session_id));
    return h('li', {}, button);
  }
}

/** "14:03" today, "Nov 28" (or "11月28日") before. */
function shortWhen(date, lang) {
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return date.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' });
  return date.toLocaleDateString(lang, { month: 'short', day: 'numeric' });
}
