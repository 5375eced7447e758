//! `rediss://`: Redis over TLS with a CA the test makes (the openssl command line). Trusted
//! through `redis.ca_file` the app works; without it the connection is refused, and `/readyz`
//! and `denwa check` say why.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::denwa;
use crate::helpers::*;
use crate::redis_cluster::RedisCluster;
use crate::redis_server::RedisServer;

/// A CA, and a certificate for 127.0.0.1 that it signed, in a directory of their own.
struct TestCa {
    dir: PathBuf,
}

impl TestCa {
    fn make() -> TestCa {
        let dir = RedisServer::temp_dir("tls");
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &dir,
            &["req", "-x509"],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=denwa test CA",
            ],
        );
        openssl(
            &dir,
            &["req"],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
            ],
            &["-CAcreateserial", "-days", "2"],
            &["-out", "server.crt", "-extfile", "san.ext"],
        );
        TestCa { dir }
    }

    fn file(&self, name: &str) -> String {
        self.dir
            .join(name)
            .to_str()
            .expect("a UTF-8 path")
            .to_owned()
    }

    /// A redis-server's TLS arguments: this CA's certificate, clients not asked for one.
    fn server_args(&self) -> Vec<String> {
        vec![
            "--tls-cert-file".into(),
            self.file("server.crt"),
            "--tls-key-file".into(),
            self.file("server.key"),
            "--tls-ca-cert-file".into(),
            self.file("ca.crt"),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    }

    /// A redis-server that speaks TLS only.
    async fn redis(&self) -> RedisServer {
        RedisServer::start_with(None, self.server_args()).await
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, command: &[&str], a: &[&str], b: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(command)
        .args(a)
        .args(b)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tls_url(redis: &RedisServer) -> String {
    format!("rediss://127.0.0.1:{}", redis.port)
}

#[tokio::test]
async fn with_its_ca_in_ca_file_denwa_works_over_tls() {
    let ca = TestCa::make();
    let redis = ca.redis().await;
    let url = tls_url(&redis);
    let ca_file = ca.file("ca.crt");
    let far = far_side_with(redis, TIME_SCALE).await;
    let app = spawn_app_on(
        far,
        "",
        &[("DENWA_REDIS_URL", &url), ("DENWA_REDIS_CA_FILE", &ca_file)],
    )
    .await;
    let (status, ready) = app.readyz().await;
    assert_eq!(status, 200, "{ready}");
    let (sid, call_id) = app.call_in(CALLER).await;
    app.say(&call_id, "Spoken through a TLS store.").await;
    let heard = app.wait_heard(&sid, &["Spoken through a TLS store."]).await;
    assert_eq!(heard, vec![GREETING, "Spoken through a TLS store."]);
}

#[tokio::test]
async fn without_its_ca_the_connection_is_refused_and_readyz_and_check_say_so() {
    let ca = TestCa::make();
    let redis = ca.redis().await;
    let url = tls_url(&redis);
    let far = far_side_with(redis, TIME_SCALE).await;
    let app = spawn_app_on(far, "", &[("DENWA_REDIS_URL", &url)]).await;
    let (status, ready) = app.readyz().await;
    assert_eq!(status, 503, "{ready}");
    let why = ready["checks"]["redis"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(why.contains("certificate"), "{ready}");

    // The call is turned away politely, not put in a conference nobody can see.
    let sid = app
        .emulator
        .place_call(CALLER, LINE, None)
        .await
        .expect("the emulator places the call");
    app.wait_heard(&sid, &[UNAVAILABLE]).await;

    let config = ca.dir.join("denwa.toml");
    std::fs::write(
        &config,
        config_file(&app.base, &app.redis, &app.emulator, ""),
    )
    .unwrap();
    let check = |ca_file: Option<&str>| {
        let mut cmd = denwa();
        cmd.args(["check", "--config"])
            .arg(&config)
            .env("DENWA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("DENWA_API_TOKEN", API_TOKEN)
            .env("DENWA_REDIS_URL", &url);
        if let Some(file) = ca_file {
            cmd.env("DENWA_REDIS_CA_FILE", file);
        }
        cmd.output().unwrap()
    };
    let refused = check(None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("redis.url") && stderr.contains("TLS"),
        "{stderr}"
    );
    let trusted = check(Some(&ca.file("ca.crt")));
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    // A file that holds no certificate is named as the problem it is.
    let not_pem = check(Some(&ca.file("san.ext")));
    assert_eq!(not_pem.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&not_pem.stderr).contains("redis.ca_file"));
}

#[tokio::test]
async fn a_cluster_over_tls_works_with_ca_file() {
    let ca = TestCa::make();
    let cluster = RedisCluster::start_with(
        ca.server_args(),
        vec!["--tls".into(), "--cacert".into(), ca.file("ca.crt")],
    )
    .await;
    let seeds = cluster.seeds();
    assert!(seeds.starts_with("rediss://"), "{seeds}");
    let ca_file = ca.file("ca.crt");
    let app = spawn_app_with(&[
        ("DENWA_REDIS_CLUSTER", &seeds),
        ("DENWA_REDIS_CA_FILE", &ca_file),
    ])
    .await;
    let (status, ready) = app.readyz().await;
    assert_eq!(status, 200, "{ready}");
    let (sid, call_id) = app.call_in(CALLER).await;
    app.say(&call_id, "Spoken through a TLS cluster.").await;
    let heard = app
        .wait_heard(&sid, &["Spoken through a TLS cluster."])
        .await;
    assert_eq!(heard, vec![GREETING, "Spoken through a TLS cluster."]);
}
