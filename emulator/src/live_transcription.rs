//! Real-Time Transcriptions while they run: which sound each one hears, where an utterance ends,
//! and the events it posts to its `statusCallbackUrl`.
//!
//! A transcription taps a call's line at Twilio's side: the inbound track is the sound arriving
//! from the call's far end (what the phone says), the outbound track the sound Twilio sends it
//! (what the phone hears). Words are the audio model's tokens. An utterance ends at a token that
//! ends a sentence (`.`, `?`, `!` and their CJK forms) or at the last token of what was said
//! (the speaker stops: the pause an engine waits for), so `speak("My server is down. Can anyone
//! help?")` gives two finals. Each final's transcript is the exact text said; partial results
//! (only with `partialResults`) carry the utterance so far.
//!
//! Events (`TranscriptionEvent`): `transcription-started`, `transcription-content`,
//! `transcription-stopped` (stopped by TwiML, REST, or the end of the call), and
//! `transcription-error` then `transcription-stopped` on an injected fault
//! ([`crate::Emulator::fail_transcription`]). `SequenceId` counts a transcription's events from 1.
//! Each is a callback of its own, so with [`crate::CallbackChaos`] they are late, disordered and
//! repeated like every other callback.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::audio::{Sound, Utterance};
use crate::clock::{new_sid, rfc3339};
use crate::realtime_transcription::{TranscriptionSettings, TranscriptionTrack};
use crate::twiml::HttpMethod;
use crate::webhook::{HookJob, HookPurpose};

/// The confidence every result reports: the emulator hears every word exactly.
pub const TRANSCRIPTION_CONFIDENCE: f64 = 0.98;

/// Which way sound crosses the line at Twilio's side of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// From the far end into Twilio: `inbound_track`.
    Inbound,
    /// From Twilio to the far end: `outbound_track`.
    Outbound,
}

impl Side {
    fn track(self) -> &'static str {
        match self {
            Side::Inbound => TranscriptionTrack::Inbound.as_str(),
            Side::Outbound => TranscriptionTrack::Outbound.as_str(),
        }
    }

    fn index(self) -> usize {
        match self {
            Side::Inbound => 0,
            Side::Outbound => 1,
        }
    }

    fn heard_by(self, track: TranscriptionTrack) -> bool {
        matches!(
            (self, track),
            (_, TranscriptionTrack::Both)
                | (Side::Inbound, TranscriptionTrack::Inbound)
                | (Side::Outbound, TranscriptionTrack::Outbound)
        )
    }
}

/// `in-progress` or `stopped`, as the REST resource reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LiveStatus {
    InProgress,
    Stopped,
}

impl LiveStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LiveStatus::InProgress => "in-progress",
            LiveStatus::Stopped => "stopped",
        }
    }
}

/// The words of an utterance heard so far on one track.
struct Pending {
    utt: Arc<Utterance>,
    first: usize,
    last: usize,
}

impl Pending {
    fn text(&self) -> &str {
        &self.utt.text[self.utt.spans[self.first].0..self.utt.spans[self.last].1]
    }
}

/// One transcription of one call.
pub(crate) struct LiveTranscription {
    pub sid: String,
    pub account_sid: String,
    pub call_sid: String,
    pub settings: TranscriptionSettings,
    /// The absolute callback URL (TwiML's relative one resolved).
    pub callback: Option<(String, HttpMethod)>,
    pub status: LiveStatus,
    pub date_updated: SystemTime,
    sequence: u64,
    /// Per track (inbound, outbound): the utterance being heard.
    pending: [Option<Pending>; 2],
}

impl LiveTranscription {
    /// The next event, with the parameters every event carries.
    fn event(&mut self, name: &str) -> Vec<(String, String)> {
        self.sequence += 1;
        vec![
            ("AccountSid".into(), self.account_sid.clone()),
            ("CallSid".into(), self.call_sid.clone()),
            ("TranscriptionSid".into(), self.sid.clone()),
            ("Timestamp".into(), rfc3339(SystemTime::now())),
            ("SequenceId".into(), self.sequence.to_string()),
            ("TranscriptionEvent".into(), name.into()),
        ]
    }

