//! Lua scripts: the store's atomic steps.
//!
//! Why Lua and not MULTI: each step reads state (who holds the speaker lock, whether the call has
//! ended, a message's attempts) and writes depending on it; MULTI cannot branch. Every script's
//! keys belong to one call, so they share its hash tag and a Redis Cluster slot. Keys outside
//! it (the active-call index, CallSid lookups, speaker codes, responders, bridges' links) are
//! written by single-key commands, never by a call's script (DUE_CALLS is a script of the
//! sweep's index alone).
//!
//! No script walks a list that grows without limit, since Redis runs nothing else meanwhile:
//! the queue and the in-flight list together hold at most `speech.max_queued` messages (ENQUEUE
//! refuses more; only the line's own announcements, one per person joining, go past it), so
//! END_CALL, SPEAKER_LEG_ENDED, SPEAKER_DIAL_FAILED and ACQUIRE_SPEAKER walk at most that many,
//! and a turn walks its batch. The order list and the messages hash grow with the call: no
//! script walks them (a script reads the fields of the ids it holds); the store pages through the
//! order list (`messages_page`).
//!
//! Key and argument conventions shared by the scripts:
//! KEYS[1] call hash, KEYS[2] queue, KEYS[3] inflight, KEYS[4] speaker lock (when used), and the
//! call's messages hash after them.
//!
//! Every key a script touches is named in KEYS, as EVAL's contract asks (a Redis Cluster moving
//! a slot key by key, or a server checking scripts, may hold a script to it): a script never
//! builds a key. A call's messages are one hash of the call's (`Keys::messages`), each message's
//! fields in it as `<message id>:<field>`, so a script that meets a message id in the queue
//! reaches its data through KEYS like the queue itself. The tests below read every script for
//! it, and `tests/e2e/script_keys.rs` watches what they do on a real redis-server.
//!
//! The previous version kept a hash per message (`Keys::legacy_message`), which no script can
//! name before it knows the ids. A script that walks the queue or the in-flight list first checks
//! that each id there it may read is in the messages hash, and when one is not (stored by the
//! previous version, before or during a rolling upgrade) it stops before writing anything and
//! answers the error `UNMIGRATED <ids>`; the store then copies those messages (MIGRATE_MESSAGES,
//! their old hashes named in KEYS) and runs the script again (`Store::invoke_on_messages`).
//! The other way round, ENQUEUE writes each new message in the old layout too, for replicas of
//! the previous version during the upgrade.

use std::sync::LazyLock;

use redis::Script;

use super::messages::MESSAGE_FIELDS;

/// Helpers every script starts with (after `FIELDS`, the message fields, from
/// [`MESSAGE_FIELDS`]). `requeue_or_fail` puts ids back at the FRONT of the queue (in their
/// original order) while they have attempts left and the call is live, else marks them failed
/// with `reason`; it returns the ids it failed.
const PRELUDE: &str = r#"
-- Field `name` of message `id` in the call's messages hash.
local function get(messages_key, id, name)
  return redis.call('HGET', messages_key, id .. ':' .. name)
end

-- Sets fields of message `id`: `...` is name, value, name, value...
local function set(messages_key, id, ...)
  local args = {...}
  for i = 1, #args, 2 do args[i] = id .. ':' .. args[i] end
  redis.call('HSET', messages_key, unpack(args))
end

-- {names[i], values[i], ...} for each value that is set (HMGET's answer as HGETALL's).
local function present(names, values)
  local out = {}
  for i, name in ipairs(names) do
    if values[i] then
      table.insert(out, name)
      table.insert(out, values[i])
    end
  end
  return out
end

-- Message `id` as {name, value, ...} of its fields that are set (as HGETALL of its own hash
-- gave it in the previous layout).
local function message(messages_key, id)
  local names = {}
  for i, name in ipairs(FIELDS) do names[i] = id .. ':' .. name end
  return present(FIELDS, redis.call('HMGET', messages_key, unpack(names)))
end

-- Appends to `missing` the ids of list `list_key` up to index `stop` whose message is not in the
-- messages hash.
local function missing_from(messages_key, list_key, stop, missing)
  for _, id in ipairs(redis.call('LRANGE', list_key, 0, stop)) do
    if redis.call('HEXISTS', messages_key, id .. ':id') == 0 then table.insert(missing, id) end
  end
end

