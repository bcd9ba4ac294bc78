//! Fleet benchmark: 100,000 equipment actors across 2,000 sites fed by the scripted collector
//! at a 60 s cycle (in paused tokio time, so cycles run as fast as the CPU allows).
//!
//! The fleet is a realistic mix, not everything up: in every 100 sites, 2 have their switch
//! down (their cameras unreachable behind it), 1 camera in 100 is down, 1 in 100 flaps (down
//! and up at alternate collections), and the recorders answer after 2 s (a slow vendor
//! probe).
//!
//! Prints: memory per equipment, CPU per observation evaluated, time to apply a reload that
//! changes 1 % of the fleet, and time to restore 100,000 snapshots on start.
//!
//! Run: `cargo bench --bench fleet` (`VIGIE_BENCH_SITES` and `VIGIE_BENCH_PER_SITE` scale it).

#![allow(unsafe_code)] // The counting allocator below wraps the system allocator.

mod common;

use actix::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System as SystemAlloc};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use vigie::actors::{ApplyConfig, Deps, EquipmentLookup, Fleet, FleetQuery, Shutdown};
use vigie::book::AlertBook;
use vigie::clock::Clock;
use vigie::collector::{Script, ScriptedCollector};
use vigie::config::{Config, EquipmentId, Sources, load_sources};
use vigie::observation::{Metric, Observation};
use vigie::store::{AlertIds, Store};

