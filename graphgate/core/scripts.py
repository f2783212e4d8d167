"""Lua scripts that change a task's state and write the event announcing it in one atomic step, and that create
and delete a session as a whole.

Every key a script touches is declared in KEYS and carries the session's hash tag (graphgate/core/keys.py), so
each script runs on one Redis Cluster slot. The one kind of key a script builds itself, another task record of the
same session (``task_prefix .. id``), is always read before the script's first write: while a slot migrates, a
key already moved makes the script fail on that read, before it changed anything, and the client tries again. The scripts are plain text here; graphgate/core/store.py registers them with a client
and is the only caller.
"""

# Statuses a task can no longer leave.
TERMINAL_LUA = "{completed=true, failed=true, cancelled=true}"

_COMMON = (
    """
local TERMINAL = """
    + TERMINAL_LUA
    + """
local function xadd(stream, maxlen, payload)
  return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'e', payload)
end
-- Write an event to the session stream and, for chat-bound sessions, to their delivery shard stream
-- (delivery_key '' = not chat-bound: see bound()). The shard entry carries the session entry id as 'eid'.
local function emit(events_key, delivery_key, delivery_maxlen, session_id, maxlen, payload)
  local id = xadd(events_key, maxlen, payload)
  if delivery_key ~= '' then
    redis.call('XADD', delivery_key, 'MAXLEN', '~', delivery_maxlen, '*', 'sid', session_id, 'eid', id, 'e', payload)
  end
  return id
end
-- The delivery shard stream is always declared (a cluster routes by it; it shares the session's slot there);
-- it is written only when the flag says a chat follows the session.
local function bound(delivery_key, flag)
  if flag == '1' then return delivery_key end
  return ''
end
local function touch(ttl, ...)
  for _, k in ipairs({...}) do redis.call('EXPIRE', k, ttl) end
end
local function envelope(etype, task_id, session_id, ts, data)
  return cjson.encode({v=1, type=etype, task_id=task_id, session_id=session_id, ts=ts, data=data})
end
-- The session's pending task ids with their statuses, read before a script writes anything (see the top).
local function pending_statuses(pending_key, task_prefix)
  local found = {}
  for _, id in ipairs(redis.call('LRANGE', pending_key, 0, -1)) do
    found[#found + 1] = {id, redis.call('HGET', task_prefix .. id, 'status')}
  end
  return found
end
-- After the session's active task ended: make the next still-queued pending task active (``pending``: what
-- pending_statuses read). Returns its id, or '' when none is waiting.
local function advance(session_key, pending_key, pending)
  for _, item in ipairs(pending) do
    redis.call('LPOP', pending_key)
    if item[2] == 'queued' then
      redis.call('HSET', session_key, 'active', item[1])
      return item[1]
    end
  end
  redis.call('HDEL', session_key, 'active')
  return ''
end
"""
)

