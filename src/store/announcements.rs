//! The announce strategy's marks: which turn Twilio fetched, and which announcement an
//! `announcement-end` is about.
//!
//! Twilio's announcement events name the conference, not the announcement (and Twilio may send
//! one twice, or late). A call has at most one announcement in flight, its announce leg's current
//! turn, so an event is about that one; the SequenceNumber tells a repeat.

use redis::AsyncCommands as _;

use super::{Store, StoreResult, scripts};
use crate::domain::{CallId, ConferenceSid, LineId};

/// What an announcement event settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnouncementEnd {
    /// Turn `turn` of announce leg `leg` was fetched and played. `line` is the call's (read in
    /// the same step: the next announcement speaks in its voice).
    Heard {
        leg: String,
        turn: u64,
        line: Option<LineId>,
    },
    /// Turn `turn` of `leg` ended without Twilio fetching its document: nothing of it was said.
    Unheard {
        leg: String,
        turn: u64,
        line: Option<LineId>,
    },
    /// Nothing of the call's: no announcement in flight, a repeat, or another conference.
    None,
}

impl AnnouncementEnd {
    /// The line of the call the announcement was in, when there was one.
    pub fn line(&self) -> Option<&LineId> {
        match self {
            AnnouncementEnd::Heard { line, .. } | AnnouncementEnd::Unheard { line, .. } => {
                line.as_ref()
            }
            AnnouncementEnd::None => None,
        }
    }
}

impl Store {
    /// Twilio fetched turn `turn` of announce leg `leg`; false if that is not the call's current
    /// turn (a stale fetch, whose document must say nothing).
    pub async fn announcement_served(
        &self,
        id: &CallId,
        leg: &str,
        turn: u64,
    ) -> StoreResult<bool> {
        let marked: i64 = scripts::ANNOUNCEMENT_SERVED
            .key(self.keys.call(id))
            .arg(leg)
            .arg(turn)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(marked == 1)
    }

    /// An announcement event in `conference_sid` (`sequence`: its SequenceNumber): see
    /// [`AnnouncementEnd`].
    pub async fn announcement_finished(
        &self,
        id: &CallId,
        conference_sid: &ConferenceSid,
        sequence: Option<u64>,
    ) -> StoreResult<AnnouncementEnd> {
        let (status, leg, turn, line): (String, String, u64, String) =
            scripts::ANNOUNCEMENT_FINISHED
                .key(self.keys.call(id))
                .arg(conference_sid.as_str())
                .arg(sequence.map(|s| s.to_string()).unwrap_or_default())
                .invoke_async(&mut self.conn())
                .await?;
        let line = LineId::parse(&line);
        Ok(match status.as_str() {
            "heard" => AnnouncementEnd::Heard { leg, turn, line },
            "unheard" => AnnouncementEnd::Unheard { leg, turn, line },
            _ => AnnouncementEnd::None,
        })
    }

    /// Whether the call's conference has started (Twilio's `conference-start`): only then does
    /// Twilio take an announcement for it.
    pub async fn conference_started(&self, id: &CallId) -> StoreResult<bool> {
        Ok(self.call_field(id, "conference_started").await?.is_some())
    }

    /// Twilio refused an announcement into the call's conference (`speech.strategy = "auto"`
    /// then self-dials for it). One field of the call's hash: it ends with the call.
    pub async fn refuse_announcements(&self, id: &CallId) -> StoreResult<()> {
        self.conn()
            .hset::<_, _, _, ()>(self.keys.call(id), "announcements_refused", 1)
            .await?;
        Ok(())
    }

    pub async fn announcements_refused(&self, id: &CallId) -> StoreResult<bool> {
        Ok(self
            .call_field(id, "announcements_refused")
            .await?
            .is_some())
    }
}