    fn job(&self, params: Vec<(String, String)>) -> Option<HookJob> {
        let (url, method) = self.callback.clone()?;
        Some(HookJob {
            purpose: HookPurpose::RealtimeTranscription,
            call_sid: Some(self.call_sid.clone()),
            url,
            method,
            params,
        })
    }

    fn started(&mut self) -> Option<HookJob> {
        let mut p = self.event("transcription-started");
        p.push((
            "ProviderName".into(),
            self.settings.engine.provider_name().into(),
        ));
        p.push(("LanguageCode".into(), self.settings.language_code.clone()));
        p.push(("Track".into(), self.settings.track.as_str().into()));
        p.push((
            "PartialResults".into(),
            self.settings.partial_results.to_string(),
        ));
        p.push((
            "TranscriptionEngine".into(),
            self.settings.engine.as_str().into(),
        ));
        if let Some(name) = &self.settings.name {
            p.push(("Name".into(), name.clone()));
        }
        self.job(p)
    }

    fn content(&mut self, side: Side, text: &str, is_final: bool) -> Option<HookJob> {
        let mut p = self.event("transcription-content");
        let data = serde_json::json!({
            "transcript": text,
            "confidence": TRANSCRIPTION_CONFIDENCE,
        });
        p.push(("LanguageCode".into(), self.settings.language_code.clone()));
        p.push(("Track".into(), side.track().into()));
        p.push(("TranscriptionData".into(), data.to_string()));
        p.push(("Final".into(), is_final.to_string()));
        p.push((
            "ProviderName".into(),
            self.settings.engine.provider_name().into(),
        ));
        self.job(p)
    }

    /// A token reached this transcription's track.
    fn hear(&mut self, side: Side, utt: &Arc<Utterance>, idx: usize) -> Vec<HookJob> {
        let mut jobs = Vec::new();
        let slot = side.index();
        let continues = self.pending[slot]
            .as_ref()
            .is_some_and(|p| p.utt.id == utt.id && p.last + 1 == idx);
        if continues {
            if let Some(p) = self.pending[slot].as_mut() {
                p.last = idx;
            }
        } else {
            // Another utterance, or a gap in this one: what was heard before is final.
            jobs.extend(self.finish(side));
            self.pending[slot] = Some(Pending {
                utt: utt.clone(),
                first: idx,
                last: idx,
            });
        }
        let (first_byte, last_byte) = utt.spans[idx];
        let ends = idx + 1 == utt.spans.len() || ends_sentence(&utt.text[first_byte..last_byte]);
        if ends {
            jobs.extend(self.finish(side));
        } else if self.settings.partial_results {
            let text = self.pending[slot]
                .as_ref()
                .map(|p| p.text().to_string())
                .unwrap_or_default();
            jobs.extend(self.content(side, &text, false));
        }
        jobs
    }

    /// The final result of the utterance pending on `side`, if any.
    fn finish(&mut self, side: Side) -> Option<HookJob> {
        let pending = self.pending[side.index()].take()?;
        self.content(side, pending.text(), true)
    }

    /// Stops: what was being said is final, then `transcription-stopped`.
    fn stop(&mut self) -> Vec<HookJob> {
        if self.status == LiveStatus::Stopped {
            return Vec::new();
        }
        let mut jobs: Vec<HookJob> = [Side::Inbound, Side::Outbound]
            .into_iter()
            .filter_map(|side| self.finish(side))
            .collect();
        self.status = LiveStatus::Stopped;
        self.date_updated = SystemTime::now();
        let p = self.event("transcription-stopped");
        jobs.extend(self.job(p));
        jobs
    }

