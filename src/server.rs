//! The HTTP server: how connections are taken, read and let go, so that slow or idle clients can
//! neither pile up nor hold a shutdown.
//!
//! - At most `server.max_connections` connections are served at once. Beyond that the server
//!   stops accepting: new connections wait in the kernel's listen backlog until one closes,
//!   instead of each costing a task and buffers.
//! - A request's head must arrive within [`HEADER_READ_TIMEOUT`]; hyper restarts the same
//!   deadline when a kept-alive connection goes idle, so it is the idle timeout too. A body that
//!   stops arriving for [`BODY_READ_TIMEOUT`] is abandoned (400).
//! - On shutdown the listener is closed, in-flight requests get [`DRAIN_TIMEOUT`] to finish, and
//!   whatever connections remain are then dropped: a client cannot keep the process alive.
//!
//! hyper's HTTP/1 server and hyper-util's [`GracefulShutdown`] do the work; `axum::serve` offers
//! neither a header deadline nor a connection cap, which is why denwa does not use it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// How long a client has to send a request's head, from connecting or from the end of its
/// previous response. Twilio and the chat services send at once; 5 s is a slow network's worth,
/// and short enough that half-sent requests cannot hold connections for long.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request body may stall between two pieces before it is abandoned.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long in-flight requests get to finish on shutdown. Webhooks answer in milliseconds; 5 s
/// leaves room, within the 10 s an orchestrator is promised, for the work the line waits for
/// after the server has stopped.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause after an accept error that is not the peer's (out of file descriptors): accepting
/// again at once would only spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How often "every connection is busy" may be logged: under a flood it would be every accept.
const BUSY_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Serves `app` on `listener`, at most `max_connections` at a time, until `shutdown` resolves;
/// then drains for at most [`DRAIN_TIMEOUT`] and drops the connections that remain.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
) {
    let app = app.layer(RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let slots = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut warned_busy: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if warned_busy.is_none_or(|at| at.elapsed() > BUSY_WARNING_EVERY) {
                    warned_busy = Some(Instant::now());
                    tracing::warn!(
                        max_connections,
                        "every connection is busy (server.max_connections); new ones wait"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    if !peer_gave_up(&e) {
                        tracing::warn!(error = %e, "cannot accept connections");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Finished connections are collected here, so the set stays as small as the open ones.
        while connections.try_join_next().is_some() {}
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            // Header timeouts and clients that vanish end here: routine, not worth a warning.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
            drop(slot);
        });
    }
    // New connections are refused from here on.
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
    if drained.is_err() {
        while connections.try_join_next().is_some() {}
        tracing::warn!(
            connections = connections.len(),
            drain_secs = DRAIN_TIMEOUT.as_secs(),
            "closing connections that did not finish within the drain"
        );
    }
    connections.shutdown().await;
}

/// Accept errors about one connection that the peer already gave up on.
fn peer_gave_up(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused
    )
}