-- The error reply `UNMIGRATED <ids>` when an id in flight, or one of the queue's up to index
-- `queue_stop` (-1: all of it, nil: none), has its message still in the previous layout (see the
-- module's documentation), else nil. A script checks the ids it may read, before any write:
-- a turn's every look at the whole queue would cost some 100 us with a full one.
local function unmigrated(messages_key, queue_key, queue_stop, inflight_key)
  local missing = {}
  if queue_stop then missing_from(messages_key, queue_key, queue_stop, missing) end
  missing_from(messages_key, inflight_key, -1, missing)
  if #missing == 0 then return nil end
  return redis.error_reply('UNMIGRATED ' .. table.concat(missing, ' '))
end

local function requeue_or_fail(call_key, queue_key, messages_key, ids, max_attempts, reason, now)
  local failed = {}
  local ended = redis.call('HGET', call_key, 'state') == 'ended'
  for i = #ids, 1, -1 do
    local id = ids[i]
    local attempts = tonumber(get(messages_key, id, 'attempts') or '0')
    redis.call('HDEL', messages_key, id .. ':saying_from', id .. ':saying_to')
    if (not ended) and attempts < max_attempts then
      set(messages_key, id, 'state', 'queued')
      redis.call('LPUSH', queue_key, id)
    else
      set(messages_key, id, 'state', 'failed', 'reason', reason, 'finished_at', now)
      redis.call('HINCRBY', call_key, 'messages_failed', 1)
      table.insert(failed, 1, id)
    end
  end
  return failed
end

-- The TwiML cost of each piece of a message (see speech::pieces), from its `pieces` field
-- (`start:end:cost,...`). A message stored before pieces were kept is one piece as long as its
-- text.
local function piece_costs(messages_key, id)
  local costs = {}
  local stored = get(messages_key, id, 'pieces')
  if stored then
    for cost in string.gmatch(stored, '%d+:%d+:(%d+)') do table.insert(costs, tonumber(cost)) end
  end
  if #costs == 0 then costs[1] = string.len(get(messages_key, id, 'text') or '') end
  return costs
end

-- Whether a failed speaker dial asked the call to wait before the next one (SPEAKER_DIAL_FAILED).
local function dial_backing_off(call_key, now)
  return tonumber(now) < tonumber(redis.call('HGET', call_key, 'speaker_retry_at') or '0')
end

local function fail_all(call_key, list_key, messages_key, reason, now)
  local ids = redis.call('LRANGE', list_key, 0, -1)
  for _, id in ipairs(ids) do
    set(messages_key, id, 'state', 'failed', 'reason', reason, 'finished_at', now)
  end
  redis.call('HINCRBY', call_key, 'messages_failed', #ids)
  redis.call('DEL', list_key)
  return ids
end
"#;

fn script(body: &str) -> Script {
    let fields: Vec<String> = MESSAGE_FIELDS.iter().map(|f| format!("'{f}'")).collect();
    let fields = format!("local FIELDS = {{{}}}\n", fields.join(", "));
    Script::new(&[&fields, PRELUDE, body].concat())
}

/// Stores a message and queues it, unless the call is unknown or over, or at one of its speech
/// limits. Both limits are decided here, in the step that stores, so that replicas sharing the
/// call cannot each let one more through.
/// - waiting: the queue and the messages in flight together hold fewer than `max waiting`;
/// - rate: fewer than `max accepted` messages were accepted in the last `window` ms. The
///   accepted set holds one member per accepted message, trimmed to the window here and expiring
///   with it, so it never holds more than `max accepted` members.
///
/// A limit of 0 is no limit (the line's own announcements). The message's position in the
/// order list is kept as `seq`, so a page can continue after it without walking the list.
/// A message the sender named (`name`: its origin with the sender's reference) is stored once:
/// a retry under the same name answers "duplicate" with the first one's id. A message someone
/// wrote to the caller (`chat reply` "1", not the line's own announcement) counts in the call's
/// `chat_replies`, which keeps the caller from voicemail.
///
/// The message is also written as the previous version kept it, a hash of its own (the last
/// key), so that a replica of that version still running during a rolling upgrade, taking it
/// from the queue, can say it and receipt it rather than say nothing: the expand half of the
/// layout change, which the version after this one drops (with MIGRATE_MESSAGES). Only the
/// stored message is copied; its later states are kept in the messages hash alone.
/// KEYS: call, queue, order, messages, inflight, accepted, named messages, the message's hash of
/// the previous layout. ARGV: id, text,
/// origin (JSON), now, audio URL or "", max waiting, max accepted, window ms, pieces (see
/// speech::pieces), name or "", chat reply ("1" or "0"), the messages hash's lifetime in ms while
/// the call lasts (see `calls::LIVE_MESSAGES_TTL`).
/// Returns {status, n, id}: "ok" with the messages now waiting (queued or in flight) and the
/// call's line (or ""), "missing", "ended", "voicemail", "queue_full", "rate_limited"
/// with the milliseconds until the oldest acceptance leaves the window, or "duplicate" with the
/// id of the message stored before.
pub(super) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing', 0, ''} end
-- A retry of a message already stored (the sender's answer was lost) is that message, whatever
-- has happened since: it must not be stored, counted or refused a second time.
if ARGV[10] ~= '' then
  local known = redis.call('HGET', KEYS[7], ARGV[10])
  if known then return {'duplicate', 0, known} end
end
if state == 'ended' then return {'ended', 0, ''} end
if redis.call('HEXISTS', KEYS[1], 'voicemail_started') == 1 then return {'voicemail', 0, ''} end
local now, max_waiting = tonumber(ARGV[4]), tonumber(ARGV[6])
local max_accepted, window = tonumber(ARGV[7]), tonumber(ARGV[8])
if max_waiting > 0 and redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[5]) >= max_waiting then
  return {'queue_full', 0, ''}
end
if max_accepted > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', string.format('%d', now - window))
  if redis.call('ZCARD', KEYS[6]) >= max_accepted then
    local oldest = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
    return {'rate_limited', tonumber(oldest[2]) + window - now, ''}
  end
  redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
  redis.call('PEXPIRE', KEYS[6], ARGV[8])
end
local seq = redis.call('RPUSH', KEYS[3], ARGV[1])
local fields = {'id', ARGV[1], 'text', ARGV[2], 'origin', ARGV[3], 'state', 'queued',
  'attempts', 0, 'created_at', ARGV[4], 'seq', seq, 'pieces', ARGV[9], 'pieces_heard', 0}
if ARGV[5] ~= '' then
  table.insert(fields, 'audio_url')
  table.insert(fields, ARGV[5])
end
redis.call('HSET', KEYS[8], unpack(fields))
set(KEYS[4], ARGV[1], unpack(fields))
redis.call('PEXPIRE', KEYS[4], ARGV[12])
-- Someone wrote to the caller (not one of the line's own announcements): no voicemail then.
if ARGV[11] == '1' then redis.call('HINCRBY', KEYS[1], 'chat_replies', 1) end
local queued = redis.call('RPUSH', KEYS[2], ARGV[1])
if ARGV[10] ~= '' then redis.call('HSET', KEYS[7], ARGV[10], ARGV[1]) end
return {'ok', queued + redis.call('LLEN', KEYS[5]), redis.call('HGET', KEYS[1], 'line') or ''}
"#,
    )
});

/// Takes the speaker lease for a new leg if the caller is in the conference, there is something
/// to say, no leg holds the lease and no failed dial asked to wait (`speaker_retry_at`, see
/// SPEAKER_DIAL_FAILED). Messages left in flight by a leg that vanished without a status
/// callback (its lease lapsed) go back to the front of the queue first.
/// KEYS: call, queue, inflight, lock, messages. ARGV: leg, lease ms, "" (the message prefix once:
/// its place is kept so the arguments after it keep their numbers), max attempts, now, the leg's
/// first state ("dialing" for a self-dialled leg, "announcing" for the announce strategy), and
/// for a self-dialled leg its one-time code: kept on the call with the lease, for the leg to
/// send it again when the inbound half missed a digit (see speech::self_dial). The code itself
/// stays single-use: only its own key (another slot's, written beside this script), consumed by
/// GETDEL, opens the gate.
/// Returns {acquired (0/1), failed ids}.
pub(super) static ACQUIRE_SPEAKER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
-- Only once the caller is in: a speaker alone in a conference would start (and, leaving, end)
-- a conference of the call's name without the caller.
if redis.call('HGET', KEYS[1], 'state') ~= 'connected' then return {0, {}} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {0, {}} end
-- A leg Twilio accepted whose lease lapsed before it reached the gate may still be queued at
-- Twilio, which places an account's calls at its calls-per-second rate: the sweep asks Twilio
-- and keeps the leg or forgets it (UNANSWERED_SPEAKER); another dial meanwhile would be one
-- more billed call at the back of the same queue.
if redis.call('HGET', KEYS[1], 'speaker_state') == 'dialing'
  and redis.call('HEXISTS', KEYS[1], 'speaker_out_sid') == 1 then return {0, {}} end
