//! The command line: `denwa serve | check | demo | twilio configure | slack manifest |
//! discord register`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::startup::twilio_client;
use crate::startup::{Application, install_crypto_provider};
use crate::telemetry::LogFormat;
use crate::twilio::UpdateIncomingNumber;
use crate::twiml::HttpMethod;

#[derive(Debug, Parser)]
#[command(name = "denwa", version, about = "Answer a phone line from chat")]
pub struct Cli {
    /// How log lines are written: `text`, or `json` (one object per line).
    #[arg(long, global = true, value_parser = LogFormat::parse, default_value = "text", env = "DENWA_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The configuration file; every key can also be set as DENWA_<SECTION>_<KEY>.
    #[arg(long, short, default_value = "config.toml", env = "DENWA_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve(ConfigArg),
    /// Validate the configuration and list every problem (exit code 2 if there are any).
    Check(ConfigArg),
    /// Try denwa with no account: the line, a Twilio emulator and a web console, all local.
    Demo {
        /// The console's port (default 8080, or the first free port after it).
        #[arg(long)]
        port: Option<u16>,
        /// Redis to use if it answers; otherwise an embedded in-memory store (not durable) serves.
        #[arg(long, env = "DENWA_REDIS_URL", hide_env_values = true, default_value = crate::demo::DEFAULT_REDIS_URL)]
        redis: String,
        /// Use the embedded in-memory store even if Redis answers.
        #[arg(long)]
        in_memory: bool,
        /// Calls run four times faster than real time.
        #[arg(long)]
        fast: bool,
    },
    /// Twilio setup helpers.
    Twilio {
        #[command(subcommand)]
        command: TwilioCommand,
    },
    /// Slack setup helpers.
    Slack {
        #[command(subcommand)]
        command: SlackCommand,
    },
    /// Discord setup helpers.
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SlackCommand {
    /// Print the Slack app manifest (scopes, events, interactivity, slash command) for public_url.
    Manifest(ConfigArg),
}

#[derive(Debug, Subcommand)]
pub enum DiscordCommand {
    /// Register the guild's slash commands and print the Interactions Endpoint URL to paste.
    Register(ConfigArg),
}

#[derive(Debug, Subcommand)]
pub enum TwilioCommand {
    /// Point the line number's voice webhook and status callback at server.public_url.
    Configure(ConfigArg),
}

/// Exit code for configuration problems, distinct from runtime failures (1).
const EXIT_CONFIG: u8 = 2;

/// How long `check` waits for Redis to answer.
const CHECK_STORE_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// `check` also connects to Redis: a TLS failure (an untrusted certificate, `redis.ca_file` not
/// the server's CA) is a configuration problem, reported with its key. Redis not answering is
/// not (it may be down while the configuration is checked, and denwa keeps trying): a warning.
async fn check_store(settings: &Settings) -> Result<(), String> {
    crate::startup::install_crypto_provider();
    let key = settings.redis.target.key();
    let store = crate::store::Store::connect(&settings.redis).map_err(|e| format!("{key}: {e}"))?;
    match store.ping_within(CHECK_STORE_WITHIN).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_tls() => Err(format!(
            "{key}: TLS with Redis failed: {e} (redis.ca_file must hold the CA that signed the \
             server's certificate, unless a system root did)"
        )),
        Err(e) => {
            eprintln!("warning: {key}: Redis does not answer now: {e}");
            Ok(())
        }
    }
}

