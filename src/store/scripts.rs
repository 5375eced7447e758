//! Lua scripts: the store's atomic steps.
//!
//! Why Lua and not MULTI: each step reads state (who holds the speaker lock, whether the call has
//! ended, a message's attempts) and writes depending on it; MULTI cannot branch. Every script's
//! keys belong to one call, so they share its hash tag and a Redis Cluster slot.
//!
//! Key and argument conventions shared by the scripts:
//! KEYS[1] call hash, KEYS[2] queue, KEYS[3] inflight, KEYS[4] speaker lock (when used).
//! The message hash prefix is always passed as an argument (`prefix`), never built in Lua.

use std::sync::LazyLock;

use redis::Script;

/// Helpers every script starts with. `requeue_or_fail` puts ids back at the FRONT of the queue
/// (in their original order) while they have attempts left and the call is live, else marks them
/// failed with `reason`; it returns the ids it failed.
const PRELUDE: &str = r#"
local function requeue_or_fail(call_key, queue_key, prefix, ids, max_attempts, reason, now)
  local failed = {}
  local ended = redis.call('HGET', call_key, 'state') == 'ended'
  for i = #ids, 1, -1 do
    local id = ids[i]
    local attempts = tonumber(redis.call('HGET', prefix .. id, 'attempts') or '0')
    if (not ended) and attempts < max_attempts then
      redis.call('HSET', prefix .. id, 'state', 'queued')
      redis.call('LPUSH', queue_key, id)
    else
      redis.call('HSET', prefix .. id, 'state', 'failed', 'reason', reason, 'finished_at', now)
      redis.call('HINCRBY', call_key, 'messages_failed', 1)
      table.insert(failed, 1, id)
    end
  end
  return failed
end

local function fail_all(call_key, list_key, prefix, reason, now)
  local ids = redis.call('LRANGE', list_key, 0, -1)
  for _, id in ipairs(ids) do
    redis.call('HSET', prefix .. id, 'state', 'failed', 'reason', reason, 'finished_at', now)
  end
  redis.call('HINCRBY', call_key, 'messages_failed', #ids)
  redis.call('DEL', list_key)
  return ids
end
"#;

fn script(body: &str) -> Script {
    Script::new(&[PRELUDE, body].concat())
}

/// Stores a message and queues it, unless the call is unknown or over.
/// KEYS: call, queue, order, message hash. ARGV: id, text, source, now.
/// Returns "ok", "missing" or "ended".
pub(super) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
if state == 'ended' then return 'ended' end
redis.call('HSET', KEYS[4], 'id', ARGV[1], 'text', ARGV[2], 'source', ARGV[3],
  'state', 'queued', 'attempts', 0, 'created_at', ARGV[4])
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[1])
return 'ok'
"#,
    )
});

/// Takes the speaker lock for a new leg if there is something to say and nobody is saying it.
/// Messages left in flight by a leg that vanished without a status callback (its lock expired)
/// go back to the front of the queue first.
/// KEYS: call, queue, inflight, lock. ARGV: leg, ttl ms, prefix, max attempts, now.
/// Returns {acquired (0/1), failed ids}.
pub(super) static ACQUIRE_SPEAKER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if (not state) or state == 'ended' then return {0, {}} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {0, {}} end
local orphans = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
local failed = requeue_or_fail(KEYS[1], KEYS[2], ARGV[3], orphans, tonumber(ARGV[4]),
  'the speaker leg was lost', ARGV[5])
if redis.call('LLEN', KEYS[2]) == 0 then return {0, failed} end
redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'speaker_leg', ARGV[1], 'speaker_state', 'dialing')
redis.call('HDEL', KEYS[1], 'speaker_in_sid')
redis.call('HINCRBY', KEYS[1], 'speaker_legs', 1)
return {1, failed}
"#,
    )
});

/// One turn of the speaker: settles the batch said last turn, then takes the next one.
/// The last batch counts as spoken only if the speaker was still in the conference with the
/// caller (`heard`); otherwise it is requeued or failed. An empty queue releases the lock, in the
/// same atomic step, so a message enqueued a moment later finds the lock free and dials anew.
/// KEYS: call, queue, inflight, lock. ARGV: leg, now, lock ttl ms, max attempts, prefix,
/// batch limit, heard-mode ("joined" = require the speaker to be joined, "always").
/// Returns {status ("stale"|"done"|"speak"), spoken ids, failed ids, batch ids}.
pub(super) static SPEAKER_TURN: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return {'stale', {}, {}, {}} end
local state = redis.call('HGET', KEYS[1], 'state')
local heard = ARGV[7] == 'always' or
  (redis.call('HGET', KEYS[1], 'speaker_state') == 'joined' and state == 'connected')