if dial_backing_off(KEYS[1], ARGV[5]) then return {0, {}} end
local stop = unmigrated(KEYS[5], KEYS[2], nil, KEYS[3])
if stop then return stop end
local orphans = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
local failed = requeue_or_fail(KEYS[1], KEYS[2], KEYS[5], orphans, tonumber(ARGV[4]),
  'the speaker leg was lost', ARGV[5])
if redis.call('LLEN', KEYS[2]) == 0 then return {0, failed} end
redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'speaker_leg', ARGV[1], 'speaker_state', ARGV[6], 'speaker_turn', 0,
  'speaker_leg_at', ARGV[5])
redis.call('HDEL', KEYS[1], 'speaker_in_sid', 'announce_served', 'speaker_code', 'speaker_out_sid')
if ARGV[7] then redis.call('HSET', KEYS[1], 'speaker_code', ARGV[1] .. ':' .. ARGV[7]) end
redis.call('HINCRBY', KEYS[1], 'speaker_legs', 1)
return {1, failed}
"#,
    )
});

/// Renews the lease of leg `leg` while it waits to be heard; false if it is no longer the
/// call's speaker (it must hang up).
/// KEYS: call, lock. ARGV: leg, lease ms.
pub(super) static RENEW_SPEAKER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HGET', KEYS[1], 'speaker_leg') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
"#,
    )
});

/// One turn of the speaker. Turn `T` says "I have finished batch T-1, give me batch T".
/// - T = current + 1: the batch in flight counts as heard if the speaker was in the conference
///   with the caller (`heard`), else it is requeued or failed; then the next batch is taken. An
///   empty queue releases the lease in the same atomic step, so a message enqueued a moment
///   later finds it free and dials anew.
/// - T = current: the answer to this turn was lost and Twilio asked again: the same batch, not
///   settled (it was not said).
/// - otherwise, or not the call's speaker: stale.
///
/// A batch is the queue's first messages, at most `batch limit` of them, whose remaining pieces
/// fit `budget` TwiML bytes (at least one piece, so a turn always moves on). The last message may
/// be taken in part (`saying_from`..`saying_to`); once heard, its `pieces_heard` advances and it
/// goes back to the front of the queue for the rest: it is spoken (and receipted) only when its
/// last piece has been heard.
///
/// The lease is renewed for the batch's speaking time: a long batch must not outlive it.
///
/// With heard-mode "joined", a leg not (yet) in the conference with the caller gets "unjoined":
/// nothing is taken or settled, its lease is renewed while it waits (see speech::self_dial).
/// Every answer carries what the speaker needs besides, so a turn is one round trip: the call's
/// state, the speaker's state, the conference, the kept code (ACQUIRE_SPEAKER), and the
/// batch's messages (for "speak" and "again").
/// KEYS: call, queue, inflight, lock, messages. ARGV: leg, turn, now, base lease ms, max attempts,
/// batch limit, heard-mode ("joined" = require the speaker to be joined, "always"), "linger" to
/// keep the lease when the queue is empty (the leg waits a moment for more) or "", budget bytes.
/// Returns {status ("stale"|"unjoined"|"again"|"done"|"linger"|"speak"), spoken ids, failed
/// ids, batch ids, more to say (0/1; with "done"), {call state, speaker state, conference sid,
/// speaker code} ("" when unset), the batch's messages as HGETALL gives each}.
pub(super) static SPEAKER_TURN: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local function lease(ids)
  -- About 10 bytes of TwiML a second is slower than any voice speaks, so the lease outlasts the
  -- speech (Japanese: 3 bytes a character, 0.3 s; Twilio's voices are faster).
  local bytes = 0
  for _, id in ipairs(ids) do
    local costs = piece_costs(KEYS[5], id)
    local from = tonumber(get(KEYS[5], id, 'saying_from') or '0')
    local to = tonumber(get(KEYS[5], id, 'saying_to') or #costs)
    for i = from + 1, math.min(to, #costs) do bytes = bytes + costs[i] end
  end
  return tonumber(ARGV[4]) + bytes * 100
end

local function answer(status, spoken, failed, batch, more)
  local f = redis.call('HMGET', KEYS[1], 'state', 'speaker_state', 'conference_sid', 'speaker_code')
  local messages = {}
  for _, id in ipairs(batch) do table.insert(messages, message(KEYS[5], id)) end
  return {status, spoken, failed, batch, more, {f[1] or '', f[2] or '', f[3] or '', f[4] or ''},
    messages}
end

if redis.call('HGET', KEYS[1], 'speaker_leg') ~= ARGV[1] then return answer('stale', {}, {}, {}, 0) end
local stop = unmigrated(KEYS[5], KEYS[2], tonumber(ARGV[6]) - 1, KEYS[3])
if stop then return stop end
local state = redis.call('HGET', KEYS[1], 'state')
local heard = ARGV[7] == 'always' or
  (redis.call('HGET', KEYS[1], 'speaker_state') == 'joined' and state == 'connected')
if not heard then
  -- Not in the conference with the caller: nothing said so far counts, nothing new is taken.
  -- The leg waits (renewing its lease) or hangs up, whose end requeues what it holds.
  if state ~= 'ended' then redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[4]) end
  return answer('unjoined', {}, {}, {}, 0)
end
local current = tonumber(redis.call('HGET', KEYS[1], 'speaker_turn') or '0')
local turn = tonumber(ARGV[2])
if turn == current then
  local again = redis.call('LRANGE', KEYS[3], 0, -1)
  redis.call('SET', KEYS[4], ARGV[1], 'PX', lease(again))
  return answer('again', {}, {}, again, 0)
end
if turn ~= current + 1 then return answer('stale', {}, {}, {}, 0) end
-- The speaker was heard (see above): the batch in flight was said.
local spoken, failed = {}, {}
local inflight = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
do
  local unfinished = nil
  for _, id in ipairs(inflight) do
    local total = #piece_costs(KEYS[5], id)
    local to = tonumber(get(KEYS[5], id, 'saying_to') or total)
    redis.call('HDEL', KEYS[5], id .. ':saying_from', id .. ':saying_to')
    if to < total then
      -- Partly said (only a batch's last message can be): the rest is said next.
      set(KEYS[5], id, 'pieces_heard', to, 'state', 'queued', 'attempts', 0)
      unfinished = id
    else
      set(KEYS[5], id, 'state', 'spoken', 'finished_at', ARGV[3])
      table.insert(spoken, id)
    end
  end
  if unfinished then redis.call('LPUSH', KEYS[2], unfinished) end
  if #inflight > 0 then
    redis.call('HINCRBY', KEYS[1], 'messages_spoken', #spoken)
    redis.call('HSET', KEYS[1], 'speaker_misses', 0)
  end
end
local batch = {}
if state ~= 'ended' then
  local budget = tonumber(ARGV[9])
  local used = 0
  for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[6]) - 1)) do
    local costs = piece_costs(KEYS[5], id)
    local from = tonumber(get(KEYS[5], id, 'pieces_heard') or '0')
    local to = from
    while to < #costs and (used == 0 or used + costs[to + 1] <= budget) do
      used = used + costs[to + 1]
      to = to + 1
    end
    -- Nothing more of it fits: it opens the next turn.
    if to == from and from < #costs then break end
    set(KEYS[5], id, 'saying_from', from, 'saying_to', to)
    table.insert(batch, id)
    if to < #costs then break end
  end
  redis.call('LTRIM', KEYS[2], #batch, -1)
end
if #batch == 0 and state ~= 'ended' and ARGV[8] == 'linger' then
  -- Nothing queued, but more may be on its way (people type in bursts): keep the leg a moment.
  redis.call('HSET', KEYS[1], 'speaker_turn', turn)
  redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[4])
  return answer('linger', spoken, failed, {}, 0)
end
if #batch == 0 then
  redis.call('DEL', KEYS[4])
  redis.call('HDEL', KEYS[1], 'speaker_leg', 'speaker_state', 'speaker_in_sid', 'speaker_turn')
  local more = 0
  if state ~= 'ended' and redis.call('LLEN', KEYS[2]) > 0 then more = 1 end
  return answer('done', spoken, failed, {}, more)
end
for _, id in ipairs(batch) do
  set(KEYS[5], id, 'state', 'speaking')
  redis.call('HINCRBY', KEYS[5], id .. ':attempts', 1)
  redis.call('RPUSH', KEYS[3], id)
end
redis.call('HSET', KEYS[1], 'speaker_turn', turn)
redis.call('SET', KEYS[4], ARGV[1], 'PX', lease(batch))
return answer('speak', spoken, failed, batch, 0)
"#,
    )
});

