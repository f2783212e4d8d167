// A task's statuses, named as graphgate/core/store.py's TaskStatus names them. A turn shows its task's status
// (and styles it through ``data-status``); the widget spells these names only here, and
// tests/web/test_names.py holds them to the Python enum.

export const TaskStatus = Object.freeze({
  QUEUED: 'queued', // accepted; waiting for a worker (or for the session's active task to end)
  RUNNING: 'running', // a worker is running the graph
  WAITING_INPUT: 'waiting_input', // the graph called interrupt(); an answer continues it
  COMPLETED: 'completed', // the graph finished
  FAILED: 'failed', // the graph raised after its retries, or hit a time limit
  CANCELLED: 'cancelled', // stopped on request, or replaced by a newer task
});

// the statuses a task never leaves (graphgate/core/store.py TERMINAL_STATUSES)
export const TERMINAL_STATUSES = new Set([TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED]);
