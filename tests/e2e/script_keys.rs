//! Every key a store script touches is one it was given in KEYS, as EVAL's contract asks (and a
//! Redis Cluster moving a slot key by key needs): checked on a real redis-server, whose MONITOR
//! shows each EVALSHA with its keys followed by the commands its script ran (`[0 lua]`).
//! (`store::scripts` checks the scripts' source too; this checks what they actually did.) Other
//! flows attach a [`KeyAudit`] too: the announce strategy, voicemail, live transcription.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::redis_server::RedisServer;

/// What a redis-server's MONITOR has shown since [`KeyAudit::attach`].
pub struct KeyAudit {
    lines: Arc<Mutex<Vec<String>>>,
    url: String,
    _reader: tokio::task::JoinHandle<()>,
}

/// What the scripts did.
#[derive(Debug, Default)]
struct Findings {
    /// Commands scripts ran on a key not in their KEYS, with the script's first line.
    strays: Vec<String>,
    /// The sources of the scripts that ran (as loaded), by SHA.
    ran: HashMap<String, String>,
    /// Commands scripts ran.
    commands: usize,
}

impl Findings {
    /// Whether a script whose source contains `marker` ran.
    fn ran(&self, marker: &str) -> bool {
        self.ran.values().any(|source| source.contains(marker))
    }
}

/// Commands scripts may run whose every argument is a key (the others take one key first).
const ALL_KEYS: [&str; 2] = ["DEL", "EXISTS"];

impl KeyAudit {
    pub async fn attach(redis: &RedisServer) -> KeyAudit {
        let mut stream = TcpStream::connect(("127.0.0.1", redis.port)).await.unwrap();
        stream.write_all(b"MONITOR\r\n").await.unwrap();
        let mut reader = BufReader::new(stream);
        let mut ok = String::new();
        reader.read_line(&mut ok).await.unwrap();
        assert_eq!(ok.trim_end(), "+OK", "MONITOR refused");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        let reader = tokio::spawn(async move {
            let mut line = String::new();
            while reader.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                kept.lock().unwrap().push(line.trim_end().to_owned());
                line.clear();
            }
        });
        KeyAudit {
            lines,
            url: redis.url(),
            _reader: reader,
        }
    }

    /// Fails if a script ran a command on a key not in its KEYS since the audit was attached;
    /// `at_least` scripts' commands must have been seen (not vacuous).
    pub async fn assert_no_strays(&self, at_least: usize) {
        let findings = self.findings().await;
        assert!(
            findings.strays.is_empty(),
            "scripts reached keys not in their KEYS:\n{}",
            findings.strays.join("\n")
        );
        assert!(findings.commands >= at_least, "{findings:?}");
    }

    /// Everything shown up to now: a marker is sent, and read back, first.
    async fn findings(&self) -> Findings {
        let mut redis = redis_at(&self.url).await;
        let marker = format!("key-audit-{}", rand_suffix());
        let _: String = redis::cmd("ECHO")
            .arg(&marker)
            .query_async(&mut redis)
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let lines = loop {
            let lines = self.lines.lock().unwrap().clone();
            if lines.iter().any(|l| l.contains(&marker)) {
                break lines;
            }
            assert!(std::time::Instant::now() < deadline, "MONITOR fell silent");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let mut findings = Findings::default();
        // The script running, by SHA, and its keys.
        let mut running: Option<(String, HashSet<String>)> = None;
        let mut sources: HashMap<String, String> = HashMap::new();
        for line in &lines {
            let Some((client, args)) = parse_monitor_line(line) else {
                continue;
            };
            let Some(command) = args.first().map(|c| c.to_ascii_uppercase()) else {
                continue;
            };
            if client == "lua" {
                let Some((sha, keys)) = &running else {
                    findings
                        .strays
                        .push(format!("{line} (outside any script?)"));
                    continue;
                };
                findings.commands += 1;
                let touched = match ALL_KEYS.contains(&command.as_str()) {
                    true => &args[1..],
                    false => &args[1..args.len().min(2)],
                };
                for key in touched.iter().filter(|k| !keys.contains(*k)) {
                    let first = sources.get(sha).and_then(|s| s.trim().lines().next());
                    findings.strays.push(format!(
                        "{command} {key} from script {sha} ({first:?}) given {keys:?}"
                    ));
                }
                continue;
            }
            running = None;
            match command.as_str() {
                "EVAL" | "EVALSHA" => {
                    let sha = match command.as_str() {
                        "EVAL" => script_sha(&mut redis, &args[1]).await,
                        _ => args[1].to_ascii_lowercase(),
                    };
                    let count: usize = args[2].parse().unwrap();
                    let keys = args[3..3 + count].iter().cloned().collect();
                    if let Some(source) = sources.get(&sha) {
                        findings.ran.insert(sha.clone(), source.clone());
                    }
                    running = Some((sha, keys));
                }
                "SCRIPT" if args.len() == 3 && args[1].eq_ignore_ascii_case("load") => {
                    let sha = script_sha(&mut redis, &args[2]).await;
                    sources.insert(sha, args[2].clone());
                }
                _ => {}
            }
        }
        findings
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// The SHA Redis knows `source` by (loading it again changes nothing).
async fn script_sha(redis: &mut redis::aio::MultiplexedConnection, source: &str) -> String {
    redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(source)
        .query_async(redis)
        .await
        .unwrap()
}

/// `+<time> [<db> <client>] "arg" "arg"...`: the client (`lua` for a script's commands) and
/// the arguments, unquoted as Redis quotes them (`sdscatrepr`).
fn parse_monitor_line(line: &str) -> Option<(String, Vec<String>)> {
    let rest = line.strip_prefix('+')?;
    let (_, rest) = rest.split_once(" [")?;
    let (client, rest) = rest.split_once("] ")?;
    let client = client.split_once(' ')?.1.to_owned();
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => bytes.push(b'\n'),
                    'r' => bytes.push(b'\r'),
                    't' => bytes.push(b'\t'),
                    'a' => bytes.push(7),
                    'b' => bytes.push(8),
                    'x' => {
                        let hex: String = [chars.next()?, chars.next()?].iter().collect();
                        bytes.push(u8::from_str_radix(&hex, 16).ok()?);
                    }
                    other => bytes.extend(other.to_string().as_bytes()),
                },
                c => bytes.extend(c.to_string().as_bytes()),
            }
        }
        args.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    Some((client, args))
}

