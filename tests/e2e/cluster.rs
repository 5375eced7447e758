//! denwa on a three-master Redis Cluster: calls, bursts and concurrent callers heard in order,
//! once, with the keys spread over the masters; a slot holding a live call moved mid-call.

use std::time::Duration;

use crate::helpers::*;
use crate::redis_cluster::{Backend, cli, spawn_app_on_store};

#[tokio::test]
async fn calls_bursts_and_two_callers_are_heard_in_order_once_with_keys_on_several_masters() {
    let app = spawn_app_on_store(Backend::Cluster, &[]).await;
    let cluster = app.cluster.as_ref().expect("a cluster");
    let (sid_a, call_a) = app.call_in("+14155550001").await;
    let (sid_b, call_b) = app.call_in("+14155550002").await;
    let texts = |who: &str| -> Vec<String> {
        (1..=6)
            .map(|i| format!("For caller {who}, part {i}."))
            .collect()
    };
    let (texts_a, texts_b) = (texts("A"), texts("B"));
    // A burst for each caller, interleaved.
    for (a, b) in texts_a.iter().zip(&texts_b) {
        assert_eq!(app.say(&call_a, a).await.0, 202);
        assert_eq!(app.say(&call_b, b).await.0, 202);
    }
    for (sid, texts) in [(&sid_a, &texts_a), (&sid_b, &texts_b)] {
        let expected: Vec<&str> = texts.iter().map(String::as_str).collect();
        let heard = app.wait_heard(sid, &expected).await;
        let after_greeting: Vec<&str> = heard.iter().skip(1).map(String::as_str).collect();
        assert_eq!(after_greeting, expected, "in order, each once");
    }
    for call in [&call_a, &call_b] {
        app.wait_for("every receipt", Duration::from_secs(10), || async {
            let m = app.messages(call).await;
            (m.len() == 6 && m.iter().all(|m| m["state"] == "spoken")).then_some(())
        })
        .await;
    }

    let per_node = cluster.keys_per_node();
    let masters_with_keys = per_node.iter().filter(|(_, keys)| !keys.is_empty()).count();
    assert!(
        masters_with_keys >= 2,
        "keys on one master only: {per_node:?}"
    );
    // Each call's keys are on the one master of its hash tag's slot.
    for call in [&call_a, &call_b] {
        let tag = format!("{{{call}}}");
        let holders: Vec<u16> = per_node
            .iter()
            .filter(|(_, keys)| keys.iter().any(|k| k.contains(&tag)))
            .map(|(port, _)| *port)
            .collect();
        assert_eq!(holders.len(), 1, "call {call}'s keys on {holders:?}");
    }
    assert_eq!(
        cli(app.redis.port, &["DBSIZE"]).trim(),
        "0",
        "redis.url is ignored when redis.cluster is set"
    );
}

#[tokio::test]
async fn a_slot_holding_a_live_call_moves_to_another_master_mid_call_and_speech_goes_on() {
    let app = spawn_app_on_store(Backend::Cluster, &[]).await;
    let cluster = app.cluster.as_ref().expect("a cluster");
    let (sid, call_id) = app.call_in(CALLER).await;
    app.say(&call_id, "Before the move.").await;
    app.wait_heard(&sid, &["Before the move."]).await;

    let slot = cluster.slot_of(&format!("{{{call_id}}}"));
    let before = cluster.owner_of(slot).port;
    let after = cluster.migrate_slot(slot);
    assert_ne!(before, after);
    assert_eq!(cluster.owner_of(slot).port, after);

    for text in ["After the move, one.", "After the move, two."] {
        assert_eq!(app.say(&call_id, text).await.0, 202);
    }
    let heard = app
        .wait_heard(&sid, &["After the move, one.", "After the move, two."])
        .await;
    assert_eq!(
        heard,
        vec![
            GREETING,
            "Before the move.",
            "After the move, one.",
            "After the move, two."
        ]
    );
    app.wait_for("every receipt", Duration::from_secs(10), || async {
        let m = app.messages(&call_id).await;
        (m.len() == 3 && m.iter().all(|m| m["state"] == "spoken")).then_some(())
    })
    .await;
}
