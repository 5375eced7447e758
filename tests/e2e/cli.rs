//! The command line: `denwa check` and `denwa twilio configure`.

use std::process::Command;

use crate::helpers::*;

/// The `denwa` binary, with none of the developer's `DENWA_*` variables.
pub fn denwa() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_denwa"));
    // The developer's environment must not leak into the test.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("DENWA_")) {
        cmd.env_remove(k);
    }
    cmd
}

/// Runs `denwa check` on `file` with the two secrets set, asserts it refuses the config (exit
/// 2), and returns what it said.
pub fn check_refuses(file: &std::path::Path) -> String {
    let out = denwa()
        .args(["check", "--config"])
        .arg(file)
        .env("DENWA_TWILIO_AUTH_TOKEN", "x")
        .env("DENWA_API_TOKEN", "y")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_lists_every_problem_with_its_key_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("denwa-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[server]\npublic_url = \"ftp://x\"\n[twilio]\nnumber = \"555-1234\"\n",
    )
    .unwrap();
    let out = denwa()
        .args(["check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for key in [
        "server.public_url",
        "twilio.number",
        "twilio.account_sid",
        "twilio.auth_token",
        "api.token",
    ] {
        assert!(stderr.contains(key), "{key} missing from:\n{stderr}");
    }

    let missing = denwa()
        .args(["check", "--config", "/nonexistent/denwa.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read the configuration file")
    );
}

#[test]
fn the_example_config_passes_check_with_secrets_from_the_environment() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");
    let out = denwa()
        .args(["check", "--config", example])
        .env("DENWA_TWILIO_AUTH_TOKEN", "x")
        .env("DENWA_API_TOKEN", "y")
        // Nothing listens there: a Redis that does not answer is a warning, not a problem.
        .env("DENWA_REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: redis.url: Redis does not answer"),
        "{stderr}"
    );
}

/// The operations settings: `speech.strategy = "auto"` passes, a log format denwa does not
/// write fails naming `DENWA_LOG_FORMAT`.
#[test]
fn check_takes_the_auto_strategy_and_names_a_bad_log_format() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");
    let check = |env: &[(&str, &str)]| {
        denwa()
            .args(["check", "--config", example])
            .env("DENWA_TWILIO_AUTH_TOKEN", "x")
            .env("DENWA_API_TOKEN", "y")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let auto = check(&[
        ("DENWA_SPEECH_STRATEGY", "auto"),
        ("DENWA_LOG_FORMAT", "json"),
    ]);
    assert!(
        auto.status.success(),
        "{}",
        String::from_utf8_lossy(&auto.stderr)
    );
    let bad = check(&[("DENWA_LOG_FORMAT", "xml")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("DENWA_LOG_FORMAT"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[tokio::test]
async fn twilio_configure_points_the_number_at_denwa() {
    let app = spawn_app().await;
    app.emulator
        .add_number(LINE, "https://old.example.com/voice", None);
    let dir = std::env::temp_dir().join(format!("denwa-configure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\npublic_url = \"https://denwa.example.org/line\"\n[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nnumber = \"{LINE}\"\napi_base = \"{}\"\n",
            app.emulator.base_url()
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        denwa()
            .args(["twilio", "configure", "--config"])
            .arg(&file)
            .env("DENWA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("DENWA_API_TOKEN", "y")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "https://old.example.com/voice -> https://denwa.example.org/line/twilio/voice"
        ),
        "{stdout}"
    );
    let number = app.emulator.number(LINE).unwrap();
    assert_eq!(
        number.voice_url,
        "https://denwa.example.org/line/twilio/voice"
    );
    assert_eq!(
        number.status_callback.as_deref(),
        Some("https://denwa.example.org/line/twilio/call-status")
    );
}
