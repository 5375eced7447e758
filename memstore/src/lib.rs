//! An embedded, in-memory stand-in for the Redis commands denwa uses.
//!
//! [`MemStore::start`] serves RESP2 on `127.0.0.1` (a random port), so denwa's real store code
//! (the `redis` crate's `ConnectionManager`, MULTI/EXEC pipelines, `Script` with its EVALSHA,
//! SCRIPT LOAD, EVAL fallback) runs against it unchanged, and its Lua scripts run in an embedded
//! Lua 5.1 as in Redis. Nothing is persisted: the data lives as long as the `MemStore` value.
//!
//! One thread owns the keyspace and the Lua state and runs commands one at a time, as Redis
//! does: every command, every MULTI/EXEC block and every script is atomic. Keys expire on
//! access and in a periodic purge.
//!
//! Commands: PING ECHO SELECT(0) CLIENT(SETINFO/SETNAME/GETNAME/ID) HELLO(2) QUIT
//! MULTI EXEC DISCARD EVAL EVALSHA SCRIPT(LOAD/EXISTS/FLUSH) FLUSHDB FLUSHALL DBSIZE TYPE
//! GET SET SETEX PSETEX GETDEL INCR INCRBY DEL EXISTS EXPIRE PEXPIRE TTL PTTL PERSIST
//! HSET HMSET HGET HMGET HGETALL HDEL HINCRBY HEXISTS HLEN
//! LPUSH RPUSH LPOP RPOP LRANGE LTRIM LLEN ZADD ZRANGE(by index) ZREM ZCARD ZSCORE
//! ZREMRANGEBYSCORE.

mod db;
mod lua;
mod resp;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use db::Db;
use resp::Reply;

/// How often expired keys are swept (lookups expire them lazily in between).
const PURGE_EVERY: Duration = Duration::from_millis(250);

/// A running in-memory store. Dropping it stops it: the listener closes, open connections are
/// closed and the data is gone.
pub struct MemStore {
    addr: SocketAddr,
    accept: JoinHandle<()>,
    _shutdown: watch::Sender<()>,
}

impl MemStore {
    /// Starts the store on `127.0.0.1` and a free port. Must be called within a Tokio runtime.
    pub async fn start() -> std::io::Result<MemStore> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let engine = spawn_engine()?;
        let (shutdown, stopped) = watch::channel(());
        let accept = tokio::spawn(accept_loop(listener, engine, stopped));
        tracing::info!(%addr, "in-memory store started (not durable: its data is lost when it stops)");
        Ok(MemStore {
            addr,
            accept,
            _shutdown: shutdown,
        })
    }

    /// `redis://127.0.0.1:PORT`, for `redis::Client::open`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MemStore {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Commands to run back to back, atomically, and where to send their replies.
struct Job {
    commands: Vec<Vec<Vec<u8>>>,
    reply: oneshot::Sender<Vec<Reply>>,
}

