//! The keyspace and every data command, with Redis's replies and errors.
//!
//! Scripting (EVAL, EVALSHA, SCRIPT) lives in [`crate::lua`]; transactions (MULTI, EXEC,
//! DISCARD) in the connection. Everything here runs on the store's one thread, so each command
//! is atomic.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::resp::Reply;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const SYNTAX: &str = "ERR syntax error";
const OVERFLOW: &str = "ERR increment or decrement would overflow";

/// The commands this store knows, with Redis's arity (the argument count including the
/// command's name; negative: at least that many) and whether a script may call them.
const COMMANDS: &[(&str, i32, bool)] = &[
    ("PING", -1, true),
    ("ECHO", 2, true),
    ("SELECT", 2, true),
    ("CLIENT", -2, false),
    ("HELLO", -1, false),
    ("QUIT", -1, false),
    ("MULTI", 1, false),
    ("EXEC", 1, false),
    ("DISCARD", 1, false),
    ("EVAL", -3, false),
    ("EVALSHA", -3, false),
    ("SCRIPT", -2, false),
    ("FLUSHDB", -1, true),
    ("FLUSHALL", -1, true),
    ("DBSIZE", 1, true),
    ("TYPE", 2, true),
    ("GET", 2, true),
    ("SET", -3, true),
    ("SETEX", 4, true),
    ("PSETEX", 4, true),
    ("GETDEL", 2, true),
    ("INCR", 2, true),
    ("INCRBY", 3, true),
    ("DEL", -2, true),
    ("EXISTS", -2, true),
    ("EXPIRE", -3, true),
    ("PEXPIRE", -3, true),
    ("TTL", 2, true),
    ("PTTL", 2, true),
    ("PERSIST", 2, true),
    ("HSET", -4, true),
    ("HSETNX", 4, true),
    ("HMSET", -4, true),
    ("HGET", 3, true),
    ("HMGET", -3, true),
    ("HGETALL", 2, true),
    ("HDEL", -3, true),
    ("HINCRBY", 4, true),
    ("HEXISTS", 3, true),
    ("HLEN", 2, true),
    ("LPUSH", -3, true),
    ("RPUSH", -3, true),
    ("LPOP", -2, true),
    ("RPOP", -2, true),
    ("LRANGE", 4, true),
    ("LTRIM", 4, true),
    ("LREM", 4, true),
    ("LLEN", 2, true),
    ("ZADD", -4, true),
    ("ZRANGE", -4, true),
    ("ZREM", -3, true),
    ("ZCARD", 2, true),
    ("ZSCORE", 3, true),
    ("ZREMRANGEBYSCORE", 4, true),
    ("ZRANGEBYSCORE", -4, true),
];

/// Why a command cannot run at all (before any of it executes).
pub enum Rejected {
    Unknown,
    Arity,
}

/// Looks the command up and checks its argument count. Returns the upper-cased name and
/// whether scripts may call it.
pub fn lookup(argv: &[Vec<u8>]) -> Result<(String, bool), Rejected> {
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
    let Some(&(_, arity, scriptable)) = COMMANDS.iter().find(|(n, _, _)| *n == name) else {
        return Err(Rejected::Unknown);
    };
    let argc = argv.len() as i32;
    let fits = if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    };
    // Field-value pairs must come in pairs.
    let paired = !matches!(name.as_str(), "HSET" | "HMSET") || argc % 2 == 0;
    if !fits || !paired {
        return Err(Rejected::Arity);
    }
    Ok((name, scriptable))
}

/// The error a client gets for a rejected command, worded as Redis 7 words it.
pub fn rejection_reply(argv: &[Vec<u8>], why: Rejected) -> Reply {
    match why {
        Rejected::Unknown => {
            let mut msg = format!(
                "ERR unknown command '{}', with args beginning with: ",
                printable(&argv[0])
            );
            for arg in argv.iter().skip(1) {
                msg.push_str(&format!("'{}' ", printable(arg)));
            }
            Reply::Error(msg)
        }
        Rejected::Arity => Reply::Error(format!(
            "ERR wrong number of arguments for '{}' command",
            String::from_utf8_lossy(&argv[0]).to_ascii_lowercase()
        )),
    }
}

fn printable(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(128)]);
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A sorted-set score: never NaN, and -0 is stored as 0, so the total order is Redis's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Debug, Default)]
struct ZSet {
    order: BTreeSet<(Score, Vec<u8>)>,
    scores: HashMap<Vec<u8>, f64>,
}

