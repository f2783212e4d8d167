// The gateway's HTTP API, as the widget uses it: bearer-authenticated JSON requests.

/** A refused request: ``status`` is the HTTP status, ``code`` and ``message`` come from the error body. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export class GatewayClient {
  /**
   * @param {string} baseUrl  the gateway's origin (and path prefix, if any), without a trailing slash
   * @param {() => Promise<string|null>} getToken  the bearer token to send
   * @param {() => Promise<string|null>} [refreshToken]  a fresh token after a 401, or null to give up
   */
  constructor(baseUrl, getToken, refreshToken) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.getToken = getToken;
    this.refreshToken = refreshToken;
  }

  /** Send one JSON request; resolve with the parsed body or reject with ``ApiError``. */
  async request(method, path, body, { auth = true, retried = false } = {}) {
    const headers = { Accept: 'application/json' };
    const raw = typeof Blob !== 'undefined' && body instanceof Blob; // a file: sent as is, with its own type
    if (body !== undefined) headers['Content-Type'] = raw ? body.type || 'application/octet-stream' : 'application/json';
    if (auth) {
      const token = await this.getToken();
      if (!token) throw new ApiError(401, 'unauthorized', 'sign in first');
      headers.Authorization = `Bearer ${token}`;
    }
    let resp;
    try {
      resp = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined || raw ? body : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'network_error', 'the server could not be reached');
    }
    if (resp.status === 401 && auth && !retried && this.refreshToken && (await this.refreshToken())) {
      return this.request(method, path, body, { auth, retried: true });
    }
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(resp.status, err.code || `http_${resp.status}`, err.message || resp.statusText || 'request failed');
    }
    return data;
  }

  graphs() {
    return this.request('GET', '/api/v1/graphs');
  }

  createTask(body) {
    return this.request('POST', '/api/v1/tasks', body);
  }

  getTask(taskId) {
    return this.request('GET', `/api/v1/tasks/${encodeURIComponent(taskId)}`);
  }

  resume(taskId, answer, interruptId) {
    const body = { answer };
    if (interruptId) body.interrupt_id = interruptId;
    return this.request('POST', `/api/v1/tasks/${encodeURIComponent(taskId)}/resume`, body);
  }

  /** 👍 (1) or 👎 (-1) on a completed task's answer, with an optional comment. */
  feedback(taskId, score, comment) {
    return this.request('POST', `/api/v1/tasks/${encodeURIComponent(taskId)}/feedback`, { score, comment: comment || '' });
  }

  /** The signed-in person's conversations: ``{sessions: [{session_id, graph, title, status, active, updated_at, ...}]}``. */
  sessions(limit = 30) {
    return this.request('GET', `/api/v1/sessions?limit=${encodeURIComponent(limit)}`);
  }

    cancel(taskId) {
    return this.request('POST', `/api/v1/tasks/${encodeURIComponent(taskId)}/cancel`);
  }

  /** Store a file to send with the next message: resolves with ``{file_id, name, mime_type, size, url}``. */
  uploadFile(file) {
    return this.request('POST', `/api/v1/files?name=${encodeURIComponent(file.name || 'file')}`, file);
  }

  /** A short-lived token that opens one session's event stream (EventSource cannot send headers). */
  streamToken(sessionId) {
    return this.request('POST', `/api/v1/events/${encodeURIComponent(sessionId)}/token`);
  }

  /** The session's event stream URL for ``token``, resuming after ``lastEventId``. */
  eventsUrl(sessionId, token, lastEventId) {
    const params = new URLSearchParams({ token });
    if (lastEventId) params.set('last_event_id', lastEventId);
    return `${this.baseUrl}/api/v1/events/${encodeURIComponent(sessionId)}?${params}`;
  }

  /** A development bearer token for ``sub`` (only on servers with GRAPHGATE_DEV_LOGIN=true). */
  devToken(sub) {
    return this.request('POST', '/api/v1/dev/token', { sub }, { auth: false });
  }
}
