//! EVAL, EVALSHA and SCRIPT: Lua 5.1 scripts run as Redis runs them.
//!
//! One Lua state serves every script, like Redis's. Scripts see `KEYS`, `ARGV`, `redis.call`,
//! `redis.pcall`, `redis.error_reply`, `redis.status_reply`, `redis.sha1hex`, `redis.log` and
//! the base, `string`, `table` and `math` libraries; globals are protected (reading an unknown
//! one or creating one is an error). Replies convert between Lua and RESP by Redis's rules.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value, Variadic};
use sha1::{Digest as _, Sha1};

use crate::db::{self, Db, Rejected, format_double, int};
use crate::resp::Reply;

/// The chunk name scripts are compiled under: errors read `user_script:LINE: ...`.
const SCRIPT_SOURCE: &str = "@user_script";

/// Nesting deeper than this in a script's reply is refused rather than recursed into (a table
/// may contain itself).
const MAX_REPLY_DEPTH: usize = 200;

/// Installs the `redis` table and the global protection. Receives `redis.call` and `redis.pcall`
/// (Rust functions: as C functions they keep their caller's frame even in `return
/// redis.call(...)`, so errors can name the script's line), the error handler and `sha1hex`.
const BOOTSTRAP: &str = r#"
local call, pcall, handler, sha1hex = ...
local error, type, xpcall, select = error, type, xpcall, select
local redis = {call = call, pcall = pcall}
redis.error_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 2) end
  if msg:sub(1, 1) == '-' then msg = msg:sub(2) end
  return {err = msg}
end
redis.status_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 2) end
  return {ok = msg}
end
redis.sha1hex = function(s)
  if select('#', s) == 0 then error('wrong number of arguments', 2) end
  return sha1hex(s)
end
redis.log = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.setresp = function(v)
  if v ~= 2 then error('RESP version other than 2 is not supported by this store', 2) end
end
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
rawset(_G, 'redis', redis)
rawset(_G, 'loadfile', nil)
rawset(_G, 'dofile', nil)
setmetatable(_G, {
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __newindex = function()
    error('Attempt to modify a readonly table', 2)
  end,
})
return function(f)
  return xpcall(f, handler)
end
"#;

pub struct Scripting {
    lua: Lua,
    /// Runs a compiled script under the error handler: returns (ok, reply or error table).
    runner: Function,
    scripts: HashMap<String, Function>,
}

