//! A closed-loop HTTP load generator: `connections` keep-alive HTTP/1.1 connections, each sending
//! its next request as soon as the last one is answered, for a fixed time. Latencies go into an
//! HDR histogram (microseconds, 3 significant digits) so percentiles need no sample list.
//!
//! Written here rather than driving wrk: the requests must be signed one by one (a distinct
//! CallSid each), and a Rust generator keeps the bench self-contained.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Builds the `n`-th request of connection `connection`.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Request<Full<Bytes>> + Send + Sync>;

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub requests: u64,
    /// Answers that were not 2xx, and connections that failed.
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
}

impl LoadReport {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// A histogram of microseconds from 1 µs to 60 s.
pub fn micros_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, 60_000_000, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("fixed, valid bounds: {e}"),
    }
}

/// Runs `connections` connections to `addr` for `duration`.
pub async fn run(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    make: MakeRequest,
) -> LoadReport {
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|c| tokio::spawn(connection(addr, c, deadline, make.clone())))
        .collect();
    let mut report = LoadReport {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: micros_histogram(),
    };
    for worker in workers {
        let (requests, errors, latency) = match worker.await {
            Ok(result) => result,
            Err(_) => (0, 1, micros_histogram()),
        };
        report.requests += requests;
        report.errors += errors;
        // Same bounds on both sides: adding cannot fail.
        let _ = report.latency.add(&latency);
    }
    report.elapsed = started.elapsed();
    report
}

async fn connection(
    addr: SocketAddr,
    c: usize,
    deadline: Instant,
    make: MakeRequest,
) -> (u64, u64, Histogram<u64>) {
    let mut latency = micros_histogram();
    let (mut requests, mut errors) = (0u64, 0u64);
    let mut n = 0u64;
    // A server may close a connection after any response (gunicorn's sync workers close every
    // one): the next request then goes on a new connection, as wrk does.
    while Instant::now() < deadline {
        let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
            errors += 1;
            // Not a spin against a server that is gone.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
        else {
            errors += 1;
            continue;
        };
        tokio::spawn(conn);
        while Instant::now() < deadline && sender.ready().await.is_ok() {
            let request = make(c, n);
            n += 1;
            let sent = Instant::now();
            let ok = match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status();
                    response.into_body().collect().await.is_ok() && status.is_success()
                }
                Err(_) => false,
            };
            let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
            latency.saturating_record(micros);
            requests += 1;
            if !ok {
                errors += 1;
            }
        }
    }
    (requests, errors, latency)
}
