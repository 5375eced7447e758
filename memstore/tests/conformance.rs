//! The same command sequences against a real `redis-server` and against `MemStore`: every reply
//! (values and errors, word for word) must be the same. The scripts use the idioms denwa's store
//! scripts use.

mod common;

use common::{RealRedis, connect, memstore, raw};

/// A queue step in the style of denwa's scripts: HGET compared with `~=`, nil as false,
/// `tonumber(x or '0')`, `ipairs` over LRANGE, `table.insert` at the front, a message's fields
/// named `<id>:<field>` in one hash, varargs through `unpack`, HMGET of built names, an error
/// reply that stops before writing (`UNMIGRATED`), a nested table reply.
const TURN: &str = r#"
local function set(messages_key, id, ...)
  local args = {...}
  for i = 1, #args, 2 do args[i] = id .. ':' .. args[i] end
  redis.call('HSET', messages_key, unpack(args))
end
local function requeue_or_fail(call_key, queue_key, messages_key, ids, max_attempts, reason)
  local failed = {}
  local ended = redis.call('HGET', call_key, 'state') == 'ended'
  for i = #ids, 1, -1 do
    local id = ids[i]
    local attempts = tonumber(redis.call('HGET', messages_key, id .. ':attempts') or '0')
    if (not ended) and attempts < max_attempts then
      set(messages_key, id, 'state', 'queued')
      redis.call('LPUSH', queue_key, id)
    else
      set(messages_key, id, 'state', 'failed', 'reason', reason)
      redis.call('HINCRBY', call_key, 'messages_failed', 1)
      table.insert(failed, 1, id)
    end
  end
  return failed
end
if redis.call('HGET', KEYS[1], 'speaker_leg') ~= ARGV[1] then return {'stale', {}, {}, {}, 0} end
local missing = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  if redis.call('HEXISTS', KEYS[5], id .. ':id') == 0 then table.insert(missing, id) end
end
if #missing > 0 then return redis.error_reply('UNMIGRATED ' .. table.concat(missing, ' ')) end
local current = tonumber(redis.call('HGET', KEYS[1], 'speaker_turn') or '0')
local turn = tonumber(ARGV[2])
if turn ~= current + 1 then return {'stale', {}, {}, {}, 0} end
local inflight = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
local spoken, failed = {}, {}
if ARGV[3] == 'heard' then
  for _, id in ipairs(inflight) do
    set(KEYS[5], id, 'state', 'spoken')
    table.insert(spoken, id)
  end
  if #inflight > 0 then redis.call('HINCRBY', KEYS[1], 'messages_spoken', #inflight) end
else
  failed = requeue_or_fail(KEYS[1], KEYS[2], KEYS[5], inflight, tonumber(ARGV[4]), 'lost')
