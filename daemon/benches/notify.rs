//! Notification benchmark: the daemon in process on its config (10,000 equipment under the
//! scripted collector, a 1 s collection interval) with a real SMTP sink on loopback
//! (aiosmtpd's `Sink` handler: it accepts every message and keeps nothing).
//!
//! Prints the latency from the rule step that opens an alert to the SMTP server accepting its
//! email (p50, p99; alerts raised 10 at a time, no grouping window), then the outbox
//! throughput to the sink when every remaining equipment raises an alert at once.
//!
//! Run: `cargo bench -p vigie --bench notify` (`VIGIE_BENCH_EQUIPMENT` scales it; needs
//! Debian's `python3-aiosmtpd`).

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigie::collector::ScriptedCollector;
use vigie::observation::{Metric, Observation};

fn full() -> Observation {
    Observation::up()
        .with_metric(Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/hdd"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let total = common::env_usize("VIGIE_BENCH_EQUIPMENT", 10_000);
    let sites = (total / 100).max(1);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut sink = Command::new("/usr/bin/python3")
        .args(["-m", "aiosmtpd", "-n", "-d", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Sink"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aiosmtpd (apt-get install python3-aiosmtpd)");
    let stderr = sink.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    // Connections the sink accepted (its debug log names each peer).
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&connections);
    std::thread::spawn(move || {
        let mut told = false;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if !told && line.contains("Server is listening") {
                told = tx.send(()).is_ok();
            }
            if line.contains("Peer:") {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("aiosmtpd listening");

    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = format!(
        "[daemon]\ncollection_interval = \"1s\"\nmax_probes_in_flight = 4096\n[thresholds]\ndisk = {{ for = \"0s\" }}\n[clients.c]\nname = \"Client\"\n[contacts.jd]\nname = \"Julien\"\nemail = \"jd@example.org\"\n[on_call]\ntechnicians = [\"jd\"]\nmanager = \"jd\"\ntechnical_manager = \"jd\"\n[escalation]\nafter = \"1d\"\n[channels.email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsecurity = \"none\"\nfrom = \"vigie@example.org\"\n"
    );
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    for s in 0..sites {
        let mut text = format!("[site]\nname = \"Site {s}\"\nclient = \"c\"\ntimezone = \"UTC\"\n");
        for e in 0..100 {
            text.push_str(&format!(
                "[[equipment]]\nid = \"s{s}-e{e}\"\nkind = \"nvr\"\naddress = \"10.{}.{}.{}\"\n",
                s / 250,
                s % 250,
                e + 1
            ));
        }
        std::fs::write(cfg.path().join(format!("sites/s{s}.toml")), text).expect("write");
    }
    let sim = ScriptedCollector::new(Observation::up()).without_call_log();
    println!(
        "vigie notification benchmark: {} equipment in {sites} sites, SMTP sink on 127.0.0.1:{port}",
        sites * 100
    );

    let system = actix::System::new();
    system.block_on(async move {
        let opts = vigie::server::Options {
            config_dir: cfg.path().to_path_buf(),
            data_dir: data.path().to_path_buf(),
            collector: std::sync::Arc::new(sim.clone()),
            clock: vigie::clock::Clock::System,
            arbiters: 2,
            http_workers: 1,
            max_probes_in_flight: 4096,
            heartbeats: vigie::collectors::heartbeat::HeartbeatBook::new(chrono::Utc::now()),
            plugins: None,
            start_config: None,
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let d = vigie::server::start(opts, listener).await.expect("start");
        let mut changes = d.outbox.changes();
        let wait_sent = |n: u64| {
            let outbox = d.outbox.clone();
            let mut changes = outbox.changes();
            async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
                while outbox.status().sent < n {
                    assert!(tokio::time::Instant::now() < deadline, "stalled: {:?}", outbox.status());
                    let _ = tokio::time::timeout(Duration::from_secs(5), changes.changed()).await;
                }
            }
        };

        // Latency: 10 alerts at a time, 20 rounds, each round sent before the next.
        let mut latencies: Vec<f64> = Vec::new();
        let mut sent = 0u64;
        for round in 0..20 {
            for k in 0..10 {
                let i = round * 10 + k;
                sim.answer(&format!("s{}-e{}", i / 100, i % 100), full());
            }
            sent += 10;
            wait_sent(sent).await;
        }
        let view = d.outbox.view(1000).expect("outbox");
        for r in &view.sent {
            let ms = (r.at - r.delivery.alert.opened_at).num_microseconds().unwrap_or(0) as f64
                / 1000.0;
            latencies.push(ms);
        }
        latencies.sort_by(f64::total_cmp);
        println!(
            "latency: rule step opening the alert → SMTP accepted, {} alerts 10 at a time: p50 {:.1} ms, p99 {:.1} ms",
            latencies.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        );

        // Throughput: every other equipment at once.
        let rest = (sites * 100) as u64 - sent;
        let before = d.outbox.status().sent;
        for i in (sent as usize)..sites * 100 {
            sim.answer(&format!("s{}-e{}", i / 100, i % 100), full());
        }
        let _ = changes.changed().await;
        let t = Instant::now();
        wait_sent(before + rest).await;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "throughput: {rest} alerts raised within one 1 s collection cycle, all emails accepted by the sink in {secs:.2} s: {:.0} notifications/s (collection and rule steps included)",
            rest as f64 / secs
        );
        println!(
            "SMTP connections opened by the daemon during the run: {}",
            connections.load(std::sync::atomic::Ordering::Relaxed)
        );
        d.stop().await;
    });
    // The peer, in the same run against the same sink: Python's smtplib over 8 persistent
    // connections, sending as fast as it can (what the sink itself can take).
    let peer = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(format!(
            r#"
import smtplib, threading, time
N, M = 8, 500
msg = "From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n\r\nhello\r\n"
def run():
    s = smtplib.SMTP("127.0.0.1", {port})
    for _ in range(M):
        s.sendmail("a@example.org", ["b@example.org"], msg)
    s.quit()
t = time.time()
ts = [threading.Thread(target=run) for _ in range(N)]
[x.start() for x in ts]; [x.join() for x in ts]
print(f"{{N*M}} messages in {{time.time()-t:.2f}} s: {{N*M/(time.time()-t):.0f}}/s")
"#
        ))
        .output();
    match peer {
        Ok(out) if out.status.success() => println!(
            "peer: python smtplib, 8 persistent connections, same sink: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        ),
        Ok(out) => println!(
            "peer: python smtplib failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => println!("peer: cannot run python3: {e}"),
    }
    let _ = sink.kill();
    let _ = sink.wait();
}
