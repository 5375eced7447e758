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
    /// Further arguments (a cluster node's, a TLS server's).
    extra: Vec<String>,
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
        Self::start_in(Some(Self::temp_dir("redis"))).await
    }

    async fn start_in(dir: Option<PathBuf>) -> RedisServer {
        Self::start_with(dir, Vec::new()).await
    }

    /// A server with further arguments; with a directory, it is its working directory (where a
    /// cluster node keeps its nodes.conf).
    pub async fn start_with(dir: Option<PathBuf>, extra: Vec<String>) -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            child: None,
            dir,
            extra,
        };
        server.launch().await;
        server
    }

    /// A directory of its own under the system's temporary directory (removed on drop).
    pub fn temp_dir(what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "denwa-{what}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory for redis-server");
        dir
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let port = self.port.to_string();
        let tls = self.extra.iter().any(|a| a == "--tls-cert-file");
        let mut args = vec!["--bind", "127.0.0.1", "--save", ""];
        // A TLS server listens on its TLS port only: nothing reaches it in the clear.
        if tls {
            args.extend(["--port", "0", "--tls-port", &port]);
        } else {
            args.extend(["--port", &port]);
        }
        args.extend(self.extra.iter().map(String::as_str));
        match &self.dir {
            Some(dir) if self.extra.is_empty() => args.extend([
                "--dir",
                dir.to_str().expect("a UTF-8 temporary directory"),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ]),
            Some(dir) => args.extend([
                "--dir",
                dir.to_str().expect("a UTF-8 temporary directory"),
                "--appendonly",
                "no",
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

    /// The running redis-server's process id (to read its CPU or memory).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
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
