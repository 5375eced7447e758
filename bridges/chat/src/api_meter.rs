//! `ApiMeter`: where a client of an outside service (Twilio's REST API, Slack's Web API,
//! Discord's REST API) reports how long each call took and whether it worked, for the line's
//! `/metrics`. The bridges know only this small hook, not the line's metrics crate, so they still
//! depend on nothing but this crate.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The outside services denwa calls: a fixed set, so a metric label over them stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiService {
    Twilio,
    Slack,
    Discord,
}

impl ApiService {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiService::Twilio => "twilio",
            ApiService::Slack => "slack",
            ApiService::Discord => "discord",
        }
    }
}

/// How one API call ended, retries included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiOutcome {
    Ok,
    Error,
}

impl ApiOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiOutcome::Ok => "ok",
            ApiOutcome::Error => "error",
        }
    }
}

/// Receives every finished API call.
pub trait ApiObserver: Send + Sync + 'static {
    fn observe(&self, service: ApiService, outcome: ApiOutcome, elapsed: Duration);
}

/// One service's meter: cheap to clone, and a no-op where nobody listens (a setup command such
/// as `denwa discord register`, a unit test).
#[derive(Clone)]
pub struct ApiMeter {
    service: ApiService,
    observer: Option<Arc<dyn ApiObserver>>,
}

impl std::fmt::Debug for ApiMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiMeter")
            .field("service", &self.service)
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

impl ApiMeter {
    pub fn new(service: ApiService, observer: Arc<dyn ApiObserver>) -> ApiMeter {
        ApiMeter {
            service,
            observer: Some(observer),
        }
    }

    /// A meter that records nothing.
    pub fn unobserved(service: ApiService) -> ApiMeter {
        ApiMeter {
            service,
            observer: None,
        }
    }

    /// Runs `call` (all its attempts) and reports its time and whether it succeeded.
    pub async fn time<T, E>(&self, call: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let started = Instant::now();
        let result = call.await;
        if let Some(observer) = &self.observer {
            let outcome = match result {
                Ok(_) => ApiOutcome::Ok,
                Err(_) => ApiOutcome::Error,
            };
            observer.observe(self.service, outcome, started.elapsed());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Seen(Mutex<Vec<(ApiService, ApiOutcome)>>);

    impl ApiObserver for Seen {
        fn observe(&self, service: ApiService, outcome: ApiOutcome, _: Duration) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push((service, outcome));
            }
        }
    }

    #[tokio::test]
    async fn a_call_is_reported_with_its_outcome() {
        let seen = Arc::new(Seen::default());
        let meter = ApiMeter::new(ApiService::Slack, seen.clone());
        let _ = meter.time(async { Ok::<_, ()>(1) }).await;
        let _ = meter.time(async { Err::<(), _>("no") }).await;
        let _ = ApiMeter::unobserved(ApiService::Slack)
            .time(async { Ok::<_, ()>(()) })
            .await;
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                (ApiService::Slack, ApiOutcome::Ok),
                (ApiService::Slack, ApiOutcome::Error)
            ]
        );
    }
}
