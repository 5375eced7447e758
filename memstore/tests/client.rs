//! The `redis` crate's own client against `MemStore`: the calls denwa's store makes, through
//! `ConnectionManager` and a multiplexed connection.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{memstore, raw};
use denwa_memstore::MemStore;
use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

async fn manager(store: &MemStore) -> ConnectionManager {
    let client = redis::Client::open(store.url()).unwrap();
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client, config)
        .await
        .unwrap()
}

#[tokio::test]
async fn connection_manager_runs_denwas_calls() {
    let store = MemStore::start().await.unwrap();
    assert!(store.url().starts_with("redis://127.0.0.1:"));
    let mut conn = manager(&store).await;
    let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    assert_eq!(pong, "PONG");

    // create_call: an atomic pipeline of HMSET, SETEX and ZADD.
    let fields = [("id", "c1"), ("state", "ringing"), ("from", "+1")];
    let mut pipe = redis::pipe();
    pipe.atomic()
        .hset_multiple("call:c1", &fields)
        .ignore()
        .set_ex("sid:CA1", "c1", 3600)
        .ignore()
        .zadd("active", "c1", 17)
        .ignore();
    pipe.query_async::<()>(&mut conn).await.unwrap();
    let id: Option<String> = conn.get("sid:CA1").await.unwrap();
    assert_eq!(id.as_deref(), Some("c1"));
    let ttl: i64 = conn.ttl("sid:CA1").await.unwrap();
    assert!((3599..=3600).contains(&ttl), "{ttl}");
    let call: HashMap<String, String> = conn.hgetall("call:c1").await.unwrap();
    assert_eq!(call.get("state").map(String::as_str), Some("ringing"));
    let state: Option<String> = conn.hget("call:c1", "state").await.unwrap();
    assert_eq!(state.as_deref(), Some("ringing"));
    let active: Vec<String> = conn.zrange("active", 0, -1).await.unwrap();
    assert_eq!(active, ["c1"]);

    // A non-atomic pipeline with replies, as messages_by_id reads them: HMGET of each message's
    // fields in the call's messages hash, then HGETALL of the hashes of the previous layout.
    let _: () = conn.hset("msgs", "m1:id", "m1").await.unwrap();
    let mut pipe = redis::pipe();
    pipe.cmd("HMGET").arg("msgs").arg(&["m1:id", "m1:text"]);
    pipe.cmd("HMGET").arg("msgs").arg(&["m2:id", "m2:text"]);
    let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut conn).await.unwrap();
    assert_eq!(rows, [vec![Some("m1".to_owned()), None], vec![None, None]]);
    let _: () = conn.hset("m:2", "id", "m2").await.unwrap();
    let mut pipe = redis::pipe();
    pipe.hgetall("m:2").hgetall("m:missing");
    let rows: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[1].is_empty());

    // first_delivery: SET NX EX answers OK once, then nil.
    for expected in [true, false] {
        let first: Option<String> = redis::cmd("SET")
            .arg("delivery:x")
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(86400)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(first.is_some(), expected);
    }

    // A one-time code: SETEX then GETDEL.
    let _: () = conn.set_ex("code:1", "c1:L1", 120).await.unwrap();
    let code: Option<String> = conn.get_del("code:1").await.unwrap();
    assert_eq!(code.as_deref(), Some("c1:L1"));
    let code: Option<String> = conn.get_del("code:1").await.unwrap();
    assert_eq!(code, None);

    // expire_call: EXPIRE in a pipeline; lists.
    let _: () = conn.rpush("order", &["a", "b"]).await.unwrap();
    let mut pipe = redis::pipe();
    pipe.expire("order", 60)
        .ignore()
        .expire("nope", 60)
        .ignore();
    pipe.query_async::<()>(&mut conn).await.unwrap();
    let ttl: i64 = conn.ttl("order").await.unwrap();
    assert!((59..=60).contains(&ttl));
    let order: Vec<String> = conn.lrange("order", 0, -1).await.unwrap();
    assert_eq!(order, ["a", "b"]);
    let len: usize = conn.llen("order").await.unwrap();
    assert_eq!(len, 2);
}

