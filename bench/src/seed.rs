//! The seed's design (Flask + Redis + self-dial, `bench/seed-flask`) under gunicorn
//! with 2 workers, in a virtualenv the bench makes under `target/`, for the side-by-side row.
//! When Python, the venv or the app cannot be had, the row is skipped with the reason.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::far_side::{ACCOUNT_SID, AUTH_TOKEN, FarSide, LINE};

/// The packages the seed imports, and gunicorn to serve it.
const PACKAGES: [&str; 4] = ["flask", "redis", "twilio", "gunicorn"];

/// gunicorn workers: the seed's README and the figures use two.
const WORKERS: &str = "2";

const START_WITHIN: Duration = Duration::from_secs(30);

pub struct Seed {
    child: Child,
    pub addr: SocketAddr,
    pub base: String,
}

impl Seed {
    /// Starts the seed app at `app_dir`, with a venv at `venv`, on `far`'s redis (database 1).
    pub async fn start(app_dir: &Path, venv: &Path, far: &FarSide) -> Result<Seed, String> {
        if !app_dir.join("app.py").is_file() {
            return Err(format!("no seed app at {}", app_dir.display()));
        }
        let gunicorn = ensure_venv(venv)?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        drop(listener);
        let base = format!("http://{addr}");
        let child = Command::new(gunicorn)
            .args(["-w", WORKERS, "-b", &addr.to_string(), "--chdir"])
            .arg(app_dir)
            .arg("app:app")
            .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
            .env("TWILIO_NUMBER", LINE)
            .env("TWILIO_API_BASE", far.emulator.base_url())
            .env("PUBLIC_URL", &base)
            .env("REDIS_URL", format!("{}/1", far.redis.url()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start gunicorn: {e}"))?;
        let mut seed = Seed { child, addr, base };
        let started = Instant::now();
        while started.elapsed() < START_WITHIN {
            if let Ok(Some(status)) = seed.child.try_wait() {
                return Err(format!("gunicorn exited ({status})"));
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                // Both workers import the app after the master binds: give them their moment.
                tokio::time::sleep(Duration::from_secs(2)).await;
                return Ok(seed);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = seed.child.kill();
        Err(format!("gunicorn did not listen within {START_WITHIN:?}"))
    }

    /// gunicorn's master; its workers are its children.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The venv's gunicorn, making the venv (python3 -m venv, pip install) if it is missing.
fn ensure_venv(venv: &Path) -> Result<PathBuf, String> {
    let gunicorn = venv.join("bin/gunicorn");
    if gunicorn.is_file() {
        return Ok(gunicorn);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .map_err(|e| format!("no python3: {e}"))?;
    if !made.success() {
        return Err(format!("python3 -m venv failed ({made})"));
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet"])
        .args(PACKAGES)
        .status()
        .map_err(|e| format!("no pip in the venv: {e}"))?;
    if !installed.success() || !gunicorn.is_file() {
        return Err(format!(
            "pip install {} failed ({installed})",
            PACKAGES.join(" ")
        ));
    }
    Ok(gunicorn)
}
