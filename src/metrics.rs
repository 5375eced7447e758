//! What `/metrics` shows, in a prometheus-client [`Registry`] of this app instance's own: several
//! replicas in one process (the tests) keep separate numbers. Kept by the line, its speakers, its
//! routes (the HTTP layer, [`crate::routes`]) and the outside services' clients (through
//! [`ApiMeter`]).
//!
//! Every label takes its values from a fixed set (a matched route of the router, a status
//! class, a service, a reason): nothing per call, per number or per message.

use std::sync::Arc;
use std::time::Duration;

use denwa_chat::{ApiMeter, ApiObserver, ApiOutcome, ApiService, ChatBridge};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Counters, gauges and histograms exposed at `/metrics`.
pub struct Metrics {
    registry: Registry,
    pub calls_answered: Counter,
    pub calls_refused_store_down: Counter,
    /// Calls from `line.blocked_callers`, refused unanswered.
    pub calls_blocked: Counter,
    /// Calls outside `[line.hours]`, sent straight to voicemail.
    pub calls_after_hours: Counter,
    /// The caller's final utterances kept (live transcription), each once.
    pub caller_utterances: Counter,
    /// Live transcripts that stopped while their call was on (error or stop), each call once.
    pub transcripts_unavailable: Counter,
    pub messages_queued: Counter,
    /// Calls the sweep looked at (see line::sweep): grows with the calls needing attention.
    pub sweep_looks: Counter,
    pub messages_spoken: Counter,
    pub messages_failed: Counter,
    pub speaker_legs: Counter,
    pub speaker_dial_failures: Counter,
    pub webhooks_rejected: Counter,
    pub bridge_errors: Counter,
    /// Conference announcements asked of Twilio, by whether Twilio took them.
    announcements: Family<OutcomeLabel, Counter>,
    requests: Family<RequestLabels, Histogram>,
    rejected: Family<ReasonLabel, Counter>,
    api: Arc<ApiLatency>,
    /// From a message being stored to the first `<Say>` (or announcement) that carries it.
    speech_delay: Histogram,
    /// Messages waiting in the call's queue, seen each time one is accepted.
    queue_depth: Histogram,
    bridge_healthy: Family<BridgeLabel, Gauge>,
    bridge_unannounced: Family<BridgeLabel, Gauge>,
    /// Refreshes of a line's on-call schedule feed that failed on this replica.
    schedule_refresh_failures: Family<LineLabel, Counter>,
    /// When a line's schedule feed last loaded (any replica: read from the store), Unix
    /// seconds; 0 if it never did.
    schedule_last_success: Family<LineLabel, Gauge>,
    /// 1 while a line's schedule in use is stale (its last refresh failed, or none succeeded
    /// lately).
    schedule_stale: Family<LineLabel, Gauge>,
    /// Escalation steps taken, by line and why: each move once, whichever replica made it.
    escalation_steps: Family<EscalationLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The router's route pattern (`/api/calls/{id}/say`), never the request's own path.
    route: String,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: &'static str,
    outcome: &'static str,
}

/// A line's id: from the configuration, a fixed set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LineLabel {
    line: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EscalationLabels {
    line: String,
    step: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BridgeLabel {
    bridge: &'static str,
}

/// Why a request was turned away, as `denwa_requests_rejected_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A webhook whose signature did not check out (Twilio, Slack, Discord).
    BadSignature,
    /// `/api` without the right bearer token.
    Unauthorized,
    /// A body over the route's limit.
    TooLarge,
    /// `speech.max_queued`.
    QueueFull,
    /// `speech.max_per_minute`.
    RateLimited,
    /// The store was unreachable.
    Unavailable,
}

impl Rejection {
    fn as_str(self) -> &'static str {
        match self {
            Rejection::BadSignature => "bad_signature",
            Rejection::Unauthorized => "unauthorized",
            Rejection::TooLarge => "too_large",
            Rejection::QueueFull => "queue_full",
            Rejection::RateLimited => "rate_limited",
            Rejection::Unavailable => "unavailable",
        }
    }
}

