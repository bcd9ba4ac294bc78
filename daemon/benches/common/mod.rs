//! What the benchmarks that run the real daemon share: the `vigie run` process (killed when
//! the benchmark ends, even by a panic) and its CPU and memory read from /proc.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// CPU time (user + system) of process `pid`, from /proc (10 ms ticks).
pub fn cpu_of(pid: u32) -> Duration {
    let f = stat_fields(&pid.to_string());
    tick(&f, 11) + tick(&f, 12)
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A `vigie run` process on a free port; killed when dropped.
pub struct Daemon {
    child: std::process::Child,
    /// Its API's base URL.
    pub url: String,
}

impl Daemon {
    /// Starts `vigie run --config CONFIG --data DATA` with `extra` arguments and waits for
    /// the API's address on its first line.
    pub fn start(config: &Path, data: &Path, extra: &[&std::ffi::OsStr]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["run", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--data")
            .arg(data)
            .args(extra)
            .env("VIGIE_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("vigie run");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let url = line
            .trim()
            .strip_prefix("vigie listening on ")
            .expect("the API's address")
            .to_string();
        Daemon { child, url }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User and system CPU time of this process.
pub fn self_cpu_split() -> (Duration, Duration) {
    let f = stat_fields("self");
    (tick(&f, 11), tick(&f, 12))
}

/// CPU time (user + system) of this process.
pub fn self_cpu() -> Duration {
    let (user, system) = self_cpu_split();
    user + system
}

/// CPU time (user + system) of the waited-for children of this process.
pub fn children_cpu() -> Duration {
    let f = stat_fields("self");
    tick(&f, 13) + tick(&f, 14)
}

/// The fields of `/proc/{pid}/stat` after the process name (which may hold spaces).
fn stat_fields(pid: &str) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    after_name.split_whitespace().map(str::to_string).collect()
}

/// Field `i` of `stat_fields`, a count of 10 ms clock ticks, as a duration.
fn tick(f: &[String], i: usize) -> Duration {
    Duration::from_millis(f.get(i).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) * 10)
}

/// The `i`-th loopback address from 127.1.0.1 on (every 127/8 address answers on Linux).
pub fn loopback_target(i: usize) -> String {
    format!("127.{}.{}.{}", 1 + i / 62_500, (i / 250) % 250, i % 250 + 1)
}

/// Whether `program` runs (`args` being a harmless call such as `--version`); when it does
/// not, installs Debian's `package` with apt and asks again.
pub fn ensure_tool(program: &str, args: &[&str], package: &str) -> bool {
    let runs = || {
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if runs() {
        return true;
    }
    eprintln!("{program} is missing: installing Debian's {package}");
    let _ = Command::new("apt-get")
        .args(["install", "-y", package])
        .stdout(Stdio::null())
        .status();
    runs()
}

/// The daemon's `/metrics`, parsed.
fn scrape(api: &vigie::client::ApiClient) -> prometheus_parse::Scrape {
    let (_, text) = api.raw("GET", "/metrics", &[], None).expect("metrics");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("a Prometheus exposition")
}

/// Probe runs by outcome, from the daemon's `/metrics`.
pub fn probes(api: &vigie::client::ApiClient) -> Vec<(String, f64)> {
    scrape(api)
        .samples
        .into_iter()
        .filter(|s| s.metric == "vigie_probes_total")
        .filter_map(|s| match s.value {
            prometheus_parse::Value::Counter(v) => Some((s.labels.get("outcome")?.to_string(), v)),
            _ => None,
        })
        .collect()
}

/// How late the daemon's scheduled collections started, from its `/metrics` since its start:
/// the 99th percentile as the upper bound of the histogram bucket holding it, and the count.
pub fn lateness_p99(api: &vigie::client::ApiClient) -> (f64, f64) {
    let buckets = scrape(api)
        .samples
        .into_iter()
        .find(|s| s.metric == "vigie_collection_start_lateness_seconds")
        .and_then(|s| match s.value {
            prometheus_parse::Value::Histogram(b) => Some(b),
            _ => None,
        })
        .unwrap_or_default();
    let count = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
    let p99 = buckets
        .iter()
        .find(|b| b.count >= 0.99 * count)
        .map_or(f64::INFINITY, |b| b.less_than);
    (p99, count)
}

/// A real net-snmp agent (`snmpd`, v2c community `public`) answering on `addresses` at one
/// port, from this machine's own tables; killed when dropped.
pub struct Snmpd {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    /// Its UDP port.
    pub port: u16,
    /// Its process id.
    pub pid: u32,
}

impl Snmpd {
    /// Starts snmpd (Debian's) on `addresses` and waits until it answers.
    pub fn start(addresses: &[String]) -> Snmpd {
        let dir = tempfile::tempdir().expect("tmp");
        let conf = dir.path().join("snmpd.conf");
        std::fs::write(&conf, "rocommunity public 127.0.0.0/8\n").expect("write");
        std::fs::create_dir_all(dir.path().join("mibs")).expect("mkdir");
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .expect("udp")
            .local_addr()
            .expect("addr")
            .port();
        let mut child = Command::new("snmpd")
            .args(["-f", "-Lo", "-C", "-c"])
            .arg(&conf)
            .args(addresses.iter().map(|t| format!("udp:{t}:{port}")))
            .env("SNMP_PERSISTENT_DIR", dir.path())
            .env("MIBS", "")
            .env("MIBDIRS", dir.path().join("mibs"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("snmpd");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        while let Some(Ok(line)) = lines.next() {
            if line.starts_with("NET-SNMP version") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let pid = child.id();
        Snmpd {
            child,
            _dir: dir,
            port,
            pid,
        }
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the test plugin `testbed` for wasm32-wasip2 (once; cargo skips it when up to date)
/// and answers the path of its `.wasm`.
pub fn build_testbed() -> std::path::PathBuf {
    // At run time, not `env!`: a bench binary reused from another checkout must build this one.
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .expect("cargo bench sets CARGO_MANIFEST_DIR")
        .join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"])
        .args(["-p", "vigie-plugin-testbed", "--target-dir"])
        .arg(&target)
        .status()
        .expect("cargo");
    assert!(status.success(), "building the test plugin failed");
    target.join("wasm32-wasip2/plugin/vigie_plugin_testbed.wasm")
}

/// A `usize` from the environment variable `name`, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