/// Counts live heap bytes, to report the memory an equipment holds (freed memory excluded).
struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { SystemAlloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { SystemAlloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { SystemAlloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_heap() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// A config of `sites` sites with `per_site` equipment each (a switch, an NVR, cameras);
/// `tuned` sites get a different disk threshold on every equipment (the 1 % reload).
fn config(sites: usize, per_site: usize, tuned: usize) -> Config {
    let mut out = Sources {
        main: Some("[clients.c]\nname = \"Client\"\n".into()),
        sites: Vec::with_capacity(sites),
        unreadable: Vec::new(),
        dir: None,
    };
    for s in 0..sites {
        let mut t = format!(
            "[site]\nname = \"Site {s}\"\nclient = \"c\"\ntimezone = \"Europe/Paris\"\ncamera_tolerance = \"5%\"\n"
        );
        let th = if s < tuned {
            "thresholds = { disk = { warning = 80 } }\n"
        } else {
            ""
        };
        for e in 0..per_site {
            let (kind, parent) = match e {
                0 => ("switch", String::new()),
                1 => ("nvr", format!("parent = \"s{s}-e0\"\n")),
                _ => ("camera", format!("parent = \"s{s}-e0\"\n")),
            };
            let _ = write!(
                t,
                "[[equipment]]\nid = \"s{s}-e{e}\"\nkind = \"{kind}\"\naddress = \"10.{}.{}.{}\"\n{parent}{th}",
                s / 250,
                s % 250,
                e
            );
        }
        out.sites
            .push((PathBuf::from(format!("sites/s{s}.toml")), t));
    }
    match load_sources(&out) {
        Ok(c) => c,
        Err(e) => panic!("bench config invalid: {e}"),
    }
}

fn main() {
    let sites = common::env_usize("VIGIE_BENCH_SITES", 2_000);
    let per_site = common::env_usize("VIGIE_BENCH_PER_SITE", 50);
    let total = sites * per_site;
    let data = tempfile::tempdir().expect("temp dir");
    println!(
        "vigie fleet benchmark: {total} equipment in {sites} sites, 60 s cycle, scripted collector"
    );

    let t = Instant::now();
    let cfg = Arc::new(config(sites, per_site, 0));
    let tuned = Arc::new(config(sites, per_site, sites / 100));
    println!(
        "config: generated and validated 2 configs in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let sim = ScriptedCollector::new(Observation::up()).without_call_log();
    let silent = || Observation::down("no answer to 3 ICMP echo requests");
    let mut switches_down = 0;
    for s in 0..sites {
        sim.set(
            &format!("s{s}-e1"),
            Script::Slow(
                Duration::from_secs(2),
                Observation::up()
                    .with_metric(
                        Metric::new("system.filesystem.utilization", 0.5)
                            .with("mountpoint", "/hdd"),
                    )
                    .with_metric(Metric::new("hw.temperature", 45.0))
                    .with_metric(Metric::new("service.up", 1.0).with("service", "recording")),
            ),
        );
        if s % 100 < 2 {
            sim.answer(&format!("s{s}-e0"), silent());
            switches_down += 1;
        }
    }
    let (mut down, mut flapping) = (0, 0);
    for n in 0..total {
        let (s, e) = (n / per_site, n % per_site);
        if e < 2 || s % 100 < 2 {
            continue;
        }
        let id = format!("s{s}-e{e}");
        match n % 100 {
            7 => {
                sim.answer(&id, silent());
                down += 1;
            }
            57 => {
                sim.set(&id, Script::alternate(silent(), Observation::up()));
                flapping += 1;
            }
            _ => {}
        }
    }
    println!(
        "mix: {switches_down} sites with their switch down, {down} cameras down, {flapping} flapping, {sites} recorders answering after 2 s"
    );

    let system = System::new();
    system.block_on(async {
        tokio::time::pause();
        let (store, restored) = Store::open(data.path()).expect("store");
        let deps = Deps::new(
            store.clone(),
            Arc::new(sim.clone()),
            Clock::tokio_at("2026-06-01T00:00:00Z".parse().expect("t")),
            AlertIds::starting_at(restored.next_alert_id),
            AlertBook::default(),
            4096,
        );
        let rss0 = common::rss_of(std::process::id()) * 1024;
        let heap0 = live_heap();
        let fleet = Fleet::new(deps, restored, Vec::new()).start();
        fleet.send(ApplyConfig(Arc::clone(&cfg))).await.expect("apply");
        let _ = fleet.send(FleetQuery).await;
        let started = live_heap();
        // One full cycle so every actor has collected and holds its state.
        tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_secs(61)).await;
        // Let the store's writer thread drain its queue without letting virtual time move
        // (a blocking wait does not advance paused tokio time), so nothing is in flight.
        std::thread::sleep(Duration::from_millis(500));
        let rss1 = common::rss_of(std::process::id()) * 1024;
        let heap1 = live_heap();
        println!(
            "memory: {:.0} bytes per equipment once started, before any collection",
            (started - heap0) as f64 / total as f64
        );
        println!(
            "memory: {:.0} bytes of live heap per equipment (actor, state, mailbox, timers, site view; config excluded); RSS +{:.0} bytes per equipment",
            (heap1 - heap0) as f64 / total as f64,
            rss1.saturating_sub(rss0) as f64 / total as f64
        );

        let calls0 = sim.total_calls();
        let c0 = common::self_cpu();
        let w0 = Instant::now();
        let cycles = 5u64;
        tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_secs(60 * cycles)).await;
        let cpu_used = common::self_cpu().saturating_sub(c0);
        let calls1 = sim.total_calls();
        let observations = calls1.saturating_sub(calls0);
        println!(
            "cpu: {:.2} µs per observation evaluated ({observations} observations over {cycles} cycles, {:.2} s CPU, {:.2} s wall)",
            cpu_used.as_secs_f64() * 1e6 / observations.max(1) as f64,
            cpu_used.as_secs_f64(),
            w0.elapsed().as_secs_f64()
        );

        let t = Instant::now();
        let diff = fleet.send(ApplyConfig(Arc::clone(&tuned))).await.expect("apply");
        let _ = fleet.send(FleetQuery).await;
        for s in 0..sites / 100 {
            let id = EquipmentId::new(&format!("s{s}-e{}", per_site - 1));
            let _ = fleet.send(EquipmentLookup(id)).await;
        }
        println!(
            "reload: {:.3} s to apply a change to 1 % of the fleet ({} sites, {} equipment changed)",
            t.elapsed().as_secs_f64(),
            diff.to_change.len(),
            diff.to_change.len() * per_site
        );

        fleet.send(Shutdown).await.expect("shutdown");
        store.flush().await.expect("flush");
        store.close();
    });

    System::new().block_on(async {
        let t = Instant::now();
        let (store, restored) = Store::open(data.path()).expect("reopen");
        let n = restored.equipment.len();
        let read = t.elapsed();
        let deps = Deps::new(
            store.clone(),
            Arc::new(sim.clone()),
            Clock::System,
            AlertIds::starting_at(restored.next_alert_id),
            AlertBook::default(),
            4096,
        );
        let fleet = Fleet::new(deps, restored, Vec::new()).start();
        fleet.send(ApplyConfig(Arc::clone(&tuned))).await.expect("apply");
        let status = fleet.send(FleetQuery).await.expect("status");
        let running: usize = status.by_status.values().sum();
        println!(
            "restore: {:.3} s to read {n} equipment snapshots, {:.3} s until {running} actors run with their restored state",
            read.as_secs_f64(),
            t.elapsed().as_secs_f64()
        );
        fleet.send(Shutdown).await.expect("shutdown");
        store.close();
    });
}
