//! Building and running the application: the store, the Twilio client, the line, the router and
//! the listener. `build` binds the listener (port 0 works: tests read [`Application::port`]);
//! `run_until` serves until the shutdown future resolves.

use std::future::Future;
use tokio::net::TcpListener;

use denwa_chat::{ApiMeter, ApiService};

use crate::bridges;
use crate::config::Settings;
use crate::config::TwilioSettings;
use crate::line::{self, Line};
use crate::metrics::Metrics;
use crate::routes;
use crate::schedule;
use crate::server;
use crate::store::{Store, StoreError};
use crate::twilio::{TwilioClient, TwilioError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{key}: {source}")]
    Store {
        key: &'static str,
        source: StoreError,
    },
    #[error("twilio: {0}")]
    Twilio(String),
}

/// How long shutdown waits for background work (posting to chat, releasing a speaker lease)
/// once the server has stopped.
const BACKGROUND_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

pub struct Application {
    listener: TcpListener,
    line: Line,
    bridge_routes: axum::Router,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, StartupError> {
        let addr = settings.server.listen;
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| StartupError::Listen { addr, source })?;
        Self::with_listener(settings, listener)
    }

    /// Like [`build`](Self::build), on a listener the caller bound (tests and the demo bind
    /// first, because `server.public_url` must name the port).
    pub fn with_listener(
        settings: Settings,
        listener: std::net::TcpListener,
    ) -> Result<Application, StartupError> {
        Self::with_extra_bridges(settings, listener, |_| Vec::new())
    }

    /// Like [`with_listener`](Self::with_listener), with bridges that `Settings` does not
    /// configure (the demo's console), built once the line exists because they act on it.
    pub fn with_extra_bridges(
        settings: Settings,
        listener: std::net::TcpListener,
        extra: impl FnOnce(&Line) -> Vec<bridges::Built>,
    ) -> Result<Application, StartupError> {
        install_crypto_provider();
        let store = Store::connect(&settings.redis).map_err(|source| StartupError::Store {
            key: settings.redis.target.key(),
            source,
        })?;
        let metrics = Metrics::default();
        let twilio = twilio_client(&settings.twilio, metrics.api_meter(ApiService::Twilio))
            .map_err(|e| StartupError::Twilio(e.to_string()))?;
        let addr = settings.server.listen;
        listener
            .set_nonblocking(true)
            .map_err(|source| StartupError::Listen { addr, source })?;
        let listener = TcpListener::from_std(listener)
            .map_err(|source| StartupError::Listen { addr, source })?;
        let line = Line::new(settings, store, twilio, metrics);
        let extra = extra(&line);
        let bridge_routes = bridges::attach(&line, extra);
        Ok(Application {
            listener,
            line,
            bridge_routes,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn line(&self) -> &Line {
        &self.line
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// (for at most [`server::DRAIN_TIMEOUT`]) and drops the connections that remain.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Err(e) = self.line.store().ping().await {
            // Not fatal: callers still get a polite answer, and the store reconnects by itself.
            // A TLS failure will not mend by itself: said as the configuration fault it is.
            let key = self.line.settings().redis.target.key();
            if e.is_tls() {
                tracing::error!(error = %e, "{key}: TLS with Redis failed (see redis.ca_file); calls will be turned away until it succeeds");
            } else {
                tracing::warn!(error = %e, "{key}: Redis is not reachable yet; calls will be turned away until it is");
            }
        }
        tracing::info!(port = self.port(), public_url = %self.line.settings().server.public_url, "denwa is listening");
        // One shutdown signal, seen by both the server and the sweep.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let line = self.line.clone();
        tokio::spawn(async move {
            shutdown.await;
            // Dials in flight release their leases now, not when the last client has gone.
            line.begin_shutdown();
            let _ = stop.send(true);
        });
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        tokio::spawn(line::sweep(
            self.line.clone(),
            until_stopped(stopped.clone()),
        ));
        // A refresh task per line with a schedule.
        for line in self.line.lines().all() {
            if let Some(settings) = &line.settings.schedule {
                tokio::spawn(schedule::refresh_schedule(
                    self.line.clone(),
                    settings.clone(),
                    line.settings.responders.clone(),
                    until_stopped(stopped.clone()),
                ));
            }
        }
        let max_connections = self.line.settings().server.max_connections;
        // Chat services post webhooks too: their bodies are held to the same limit.
        let bridge_routes = self.bridge_routes.layer(routes::webhook_body_limit());
        let app = routes::observed(
            routes::router(self.line.clone()).merge(bridge_routes),
            &self.line,
        );
        server::serve(self.listener, app, max_connections, until_stopped(stopped)).await;
        // The server has stopped and no request is running. What the last requests started
        // (receipts to post, a dial to release) is finished or given up within its own bound:
        // the drain above and this together stay well under the 10 s an orchestrator allows.
        self.line.finish_background(BACKGROUND_GRACE).await;
        Ok(())
    }
}

/// rustls needs one process-wide crypto provider; ring is the one every dependency agrees on
/// (docs/protocols.md: reqwest would otherwise pick aws-lc-rs and later crates ring, and panic).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The REST client for the configured account and API base, reporting to `meter`.
pub fn twilio_client(
    settings: &TwilioSettings,
    meter: ApiMeter,
) -> Result<TwilioClient, TwilioError> {
    TwilioClient::builder(settings.account_sid.clone(), settings.auth_token.clone())
        .api_base(settings.api_base.clone())
        .meter(meter)
        .build()
}
