//! What a `denwa serve` under test talks to: a private redis-server, the Twilio emulator (in
//! this process) and a fake Slack Web API, with the account, tokens and numbers they share.

use denwa_testkit::fake_slack::FakeSlack;
use denwa_testkit::redis_server::RedisServer;
use denwa_twilio_emulator::{Emulator, EmulatorConfig};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "bench-auth-token-0123456789";
pub const API_TOKEN: &str = "bench-api-token";
pub const LINE: &str = "+15005550006";
pub const CHANNEL: &str = "C0CALLS01";
pub const BOT_TOKEN: &str = "xoxb-bench-bot-token";
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// The team member who replies in call threads.
pub const RESPONDER: &str = "UALICE001";

pub struct FarSide {
    pub redis: RedisServer,
    pub emulator: Emulator,
    pub slack: FakeSlack,
}

impl FarSide {
    /// `time_scale`: the emulator's real seconds per call-second (1.0: Twilio's own pace).
    pub async fn start(time_scale: f64) -> std::io::Result<FarSide> {
        let redis = RedisServer::start().await;
        let emulator = Emulator::start(EmulatorConfig {
            account_sid: ACCOUNT_SID.into(),
            auth_token: AUTH_TOKEN.into(),
            time_scale,
        })
        .await?;
        let slack = FakeSlack::start(BOT_TOKEN, CHANNEL).await;
        slack.add_user(RESPONDER, "alice", "Alice Liddell");
        Ok(FarSide {
            redis,
            emulator,
            slack,
        })
    }
}
