//! vigie against the tools an operator would run instead, in one invocation, on the same
//! targets and this machine, each process's CPU read from its own accounting (`/proc/PID/stat`
//! for the daemon and the exporter, the waited-for children's counters for fping and the
//! check program):
//!
//! - ICMP: the running daemon (`vigie run`, real ICMP, no simulation) collecting 1,000, 10,000
//!   and 100,000 loopback addresses, against `fping -i0` on the same addresses with the same 3
//!   echoes 20 ms apart per address (in calls of 20,000 addresses: fping refuses more than
//!   65,535 targets, and numbers its requests with 16 bits, so a call holds at most 65,535
//!   requests in flight). Echo requests are counted by the kernel (`Icmp: OutEchos` in `/proc/net/snmp`)
//!   for both. The daemon's resident memory per equipment, its config loaded, is read at the
//!   same time.
//! - SNMP: the daemon polling a real snmpd with its standard profile (cameras: one GET of 7
//!   scalars; recorders: the same GET and 7 table walks by GETBULK), against Debian's
//!   `prometheus-snmp-exporter` scraped for the same OIDs from the same snmpd, as many polls
//!   paced over the same wall time.
//! - Plugins: the daemon collecting equipment through the test plugin `testbed` (WebAssembly,
//!   no I/O), against fork/exec of the Nagios-style `check_dummy` as many times over the same
//!   wall time.
//!
//! The daemon's figures are its whole path (scheduling, probe, rules, snapshots, store), not the
//! collector alone. Peers missing are installed with apt; the run exits non-zero only when a
//! peer cannot run, never on a figure.
//!
//! Run: `cargo bench -p vigie --bench peers` (as root: raw ICMP sockets for both). Sizes:
//! `VIGIE_BENCH_ICMP` (comma-separated, default `1000,10000,100000`), `VIGIE_BENCH_SNMP`
//! (equipment, default 200), `VIGIE_BENCH_PLUGINS` (equipment, default 500),
//! `VIGIE_BENCH_SECONDS` (measured time per daemon run, default 30 s).

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHECK_DUMMY: &str = "/usr/lib/nagios/plugins/check_dummy";
const EXPORTER: &str = "prometheus-snmp-exporter";

/// One line of the table.
struct Row {
    what: String,
    unit: &'static str,
    vigie: f64,
    peer: String,
    peer_value: f64,
    goal: &'static str,
}

