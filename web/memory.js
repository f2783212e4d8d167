// What a widget keeps across reloads, in the page's localStorage: the conversation it shows, per gateway,
// graph and signed-in person (the ``sub`` of the bearer token, read but not verified: it only names the
// entry), and in launcher mode whether its panel was open. A token that is not a JWT keeps nothing, so one
// person's conversation is never offered to another. ``remember="false"`` on the element turns it off.

const PREFIX = 'graphgate-chat';

/** The ``sub`` claim of a JWT, or null (the signature is the server's business). */
export function subjectOf(token) {
  const part = typeof token === 'string' ? token.split('.')[1] : null;
  if (!part) return null;
  try {
    const bytes = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const sub = JSON.parse(new TextDecoder().decode(Uint8Array.from(bytes, (c) => c.charCodeAt(0)))).sub;
    return typeof sub === 'string' && sub ? sub : null;
  } catch {
    return null;
  }
}

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage is off (private mode, a sandboxed frame)
  }
}

export class Memory {
  /** @param {HTMLElement & {auth: import('./auth.js').TokenSource, client: {baseUrl: string}, graph: string|null}} el */
  constructor(el) {
    this.el = el;
  }

  get enabled() {
    return this.el.getAttribute('remember') !== 'false' && storage() !== null;
  }

  /** The storage key for ``what`` of the current person, graph and gateway, or null when nothing is kept.
   * (The graph as the page named it: a widget without one keeps one conversation for the server's default.) */
  async key(what, graph = this.el.getAttribute('graph')) {
    if (!this.enabled) return null;
    let token = null;
    try {
      token = await this.el.auth.current();
    } catch {
      token = null;
    }
    const sub = subjectOf(token);
    return sub ? `${PREFIX}:${what}:${this.el.client.baseUrl}:${graph || ''}:${sub}` : null;
  }

  /** The conversation last shown for ``graph``, or null. */
  async session(graph) {
    const key = await this.key('session', graph);
    return key ? storage().getItem(key) : null;
  }

  /** Keep ``sessionId`` as the conversation of the current graph (null forgets it). */
  async keep(sessionId) {
    const key = await this.key('session');
    if (!key) return;
    if (sessionId) storage().setItem(key, sessionId);
    else storage().removeItem(key);
  }

  /** Launcher mode: was the panel open? (per page visit and gateway; kept in sessionStorage) */
  get panelOpen() {
    try {
      return window.sessionStorage.getItem(`${PREFIX}:open:${this.el.client.baseUrl}`) === 'true';
    } catch {
      return false;
    }
  }

  set panelOpen(open) {
    try {
      window.sessionStorage.setItem(`${PREFIX}:open:${this.el.client.baseUrl}`, String(open));
    } catch {
      /* storage is off */
    }
  }
}
