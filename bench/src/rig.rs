//! A line under test: a [`FarSide`] and the `denwa serve` pointed at it, and what the scenarios
//! do with them: place callers, find their calls and Slack threads, reply in a thread, say
//! through the API, and read what the emulator saw.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use denwa_twilio_emulator::Heard;
use serde_json::{Value, json};

use crate::cpu;
use crate::far_side::{API_TOKEN, CHANNEL, FarSide, LINE, RESPONDER, SIGNING_SECRET};
use crate::serve::{Chat, Serve, Strategy};

pub struct Rig {
    pub far: FarSide,
    pub serve: Serve,
    http: reqwest::Client,
}

/// A caller in the line's conference.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller leg's CallSid at the emulator.
    pub sid: String,
    /// denwa's call id.
    pub id: String,
    /// The call's Slack thread.
    pub thread_ts: String,
}

/// How long callers may take to be connected and announced before a scenario gives up.
const CONNECT_WITHIN: Duration = Duration::from_secs(120);

impl Rig {
    pub async fn start(
        binary: &Path,
        strategy: Strategy,
        chat: Chat,
        time_scale: f64,
    ) -> Result<Rig, String> {
        let far = FarSide::start(time_scale)
            .await
            .map_err(|e| format!("the emulator cannot start: {e}"))?;
        let serve = Serve::start(binary, &far, strategy, chat).await?;
        Ok(Rig {
            far,
            serve,
            http: reqwest::Client::new(),
        })
    }

    /// The processes a run against this rig shares the cores between: denwa, its redis and this
    /// process (`bench`: what it does in the run, the load generator or Slack's side).
    pub fn cpu_parts(&self, bench: &'static str) -> cpu::Parts {
        let serve_pid = self.serve.pid();
        let redis_pid = self.far.redis.pid();
        cpu::Parts::default()
            .with("denwa", move || cpu::seconds(serve_pid))
            .with("redis", move || redis_pid.and_then(cpu::seconds))
            .with(bench, || cpu::seconds(std::process::id()))
    }