end
local batch = redis.call('LRANGE', KEYS[2], 0, 1)
redis.call('LTRIM', KEYS[2], #batch, -1)
if #batch == 0 then
  redis.call('DEL', KEYS[4])
  redis.call('HDEL', KEYS[1], 'speaker_leg', 'speaker_turn')
  local more = 0
  if redis.call('LLEN', KEYS[2]) > 0 then more = 1 end
  return {'done', spoken, failed, {}, more}
end
local bytes, messages = 0, {}
for _, id in ipairs(batch) do
  redis.call('HINCRBY', KEYS[5], id .. ':attempts', 1)
  redis.call('RPUSH', KEYS[3], id)
  local f = redis.call('HMGET', KEYS[5], unpack({id .. ':text', id .. ':state', id .. ':none'}))
  bytes = bytes + string.len(f[1] or '')
  table.insert(messages, {f[1], f[2], f[3] or ''})
end
redis.call('HSET', KEYS[1], 'speaker_turn', turn)
redis.call('SET', KEYS[4], ARGV[1], 'PX', 60000 + bytes * 100)
return {'speak', spoken, failed, batch, 0, messages}
"#;

const ENQUEUE: &str = r#"
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
if state == 'ended' then return 'ended' end
redis.call('HSET', KEYS[3], ARGV[1] .. ':id', ARGV[1], ARGV[1] .. ':text', ARGV[2],
  ARGV[1] .. ':state', 'queued', ARGV[1] .. ':attempts', 0)
redis.call('RPUSH', KEYS[2], ARGV[1])
return 'ok'
"#;

/// Moving a message stored a hash of its own into the messages hash (MIGRATE_MESSAGES): HGETALL's
/// names rewritten and given back through `unpack`, LREM of a message with no hash, PTTL copied.
const MIGRATE: &str = r#"
local moved = 0
for i, id in ipairs(ARGV) do
  local old_key = KEYS[3 + i]
  local old = redis.call('HGETALL', old_key)
  if #old == 0 then
    redis.call('LREM', KEYS[2], 0, id)
  else
    for j = 1, #old, 2 do old[j] = id .. ':' .. old[j] end
    redis.call('HSET', KEYS[3], unpack(old))
    moved = moved + 1
  end
  redis.call('DEL', old_key)
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
return moved
"#;

const PARTICIPANT: &str = r#"
local call = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'speaker_in_sid', 'conference_sid')
if not call[1] then return 'missing' end
if ARGV[2] ~= '' then
  local seq_key = 'seq:' .. ARGV[1]
  local last = redis.call('HGET', KEYS[1], seq_key)
  if last and tonumber(last) >= tonumber(ARGV[2]) then return 'old' end
  redis.call('HSET', KEYS[1], seq_key, ARGV[2])
end
if call[3] and call[3] == ARGV[1] then return 'speaker' end
if call[2] == ARGV[1] then
  if not call[4] then redis.call('HSET', KEYS[1], 'conference_sid', 'CF1', 'state', 'connected') end
  return 'caller'
end
return 'other'
"#;

/// The rate window of denwa's ENQUEUE: times in ms as scores, the cutoff formatted with `%d`,
/// the oldest score read back with `tonumber`.
const RATE: &str = r#"
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {'rate_limited', tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'ok', redis.call('ZCARD', KEYS[1])}
"#;

/// The idioms of the transcript's scripts (TRANSCRIPT_FINAL, TRANSCRIPT_TAKE): HSETNX-like
/// checks with HEXISTS, a sorted set as an ordered set of numbers, `unpack` into HMGET, PTTL
/// copied to other keys.
const TRANSCRIPT: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'duplicate' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]), ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
local seqs = redis.call('ZRANGE', KEYS[2], 0, -1)
local values = redis.call('HMGET', KEYS[1], unpack(seqs))
local out = {}
for i, seq in ipairs(seqs) do
  table.insert(out, seq)
  table.insert(out, values[i] or '')
end
return out
"#;

/// The sweep's DUE_CALLS: the due members by score with a LIMIT, each put off with `ZADD XX`;
/// then the sweep's next looks (`ZADD XX LT`) and an event's (`ZADD LT`).
const DUE: &str = r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], id)
end
return ids
"#;