fn load(arg: &ConfigArg) -> Result<Settings, ExitCode> {
    Settings::load(&arg.config, false).map_err(|errors| {
        eprint!("{errors}");
        ExitCode::from(EXIT_CONFIG)
    })
}

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(arg) => match load(&arg) {
            Ok(settings) => {
                if let Err(problem) = check_store(&settings).await {
                    eprintln!("{problem}");
                    return ExitCode::from(EXIT_CONFIG);
                }
                let lines: Vec<String> = settings
                    .lines
                    .all()
                    .iter()
                    .map(|l| format!("{} {} ({})", l.id(), l.number, l.speech.strategy.as_str()))
                    .collect();
                println!(
                    "{}: OK (lines {}, public URL {})",
                    arg.config.display(),
                    lines.join(", "),
                    settings.server.public_url,
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Serve(arg) => {
            let settings = match load(&arg) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let app = match Application::build(settings) {
                Ok(app) => app,
                Err(e) => {
                    eprintln!("denwa cannot start: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match app.run_until(crate::shutdown::signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("denwa stopped: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Demo {
            port,
            redis,
            in_memory,
            fast,
        } => {
            crate::demo::run(crate::demo::DemoOptions {
                port,
                redis_url: Some(redis),
                in_memory,
                time_scale: if fast { 0.25 } else { 1.0 },
            })
            .await
        }
        Command::Slack {
            command: SlackCommand::Manifest(arg),
        } => {
            let settings = match load(&arg) {
                Ok(s) => s,
                Err(code) => return code,
            };
            report(
                crate::bridges::slack_manifest(&settings),
                "denwa slack manifest",
            )
        }
        Command::Discord {
            command: DiscordCommand::Register(arg),
        } => {
            let settings = match load(&arg) {
                Ok(s) => s,
                Err(code) => return code,
            };
            install_crypto_provider();
            report(
                crate::bridges::discord_register(&settings).await,
                "denwa discord register",
            )
        }
        Command::Twilio {
            command: TwilioCommand::Configure(arg),
        } => {
            let settings = match load(&arg) {
                Ok(s) => s,
                Err(code) => return code,
            };
            match configure_twilio(&settings).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("denwa twilio configure: {message}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Prints a helper's output, or its error with the command's name.
fn report(result: Result<String, String>, command: &str) -> ExitCode {
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{command}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Points every line's number at denwa and prints what changed; every number is tried, and
/// the first failure is reported after.
async fn configure_twilio(settings: &Settings) -> Result<(), String> {
    install_crypto_provider();
    let client = twilio_client(
        &settings.twilio,
        denwa_chat::ApiMeter::unobserved(denwa_chat::ApiService::Twilio),
    )
    .map_err(|e| e.to_string())?;
    let mut failed = Vec::new();
    for number in settings.lines.numbers() {
        if let Err(e) = configure_number(settings, &client, number).await {
            eprintln!("{number}: {e}");
            failed.push(e);
        }
    }
    match failed.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(first),
    }
}

/// Points `number`'s voice webhook and status callback at denwa.
async fn configure_number(
    settings: &Settings,
    client: &crate::twilio::TwilioClient,
    number: &crate::domain::PhoneNumber,
) -> Result<(), String> {
    let found = client
        .list_incoming_numbers(number)
        .await
        .map_err(|e| format!("cannot list the account's numbers: {e}"))?;
    let Some(current) = found.into_iter().next() else {
        return Err(format!(
            "{number} is not a phone number of account {} (twilio.number, lines[].number)",
            settings.twilio.account_sid
        ));
    };
    let public = &settings.server.public_url;
    let join = |path: &str| {
        let mut url = public.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&[base.as_str(), path].concat());
        url.to_string()
    };
    let update = UpdateIncomingNumber::new()
        .voice_url(join("/twilio/voice"), HttpMethod::Post)
        .status_callback(join("/twilio/call-status"), HttpMethod::Post);
    let updated = client
        .update_incoming_number(&current.sid, &update)
        .await
        .map_err(|e| format!("Twilio refused the update: {e}"))?;
    println!("Configured {number} ({}):", current.sid);
    let show = |label: &str, before: &Option<String>, after: &Option<String>| {
        let before = before.as_deref().unwrap_or("(none)");
        let after = after.as_deref().unwrap_or("(none)");
        if before == after {
            println!("  {label}: {after} (unchanged)");
        } else {
            println!("  {label}: {before} -> {after}");
        }
    };
    show("voice webhook", &current.voice_url, &updated.voice_url);
    show("voice method", &current.voice_method, &updated.voice_method);
    show(
        "status callback",
        &current.status_callback,
        &updated.status_callback,
    );
    show(
        "status callback method",
        &current.status_callback_method,
        &updated.status_callback_method,
    );
    Ok(())
}
