use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    denwa::telemetry::init();
    denwa::cli::run(denwa::cli::Cli::parse()).await
}