local spoken, failed = {}, {}
local inflight = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
if heard then
  for _, id in ipairs(inflight) do
    redis.call('HSET', ARGV[5] .. id, 'state', 'spoken', 'finished_at', ARGV[2])
    table.insert(spoken, id)
  end
  redis.call('HINCRBY', KEYS[1], 'messages_spoken', #inflight)
else
  failed = requeue_or_fail(KEYS[1], KEYS[2], ARGV[5], inflight, tonumber(ARGV[4]),
    'the call ended before the message was spoken', ARGV[2])
end
local batch = {}
if state ~= 'ended' and heard then
  batch = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[6]) - 1)
  redis.call('LTRIM', KEYS[2], #batch, -1)
end
if #batch == 0 then
  redis.call('DEL', KEYS[4])
  redis.call('HDEL', KEYS[1], 'speaker_leg', 'speaker_state', 'speaker_in_sid')
  return {'done', spoken, failed, {}}
end
for _, id in ipairs(batch) do
  redis.call('HSET', ARGV[5] .. id, 'state', 'speaking')
  redis.call('HINCRBY', ARGV[5] .. id, 'attempts', 1)
  redis.call('RPUSH', KEYS[3], id)
end
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return {'speak', spoken, failed, batch}
"#,
    )
});

/// A speaker leg's call ended (status callback) or gave up. If it is still the call's current
/// leg: its unconfirmed messages are requeued or failed, the lock is released, and a leg that
/// never reached the conference counts as a miss; after `max attempts` misses in a row the queue
/// is failed rather than dialled forever.
/// KEYS: call, queue, inflight, lock. ARGV: leg, now, max attempts, prefix, reason.
/// Returns {current (0/1), more to say (0/1), failed ids}.
pub(super) static SPEAKER_LEG_ENDED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HGET', KEYS[1], 'speaker_leg') ~= ARGV[1] then return {0, 0, {}} end
local reached = redis.call('HGET', KEYS[1], 'speaker_state')
reached = reached == 'joined' or reached == 'left'
local inflight = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
local failed = requeue_or_fail(KEYS[1], KEYS[2], ARGV[4], inflight, tonumber(ARGV[3]), ARGV[5], ARGV[2])
if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
redis.call('HDEL', KEYS[1], 'speaker_leg', 'speaker_state', 'speaker_in_sid')
if reached then
  redis.call('HSET', KEYS[1], 'speaker_misses', 0)
else
  local misses = redis.call('HINCRBY', KEYS[1], 'speaker_misses', 1)
  if misses >= tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[1], 'speaker_misses', 0)
    for _, id in ipairs(fail_all(KEYS[1], KEYS[2], ARGV[4], ARGV[5], ARGV[2])) do
      table.insert(failed, id)
    end
  end
end
local more = 0
if redis.call('HGET', KEYS[1], 'state') ~= 'ended' and redis.call('LLEN', KEYS[2]) > 0 then more = 1 end
return {1, more, failed}
"#,
    )
});

/// Ends a call once: marks it ended, drops it from the active set and fails whatever was still
/// waiting or in flight.
/// KEYS: call, queue, inflight, active set. ARGV: call id, now, prefix, reason.
/// Returns {ended now (0/1), failed ids}.
pub(super) static END_CALL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if (not state) or state == 'ended' then return {0, {}} end
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[1])
local failed = fail_all(KEYS[1], KEYS[3], ARGV[3], ARGV[4], ARGV[2])
for _, id in ipairs(fail_all(KEYS[1], KEYS[2], ARGV[3], ARGV[4], ARGV[2])) do
  table.insert(failed, id)
end
return {1, failed}
"#,
    )
});

/// Records a participant joining or leaving the call's conference and says whose leg it was.
/// KEYS: call. ARGV: CallSid, "join"|"leave", conference sid, now.
/// Returns "caller", "speaker", "other" or "missing".
pub(super) static PARTICIPANT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local call = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'speaker_in_sid')
if not call[1] then return 'missing' end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'conference_sid', ARGV[3]) end
if call[2] == ARGV[1] then
  if ARGV[2] == 'join' and call[1] == 'ringing' then
    redis.call('HSET', KEYS[1], 'state', 'connected', 'connected_at', ARGV[4])
  end
  return 'caller'
end
if call[3] == ARGV[1] then
  if ARGV[2] == 'join' then
    redis.call('HSET', KEYS[1], 'speaker_state', 'joined')
  else
    redis.call('HSET', KEYS[1], 'speaker_state', 'left')
  end
  return 'speaker'
end
return 'other'
"#,
    )
});
