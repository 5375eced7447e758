//! Logging: `RUST_LOG`-style filters from `DENWA_LOG` (default `info`), as text or as JSON
//! (`DENWA_LOG_FORMAT`, `--log-format`).
//!
//! Both formats carry the same events and fields, so what keeps phone numbers out of the text
//! (numbers are never a log field; those Twilio quotes in its errors are redacted where the error
//! is made, `twilio/rest.rs`) keeps them out of the JSON too. A request's span (method, route,
//! request id, status: `routes/request_log.rs`) is on every line logged while serving it.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (for a log collector): `timestamp`, `level`, `fields`, `span`,
    /// `spans`.
    Json,
}

impl LogFormat {
    /// The command line's parser for `--log-format` / `DENWA_LOG_FORMAT`: a wrong value fails
    /// every command (`denwa check` too), naming the variable an operator is likelier to have set.
    pub fn parse(value: &str) -> Result<LogFormat, String> {
        match value {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "DENWA_LOG_FORMAT (--log-format): {other:?} is not one of \"text\", \"json\""
            )),
        }
    }
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("DENWA_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: journald, a container's log driver and a file get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal() && std::io::stdout().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}