# KEYS: session, task, session_tasks, pending, events, delivery
# ARGV: task_id, session_id, owner, graph, multitask, queued_event_json, maxlen, ttl, now, task_prefix,
#       delivery_maxlen, bound ('1': a chat follows the session), then field/value pairs of the task record
# Returns {verdict, detail, event_id}: verdict 'run' (enqueue now), 'wait' (behind the active task),
# 'busy' (multitask=reject and a task is active), 'forbidden' (session owned by someone else),
# 'graph' (session runs another graph; detail names it).
CREATE = (
    _COMMON
    + """
local session_key, task_key, tasks_key, pending_key, events_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local task_id, session_id, owner, graph, multitask = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local queued_json, maxlen, ttl, now, task_prefix = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
local delivery_maxlen, delivery_key = ARGV[11], bound(KEYS[6], ARGV[12])

local existing_owner = redis.call('HGET', session_key, 'owner')
if existing_owner and existing_owner ~= owner then return {'forbidden', '', ''} end
local existing_graph = redis.call('HGET', session_key, 'graph')
if existing_graph and existing_graph ~= graph then return {'graph', existing_graph, ''} end

local active = redis.call('HGET', session_key, 'active')
local active_status = false
if active then active_status = redis.call('HGET', task_prefix .. active, 'status') end
local busy = active_status and not TERMINAL[active_status]
if busy and multitask == 'reject' then return {'busy', active, ''} end

local verdict = 'run'
local position = 0
if busy and multitask == 'interrupt' then
  if active_status == 'running' then
    redis.call('HSET', task_prefix .. active, 'cancel_requested', '1', 'cancel_reason', 'interrupted by ' .. task_id)
    redis.call('LPUSH', pending_key, task_id)
    verdict, position = 'wait', 1
  else
    -- queued or waiting for input: it ends now and the new task takes the session
    redis.call('HSET', task_prefix .. active, 'status', 'cancelled', 'updated_at', now, 'finished_at', now)
    emit(events_key, delivery_key, delivery_maxlen, session_id, maxlen,
      envelope('task.cancelled', active, session_id, tonumber(now), {reason = 'interrupted by ' .. task_id}))
    redis.call('HSET', session_key, 'active', task_id)
  end
elseif busy then
  redis.call('RPUSH', pending_key, task_id)
  verdict, position = 'wait', redis.call('LLEN', pending_key)
else
  redis.call('HSET', session_key, 'active', task_id)
end

if not existing_owner then
  redis.call('HSET', session_key, 'owner', owner, 'created_at', now)
end
if not existing_graph then
  -- a session created empty (a LangGraph thread) takes the graph of its first task
  redis.call('HSET', session_key, 'graph', graph)
end
local fields = {}
for i = 13, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', task_key, unpack(fields))
redis.call('HSET', task_key, 'position', position)
redis.call('RPUSH', tasks_key, task_id)
local payload = string.gsub(queued_json, '"position":0', '"position":' .. position, 1)
local event_id = emit(events_key, delivery_key, delivery_maxlen, session_id, maxlen, payload)
touch(ttl, session_key, task_key, tasks_key, pending_key, events_key)
return {verdict, '', event_id}
"""
)

# KEYS: task, events, session, pending, lease, delivery
# ARGV: from_states (comma separated), to_state, events (JSON envelopes, one per line; '' = none), maxlen, ttl, lease_token
#       ('' = no lease check, '-' = only while nobody holds it), incr_field ('' = none), expect_field, expect_value ('' = no check),
#       task_prefix, task_id, session_id, delivery_maxlen, bound ('1': a chat follows), then field/value pairs to set
# Returns {ok, detail, event_id (of the last event), next_task}: ok 1 on success; 0 with detail = the current status (or
# 'lease' when the caller lost the run's lease, 'mismatch' when expect_field differs). A run's move out of 'running'
# under its lease releases the lease.
TRANSITION = (
    _COMMON
    + """
local task_key, events_key, session_key, pending_key, lease_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local from_csv, to_state, event_json, maxlen, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local token, incr_field, expect_field, expect_value = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local task_prefix, task_id, session_id, delivery_maxlen = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local delivery_key = bound(KEYS[6], ARGV[14])

local status = redis.call('HGET', task_key, 'status')
if not status then return {0, 'missing', '', ''} end
local allowed = false
for s in string.gmatch(from_csv, '[^,]+') do if s == status then allowed = true end end
if not allowed then return {0, status, '', ''} end
if token == '-' then  -- only while nobody holds the run's lease (a run whose worker vanished)
  if redis.call('EXISTS', lease_key) == 1 then return {0, 'lease', '', ''} end
elseif token ~= '' and redis.call('GET', lease_key) ~= token then
  return {0, 'lease', '', ''}
end
if expect_field ~= '' and (redis.call('HGET', task_key, expect_field) or '') ~= expect_value then
  return {0, 'mismatch', '', ''}
end

local pending = {}
if TERMINAL[to_state] and redis.call('HGET', session_key, 'active') == task_id then
  pending = pending_statuses(pending_key, task_prefix)
end

local fields = {'status', to_state}
for i = 15, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', task_key, unpack(fields))
if incr_field ~= '' then redis.call('HINCRBY', task_key, incr_field, 1) end
local event_id = ''
for payload in string.gmatch(event_json, '[^\\n]+') do
  event_id = emit(events_key, delivery_key, delivery_maxlen, session_id, maxlen, payload)
end
-- a run that leaves 'running' is done with its lease: release it here rather than in another round trip
if token ~= '' and to_state ~= 'running' then redis.call('DEL', lease_key) end
local nxt = ''
if TERMINAL[to_state] then
  redis.call('HDEL', task_key, 'cancel_requested')
  if redis.call('HGET', session_key, 'active') == task_id then
    nxt = advance(session_key, pending_key, pending)
  end
end
touch(ttl, task_key, events_key, session_key, pending_key)
return {1, status, event_id, nxt}
"""
)