    /// Fails: `transcription-error` with `reason`, then `transcription-stopped`. What was being
    /// said is lost with the engine.
    fn fail(&mut self, reason: &str) -> Vec<HookJob> {
        if self.status == LiveStatus::Stopped {
            return Vec::new();
        }
        self.pending = [None, None];
        let mut p = self.event("transcription-error");
        p.push(("TranscriptionError".into(), reason.into()));
        let mut jobs: Vec<HookJob> = self.job(p).into_iter().collect();
        jobs.extend(self.stop());
        jobs
    }
}

/// Whether a token closes a sentence.
fn ends_sentence(token: &str) -> bool {
    token
        .trim_end_matches(['"', '\'', ')', '”', '’', '」', '』'])
        .ends_with(['.', '?', '!', '…', '。', '？', '！'])
}

/// Every transcription the emulator has started, running or stopped.
#[derive(Default)]
pub(crate) struct Transcriptions {
    by_sid: HashMap<String, LiveTranscription>,
    order: Vec<String>,
}

impl Transcriptions {
    /// Starts a transcription on a call; returns its `GT` SID and its `transcription-started`.
    pub(crate) fn start(
        &mut self,
        account_sid: &str,
        call_sid: &str,
        settings: TranscriptionSettings,
        callback: Option<(String, HttpMethod)>,
    ) -> (String, Vec<HookJob>) {
        let sid = new_sid("GT");
        let mut live = LiveTranscription {
            sid: sid.clone(),
            account_sid: account_sid.to_string(),
            call_sid: call_sid.to_string(),
            settings,
            callback,
            status: LiveStatus::InProgress,
            date_updated: SystemTime::now(),
            sequence: 0,
            pending: [None, None],
        };
        let jobs = live.started().into_iter().collect();
        self.by_sid.insert(sid.clone(), live);
        self.order.push(sid.clone());
        (sid, jobs)
    }

    pub(crate) fn get(&self, sid: &str) -> Option<&LiveTranscription> {
        self.by_sid.get(sid)
    }

    /// A call's transcription by SID or by name (the latest with that name).
    pub(crate) fn find(&self, call_sid: &str, sid_or_name: &str) -> Option<String> {
        if let Some(t) = self.by_sid.get(sid_or_name) {
            return (t.call_sid == call_sid).then(|| t.sid.clone());
        }
        self.order
            .iter()
            .rev()
            .filter_map(|s| self.by_sid.get(s))
            .find(|t| t.call_sid == call_sid && t.settings.name.as_deref() == Some(sid_or_name))
            .map(|t| t.sid.clone())
    }

    /// Every transcription, oldest first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &LiveTranscription> {
        self.order.iter().filter_map(|s| self.by_sid.get(s))
    }

    fn running_on<'a>(
        &'a mut self,
        call_sid: &'a str,
    ) -> impl Iterator<Item = &'a mut LiveTranscription> + 'a {
        self.by_sid
            .values_mut()
            .filter(move |t| t.call_sid == call_sid && t.status == LiveStatus::InProgress)
    }

    /// Sound crossed the line of `call_sid` on `side`.
    pub(crate) fn hear(&mut self, call_sid: &str, side: Side, sound: &Sound) -> Vec<HookJob> {
        let Sound::Token { utt, idx } = sound else {
            // Music and beeps are not speech.
            return Vec::new();
        };
        self.running_on(call_sid)
            .filter(|t| side.heard_by(t.settings.track))
            .flat_map(|t| t.hear(side, utt, *idx))
            .collect()
    }

    pub(crate) fn stop(&mut self, sid: &str) -> Vec<HookJob> {
        self.by_sid
            .get_mut(sid)
            .map(|t| t.stop())
            .unwrap_or_default()
    }

    /// The call ended: each of its transcriptions stops.
    pub(crate) fn call_ended(&mut self, call_sid: &str) -> Vec<HookJob> {
        self.running_on(call_sid).flat_map(|t| t.stop()).collect()
    }

    /// Fault injection: each running transcription of the call fails.
    pub(crate) fn fail(&mut self, call_sid: &str, reason: &str) -> Vec<HookJob> {
        self.running_on(call_sid)
            .flat_map(|t| t.fail(reason))
            .collect()
    }
}
