//! `denwa serve` as a separate process (the release binary), configured for a [`FarSide`]: how
//! long it takes to be ready, its resident memory, and its end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::far_side::{
    ACCOUNT_SID, API_TOKEN, AUTH_TOKEN, BOT_TOKEN, CHANNEL, FarSide, LINE, SIGNING_SECRET,
};

/// How the line speaks (`speech.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    SelfDial,
    Announce,
}

impl Strategy {
    pub fn config_value(self) -> &'static str {
        match self {
            Strategy::SelfDial => "self-dial",
            Strategy::Announce => "announce",
        }
    }
}

pub struct Serve {
    child: Child,
    pub addr: SocketAddr,
    pub base: String,
    /// From spawning the process to its first `200` from `/readyz`.
    pub ready_after: Duration,
    dir: PathBuf,
}

/// Whether the line announces its calls in (the fake) Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chat {
    Slack,
    /// No chat bridge: the throughput rows measure the webhook alone, as the seed has none.
    None,
}

/// How long a process may take to be ready before the bench gives up on it.
const READY_WITHIN: Duration = Duration::from_secs(30);

impl Serve {
    pub async fn start(
        binary: &Path,
        far: &FarSide,
        strategy: Strategy,
        chat: Chat,
    ) -> Result<Serve, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        // The port is free again for denwa once this listener is dropped.
        drop(listener);
        let base = format!("http://{addr}");
        let dir = std::env::temp_dir().join(format!(
            "denwa-bench-{}-{}",
            std::process::id(),
            addr.port()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let config = dir.join("config.toml");
        std::fs::write(&config, config_file(&base, far, strategy, chat))
            .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("denwa.log")).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let spawned = Instant::now();
        let secrets: &[(&str, &str)] = match chat {
            Chat::Slack => &[
                ("DENWA_SLACK_BOT_TOKEN", BOT_TOKEN),
                ("DENWA_SLACK_SIGNING_SECRET", SIGNING_SECRET),
            ],
            Chat::None => &[],
        };
        let child = Command::new(binary)
            .args(["serve", "--config"])
            .arg(&config)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DENWA_SERVER_LISTEN", addr.to_string())
            .env("DENWA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("DENWA_API_TOKEN", API_TOKEN)
            .envs(secrets.iter().copied())
            // The service's own default logging: what an operator would run.
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut serve = Serve {
            child,
            addr,
            base,
            ready_after: Duration::ZERO,
            dir,
        };
        serve.ready_after = serve.wait_ready(spawned).await?;
        far.emulator.add_number(
            LINE,
            &format!("{}/twilio/voice", serve.base),
            Some(&format!("{}/twilio/call-status", serve.base)),
        );
        Ok(serve)
    }

    async fn wait_ready(&mut self, spawned: Instant) -> Result<Duration, String> {
        let url = format!("{}/readyz", self.base);
        let http = reqwest::Client::new();
        while spawned.elapsed() < READY_WITHIN {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("denwa serve exited ({status}):\n{}", self.log()));
            }
            if http
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(spawned.elapsed());
            }
            // Polled often: this is the figure being measured.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Err(format!(
            "denwa serve not ready in {READY_WITHIN:?}:\n{}",
            self.log()
        ))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("denwa.log")).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config_file(base: &str, far: &FarSide, strategy: Strategy, chat: Chat) -> String {
    let slack = match chat {
        Chat::Slack => format!(
            "[slack]\nchannel = \"{CHANNEL}\"\napi_base = \"{}\"\n",
            far.slack.api_base()
        ),
        Chat::None => String::new(),
    };
    format!(
        r#"
[server]
public_url = "{base}"
[redis]
url = "{redis}"
[twilio]
account_sid = "{ACCOUNT_SID}"
number = "{LINE}"
api_base = "{api_base}"
[speech]
strategy = "{strategy}"
voice = "Polly.Joanna"
language = "en-US"
[line]
name = "Bench line"
greeting = "Thank you for calling."
hold_music_url = ""
{slack}"#,
        redis = far.redis.url(),
        api_base = far.emulator.base_url(),
        strategy = strategy.config_value(),
    )
}
