//! The real daemon (`vigie run`, its own process) on the demo's simulated fleet: every probe
//! kind through the network path it takes in production — agent scrapes, RTSP, TCP, the four
//! vendor plugins over HTTP with Digest or WS-Security, SNMP to a real snmpd (when installed),
//! pushed heartbeats — at a 1 s collection interval. Prints the probes run per second by
//! outcome, the daemon's CPU per probe and its resident memory. The simulator runs in this
//! process, so its CPU is not in the daemon's figure.
//!
//! Run: `cargo bench --bench demo_fleet`. `VIGIE_BENCH_SECONDS` sets the measured time
//! (default 30 s, after 10 s of warm-up).

mod common;

use std::sync::Arc;
use std::time::Duration;

fn main() {
    let seconds: u64 = std::env::var("VIGIE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().expect("tmp");
    let (config, data) = (dir.path().join("config"), dir.path().join("data"));
    vigie::demo::write_config(&config).expect("demo config");
    let snmp = vigie::demo::sim::snmpd().is_some();
    if !snmp {
        vigie::demo::without_snmp(&config).expect("rewrite");
    }
    // Every equipment collected each second.
    let main = config.join("vigie.toml");
    let text = std::fs::read_to_string(&main).expect("read");
    std::fs::write(
        &main,
        text.replace(
            "collection_interval = \"5s\"",
            "collection_interval = \"1s\"",
        ),
    )
    .expect("write");
    let cfg = vigie::config::load_dir(&config).expect("config");
    let equipment: usize = cfg.sites.values().map(|s| s.equipment.len()).sum();

    let daemon = common::Daemon::start(&config, &data, &[]);
    let pid = daemon.pid();
    let url = daemon.url.clone();
    let api_addr: std::net::SocketAddr =
        url.trim_start_matches("http://").parse().expect("address");
    let api = vigie::client::ApiClient::new(&url)
        .with_token(vigie::client::local_token(&data).expect("local token"));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt.block_on(async {
        Arc::new(
            vigie::demo::sim::Simulator::start(&cfg, api_addr, |id| {
                vigie::demo::secret_of(&cfg, id)
            })
            .expect("simulator"),
        )
    });
    std::thread::sleep(Duration::from_secs(10));
    let (cpu0, probes0) = (common::cpu_of(pid), common::probes(&api));
    std::thread::sleep(Duration::from_secs(seconds));
    let (cpu1, probes1) = (common::cpu_of(pid), common::probes(&api));
    let rss = common::rss_of(pid);
    // The simulator's tasks and snmpd end on the runtime they were started on.
    rt.block_on(async move { drop(sim) });
    drop(daemon);

    let mut total = 0.0;
    let mut by_outcome = Vec::new();
    for (outcome, n) in &probes1 {
        let before = probes0
            .iter()
            .find(|(o, _)| o == outcome)
            .map_or(0.0, |(_, v)| *v);
        total += n - before;
        by_outcome.push(format!("{outcome} {:.0}", n - before));
    }
    let cpu = cpu1.saturating_sub(cpu0);
    println!(
        "demo fleet: {equipment} equipment at 1 s ({}), {seconds} s measured",
        if snmp {
            "SNMP to a real snmpd"
        } else {
            "no snmpd: the SNMP switch over TCP"
        }
    );
    println!(
        "probes: {:.1}/s ({})",
        total / seconds as f64,
        by_outcome.join(", ")
    );
    println!(
        "daemon CPU: {:.2} % of a core, {:.0} µs per probe; resident memory {:.1} MiB",
        cpu.as_secs_f64() * 100.0 / seconds as f64,
        cpu.as_secs_f64() * 1e6 / total.max(1.0),
        rss as f64 / 1024.0
    );
}
