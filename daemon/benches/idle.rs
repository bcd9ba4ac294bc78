//! The idle daemon's cost: `vigie run` (its own process) with a config of one client and no
//! equipment, no plugin call in flight. Prints its CPU as a share of one core over the measured
//! time, and its resident memory.
//!
//! Run: `cargo bench --bench idle`. `VIGIE_BENCH_SECONDS` sets the measured time (default 60 s,
//! after 5 s for the start).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// CPU time (user + system) of process `pid`, from /proc, in clock ticks of 10 ms.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after_name.split_whitespace().collect();
    let tick = |i: usize| {
        Duration::from_millis(f.get(i).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) * 10)
    };
    tick(11) + tick(12)
}

/// Resident memory of process `pid`, in KiB.
fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The daemon's process, killed when the benchmark ends, even by a panic.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    let mut daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["run", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data")
            .arg(dir.path().join("data"))
            .env("VIGIE_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("vigie run"),
    );
    let pid = daemon.0.id();
    let mut line = String::new();
    BufReader::new(daemon.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    std::thread::sleep(Duration::from_secs(5));
    let before = cpu_of(pid);
    std::thread::sleep(Duration::from_secs(seconds));
    let used = cpu_of(pid).saturating_sub(before);
    let rss = rss_of(pid);
    drop(daemon);
    println!(
        "idle daemon (no equipment, no plugin call): {:.3} % of a core over {seconds} s ({} ms of CPU; /proc counts 10 ms ticks); resident memory {:.1} MiB",
        used.as_secs_f64() * 100.0 / seconds as f64,
        used.as_millis(),
        rss as f64 / 1024.0
    );
}
