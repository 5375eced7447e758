//! Clients that are slow, idle or many hold nothing for long: a request's head must come within
//! the header-read timeout (which is also the idle timeout), a stalled body is given up,
//! connections beyond `server.max_connections` wait for a free one, and SIGTERM ends
//! `denwa serve` within 10 s whatever its clients do.

use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::helpers::*;
use crate::raw_http;
use crate::serve_process::{ServeProcess, free_port};

/// `denwa::server::HEADER_READ_TIMEOUT` (and `BODY_READ_TIMEOUT`), with a margin for a loaded
/// machine.
const CUT_OFF_WITHIN: Duration = Duration::from_secs(8);

/// A connection that has sent half of a request head and nothing more.
async fn half_sent(base: &str) -> TcpStream {
    let mut stream = raw_http::connect(base).await;
    raw_http::send(&mut stream, b"POST /twilio/voice HTTP/1.1\r\nHo").await;
    stream
}

/// A connection whose request head promised a body that stops after a few bytes.
async fn stalled_body(base: &str) -> TcpStream {
    let mut stream = raw_http::connect(base).await;
    let head = raw_http::head(
        "POST /twilio/voice",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", "100"),
        ],
    );
    raw_http::send(&mut stream, head.as_bytes()).await;
    raw_http::send(&mut stream, b"CallSid=CA").await;
    stream
}

/// A kept-alive connection that was answered once and then says nothing.
async fn idle_after_a_request(base: &str) -> TcpStream {
    let mut stream = raw_http::connect(base).await;
    raw_http::send(&mut stream, raw_http::head("GET /healthz", &[]).as_bytes()).await;
    let answer = raw_http::answer(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(answer.map(|a| a.status), Some(200));
    stream
}

#[tokio::test]
async fn half_sent_heads_stalled_bodies_and_idle_connections_are_cut_off() {
    let app = spawn_app().await;
    let started = Instant::now();
    let mut half = half_sent(&app.base).await;
    let mut stalled = stalled_body(&app.base).await;
    let mut idle = idle_after_a_request(&app.base).await;
    let (half, stalled, idle) = tokio::join!(
        raw_http::closed_within(&mut half, CUT_OFF_WITHIN),
        raw_http::closed_within(&mut stalled, CUT_OFF_WITHIN),
        raw_http::closed_within(&mut idle, CUT_OFF_WITHIN),
    );
    assert!(half, "a half-sent head is cut off");
    assert!(stalled, "a stalled body is given up");
    assert!(idle, "an idle kept-alive connection is closed");
    assert!(started.elapsed() < CUT_OFF_WITHIN);
}

#[tokio::test]
async fn beyond_max_connections_a_new_connection_waits_until_one_closes() {
    let app = spawn_app_with(&[("DENWA_SERVER_MAX_CONNECTIONS", "5")]).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(raw_http::connect(&app.base).await);
    }
    // The sixth connects (the kernel queues it) but is not served while five are open.
    let mut sixth = raw_http::connect(&app.base).await;
    raw_http::send(&mut sixth, raw_http::head("GET /healthz", &[]).as_bytes()).await;
    let waiting = raw_http::answer(&mut sixth, Duration::from_secs(1)).await;
    assert!(waiting.is_none(), "served beyond the cap: {waiting:?}");
    drop(held.pop());
    let served = raw_http::answer(&mut sixth, Duration::from_secs(2)).await;
    assert_eq!(
        served.map(|a| a.status),
        Some(200),
        "served once one closed"
    );
}

#[tokio::test]
async fn sigterm_ends_denwa_serve_within_10_seconds_whatever_its_clients_do() {
    let (redis, emulator) = far_side(TIME_SCALE).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut denwa = ServeProcess::start(port, &base, &redis, &emulator, &[]).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(half_sent(&base).await);
    }
    clients.push(stalled_body(&base).await);
    clients.push(idle_after_a_request(&base).await);
    // And one that keeps its request in flight, a byte of body at a time.
    let mut trickle = raw_http::connect(&base).await;
    let head = raw_http::head("POST /twilio/voice", &[("Content-Length", "60000")]);
    raw_http::send(&mut trickle, head.as_bytes()).await;
    let trickling = tokio::spawn(async move {
        loop {
            raw_http::send(&mut trickle, b"a").await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    let sent = Instant::now();
    denwa.terminate();
    let exit = denwa.exited_within(Duration::from_secs(15)).await;
    let took = sent.elapsed();
    trickling.abort();
    assert_eq!(exit, Some(0), "a clean exit:\n{}", denwa.log_text());
    assert!(took < Duration::from_secs(10), "exited after {took:?}");
    drop(clients);
}