impl ZSet {
    /// Sets a member's score; true if the member is new.
    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let score = if score == 0.0 { 0.0 } else { score };
        let old = self.scores.insert(member.to_vec(), score);
        if let Some(old) = old {
            self.order.remove(&(Score(old), member.to_vec()));
        }
        self.order.insert((Score(score), member.to_vec()));
        old.is_none()
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove(member) {
            Some(old) => {
                self.order.remove(&(Score(old), member.to_vec()));
                true
            }
            None => false,
        }
    }
}

/// A hash keeps its fields in insertion order, as Redis's small (listpack) hashes do, so
/// HGETALL answers in the same order as Redis for the hashes denwa keeps.
#[derive(Debug, Default)]
struct Hash(Vec<(Vec<u8>, Vec<u8>)>);

impl Hash {
    fn get(&self, field: &[u8]) -> Option<&Vec<u8>> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, v)| v)
    }

    /// Sets a field; true if it is new.
    fn set(&mut self, field: &[u8], value: Vec<u8>) -> bool {
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, v)) => {
                *v = value;
                false
            }
            None => {
                self.0.push((field.to_vec(), value));
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.0.iter().position(|(f, _)| f == field) {
            Some(i) => {
                self.0.remove(i);
                true
            }
            None => false,
        }
    }
}

#[derive(Debug)]
enum Value {
    Str(Vec<u8>),
    Hash(Hash),
    List(VecDeque<Vec<u8>>),
    ZSet(ZSet),
}

impl Value {
    fn is_empty(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::Hash(h) => h.0.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::ZSet(z) => z.scores.is_empty(),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
        }
    }
}

#[derive(Debug)]
struct Entry {
    value: Value,
    /// Unix time in milliseconds.
    expires_at: Option<i64>,
}

type CmdResult = Result<Reply, Reply>;

/// The keyspace (one database: SELECT accepts only 0).
#[derive(Debug, Default)]
pub struct Db {
    map: HashMap<Vec<u8>, Entry>,
}

macro_rules! typed {
    ($name:ident, $name_mut:ident, $variant:ident, $ty:ty) => {
        fn $name(&mut self, key: &[u8]) -> Result<Option<&$ty>, Reply> {
            match self.live(key) {
                None => Ok(None),
                Some(Entry {
                    value: Value::$variant(v),
                    ..
                }) => Ok(Some(v)),
                Some(_) => Err(Reply::err(WRONGTYPE)),
            }
        }

        /// The value at `key`, created empty if missing when `create`.
        fn $name_mut(&mut self, key: &[u8], create: bool) -> Result<Option<&mut $ty>, Reply> {
            if self.live(key).is_none() {
                if !create {
                    return Ok(None);
                }
                self.map.insert(
                    key.to_vec(),
                    Entry {
                        value: Value::$variant(Default::default()),
                        expires_at: None,
                    },
                );
            }
            match self.map.get_mut(key) {
                Some(Entry {
                    value: Value::$variant(v),
                    ..
                }) => Ok(Some(v)),
                _ => Err(Reply::err(WRONGTYPE)),
            }
        }
    };
}

impl Db {
    /// The entry at `key` unless it has expired (an expired one is removed).
    fn live(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let expired = match self.map.get(key) {
            None => return None,
            Some(e) => e.expires_at.is_some_and(|t| t <= now_ms()),
        };
        if expired {
            self.map.remove(key);
            return None;
        }
        self.map.get_mut(key)
    }

    typed!(hash, hash_mut, Hash, Hash);
    typed!(list, list_mut, List, VecDeque<Vec<u8>>);
    typed!(zset, zset_mut, ZSet, ZSet);

    fn string(&mut self, key: &[u8]) -> Result<Option<&Vec<u8>>, Reply> {
        match self.live(key) {
            None => Ok(None),
            Some(Entry {
                value: Value::Str(v),
                ..
            }) => Ok(Some(v)),
            Some(_) => Err(Reply::err(WRONGTYPE)),
        }
    }

    /// Drops `key` if its collection has become empty (Redis never keeps empty ones).
    fn drop_if_empty(&mut self, key: &[u8]) {
        if self.map.get(key).is_some_and(|e| e.value.is_empty()) {
            self.map.remove(key);
        }
    }

