//! `[redis]`: where the state is kept: one Redis (`url`) or a Redis Cluster (`cluster`), over
//! TLS for `rediss://` URLs, trusting `ca_file`'s certificates besides the system's.

use std::path::PathBuf;

use secrecy::{ExposeSecret as _, SecretString};

use super::reader::Raw;

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub target: RedisTarget,
    pub key_prefix: String,
    /// CA certificates trusted for `rediss://` besides the system roots.
    pub ca: Option<CaCertificates>,
}

/// Which Redis holds the state. URLs may carry a password, so they are kept secret.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    Standalone(SecretString),
    /// Seed nodes of a Redis Cluster: the client learns the others (and the slots) from them.
    Cluster(Vec<SecretString>),
}

impl RedisTarget {
    /// The key an operator set to choose this target, for messages about it.
    pub fn key(&self) -> &'static str {
        match self {
            RedisTarget::Standalone(_) => "redis.url",
            RedisTarget::Cluster(_) => "redis.cluster",
        }
    }

    /// Whether the connection is TLS (`rediss://`): every URL is, or none is (checked here).
    pub fn uses_tls(&self) -> bool {
        match self {
            RedisTarget::Standalone(url) => is_tls(url.expose_secret()),
            RedisTarget::Cluster(seeds) => seeds.iter().any(|s| is_tls(s.expose_secret())),
        }
    }
}

/// The PEM text of `redis.ca_file`, read and checked (at least one certificate) at load time.
#[derive(Clone)]
pub struct CaCertificates {
    pub path: PathBuf,
    pub pem: Vec<u8>,
}

impl std::fmt::Debug for CaCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaCertificates")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn is_tls(url: &str) -> bool {
    url.starts_with("rediss://")
}

impl Raw {
    pub(super) fn redis(&mut self) -> Option<RedisSettings> {
        let seeds = self.redis_cluster();
        let redis_url = self.string("redis", "url");
        let key_prefix = self
            .string("redis", "key_prefix")
            .unwrap_or_else(|| "denwa".into());
        if key_prefix.is_empty() || key_prefix.contains(['{', '}', ' ']) {
            self.problem(
                "redis.key_prefix",
                "must be non-empty and contain no braces or spaces",
            );
        }
        let target = match seeds {
            // With seeds, `url` is ignored (it may be left at its value for a standalone Redis).
            Some(seeds) if !seeds.is_empty() => RedisTarget::Cluster(seeds),
            Some(_) => RedisTarget::Standalone(
                self.redis_url(redis_url.unwrap_or_else(|| "redis://127.0.0.1:6379".into()))?,
            ),
            None => return None,
        };
        let ca = self.redis_ca_file(&target)?;
        Some(RedisSettings {
            target,
            key_prefix,
            ca,
        })
    }

    fn redis_url(&mut self, url: String) -> Option<SecretString> {
        match redis::IntoConnectionInfo::into_connection_info(url.as_str()) {
            Ok(_) => Some(SecretString::from(url)),
            Err(e) => {
                self.problem(
                    "redis.url",
                    format!("not a Redis URL (redis://host:port/db): {e}"),
                );
                None
            }
        }
    }

    /// `redis.cluster`: seed URLs, `redis://` or `rediss://` (all alike), host and port each.
    /// None when an entry is bad (the problem names the key).
    fn redis_cluster(&mut self) -> Option<Vec<SecretString>> {
        let entries = self.list("redis", "cluster");
        if self.has_problem("redis", "cluster") {
            return None;
        }
        let mut seeds = Vec::with_capacity(entries.len());
        let mut ok = true;
        for (i, entry) in entries.iter().enumerate() {
            let bad = |why: String| {
                format!(
                    "entry {} is not a seed URL like redis://host:6379: {why}",
                    i + 1
                )
            };
            if !(entry.starts_with("redis://") || is_tls(entry)) {
                self.problem(
                    "redis.cluster",
                    bad("it must start with redis:// or rediss://".into()),
                );
                ok = false;
                continue;
            }
            match redis::IntoConnectionInfo::into_connection_info(entry.as_str()) {
                Ok(_) => seeds.push(SecretString::from(entry.clone())),
                Err(e) => {
                    self.problem("redis.cluster", bad(e.to_string()));
                    ok = false;
                }
            }
        }
        let tls = entries.iter().filter(|e| is_tls(e)).count();
        if ok && tls != 0 && tls != entries.len() {
            self.problem(
                "redis.cluster",
                "mixes redis:// and rediss:// seeds: a cluster is reached over TLS or not at all",
            );
            ok = false;
        }
        ok.then_some(seeds)
    }

    /// `redis.ca_file`: read now, so that a missing or unreadable file is a configuration
    /// problem rather than a failure at the first connection. Some(None) when unset.
    fn redis_ca_file(&mut self, target: &RedisTarget) -> Option<Option<CaCertificates>> {
        let Some(path) = self.string("redis", "ca_file").filter(|p| !p.is_empty()) else {
            return Some(None);
        };
        if !target.uses_tls() {
            // Certificates for a connection that is not TLS would be ignored: refuse, so that
            // nobody believes the connection verified when it is not even encrypted.
            self.problem(
                "redis.ca_file",
                format!("is set, but {} is not a rediss:// (TLS) URL", target.key()),
            );
            return None;
        }
        let pem = match std::fs::read(&path) {
            Ok(pem) => pem,
            Err(e) => {
                self.problem("redis.ca_file", format!("cannot read {path}: {e}"));
                return None;
            }
        };
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let certificates = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>();
        match certificates {
            Ok(c) if !c.is_empty() => Some(Some(CaCertificates {
                path: PathBuf::from(path),
                pem,
            })),
            Ok(_) => {
                self.problem("redis.ca_file", format!("{path} holds no PEM certificate"));
                None
            }
            Err(e) => {
                self.problem(
                    "redis.ca_file",
                    format!("{path} is not PEM certificates: {e}"),
                );
                None
            }
        }
    }
}
