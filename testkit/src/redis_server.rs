//! A private `redis-server` per test, on a free port, that a test can stop and restart.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    /// With persistence: the directory of its append-only file, kept across restarts.
    dir: Option<PathBuf>,
}

impl RedisServer {
    /// A server that keeps nothing: a restart starts empty.
    pub async fn start() -> RedisServer {
        Self::start_in(None).await
    }

    /// A server that writes every change to an append-only file before answering, so a restart
    /// (or a kill) finds everything it acknowledged, as a production Redis with
    /// `appendfsync always` would.
    pub async fn start_persistent() -> RedisServer {
        let dir = std::env::temp_dir().join(format!(
            "denwa-redis-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory for redis-server");
        Self::start_in(Some(dir)).await
    }

    async fn start_in(dir: Option<PathBuf>) -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            child: None,
            dir,
        };
        server.launch().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let port = self.port.to_string();
        let mut args = vec!["--port", &port, "--bind", "127.0.0.1", "--save", ""];
        match &self.dir {
            Some(dir) => args.extend([
                "--dir",
                dir.to_str().expect("a UTF-8 temporary directory"),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ]),
            None => args.extend(["--appendonly", "no"]),
        }
        let child =
            Command::new(std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into()))
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.launch().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