#[tokio::test]
async fn every_key_a_script_touches_was_given_in_keys() {
    let app = spawn_app().await;
    let audit = KeyAudit::attach(&app.redis).await;
    let (sid, call_id) = app.call_in(CALLER).await;
    // One message as the previous version stored it, so that its move runs too.
    let old = "Queued by the previous version.";
    let pieces = format!("0:{0}:{0}", old.len());
    app.queue_as_the_previous_version(
        &call_id,
        "m00000000000000b1",
        &[
            ("text", old),
            ("origin", r#"{"bridge":"api"}"#),
            ("pieces", &pieces),
            ("pieces_heard", "0"),
        ],
    )
    .await;
    let (status, body) = app.say(&call_id, "And one of today.").await;
    assert_eq!(status, 202, "{body}");
    app.wait_heard(&sid, &[old, "And one of today."]).await;
    app.wait_all_spoken(&call_id).await;
    // The speaker is gone; the caller hangs up, which ends the call.
    app.wait_for(
        "the speaker leg to end",
        std::time::Duration::from_secs(20),
        || async { app.speaker_legs_ended().then_some(()) },
    )
    .await;
    app.hang_up(&sid, &call_id).await;

    // Not vacuous: the scripts that walk a call's messages ran (the speaker leg's status
    // callback may land a moment after the emulator ended it: waited for), and ran commands.
    let scripts = [
        ("ENQUEUE", "'queue_full'"),
        ("MIGRATE_MESSAGES", "local moved = 0"),
        ("ACQUIRE_SPEAKER", "'the speaker leg was lost'"),
        ("SPEAKER_TURN", "answer('speak'"),
        ("SPEAKER_LEG_ENDED", "'speaker_misses', 1)"),
        ("END_CALL", "'ended_at', ARGV[2]"),
    ];
    let findings = app
        .wait_for(
            "every script of the flow to have run",
            std::time::Duration::from_secs(20),
            || async {
                let findings = audit.findings().await;
                scripts
                    .iter()
                    .all(|(_, marker)| findings.ran(marker))
                    .then_some(findings)
            },
        )
        .await;
    assert!(findings.commands > 50, "{findings:?}");
    audit.assert_no_strays(50).await;
}

#[tokio::test]
async fn the_audit_sees_a_script_reach_a_key_it_was_not_given() {
    let redis = RedisServer::start().await;
    let audit = KeyAudit::attach(&redis).await;
    let mut conn = redis_at(&redis.url()).await;
    let script = redis::Script::new(
        "redis.call('HSET', KEYS[1], 'f', 1) \
         return redis.call('HGET', 'call:{c1}:msg:' .. ARGV[1], 'state')",
    );
    let _: Option<String> = script
        .key("call:{c1}:queue")
        .arg("m1")
        .invoke_async(&mut conn)
        .await
        .unwrap();
    let findings = audit.findings().await;
    assert_eq!(findings.commands, 2, "{findings:?}");
    assert_eq!(findings.strays.len(), 1, "{findings:?}");
    assert!(
        findings.strays[0].starts_with("HGET call:{c1}:msg:m1 "),
        "{findings:?}"
    );
}
