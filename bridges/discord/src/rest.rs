//! The REST client: `Authorization: Bot <token>`, JSON bodies (serenity's builders), bounded
//! retries.
//!
//! Rate limits: a 429 is retried after its `retry_after` (seconds, in the JSON body; the
//! `Retry-After` header if the body has none), and a response saying a bucket is used up
//! (`X-RateLimit-Remaining: 0`, `X-RateLimit-Reset-After`) holds the next request on that route
//! until it resets; a global limit (`X-RateLimit-Global` or `"global": true`) holds every route.
//! The buckets are process-local: each replica honours what Discord tells it, which is how
//! Discord meters too. Every wait is bounded ([`MAX_WAIT`]) and so is the number of tries
//! ([`MAX_ATTEMPTS`]): a chat service that keeps refusing must not hold a task for ever.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use denwa_chat::ApiMeter;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Tries per request, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
/// The longest we wait for a rate limit to reset before giving up on the request.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// One attempt's timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first back-off after a 5xx or a connection error; doubled each time.
const BACKOFF: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("discord.api_base {0:?} is not a usable URL")]
    Base(String),
    #[error("the bot token cannot be sent as a header")]
    Token,
    #[error("{method} {route}: Discord answered {status}: {message}")]
    Status {
        method: Method,
        route: String,
        status: u16,
        message: String,
    },
    #[error("{method} {route}: rate limited for {wait:?}, longer than denwa waits")]
    RateLimited {
        method: Method,
        route: String,
        wait: Duration,
    },
    #[error("{method} {route}: {message}")]
    Transport {
        method: Method,
        route: String,
        message: String,
    },
    #[error("{method} {route}: unexpected answer: {message}")]
    Decode {
        method: Method,
        route: String,
        message: String,
    },
}