/// Latency of the outside services' APIs; shared with their clients through [`ApiMeter`].
struct ApiLatency(Family<ServiceLabels, Histogram>);

impl ApiObserver for ApiLatency {
    fn observe(&self, service: ApiService, outcome: ApiOutcome, elapsed: Duration) {
        self.0
            .get_or_create(&ServiceLabels {
                service: service.as_str(),
                outcome: outcome.as_str(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

/// Seconds, 5 ms to about 40 s: a webhook answered from Redis, and an API call retried with
/// backoff.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let calls_answered = counter(
            "denwa_calls_answered",
            "Calls answered and put in a conference",
        );
        let calls_refused_store_down = counter(
            "denwa_calls_refused",
            "Calls turned away because the store was unreachable",
        );
        let calls_blocked = counter(
            "denwa_calls_blocked",
            "Calls from line.blocked_callers, refused unanswered",
        );
        let calls_after_hours = counter(
            "denwa_calls_after_hours",
            "Calls outside line.hours, sent straight to voicemail",
        );
        let caller_utterances = counter(
            "denwa_caller_utterances",
            "The caller's final utterances kept from live transcription",
        );
        let transcripts_unavailable = counter(
            "denwa_transcripts_unavailable",
            "Live transcripts that stopped while their call was on",
        );
        let messages_queued = counter("denwa_messages_queued", "Messages accepted for speaking");
        let sweep_looks = counter(
            "denwa_sweep_looks",
            "Active calls the sweep read because they were due for a look",
        );
        let messages_spoken = counter("denwa_messages_spoken", "Messages confirmed spoken");
        let messages_failed = counter(
            "denwa_messages_failed",
            "Messages that will never be spoken",
        );
        let speaker_legs = counter(
            "denwa_speaker_legs",
            "Speaker call legs placed (each costs a call)",
        );
        let speaker_dial_failures = counter(
            "denwa_speaker_dial_failures",
            "Speaker legs Twilio would not place",
        );
        let webhooks_rejected = counter(
            "denwa_webhooks_rejected",
            "Twilio webhooks rejected for a bad signature",
        );
        let bridge_errors = counter("denwa_bridge_errors", "Chat bridge failures");
        let announcements = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "denwa_announcements",
            "Conference announcements asked of Twilio (outcome: ok, refused)",
            announcements.clone(),
        );
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> _,
        );
        registry.register(
            "denwa_http_request_duration_seconds",
            "Time to answer an HTTP request (webhooks, API), by route and status class",
            requests.clone(),
        );
        let rejected = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "denwa_requests_rejected",
            "Requests turned away, by reason",
            rejected.clone(),
        );
        let api = Family::<ServiceLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> _,
        );
        registry.register(
            "denwa_api_request_duration_seconds",
            "Time of a call to Twilio, Slack or Discord (retries included), by service and outcome",
            api.clone(),
        );
        // 100 ms to about 7 minutes: a speaker leg is dialled (seconds) or a queue waits its turn.
        let speech_delay = Histogram::new(exponential_buckets(0.1, 2.0, 13));
        registry.register(
            "denwa_speech_delay_seconds",
            "From a message being accepted to its speech starting",
            speech_delay.clone(),
        );
        // Up to speech.max_queued's own maximum (10000).
        let queue_depth = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        registry.register(
            "denwa_queue_depth",
            "Messages waiting in a call's queue when one more is accepted",
            queue_depth.clone(),
        );
        let bridge_healthy = Family::<BridgeLabel, Gauge>::default();
        registry.register(
            "denwa_bridge_healthy",
            "1 if the chat bridge could post its last announcement",
            bridge_healthy.clone(),
        );
        let bridge_unannounced = Family::<BridgeLabel, Gauge>::default();
        registry.register(
            "denwa_bridge_unannounced_calls",
            "Calls the chat bridge could not announce",
            bridge_unannounced.clone(),
        );
        let schedule_refresh_failures = Family::<LineLabel, Counter>::default();
        registry.register(
            "denwa_schedule_refresh_failures",
            "Refreshes of the on-call schedule's feed that failed (the last good copy stayed in use)",
            schedule_refresh_failures.clone(),
        );
        let schedule_last_success = Family::<LineLabel, Gauge>::default();
        registry.register(
            "denwa_schedule_last_success_timestamp_seconds",
            "When the on-call schedule's feed last loaded, Unix seconds (0: never)",
            schedule_last_success.clone(),
        );
        let schedule_stale = Family::<LineLabel, Gauge>::default();
        registry.register(
            "denwa_schedule_stale",
            "1 while the on-call schedule in use is stale (its refreshes fail)",
            schedule_stale.clone(),
        );
        let escalation_steps = Family::<EscalationLabels, Counter>::default();
        registry.register(
            "denwa_escalation_steps",
            "Escalation steps by line: a level rung (first, timed_out, passed, nobody_reachable), \
             accepted, exhausted (the last level passed: voicemail)",
            escalation_steps.clone(),
        );
        Metrics {
            registry,
            calls_answered,
            calls_refused_store_down,
            calls_blocked,
            calls_after_hours,
            caller_utterances,
            transcripts_unavailable,
            messages_queued,
            sweep_looks,
            messages_spoken,
            messages_failed,
            speaker_legs,
            speaker_dial_failures,
            webhooks_rejected,
            bridge_errors,
            announcements,
            requests,
            rejected,
            api: Arc::new(ApiLatency(api)),
            speech_delay,
            queue_depth,
            bridge_healthy,
            bridge_unannounced,
            schedule_refresh_failures,
            schedule_last_success,
            schedule_stale,
            escalation_steps,
        }
    }
}