/// A speaker leg's call ended (status callback) or gave up. If it is still the call's current
/// leg: its unconfirmed messages are requeued or failed, the lease is released, and the leg
/// counts as a miss (a leg that spoke resets the count in SPEAKER_TURN); after `max attempts`
/// misses in a row the queue is failed rather than dialled forever.
/// KEYS: call, queue, inflight, lock, messages. ARGV: leg, now, max attempts, reason.
/// Returns {current (0/1), more to say (0/1), failed ids}.
pub(super) static SPEAKER_LEG_ENDED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HGET', KEYS[1], 'speaker_leg') ~= ARGV[1] then return {0, 0, {}} end
local stop = unmigrated(KEYS[5], KEYS[2], -1, KEYS[3])
if stop then return stop end
local inflight = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
local failed = requeue_or_fail(KEYS[1], KEYS[2], KEYS[5], inflight, tonumber(ARGV[3]), ARGV[4], ARGV[2])
redis.call('DEL', KEYS[4])
redis.call('HDEL', KEYS[1], 'speaker_leg', 'speaker_state', 'speaker_in_sid', 'speaker_turn')
local misses = redis.call('HINCRBY', KEYS[1], 'speaker_misses', 1)
if misses >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'speaker_misses', 0)
  for _, id in ipairs(fail_all(KEYS[1], KEYS[2], KEYS[5], ARGV[4], ARGV[2])) do
    table.insert(failed, id)
  end
end
local more = 0
if redis.call('HGET', KEYS[1], 'state') ~= 'ended' and redis.call('LLEN', KEYS[2]) > 0 then more = 1 end
return {1, more, failed}
"#,
    )
});

/// Twilio placed speaker leg `leg`'s call: the lease grows from the dial's to `lease`, and the
/// outbound half's CallSid is kept (for operators), if the leg is still the call's speaker. The
/// run of failed dials is over.
/// KEYS: call, lock. ARGV: leg, lease ms, CallSid. Returns 1 if it is.
pub(super) static SPEAKER_DIALLED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HGET', KEYS[1], 'speaker_leg') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'speaker_out_sid', ARGV[3])
redis.call('HDEL', KEYS[1], 'speaker_dial_failures', 'speaker_retry_at')
return 1
"#,
    )
});

/// The sweep's verdict on speaker leg `leg` (outbound half `sid`), which Twilio accepted but
/// which never reached the gate before its lease lapsed. With keep = 1 (Twilio still holds it
/// queued or ringing) it gets a new lease, if that lease ends by `until` ms after the leg was
/// taken (`speaker_leg_at`: its one-time code must still be live when it dials in); otherwise
/// it is forgotten like a leg that ended, and ACQUIRE_SPEAKER may take the lease for a new one.
/// Not judged (-1) when it is no longer the call's unanswered leg or holds a lease again
/// (another replica's sweep kept it, or its own first turn came): nothing is to be done then.
/// KEYS: call, lock. ARGV: leg, lease ms, keep (0/1), sid, now, until.
/// Returns 1 kept, 0 forgotten, -1 not judged.
pub(super) static UNANSWERED_SPEAKER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local f = redis.call('HMGET', KEYS[1], 'speaker_leg', 'speaker_state', 'speaker_out_sid',
  'speaker_leg_at')
if (f[1] or '') ~= ARGV[1] or f[2] ~= 'dialing' or f[3] ~= ARGV[4] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local code_until = tonumber(f[4] or 0) + tonumber(ARGV[6])
if ARGV[3] == '1' and tonumber(ARGV[5]) + tonumber(ARGV[2]) <= code_until then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return 1
end
redis.call('HDEL', KEYS[1], 'speaker_leg', 'speaker_state', 'speaker_in_sid', 'speaker_turn',
  'speaker_out_sid')
return 0
"#,
    )
});

