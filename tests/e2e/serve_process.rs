//! `denwa serve` as a real process (the binary this build made), for what only a process shows:
//! signals, exits and restarts.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use denwa_twilio_emulator::Emulator;

use crate::helpers::{config_env, config_file};
use crate::redis_server::RedisServer;

pub struct ServeProcess {
    child: Child,
    config: PathBuf,
}

/// A free port on localhost, for a process to bind (and bind again after a restart).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServeProcess {
    /// Starts `denwa serve` on `port`, reached by the emulator at `public_base`, and waits until
    /// it answers `/healthz`.
    pub async fn start(
        port: u16,
        public_base: &str,
        redis: &RedisServer,
        emulator: &Emulator,
        extra: &[(&str, &str)],
    ) -> ServeProcess {
        let config = std::env::temp_dir().join(format!("denwa-serve-{port}.toml"));
        std::fs::write(&config, config_file(public_base, redis, emulator, "")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_denwa"));
        // The developer's environment must not leak into the test.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("DENWA_")) {
            command.env_remove(k);
        }
        let listen = format!("127.0.0.1:{port}");
        let child = command
            .args(["serve", "--config"])
            .arg(&config)
            .envs(config_env(extra))
            .env("DENWA_SERVER_LISTEN", &listen)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("denwa serve starts");
        let process = ServeProcess { child, config };
        let health = format!("http://{listen}/healthz");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if reqwest::get(&health).await.is_ok_and(|r| r.status() == 200) {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("denwa serve did not come up on {listen}");
    }

    /// Sends SIGTERM, as an orchestrator stopping the process does.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// SIGKILL: the process dies where it stands.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Waits at most `within` for the process to exit; its exit code (`None`: killed by a
    /// signal), or a panic if it is still running.
    pub async fn exited_within(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "denwa serve still running {within:?} after the signal"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}