/// `Icmp: OutEchos` (echo requests sent by this machine), from `/proc/net/snmp`.
fn out_echos() -> u64 {
    let text = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut icmp = text.lines().filter(|l| l.starts_with("Icmp:"));
    let (Some(names), Some(values)) = (icmp.next(), icmp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "OutEchos")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Writes a config of `n` equipment (sites of at most 1,000) made by `equipment(i)`, with the
/// daemon's `collection_interval`.
fn write_config(dir: &Path, n: usize, interval: u64, equipment: impl Fn(usize) -> String) {
    std::fs::create_dir_all(dir.join("sites")).expect("mkdir");
    std::fs::write(
        dir.join("vigie.toml"),
        format!(
            "[daemon]\ncollection_interval = \"{interval}s\"\n\n[clients.c]\nname = \"Client\"\n"
        ),
    )
    .expect("write");
    for site in 0..n.div_ceil(1000) {
        let mut text = format!(
            "[site]\nname = \"Site {site}\"\nclient = \"c\"\ntimezone = \"Europe/Paris\"\ncamera_tolerance = 1000\n"
        );
        for i in site * 1000..((site + 1) * 1000).min(n) {
            let _ = write!(text, "\n[[equipment]]\nid = \"e{i}\"\n{}", equipment(i));
        }
        std::fs::write(dir.join(format!("sites/s{site}.toml")), text).expect("write");
    }
}

/// A measured stretch of a daemon's life: CPU used, wall time, and a counter's increase.
struct Window {
    cpu: Duration,
    wall: Duration,
    count: f64,
}

/// Waits `warm`, then measures the daemon over `seconds`, counting with `counter`.
fn measure(pid: u32, warm: Duration, seconds: u64, counter: impl Fn() -> f64) -> Window {
    std::thread::sleep(warm);
    let c0 = counter();
    let cpu0 = common::cpu_of(pid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let cpu = common::cpu_of(pid).saturating_sub(cpu0);
    let wall = t0.elapsed();
    Window {
        cpu,
        wall,
        count: counter() - c0,
    }
}

/// Measures the daemon over `seconds` after two collection intervals, counting its probe runs
/// (from its `/metrics`); also answers the runs that found their equipment up, since the start.
fn measure_probes(
    daemon: &common::Daemon,
    data: &Path,
    interval: u64,
    seconds: u64,
) -> (Window, f64) {
    let api = vigie::client::ApiClient::new(&daemon.url)
        .with_token(vigie::client::local_token(data).expect("local token"));
    let total = || common::probes(&api).iter().map(|(_, v)| v).sum::<f64>();
    let w = measure(
        daemon.pid(),
        Duration::from_secs(2 * interval),
        seconds,
        total,
    );
    let up = common::probes(&api)
        .iter()
        .find(|(o, _)| o == "up")
        .map(|(_, v)| *v)
        .unwrap_or(0.0);
    (w, up)
}

/// Runs `job(k)` for `k` in `0..n`, spread evenly over `over`, on 8 threads.
fn paced(n: usize, over: Duration, job: impl Fn(usize) + Sync) {
    let start = Instant::now();
    let threads = 8;
    std::thread::scope(|s| {
        for t in 0..threads {
            let job = &job;
            s.spawn(move || {
                for k in (t..n).step_by(threads) {
                    let at = start + over.mul_f64(k as f64 / n.max(1) as f64);
                    if let Some(wait) = at.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    job(k);
                }
            });
        }
    });
}

fn per(cpu: Duration, count: f64) -> f64 {
    cpu.as_secs_f64() * 1e6 / count.max(1.0)
}

fn icmp(n: usize, seconds: u64, memory: &mut Vec<String>) -> Row {
    // A 10 s cycle up to 10,000 (enough echoes to measure), the daemon's 60 s above.
    let interval = if n > 10_000 { 60 } else { 10 };
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    write_config(&config, n, interval, |i| {
        format!(
            "kind = \"camera\"\naddress = \"{}\"\nprobes = [\"icmp\"]\n",
            common::loopback_target(i)
        )
    });
    let daemon = common::Daemon::start(&config, &dir.path().join("data"), &[]);
    // Two cycles to start every equipment and see each one up (their collections are spread
    // over the cycle, the first one records each equipment's first transition): the
    // measure is of the steady state, as fping's.
    let w = measure(
        daemon.pid(),
        Duration::from_secs(2 * interval),
        seconds.max(interval),
        || out_echos() as f64,
    );
    let rss = common::rss_of(daemon.pid());
    let api = vigie::client::ApiClient::new(&daemon.url)
        .with_token(vigie::client::local_token(&dir.path().join("data")).expect("local token"));
    let (late, starts) = common::lateness_p99(&api);
    drop(daemon);
    println!(
        "lateness: {n} equipment, {starts:.0} scheduled collections since the start: 99 % started within {late} s of their due instant"
    );
    memory.push(format!(
        "memory: {n} equipment collected by real ICMP: {:.0} bytes of resident memory per equipment with the config loaded ({:.0} MiB in all)",
        rss as f64 * 1024.0 / n as f64,
        rss as f64 / 1024.0
    ));
    println!(
        "icmp: vigie, {n} equipment every {interval} s: {:.0} echo requests in {:.1} s, {:.2} s of CPU ({:.1} % of a core)",
        w.count,
        w.wall.as_secs_f64(),
        w.cpu.as_secs_f64(),
        w.cpu.as_secs_f64() * 100.0 / w.wall.as_secs_f64()
    );

    // fping on the same addresses: 3 echoes 20 ms apart each, as the daemon's ping_count and
    // spacing; 20,000 targets (60,000 requests) a call, within its 16-bit sequence numbers.
    let targets: Vec<String> = (0..n).map(common::loopback_target).collect();
    let (cpu0, e0, t0) = (common::children_cpu(), out_echos(), Instant::now());
    for chunk in targets.chunks(20_000) {
        let list = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(list.path(), chunk.join("\n")).expect("write");
        let status = Command::new("fping")
            .args(["-q", "-c", "3", "-p", "20", "-i", "0", "-t", "1000", "-f"])
            .arg(list.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("fping");
        assert!(
            matches!(status.code(), Some(0 | 1)),
            "fping failed: {status}"
        );
    }
    let (cpu, echoes) = (
        common::children_cpu().saturating_sub(cpu0),
        (out_echos() - e0) as f64,
    );
    println!(
        "icmp: fping -i0, the same {n} addresses: {echoes:.0} echo requests in {:.1} s, {:.2} s of CPU",
        t0.elapsed().as_secs_f64(),
        cpu.as_secs_f64()
    );
    Row {
        what: format!("ICMP, {n} targets, CPU per echo request"),
        unit: "µs",
        vigie: per(w.cpu, w.count),
        peer: "fping -i0".into(),
        peer_value: per(cpu, echoes),
        goal: "≤ 1.5×",
    }
}

/// The snmp_exporter module reading what vigie's standard profile reads for `kind`.
fn exporter_module(name: &str, walks: bool) -> String {
    let scalars = [
        ("sysDescr", "1.3.6.1.2.1.1.1", "DisplayString"),
        ("sysUpTime", "1.3.6.1.2.1.1.3", "gauge"),
        ("sysName", "1.3.6.1.2.1.1.5", "DisplayString"),
        ("hrSystemUptime", "1.3.6.1.2.1.25.1.1", "gauge"),
        ("memTotalReal", "1.3.6.1.4.1.2021.4.5", "gauge"),
        ("memAvailReal", "1.3.6.1.4.1.2021.4.6", "gauge"),
    ];
    let mut m = format!(
        "{name}:\n  version: 2\n  auth:\n    community: public\n  retries: 1\n  timeout: 2s\n  max_repetitions: 25\n  get:\n"
    );
    for (_, oid, _) in scalars {
        let _ = writeln!(m, "  - {oid}.0");
    }
    m.push_str("  - 1.3.6.1.4.1.2021.10.1.3.1\n");
    // Table columns: (walked entry, column, name, type, index label).
    let tables: &[(&str, u32, &str, &str, &str)] = &[
        (
            "1.3.6.1.2.1.25.3.3.1",
            2,
            "hrProcessorLoad",
            "gauge",
            "hrDeviceIndex",
        ),
        (
            "1.3.6.1.2.1.25.2.3.1",
            3,
            "hrStorageDescr",
            "DisplayString",
            "hrStorageIndex",
        ),
        (
            "1.3.6.1.2.1.25.2.3.1",
            4,
            "hrStorageAllocationUnits",
            "gauge",
            "hrStorageIndex",
        ),
        (
            "1.3.6.1.2.1.25.2.3.1",
            5,
            "hrStorageSize",
            "gauge",
            "hrStorageIndex",
        ),
        (
            "1.3.6.1.2.1.25.2.3.1",
            6,
            "hrStorageUsed",
            "gauge",
            "hrStorageIndex",
        ),
        (
            "1.3.6.1.4.1.2021.9.1",
            2,
            "dskPath",
            "DisplayString",
            "dskIndex",
        ),
        ("1.3.6.1.4.1.2021.9.1", 9, "dskPercent", "gauge", "dskIndex"),
        (
            "1.3.6.1.4.1.2021.2.1",
            2,
            "prNames",
            "DisplayString",
            "prIndex",
        ),
        ("1.3.6.1.4.1.2021.2.1", 5, "prCount", "gauge", "prIndex"),
        (
            "1.3.6.1.4.1.2021.13.16.2.1",
            2,
            "lmTempSensorsDevice",
            "DisplayString",
            "lmTempSensorsIndex",
        ),
        (
            "1.3.6.1.4.1.2021.13.16.2.1",
            3,
            "lmTempSensorsValue",
            "gauge",
            "lmTempSensorsIndex",
        ),
        (
            "1.3.6.1.2.1.99.1.1.1",
            1,
            "entPhySensorType",
            "gauge",
            "entPhysicalIndex",
        ),
        (
            "1.3.6.1.2.1.99.1.1.1",
            2,
            "entPhySensorScale",
            "gauge",
            "entPhysicalIndex",
        ),
        (
            "1.3.6.1.2.1.99.1.1.1",
            4,
            "entPhySensorValue",
            "gauge",
            "entPhysicalIndex",
        ),
        (
            "1.3.6.1.2.1.99.1.1.1",
            5,
            "entPhySensorOperStatus",
            "gauge",
            "entPhysicalIndex",
        ),
        (
            "1.3.6.1.2.1.25.3.2.1",
            3,
            "hrDeviceDescr",
            "DisplayString",
            "hrDeviceIndex",
        ),
        (
            "1.3.6.1.2.1.25.3.2.1",
            5,
            "hrDeviceStatus",
            "gauge",
            "hrDeviceIndex",
        ),
    ];
    if walks {
        // The subtrees vigie's profile walks on a recorder, in its order.
        m.push_str("  walk:\n");
        for root in [
            "1.3.6.1.2.1.25.3.3.1.2",
            "1.3.6.1.2.1.25.2.3.1",
            "1.3.6.1.4.1.2021.9.1",
            "1.3.6.1.4.1.2021.2.1",
            "1.3.6.1.4.1.2021.13.16.2.1",
            "1.3.6.1.2.1.99.1.1.1",
            "1.3.6.1.2.1.25.3.2.1",
        ] {
            let _ = writeln!(m, "  - {root}");
        }
    }
    m.push_str("  metrics:\n");
    for (metric, oid, kind) in scalars {
        let _ = writeln!(m, "  - name: {metric}\n    oid: {oid}\n    type: {kind}");
    }
    m.push_str("  - name: laLoad\n    oid: 1.3.6.1.4.1.2021.10.1.3\n    type: DisplayString\n    indexes:\n    - labelname: laIndex\n      type: gauge\n");
    if walks {
        for (entry, column, metric, kind, index) in tables {
            let _ = writeln!(
                m,
                "  - name: {metric}\n    oid: {entry}.{column}\n    type: {kind}\n    indexes:\n    - labelname: {index}\n      type: gauge"
            );
        }
    }
    m
}

fn snmp(kind: &str, n: usize, seconds: u64) -> Row {
    let addresses: Vec<String> = (1..=20).map(|i| format!("127.0.9.{i}")).collect();
    let agent = common::Snmpd::start(&addresses);
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    let interval = 2;
    write_config(&config, n, interval, |i| {
        format!(
            "kind = \"{kind}\"\naddress = \"{}\"\nprobes = [\"snmp\"]\nsnmp = {{ port = {} }}\n",
            addresses[i % addresses.len()],
            agent.port
        )
    });
    let daemon = common::Daemon::start(&config, &dir.path().join("data"), &[]);
    let (w, up) = measure_probes(&daemon, &dir.path().join("data"), interval, seconds);
    drop(daemon);
    println!(
        "snmp {kind}: vigie, {n} equipment every {interval} s: {:.0} polls in {:.1} s ({up:.0} up since the start), {:.2} s of CPU",
        w.count,
        w.wall.as_secs_f64(),
        w.cpu.as_secs_f64()
    );

    // The exporter, scraped for the same OIDs as many times over the same wall time.
    let module = format!("vigie_{kind}");
    let yml = dir.path().join("snmp.yml");
    std::fs::write(&yml, exporter_module(&module, kind != "camera")).expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("tcp")
        .local_addr()
        .expect("addr")
        .port();
    let mut exporter = Command::new(EXPORTER)
        .arg(format!("--config.file={}", yml.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("snmp_exporter");
    let base = format!("http://127.0.0.1:{port}");
    let client = vigie::client::ApiClient::new(&base).with_timeout(Duration::from_secs(10));
    let scrape = |k: usize| {
        let path = format!(
            "/snmp?module={module}&target={}:{}",
            addresses[k % addresses.len()],
            agent.port
        );
        client.raw("GET", &path, &[], None)
    };
    let ready = Instant::now();
    loop {
        match scrape(0) {
            Ok((200, body)) if body.contains("sysUpTime") => break,
            Ok((status, body)) => panic!("snmp_exporter answered {status}: {body}"),
            Err(_) if ready.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("snmp_exporter does not answer: {e}"),
        }
    }
    let polls = w.count.round() as usize;
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let cpu0 = common::cpu_of(exporter.id());
    let t0 = Instant::now();
    paced(polls, w.wall, |k| {
        if !matches!(scrape(k), Ok((200, _))) {
            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let cpu = common::cpu_of(exporter.id()).saturating_sub(cpu0);
    let _ = exporter.kill();
    let _ = exporter.wait();
    println!(
        "snmp {kind}: snmp_exporter, the same OIDs from the same snmpd: {polls} scrapes in {:.1} s ({} failed), {:.2} s of CPU",
        t0.elapsed().as_secs_f64(),
        failed.into_inner(),
        cpu.as_secs_f64()
    );
    let what = if kind == "camera" {
        "SNMP, camera profile (1 GET of 7 OIDs), CPU per poll"
    } else {
        "SNMP, recorder profile (GET + 7 walks), CPU per poll"
    };
    Row {
        what: what.into(),
        unit: "µs",
        vigie: per(w.cpu, w.count),
        peer: "snmp_exporter".into(),
        peer_value: per(cpu, polls as f64),
        goal: "≤ 0.2×",
    }
}

fn plugins(n: usize, seconds: u64) -> Row {
    let wasm = common::build_testbed();
    let dir = tempfile::tempdir().expect("tmp");
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("mkdir");
    std::fs::copy(&wasm, plugin_dir.join("testbed.wasm")).expect("copy");
    let config = dir.path().join("config");
    let interval = 5;
    write_config(&config, n, interval, |_| {
        "kind = \"nvr\"\naddress = \"127.0.0.1\"\nprobes = [\"plugin:testbed\"]\nplugin_params = { channels = \"1:online,2:offline\" }\n".into()
    });
    let daemon = common::Daemon::start(
        &config,
        &dir.path().join("data"),
        &["--plugins".as_ref(), plugin_dir.as_os_str()],
    );
    let (w, _) = measure_probes(&daemon, &dir.path().join("data"), interval, seconds);
    drop(daemon);
    println!(
        "plugins: vigie, {n} equipment through the testbed plugin every {interval} s: {:.0} calls in {:.1} s, {:.2} s of CPU",
        w.count,
        w.wall.as_secs_f64(),
        w.cpu.as_secs_f64()
    );
    let runs = w.count.round() as usize;
    let cpu0 = common::children_cpu();
    let t0 = Instant::now();
    paced(runs, w.wall, |_| {
        let _ = Command::new(CHECK_DUMMY)
            .args(["0", "ok"])
            .stdout(Stdio::null())
            .status();
    });
    let cpu = common::children_cpu().saturating_sub(cpu0);
    println!(
        "plugins: fork/exec of check_dummy, {runs} runs in {:.1} s: {:.2} s of CPU in the children (the parent's fork not counted)",
        t0.elapsed().as_secs_f64(),
        cpu.as_secs_f64()
    );
    Row {
        what: "plugin probe (testbed, no I/O), CPU per call".into(),
        unit: "µs",
        vigie: per(w.cpu, w.count),
        peer: "fork/exec check_dummy".into(),
        peer_value: per(cpu, runs as f64),
        goal: "≤ 20 µs",
    }
}

fn main() {
    let seconds = common::env_usize("VIGIE_BENCH_SECONDS", 30) as u64;
    let sizes: Vec<usize> = std::env::var("VIGIE_BENCH_ICMP")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let peers = [
        ("fping", common::ensure_tool("fping", &["-v"], "fping")),
        ("snmpd", common::ensure_tool("snmpd", &["-v"], "snmpd")),
        (
            EXPORTER,
            common::ensure_tool(EXPORTER, &["--version"], EXPORTER),
        ),
        (
            "check_dummy",
            common::ensure_tool(CHECK_DUMMY, &["0", "ok"], "monitoring-plugins-basic"),
        ),
    ];
    let mut rows = Vec::new();
    let mut memory = Vec::new();
    if peers[0].1 {
        for n in sizes {
            rows.push(icmp(n, seconds, &mut memory));
        }
    }
    if peers[1].1 && peers[2].1 {
        let n = common::env_usize("VIGIE_BENCH_SNMP", 200);
        rows.push(snmp("camera", n, seconds));
        rows.push(snmp("nvr", n, seconds));
    }
    if peers[3].1 {
        rows.push(plugins(
            common::env_usize("VIGIE_BENCH_PLUGINS", 500),
            seconds,
        ));
    }
    println!();
    println!("| what | vigie | peer | vigie / peer | goal |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.1} {} | {}: {:.1} {} | {:.2}× | {} |",
            r.what,
            r.vigie,
            r.unit,
            r.peer,
            r.peer_value,
            r.unit,
            r.vigie / r.peer_value.max(f64::MIN_POSITIVE),
            r.goal
        );
    }
    for m in &memory {
        println!("{m}");
    }
    let missing: Vec<&str> = peers.iter().filter(|p| !p.1).map(|p| p.0).collect();
    if !missing.is_empty() {
        eprintln!("error: these peers cannot run: {}", missing.join(", "));
        std::process::exit(1);
    }
}