/// Twilio did not place speaker leg `leg`'s call. If the leg is still the call's speaker, its
/// lease is released and the failure counted (`speaker_dial_failures`, failed dials in a row):
/// after failure N the call waits the N-th of the waits before the next dial (`speaker_retry_at`,
/// which ACQUIRE_SPEAKER and NEEDS_SPEAKER respect, so every replica and the sweep keep it).
/// The waits are computed by the caller (speech::dial_backoff), one per failure the call may
/// survive: when there is none left, every message waiting fails with `reason` instead, and the
/// count starts over. A dial holds nothing in flight, but whatever is there is failed alike.
/// KEYS: call, queue, inflight, lock, messages. ARGV: leg, now, reason, then the waits in ms.
/// Returns {current (0/1), failed ids, ms to wait before the next dial or -1}.
pub(super) static SPEAKER_DIAL_FAILED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HGET', KEYS[1], 'speaker_leg') ~= ARGV[1] then return {0, {}, -1} end
local stop = unmigrated(KEYS[5], KEYS[2], -1, KEYS[3])
if stop then return stop end
redis.call('DEL', KEYS[4])
redis.call('HDEL', KEYS[1], 'speaker_leg', 'speaker_state', 'speaker_in_sid', 'speaker_turn')
local failures = redis.call('HINCRBY', KEYS[1], 'speaker_dial_failures', 1)
local wait = tonumber(ARGV[3 + failures])
if wait then
  redis.call('HSET', KEYS[1], 'speaker_retry_at', tonumber(ARGV[2]) + wait)
  return {1, {}, wait}
end
redis.call('HDEL', KEYS[1], 'speaker_dial_failures', 'speaker_retry_at')
local failed = fail_all(KEYS[1], KEYS[3], KEYS[5], ARGV[3], ARGV[2])
for _, id in ipairs(fail_all(KEYS[1], KEYS[2], KEYS[5], ARGV[3], ARGV[2])) do
  table.insert(failed, id)
end
return {1, failed, -1}
"#,
    )
});

/// Gives the call back a speaker lease taken for a dial that was abandoned (shutdown), so the
/// next speaker need not wait for it to lapse. Only while the leg is still dialling: nothing is
/// in flight then.
/// KEYS: call, lock. ARGV: leg. Returns 1 if released.
pub(super) static RELEASE_DIALLING_SPEAKER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HGET', KEYS[1], 'speaker_leg') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'speaker_state') ~= 'dialing' then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], 'speaker_leg', 'speaker_state', 'speaker_in_sid', 'speaker_turn')
return 1
"#,
    )
});

/// Lets a self-dialled leg's inbound half in, if its leg is still the call's speaker and the
/// caller is still there. (The one-time code was consumed before, on its own key.)
/// KEYS: call. ARGV: leg, inbound CallSid. Returns 1 if admitted.
pub(super) static ADMIT_SPEAKER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HGET', KEYS[1], 'speaker_leg') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'connected' then return 0 end
redis.call('HSET', KEYS[1], 'speaker_in_sid', ARGV[2], 'speaker_state', 'gated')
return 1
"#,
    )
});

/// Whether the call has messages waiting or in flight, no speaker holds the lease and no failed
/// dial asked to wait: the sweep's test for a pipeline that lost its kick.
/// KEYS: call, queue, inflight, lock. ARGV: now. Returns 0/1.
pub(super) static NEEDS_SPEAKER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HGET', KEYS[1], 'state') ~= 'connected' then return 0 end
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
if dial_backing_off(KEYS[1], ARGV[1]) then return 0 end
if redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3]) > 0 then return 1 end
return 0
"#,
    )
});

/// Ends a call once: marks it ended and fails whatever was still waiting or in flight. (The
/// index of active calls is another hash slot's: the store drops the call from it after this.)
/// With a conference sid, only that conference's end ends the call: an unrelated conference of
/// the same name (a leg that joined after the call) must not.
/// KEYS: call, queue, inflight, messages. ARGV: call id, now, reason, conference sid or "".
/// Returns {ended now (0/1), failed ids}.
pub(super) static END_CALL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if (not state) or state == 'ended' then return {0, {}} end
local conference = redis.call('HGET', KEYS[1], 'conference_sid')
if ARGV[4] ~= '' and conference and conference ~= ARGV[4] then return {0, {}} end
local stop = unmigrated(KEYS[4], KEYS[2], -1, KEYS[3])
if stop then return stop end
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', ARGV[2])
local failed = fail_all(KEYS[1], KEYS[3], KEYS[4], ARGV[3], ARGV[2])
for _, id in ipairs(fail_all(KEYS[1], KEYS[2], KEYS[4], ARGV[3], ARGV[2])) do
  table.insert(failed, id)
end
return {1, failed}
"#,
    )
});

/// Moves messages stored by the previous version (a hash per message) into the call's messages
/// hash, when a script found them waiting or in flight (`UNMIGRATED`). Each old hash is named in
/// KEYS, beside its id in ARGV, and copied; it is kept (a replica of the previous version may
/// still read it during a rolling upgrade) and expires with the call like the rest. A message
/// already moved is left as it is. An id whose old hash is gone too (expired, or never written) has nothing to say: it is
/// taken out of the queue and the in-flight list, so a script does not ask for it again. The
/// messages hash gets the call's remaining lifetime when the call has one (an ended call), else
/// the live call's (as ENQUEUE gives it).
/// KEYS: call, queue, inflight, messages, then the old hash of each id. ARGV: the live call's
/// messages lifetime in ms, then the ids.
/// Returns how many messages were moved.
pub(super) static MIGRATE_MESSAGES: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local moved = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local old_key = KEYS[3 + i]
  if redis.call('HEXISTS', KEYS[4], id .. ':id') == 0 then
    local old = redis.call('HGETALL', old_key)
    if #old == 0 then
      redis.call('LREM', KEYS[2], 0, id)
      redis.call('LREM', KEYS[3], 0, id)
    else
      for j = 1, #old, 2 do old[j] = id .. ':' .. old[j] end
      redis.call('HSET', KEYS[4], unpack(old))
      set(KEYS[4], id, 'id', id)
      moved = moved + 1
    end
  end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[4], ttl)
elseif redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('PEXPIRE', KEYS[4], ARGV[1])
end
return moved
"#,
    )
});

