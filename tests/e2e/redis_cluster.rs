//! A private three-master Redis Cluster per test: three `redis-server --cluster-enabled yes` on
//! free ports, joined by `redis-cli --cluster create`, and what a test does to one (move a slot).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, spawn_app_with};
use crate::redis_server::RedisServer;

pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
    /// What `redis-cli` needs to reach the nodes (`--tls --cacert ...` for a TLS cluster).
    cli_flags: Vec<String>,
    scheme: &'static str,
}

impl RedisCluster {
    pub async fn start() -> RedisCluster {
        Self::start_with(Vec::new(), Vec::new()).await
    }

    /// A cluster whose nodes take `node_args` besides their cluster ones, reached by
    /// `redis-cli` with `cli_flags`; with TLS node arguments (`--tls-cert-file`), the nodes
    /// speak TLS only, among themselves too, and the seeds are `rediss://`.
    pub async fn start_with(node_args: Vec<String>, cli_flags: Vec<String>) -> RedisCluster {
        let tls = node_args.iter().any(|a| a == "--tls-cert-file");
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let dir = RedisServer::temp_dir("cluster");
            let mut args: Vec<String> =
                ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"]
                    .map(String::from)
                    .to_vec();
            if tls {
                args.extend(["--tls-cluster", "yes"].map(String::from));
            }
            args.extend(node_args.iter().cloned());
            nodes.push(RedisServer::start_with(Some(dir), args).await);
        }
        let mut create = Command::new("redis-cli");
        create.args(&cli_flags).arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let out = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli must be installed (apt-get install redis-tools)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = RedisCluster {
            nodes,
            cli_flags,
            scheme: if tls { "rediss" } else { "redis" },
        };
        cluster.wait_ok().await;
        cluster
    }

    fn cli(&self, port: u16, args: &[&str]) -> String {
        let mut all: Vec<&str> = self.cli_flags.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        cli(port, &all)
    }

    /// `DENWA_REDIS_CLUSTER`: every node as a seed.
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("{}://127.0.0.1:{}", self.scheme, n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until every node says the cluster is ok (slots assigned and agreed on).
    async fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.nodes.iter().all(|n| {
                self.cli(n.port, &["CLUSTER", "INFO"])
                    .contains("cluster_state:ok")
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the cluster did not come up");
    }

    /// The node serving `slot`.
    pub fn owner_of(&self, slot: u16) -> &RedisServer {
        self.nodes
            .iter()
            .find(|n| {
                // Each node's own view of what it serves: its "myself" line of CLUSTER NODES.
                let nodes = self.cli(n.port, &["CLUSTER", "NODES"]);
                nodes
                    .lines()
                    .find(|l| l.contains("myself"))
                    .is_some_and(|l| serves(l, slot))
            })
            .expect("a node serves every slot")
    }

    /// The hash slot of `key`.
    pub fn slot_of(&self, key: &str) -> u16 {
        self.cli(self.nodes[0].port, &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .expect("CLUSTER KEYSLOT answers a number")
    }

    /// Every key the cluster holds, per node: (port, keys).
    pub fn keys_per_node(&self) -> Vec<(u16, Vec<String>)> {
        self.nodes
            .iter()
            .map(|n| {
                let keys = self.cli(n.port, &["--scan"]);
                (n.port, keys.lines().map(str::to_owned).collect())
            })
            .collect()
    }

    /// Moves `slot` and its keys to another master, the way `redis-cli --cluster reshard`
    /// does: IMPORTING on the target, MIGRATING on the source, MIGRATE the keys, then
    /// SETSLOT NODE everywhere. Returns the port of the new owner.
    pub fn migrate_slot(&self, slot: u16) -> u16 {
        let source = self.owner_of(slot);
        let target = self
            .nodes
            .iter()
            .find(|n| n.port != source.port)
            .expect("three masters");
        let id = |n: &RedisServer| self.cli(n.port, &["CLUSTER", "MYID"]).trim().to_owned();
        let (source_id, target_id) = (id(source), id(target));
        let slot_s = slot.to_string();
        ok(self.cli(
            target.port,
            &["CLUSTER", "SETSLOT", &slot_s, "IMPORTING", &source_id],
        ));
        ok(self.cli(
            source.port,
            &["CLUSTER", "SETSLOT", &slot_s, "MIGRATING", &target_id],
        ));
        loop {
            let keys = self.cli(source.port, &["CLUSTER", "GETKEYSINSLOT", &slot_s, "100"]);
            let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let port = target.port.to_string();
            let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
            args.extend(keys);
            let answer = self.cli(source.port, &args);
            assert!(
                answer.contains("OK") || answer.contains("NOKEY"),
                "MIGRATE: {answer}"
            );
        }
        for node in &self.nodes {
            ok(self.cli(
                node.port,
                &["CLUSTER", "SETSLOT", &slot_s, "NODE", &target_id],
            ));
        }
        target.port
    }
}

fn serves(nodes_line: &str, slot: u16) -> bool {
    nodes_line.split(' ').skip(8).any(|range| {
        let mut ends = range.split('-');
        let first = ends.next().and_then(|s| s.parse::<u16>().ok());
        let last = ends.next().and_then(|s| s.parse::<u16>().ok()).or(first);
        matches!((first, last), (Some(a), Some(b)) if a <= slot && slot <= b)
    })
}

fn ok(answer: String) {
    assert!(answer.trim() == "OK", "redis-cli answered {answer:?}");
}

/// `redis-cli -p port args...`, its output.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli must be installed (apt-get install redis-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Which store a test's app runs on, for the tests that run on both.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Redis,
    Cluster,
}

/// An app on a chosen store; dereferences to its [`TestApp`], and keeps the cluster (if any)
/// running as long as it lives.
pub struct AppOn {
    pub app: TestApp,
    pub cluster: Option<RedisCluster>,
}

impl AppOn {
    /// The Redis holding `key`: on a cluster, the node owning its slot.
    pub fn redis_url_for(&self, key: &str) -> String {
        match &self.cluster {
            Some(cluster) => cluster.owner_of(cluster.slot_of(key)).url(),
            None => self.app.redis.url(),
        }
    }
}

impl std::ops::Deref for AppOn {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// Like [`spawn_app_with`], on `backend`. On a cluster, `redis.cluster` names its nodes and the
/// app's own redis-server (`url`) is left unused (tests check it stays empty).
pub async fn spawn_app_on_store(backend: Backend, extra: &[(&str, &str)]) -> AppOn {
    match backend {
        Backend::Redis => AppOn {
            app: spawn_app_with(extra).await,
            cluster: None,
        },
        Backend::Cluster => {
            let cluster = RedisCluster::start().await;
            let seeds = cluster.seeds();
            let mut env = vec![("DENWA_REDIS_CLUSTER", seeds.as_str())];
            env.extend_from_slice(extra);
            AppOn {
                app: spawn_app_with(&env).await,
                cluster: Some(cluster),
            }
        }
    }
}