fn steps() -> Vec<Vec<&'static str>> {
    let s = |v: &[&'static str]| v.to_vec();
    let turn = |leg: &'static str, n: &'static str, mode: &'static str| {
        vec![
            "EVAL", TURN, "5", "c", "q", "inf", "lock", "msgs", leg, n, mode, "2",
        ]
    };
    let enqueue = |id: &'static str, text: &'static str| {
        vec!["EVAL", ENQUEUE, "3", "c", "q", "msgs", id, text]
    };
    let rate =
        |now: &'static str, id: &'static str| vec!["EVAL", RATE, "1", "acc", now, "60000", "2", id];
    let mut steps = vec![
        // Plain commands and their errors.
        s(&["PING"]),
        s(&["PING", "hello"]),
        s(&["ECHO", "x"]),
        s(&["SELECT", "0"]),
        s(&["SET", "s", "1"]),
        s(&["SET", "s", "2", "NX"]),
        s(&["SET", "s", "3", "XX"]),
        s(&["SET", "fresh", "3", "XX"]),
        s(&["SET", "d", "1", "NX", "EX", "100"]),
        s(&["SET", "d", "1", "NX", "EX", "100"]),
        s(&["TTL", "d"]),
        s(&["SET", "p", "v", "PX", "100000"]),
        s(&["TTL", "p"]),
        s(&["SET", "p", "v", "EX", "0"]),
        s(&["SET", "p", "v", "EX", "x"]),
        s(&["SET", "p", "v", "NX", "XX"]),
        s(&["SET", "p", "v", "EX", "10", "PX", "10"]),
        s(&["SET", "p", "w", "GET"]),
        s(&["SETEX", "e", "100", "v"]),
        s(&["TTL", "e"]),
        s(&["SETEX", "e", "0", "v"]),
        s(&["GET", "e"]),
        s(&["GETDEL", "e"]),
        s(&["GETDEL", "e"]),
        s(&["GET", "e"]),
        s(&["TTL", "nope"]),
        s(&["TTL", "s"]),
        s(&["EXPIRE", "s", "50"]),
        s(&["TTL", "s"]),
        s(&["EXPIRE", "s", "10", "GT"]),
        s(&["EXPIRE", "s", "10", "LT"]),
        s(&["EXPIRE", "s", "10", "NX"]),
        s(&["EXPIRE", "s", "10", "NX", "XX"]),
        s(&["EXPIRE", "nope", "10"]),
        s(&["PEXPIRE", "s", "-1"]),
        s(&["EXISTS", "s"]),
        s(&["PERSIST", "p"]),
        s(&["INCR", "n"]),
        s(&["INCRBY", "n", "41"]),
        s(&["INCRBY", "n", "x"]),
        s(&["INCR", "p"]),
        s(&["SET", "big", "9223372036854775807"]),
        s(&["INCR", "big"]),
        s(&["DEL", "n", "big", "nope"]),
        s(&["EXISTS", "p", "p", "nope"]),
        s(&["TYPE", "p"]),
        // Hashes: insertion order, HSET on existing fields, HDEL, HINCRBY errors.
        s(&["HSET", "h", "a", "1", "b", "2", "c", "3"]),
        s(&["HSET", "h", "b", "20", "d", "4"]),
        s(&["HSET", "h", "odd"]),
        s(&["HSET", "h", "x", "1", "y"]),
        s(&["HMSET", "h", "e", "5"]),
        s(&["HGETALL", "h"]),
        s(&["HGET", "h", "b"]),
        s(&["HGET", "h", "zz"]),
        s(&["HGET", "nope", "zz"]),
        s(&["HMGET", "h", "a", "zz", "c"]),
        s(&["HMGET", "nope", "a"]),
        s(&["HDEL", "h", "a", "zz", "c"]),
        s(&["HGETALL", "h"]),
        s(&["HSET", "h", "a", "again"]),
        s(&["HGETALL", "h"]),
        s(&["HINCRBY", "h", "d", "10"]),
        s(&["HINCRBY", "h", "new", "-3"]),
        s(&["HINCRBY", "h", "a", "1"]),
        s(&["HINCRBY", "h", "d", "1.5"]),
        s(&["HEXISTS", "h", "a"]),
        s(&["HSETNX", "h", "a", "not-set"]),
        s(&["HSETNX", "h", "fresh", "set"]),
        s(&["HSETNX", "brand-new", "f", "v"]),
        s(&["SET", "hsetnx-str", "x"]),
        s(&["HSETNX", "hsetnx-str", "f", "v"]),
        s(&["DEL", "hsetnx-str"]),
        s(&["HGETALL", "h"]),
        s(&["HDEL", "h", "fresh"]),
        s(&["DEL", "brand-new"]),
        s(&["HLEN", "h"]),
        s(&["HDEL", "h", "a", "b", "d", "e", "new"]),
        s(&["EXISTS", "h"]),
        s(&["HGETALL", "h"]),
        // Lists.
        s(&["RPUSH", "l", "a", "b", "c"]),
        s(&["LPUSH", "l", "x", "y"]),
        s(&["LRANGE", "l", "0", "-1"]),
        s(&["LRANGE", "l", "-2", "100"]),
        s(&["LRANGE", "l", "3", "1"]),
        s(&["LRANGE", "l", "0", "x"]),
        s(&["LRANGE", "nope", "0", "-1"]),
        s(&["LLEN", "l"]),
        s(&["LTRIM", "l", "1", "-2"]),
        s(&["LRANGE", "l", "0", "-1"]),
        s(&["LPOP", "l"]),
        s(&["RPOP", "l", "5"]),
        s(&["LPOP", "l"]),
        s(&["LPOP", "l", "2"]),
        s(&["RPUSH", "l", "a", "b", "c"]),
        s(&["LTRIM", "l", "5", "10"]),
        s(&["EXISTS", "l"]),
        s(&["LLEN", "l"]),
        // Sorted sets.
        s(&["ZADD", "z", "3", "c", "1", "a", "2", "b"]),
        s(&["ZADD", "z", "1", "b"]),
        s(&["ZADD", "z", "1.5", "d", "1700000000000", "e"]),
        s(&["ZADD", "z", "CH", "5", "a"]),
        s(&["ZADD", "z", "NX", "9", "a"]),
        s(&["ZADD", "z", "XX", "GT", "1", "a"]),
        s(&["ZADD", "z", "x", "a"]),
        s(&["ZADD", "z", "1"]),
        s(&["ZADD", "z", "NX", "XX", "1", "a"]),
        s(&["ZADD", "z", "INCR", "2", "a"]),
        s(&["ZRANGE", "z", "0", "-1"]),
        s(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        s(&["ZRANGE", "z", "1", "2"]),
        s(&["ZRANGE", "z", "0", "0", "REV"]),
        s(&["ZSCORE", "z", "d"]),
        s(&["ZCARD", "z"]),
        s(&["ZREM", "z", "a", "nope"]),
        s(&["ZREM", "z", "b", "c", "d", "e"]),
        s(&["EXISTS", "z"]),
        s(&["ZRANGE", "nope", "0", "-1"]),
        // The rate limit's window: scores are times in ms, trimmed from below.
        s(&[
            "ZADD", "w", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ]),
        s(&["ZREMRANGEBYSCORE", "w", "-inf", "(2"]),
        s(&["ZREMRANGEBYSCORE", "w", "4", "+inf"]),
        s(&["ZRANGE", "w", "0", "-1", "WITHSCORES"]),
        s(&["ZREMRANGEBYSCORE", "w", "(2", "(3"]),
        s(&["ZREMRANGEBYSCORE", "w", "x", "1"]),
        s(&["ZREMRANGEBYSCORE", "w", "1", "(y"]),
        s(&["ZREMRANGEBYSCORE", "nope", "0", "1"]),
        s(&["ZREMRANGEBYSCORE", "w", "-inf", "1700000000000"]),
        s(&["EXISTS", "w"]),
        s(&["ZREMRANGEBYSCORE", "w", "0"]),
        // Wrong types.
        s(&["RPUSH", "list", "x"]),
        s(&["GET", "list"]),
        s(&["HGET", "list", "f"]),
        s(&["HSET", "list", "f", "v"]),
        s(&["ZADD", "list", "1", "a"]),
        s(&["ZREMRANGEBYSCORE", "list", "0", "1"]),
        s(&["LPUSH", "p", "x"]),
        s(&["SET", "list", "now a string"]),
        s(&["GET", "list"]),
        // Unknown commands, arity.
        s(&["NOSUCH", "a", "b"]),
        s(&["nosuch"]),
        s(&["GET"]),
        s(&["GET", "a", "b"]),
        s(&["hget", "a"]),
        // Transactions.
        s(&["MULTI"]),
        s(&["SET", "t", "1"]),
        s(&["INCR", "t"]),
        s(&["HSET", "t", "f", "v"]),
        s(&["GET", "t"]),
        s(&["EXEC"]),
        s(&["MULTI"]),
        s(&["SET", "t", "9"]),
        s(&["NOSUCH"]),
        s(&["EXEC"]),
        s(&["GET", "t"]),
        s(&["MULTI"]),
        s(&["MULTI"]),
        s(&["DISCARD"]),
        s(&["EXEC"]),
        s(&["DISCARD"]),
        // Scripts: loading, NOSCRIPT, errors.
        s(&["SCRIPT", "LOAD", "return 1"]),
        s(&["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"]),
        s(&["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"]),
        s(&["EVALSHA", "0000000000000000000000000000000000000000", "0"]),
        s(&["EVALSHA", "short", "0"]),
        s(&[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            "ffff",
        ]),
        s(&["EVAL", "return 1", "2", "a"]),
        s(&["EVAL", "return 1", "-1"]),
        s(&["EVAL", "return 1", "x"]),
        s(&[
            "EVAL",
            "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}",
            "2",
            "k1",
            "k2",
            "a1",
        ]),
        // Lua <-> RESP conversions.
        s(&[
            "EVAL",
            "return {1, 2.7, -2.7, 'x', true, false, nil, 5}",
            "0",
        ]),
        s(&["EVAL", "return 3.99", "0"]),
        s(&["EVAL", "return -3.99", "0"]),
        s(&["EVAL", "return nil", "0"]),
        s(&["EVAL", "return false", "0"]),
        s(&["EVAL", "return true", "0"]),
        s(&["EVAL", "local t = {} t[1] = 'a' t[3] = 'c' return t", "0"]),
        s(&["EVAL", "return {err='My Error'}", "0"]),
        s(&["EVAL", "return redis.error_reply('My Error')", "0"]),
        s(&["EVAL", "return redis.error_reply('-X bad')", "0"]),
        s(&["EVAL", "return redis.status_reply('FINE')", "0"]),
        s(&["EVAL", "return {ok='fine'}", "0"]),
        s(&["EVAL", "return {1, {2, {3, {'deep'}}}, {}}", "0"]),
        s(&["EVAL", "return redis.call('PING')", "0"]),
        s(&["EVAL", "return type(redis.call('PING'))", "0"]),
        s(&["EVAL", "return redis.call('PING').ok", "0"]),
        s(&["EVAL", "return redis.call('GET', 'nothing')", "0"]),
        s(&["EVAL", "return tostring(redis.call('GET', 'nothing'))", "0"]),
        s(&[
            "EVAL",
            "return type(redis.call('INCR', KEYS[1]))",
            "1",
            "counter",
        ]),
        s(&[
            "EVAL",
            "return redis.call('INCR', KEYS[1]) + 0.5",
            "1",
            "counter",
        ]),
        s(&["EVAL", "return redis.call('SET', 'num', 0.1)", "0"]),
        s(&["GET", "num"]),
        s(&["EVAL", "return redis.call('SET', 'num', 1e20)", "0"]),
        s(&["GET", "num"]),
        s(&["EVAL", "return redis.call('SET', 'num', 3)", "0"]),
        s(&["GET", "num"]),
        s(&[
            "EVAL",
            "return redis.call('HMGET', 'nohash', 'a', 'b')",
            "0",
        ]),
        s(&["EVAL", "return redis.call('EXISTS', 'num') == 1", "0"]),
        s(&["EVAL", "return redis.sha1hex('')", "0"]),
        s(&["EVAL", "return 'a' .. 1 .. tostring(2.5)", "0"]),
        s(&[
            "EVAL",
            "return string.format('%d-%s', 7, 'x') .. string.len('abc') .. math.floor(2.5)",
            "0",
        ]),
        s(&[
            "EVAL",
            "local t = {} table.insert(t, 'b') table.insert(t, 1, 'a') return table.concat(t, ',')",
            "0",
        ]),
        rate("1700000000000", "m1"),
        rate("1700000010000", "m2"),
        rate("1700000030000", "m3"),
        rate("1700000060000", "m3"),
        s(&["ZRANGE", "acc", "0", "-1", "WITHSCORES"]),
        // Script errors.
        s(&["EVAL", "error('boom')", "0"]),
        s(&["EVAL", "\n\nerror('boom on three')", "0"]),
        s(&["EVAL", "error({err='TAB boom'})", "0"]),
        s(&["EVAL", "return redis.call('GET', KEYS[1])", "1", "list"]),
        s(&[
            "EVAL",
            "return redis.call('HGET', KEYS[1], 'f')",
            "1",
            "list",
        ]),
        s(&[
            "EVAL",
            "local t = redis.pcall('HGET', KEYS[1], 'f'); return {type(t), t.err}",
            "1",
            "list",
        ]),
        s(&[
            "EVAL",
            "return redis.pcall('HGET', KEYS[1], 'f')",
            "1",
            "list",
        ]),
        s(&["EVAL", "x = 1", "0"]),
        s(&["EVAL", "return undefined_thing", "0"]),
        s(&["EVAL", "return loadfile", "0"]),
        s(&["EVAL", "return redis.call('NOPE')", "0"]),
        s(&["EVAL", "return redis.call('EVAL', 'return 1', '0')", "0"]),
        s(&["EVAL", "return redis.call('MULTI')", "0"]),
        s(&["EVAL", "return redis.call('GET', {})", "0"]),
        s(&["EVAL", "return redis.call()", "0"]),
        s(&["EVAL", "return redis.call('GET', 'a', 'b')", "0"]),
        s(&["EVAL", "return (", "0"]),
        s(&["EVAL", "local a = nil; return a.b", "0"]),
        s(&["EVAL", "return 1 + {}", "0"]),
        // A script in a transaction.
        s(&["MULTI"]),
        s(&["EVAL", "return redis.call('INCR', KEYS[1])", "1", "counter"]),
        s(&[
            "EVAL",
            "return redis.call('HGET', KEYS[1], 'f')",
            "1",
            "list",
        ]),
        s(&["EXEC"]),
        // denwa-style flow: a call, messages, turns, participants.
        enqueue("m1", "hello"),
        s(&[
            "HSET",
            "c",
            "state",
            "connected",
            "speaker_leg",
            "L1",
            "call_sid",
            "CA1",
        ]),
        enqueue("m1", "hello"),
        enqueue("m2", "world"),
        enqueue("m3", "third message"),
        turn("L2", "1", "heard"),
        turn("L1", "2", "heard"),
        turn("L1", "1", "heard"),
        s(&["LRANGE", "inf", "0", "-1"]),
        s(&["HGETALL", "msgs"]),
        s(&["TTL", "lock"]),
        turn("L1", "2", "lost"),
        s(&["LRANGE", "q", "0", "-1"]),
        turn("L1", "3", "heard"),
        turn("L1", "4", "heard"),
        turn("L1", "5", "heard"),
        s(&["HSET", "c", "speaker_leg", "L1"]),
        s(&["RPUSH", "inf", "m1", "m2"]),
        s(&["HSET", "msgs", "m1:attempts", "5"]),
        turn("L1", "1", "lost"),
        s(&["HGETALL", "c"]),
        s(&[
            "HMGET",
            "msgs",
            "m1:state",
            "m1:attempts",
            "m1:reason",
            "m9:state",
        ]),
        // A message of the previous layout in the queue: the turn stops, it is moved, the
        // turn runs.
        s(&["HSET", "c", "speaker_leg", "L1", "speaker_turn", "0"]),
        s(&[
            "HSET", "old:m7", "id", "m7", "text", "before", "state", "queued",
        ]),
        s(&["RPUSH", "q", "m7", "m8", "m7"]),
        turn("L1", "1", "heard"),
        s(&["PEXPIRE", "c", "100000"]),
        vec![
            "EVAL", MIGRATE, "5", "c", "q", "msgs", "old:m7", "old:m8", "m7", "m8",
        ],
        s(&["LRANGE", "q", "0", "-1"]),
        s(&["EXISTS", "old:m7"]),
        s(&["HGET", "msgs", "m7:text"]),
        turn("L1", "1", "heard"),
        // LREM's counts: from the head, from the tail, every one.
        s(&["RPUSH", "lr", "a", "b", "a", "c", "a", "a"]),
        s(&["LREM", "lr", "1", "a"]),
        s(&["LREM", "lr", "-2", "a"]),
        s(&["LRANGE", "lr", "0", "-1"]),
        s(&["LREM", "lr", "0", "a"]),
        s(&["LREM", "lr", "0", "b"]),
        s(&["LREM", "lr", "0", "c"]),
        s(&["EXISTS", "lr"]),
        s(&["LREM", "lr", "0", "c"]),
        s(&["LREM", "lr", "x", "c"]),
        s(&["SET", "str", "v"]),
        s(&["LREM", "str", "0", "v"]),
        s(&["EXISTS", "lock"]),
        vec!["EVAL", PARTICIPANT, "1", "c", "CA1", "3"],
        vec!["EVAL", PARTICIPANT, "1", "c", "CA1", "2"],
        vec!["EVAL", PARTICIPANT, "1", "c", "CA9", ""],
        vec!["EVAL", PARTICIPANT, "1", "nocall", "CA1", ""],
        s(&["HGETALL", "c"]),
        vec!["EVAL", TRANSCRIPT, "2", "tx", "txu", "10", "5", "Third."],
        vec!["EVAL", TRANSCRIPT, "2", "tx", "txu", "2", "6", "First."],
        vec!["EVAL", TRANSCRIPT, "2", "tx", "txu", "10", "7", "Third."],
        s(&["EXPIRE", "tx", "100"]),
        vec!["EVAL", TRANSCRIPT, "2", "tx", "txu", "3", "8", "日本語"],
        s(&["TTL", "txu"]),
        // The sweep's index.
        s(&[
            "ZADD", "due", "5", "a", "1", "b", "3", "c", "3", "d", "9", "e",
        ]),
        s(&["ZRANGEBYSCORE", "due", "-inf", "3"]),
        s(&["ZRANGEBYSCORE", "due", "(1", "+inf", "WITHSCORES"]),
        s(&["ZRANGEBYSCORE", "due", "-inf", "inf", "LIMIT", "1", "2"]),
        s(&[
            "ZRANGEBYSCORE",
            "due",
            "-inf",
            "inf",
            "WITHSCORES",
            "LIMIT",
            "0",
            "-1",
        ]),
        s(&["ZRANGEBYSCORE", "due", "-inf", "inf", "LIMIT", "-1", "2"]),
        s(&["ZRANGEBYSCORE", "due", "-inf", "inf", "LIMIT", "0"]),
        s(&["ZRANGEBYSCORE", "due", "-inf", "inf", "LIMIT", "x", "1"]),
        s(&["ZRANGEBYSCORE", "due", "x", "1"]),
        s(&["ZRANGEBYSCORE", "due", "0", "1", "BOGUS"]),
        s(&["ZRANGEBYSCORE", "nope", "-inf", "inf"]),
        vec!["EVAL", DUE, "1", "due", "4", "2", "100"],
        s(&["ZRANGE", "due", "0", "-1", "WITHSCORES"]),
        vec!["EVAL", DUE, "1", "due", "4", "10", "100"],
        s(&[
            "ZADD", "due", "XX", "LT", "50", "b", "200", "c", "7", "gone",
        ]),
        s(&["ZADD", "due", "LT", "2", "c", "1", "new"]),
        s(&["ZADD", "due", "NX", "0", "c", "0", "other"]),
        s(&["ZRANGE", "due", "0", "-1", "WITHSCORES"]),
        s(&["SCRIPT", "FLUSH"]),
        s(&["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"]),
        s(&["DBSIZE"]),
    ];
    steps.insert(0, s(&["FLUSHALL"]));
    steps
}

#[tokio::test]
async fn memstore_answers_as_redis_does() {
    let real = RealRedis::start().await;
    let (_store, mut mem) = memstore().await;
    let mut redis = connect(&real.url()).await;
    let mut mismatches = Vec::new();
    for step in steps() {
        let want = raw(&mut redis, &step).await;
        let got = raw(&mut mem, &step).await;
        let (want, got) = (format!("{want:?}"), format!("{got:?}"));
        if want != got {
            mismatches.push(format!("{step:?}\n  redis:    {want}\n  memstore: {got}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
