//! `cargo run --release -p denwa-bench`: builds the release `denwa` (a no-op when it is up to
//! date), runs every measure and prints the table. `--smoke` runs a tiny load (CI uses the
//! e2e test `bench_smoke` instead, on the debug build).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use clap::Parser;
use denwa_bench::{Options, Part};

#[derive(Parser)]
#[command(about = "denwa's benchmark: prints one table (see BENCHMARKS.md)")]
struct Args {
    /// The denwa binary; default: `cargo build --release --bin denwa`, then target/release/denwa.
    #[arg(long)]
    denwa: Option<PathBuf>,
    /// The seed design's Flask app directory.
    #[arg(long, env = "DENWA_BENCH_SEED")]
    seed: Option<PathBuf>,
    /// Skip the seed design's row.
    #[arg(long)]
    no_seed: bool,
    /// A tiny load that only checks every row can be measured.
    #[arg(long)]
    smoke: bool,
    /// Seconds per throughput run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Slack replies sent at the same moment, one per call, for the reply row (1 to 1000: each
    /// is a call placed first).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1000))]
    replies: u16,
    /// Runs one part of the table only.
    #[arg(long, value_enum)]
    only: Option<Part>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let denwa = match args.denwa {
        Some(path) => path,
        None => {
            let profile = if args.smoke { None } else { Some("--release") };
            let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(&workspace)
                .args(["build", "--bin", "denwa"])
                .args(profile)
                .status();
            if !built.is_ok_and(|s| s.success()) {
                eprintln!("cargo build --bin denwa failed");
                return ExitCode::FAILURE;
            }
            workspace
                .join("target")
                .join(if args.smoke { "debug" } else { "release" })
                .join("denwa")
        }
    };
    let mut options = if args.smoke {
        Options::smoke(denwa)
    } else {
        let seed = (!args.no_seed).then(|| {
            args.seed
                .unwrap_or_else(|| workspace.join("bench/seed-flask"))
        });
        let mut options = Options::full(denwa, seed, workspace.join("target/seed-venv"));
        options.duration = std::time::Duration::from_secs(args.seconds);
        options.concurrent_replies = usize::from(args.replies);
        options
    };
    options.only = args.only;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(denwa_bench::run(&options)) {
        Ok(table) => {
            println!("{}", table.markdown());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("the bench could not run: {e}");
            ExitCode::FAILURE
        }
    }
}
