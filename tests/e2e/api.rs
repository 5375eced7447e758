//! The HTTP API's contract: bearer auth, clear errors, message states.

use crate::helpers::*;

#[tokio::test]
async fn the_api_requires_the_bearer_token() {
    let app = spawn_app().await;
    let none = app.http.get(app.api("/calls")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let wrong = app
        .http
        .get(app.api("/calls"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let say = app
        .http
        .post(app.api("/calls/abc/say"))
        .json(&serde_json::json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(say.status(), 401);
}

/// Authentication schemes are case-insensitive (RFC 9110 11.1): `bearer` is `Bearer`.
#[tokio::test]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let app = spawn_app().await;
    let status = |authorization: String| {
        let request = app
            .http
            .get(app.api("/calls"))
            .header("Authorization", authorization);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        assert_eq!(
            status(format!("{scheme} {API_TOKEN}")).await,
            200,
            "{scheme}"
        );
    }
    assert_eq!(
        status(format!("Bearer  {API_TOKEN}")).await,
        200,
        "two spaces"
    );
    assert_eq!(status("bearer nope".into()).await, 401);
    assert_eq!(status(format!("Basic {API_TOKEN}")).await, 401);
    assert_eq!(status(format!("Bearer{API_TOKEN}")).await, 401);
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let app = spawn_app().await;
    let (_, call_id) = app.call_in(CALLER).await;
    let (status, body) = app.say("nosuchcall", "hello").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app.say(&call_id, "   \n ").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["message"], "there is nothing to say in that message");
    let not_json = app
        .http
        .post(app.api(&format!("/calls/{call_id}/say")))
        .bearer_auth(API_TOKEN)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 422);
    let (status, _) = app.say(&call_id, &"a".repeat(10_001)).await;
    assert_eq!(status, 422);
    assert!(
        app.messages(&call_id).await.is_empty(),
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn hangup_ends_the_call_for_the_caller() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let r = app
        .http
        .post(app.api(&format!("/calls/{call_id}/hangup")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    app.wait_for(
        "the caller's leg to complete",
        std::time::Duration::from_secs(10),
        || async {
            app.emulator
                .call(&sid)
                .filter(|c| c.status == "completed")
                .map(|_| ())
        },
    )
    .await;
    let (_, call) = app.get_json(&format!("/calls/{call_id}")).await;
    assert_eq!(call["state"], "ended");
}

#[tokio::test]
async fn a_say_reference_becomes_the_messages_origin() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let say = |body: serde_json::Value| {
        let request = app
            .http
            .post(app.api(&format!("/calls/{call_id}/say")))
            .bearer_auth(API_TOKEN)
            .json(&body);
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) =
        say(serde_json::json!({"text": "With a reference.", "reference": "ui:42"})).await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = say(serde_json::json!({"text": "Without one."})).await;
    assert_eq!(status, 202, "{body}");
    for bad in ["x".repeat(129), "line\nbreak".into()] {
        let (status, body) = say(serde_json::json!({"text": "Refused.", "reference": bad})).await;
        assert_eq!(status, 422, "{body}");
    }
    app.wait_heard(&sid, &["With a reference.", "Without one."])
        .await;
    let messages = app.messages(&call_id).await;
    let sources: Vec<&str> = messages
        .iter()
        .map(|m| m["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["api:ui:42", "api"], "nothing refused was stored");
}

/// A client that did not get its answer (a timeout, a 503 while Redis restarted) sends the
/// message again under the same `reference`: it is stored, spoken and counted once, and the
/// retry gets the first message's id.
#[tokio::test]
async fn a_say_retried_under_its_reference_is_spoken_once() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let say = |text: &'static str, reference: &'static str| {
        let request = app
            .http
            .post(app.api(&format!("/calls/{call_id}/say")))
            .bearer_auth(API_TOKEN)
            .json(&serde_json::json!({ "text": text, "reference": reference }));
        async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 202);
            r.json::<serde_json::Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let first = say("Only once, please.", "ticket-1").await;
    let again = say("Only once, please.", "ticket-1").await;
    let other = say("A second message.", "ticket-2").await;
    assert_eq!(first, again, "the retry is the first message");
    assert_ne!(first, other);
    app.wait_heard(&sid, &["Only once, please.", "A second message."])
        .await;
    assert_eq!(
        app.heard(&sid),
        vec![GREETING, "Only once, please.", "A second message."]
    );
    assert_eq!(app.messages(&call_id).await.len(), 2);
}
