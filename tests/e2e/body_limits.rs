//! Bodies over the limit, 64 KiB on webhooks and 256 KiB on `/api`, are refused with 413 before
//! more is read: at once when `Content-Length` says so, at the limit when they come chunked.
//! Nothing is buffered beyond it, signed or not.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::raw_http::{self, Answer};

const WEBHOOK_OVER: usize = 65 * 1024;
const API_OVER: usize = 300 * 1024;
/// The refusal comes as soon as the head (or the limit) is read, not after a timeout.
const PROMPTLY: Duration = Duration::from_secs(3);

/// The app with the Slack and Discord bridges on, so their routes exist.
async fn spawn_with_bridges() -> TestApp {
    let discord_key: String = SigningKey::from_bytes(&[42; 32])
        .verifying_key()
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    spawn_app_with(&[
        ("DENWA_SLACK_CHANNEL", "C0CALLS01"),
        ("DENWA_SLACK_BOT_TOKEN", "xoxb-test"),
        ("DENWA_SLACK_SIGNING_SECRET", "secret"),
        ("DENWA_SLACK_API_BASE", "http://127.0.0.1:9/api"),
        ("DENWA_DISCORD_APPLICATION_ID", "1100000000000000001"),
        ("DENWA_DISCORD_GUILD_ID", "1100000000000000002"),
        ("DENWA_DISCORD_CHANNEL_ID", "1100000000000000003"),
        ("DENWA_DISCORD_BOT_TOKEN", "bot-token"),
        ("DENWA_DISCORD_PUBLIC_KEY", &discord_key),
        ("DENWA_DISCORD_API_BASE", "http://127.0.0.1:9"),
    ])
    .await
}

/// Opens a connection and sends the head of a POST to `path` with `framing` (how the body's
/// length is told) and `headers`.
async fn post_head(
    app: &TestApp,
    path: &str,
    framing: (&str, &str),
    headers: &[(&str, &str)],
) -> TcpStream {
    let mut all = vec![framing];
    all.extend_from_slice(headers);
    let mut stream = raw_http::connect(&app.base).await;
    let head = raw_http::head(&format!("POST {path}"), &all);
    raw_http::send(&mut stream, head.as_bytes()).await;
    stream
}

/// The answer, which must come [`PROMPTLY`].
async fn answer_promptly(mut stream: TcpStream, what: &str) -> Answer {
    raw_http::answer(&mut stream, PROMPTLY)
        .await
        .unwrap_or_else(|| panic!("no answer to {what}"))
}

/// POSTs a head that declares `len` bytes of body, and sends none of it.
async fn declared(app: &TestApp, path: &str, len: usize, headers: &[(&str, &str)]) -> Answer {
    let length = len.to_string();
    let stream = post_head(app, path, ("Content-Length", &length), headers).await;
    answer_promptly(stream, &format!("{path} declaring {len} bytes")).await
}

/// POSTs `len` bytes in chunks and never ends the body.
async fn chunked(app: &TestApp, path: &str, len: usize, headers: &[(&str, &str)]) -> Answer {
    let mut stream = post_head(app, path, ("Transfer-Encoding", "chunked"), headers).await;
    for _ in 0..len.div_ceil(8192) {
        raw_http::send(&mut stream, &raw_http::chunk(&[b'a'; 8192])).await;
    }
    answer_promptly(stream, &format!("{path} sending {len} bytes chunked")).await
}

#[tokio::test]
async fn webhook_bodies_over_64_kib_are_refused_with_413_before_they_are_read() {
    let app = spawn_with_bridges().await;
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    for path in [
        "/twilio/voice",
        "/twilio/conference",
        "/slack/events",
        "/slack/commands",
        "/slack/interactions",
        "/discord/interactions",
    ] {
        let answer = declared(&app, path, WEBHOOK_OVER, &form).await;
        assert_eq!(answer.status, 413, "{path}, declared: {answer:?}");
        let answer = chunked(&app, path, WEBHOOK_OVER, &form).await;
        assert_eq!(answer.status, 413, "{path}, chunked: {answer:?}");
    }
    // Under the limit a body is read, and refused for what it is: unsigned.
    let under = app
        .http
        .post(format!("{}/twilio/voice", app.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("CallSid={}", "a".repeat(60 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(under.status(), 403);
}

#[tokio::test]
async fn api_bodies_over_256_kib_are_refused_with_413_as_json() {
    let app = spawn_app().await;
    let bearer = format!("Bearer {API_TOKEN}");
    let headers = [
        ("Content-Type", "application/json"),
        ("Authorization", bearer.as_str()),
    ];
    let (_, call_id) = app.call_in(CALLER).await;
    let say = format!("/api/calls/{call_id}/say");
    for path in [say.as_str(), "/api/calls"] {
        for answer in [
            declared(&app, path, API_OVER, &headers).await,
            chunked(&app, path, API_OVER, &headers).await,
        ] {
            assert_eq!(answer.status, 413, "{path}: {answer:?}");
            let error: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
            assert_eq!(error["error"], "too_large", "{path}: {error}");
            assert!(
                error["message"].as_str().unwrap().contains("256 KiB"),
                "{error}"
            );
        }
    }
    // Nothing was stored; a body under the limit still speaks.
    assert!(app.messages(&call_id).await.is_empty());
    let (status, body) = app
        .say(&call_id, &"Long, but not too long. ".repeat(300))
        .await;
    assert_eq!(status, 202, "{body}");
}