# KEYS: task, session, lease, events, pending, delivery (the session's shard: used only when a chat follows the
#       task: it has a binding, or approvals whose questions went to chats), published (Keys.published, the
#       session's group)
# ARGV: token, lease_ms, started_event_json (data '"run":0,"attempt":0', filled in here), maxlen, ttl, session_id,
#       delivery_maxlen, now, task_id
# A worker's first step with a task's message, in one round trip: take the run's lease and move the task to
# 'running' (attempts + 1) with its task.started event. Returns {verdict, detail, task fields...}:
# 'gone' (no such task), 'terminal', 'waiting' (waiting for input), 'behind' (queued behind the session's active
# task), 'leased' (detail: the lease's ms left; another run holds it), 'cancel' (lease taken, cancel requested:
# the caller ends it as cancelled; fields as they were), 'started' (detail: the event id; fields as they are now).
BEGIN = (
    _COMMON
    + """
local task_key, session_key, lease_key, events_key, pending_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local token, lease_ms, started, maxlen, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local session_id, delivery_maxlen, now, task_id = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local status = redis.call('HGET', task_key, 'status')
-- a delivery arrived: the run needs no re-publishing (unless another run holds it: that one re-queues it)
if KEYS[7] and not (status == 'running' and redis.call('EXISTS', lease_key) == 1) then
  redis.call('ZREM', KEYS[7], session_id .. ' ' .. task_id)
end
if not status then return {'gone', ''} end
if TERMINAL[status] then return {'terminal', ''} end
if status == 'waiting_input' then return {'waiting', ''} end
if status == 'queued' and redis.call('HGET', session_key, 'active') ~= task_id then return {'behind', ''} end
if not redis.call('SET', lease_key, token, 'NX', 'PX', lease_ms) then
  return {'leased', tostring(redis.call('PTTL', lease_key)), redis.call('HGET', task_key, 'graph') or ''}
end
if redis.call('HGET', task_key, 'cancel_requested') == '1' then
  local out = {'cancel', ''}
  for _, v in ipairs(redis.call('HGETALL', task_key)) do out[#out + 1] = v end
  return out
end
local attempts = redis.call('HINCRBY', task_key, 'attempts', 1)
redis.call('HSET', task_key, 'status', 'running', 'updated_at', now)
local run = redis.call('HGET', task_key, 'run') or '1'
local payload = string.gsub(started, '"run":0,"attempt":0', '"run":' .. run .. ',"attempt":' .. attempts, 1)
local delivery_key = ''
if redis.call('HEXISTS', task_key, 'binding') == 1 or redis.call('HEXISTS', task_key, 'approvals') == 1 then
  delivery_key = KEYS[6]
end
local event_id = emit(events_key, delivery_key, delivery_maxlen, session_id, maxlen, payload)
touch(ttl, task_key, events_key, session_key, pending_key)
local out = {'started', event_id}
for _, v in ipairs(redis.call('HGETALL', task_key)) do out[#out + 1] = v end
return out
"""
)

