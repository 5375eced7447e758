//! What an operator sees: `/metrics` (histograms with bounded labels, a registry per app
//! instance), request ids and redacted signatures in the logs, JSON logs.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::helpers::*;
use crate::serve_process::{ServeProcess, free_port};

/// One sample of the text exposition: its name and labels.
#[derive(Debug)]
pub(crate) struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses Prometheus' text format (and OpenMetrics'): `name{k="v",...} value`, comments skipped.
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a numeric value"),
            }
        })
        .collect()
}

/// The value of `name` with exactly `labels`, if exposed.
pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == wanted)
        .map(|s| s.value)
}

impl TestApp {
    /// `/metrics`: its text, and its samples.
    pub(crate) async fn metrics(&self) -> (String, Vec<Sample>) {
        let text = self.metrics_text().await;
        let samples = parse(&text);
        (text, samples)
    }

    /// `denwa_requests_rejected_total` for `reason` (0 if never counted).
    pub(crate) async fn rejected(&self, reason: &str) -> f64 {
        let (_, samples) = self.metrics().await;
        value(
            &samples,
            "denwa_requests_rejected_total",
            &[("reason", reason)],
        )
        .unwrap_or(0.0)
    }
}

/// After a call with a message spoken, `/metrics` shows the request, API, speech-delay and
/// queue-depth histograms with their labels; a forged webhook is counted by reason. Labels
/// carry route patterns, never a call's id.
#[tokio::test]
async fn metrics_show_the_histograms_of_a_call_with_bounded_labels() {
    let app = spawn_app().await;
    let (sid, call_id) = app.call_in(CALLER).await;
    let (status, _) = app.say(&call_id, "Hello there.").await;
    assert_eq!(status, 202);
    app.wait_heard(&sid, &["Hello there."]).await;
    app.wait_all_spoken(&call_id).await;
    let forged = app
        .post_signed("/twilio/voice", &[("CallSid", "CA1")], "not-the-token")
        .await;
    assert_eq!(forged.status(), 403);

    let (text, samples) = app.metrics().await;
    let count = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels).unwrap_or(0.0);
    assert!(
        count(
            "denwa_http_request_duration_seconds_count",
            &[("route", "/twilio/voice"), ("outcome", "2xx")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        count(
            "denwa_http_request_duration_seconds_count",
            &[("route", "/api/calls/{id}/say"), ("outcome", "2xx")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        count(
            "denwa_http_request_duration_seconds_bucket",
            &[
                ("route", "/twilio/voice"),
                ("outcome", "2xx"),
                ("le", "+Inf")
            ]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        count(
            "denwa_api_request_duration_seconds_count",
            &[("service", "twilio"), ("outcome", "ok")]
        ) >= 1.0,
        "the speaker dial is a Twilio API call: {text}"
    );
    assert!(
        count("denwa_speech_delay_seconds_count", &[]) >= 1.0,
        "{text}"
    );
    assert!(count("denwa_queue_depth_count", &[]) >= 1.0, "{text}");
    assert_eq!(
        count(
            "denwa_requests_rejected_total",
            &[("reason", "bad_signature")]
        ),
        1.0,
        "{text}"
    );
    // The counters README documents keep their names.
    assert_eq!(count("denwa_calls_answered_total", &[]), 1.0, "{text}");
    assert!(count("denwa_messages_spoken_total", &[]) >= 1.0, "{text}");
    assert!(count("denwa_speaker_legs_total", &[]) >= 1.0, "{text}");
    assert!(!text.contains(&call_id), "no label names a call: {text}");
    assert!(!text.contains(CALLER), "no label names a number: {text}");
}

/// Two app instances in one process keep their own numbers: a call into one is not counted by
/// the other.
#[tokio::test]
async fn two_app_instances_keep_separate_registries() {
    let one = spawn_app().await;
    let other = spawn_app().await;
    let (sid, call_id) = one.call_in(CALLER).await;
    one.say(&call_id, "Only here.").await;
    one.wait_heard(&sid, &["Only here."]).await;

    let (text, samples) = one.metrics().await;
    assert_eq!(
        value(&samples, "denwa_calls_answered_total", &[]),
        Some(1.0),
        "{text}"
    );
    let (text, samples) = other.metrics().await;
    assert_eq!(
        value(&samples, "denwa_calls_answered_total", &[]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&samples, "denwa_messages_queued_total", &[]),
        Some(0.0),
        "{text}"
    );
    assert!(
        !samples.iter().any(
            |s| s.name.starts_with("denwa_http_request_duration_seconds")
                && s.labels
                    .get("route")
                    .is_some_and(|r| r.starts_with("/twilio"))
        ),
        "the other instance answered no webhook: {text}"
    );
}

const SIGNATURE: &str = "c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtYmUtbG9nZ2Vk";
const SLACK_SIGNATURE: &str = "v0=0123456789abcdef0123456789abcdef";

/// A real `denwa serve` with `env`, sent a forged Twilio webhook with request id `req-ops-42`
/// (and signature headers); what it logged.
async fn log_of_a_forged_webhook(env: &[(&str, &str)]) -> String {
    let (redis, emulator) = far_side(TIME_SCALE).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let denwa = ServeProcess::start(port, &base, &redis, &emulator, env).await;
    let response = reqwest::Client::new()
        .post(format!("{base}/twilio/voice"))
        .header("X-Request-Id", "req-ops-42")
        .header("X-Twilio-Signature", SIGNATURE)
        .header("X-Slack-Signature", SLACK_SIGNATURE)
        .form(&[("CallSid", "CA0123"), ("From", CALLER), ("To", LINE)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["x-request-id"], "req-ops-42");
    let log = denwa.log_text();
    assert!(!log.contains(SIGNATURE), "{log}");
    assert!(!log.contains(SLACK_SIGNATURE), "{log}");
    assert!(!log.contains(CALLER), "{log}");
    log
}

/// The default text logs: the rejection's line carries the request's span, its id with it;
/// with the access lines on, the answer's line carries its status too.
#[tokio::test]
async fn a_request_log_line_carries_its_request_id() {
    let log = log_of_a_forged_webhook(&[("DENWA_LOG", "info,denwa::access=debug")]).await;
    let line = |what: &str| {
        log.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("{what:?} is logged:\n{log}"))
    };
    let rejected = line("rejected a webhook");
    assert!(rejected.contains("request_id=req-ops-42"), "{rejected}");
    assert!(rejected.contains("route=/twilio/voice"), "{rejected}");
    let answered = line("request_id=req-ops-42 status=403}: answered");
    assert!(answered.contains("route=/twilio/voice"), "{answered}");
}

/// A request without an id gets one made; one unfit for a log line is replaced.
#[tokio::test]
async fn request_ids_are_made_when_missing_or_unfit() {
    let app = spawn_app().await;
    let made = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    let made = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 36, "a UUID: {made}");
    let unfit = app
        .http
        .get(format!("{}/healthz", app.base))
        .header("X-Request-Id", format!("has spaces {}", "x".repeat(64)))
        .send()
        .await
        .unwrap();
    let replaced = unfit.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(replaced.len(), 36, "{replaced}");
}

/// `DENWA_LOG_FORMAT=json`: every line is a JSON object, and the rejection's carries the
/// request's span (method, route, request id).
#[tokio::test]
async fn json_logs_parse_and_carry_the_request_span() {
    let log = log_of_a_forged_webhook(&[("DENWA_LOG_FORMAT", "json")]).await;
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let rejected = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("rejected a webhook"))
        })
        .unwrap_or_else(|| panic!("the rejection is logged:\n{log}"));
    assert_eq!(rejected["span"]["request_id"], "req-ops-42", "{rejected}");
    assert_eq!(rejected["span"]["route"], "/twilio/voice", "{rejected}");
    assert_eq!(rejected["span"]["method"], "POST", "{rejected}");
}
