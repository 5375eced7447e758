//! Fault injection for the REST API: Twilio answering 429, 500 or 503, not answering at all, or
//! answering late, for the next few requests or a share of them, optionally only on some paths.
//!
//! Twilio documents each of these: 429 (error 20429) is "never processed and is always safe to
//! retry"; a 500 (20500) on a `POST` that creates something may have created it all the same;
//! 503 (20503) asks for "exponential back-off". A test plans the outage; the emulator answers as
//! Twilio would during it.

use std::time::Duration;

/// What a request hit by a [`FaultPlan`] gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestFault {
    /// `429 Too Many Requests`, error 20429, with `Retry-After: <seconds>` when given. Nothing is
    /// done.
    TooManyRequests { retry_after: Option<u64> },
    /// `500 Internal Server Error`, error 20500. Nothing is done.
    InternalError,
    /// `500 Internal Server Error`, error 20500, *after* the request took effect (the call is
    /// placed, the announcement plays): the ambiguous 500 Twilio warns about.
    InternalErrorAfterActing,
    /// `503 Service Unavailable`, error 20503. Nothing is done.
    Unavailable,
    /// No answer at all: the request is held until the client gives up, and nothing is done.
    /// [`RestRequest::status`](crate::RestRequest) logs it as 0.
    NoAnswer,
    /// Handled normally, after this long (a slow moment at Twilio's edge). Adds to any other
    /// fault the same request gets.
    Delay(Duration),
}

/// Which requests get a [`RestFault`]: by default every request, until
/// [`Emulator::clear_rest_faults`](crate::Emulator::clear_rest_faults).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    fault: RestFault,
    method: Option<String>,
    path_suffix: Option<String>,
    times: Option<u32>,
    share: f64,
    /// Requests that matched so far (the share is spread over them).
    matched: u64,
    /// Requests that got the fault so far.
    applied: u32,
}

impl FaultPlan {
    pub fn new(fault: RestFault) -> Self {
        FaultPlan {
            fault,
            method: None,
            path_suffix: None,
            times: None,
            share: 1.0,
            matched: 0,
            applied: 0,
        }
    }

    /// Only requests with this method (`GET`, `POST`, `DELETE`).
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose path ends with `suffix`, e.g. `/Calls.json` (placing a call, or
    /// listing calls: add [`FaultPlan::method`] to tell them apart).
    pub fn path(mut self, suffix: &str) -> Self {
        self.path_suffix = Some(suffix.to_string());
        self
    }

    /// Only the next `n` requests that get the fault; then the plan is spent.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Only this share (0 to 1) of the matching requests, spread evenly and reproducibly: 0.5
    /// hits every second one, 0.25 every fourth.
    pub fn share(mut self, share: f64) -> Self {
        self.share = share.clamp(0.0, 1.0);
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_suffix
                .as_deref()
                .is_none_or(|s| path.ends_with(s))
    }

    fn spent(&self) -> bool {
        self.times.is_some_and(|n| self.applied >= n)
    }

    /// Counts a matching request; whether it gets the fault. The n-th matching request gets it
    /// when `floor(n * share)` grows: exactly `share` of them, evenly spread, no randomness.
    fn fires(&mut self) -> bool {
        self.matched += 1;
        let before = ((self.matched - 1) as f64 * self.share).floor();
        let now = (self.matched as f64 * self.share).floor();
        if now > before {
            self.applied += 1;
            true
        } else {
            false
        }
    }
}

/// The plans in force, in the order they were made.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    plans: Vec<FaultPlan>,
}

/// What one request gets: a delay first, then a fault or its normal handling.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub delay: Duration,
    pub fault: Option<RestFault>,
}

impl Faults {
    pub(crate) fn add(&mut self, plan: FaultPlan) {
        self.plans.push(plan);
    }

    pub(crate) fn clear(&mut self) {
        self.plans.clear();
    }

    /// Replaces every `Delay` plan by one delaying every request by `delay` (none for zero).
    pub(crate) fn set_delay(&mut self, delay: Duration) {
        self.plans
            .retain(|p| !matches!(p.fault, RestFault::Delay(_)));
        if !delay.is_zero() {
            self.plans.push(FaultPlan::new(RestFault::Delay(delay)));
        }
    }

    /// The verdict for a request: every delay plan that fires adds its delay; the first other
    /// plan that fires decides the fault. Spent plans are dropped.
    pub(crate) fn judge(&mut self, method: &str, path: &str) -> Verdict {
        let mut verdict = Verdict::default();
        for plan in &mut self.plans {
            if verdict.fault.is_some() && !matches!(plan.fault, RestFault::Delay(_)) {
                continue;
            }
            if !plan.matches(method, path) || !plan.fires() {
                continue;
            }
            match &plan.fault {
                RestFault::Delay(d) => verdict.delay += *d,
                other => verdict.fault = Some(other.clone()),
            }
        }
        self.plans.retain(|p| !p.spent());
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(faults: &mut Faults, method: &str, path: &str, n: usize) -> Vec<bool> {
        (0..n)
            .map(|_| faults.judge(method, path).fault.is_some())
            .collect()
    }

    #[test]
    fn a_share_is_spread_evenly_and_times_bounds_it() {
        let mut faults = Faults::default();
        faults.add(FaultPlan::new(RestFault::Unavailable).share(0.5).times(2));
        assert_eq!(
            hits(&mut faults, "POST", "/x/Calls.json", 6),
            [false, true, false, true, false, false]
        );
    }

    #[test]
    fn method_and_path_narrow_a_plan_and_delays_add_up() {
        let mut faults = Faults::default();
        faults.add(FaultPlan::new(RestFault::Delay(Duration::from_millis(5))));
        faults.add(
            FaultPlan::new(RestFault::InternalError)
                .method("post")
                .path("/Calls.json"),
        );
        faults.set_delay(Duration::from_millis(7));
        let v = faults.judge("GET", "/a/Calls.json");
        assert_eq!(v.fault, None);
        assert_eq!(v.delay, Duration::from_millis(7));
        let v = faults.judge("POST", "/a/Calls.json");
        assert_eq!(v.fault, Some(RestFault::InternalError));
        assert_eq!(v.delay, Duration::from_millis(7));
        assert_eq!(faults.judge("POST", "/a/Calls/CA1.json").fault, None);
    }
}
