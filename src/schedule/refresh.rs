//! Keeping a line's rota fresh in the store. Every replica ticks; the one that takes the lease
//! (held for one refresh period) reads the feed, so the feed is read about once a period
//! whatever the number of replicas, and a replica that dies only delays the next refresh by
//! what is left of its lease. A failed refresh leaves the last good rota in place.

use std::time::Duration;

use chrono::Utc;

use super::feed::FeedClient;
use super::{Freshness, Rota};
use crate::config::{Responder, ScheduleSettings};
use crate::domain::now_ms;
use crate::line::Line;

/// How far ahead a refresh expands the feed: a feed that cannot be read for this long stops
/// naming anyone, and the fallback responders are rung.
const HORIZON: chrono::Duration = chrono::Duration::days(14);

/// Keeps the schedule `settings` of a line whose directory is `directory` fresh, until
/// `shutdown` resolves. One task per line with a schedule.
pub async fn refresh_schedule(
    line: Line,
    settings: ScheduleSettings,
    directory: Vec<Responder>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let feed = match FeedClient::new() {
        Ok(feed) => feed,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the schedule's HTTP client: the fallback responders will be rung");
            return;
        }
    };
    let token = format!("{:016x}", rand::random::<u64>());
    // Often enough that a lapsed lease is taken up within a fifth of a period (and the shared
    // status mirrored into this replica's metrics), never more than once a second.
    let every = (settings.refresh / 5).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        match line
            .store()
            .take_schedule_lease(&settings.line_id, &token, settings.refresh)
            .await
        {
            Ok(true) => refresh_once(&line, &settings, &directory, &feed).await,
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "cannot take the schedule's refresh lease"),
        }
        mirror_status(&line, &settings).await;
    }
}

/// Reads the feed and stores its rota, or records why not (the last good rota stays).
async fn refresh_once(
    line: &Line,
    settings: &ScheduleSettings,
    directory: &[Responder],
    feed: &FeedClient,
) {
    let started = now_ms();
    let rota = match feed.fetch(&settings.source).await {
        Ok(text) => {
            let directory = directory.to_vec();
            // Parsing and expanding recurrences is CPU work (bounded, see `rota`): off the
            // runtime's threads.
            tokio::task::spawn_blocking(move || {
                let now = Utc::now();
                Rota::from_ics(&text, &directory, now, now + HORIZON).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("the feed could not be read: {e}")))
        }
        Err(e) => Err(e.to_string()),
    };
    let store = line.store();
    match rota {
        Ok(rota) => {
            tracing::info!(shifts = rota.shifts.len(), "on-call schedule refreshed");
            if let Err(e) = store
                .schedule_loaded(&settings.line_id, &rota, started)
                .await
            {
                tracing::warn!(error = %e, "cannot keep the refreshed schedule");
            }
        }
        Err(reason) => {
            line.metrics().schedule_refresh_failed(&settings.line_id);
            tracing::warn!(reason = %reason, "on-call schedule refresh failed: the last good copy stays in use");
            if let Err(e) = store
                .schedule_failed(&settings.line_id, &reason, started)
                .await
            {
                tracing::warn!(error = %e, "cannot record a failed schedule refresh");
            }
        }
    }
}

/// Every replica shows the shared schedule's state in its own `/metrics`.
async fn mirror_status(line: &Line, settings: &ScheduleSettings) {
    let Ok(status) = line.store().schedule_status(&settings.line_id).await else {
        return;
    };
    let fresh = Freshness::judge(&status, settings.refresh, now_ms()).is_ok();
    line.metrics().schedule_status(
        &settings.line_id,
        status.loaded_at.map_or(0, |ms| (ms / 1000) as i64),
        !fresh,
    );
}