/// Records a conference event about a participant (or the conference's start) and says whose
/// leg it was. Twilio does not promise arrival order: an event older (by SequenceNumber) than
/// one already seen for the same participant is dropped, but for the join of someone (neither
/// the caller nor the speaker) whose leave came first: they came and went. The caller's join (or the
/// conference's start: only the caller starts it) connects the call and records the
/// conference (and its start, as `conference_started`); the speaker counts as joined only in
/// that same conference. Events about the
/// caller's leg are the call's activity.
/// KEYS: call. ARGV: CallSid (or "" for start), "join"|"leave"|"start", conference sid, now,
/// SequenceNumber or "", "1" if the participant joined with startConferenceOnEnter=true or "".
/// Returns "caller", "speaker", "other", "came-and-went", "old", "ended" or "missing".
pub(super) static PARTICIPANT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local call = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'speaker_in_sid', 'conference_sid')
if not call[1] then return 'missing' end
-- Once the call's conference is known, events of another conference of the same name (a leg
-- that dialled in after the call's conference ended) are not about this call.
if call[4] and call[4] ~= ARGV[3] then return 'old' end
if ARGV[5] ~= '' then
  -- SequenceNumber counts per conference: kept per conference and participant.
  local seq_field = 'seq:' .. ARGV[3] .. ':' .. ARGV[1]
  -- Set when a participant's first event is its leave: its join, arriving late, is news still.
  local unjoined_field = 'unjoined:' .. ARGV[3] .. ':' .. ARGV[1]
  local last = redis.call('HGET', KEYS[1], seq_field)
  if last and tonumber(last) >= tonumber(ARGV[5]) then
    if ARGV[2] == 'join' and call[1] ~= 'ended' and call[2] ~= ARGV[1] and call[3] ~= ARGV[1]
        and redis.call('HDEL', KEYS[1], unjoined_field) == 1 then
      return 'came-and-went'
    end
    return 'old'
  end
  redis.call('HSET', KEYS[1], seq_field, ARGV[5])
  if ARGV[2] == 'leave' and not last then redis.call('HSET', KEYS[1], unjoined_field, 1) end
end
if call[1] == 'ended' then return 'ended' end
if ARGV[2] == 'start' or call[2] == ARGV[1] then
  -- News of the caller's leg: it is not lost (see CLAIM_STATUS_CHECK).
  redis.call('HSET', KEYS[1], 'last_activity_at', ARGV[4])
end
local function connect()
  redis.call('HSET', KEYS[1], 'conference_sid', ARGV[3])
  if call[1] == 'ringing' then
    redis.call('HSET', KEYS[1], 'state', 'connected', 'connected_at', ARGV[4])
  end
end
if ARGV[2] == 'start' then
  if not call[4] then connect() end
  -- Announcements are heard (and taken by Twilio) only in a conference that has started.
  redis.call('HSET', KEYS[1], 'conference_started', 1)
  return 'caller'
end
if call[2] == ARGV[1] then
  if ARGV[2] == 'join' then connect() end
  return 'caller'
end
if ARGV[2] == 'join' and ARGV[6] ~= '' and call[1] == 'connected' and call[4] == ARGV[3] then
  -- A participant with startConferenceOnEnter=true joined the caller: that starts the
  -- conference under every reading of Twilio's rule, whether or not its conference-start has
  -- been seen yet.
  redis.call('HSET', KEYS[1], 'conference_started', 1)
end
if call[3] and call[3] == ARGV[1] then
  if ARGV[2] == 'join' then
    if call[4] == ARGV[3] then redis.call('HSET', KEYS[1], 'speaker_state', 'joined') end
  else
    redis.call('HSET', KEYS[1], 'speaker_state', 'left')
  end
  return 'speaker'
end
return 'other'
"#,
    )
});

/// Twilio fetched the announcement of turn `turn` of announce leg `leg`: if that is still the
/// call's current turn, it is marked served, so that its `announcement-end` counts it heard
/// (Twilio reports an announcement it could not fetch or play as ended all the same).
/// KEYS: call. ARGV: leg, turn. Returns 1 if marked.
pub(super) static ANNOUNCEMENT_SERVED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local f = redis.call('HMGET', KEYS[1], 'speaker_leg', 'speaker_turn', 'speaker_state')
if f[1] ~= ARGV[1] or f[2] ~= ARGV[2] or f[3] ~= 'announcing' then return 0 end
redis.call('HSET', KEYS[1], 'announce_served', ARGV[2])
return 1
"#,
    )
});

/// An `announcement-end` or `announcement-fail` in conference `conference`: which announcement
/// it is about. Twilio's event names no announcement of ours, but a call has at most one in
/// flight (its announce leg's current turn), so it is that one; an event already seen (its
/// SequenceNumber is not newer than the last announcement event's) is a repeat and is dropped.
/// KEYS: call. ARGV: conference sid, SequenceNumber or "".
/// Returns {"heard" | "unheard" | "none", leg, turn, the call's line or ""}: "unheard" when
/// Twilio never fetched the turn's document (so nothing of it was said), "none" when no
/// announcement of the call's is in flight (or the event is a repeat, or of another conference).
pub(super) static ANNOUNCEMENT_FINISHED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local f = redis.call('HMGET', KEYS[1], 'conference_sid', 'speaker_leg', 'speaker_turn',
  'speaker_state', 'announce_served', 'line')
if f[1] ~= ARGV[1] then return {'none', '', 0, ''} end
if ARGV[2] ~= '' then
  local key = 'seq:' .. ARGV[1] .. ':announcement'
  local last = redis.call('HGET', KEYS[1], key)
  if last and tonumber(last) >= tonumber(ARGV[2]) then return {'none', '', 0, ''} end
  redis.call('HSET', KEYS[1], key, ARGV[2])
end
local turn = tonumber(f[3] or '0')
if (not f[2]) or f[4] ~= 'announcing' or turn == 0 then return {'none', '', 0, ''} end
redis.call('HDEL', KEYS[1], 'announce_served')
local line = f[6] or ''
if tonumber(f[5] or '0') == turn then return {'heard', f[2], turn, line} end
return {'unheard', f[2], turn, line}
"#,
    )
});

/// Accepting a call: the first responder to press 1 on a live call gets it.
/// KEYS: call. ARGV: responder index. Returns 1 if this responder won.
pub(super) static ACCEPT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if (not state) or state == 'ended' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'voicemail_started') == 1 then return 0 end
return redis.call('HSETNX', KEYS[1], 'accepted_by', ARGV[1])
"#,
    )
});

/// A human participant entered the conference (once per CallSid). KEYS: call, joined list.
/// ARGV: CallSid, name. Returns how many humans were there before, or -1 for a repeat.
pub(super) static HUMAN_JOINED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HSETNX', KEYS[1], 'present:' .. ARGV[1], 1) == 0 then return -1 end
local before = tonumber(redis.call('HGET', KEYS[1], 'humans') or '0')
redis.call('HINCRBY', KEYS[1], 'humans', 1)
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[2]) end
return before
"#,
    )
});

