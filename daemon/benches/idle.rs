//! The idle daemon's cost: `vigie run` (its own process) with a config of one client and no
//! equipment, no plugin call in flight. Prints its CPU as a share of one core over the measured
//! time, and its resident memory.
//!
//! Run: `cargo bench --bench idle`. `VIGIE_BENCH_SECONDS` sets the measured time (default 60 s,
//! after 5 s for the start).

mod common;

use std::time::Duration;

fn main() {
    let seconds: u64 = std::env::var("VIGIE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    std::fs::create_dir_all(config.join("sites")).expect("mkdir");
    std::fs::write(
        config.join("vigie.toml"),
        "[clients.c]\nname = \"Client\"\n",
    )
    .expect("write");
    let daemon = common::Daemon::start(&config, &dir.path().join("data"), &[]);
    let pid = daemon.pid();
    std::thread::sleep(Duration::from_secs(5));
    let before = common::cpu_of(pid);
    std::thread::sleep(Duration::from_secs(seconds));
    let used = common::cpu_of(pid).saturating_sub(before);
    let rss = common::rss_of(pid);
    drop(daemon);
    println!(
        "idle daemon (no equipment, no plugin call): {:.3} % of a core over {seconds} s ({} ms of CPU; /proc counts 10 ms ticks); resident memory {:.1} MiB",
        used.as_secs_f64() * 100.0 / seconds as f64,
        used.as_millis(),
        rss as f64 / 1024.0
    );
}
