//! `denwa serve` as a real process (the binary this build made), for what only a process shows:
//! signals, exits and restarts.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use denwa_twilio_emulator::Emulator;

use crate::cli::denwa;
use crate::helpers::{LINE, TIME_SCALE, TestApp, add_number, config_env, config_file, far_side};
use crate::redis_server::RedisServer;

pub struct ServeProcess {
    child: Child,
    /// Its configuration file and log, kept only when a test failed.
    dir: PathBuf,
}

/// A free port on localhost, for a process to bind (and bind again after a restart).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `denwa serve` process on a far side of its own, with the app's address for the test to
/// talk to (and for a second process to take over, on the same port).
pub async fn app_on_a_process(extra: &[(&str, &str)]) -> (TestApp, ServeProcess) {
    let (redis, emulator) = far_side(TIME_SCALE).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    add_number(&emulator, LINE, &base);
    let process = ServeProcess::start(port, &base, &redis, &emulator, extra).await;
    let app = TestApp {
        base,
        emulator,
        redis,
        http: reqwest::Client::new(),
    };
    (app, process)
}

impl ServeProcess {
    /// Another process on `app`'s address, Redis and emulator (after this one stopped).
    pub async fn take_over(app: &TestApp, extra: &[(&str, &str)]) -> ServeProcess {
        let port = app.base.rsplit(':').next().unwrap().parse().unwrap();
        ServeProcess::start(port, &app.base, &app.redis, &app.emulator, extra).await
    }

    /// Starts `denwa serve` on `port`, reached by the emulator at `public_base`, and waits until
    /// it answers `/healthz`.
    pub async fn start(
        port: u16,
        public_base: &str,
        redis: &RedisServer,
        emulator: &Emulator,
        extra: &[(&str, &str)],
    ) -> ServeProcess {
        Self::start_with_file(port, public_base, redis, emulator, "", extra).await
    }

    /// Like [`ServeProcess::start`], with `extra_file` appended to the configuration file.
    pub async fn start_with_file(
        port: u16,
        public_base: &str,
        redis: &RedisServer,
        emulator: &Emulator,
        extra_file: &str,
        extra: &[(&str, &str)],
    ) -> ServeProcess {
        let dir = std::env::temp_dir().join(format!("denwa-serve-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            config_file(public_base, redis, emulator, extra_file),
        )
        .unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("denwa.log"))
            .unwrap();
        let listen = format!("127.0.0.1:{port}");
        // `denwa()` clears the developer's DENWA_* environment.
        let child = denwa()
            .args(["serve", "--config"])
            .arg(&config)
            .envs(config_env(extra))
            .env("DENWA_SERVER_LISTEN", &listen)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("denwa serve starts");
        let process = ServeProcess { child, dir };
        let health = format!("http://{listen}/healthz");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if reqwest::get(&health).await.is_ok_and(|r| r.status() == 200) {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "denwa serve did not come up on {listen}:\n{}",
            process.log_text()
        );
    }

    /// What it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("denwa.log")).unwrap_or_default()
    }

    /// Sends SIGTERM, as an orchestrator stopping the process does.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
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
                "denwa serve still running {within:?} after the signal:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
