//! What the benchmarks that run the real daemon share: the `vigie run` process (killed when
//! the benchmark ends, even by a panic) and its CPU and memory read from /proc.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// CPU time (user + system) of process `pid`, from /proc (10 ms ticks).
pub fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after_name.split_whitespace().collect();
    let tick = |i: usize| {
        Duration::from_millis(f.get(i).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) * 10)
    };
    tick(11) + tick(12)
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
