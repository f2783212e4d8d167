// One conversation as the widget shows it: which session it is, that session's event stream, and the log
// with one TurnView per task, built from the events in the order they arrive. It starts, answers and cancels
// the conversation's tasks through the gateway. What surrounds it (the composer, the status line, the
// element's attribute and events) it reaches only through the callbacks it is given.

import { ApiError } from './client.js';
import { h } from './dom.js';
import { SessionStream, TERMINAL_EVENT_TYPES } from './stream.js';
import { TurnView } from './turn.js';

const STICK_PX = 96; // the log follows new content while the reader is this close to its end

export class Conversation {
  /**
   * @param {{
   *   client: () => import('./client.js').GatewayClient,
   *   steps: () => Record<string, string>,
   *   onEvent: (id: string, envelope: object) => void,
   *   onStreamState: (state: string, detail?: any) => void,
   *   onChange: () => void,
   *   showError: (err: any) => void,
   *   clearError: () => void,
   *   announce: (text: string) => void,
   *   focus: (el: HTMLElement) => void,
   *   answered: () => void,
   *   resend: (body: object) => Promise<object|null>,
   *   edit: (text: string) => void,
   *   t: (key: string, params?: object) => string,
   * }} host
   *   ``onEvent``: an event of this conversation, before it is shown; ``onStreamState``: the state of the
   *   stream being followed (SessionStream's states); ``onChange``: which task is active may have changed;
   *   ``steps``, ``announce`` and ``focus`` are handed to each TurnView; ``resend``: start a task with this
   *   body (Retry); ``edit``: put these words in the message box; ``t``: the widget's words (web/i18n.js)
   */
  constructor(host) {
    this.host = host;
    this.sessionId = null;
    this.stream = null;
    this.turns = new Map(); // task id -> TurnView
    this.pendingTaskId = null; // created here, no event of it seen yet
    this.lastEventId = null;
    this.stick = true;
    this.empty = h('p', { class: 'empty' }, host.t('empty'));
    this.log = h('section', { class: 'log', 'aria-label': host.t('conversationLog'), tabindex: '0' }, this.empty);
    this.log.addEventListener('scroll', () => {
      this.stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < STICK_PX;
    });
  }

  /** Stop following the current session and switch to ``sessionId``; ``clear`` also empties the log (and
   * forgets a task created here whose events have not come yet; without it, that task is the new session's). */
  switchTo(sessionId, clear) {
    this.close();
    this.lastEventId = null;
    if (clear) {
      this.pendingTaskId = null;
      for (const turn of this.turns.values()) turn.el.remove();
      this.turns.clear();
      this.empty.hidden = false;
    }
    this.sessionId = sessionId;
  }

  /** Follow the session's events (again, from the last one shown). */
  follow() {
    if (this.stream) this.stream.close();
    const stream = new SessionStream(this.host.client(), this.sessionId, {
      onEvent: (id, envelope) => this.receive(id, envelope),
      onState: (state, detail) => {
        if (stream === this.stream) this.host.onStreamState(state, detail);
      },
    });
    this.stream = stream;
    stream.lastId = this.lastEventId;
    stream.start();
  }

  close() {
    if (this.stream) this.stream.close();
    this.stream = null;
  }

  receive(id, envelope) {
    if (envelope.session_id && envelope.session_id !== this.sessionId) return;
    let turn = this.turns.get(envelope.task_id);
    if (turn && TERMINAL_EVENT_TYPES.has(envelope.type)) turn.flush();
    this.host.onEvent(id, envelope);
    if (!turn) {
      turn = new TurnView(envelope.task_id, this.turnContext());
      this.turns.set(envelope.task_id, turn);
      this.log.append(turn.el);
      this.empty.hidden = true;
    }
    this.lastEventId = id;
    if (this.pendingTaskId === envelope.task_id) this.pendingTaskId = null;
    turn.apply(envelope.type, envelope.data || {}, envelope.ts);
    this.markEditable();
    this.host.onChange();
    this.scrollDown();
  }

  turnContext() {
    return {
      steps: this.host.steps(),
      answer: (turn, interruptId, value) => this.answer(turn, interruptId, value),
      rate: (turn, score, comment) => this.host.client().feedback(turn.taskId, score, comment),
      announce: (text) => this.host.announce(text),
      rendered: () => this.scrollDown(),
      focus: (el) => this.host.focus(el),
      answered: () => this.host.answered && this.host.answered(),
      retry: (turn) => this.retry(turn),
      edit: (turn) => this.host.edit(turn.message),
      t: this.host.t,
    };
  }

  /** Words in the widget's language (it was chosen when the widget joined the page). */
  relabel() {
    this.empty.textContent = this.host.t('empty');
    this.log.setAttribute('aria-label', this.host.t('conversationLog'));
  }

  /** Only the conversation's last message can be edited and sent again, once nothing runs. */
  markEditable() {
    const turns = [...this.turns.values()];
    const idle = !this.activeTurn();
    turns.forEach((turn, i) => (turn.editable = idle && i === turns.length - 1));
  }

  /** Send a turn's task again (its graph, input, options and mode) as a new task of this conversation. */
  async retry(turn) {
    const task = await this.host.client().getTask(turn.taskId);
    await this.host.resend({ graph: task.graph, input: task.input, config: task.config, mode: task.mode });
  }

  /** Create a task of this conversation (a new session when there is none yet); resolves with the gateway's answer. */
  async start(body) {
    if (this.sessionId) body.session_id = this.sessionId;
    const created = await this.host.client().createTask(body);
    if (!this.turns.has(created.task_id)) this.pendingTaskId = created.task_id;
    return created;
  }

  /** Answer one interrupt; a refusal is thrown to the question's card, which shows it (a 401 shows here too). */
  async answer(turn, interruptId, value) {
    this.host.clearError();
    try {
      await this.host.client().resume(turn.taskId, value, interruptId);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.host.showError(err);
      throw err;
    }
  }

  /** Cancel the task that is still going, if any. */
  async cancelActive() {
    const turn = this.activeTurn();
    if (!turn) return;
    this.host.clearError();
    try {
      await this.host.client().cancel(turn.taskId);
    } catch (err) {
      this.host.showError(err);
    }
  }

  /** The task of this conversation that has not ended yet, if any. */
  activeTurn() {
    if (this.pendingTaskId) return { taskId: this.pendingTaskId };
    const turns = [...this.turns.values()];
    for (let i = turns.length - 1; i >= 0; i -= 1) if (turns[i].active) return turns[i];
    return null;
  }

  scrollDown() {
    if (this.stick) this.log.scrollTop = this.log.scrollHeight;
  }
}