impl Scripting {
    pub fn new(db: Rc<RefCell<Db>>) -> mlua::Result<Scripting> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::new(),
        )?;
        let command = move |args: &[Value]| match call_args(args) {
            Ok(argv) => run_from_script(&db, &argv),
            Err(msg) => Reply::Error(msg.into()),
        };
        let command = Rc::new(command);
        let raising = command.clone();
        let call = lua.create_function(move |lua, args: Variadic<Value>| match raising(&args) {
            Reply::Error(msg) => {
                // Level 0 is this function, 1 the script line that called it.
                let line = lua
                    .inspect_stack(1, |d| d.current_line())
                    .flatten()
                    .unwrap_or(0);
                Err(mlua::Error::external(CallError { msg, line }))
            }
            reply => reply_to_lua(lua, reply),
        })?;
        let pcall = lua
            .create_function(move |lua, args: Variadic<Value>| reply_to_lua(lua, command(&args)))?;
        let handler = lua.create_function(|lua, err: Value| error_table(lua, err))?;
        let sha1hex = lua.create_function(|lua, v: Value| {
            let bytes = match &v {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(_) | Value::Number(_) => lua
                    .coerce_string(v.clone())?
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            Ok(sha1_hex(&bytes))
        })?;
        let runner: Function = lua
            .load(BOOTSTRAP)
            .set_name("=memstore")
            .call((call, pcall, handler, sha1hex))?;
        Ok(Scripting {
            lua,
            runner,
            scripts: HashMap::new(),
        })
    }

    /// EVAL, EVALSHA or SCRIPT (arity already checked).
    pub fn exec(&mut self, name: &str, argv: &[Vec<u8>]) -> Reply {
        match name {
            "EVAL" => {
                let sha = sha1_hex(&argv[1]);
                if !self.scripts.contains_key(&sha)
                    && let Err(reply) = self.load(&sha, &argv[1])
                {
                    return reply;
                }
                self.run(&sha, &argv[2..])
            }
            "EVALSHA" => {
                let sha = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
                if !self.scripts.contains_key(&sha) {
                    return Reply::err("NOSCRIPT No matching script. Please use EVAL.");
                }
                self.run(&sha, &argv[2..])
            }
            _ => self.script_command(argv),
        }
    }

    fn script_command(&mut self, argv: &[Vec<u8>]) -> Reply {
        let sub = String::from_utf8_lossy(&argv[1]).to_ascii_uppercase();
        match sub.as_str() {
            "LOAD" if argv.len() == 3 => {
                let sha = sha1_hex(&argv[2]);
                if !self.scripts.contains_key(&sha)
                    && let Err(reply) = self.load(&sha, &argv[2])
                {
                    return reply;
                }
                Reply::Bulk(sha.into_bytes())
            }
            "EXISTS" if argv.len() >= 3 => Reply::Array(
                argv[2..]
                    .iter()
                    .map(|sha| {
                        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                        Reply::Int(self.scripts.contains_key(&sha) as i64)
                    })
                    .collect(),
            ),
            "FLUSH" if argv.len() <= 3 => {
                self.scripts.clear();
                Reply::ok()
            }
            "LOAD" | "EXISTS" | "FLUSH" => Reply::Error(format!(
                "ERR wrong number of arguments for 'script|{}' command",
                sub.to_ascii_lowercase()
            )),
            _ => Reply::Error(format!(
                "ERR unknown subcommand '{}'. Try SCRIPT HELP.",
                String::from_utf8_lossy(&argv[1])
            )),
        }
    }

    fn load(&mut self, sha: &str, body: &[u8]) -> Result<(), Reply> {
        let function = self
            .lua
            .load(body)
            .set_name(SCRIPT_SOURCE)
            .into_function()
            .map_err(|e| {
                let msg = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                Reply::Error(format!("ERR Error compiling script (new function): {msg}"))
            })?;
        self.scripts.insert(sha.to_string(), function);
        Ok(())
    }

    /// Runs a loaded script: `args` are numkeys, keys and arguments.
    fn run(&mut self, sha: &str, args: &[Vec<u8>]) -> Reply {
        let numkeys = match int(&args[0]) {
            Ok(n) if n < 0 => return Reply::err("ERR Number of keys can't be negative"),
            Ok(n) if n as usize > args.len() - 1 => {
                return Reply::err("ERR Number of keys can't be greater than number of args");
            }
            Ok(n) => n as usize,
            Err(e) => return e,
        };
        let function = self.scripts[sha].clone();
        match self.invoke(function, &args[1..=numkeys], &args[numkeys + 1..]) {
            Ok(Ok(value)) => lua_to_reply(value, 0),
            Ok(Err(table)) => {
                let get = |k: &str| table.raw_get::<Option<String>>(k).ok().flatten();
                let msg = get("err").unwrap_or_else(|| "ERR unknown error".into());
                match (get("source"), get("line")) {
                    (Some(source), Some(line)) => {
                        Reply::Error(format!("{msg} script: {sha}, on {source}:{line}."))
                    }
                    _ => Reply::Error(msg),
                }
            }
            Err(e) => Reply::Error(format!("ERR error running script: {e}")),
        }
    }

    /// Sets KEYS and ARGV and calls the script under the error handler.
    fn invoke(
        &self,
        function: Function,
        keys: &[Vec<u8>],
        argv: &[Vec<u8>],
    ) -> mlua::Result<Result<Value, Table>> {
        let globals = self.lua.globals();
        globals.raw_set("KEYS", self.string_table(keys)?)?;
        globals.raw_set("ARGV", self.string_table(argv)?)?;
        let (ok, result): (bool, Value) = self.runner.call(function)?;
        if ok {
            return Ok(Ok(result));
        }
        match result {
            Value::Table(t) => Ok(Err(t)),
            other => {
                let t = self.lua.create_table()?;
                t.raw_set("err", format!("ERR {other:?}"))?;
                Ok(Err(t))
            }
        }
    }

    fn string_table(&self, items: &[Vec<u8>]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }
}

