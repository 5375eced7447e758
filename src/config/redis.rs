//! `[redis]`: where the state is kept.

use secrecy::SecretString;

use super::reader::Raw;

#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// May carry a password, so it is kept secret.
    pub url: SecretString,
    pub key_prefix: String,
}

impl Raw {
    pub(super) fn redis(&mut self) -> Option<RedisSettings> {
        let redis_url = self
            .string("redis", "url")
            .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
        let redis_url = match redis::IntoConnectionInfo::into_connection_info(redis_url.as_str()) {
            Ok(_) => Some(SecretString::from(redis_url)),
            Err(e) => {
                self.problem(
                    "redis.url",
                    format!("not a Redis URL (redis://host:port/db): {e}"),
                );
                None
            }
        };
        let key_prefix = self
            .string("redis", "key_prefix")
            .unwrap_or_else(|| "denwa".into());
        if key_prefix.is_empty() || key_prefix.contains(['{', '}', ' ']) {
            self.problem(
                "redis.key_prefix",
                "must be non-empty and contain no braces or spaces",
            );
        }
        Some(RedisSettings {
            url: redis_url?,
            key_prefix,
        })
    }
}