/// Starts the thread that owns the data and the Lua state. It ends when every sender is gone.
fn spawn_engine() -> std::io::Result<mpsc::Sender<Job>> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let (ready, started) = mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("memstore".into())
        .spawn(move || {
            let db = Rc::new(RefCell::new(Db::default()));
            let mut scripting = match lua::Scripting::new(db.clone()) {
                Ok(s) => {
                    let _ = ready.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            };
            let mut purged = Instant::now();
            loop {
                match queue.recv_timeout(PURGE_EVERY) {
                    Ok(job) => {
                        let replies = job
                            .commands
                            .iter()
                            .map(|argv| execute(&db, &mut scripting, argv))
                            .collect();
                        let _ = job.reply.send(replies);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if purged.elapsed() >= PURGE_EVERY {
                    db.borrow_mut().purge_expired();
                    purged = Instant::now();
                }
            }
        })?;
    match started.recv() {
        Ok(Ok(())) => Ok(jobs),
        Ok(Err(e)) => Err(std::io::Error::other(format!("cannot start Lua: {e}"))),
        Err(_) => Err(std::io::Error::other("the store thread died on start")),
    }
}

fn execute(db: &Rc<RefCell<Db>>, scripting: &mut lua::Scripting, argv: &[Vec<u8>]) -> Reply {
    match db::lookup(argv) {
        Err(why) => db::rejection_reply(argv, why),
        Ok((name, _)) => match name.as_str() {
            "EVAL" | "EVALSHA" | "SCRIPT" => scripting.exec(&name, argv),
            _ => db.borrow_mut().exec(&name, argv),
        },
    }
}

async fn accept_loop(
    listener: TcpListener,
    engine: mpsc::Sender<Job>,
    stopped: watch::Receiver<()>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, engine.clone(), stopped.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "in-memory store: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Per-connection state: an open MULTI block, if any.
#[derive(Default)]
struct Session {
    queued: Option<Vec<Vec<Vec<u8>>>>,
    /// A command was refused while queueing: EXEC must abort.
    dirty: bool,
}

enum Next {
    Continue,
    Close,
}

async fn serve(mut stream: TcpStream, engine: mpsc::Sender<Job>, mut stopped: watch::Receiver<()>) {
    let mut input: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut output: Vec<u8> = Vec::new();
    let mut session = Session::default();
    loop {
        let mut close = false;
        loop {
            match resp::parse(&input) {
                Ok(Some((argv, used))) => {
                    input.drain(..used);
                    if argv.is_empty() {
                        continue;
                    }
                    let (reply, next) = handle(&engine, &mut session, argv).await;
                    reply.encode(&mut output);
                    if let Next::Close = next {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(resp::ProtocolError(msg)) => {
                    Reply::Error(format!("ERR Protocol error: {msg}")).encode(&mut output);
                    close = true;
                    break;
                }
            }
        }
        if !output.is_empty() {
            if stream.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
        }
        if close {
            return;
        }
        tokio::select! {
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = stopped.changed() => return,
        }
    }
}

async fn handle(
    engine: &mpsc::Sender<Job>,
    session: &mut Session,
    argv: Vec<Vec<u8>>,
) -> (Reply, Next) {
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
    if name == "QUIT" {
        return (Reply::ok(), Next::Close);
    }
    let reply = match (session.queued.is_some(), name.as_str()) {
        (false, "MULTI") => {
            session.queued = Some(Vec::new());
            session.dirty = false;
            Reply::ok()
        }
        (true, "MULTI") => Reply::err("ERR MULTI calls can not be nested"),
        (false, "EXEC") => Reply::err("ERR EXEC without MULTI"),
        (false, "DISCARD") => Reply::err("ERR DISCARD without MULTI"),
        (true, "DISCARD") => {
            session.queued = None;
            Reply::ok()
        }
        (true, "EXEC") => {
            let commands = session.queued.take().unwrap_or_default();
            if std::mem::take(&mut session.dirty) {
                Reply::err("EXECABORT Transaction discarded because of previous errors.")
            } else {
                match run(engine, commands).await {
                    Some(replies) => Reply::Array(replies),
                    None => return (stopped_reply(), Next::Close),
                }
            }
        }
        (true, _) => match db::lookup(&argv) {
            Err(why) => {
                session.dirty = true;
                db::rejection_reply(&argv, why)
            }
            Ok(_) => {
                session.queued.get_or_insert_with(Vec::new).push(argv);
                Reply::Status("QUEUED".into())
            }
        },
        (false, _) => match run(engine, vec![argv]).await {
            Some(mut replies) => replies.pop().unwrap_or(Reply::Nil),
            None => return (stopped_reply(), Next::Close),
        },
    };
    (reply, Next::Continue)
}

fn stopped_reply() -> Reply {
    Reply::err("ERR the in-memory store has stopped")
}

/// Runs commands atomically on the store thread; `None` if it has stopped.
async fn run(engine: &mpsc::Sender<Job>, commands: Vec<Vec<Vec<u8>>>) -> Option<Vec<Reply>> {
    let (reply, replied) = oneshot::channel();
    engine.send(Job { commands, reply }).ok()?;
    replied.await.ok()
}
