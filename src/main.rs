use std::process::ExitCode;

use clap::Parser as _;

// glibc's malloc, with its arenas' locks and consolidation, was a fifth of an incoming call's
// CPU under load; jemalloc's per-thread caches cut denwa's CPU per webhook from 71 to 51 µs
// (mimalloc did the same with half again the memory; BENCHMARKS.md, "Incoming calls").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = denwa::cli::Cli::parse();
    denwa::telemetry::init(cli.log_format);
    denwa::cli::run(cli).await
}