/// A human participant left. KEYS: call. ARGV: CallSid. Returns 1 if they were present.
pub(super) static HUMAN_LEFT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('HDEL', KEYS[1], 'present:' .. ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'humans', -1)
return 1
"#,
    )
});

/// Voicemail starts once: the call is live, nobody accepted, nobody wrote from chat; and it is
/// tried at most `max tries` times (Twilio refusing to move the caller again and again means the
/// call is gone, or Twilio is down: trying for ever would not help).
/// KEYS: call. ARGV: now, max tries. Returns the number of this try (1, 2, ...), or 0 if
/// voicemail does not start now.
pub(super) static START_VOICEMAIL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'connected' and state ~= 'ringing' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'accepted_by') == 1 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'chat_replies') or '0') > 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'voicemail_started') == 1 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'voicemail_tries') or '0') >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'voicemail_started', ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'voicemail_tries', 1)
"#,
    )
});

/// Keeps one part of a call's voicemail, `recording` (its URL) or `transcript`, and says what to
/// post now. Twilio sends the transcript in the background, in no promised order against the
/// recording, and may send a callback twice: each part counts once (the first report), and the
/// transcript is posted only once the recording is known (with it, when it came first).
/// KEYS: call. ARGV: part name, value.
/// Returns {recording URL or "", post the recording now (0/1), transcript to post now or ""}.
pub(super) static VOICEMAIL_PART: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {'', 0, ''} end
if redis.call('HSETNX', KEYS[1], 'voicemail_' .. ARGV[1], ARGV[2]) == 0 then return {'', 0, ''} end
local f = redis.call('HMGET', KEYS[1], 'voicemail_recording', 'voicemail_transcript')
if not f[1] then return {'', 0, ''} end
local post_recording = 0
if ARGV[1] == 'recording' then post_recording = 1 end
return {f[1], post_recording, f[2] or ''}
"#,
    )
});

/// Records a call once: its id is fixed before (for an incoming call, a function of its CallSid:
/// see `domain::incoming_call_id`), so Twilio asking again about the same call finds it here,
/// and nothing of it is written twice. A repeat of a live call is news of its caller leg (see
/// CLAIM_STATUS_CHECK). Either way the call is returned, for the bridges' event and for the
/// caller's answer, so that answering a call costs no read after this step.
/// The CallSid lookup and the index of active calls are not touched here: they live in other
/// hash slots, and are single-key writes sent in the same pipeline (see `Store::create_call`).
/// KEYS: call, joined list. ARGV: now, then the call's fields as name, value pairs.
/// Returns {created (0/1), the call hash as HGETALL gives it, the joined names}.
pub(super) static CREATE_CALL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
  created = 1
else
  local state = redis.call('HGET', KEYS[1], 'state')
  if state and state ~= 'ended' then redis.call('HSET', KEYS[1], 'last_activity_at', ARGV[1]) end
end
return {created, redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
"#,
    )
});

/// A call's final callbacks can be lost (they arrive while Redis is down, and Twilio does not
/// send them again), so the sweep asks Twilio about calls it has heard nothing of for a while.
/// This claims one such question: only for a live call Twilio has said nothing about, and nobody
/// has asked about, for `quiet` ms; so each call is asked about at most once per `quiet`, however
/// many replicas sweep.
/// KEYS: call. ARGV: now, quiet ms. Returns 1 if the caller is to ask.
pub(super) static CLAIM_STATUS_CHECK: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local f = redis.call('HMGET', KEYS[1], 'state', 'last_activity_at', 'status_checked_at', 'started_at')
if (not f[1]) or f[1] == 'ended' then return 0 end
local last = math.max(tonumber(f[2] or f[4] or '0'), tonumber(f[3] or '0'))
if tonumber(ARGV[1]) - last < tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'status_checked_at', ARGV[1])
return 1
"#,
    )
});

/// Keeps one final utterance of the caller (live transcription), once per SequenceId, within the
/// call's bounds, and marks it to be posted. An utterance that arrives after the call ended gets
/// the call's remaining lifetime: a transcript expires with its call.
/// KEYS: call, transcript, transcript unposted. ARGV: SequenceId, now, text, max utterances,
/// max bytes. Returns "stored", "duplicate", "full" (the first time the call's bound is
/// reached), "full-again" or "missing" (no such call).
pub(super) static TRANSCRIPT_FINAL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'duplicate' end
local count = tonumber(redis.call('HGET', KEYS[1], 'tx_utterances') or '0')
local bytes = tonumber(redis.call('HGET', KEYS[1], 'tx_bytes') or '0')
if count >= tonumber(ARGV[4]) or bytes + string.len(ARGV[3]) > tonumber(ARGV[5]) then
  if redis.call('HSETNX', KEYS[1], 'tx_full', '1') == 1 then return 'full' end
  return 'full-again'
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('HSET', KEYS[1], 'tx_utterances', count + 1, 'tx_bytes', bytes + string.len(ARGV[3]))
redis.call('ZADD', KEYS[3], tonumber(ARGV[1]), ARGV[1])
redis.call('HSETNX', KEYS[1], 'tx_pending_since', ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return 'stored'
"#,
    )
});

/// Takes the utterances waiting to be posted, in SequenceId order, once the oldest of them has
/// waited `delay` ms (a callback overtaken by a later one arrives within it, and is posted in
/// its place). One replica gets them; the others get nothing.
/// KEYS: call, transcript, transcript unposted. ARGV: now, delay ms. Returns a flat list
/// {SequenceId, stored value, ...}.
pub(super) static TRANSCRIPT_TAKE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local since = redis.call('HGET', KEYS[1], 'tx_pending_since')
if (not since) or tonumber(ARGV[1]) - tonumber(since) < tonumber(ARGV[2]) then return {} end
local seqs = redis.call('ZRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[1], 'tx_pending_since')
if #seqs == 0 then return {} end
return present(seqs, redis.call('HMGET', KEYS[2], unpack(seqs)))
"#,
    )
});

/// Sets a flag of a call once: true the first time. Never creates a record for a call that has
/// none (an expired call's late callback).
/// KEYS: call. ARGV: field. Returns 1 the first time, else 0.
pub(super) static CALL_FLAG_ONCE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[1], '1')
"#,
    )
});