/// `redis.call`'s arguments as command arguments: strings as they are, numbers as `%.17g`.
fn call_args(args: &[Value]) -> Result<Vec<Vec<u8>>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let bad = "ERR Lua redis lib command arguments must be strings or integers";
    args.iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            Value::Integer(i) => Ok(i.to_string().into_bytes()),
            Value::Number(n) => Ok(format_double(*n).into_bytes()),
            _ => Err(bad),
        })
        .collect()
}

/// A command called from a script, refused as Redis refuses it.
fn run_from_script(db: &Rc<RefCell<Db>>, argv: &[Vec<u8>]) -> Reply {
    match db::lookup(argv) {
        Err(Rejected::Unknown) => Reply::err("ERR Unknown Redis command called from script"),
        Err(Rejected::Arity) => {
            Reply::err("ERR Wrong number of args calling Redis command from script")
        }
        Ok((_, false)) => Reply::err("ERR This Redis command is not allowed from script"),
        Ok((name, true)) => db.borrow_mut().exec(&name, argv),
    }
}

/// RESP -> Lua: integers to numbers, bulk strings to strings, nil to false, arrays to tables,
/// status to `{ok=...}`, errors to `{err=...}`.
fn reply_to_lua(lua: &Lua, reply: Reply) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Int(n) => Value::Number(n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(&b)?),
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::Status(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", s)?;
            Value::Table(t)
        }
        Reply::Error(s) => {
            let t = lua.create_table()?;
            t.raw_set("err", s)?;
            Value::Table(t)
        }
        Reply::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

/// Lua -> RESP: numbers truncated to integers, strings to bulk, true to 1, false and nil to
/// nil, `{err=...}` to an error, `{ok=...}` to a status, other tables to arrays up to their
/// first nil.
fn lua_to_reply(value: Value, depth: usize) -> Reply {
    match value {
        Value::Integer(i) => Reply::Int(i),
        Value::Number(n) => Reply::Int(n as i64),
        Value::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Value::Boolean(true) => Reply::Int(1),
        Value::Table(t) => {
            if depth > MAX_REPLY_DEPTH {
                return Reply::err("ERR reached lua stack limit");
            }
            if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                return Reply::Error(e.to_string_lossy());
            }
            if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
                return Reply::Status(s.to_string_lossy());
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Value>(i) {
                    Ok(Value::Nil) | Err(_) => break,
                    Ok(v) => items.push(lua_to_reply(v, depth + 1)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
}

/// The error handler scripts run under: turns any error into `{err=..., source=..., line=...}`
/// naming the script line it came from, as Redis 7 reports it.
fn error_table(lua: &Lua, err: Value) -> mlua::Result<Table> {
    if let Value::Error(e) = &err
        && let Some(call) = find_call_error(e)
    {
        let t = lua.create_table()?;
        t.raw_set("err", call.msg.as_str())?;
        t.raw_set("source", SCRIPT_SOURCE)?;
        t.raw_set("line", call.line)?;
        return Ok(t);
    }
    let table = match err {
        Value::Table(t) if matches!(t.raw_get::<Value>("err")?, Value::String(_)) => t,
        other => {
            let msg = match &other {
                Value::String(s) => s.to_string_lossy(),
                Value::Error(e) => e.to_string(),
                v => lua
                    .coerce_string(v.clone())
                    .ok()
                    .flatten()
                    .map(|s| s.to_string_lossy())
                    .unwrap_or_else(|| v.type_name().to_string()),
            };
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {msg}"))?;
            t
        }
    };
    if table.raw_get::<Value>("line")?.is_nil() {
        // The innermost frame of the script itself (level 0 is this handler).
        for level in 1..64 {
            let Some(found) = lua.inspect_stack(level, |d| {
                let source = d.source().source.map(|s| s.into_owned());
                (source.as_deref() == Some(SCRIPT_SOURCE)).then(|| d.current_line().unwrap_or(0))
            }) else {
                break;
            };
            if let Some(line) = found {
                table.raw_set("source", SCRIPT_SOURCE)?;
                table.raw_set("line", line)?;
                break;
            }
        }
    }
    Ok(table)
}

/// An error reply raised by `redis.call`, with the script line that made the call.
#[derive(Debug)]
struct CallError {
    msg: String,
    line: usize,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for CallError {}

fn find_call_error(e: &mlua::Error) -> Option<&CallError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => find_call_error(cause),
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<CallError>(),
        _ => None,
    }
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
