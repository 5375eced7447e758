//! Data stored by the previous version, which kept a hash per message: still spoken, failed
//! and listed after an upgrade, and what this version stores is readable by that version's
//! replicas during a rolling upgrade. (Slack's receipts of such messages: `slack.rs`.)

use crate::helpers::*;
use serde_json::Value;

/// A call's end fails what is still waiting, messages of the previous layout included: moved
/// first, then failed with the reason, and listed as such with their text.
#[tokio::test]
async fn a_message_of_the_previous_version_waiting_when_the_call_ends_is_failed_and_listed() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    // Another replica's speaker holds the lease, so nothing is spoken before the end.
    let mut redis = redis::Client::open(app.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("SET")
        .arg(format!("denwa:call:{{{call_id}}}:speaker"))
        .arg("another-leg")
        .arg("EX")
        .arg(600)
        .query_async(&mut redis)
        .await
        .unwrap();
    app.store_as_the_previous_version(
        &call_id,
        "m00000000000000c1",
        &[
            ("text", "Spoken by the previous version."),
            ("origin", r#"{"bridge":"api"}"#),
            ("state", "spoken"),
            ("finished_at", "2"),
        ],
        false,
    )
    .await;
    app.queue_as_the_previous_version(
        &call_id,
        "m00000000000000c2",
        &[
            ("text", "Still waiting at the end."),
            ("origin", r#"{"bridge":"api"}"#),
        ],
    )
    .await;
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
    let mut redis = redis::Client::open(app.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
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