    /// Removes every expired key (the periodic purge; lookups also expire lazily).
    pub fn purge_expired(&mut self) {
        let now = now_ms();
        self.map.retain(|_, e| e.expires_at.is_none_or(|t| t > now));
    }

    /// Runs one data command. `argv` must have passed [`lookup`].
    pub fn exec(&mut self, name: &str, argv: &[Vec<u8>]) -> Reply {
        match self.dispatch(name, argv) {
            Ok(r) | Err(r) => r,
        }
    }

    fn dispatch(&mut self, name: &str, a: &[Vec<u8>]) -> CmdResult {
        match name {
            "PING" => Ok(match a.get(1) {
                Some(msg) => Reply::bulk(msg.clone()),
                None => Reply::Status("PONG".into()),
            }),
            "ECHO" => Ok(Reply::bulk(a[1].clone())),
            "SELECT" => match int(&a[1])? {
                0 => Ok(Reply::ok()),
                _ => Err(Reply::err("ERR DB index is out of range")),
            },
            "FLUSHDB" | "FLUSHALL" => {
                self.map.clear();
                Ok(Reply::ok())
            }
            "DBSIZE" => {
                self.purge_expired();
                Ok(Reply::Int(self.map.len() as i64))
            }
            "TYPE" => Ok(Reply::Status(
                self.live(&a[1])
                    .map_or("none", |e| e.value.type_name())
                    .into(),
            )),
            "GET" => Ok(self.string(&a[1])?.cloned().map_or(Reply::Nil, Reply::Bulk)),
            "GETDEL" => {
                let value = self.string(&a[1])?.cloned();
                if value.is_some() {
                    self.map.remove(&a[1]);
                }
                Ok(value.map_or(Reply::Nil, Reply::Bulk))
            }
            "SET" => self.set(a),
            "SETEX" | "PSETEX" => {
                let n = int(&a[2])?;
                let ms = if name == "SETEX" {
                    n.checked_mul(1000)
                } else {
                    Some(n)
                };
                let at = ms
                    .filter(|&ms| n > 0 && ms > 0)
                    .and_then(|ms| ms.checked_add(now_ms()))
                    .ok_or_else(|| {
                        Reply::Error(format!(
                            "ERR invalid expire time in '{}' command",
                            name.to_ascii_lowercase()
                        ))
                    })?;
                self.put_string(&a[1], a[3].clone(), Some(at));
                Ok(Reply::ok())
            }
            "INCR" => self.incr_by(&a[1], 1),
            "INCRBY" => {
                let by = int(&a[2])?;
                self.incr_by(&a[1], by)
            }
            "DEL" => {
                let mut n = 0;
                for key in &a[1..] {
                    if self.live(key).is_some() {
                        self.map.remove(key);
                        n += 1;
                    }
                }
                Ok(Reply::Int(n))
            }
            "EXISTS" => {
                let mut n = 0;
                for key in &a[1..] {
                    if self.live(key).is_some() {
                        n += 1;
                    }
                }
                Ok(Reply::Int(n))
            }
            "EXPIRE" | "PEXPIRE" => self.expire(name, a),
            "TTL" | "PTTL" => {
                let now = now_ms();
                Ok(Reply::Int(match self.live(&a[1]) {
                    None => -2,
                    Some(Entry {
                        expires_at: None, ..
                    }) => -1,
                    Some(Entry {
                        expires_at: Some(t),
                        ..
                    }) => {
                        let left = (*t - now).max(0);
                        if name == "TTL" {
                            (left + 500) / 1000
                        } else {
                            left
                        }
                    }
                }))
            }
            "PERSIST" => Ok(Reply::Int(match self.live(&a[1]) {
                Some(e) if e.expires_at.is_some() => {
                    e.expires_at = None;
                    1
                }
                _ => 0,
            })),
            "HSET" | "HMSET" => {
                let hash = self.hash_mut(&a[1], true)?.expect("created");
                let mut added = 0;
                for pair in a[2..].chunks(2) {
                    if hash.set(&pair[0], pair[1].clone()) {
                        added += 1;
                    }
                }
                Ok(if name == "HSET" {
                    Reply::Int(added)
                } else {
                    Reply::ok()
                })
            }
            "HSETNX" => {
                let hash = self.hash_mut(&a[1], true)?.expect("created");
                Ok(Reply::Int(if hash.get(&a[2]).is_some() {
                    0
                } else {
                    hash.set(&a[2], a[3].clone());
                    1
                }))
            }
            "HGET" => Ok(self
                .hash(&a[1])?
                .and_then(|h| h.get(&a[2]))
                .cloned()
                .map_or(Reply::Nil, Reply::Bulk)),
            "HMGET" => {
                let hash = self.hash(&a[1])?;
                Ok(Reply::Array(
                    a[2..]
                        .iter()
                        .map(|f| {
                            hash.and_then(|h| h.get(f))
                                .cloned()
                                .map_or(Reply::Nil, Reply::Bulk)
                        })
                        .collect(),
                ))
            }
            "HGETALL" => Ok(Reply::Array(
                self.hash(&a[1])?
                    .map(|h| {
                        h.0.iter()
                            .flat_map(|(f, v)| [Reply::bulk(f.clone()), Reply::bulk(v.clone())])
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
            "HDEL" => {
                let Some(hash) = self.hash_mut(&a[1], false)? else {
                    return Ok(Reply::Int(0));
                };
                let removed = a[2..].iter().filter(|f| hash.remove(f)).count();
                self.drop_if_empty(&a[1]);
                Ok(Reply::Int(removed as i64))
            }
            "HINCRBY" => {
                let by = int(&a[3])?;
                let hash = self.hash_mut(&a[1], true)?.expect("created");
                let current = match hash.get(&a[2]) {
                    None => 0,
                    Some(v) => {
                        int(v).map_err(|_| Reply::err("ERR hash value is not an integer"))?
                    }
                };
                let new = current
                    .checked_add(by)
                    .ok_or_else(|| Reply::err(OVERFLOW))?;
                hash.set(&a[2], new.to_string().into_bytes());
                Ok(Reply::Int(new))
            }
            "HEXISTS" => Ok(Reply::Int(
                self.hash(&a[1])?.is_some_and(|h| h.get(&a[2]).is_some()) as i64,
            )),
            "HLEN" => Ok(Reply::Int(self.hash(&a[1])?.map_or(0, |h| h.0.len()) as i64)),
            "LPUSH" | "RPUSH" => {
                let list = self.list_mut(&a[1], true)?.expect("created");
                for item in &a[2..] {
                    if name == "LPUSH" {
                        list.push_front(item.clone());
                    } else {
                        list.push_back(item.clone());
                    }
                }
                Ok(Reply::Int(list.len() as i64))
            }
            "LPOP" | "RPOP" => self.pop(name, a),
            "LRANGE" => {
                let (start, stop) = (int(&a[2])?, int(&a[3])?);
                let Some(list) = self.list(&a[1])? else {
                    return Ok(Reply::Array(Vec::new()));
                };
                let items = match range(start, stop, list.len()) {
                    Some((s, e)) => list.range(s..=e).map(|v| Reply::Bulk(v.clone())).collect(),
                    None => Vec::new(),
                };
                Ok(Reply::Array(items))
            }
            "LTRIM" => {
                let (start, stop) = (int(&a[2])?, int(&a[3])?);
                let Some(list) = self.list_mut(&a[1], false)? else {
                    return Ok(Reply::ok());
                };
                match range(start, stop, list.len()) {
                    Some((s, e)) => {
                        list.truncate(e + 1);
                        list.drain(..s);
                    }
                    None => list.clear(),
                }
                self.drop_if_empty(&a[1]);
                Ok(Reply::ok())
            }
            "LREM" => {
                let count = int(&a[2])?;
                let Some(list) = self.list_mut(&a[1], false)? else {
                    return Ok(Reply::Int(0));
                };
                // Count > 0 removes from the head, < 0 from the tail, 0 every match.
                let limit = if count == 0 {
                    usize::MAX
                } else {
                    count.unsigned_abs() as usize
                };
                let mut removed = 0;
                if count < 0 {
                    list.make_contiguous().reverse();
                }
                list.retain(|item| {
                    let hit = removed < limit && *item == a[3];
                    removed += usize::from(hit);
                    !hit
                });
                if count < 0 {
                    list.make_contiguous().reverse();
                }
                self.drop_if_empty(&a[1]);
                Ok(Reply::Int(removed as i64))
            }
            "LLEN" => Ok(Reply::Int(self.list(&a[1])?.map_or(0, |l| l.len()) as i64)),
            "ZADD" => self.zadd(a),
            "ZRANGE" => self.zrange(a),
            "ZREM" => {
                let Some(zset) = self.zset_mut(&a[1], false)? else {
                    return Ok(Reply::Int(0));
                };
                let removed = a[2..].iter().filter(|m| zset.remove(m)).count();
                self.drop_if_empty(&a[1]);
                Ok(Reply::Int(removed as i64))
            }
            "ZREMRANGEBYSCORE" => self.zremrangebyscore(a),
            "ZRANGEBYSCORE" => self.zrangebyscore(a),
            "ZCARD" => Ok(Reply::Int(
                self.zset(&a[1])?.map_or(0, |z| z.scores.len()) as i64
            )),
            "ZSCORE" => Ok(self
                .zset(&a[1])?
                .and_then(|z| z.scores.get(&a[2]))
                .map_or(Reply::Nil, |s| Reply::bulk(format_double(*s)))),
            "CLIENT" => {
                let sub = String::from_utf8_lossy(&a[1]).to_ascii_uppercase();
                match sub.as_str() {
                    "SETINFO" | "SETNAME" if a.len() >= 3 => Ok(Reply::ok()),
                    "GETNAME" => Ok(Reply::Nil),
                    "ID" => Ok(Reply::Int(1)),
                    _ => Err(Reply::Error(format!(
                        "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                        printable(&a[1])
                    ))),
                }
            }
            "HELLO" => {
                if a.len() > 1 && int(&a[1]).ok() != Some(2) {
                    return Err(Reply::err("NOPROTO unsupported protocol version"));
                }
                let fields: [(&str, Reply); 7] = [
                    ("server", Reply::bulk("redis")),
                    ("version", Reply::bulk("7.0.15")),
                    ("proto", Reply::Int(2)),
                    ("id", Reply::Int(1)),
                    ("mode", Reply::bulk("standalone")),
                    ("role", Reply::bulk("master")),
                    ("modules", Reply::Array(Vec::new())),
                ];
                Ok(Reply::Array(
                    fields
                        .into_iter()
                        .flat_map(|(k, v)| [Reply::bulk(k), v])
                        .collect(),
                ))
            }
            _ => Err(Reply::Error(format!(
                "ERR unknown command '{}'",
                name.to_ascii_lowercase()
            ))),
        }
    }

    fn put_string(&mut self, key: &[u8], value: Vec<u8>, expires_at: Option<i64>) {
        self.map.insert(
            key.to_vec(),
            Entry {
                value: Value::Str(value),
                expires_at,
            },
        );
    }

    /// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
    fn set(&mut self, a: &[Vec<u8>]) -> CmdResult {
        let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
        let mut expiry: Option<(String, i64)> = None;
        let mut i = 3;
        while i < a.len() {
            let opt = String::from_utf8_lossy(&a[i]).to_ascii_uppercase();
            match opt.as_str() {
                "NX" if !xx => nx = true,
                "XX" if !nx => xx = true,
                "GET" => get = true,
                "KEEPTTL" if expiry.is_none() => keepttl = true,
                "EX" | "PX" | "EXAT" | "PXAT"
                    if expiry.is_none() && !keepttl && i + 1 < a.len() =>
                {
                    i += 1;
                    expiry = Some((opt, int(&a[i])?));
                }
                _ => return Err(Reply::err(SYNTAX)),
            }
            i += 1;
        }
        let expires_at = match expiry {
            None => None,
            Some((unit, n)) => {
                let invalid = || Reply::err("ERR invalid expire time in 'set' command");
                if n <= 0 {
                    return Err(invalid());
                }
                Some(match unit.as_str() {
                    "EX" => n
                        .checked_mul(1000)
                        .and_then(|ms| ms.checked_add(now_ms()))
                        .ok_or_else(invalid)?,
                    "PX" => n.checked_add(now_ms()).ok_or_else(invalid)?,
                    "EXAT" => n.checked_mul(1000).ok_or_else(invalid)?,
                    _ => n,
                })
            }
        };
        let key = &a[1];
        let old = if get {
            self.string(key)?.cloned()
        } else {
            None
        };
        let exists = self.live(key).is_some();
        if (nx && exists) || (xx && !exists) {
            return Ok(if get {
                old.map_or(Reply::Nil, Reply::Bulk)
            } else {
                Reply::Nil
            });
        }
        let expires_at = if keepttl {
            self.live(key).and_then(|e| e.expires_at)
        } else {
            expires_at
        };
        self.put_string(key, a[2].clone(), expires_at);
        Ok(if get {
            old.map_or(Reply::Nil, Reply::Bulk)
        } else {
            Reply::ok()
        })
    }

    fn incr_by(&mut self, key: &[u8], by: i64) -> CmdResult {
        let current = match self.string(key)? {
            None => 0,
            Some(v) => int(v)?,
        };
        let new = current
            .checked_add(by)
            .ok_or_else(|| Reply::err(OVERFLOW))?;
        let expires_at = self.live(key).and_then(|e| e.expires_at);
        self.put_string(key, new.to_string().into_bytes(), expires_at);
        Ok(Reply::Int(new))
    }

    /// EXPIRE / PEXPIRE key time [NX|XX|GT|LT]
    fn expire(&mut self, name: &str, a: &[Vec<u8>]) -> CmdResult {
        let n = int(&a[2])?;
        let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
        for opt in &a[3..] {
            match String::from_utf8_lossy(opt).to_ascii_uppercase().as_str() {
                "NX" => nx = true,
                "XX" => xx = true,
                "GT" => gt = true,
                "LT" => lt = true,
                other => {
                    return Err(Reply::Error(format!("ERR Unsupported option {other}")));
                }
            }
        }
        if nx && (xx || gt || lt) {
            return Err(Reply::err(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if gt && lt {
            return Err(Reply::err(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        let invalid = || {
            Reply::Error(format!(
                "ERR invalid expire time in '{}' command",
                name.to_ascii_lowercase()
            ))
        };
        let ms = if name == "EXPIRE" {
            n.checked_mul(1000).ok_or_else(invalid)?
        } else {
            n
        };
        let at = ms.checked_add(now_ms()).ok_or_else(invalid)?;
        let Some(entry) = self.live(&a[1]) else {
            return Ok(Reply::Int(0));
        };
        let current = entry.expires_at;
        let allowed = match current {
            // No TTL counts as an infinite one.
            None => !xx && !gt,
            Some(t) => !nx && (!gt || at > t) && (!lt || at < t),
        };
        if !allowed {
            return Ok(Reply::Int(0));
        }
        if at <= now_ms() {
            self.map.remove(&a[1]);
        } else {
            entry.expires_at = Some(at);
        }
        Ok(Reply::Int(1))
    }

    /// LPOP / RPOP key [count]
    fn pop(&mut self, name: &str, a: &[Vec<u8>]) -> CmdResult {
        if a.len() > 3 {
            return Err(Reply::Error(format!(
                "ERR wrong number of arguments for '{}' command",
                name.to_ascii_lowercase()
            )));
        }
        let count = match a.get(2) {
            None => None,
            Some(c) => {
                let c = int(c)
                    .map_err(|_| Reply::err("ERR value is out of range, must be positive"))?;
                if c < 0 {
                    return Err(Reply::err("ERR value is out of range, must be positive"));
                }
                Some(c as usize)
            }
        };
        let Some(list) = self.list_mut(&a[1], false)? else {
            return Ok(if count.is_some() {
                Reply::NilArray
            } else {
                Reply::Nil
            });
        };
        let mut taken = Vec::new();
        for _ in 0..count.unwrap_or(1) {
            let item = if name == "LPOP" {
                list.pop_front()
            } else {
                list.pop_back()
            };
            match item {
                Some(v) => taken.push(Reply::Bulk(v)),
                None => break,
            }
        }
        self.drop_if_empty(&a[1]);
        Ok(match count {
            Some(_) => Reply::Array(taken),
            None => taken.pop().unwrap_or(Reply::Nil),
        })
    }

    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
    fn zadd(&mut self, a: &[Vec<u8>]) -> CmdResult {
        let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
            (false, false, false, false, false, false);
        let mut i = 2;
        while i < a.len() {
            match String::from_utf8_lossy(&a[i]).to_ascii_uppercase().as_str() {
                "NX" => nx = true,
                "XX" => xx = true,
                "GT" => gt = true,
                "LT" => lt = true,
                "CH" => ch = true,
                "INCR" => incr = true,
                _ => break,
            }
            i += 1;
        }
        let pairs = &a[i..];
        if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
            return Err(Reply::err(SYNTAX));
        }
        if nx && xx {
            return Err(Reply::err(
                "ERR XX and NX options at the same time are not compatible",
            ));
        }
        if (nx && (gt || lt)) || (gt && lt) {
            return Err(Reply::err(
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ));
        }
        if incr && pairs.len() > 2 {
            return Err(Reply::err(
                "ERR INCR option supports a single increment-element pair",
            ));
        }
        let scores = pairs
            .chunks(2)
            .map(|p| float(&p[0]))
            .collect::<Result<Vec<_>, _>>()?;
        let exists = self.live(&a[1]).is_some();
        if !exists && xx {
            return Ok(if incr { Reply::Nil } else { Reply::Int(0) });
        }
        let zset = self.zset_mut(&a[1], true)?.expect("created");
        let (mut added, mut changed) = (0, 0);
        let mut incr_result = None;
        for (pair, score) in pairs.chunks(2).zip(scores) {
            let member = &pair[1];
            let old = zset.scores.get(member.as_slice()).copied();
            let new = match (incr, old) {
                (true, Some(o)) => o + score,
                _ => score,
            };
            if new.is_nan() {
                return Err(Reply::err("ERR resulting score is not a number (NaN)"));
            }
            let allowed = match old {
                None => !xx,
                Some(o) => !nx && (!gt || new > o) && (!lt || new < o),
            };
            if !allowed {
                continue;
            }
            if old != Some(new) {
                if zset.insert(member, new) {
                    added += 1;
                } else {
                    changed += 1;
                }
            }
            incr_result = Some(new);
        }
        self.drop_if_empty(&a[1]);
        if incr {
            return Ok(incr_result.map_or(Reply::Nil, |s| Reply::bulk(format_double(s))));
        }
        Ok(Reply::Int(if ch { added + changed } else { added }))
    }

    /// ZREMRANGEBYSCORE key min max; `(` before a bound excludes it.
    fn zremrangebyscore(&mut self, a: &[Vec<u8>]) -> CmdResult {
        let (min, max) = (score_bound(&a[2])?, score_bound(&a[3])?);
        let Some(zset) = self.zset_mut(&a[1], false)? else {
            return Ok(Reply::Int(0));
        };
        let doomed: Vec<Vec<u8>> = zset
            .order
            .iter()
            .filter(|(Score(s), _)| min.below(*s) && max.above(*s))
            .map(|(_, member)| member.clone())
            .collect();
        for member in &doomed {
            zset.remove(member);
        }
        self.drop_if_empty(&a[1]);
        Ok(Reply::Int(doomed.len() as i64))
    }

    /// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]; `(` before a bound excludes
    /// it, a negative count is no limit, a negative offset finds nothing (as Redis).
    fn zrangebyscore(&mut self, a: &[Vec<u8>]) -> CmdResult {
        let (mut withscores, mut limit) = (false, None);
        let mut i = 4;
        while i < a.len() {
            match String::from_utf8_lossy(&a[i]).to_ascii_uppercase().as_str() {
                "WITHSCORES" => {
                    withscores = true;
                    i += 1;
                }
                "LIMIT" if i + 2 < a.len() => {
                    limit = Some((int(&a[i + 1])?, int(&a[i + 2])?));
                    i += 3;
                }
                _ => return Err(Reply::err(SYNTAX)),
            }
        }
        let (min, max) = (score_bound(&a[2])?, score_bound(&a[3])?);
        let (offset, count) = limit.unwrap_or((0, -1));
        let Some(zset) = self.zset(&a[1])? else {
            return Ok(Reply::Array(Vec::new()));
        };
        if offset < 0 {
            return Ok(Reply::Array(Vec::new()));
        }
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let in_range = zset
            .order
            .iter()
            .filter(|(Score(s), _)| min.below(*s) && max.above(*s))
            .skip(offset as usize)
            .take(count);
        for (score, member) in in_range {
            out.push(Reply::Bulk(member.clone()));
            if withscores {
                out.push(Reply::bulk(format_double(score.0)));
            }
        }
        Ok(Reply::Array(out))
    }

    /// ZRANGE key start stop [REV] [WITHSCORES] (by index only).
    fn zrange(&mut self, a: &[Vec<u8>]) -> CmdResult {
        let (mut rev, mut withscores) = (false, false);
        for opt in &a[4..] {
            match String::from_utf8_lossy(opt).to_ascii_uppercase().as_str() {
                "REV" => rev = true,
                "WITHSCORES" => withscores = true,
                _ => return Err(Reply::err(SYNTAX)),
            }
        }
        let (start, stop) = (int(&a[2])?, int(&a[3])?);
        let Some(zset) = self.zset(&a[1])? else {
            return Ok(Reply::Array(Vec::new()));
        };
        let Some((s, e)) = range(start, stop, zset.order.len()) else {
            return Ok(Reply::Array(Vec::new()));
        };
        let picked: Vec<&(Score, Vec<u8>)> = if rev {
            zset.order.iter().rev().skip(s).take(e - s + 1).collect()
        } else {
            zset.order.iter().skip(s).take(e - s + 1).collect()
        };
        let mut out = Vec::new();
        for (score, member) in picked {
            out.push(Reply::Bulk(member.clone()));
            if withscores {
                out.push(Reply::bulk(format_double(score.0)));
            }
        }
        Ok(Reply::Array(out))
    }
}

/// Redis's index range: negative indexes count from the end; the result is clamped, and `None`
/// when empty.
fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len
    } else {
        stop.min(len - 1)
    };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop as usize))
}

/// A strict decimal integer, as Redis's `string2ll` reads one.
pub fn int(bytes: &[u8]) -> Result<i64, Reply> {
    let ok = !bytes.is_empty()
        && bytes.len() <= 20
        && bytes[0] != b'+'
        && !(bytes.len() > 1 && bytes[0] == b'0')
        && !(bytes.len() > 1 && bytes[0] == b'-' && bytes[1] == b'0');
    ok.then(|| std::str::from_utf8(bytes).ok()?.parse::<i64>().ok())
        .flatten()
        .ok_or_else(|| Reply::err(NOT_INTEGER))
}

/// A bound of a score range: a float, excluded with a leading `(`.
#[derive(Clone, Copy)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

impl ScoreBound {
    /// Whether `score` is on the right side of this bound as a minimum.
    fn below(self, score: f64) -> bool {
        if self.exclusive {
            score > self.value
        } else {
            score >= self.value
        }
    }

    /// Whether `score` is on the right side of this bound as a maximum.
    fn above(self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

fn score_bound(bytes: &[u8]) -> Result<ScoreBound, Reply> {
    let (exclusive, number) = match bytes.strip_prefix(b"(") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let value = float(number).map_err(|_| Reply::err("ERR min or max is not a float"))?;
    Ok(ScoreBound { value, exclusive })
}

fn float(bytes: &[u8]) -> Result<f64, Reply> {
    let text = std::str::from_utf8(bytes).map_err(|_| Reply::err(NOT_FLOAT))?;
    let lower = text.to_ascii_lowercase();
    let value = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ if text.is_empty()
            || text.starts_with(char::is_whitespace)
            || text.ends_with(char::is_whitespace)
            || lower.contains("inf")
            || lower.contains("nan") =>
        {
            return Err(Reply::err(NOT_FLOAT));
        }
        _ => text.parse::<f64>().map_err(|_| Reply::err(NOT_FLOAT))?,
    };
    Ok(value)
}

/// A double as Redis 7.0 prints one (`%.17g`; `inf` / `-inf`).
pub fn format_double(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v.is_nan() {
        return "nan".into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // %.17g: 17 significant digits, trailing zeros dropped, exponent form outside [-4, 17).
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    if (-4..17).contains(&exp) {
        let decimals = (16 - exp).max(0) as usize;
        let fixed = format!("{v:.decimals$}");
        trim_zeros(&fixed).to_string()
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exp.abs())
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_doubles_like_printf_17g() {
        for (v, s) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (1700000000000.0, "1700000000000"),
            (-2.25, "-2.25"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (123456789012345680.0, "1.2345678901234568e+17"),
        ] {
            assert_eq!(format_double(v), s, "{v}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(range(0, -1, 3), Some((0, 2)));
        assert_eq!(range(-2, 10, 3), Some((1, 2)));
        assert_eq!(range(2, 1, 3), None);
        assert_eq!(range(5, 10, 3), None);
        assert_eq!(range(0, -1, 0), None);
        assert_eq!(range(-10, -5, 3), None);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(int(b"-12").unwrap(), -12);
        for bad in [
            &b"+1"[..],
            b"01",
            b"-0",
            b"",
            b" 1",
            b"1.0",
            b"99999999999999999999",
        ] {
            assert!(int(bad).is_err(), "{bad:?}");
        }
        assert_eq!(int(b"0").unwrap(), 0);
    }
}