impl Metrics {
    /// The meter a client of `service` reports its calls to.
    pub fn api_meter(&self, service: ApiService) -> ApiMeter {
        ApiMeter::new(service, self.api.clone())
    }

    /// One HTTP request answered: `route` is the matched route pattern (or `unmatched`).
    pub fn request_answered(&self, route: &str, status: u16, elapsed: Duration) {
        let outcome = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                outcome,
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn rejected(&self, reason: Rejection) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// A conference announcement asked of Twilio: taken, or refused.
    pub fn announcement(&self, taken: bool) {
        let outcome = if taken { "ok" } else { "refused" };
        self.announcements
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// A refresh of `line`'s schedule feed failed here.
    pub fn schedule_refresh_failed(&self, line: &str) {
        self.schedule_refresh_failures
            .get_or_create(&LineLabel { line: line.into() })
            .inc();
    }

    /// `line`'s schedule as the store has it: last loaded (Unix s, 0 never), and whether stale.
    pub fn schedule_status(&self, line: &str, loaded_at_secs: i64, stale: bool) {
        let label = LineLabel { line: line.into() };
        self.schedule_last_success
            .get_or_create(&label)
            .set(loaded_at_secs);
        self.schedule_stale
            .get_or_create(&label)
            .set(i64::from(stale));
    }

    /// An escalation step on `line`: `step` is one of a fixed set (see the line's escalation).
    pub fn escalation_step(&self, line: &str, step: &'static str) {
        self.escalation_steps
            .get_or_create(&EscalationLabels {
                line: line.into(),
                step,
            })
            .inc();
    }

    pub fn speech_started(&self, waited: Duration) {
        self.speech_delay.observe(waited.as_secs_f64());
    }

    pub fn queue_depth(&self, waiting: u64) {
        self.queue_depth.observe(waiting as f64);
    }

    /// The exposition text (OpenMetrics), with the bridges' health as of now.
    pub fn render(&self, bridges: &[Arc<dyn ChatBridge>]) -> String {
        for bridge in bridges {
            let label = BridgeLabel {
                bridge: bridge.name(),
            };
            let status = bridge.status();
            self.bridge_healthy
                .get_or_create(&label)
                .set(i64::from(status.healthy));
            self.bridge_unannounced
                .get_or_create(&label)
                .set(i64::try_from(status.unannounced_calls).unwrap_or(i64::MAX));
        }
        let mut body = String::new();
        // Writing into a String cannot fail; an encoding error would be a metric's own bug.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &self.registry) {
            tracing::error!(error = %e, "could not encode the metrics");
        }
        body
    }
}
