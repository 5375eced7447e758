//! Emulated time, wall-clock dates and resource SIDs.
//!
//! Calls run on *call time*: every duration a real call has (a spoken word, a `<Pause>`, a ring) is
//! expressed in call-seconds and scaled by [`EmulatorConfig::time_scale`](crate::EmulatorConfig) into
//! real time, so a test can run a one-minute call in a second without changing its shape.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Converts call-seconds to real durations and tells how far call time has advanced.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    scale: f64,
    origin: Instant,
}

impl Clock {
    pub(crate) fn new(scale: f64) -> Self {
        // A zero or negative scale would make every wait instant and collapse the ordering the audio
        // model depends on; clamp to a tiny positive value instead of rejecting the config.
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1e-4
        };
        Clock {
            scale,
            origin: Instant::now(),
        }
    }

    /// The real duration of `secs` call-seconds.
    pub(crate) fn dur(&self, secs: f64) -> Duration {
        Duration::from_secs_f64((secs.max(0.0)) * self.scale)
    }

    /// Call-seconds elapsed since the emulator started.
    pub(crate) fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() / self.scale
    }

    /// The tokio instant `secs` call-seconds from now.
    pub(crate) fn deadline(&self, secs: f64) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.dur(secs)
    }
}

/// A new Twilio-shaped SID: two-letter prefix and 32 lowercase hex digits.
pub(crate) fn new_sid(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

/// RFC 2822 date as Twilio writes it in JSON and callbacks: `Tue, 31 Aug 2010 20:36:28 +0000`.
pub(crate) fn rfc2822(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        WD[(days.rem_euclid(7)) as usize],
        d,
        MON[(m - 1) as usize],
        y,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// ISO 8601 / RFC 3339 in UTC with microseconds, as real-time transcription callbacks carry
/// `Timestamp`: `2010-08-31T20:36:28.123456Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm, valid for any date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc2822() {
        // 2010-08-31T20:36:28Z, the date in Twilio's own API examples.
        let t = UNIX_EPOCH + Duration::from_secs(1_283_286_988);
        assert_eq!(rfc2822(t), "Tue, 31 Aug 2010 20:36:28 +0000");
        assert_eq!(rfc2822(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc2822(t), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn formats_rfc3339() {
        let t = UNIX_EPOCH + Duration::from_micros(1_283_286_988_000_042);
        assert_eq!(rfc3339(t), "2010-08-31T20:36:28.000042Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn sids_have_twilio_shape() {
        let sid = new_sid("CA");
        assert_eq!(sid.len(), 34);
        assert!(sid.starts_with("CA"));
        assert!(sid[2..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
