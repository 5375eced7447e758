//! A call comes in and lands in its conference.

use crate::helpers::*;
use crate::redis_cluster::{Backend, spawn_app_on_store};

#[tokio::test]
async fn incoming_call_is_greeted_and_lands_in_an_anonymous_conference() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;

    assert_eq!(app.heard(&sid).first().map(String::as_str), Some(GREETING));
    let conferences = app.emulator.conferences();
    assert_eq!(conferences.len(), 1);
    let conference = &conferences[0];
    assert_eq!(conference.friendly_name, format!("denwa-{call_id}"));
    assert!(
        !conference.friendly_name.contains("4155550123"),
        "no phone number in the conference name"
    );
    assert!(conference.participants.iter().any(|p| p.call_sid == sid));

    let (status, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(call["from"], CALLER);
    assert_eq!(call["state"], "connected");
    assert!(
        app.emulator.errors().is_empty(),
        "{:?}",
        app.emulator.errors()
    );
}

#[tokio::test]
async fn the_caller_hanging_up_ends_the_call() {
    the_caller_hanging_up_ends_the_call_on(Backend::Redis).await
}

#[tokio::test]
async fn the_caller_hanging_up_ends_the_call_on_a_cluster() {
    the_caller_hanging_up_ends_the_call_on(Backend::Cluster).await
}

async fn the_caller_hanging_up_ends_the_call_on(backend: Backend) {
    let app = spawn_app_on_store(backend, &[]).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    app.hang_up(&sid, &call_id).await;
    let (_, calls) = app.get_json("/calls").await;
    assert_eq!(
        calls["calls"].as_array().unwrap().len(),
        0,
        "ended calls are not active"
    );
    let (status, _) = app.say(&call_id, "too late").await;
    assert_eq!(status, 409);
}