# KEYS: events, emitted, lease, delivery
# ARGV: dedupe_key ('' = always write), event_json, maxlen, ttl, lease_token, session_id, delivery_maxlen,
#       bound ('1': a chat follows)
# Returns the new entry id, 'dup' when the key was written before, or 'lease' when the caller lost the run.
PUBLISH = (
    _COMMON
    + """
local events_key, emitted_key, lease_key = KEYS[1], KEYS[2], KEYS[3]
local dedupe_key, payload, maxlen, ttl, token = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local session_id, delivery_maxlen, delivery_key = ARGV[6], ARGV[7], bound(KEYS[4], ARGV[8])
if redis.call('GET', lease_key) ~= token then return 'lease' end
if dedupe_key ~= '' then
  if redis.call('SADD', emitted_key, dedupe_key) == 0 then return 'dup' end
  redis.call('EXPIRE', emitted_key, ttl)
end
local id = emit(events_key, delivery_key, delivery_maxlen, session_id, maxlen, payload)
redis.call('EXPIRE', events_key, ttl)
return id
"""
)

# KEYS: task, feedback (the task's: by -> JSON), events, counts (graph:score -> n), index (graph's feedback by time);
#       counts and index are the session's group's (graphgate/core/keys.py)
# ARGV: by, value_json, score, graph, now, index_member, event_json, maxlen, ttl
# One feedback per person per completed task: a second replaces the first (the counts move with it), the same
# one again changes nothing. Returns 'state' (the task is not completed), 'same', or the feedback event's id.
FEEDBACK = """
local task_key, feedback_key, events_key, counts_key, index_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local by, value, score, graph, now, member, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local maxlen, ttl = ARGV[8], tonumber(ARGV[9])
if redis.call('HGET', task_key, 'status') ~= 'completed' then return 'state' end
local old = redis.call('HGET', feedback_key, by)
if old == value then return 'same' end
if old then redis.call('HINCRBY', counts_key, graph .. ':' .. cjson.decode(old)['score'], -1) end
redis.call('HSET', feedback_key, by, value)
redis.call('EXPIRE', feedback_key, ttl)
redis.call('HINCRBY', counts_key, graph .. ':' .. score, 1)
redis.call('ZADD', index_key, now, member)
local replaced = 'false'
if old then replaced = 'true' end
payload = string.gsub(payload, '"replaced":false', '"replaced":' .. replaced, 1)
local id = redis.call('XADD', events_key, 'MAXLEN', '~', maxlen, '*', 'e', payload)
redis.call('EXPIRE', events_key, ttl)
return id
"""

# KEYS: session. ARGV: owner, now, metadata_json ('' = none), ttl, graph ('' = set by the first task)
# Creates an empty session (a LangGraph thread before its first run). Returns 'created', 'exists' (the caller's
# already) or 'forbidden' (another principal's).
CREATE_SESSION = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner then
  if owner ~= ARGV[1] then return 'forbidden' end
  return 'exists'
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'created_at', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'metadata', ARGV[3]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'graph', ARGV[5]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 'created'
"""

# KEYS: session, events, tasks, pending, delivered. ARGV: owner, task_prefix, emitted_prefix, lease_prefix
# Deletes a session with its events and every task record of it, unless a task of it is running (a worker holds
# it: cancel it first). Returns {'deleted', task ids...}, {'busy', running task id} or {'missing'} (no such
# session, or another principal's).
DELETE_SESSION = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner or owner ~= ARGV[1] then return {'missing'} end
local ids = redis.call('LRANGE', KEYS[3], 0, -1)
for _, id in ipairs(ids) do
  if redis.call('HGET', ARGV[2] .. id, 'status') == 'running' then return {'busy', id} end
end
local out = {'deleted'}
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[2] .. id, ARGV[3] .. id, ARGV[4] .. id)
  out[#out + 1] = id
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return out
"""

# The one lease pair, for every lease graphgate keeps: a worker's run of a task (graphgate/core/keys.py ``lease``,
# token = a run's uuid; workers/runstore.py) and a dispatcher's delivery shard (``delivery_owner``,
# token = the dispatcher id; workers/deliverystore.py). Taking a lease is a plain ``SET NX PX``.

# KEYS: lease. ARGV: token, ttl_ms. Renews the lease if the caller still holds it; returns 1 or 0.
RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: lease. ARGV: token. Releases the lease if the caller holds it; returns 1 or 0.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
