// Sign-in for the widget: the bearer token it holds, the page's ``getToken`` callback that can hand it one,
// and what happens when the server refuses it. The HTTP client and the event stream ask here for a token;
// the page sets ``token`` and ``getToken`` on the element, often one right after the other, so a change is
// reported once, after both (docs/web.md, "Handing the widget a token").

export class TokenSource {
  /**
   * @param {{onChange: () => void, onRequired: () => void}} handlers
   *   ``onChange``: the token or the callback changed (once per burst of changes);
   *   ``onRequired``: there is no usable token, not even after asking ``getToken`` again
   */
  constructor({ onChange, onRequired }) {
    this.token = null;
    this.getToken = null;
    this.onChange = onChange;
    this.onRequired = onRequired;
    this.queued = false;
  }

  /** Is there a token, or a way to get one? */
  has() {
    return Boolean(this.token || this.getToken);
  }

  /** The token to send: the one held, or what ``getToken({refresh: false})`` gives (kept for next time). */
  async current() {
    if (this.token) return this.token;
    if (!this.getToken) return null;
    this.token = (await this.getToken({ refresh: false })) || null;
    return this.token;
  }

  /** The server refused the token: drop it and ask ``getToken({refresh: true})`` for a new one, or give up. */
  async refresh() {
    this.token = null;
    if (this.getToken) {
      try {
        this.token = (await this.getToken({ refresh: true })) || null;
      } catch {
        this.token = null;
      }
    }
    if (!this.token) this.onRequired();
    return this.token;
  }

  /** Report a change with ``onChange`` once the current burst of changes is over (a microtask later). */
  changed() {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.onChange();
    });
  }
}
