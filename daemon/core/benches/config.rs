//! Config validation time as the fleet grows: `cargo bench -p vigie-core --bench config`.
//! Each case writes a config directory and times `load_dir` (read, parse, validate: what
//! `vigie check-config` and every reload do), best of three runs.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

const MAIN: &str = "[clients.c]\nname = \"Client\"\n";

/// A site file of `n` cameras under one switch `sw-K`; `parent` names each camera's parent.
fn site(k: usize, n: usize, offset: usize, parent: impl Fn(usize) -> String) -> String {
    let mut s = format!(
        "[site]\nname = \"Site\"\nclient = \"c\"\ntimezone = \"Europe/Paris\"\ncamera_tolerance = 0\n\n[[equipment]]\nid = \"sw-{k}\"\nkind = \"switch\"\naddress = \"10.0.0.1\"\n",
    );
    for i in offset..offset + n {
        let _ = write!(
            s,
            "\n[[equipment]]\nid = \"cam-{i:06}\"\nkind = \"camera\"\naddress = \"10.{}.{}.{}\"\nparent = \"{}\"\n",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255,
            parent(i)
        );
    }
    s
}

fn write_dir(dir: &Path, sites: &[String]) {
    std::fs::write(dir.join("vigie.toml"), MAIN).expect("write");
    std::fs::create_dir_all(dir.join("sites")).expect("mkdir");
    for (i, s) in sites.iter().enumerate() {
        std::fs::write(dir.join(format!("sites/s{i:04}.toml")), s).expect("write");
    }
}

fn time(what: &str, sites: Vec<String>) {
    let dir = tempfile::tempdir().expect("tmp");
    write_dir(dir.path(), &sites);
    let mut best = Duration::MAX;
    let mut outcome = String::new();
    for _ in 0..3 {
        let start = Instant::now();
        let loaded = vigie_core::config::load_dir(dir.path());
        best = best.min(start.elapsed());
        outcome = match loaded {
            Ok(c) => format!("{} equipment loaded", c.equipment_count()),
            Err(e) => format!("{} errors", e.0.len()),
        };
    }
    println!("config: {what}: {:.3} s ({outcome})", best.as_secs_f64());
}

fn main() {
    time(
        "100,000 equipment in 1 site",
        vec![site(0, 100_000, 0, |_| "sw-0".into())],
    );
    time(
        "100,000 equipment in 1,000 sites",
        (0..1000)
            .map(|k| site(k, 100, k * 100, |_| format!("sw-{k}")))
            .collect(),
    );
    time(
        "10,000 equipment in 1 site, each with its own unknown parent",
        vec![site(0, 10_000, 0, |i| format!("sw-x{i}"))],
    );
    time(
        "10,000 equipment in 1 site, all with the same misspelled parent",
        vec![site(0, 10_000, 0, |_| "sw-core".into())],
    );
}
