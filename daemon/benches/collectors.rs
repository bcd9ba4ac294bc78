//! Collector benchmark: an ICMP sweep of 10,000 loopback addresses through the daemon's one
//! shared socket, reporting CPU time per ping and peak memory.
//!
//! Run: `cargo bench --bench collectors` (as root, or with ping_group_range allowing datagram
//! ICMP sockets). `VIGIE_BENCH_PINGS` changes the number of addresses.

use std::time::{Duration, Instant};
use vigie::collectors::icmp::{PingSettings, Pinger};

fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::var("VIGIE_BENCH_PINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let pinger = Pinger::start().expect("ICMP socket");
        let settings = PingSettings { count: 1, spacing: Duration::ZERO, timeout: Duration::from_secs(2), retries: 0 };
        let targets: Vec<String> = (0..n).map(|i| format!("127.{}.{}.{}", 1 + i / 62_500, (i / 250) % 250, i % 250 + 1)).collect();
        // Warm up once so the socket and thread exist before measuring.
        let _ = pinger.probe("127.0.0.1", settings).await;
        let c0 = cpu();
        let w0 = Instant::now();
        // As in the daemon, a bound on probes in flight (its default `max_probes_in_flight`).
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(512));
        let results = futures::future::join_all(targets.iter().map(|t| {
            let limit = std::sync::Arc::clone(&limit);
            let pinger = pinger.clone();
            async move {
                let _permit = limit.acquire_owned().await;
                pinger.probe(t, settings).await
            }
        }))
        .await;
        let wall = w0.elapsed();
        let used = cpu().saturating_sub(c0);
        let up = results.iter().filter(|o| matches!(o.status, vigie::observation::ProbeStatus::Up)).count();
        println!(
            "icmp: {n} loopback addresses swept in {:.2} s, {up} answered, {:.2} µs CPU per ping ({} socket), peak RSS {} KiB",
            wall.as_secs_f64(),
            used.as_secs_f64() * 1e6 / n as f64,
            if pinger.raw { "raw" } else { "datagram" },
            peak_rss_kib()
        );
    });
}
