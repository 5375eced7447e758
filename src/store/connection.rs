//! The one connection the store talks through: a standalone Redis (the crate's
//! `ConnectionManager`) or a Redis Cluster (the crate's cluster-async `ClusterConnection`, which
//! follows MOVED/ASK, refreshes its slot map and reconnects by itself). Both are the crate's
//! `ConnectionLike`, so every store step is written once, for either.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, TlsCertificates, Value};
use secrecy::ExposeSecret as _;
use tokio::sync::OnceCell;

use super::trust;
use crate::config::{RedisSettings, RedisTarget};

/// Webhooks must answer Twilio in milliseconds, so a dead Redis has to fail fast rather than
/// hang: short connect and response timeouts, one retry inside a request (the connection still
/// reconnects in the background for the next one).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
const RETRIES: usize = 1;
const MAX_RETRY_DELAY: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub(super) enum Connection {
    Standalone(ConnectionManager),
    Cluster(LazyCluster),
}

/// A cluster connection made at the first request, not at start-up: denwa starts (and answers
/// callers something sensible) while the cluster is down. The crate has no lazy cluster
/// connection; a failed first connection is tried again at the next request.
#[derive(Clone)]
pub(super) struct LazyCluster {
    /// Shared: the store clones its connection for every step.
    client: Arc<ClusterClient>,
    conn: Arc<OnceCell<ClusterConnection>>,
}

impl LazyCluster {
    async fn get(&self) -> RedisResult<ClusterConnection> {
        self.conn
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }
}

impl Connection {
    /// Prepares the connection without waiting for Redis (see [`LazyCluster`]).
    pub(super) fn open(settings: &RedisSettings) -> RedisResult<Connection> {
        let certificates = settings.ca.as_ref().map(|ca| TlsCertificates {
            client_tls: None,
            root_cert: Some(trust::roots_with(&ca.pem)),
        });
        match &settings.target {
            RedisTarget::Standalone(url) => {
                let client = match certificates {
                    Some(certs) => redis::Client::build_with_tls(url.expose_secret(), certs)?,
                    None => redis::Client::open(url.expose_secret())?,
                };
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(RETRIES)
                    .set_max_delay(MAX_RETRY_DELAY);
                Ok(Connection::Standalone(
                    ConnectionManager::new_lazy_with_config(client, config)?,
                ))
            }
            RedisTarget::Cluster(seeds) => {
                let mut builder =
                    ClusterClientBuilder::new(seeds.iter().map(|s| s.expose_secret()))
                        .connection_timeout(CONNECT_TIMEOUT)
                        .response_timeout(RESPONSE_TIMEOUT)
                        .retries(RETRIES as u32)
                        .max_retry_wait(MAX_RETRY_DELAY.as_millis() as u64);
                if let Some(certs) = certificates {
                    builder = builder.certs(certs);
                }
                Ok(Connection::Cluster(LazyCluster {
                    client: Arc::new(builder.build()?),
                    conn: Arc::new(OnceCell::new()),
                }))
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Standalone(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => Box::pin(async move {
                let mut conn = c.get().await?;
                conn.req_packed_command(cmd).await
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Standalone(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => Box::pin(async move {
                let mut conn = c.get().await?;
                conn.req_packed_commands(pipeline, offset, count).await
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Standalone(c) => c.get_db(),
            // A cluster has database 0 only.
            Connection::Cluster(_) => 0,
        }
    }
}