#[tokio::test]
async fn scripts_load_on_noscript_and_convert_replies() {
    let store = MemStore::start().await.unwrap();
    let mut conn = manager(&store).await;
    let script = redis::Script::new(
        r#"
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing', {}, 0} end
local ids = redis.call('LRANGE', KEYS[2], 0, -1)
local seen = {}
for _, id in ipairs(ids) do table.insert(seen, 1, id .. ':' .. state) end
return {'ok', seen, tonumber(ARGV[1] or '0') + 0.9}
"#,
    );
    // First invocation: EVALSHA fails with NOSCRIPT, the client loads it and retries.
    let (status, seen, n): (String, Vec<String>, i64) = script
        .key("h")
        .key("l")
        .arg(41)
        .invoke_async(&mut conn)
        .await
        .unwrap();
    assert_eq!((status.as_str(), seen.len(), n), ("missing", 0, 0));
    let loaded: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(script.get_hash())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(loaded, [1]);
    let _: () = conn.hset("h", "state", "live").await.unwrap();
    let _: () = conn.rpush("l", &["a", "b"]).await.unwrap();
    let (status, seen, n): (String, Vec<String>, i64) = script
        .key("h")
        .key("l")
        .arg(1)
        .invoke_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "ok");
    assert_eq!(seen, ["b:live", "a:live"]);
    assert_eq!(n, 1, "Lua numbers are truncated to integers");

    // SCRIPT LOAD answers the SHA1 the client computed.
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return 1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(sha, redis::Script::new("return 1").get_hash());
    let err = redis::cmd("EVALSHA")
        .arg("ffffffffffffffffffffffffffffffffffffffff")
        .arg(0)
        .query_async::<i64>(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NOSCRIPT"));
    assert!(
        err.to_string()
            .contains("No matching script. Please use EVAL.")
    );
}

#[tokio::test]
async fn transactions_queue_and_abort() {
    let (_store, mut conn) = memstore().await;
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("n", 1)
        .incr("n", 2)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!((a, b), (1, 3));
    // A runtime error inside EXEC fails only its own command.
    let _: () = conn.rpush("list", "x").await.unwrap();
    let err = redis::pipe()
        .atomic()
        .incr("n", 1)
        .get("list")
        .query_async::<(i64, String)>(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    let n: i64 = conn.get("n").await.unwrap();
    assert_eq!(n, 4);
    // An unknown command while queueing aborts the whole transaction.
    let err = redis::pipe()
        .atomic()
        .incr("n", 1)
        .cmd("NOSUCH")
        .query_async::<redis::Value>(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
    let n: i64 = conn.get("n").await.unwrap();
    assert_eq!(n, 4);
}

#[tokio::test]
async fn keys_expire_in_real_time() {
    let (_store, mut conn) = memstore().await;
    raw(&mut conn, &["SET", "lock", "L1", "PX", "80"])
        .await
        .unwrap();
    let _: () = conn.hset("h", "f", "v").await.unwrap();
    let _: () = redis::cmd("PEXPIRE")
        .arg("h")
        .arg(80)
        .query_async(&mut conn)
        .await
        .unwrap();
    let exists: i64 = conn.exists("lock").await.unwrap();
    assert_eq!(exists, 1);
    let pttl: i64 = conn.pttl("lock").await.unwrap();
    assert!((1..=80).contains(&pttl), "{pttl}");
    tokio::time::sleep(Duration::from_millis(120)).await;
    let exists: i64 = conn.exists(&["lock", "h"]).await.unwrap();
    assert_eq!(exists, 0);
    let size: i64 = redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap();
    assert_eq!(size, 0);
}

#[tokio::test]
async fn wrong_types_and_unknown_commands_are_errors() {
    let (_store, mut conn) = memstore().await;
    let _: () = conn.set("s", "v").await.unwrap();
    let err = conn
        .hget::<_, _, Option<String>>("s", "f")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
    let err = conn.lrange::<_, Vec<String>>("s", 0, -1).await.unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
    let err = raw(&mut conn, &["FROB", "x"]).await.unwrap_err();
    assert!(err.to_string().contains("unknown command 'FROB'"), "{err}");
    // The connection still works after errors.
    let v: String = conn.get("s").await.unwrap();
    assert_eq!(v, "v");
}

#[tokio::test]
async fn dropping_the_store_stops_it() {
    let store = MemStore::start().await.unwrap();
    let addr = store.addr();
    drop(store);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
