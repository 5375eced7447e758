use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = denwa::cli::Cli::parse();
    denwa::telemetry::init(cli.log_format);
    denwa::cli::run(cli).await
}
