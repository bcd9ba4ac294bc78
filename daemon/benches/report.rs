//! Monthly report benchmark: the generator ([`vigie::synthetic`]) writes a fleet of 100
//! clients × 200 equipment (2 sites of a switch, a recorder and 98 cameras each) and its
//! month into a real store, with a year of hourly rollups of every equipment (the month and
//! the eleven before); then a fresh process makes every client's report as the daemon's
//! monthly run does (one read of the log, each report built, typeset as a PDF and an HTML
//! page, and archived whole) and prints the total time and its peak memory (VmHWM). The
//! history's size per equipment-year is also measured on its own: a site of 100 equipment
//! with a year of rollups, the store's file size divided by them.
//!
//! Run: `cargo bench -p vigie --bench report` (`VIGIE_BENCH_CLIENTS` scales the fleet,
//! `VIGIE_BENCH_HISTORY_MONTHS` the months of rollups, 12 by default, 2 at least).

mod common;

use std::path::Path;
use std::time::Instant;
use vigie::synthetic::Fleet;

const MONTH: &str = "2026-03";

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The child: every client's report, as the monthly run makes them.
fn make_reports(config: &Path, data: &Path) {
    let started = Instant::now();
    let cfg = vigie::config::load_dir(config).expect("config");
    let reader = vigie::store::StoreReader::open(data).expect("store");
    let clients: Vec<&str> = cfg.clients.keys().map(|c| c.as_str()).collect();
    let now: chrono::DateTime<chrono::Utc> = "2026-04-01T06:00:00Z".parse().expect("now");
    let built =
        vigie::report::build_all(&reader, &cfg, &clients, MONTH, now, true).expect("reports");
    let read = started.elapsed();
    let mut pages = 0usize;
    let mut bytes = 0u64;
    for (client, r) in built {
        let r = r.expect("report");
        let path = vigie::report::archive_path(data, &client, MONTH);
        vigie::report::archive(&path, &r, &cfg.reports).expect("archive");
        bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        pages += r.availability.sites.len();
    }
    let total = started.elapsed();
    println!(
        "{} {} {} {} {}",
        clients.len(),
        read.as_secs_f64(),
        total.as_secs_f64(),
        peak_kib(),
        bytes
    );
    let _ = pages;
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_size(&p)
                    } else {
                        std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    if let (Ok(config), Ok(data)) = (
        std::env::var("VIGIE_BENCH_REPORT_CONFIG"),
        std::env::var("VIGIE_BENCH_REPORT_DATA"),
    ) {
        make_reports(Path::new(&config), Path::new(&data));
        return;
    }
    let clients = common::env_usize("VIGIE_BENCH_CLIENTS", 100);
    let fleet = Fleet {
        clients,
        sites_per_client: 2,
        cameras_per_site: 98,
    };
    let equipment = clients * fleet.sites_per_client * fleet.equipment_per_site();
    let tmp = tempfile::tempdir().expect("tmp");
    let (config, data) = (tmp.path().join("config"), tmp.path().join("data"));
    fleet.write_config(&config).expect("config");
    let started = Instant::now();
    let written = {
        let (store, _) = vigie::store::Store::open(&data).expect("store");
        let mut w = vigie::synthetic::write_month(&store, &fleet, MONTH).expect("month");
        // The months of rollups before the two the month's writer makes, up to a year.
        let months = common::env_usize("VIGIE_BENCH_HISTORY_MONTHS", 12).max(2);
        if months > 2 {
            let before: chrono::DateTime<chrono::Utc> = "2026-02-01T00:00:00Z".parse().expect("t");
            let from = before
                .checked_sub_months(chrono::Months::new(u32::try_from(months - 2).unwrap_or(10)))
                .expect("from");
            w.history_days +=
                vigie::synthetic::write_history(&store, &fleet, from, before).expect("history");
        }
        store.close();
        w
    };
    let generated = started.elapsed();
    let store_bytes = dir_size(&data);
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env("VIGIE_BENCH_REPORT_CONFIG", &config)
        .env("VIGIE_BENCH_REPORT_DATA", &data)
        .output()
        .expect("child");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let [n, read, total, peak, pdf_bytes] = f[..] else {
        panic!("unexpected child output: {line}");
    };

    // The history's size per equipment-year: one site of 100 equipment, a year of rollups.
    let year = tempfile::tempdir().expect("tmp");
    let one = Fleet {
        clients: 1,
        sites_per_client: 1,
        cameras_per_site: 98,
    };
    let history_bytes = {
        let (store, _) = vigie::store::Store::open(year.path()).expect("store");
        vigie::synthetic::write_history(
            &store,
            &one,
            "2025-04-01T00:00:00Z".parse().expect("t"),
            "2026-04-01T00:00:00Z".parse().expect("t"),
        )
        .expect("year");
        store.close();
        dir_size(year.path())
    };

    println!("monthly reports, {MONTH}: {n} clients × 200 equipment ({equipment} equipment)");
    println!(
        "  generated: {} events, {} day rows of rollups in {:.1} s; store {:.0} MiB",
        written.events,
        written.history_days,
        generated.as_secs_f64(),
        store_bytes as f64 / (1 << 20) as f64
    );
    println!(
        "  reports: {total:.1} s in all ({read:.1} s reading the log, the alerts and building), {:.2} s per client; peak memory {:.0} MiB; PDFs {:.0} KiB each on average",
        total / n,
        peak / 1024.0,
        pdf_bytes / n / 1024.0
    );
    println!(
        "  history: {:.2} MiB per equipment-year (a site of a switch, a recorder and 98 cameras, a year of hourly rollups; the store file divided by its 100 equipment)",
        history_bytes as f64 / 100.0 / (1 << 20) as f64
    );
}