/// Escalation's one step: from step ARGV[1] (-1: ringing begins) to the next, once. KEYS: call.
/// ARGV: from, steps in all, now (ms), the next step's deadline (ms). Compare-and-set on the
/// step, so of replicas racing (a level's time up on two sweeps, a press of 2 beside it) one
/// moves it. Returns the new step (equal to `steps` when every level was rung), or -1.
pub(super) static ESCALATE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if (not state) or state == 'ended' then return -1 end
if redis.call('HEXISTS', KEYS[1], 'accepted_by') == 1 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'voicemail_started') == 1 then return -1 end
local from = tonumber(ARGV[1])
local step = tonumber(redis.call('HGET', KEYS[1], 'esc_step') or '-1')
if step ~= from then return -1 end
if from == -1 then
  if redis.call('HSETNX', KEYS[1], 'ring_started', ARGV[3]) == 0 then return -1 end
end
local next = from + 1
if next >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'esc_step', next)
  redis.call('HDEL', KEYS[1], 'esc_deadline')
else
  redis.call('HSET', KEYS[1], 'esc_step', next, 'esc_deadline', ARGV[4])
end
return next
"#,
    )
});

/// Hands the sweep the calls due for a look: at most `limit` of those whose time has come,
/// soonest first, each put off to `hold` (so that other replicas' sweeps take others, and a
/// sweep that dies midway leaves them to be looked at again then). One key: the sweep's index.
/// KEYS: due index. ARGV: now, limit, hold (unix ms). Returns the ids.
pub(super) static DUE_CALLS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], id)
end
return ids
"#,
    )
});

/// What the sweep needs of one call, read at once: its record, whether it needs a speaker (as
/// NEEDS_SPEAKER), whether messages wait or are in flight, and whether utterances wait to be
/// posted.
/// KEYS: call, queue, inflight, lock, unposted utterances. ARGV: now.
/// Returns {call hash (field, value...), needs a speaker (0/1), messages waiting, utterances
/// unposted}.
pub(super) static LOOK_AT_CALL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local fields = redis.call('HGETALL', KEYS[1])
local waiting = redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3])
local needs = 0
if waiting > 0 and redis.call('HGET', KEYS[1], 'state') == 'connected'
  and redis.call('EXISTS', KEYS[4]) == 0 and not dial_backing_off(KEYS[1], ARGV[1]) then
  needs = 1
end
return {fields, needs, waiting, redis.call('ZCARD', KEYS[5])}
"#,
    )
});

#[cfg(test)]
mod tests {
    //! A static check of the rule that every key a script touches is named in KEYS, over this
    //! file's Lua (`tests/e2e/script_keys.rs` checks it again, at run time, on a real
    //! redis-server).
    //! The Lua is simple enough to read without a parser: a key is `KEYS[...]` or a name ending
    //! in `_key`, and such a name is only ever a function's parameter, given `KEYS[...]` or
    //! another such name, or a local bound to `KEYS[...]`.

    /// Every raw string of this file: the prelude and each script's body.
    fn lua_sources() -> Vec<&'static str> {
        let file = include_str!("scripts.rs");
        let mut sources = Vec::new();
        let mut rest = file;
        while let Some(start) = rest.find("r#\"") {
            let body = &rest[start + 3..];
            let end = body.find("\"#").expect("a raw string's end");
            sources.push(&body[..end]);
            rest = &body[end + 2..];
        }
        sources
            .into_iter()
            .filter(|s| s.contains("redis.call"))
            .collect()
    }

    /// The arguments of a call, from the text after its `(`: split at top-level commas.
    fn arguments(after_paren: &str) -> Vec<String> {
        let (mut depth, mut quote, mut current, mut out) = (0, None, String::new(), Vec::new());
        for c in after_paren.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(' | '{' | '[') => depth += 1,
                (None, ')' | '}' | ']') if depth == 0 => break,
                (None, ')' | '}' | ']') => depth -= 1,
                (None, ',') if depth == 0 => {
                    out.push(current.trim().to_owned());
                    current.clear();
                    continue;
                }
                _ => {}
            }
            current.push(c);
        }
        out.push(current.trim().to_owned());
        out
    }

    fn is_key(expression: &str) -> bool {
        let name = expression
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        expression.starts_with("KEYS[") && expression.ends_with(']')
            || name && expression.ends_with("_key")
    }

    /// Each `name(` call in `source` (not its definition), with its arguments.
    fn calls(source: &str, name: &str) -> Vec<Vec<String>> {
        let pattern = format!("{name}(");
        source
            .match_indices(&pattern)
            .filter(|(at, _)| {
                let before = &source[..*at];
                let word_start = before
                    .chars()
                    .last()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
                word_start && !before.ends_with("function ")
            })
            .map(|(at, _)| arguments(&source[at + pattern.len()..]))
            .collect()
    }

    #[test]
    fn every_key_a_script_touches_is_named_in_keys() {
        let sources = lua_sources();
        assert!(sources.len() > 20, "found {} scripts", sources.len());
        let mut wrong = Vec::new();
        for source in &sources {
            for command in ["redis.call", "redis.pcall"] {
                for args in calls(source, command) {
                    if args.len() < 2 || !is_key(&args[1]) {
                        wrong.push(format!("{command}({})", args.join(", ")));
                    }
                }
            }
            // A name ending in `_key` is bound only from KEYS.
            for line in source.lines() {
                if let Some((left, right)) = line.split_once(" = ")
                    && left.trim_end().ends_with("_key")
                    && !right.trim_start().starts_with("KEYS[")
                {
                    wrong.push(line.trim().to_owned());
                }
            }
        }
        // The prelude's functions: what they are given as a key is a key.
        let prelude = super::PRELUDE;
        for definition in prelude.split("local function ").skip(1) {
            let (name, rest) = definition.split_once('(').expect("a function's parameters");
            let params = arguments(rest);
            for source in &sources {
                for args in calls(source, name) {
                    for (param, arg) in params.iter().zip(&args) {
                        if param.ends_with("_key") && !is_key(arg) {
                            wrong.push(format!("{name}({}): {param} = {arg}", args.join(", ")));
                        }
                    }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "keys not named in KEYS:\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn the_check_finds_a_key_built_in_lua() {
        let built = "redis.call('HGET', prefix .. id, 'state')";
        let args = &calls(built, "redis.call")[0];
        assert_eq!(args[1], "prefix .. id");
        assert!(!is_key(&args[1]));
        let passed = "requeue_or_fail(KEYS[1], KEYS[2], ARGV[3], orphans)";
        assert_eq!(calls(passed, "requeue_or_fail")[0][2], "ARGV[3]");
        assert!(is_key("KEYS[4 + i]") && is_key("messages_key") && !is_key("ARGV[6]"));
    }
}