    /// Places `count` calls from distinct numbers (`first` numbers them), at most `at_once` at
    /// a time, and waits until each is connected and announced in Slack.
    pub async fn call_in(
        &self,
        first: usize,
        count: usize,
        at_once: usize,
    ) -> Result<Vec<Caller>, String> {
        let mut placed: Vec<(String, String)> = Vec::with_capacity(count);
        let numbers: Vec<String> = (first..first + count)
            .map(|n| format!("+1415666{n:04}"))
            .collect();
        for chunk in numbers.chunks(at_once.max(1)) {
            let calls = chunk.iter().map(|from| {
                let emulator = self.far.emulator.clone();
                let from = from.clone();
                async move { (emulator.place_call(&from, LINE, None).await, from) }
            });
            for (sid, from) in futures::future::join_all(calls).await {
                let sid = sid.map_err(|e| format!("the emulator cannot place a call: {e:?}"))?;
                placed.push((from, sid));
            }
        }
        let started = Instant::now();
        loop {
            let ids = self.connected_calls().await?;
            let threads = self.threads();
            let callers: Vec<Caller> = placed
                .iter()
                .filter_map(|(from, sid)| {
                    let id = ids.get(from)?;
                    Some(Caller {
                        sid: sid.clone(),
                        id: id.clone(),
                        thread_ts: threads.get(id)?.clone(),
                    })
                })
                .collect();
            if callers.len() == placed.len() {
                return Ok(callers);
            }
            if started.elapsed() > CONNECT_WITHIN {
                return Err(format!(
                    "{} of {} calls connected and announced in {CONNECT_WITHIN:?}",
                    callers.len(),
                    placed.len()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Connected calls by the caller's number: their call ids.
    async fn connected_calls(&self) -> Result<HashMap<String, String>, String> {
        let (_, calls) = self.get_json("/api/calls").await?;
        Ok(calls["calls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["state"] == "connected")
            .filter_map(|c| Some((c["from"].as_str()?.to_owned(), c["id"].as_str()?.to_owned())))
            .collect())
    }

    /// Announcements posted in Slack, by call id (the value of their buttons): their ts.
    fn threads(&self) -> HashMap<String, String> {
        fn button_values(blocks: &Value, found: &mut Vec<String>) {
            match blocks {
                Value::Array(items) => items.iter().for_each(|v| button_values(v, found)),
                Value::Object(fields) => {
                    if fields.get("type").is_some_and(|t| t == "button")
                        && let Some(value) = fields.get("value").and_then(Value::as_str)
                    {
                        found.push(value.to_owned());
                    }
                    fields.values().for_each(|v| button_values(v, found));
                }
                _ => {}
            }
        }
        let mut threads = HashMap::new();
        for post in self.far.slack.answered("chat.postMessage") {
            if post.params.get("thread_ts").is_some() {
                continue;
            }
            let Some(ts) = post.response["ts"].as_str() else {
                continue;
            };
            let mut values = Vec::new();
            button_values(&post.params["blocks"], &mut values);
            for call in values {
                threads.insert(call, ts.to_owned());
            }
        }
        threads
    }

    /// A team member's reply in the caller's thread, delivered as Slack's Events API delivers
    /// it (signed, v0); the moment it was sent.
    pub async fn reply(&self, caller: &Caller, text: &str) -> Result<SystemTime, String> {
        let now = SystemTime::now();
        let unix = now.duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?;
        let ts = format!("{}.{:06}", unix.as_secs(), unix.subsec_micros());
        let event_id = format!("Ev{}{}", caller.id, unix.as_nanos());
        let body = json!({
            "token": "legacy", "team_id": "T0BENCH", "api_app_id": "A0DENWA",
            "type": "event_callback", "event_id": event_id, "event_time": unix.as_secs(),
            "event": { "type": "message", "channel": CHANNEL, "channel_type": "channel",
                "user": RESPONDER, "text": text, "ts": ts, "thread_ts": caller.thread_ts,
                "event_ts": ts },
        })
        .to_string();
        let signature = denwa_testkit::slack_signature::sign(SIGNING_SECRET, unix.as_secs(), &body);
        let sent = SystemTime::now();
        let response = self
            .http
            .post(format!("{}/slack/events", self.serve.base))
            .header("Content-Type", "application/json")
            .header("X-Slack-Request-Timestamp", unix.as_secs().to_string())
            .header("X-Slack-Signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("the Slack event was not delivered: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the Slack event was answered {}",
                response.status()
            ));
        }
        Ok(sent)
    }

    /// Opens `count` connections to denwa and leaves them idle in the client's pool (each a
    /// `GET /healthz`, all at once), so that as many requests sent together next go out on open
    /// connections rather than each waiting for a connection of its own.
    pub async fn open_connections(&self, count: usize) -> Result<(), String> {
        let url = format!("{}/healthz", self.serve.base);
        let opened = (0..count).map(|_| self.http.get(&url).send());
        for response in futures::future::join_all(opened).await {
            let response = response.map_err(|e| format!("cannot reach denwa: {e}"))?;
            // Read to the end, so that the connection goes back to the pool.
            let _ = response.bytes().await;
        }
        Ok(())
    }

    /// `POST /api/calls/{id}/say`.
    pub async fn say(&self, caller: &Caller, text: &str) -> Result<(), String> {
        let response = self
            .http
            .post(format!("{}/api/calls/{}/say", self.serve.base, caller.id))
            .bearer_auth(API_TOKEN)
            .json(&json!({ "text": text }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!("say was answered {status}: {body}"));
        }
        Ok(())
    }

    /// Whether every message of the call has been spoken (first page of 1000).
    pub async fn all_spoken(&self, caller: &Caller, expected: usize) -> Result<bool, String> {
        let (_, page) = self
            .get_json(&format!("/api/calls/{}/messages?limit=1000", caller.id))
            .await?;
        let messages = page["messages"].as_array().cloned().unwrap_or_default();
        Ok(messages.len() >= expected && messages.iter().all(|m| m["state"] == "spoken"))
    }

    async fn get_json(&self, path: &str) -> Result<(u16, Value), String> {
        let response = self
            .http
            .get(format!("{}{path}", self.serve.base))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// When the caller first heard a `<Say>` beginning with `word` (polled every 2 ms), waiting
    /// at most `within`.
    pub async fn first_heard(
        &self,
        caller: &Caller,
        word: &str,
        within: Duration,
    ) -> Option<Instant> {
        let started = Instant::now();
        while started.elapsed() < within {
            let heard = self.far.emulator.transcript(&caller.sid);
            if heard
                .iter()
                .any(|h| matches!(h, Heard::Say { text, .. } if text.starts_with(word)))
            {
                return Some(Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        None
    }

    /// Whether the caller has heard a `<Say>` beginning with `word` in full.
    pub fn heard_whole(&self, caller: &Caller, word: &str) -> bool {
        self.far
            .emulator
            .transcript(&caller.sid)
            .iter()
            .any(|h| matches!(h, Heard::Say { text, complete: true, .. } if text.starts_with(word)))
    }

    /// The REST requests denwa made that dialled a speaker leg for `caller`, with their times.
    pub fn speaker_dials(&self, caller: &Caller) -> Vec<SystemTime> {
        self.speaker_dials_by_call()
            .remove(&caller.id)
            .unwrap_or_default()
    }

    /// Every speaker dial in the emulator's REST log, by the call id its `Url` names.
    pub fn speaker_dials_by_call(&self) -> HashMap<String, Vec<SystemTime>> {
        let mut dials: HashMap<String, Vec<SystemTime>> = HashMap::new();
        for request in self.far.emulator.rest_requests() {
            if request.method != "POST" || !request.path.ends_with("/Calls.json") {
                continue;
            }
            let Some((_, url)) = request.params.iter().find(|(k, _)| k == "Url") else {
                continue;
            };
            let Ok(url) = url::Url::parse(url) else {
                continue;
            };
            if let Some((_, call)) = url.query_pairs().find(|(k, _)| k == "call") {
                dials.entry(call.into_owned()).or_default().push(request.at);
            }
        }
        dials
    }

    /// Waits (at most `within`) until every speaker leg dialled for `caller` has ended.
    pub async fn wait_speakers_gone(&self, caller: &Caller, within: Duration) {
        let started = Instant::now();
        while started.elapsed() < within {
            let conference = format!("denwa-{}", caller.id);
            let in_conference = self
                .far
                .emulator
                .conference(&conference)
                .map_or(0, |c| c.participants.len());
            // The caller alone again: the speaker leg has left.
            if in_conference <= 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Conference announcements denwa asked Twilio to play in `caller`'s conference.
    pub fn announcements(&self, caller: &Caller) -> usize {
        let Some(conference) = self
            .far
            .emulator
            .conference(&format!("denwa-{}", caller.id))
        else {
            return 0;
        };
        self.far
            .emulator
            .rest_requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.contains(&conference.sid))
            .filter(|r| r.params.iter().any(|(k, _)| k == "AnnounceUrl"))
            .count()
    }
}