impl RestError {
    /// The HTTP status Discord answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The body of a 429.
#[derive(serde::Deserialize, Default)]
struct RateLimitBody {
    retry_after: Option<f64>,
    #[serde(default)]
    global: bool,
}

/// Discord's error body.
#[derive(serde::Deserialize)]
struct ErrorBody {
    message: Option<String>,
    code: Option<i64>,
}

pub struct Rest {
    http: reqwest::Client,
    /// `<api_base>/api/v10`.
    base: String,
    auth: HeaderValue,
    /// Route key -> not before.
    buckets: Mutex<HashMap<String, Instant>>,
    global: Mutex<Option<Instant>>,
    meter: ApiMeter,
}

impl Rest {
    pub fn new(api_base: &str, token: &SecretString, meter: ApiMeter) -> Result<Rest, RestError> {
        let trimmed = api_base.trim().trim_end_matches('/');
        if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
            return Err(RestError::Base(api_base.into()));
        }
        let mut auth = HeaderValue::from_str(&format!("Bot {}", token.expose_secret().trim()))
            .map_err(|_| RestError::Token)?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        // Discord asks for this form of User-Agent.
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!(
                "DiscordBot (https://github.com/denwa, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            )),
        );
        // reqwest is built without a crypto provider and panics if the process has none; denwa
        // installs ring at start-up, and ring is what this falls back to (docs/protocols.md).
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .map_err(|e| RestError::Base(format!("{api_base}: {e}")))?;
        Ok(Rest {
            http,
            base: format!("{trimmed}/api/v10"),
            auth,
            buckets: Mutex::new(HashMap::new()),
            global: Mutex::new(None),
            meter,
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RestError> {
        self.send(Method::GET, path, None::<&()>).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, RestError> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, RestError> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, RestError> {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// Sends `method path` (a path under `/api/v10`, e.g. `/channels/1/messages`) with a JSON
    /// body, retrying rate limits, 5xx answers and connection failures a bounded number of
    /// times. A 204 decodes as `()` (or any type that accepts `null`).
    pub async fn send<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, RestError> {
        self.meter.time(self.attempts(method, path, body)).await
    }

    async fn attempts<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, RestError> {
        let route = route_key(&method, path);
        let url = format!("{}{}", self.base, path);
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| RestError::Decode {
                method: method.clone(),
                route: route.clone(),
                message: e.to_string(),
            })?;
        let mut backoff = BACKOFF;
        let mut attempt = 1;
        loop {
            self.wait_for_limits(&method, &route).await?;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(AUTHORIZATION, self.auth.clone());
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let last = attempt >= MAX_ATTEMPTS;
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    // A request that never connected was not applied: always safe to repeat.
                    // One that timed out may have been: repeat only what is idempotent.
                    let retry = e.is_connect() || (e.is_timeout() && method != Method::POST);
                    if retry && !last {
                        tracing::debug!(%method, %route, error = %e, "retrying a Discord request");
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                        attempt += 1;
                        continue;
                    }
                    return Err(RestError::Transport {
                        method,
                        route,
                        message: e.to_string(),
                    });
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            self.remember_bucket(&route, &headers);
            let bytes = response.bytes().await.unwrap_or_default();

            if status == StatusCode::TOO_MANY_REQUESTS {
                let parsed: RateLimitBody = serde_json::from_slice(&bytes).unwrap_or_default();
                let wait = parsed
                    .retry_after
                    .or_else(|| header_f64(&headers, "retry-after"))
                    .or_else(|| header_f64(&headers, "x-ratelimit-reset-after"))
                    .map(secs)
                    .unwrap_or(Duration::from_secs(1));
                let global = parsed.global || headers.contains_key("x-ratelimit-global");
                tracing::info!(%method, %route, ?wait, global, "Discord rate limit; waiting");
                if wait > MAX_WAIT || last {
                    return Err(RestError::RateLimited {
                        method,
                        route,
                        wait,
                    });
                }
                self.hold(&route, global, wait);
                attempt += 1;
                continue;
            }
            if status.is_server_error() && !last {
                tracing::debug!(%method, %route, %status, "retrying a Discord request");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
                continue;
            }
            if !status.is_success() {
                let message = serde_json::from_slice::<ErrorBody>(&bytes)
                    .ok()
                    .map(|b| match (b.message, b.code) {
                        (Some(m), Some(c)) => format!("{m} (code {c})"),
                        (Some(m), None) => m,
                        (None, _) => String::new(),
                    })
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
                return Err(RestError::Status {
                    method,
                    route,
                    status: status.as_u16(),
                    message,
                });
            }
            let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(bytes).map_err(|e| RestError::Decode {
                method,
                route,
                message: e.to_string(),
            });
        }
    }

    async fn wait_for_limits(&self, method: &Method, route: &str) -> Result<(), RestError> {
        let now = Instant::now();
        let global = self.global.lock().ok().and_then(|g| *g);
        let bucket = self.buckets.lock().ok().and_then(|b| b.get(route).copied());
        let until = global.into_iter().chain(bucket).max();
        if let Some(until) = until
            && until > now
        {
            let wait = until - now;
            if wait > MAX_WAIT {
                return Err(RestError::RateLimited {
                    method: method.clone(),
                    route: route.into(),
                    wait,
                });
            }
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// `X-RateLimit-Remaining: 0` means the next request on this route would be refused until
    /// the bucket resets: hold it back until then.
    fn remember_bucket(&self, route: &str, headers: &HeaderMap) {
        let remaining = header_f64(headers, "x-ratelimit-remaining");
        let reset_after = header_f64(headers, "x-ratelimit-reset-after");
        if let (Some(remaining), Some(reset_after)) = (remaining, reset_after)
            && remaining <= 0.0
        {
            self.hold(route, false, secs(reset_after));
        }
    }

    fn hold(&self, route: &str, global: bool, wait: Duration) {
        let until = Instant::now() + wait;
        if global {
            if let Ok(mut g) = self.global.lock() {
                *g = Some(g.map_or(until, |g| g.max(until)));
            }
        } else if let Ok(mut b) = self.buckets.lock() {
            b.retain(|_, t| *t > Instant::now());
            let entry = b.entry(route.to_owned()).or_insert(until);
            *entry = (*entry).max(until);
        }
    }
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.0, 86_400.0))
}

/// The rate-limit route of a request: Discord meters per route and per "major parameter"
/// (channel, guild, webhook), so those ids stay and every other id becomes `:id`. Also what
/// errors and logs name, so an interaction token (a webhook path's secret) never shows.
pub fn route_key(method: &Method, path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut previous = "";
    let mut webhook_part = 0;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        let major = matches!(previous, "channels" | "guilds");
        if previous == "webhooks" {
            webhook_part = 1;
        } else if webhook_part == 1 {
            webhook_part = 2;
        }
        if webhook_part == 2 {
            // The interaction token: secret, and a major parameter of its own.
            out.push_str(&short_hash(segment));
            webhook_part = 3;
        } else if major || webhook_part == 1 || !segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(segment);
        } else {
            out.push_str(":id");
        }
        previous = segment;
    }
    format!("{method} {out}")
}

/// A short, stable stand-in for a secret path segment.
fn short_hash(s: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    format!("token-{:08x}", h.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_keep_major_parameters_and_hide_tokens() {
        assert_eq!(
            route_key(&Method::POST, "/channels/123/messages"),
            "POST /channels/123/messages"
        );
        assert_eq!(
            route_key(&Method::PATCH, "/channels/123/messages/456"),
            "PATCH /channels/123/messages/:id"
        );
        assert_eq!(
            route_key(&Method::GET, "/guilds/9/members/77"),
            "GET /guilds/9/members/:id"
        );
        let hook = route_key(&Method::POST, "/webhooks/42/aW50ZXJhY3Rpb246c2VjcmV0");
        assert!(hook.starts_with("POST /webhooks/42/token-"), "{hook}");
        assert!(!hook.contains("aW50"), "{hook}");
        let original = route_key(
            &Method::PATCH,
            "/webhooks/42/aW50ZXJhY3Rpb246c2VjcmV0/messages/@original",
        );
        assert!(original.ends_with("/messages/@original"), "{original}");
        assert!(!original.contains("aW50"), "{original}");
    }
}
