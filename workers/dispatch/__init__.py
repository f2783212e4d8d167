"""The dispatcher's parts, one job per module; workers/dispatcher.py puts them together into a process.

* ``shards``: which delivery shards this dispatcher owns (leases, fair share, hand-over) and the fence
  every platform call passes;
* ``reader``: reading the owned shard streams through the consumer group, pending entries first;
* ``lanes``: one ordered lane per session, batches, acks, and the capped retry of a batch that fails;
* ``reconcile``: folding a batch into the task views and bringing the chat up to date, recovery included;
* ``calls``: one platform call (post, edit, find) with pacing, rate limits and retries, for one ``Chat``;
* ``targets``: where a task is delivered (its binding and platform), cached;
* ``faults``: fault injection for tests, inert unless a setting turns it on;
* ``stats``: what the dispatcher counts.

docs/dispatcher.md explains the design.
"""
