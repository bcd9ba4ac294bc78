//! Collector benchmark: an ICMP sweep of 10,000 loopback addresses through the daemon's one
//! shared socket, and SNMP polls of a real snmpd listening on 20 loopback addresses;
//! reports CPU time per ping and per poll, and peak memory.
//!
//! Run: `cargo bench --bench collectors` (as root, or with ping_group_range allowing datagram
//! ICMP sockets; snmpd from Debian's package). `VIGIE_BENCH_PINGS` and `VIGIE_BENCH_POLLS`
//! change the counts.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigie::collectors::icmp::{PingSettings, Pinger};
use vigie::collectors::snmp::{self, SnmpClient};
use vigie::config::{EquipmentKind, SnmpSettings};

/// The same sweep by fping, when installed, for comparison.
fn fping(targets: &[String]) {
    let list = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(list.path(), targets.join("\n")).expect("write");
    let before = common::children_cpu();
    let status = Command::new("fping")
        .args(["-q", "-c1", "-i0", "-t", "2000", "-f"])
        .arg(list.path())
        .stderr(Stdio::null())
        .status();
    if status.is_err() {
        println!("fping: not installed, no comparison");
        return;
    }
    let used = common::children_cpu().saturating_sub(before);
    println!(
        "fping: the same {} addresses, {:.2} µs CPU per ping",
        targets.len(),
        used.as_secs_f64() * 1e6 / targets.len() as f64
    );
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
        let targets: Vec<String> = (0..n).map(common::loopback_target).collect();
        // Warm up once so the socket and thread exist before measuring.
        let _ = pinger.probe("127.0.0.1", settings).await;
        let (u0, s0) = common::self_cpu_split();
        let c0 = u0 + s0;
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
        let used = common::self_cpu().saturating_sub(c0);
        let up = results.iter().filter(|o| matches!(o.status, vigie::observation::ProbeStatus::Up)).count();
        let (u1, s1) = common::self_cpu_split();
        println!(
            "icmp: {n} loopback addresses swept in {:.2} s, {up} answered, {:.2} µs CPU per ping ({:.1} user, {:.1} system; {} socket), peak RSS {} KiB",
            wall.as_secs_f64(),
            used.as_secs_f64() * 1e6 / n as f64,
            (u1 - u0).as_secs_f64() * 1e6 / n as f64,
            (s1 - s0).as_secs_f64() * 1e6 / n as f64,
            if pinger.raw { "raw" } else { "datagram" },
            peak_rss_kib()
        );

        fping(&targets);
        snmp_bench().await;
    });
}

async fn snmp_bench() {
    let polls: usize = std::env::var("VIGIE_BENCH_POLLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let targets: Vec<String> = (1..=20).map(|i| format!("127.0.9.{i}")).collect();
    let agent = common::Snmpd::start(&targets);
    let port = agent.port;
    let settings = SnmpSettings {
        port,
        ..SnmpSettings::default()
    };
    let client = SnmpClient::default();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let c0 = common::self_cpu();
    let w0 = Instant::now();
    let results = futures::future::join_all((0..polls).map(|i| {
        let limit = std::sync::Arc::clone(&limit);
        let (target, settings) = (targets[i % targets.len()].clone(), settings.clone());
        async move {
            let _permit = limit.acquire_owned().await;
            snmp::poll(
                client,
                &target,
                EquipmentKind::Camera,
                &settings,
                None,
                None,
            )
            .await
        }
    }))
    .await;
    let used = common::self_cpu().saturating_sub(c0);
    let ok = results
        .iter()
        .filter(|o| matches!(o.status, vigie::observation::ProbeStatus::Up))
        .count();
    println!(
        "snmp: {polls} polls of 7 OIDs (one GET each) over 20 targets in {:.2} s, {ok} answered, {:.3} ms CPU per poll, peak RSS {} KiB",
        w0.elapsed().as_secs_f64(),
        used.as_secs_f64() * 1e3 / polls as f64,
        peak_rss_kib()
    );
    drop(agent);
}
