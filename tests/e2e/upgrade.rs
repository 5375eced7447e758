//! Data stored by the previous version, which kept a hash per message: still spoken, failed
//! and listed after an upgrade, and what this version stores is readable by that version's
//! replicas during a rolling upgrade. (Slack's receipts of such messages: `slack.rs`.)

use crate::helpers::*;
use crate::redis_cluster::{Backend, spawn_app_on_store};
use serde_json::Value;

/// A call's end fails what is still waiting, messages of the previous layout included: moved
/// first, then failed with the reason, and listed as such with their text.
#[tokio::test]
async fn a_waiting_message_of_the_previous_version_is_failed_at_the_end_and_listed() {
    waiting_messages_of_the_previous_version_are_failed_at_the_end_on(Backend::Redis).await
}

#[tokio::test]
async fn a_waiting_message_of_the_previous_version_is_failed_at_the_end_on_a_cluster() {
    waiting_messages_of_the_previous_version_are_failed_at_the_end_on(Backend::Cluster).await
}

async fn waiting_messages_of_the_previous_version_are_failed_at_the_end_on(backend: Backend) {
    let app = spawn_app_on_store(backend, &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let url = app.redis_url_for(&format!("denwa:call:{{{call_id}}}"));
    // Another replica's speaker holds the lease, so nothing is spoken before the end.
    let mut redis = redis_at(&url).await;
    let () = redis::cmd("SET")
        .arg(format!("denwa:call:{{{call_id}}}:speaker"))
        .arg("another-leg")
        .arg("EX")
        .arg(600)
        .query_async(&mut redis)
        .await
        .unwrap();
    let api = r#"{"bridge":"api"}"#;
    let spoken = [
        ("text", "Spoken by the previous version."),
        ("origin", api),
        ("state", "spoken"),
        ("finished_at", "2"),
    ];
    store_as_the_previous_version(&url, &call_id, "m00000000000000c1", &spoken, false).await;
    let waiting = [("text", "Still waiting at the end."), ("origin", api)];
    store_as_the_previous_version(&url, &call_id, "m00000000000000c2", &waiting, true).await;
    let (status, body) = app.say(&call_id, "Waiting too.").await;
    assert_eq!(status, 202, "{body}");
    app.hang_up(&sid, &call_id).await;

    let messages = app.messages(&call_id).await;
    let listed: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| (m["text"].as_str().unwrap(), m["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            ("Spoken by the previous version.", "spoken"),
            ("Still waiting at the end.", "failed"),
            ("Waiting too.", "failed"),
        ],
        "{messages:?}"
    );
    assert!(
        messages[1]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{messages:?}"
    );
    // The page after a message of the previous layout starts after it.
    let (status, page) = app
        .get_json(&format!(
            "/calls/{call_id}/messages?after=m00000000000000c1"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["messages"][0]["text"], "Still waiting at the end.",
        "{page}"
    );
}

/// During a rolling upgrade a replica of the previous version may take a message this version
/// stored: it finds it where it looks, a hash of its own with the fields it reads.
#[tokio::test]
async fn a_message_is_also_stored_as_the_previous_version_reads_it() {
    let app = spawn_app().await;
    let (_sid, call_id) = app.call_in(CALLER).await;
    let (status, body) = app.say(&call_id, "For both versions.").await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    let mut redis = redis_at(&app.redis.url()).await;
    let old: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("denwa:call:{{{call_id}}}:msg:{id}"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(old["id"], id, "{old:?}");
    assert_eq!(old["text"], "For both versions.", "{old:?}");
    assert_eq!(old["state"], "queued", "{old:?}");
    assert_eq!(old["seq"], "1", "{old:?}");
    assert!(old["pieces"].starts_with("0:"), "{old:?}");
    let origin: Value = serde_json::from_str(&old["origin"]).unwrap();
    assert_eq!(origin["bridge"], "api", "{old:?}");
}

/// An id waiting in the queue whose message is in neither layout (its hash lost) has nothing to
/// say: it is dropped from the queue when met, and what follows it is spoken.
#[tokio::test]
async fn an_id_queued_without_its_message_is_dropped_and_the_rest_is_spoken() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let mut redis = redis_at(&app.redis.url()).await;
    let () = redis::cmd("RPUSH")
        .arg(format!("denwa:call:{{{call_id}}}:queue"))
        .arg("m00000000000000d1")
        .query_async(&mut redis)
        .await
        .unwrap();
    let (status, body) = app.say(&call_id, "After the lost one.").await;
    assert_eq!(status, 202, "{body}");
    app.wait_heard(&sid, &["After the lost one."]).await;
    let messages = app.wait_all_spoken(&call_id).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let queue: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("denwa:call:{{{call_id}}}:queue"))
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(queue.is_empty(), "{queue:?}");
}
