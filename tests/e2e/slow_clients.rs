//! Clients that are slow, idle or many hold nothing for long: a request's head must come within
//! the header-read timeout (which is also the idle timeout), a stalled body is given up,
//! connections beyond `server.max_connections` wait for a free one, and SIGTERM ends
//! `denwa serve` within 10 s whatever its clients do.

use std::process::Child;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::cli::denwa;
use crate::helpers::*;
use crate::raw_http;

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

/// `denwa serve` as a process, on a free port, with its own Redis and emulator; its log goes to
/// a file that a failing test prints.
struct Serving {
    child: Child,
    base: String,
    log: std::path::PathBuf,
    _far_side: (
        crate::redis_server::RedisServer,
        denwa_twilio_emulator::Emulator,
    ),
}

impl Serving {
    async fn start() -> Serving {
        let (redis, emulator) = far_side().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let dir = std::env::temp_dir().join(format!("denwa-sigterm-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.toml");
        std::fs::write(&config, config_file(&base, &redis, &emulator, "")).unwrap();
        let log = dir.join("denwa.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = denwa()
            .args(["serve", "--config"])
            .arg(&config)
            .envs(config_env())
            .env("DENWA_SERVER_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let serving = Serving {
            child,
            base,
            log,
            _far_side: (redis, emulator),
        };
        serving.wait_until_up().await;
        serving
    }

    async fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let http = reqwest::Client::new();
        while Instant::now() < deadline {
            let health = http.get(format!("{}/healthz", self.base)).send().await;
            if health.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("denwa serve did not come up:\n{}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits up to `bound` for the process to exit; how long it took.
    async fn terminate(&mut self, bound: Duration) -> Option<Duration> {
        let sent = Instant::now();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        while sent.elapsed() < bound {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status}\n{}", self.log_text());
                return Some(sent.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The log is kept only when a test failed.
        if !std::thread::panicking()
            && let Some(dir) = self.log.parent()
        {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[tokio::test]
async fn sigterm_ends_denwa_serve_within_10_seconds_whatever_its_clients_do() {
    let mut denwa = Serving::start().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(half_sent(&denwa.base).await);
    }
    clients.push(stalled_body(&denwa.base).await);
    clients.push(idle_after_a_request(&denwa.base).await);
    // And one that keeps its request in flight, a byte of body at a time.
    let mut trickle = raw_http::connect(&denwa.base).await;
    let head = raw_http::head("POST /twilio/voice", &[("Content-Length", "60000")]);
    raw_http::send(&mut trickle, head.as_bytes()).await;
    let trickling = tokio::spawn(async move {
        loop {
            raw_http::send(&mut trickle, b"a").await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    let took = denwa.terminate(Duration::from_secs(15)).await;
    trickling.abort();
    let took = took.unwrap_or_else(|| {
        panic!(
            "denwa serve still ran 15 s after SIGTERM:\n{}",
            denwa.log_text()
        )
    });
    assert!(took < Duration::from_secs(10), "exited after {took:?}");
    drop(clients);
}
