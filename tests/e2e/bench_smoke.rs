//! The benchmark (`bench/`) at a tiny load on this build's `denwa`: every row of its table can
//! still be measured. The figures themselves mean nothing here (debug build, CI machine).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_measures_every_row_at_a_tiny_load() {
    let options = denwa_bench::Options::smoke(env!("CARGO_BIN_EXE_denwa").into());
    let table = denwa_bench::run(&options)
        .await
        .unwrap_or_else(|e| panic!("the bench could not run: {e}"));
    let printed = table.markdown();
    assert!(table.problems.is_empty(), "{printed}");
    // start-up, idle RSS, /healthz, /twilio/voice; per strategy cold + warm + one per burst
    // (announce: bursts with the caller alone and in a started conference); self-dial's reply
    // latency (every reply at once, and paced) and memory under load.
    let bursts = options.burst_sizes.len();
    assert_eq!(
        table.rows.len(),
        4 + (2 + bursts) + (2 + 2 * bursts) + 3,
        "{printed}"
    );
}
