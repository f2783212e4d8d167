// One session's event stream: EventSource with a session stream token, resumable and deduplicated.
//
// Every event is handed to ``onEvent`` exactly once and in stream order: stream ids (``<ms>-<seq>``) only
// grow, so an event whose id is not greater than the last one seen is a replay and is dropped. On a
// network error EventSource reconnects by itself and sends ``Last-Event-ID``; when that cannot work
// (the stream token expired, the server refused or restarted, the browser gave up) the stream mints a
// new token and opens a new EventSource with ``last_event_id=`` in the URL.

import { ApiError } from './client.js';

// every event type of the gateway, named as graphgate/core/events.py's EventType names them; the widget spells
// them only here (tests/web/test_names.py holds this to the Python enum). EventSource delivers only the types
// it listens to, so the stream listens to all of them.
export const EventType = Object.freeze({
  TASK_QUEUED: 'task.queued',
  TASK_STARTED: 'task.started',
  NODE_COMPLETED: 'node.completed',
  MESSAGE_DELTA: 'message.delta',
  CUSTOM: 'custom',
  TOOL_STARTED: 'tool.started',
  TOOL_COMPLETED: 'tool.completed',
  INTERRUPT: 'interrupt',
  INTERRUPT_ANSWERED: 'interrupt.answered',
  TASK_RESUMED: 'task.resumed',
  TASK_RETRYING: 'task.retrying',
  TASK_COMPLETED: 'task.completed',
  TASK_FAILED: 'task.failed',
  TASK_CANCELLED: 'task.cancelled',
  STREAM_CHUNK: 'stream.chunk', // a LangGraph API run's stream chunk: the widget draws nothing of it
  DELIVERY_FAILED: 'delivery.failed',
  FEEDBACK: 'feedback', // 👍/👎 on a final answer
  APPROVAL_REQUESTED: 'approval.requested', // the approval events: a routed question's audit trail
  APPROVAL_GIVEN: 'approval.given',
  APPROVAL_REFUSED: 'approval.refused',
  APPROVAL_REMINDED: 'approval.reminded',
  APPROVAL_ESCALATED: 'approval.escalated',
  APPROVAL_TIMED_OUT: 'approval.timed_out',
});

export const EVENT_TYPES = Object.freeze(Object.values(EventType));

// the events that end a task (graphgate/core/events.py TERMINAL_EVENTS)
export const TERMINAL_EVENT_TYPES = new Set([EventType.TASK_COMPLETED, EventType.TASK_FAILED, EventType.TASK_CANCELLED]);

const STALL_MS = 6000; // a reconnect that has not opened by then is abandoned and retried with a new token
const MAX_BACKOFF_MS = 10000;

/** Compare two stream ids (``<ms>-<seq>``): negative, zero or positive. */
export function compareIds(a, b) {
  const [am, as] = String(a).split('-').map(BigInt);
  const [bm, bs] = String(b).split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

const ID_PATTERN = /^\d+-\d+$/;

export class SessionStream {
  /**
   * @param {import('./client.js').GatewayClient} client
   * @param {string} sessionId
   * @param {{onEvent: (id: string, envelope: object) => void, onState?: (state: string, detail?: any) => void}} handlers
   *   ``onState`` gets 'connecting', 'open', 'reconnecting', 'closed' or 'error' (with the ApiError)
   */
  constructor(client, sessionId, { onEvent, onState = () => {} }) {
    this.client = client;
    this.sessionId = sessionId;
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastId = null;
    this.source = null;
    this.closed = false;
    this.failures = 0;
    this.timer = null;
    this.stallTimer = null;
    this.state = 'idle';
    this.onOnline = () => {
      if (!this.closed && this.state !== 'open') this.reconnectNow();
    };
    this.handle = (message) => this.receive(message);
  }

  start() {
    window.addEventListener('online', this.onOnline);
    this.connect();
    return this;
  }

  close() {
    this.closed = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.timer);
    clearTimeout(this.stallTimer);
    this.dropSource();
    this.setState('closed');
  }

  setState(state, detail) {
    this.state = state;
    this.onState(state, detail);
  }

  dropSource() {
    if (!this.source) return;
    for (const type of EVENT_TYPES) this.source.removeEventListener(type, this.handle);
    this.source.onopen = null;
    this.source.onerror = null;
    this.source.close();
    this.source = null;
  }

  async connect() {
    if (this.closed) return;
    const attempt = (this.attempt = (this.attempt || 0) + 1);
    this.setState(this.failures ? 'reconnecting' : 'connecting');
    let minted;
    try {
      minted = await this.client.streamToken(this.sessionId);
    } catch (err) {
      if (this.closed || attempt !== this.attempt) return;
      if (err instanceof ApiError && [403, 404, 422].includes(err.status)) {
        this.closed = true;
        this.setState('error', err);
        return;
      }
      if (err instanceof ApiError && err.status === 401) this.onState('unauthorized', err);
      this.retryLater();
      return;
    }
    if (this.closed || attempt !== this.attempt) return;
    this.dropSource();
    const source = new EventSource(this.client.eventsUrl(this.sessionId, minted.token, this.lastId));
    this.source = source;
    for (const type of EVENT_TYPES) source.addEventListener(type, this.handle);
    source.onopen = () => {
      clearTimeout(this.stallTimer);
      this.failures = 0;
      this.setState('open');
    };
    source.onerror = () => {
      if (this.closed || source !== this.source) return;
      if (source.readyState === EventSource.CLOSED) {
        // refused (401 after the token expired, 5xx while restarting...): mint a new token and go on
        this.dropSource();
        this.retryLater();
        return;
      }
      // the browser reconnects by itself with Last-Event-ID; take over if that does not work out
      this.setState('reconnecting');
      clearTimeout(this.stallTimer);
      this.stallTimer = setTimeout(() => {
        if (source === this.source && source.readyState !== EventSource.OPEN) this.reconnectNow();
      }, STALL_MS);
    };
  }

  retryLater() {
    if (this.closed) return;
    this.failures += 1;
    this.setState('reconnecting');
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.failures - 1, 5));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), base / 2 + Math.random() * (base / 2));
  }

  reconnectNow() {
    if (this.closed) return;
    clearTimeout(this.timer);
    clearTimeout(this.stallTimer);
    this.dropSource();
    this.failures = Math.max(this.failures, 1);
    this.connect();
  }

  receive(message) {
    const id = message.lastEventId;
    if (!ID_PATTERN.test(id || '')) return;
    if (this.lastId && compareIds(id, this.lastId) <= 0) return; // already shown
    let envelope;
    try {
      envelope = JSON.parse(message.data);
    } catch {
      return;
    }
    this.lastId = id;
    this.onEvent(id, envelope);
  }
}
