//! Metric history: hourly rollups written by the equipment actors into the real store under
//! paused time, read back as the API reads them; and the size a year of them takes on disk.

use crate::support::*;
use std::sync::Arc;
use std::time::Duration;
use vigie::observation::{Metric, Observation};

#[actix_rt::test]
async fn each_hour_of_an_equipment_is_rolled_up_into_one_row() {
    let site = site_head("UTC", "0") + &equipment("nvr", "nvr", None);
    let cfg = config(&main_file(""), &[("s", &site)]);
    let bed = Fleetbed::start(Arc::clone(&cfg), "2026-03-01T09:30:00Z").await;
    let answer = |disk: f64, temp: f64| {
        Observation::up()
            .with_metric(
                Metric::new("system.filesystem.utilization", disk).with("mountpoint", "/hdd1"),
            )
            .with_metric(Metric::new("hw.temperature", temp).with("sensor", "cpu"))
            .with_metric(Metric::new("not.kept", 1.0))
    };
    // 10:00-11:00: the disk at 0.50, then 0.60 from 10:30; 11:00-12:00 at 0.70.
    bed.sim.answer("nvr", answer(0.50, 40.0));
    bed.pass(Duration::from_secs(60 * 60)).await;
    bed.sim.answer("nvr", answer(0.60, 50.0));
    bed.pass(Duration::from_secs(30 * 60)).await;
    bed.sim.answer("nvr", answer(0.70, 45.0));
    bed.pass(Duration::from_secs(90 * 60)).await;
    let from = vigie_core::history::hour_of("2026-03-01T10:00:00Z".parse().expect("t"));
    let hours = bed
        .store
        .reader()
        .history("nvr", from, from + 1)
        .expect("history");
    assert_eq!(hours.len(), 2, "{hours:?}");
    let disk = |i: usize| {
        hours[i]
            .series
            .iter()
            .find(|(k, _)| k.to_string() == "system.filesystem.utilization{mountpoint=/hdd1}")
            .map(|(_, r)| *r)
            .expect("disk series")
    };
    let ten = disk(0);
    assert_eq!((ten.min, ten.max, ten.last), (0.5, 0.6, 0.6));
    assert!((58..=62).contains(&ten.count), "one a minute: {ten:?}");
    assert!((ten.mean - 0.55).abs() < 0.01, "{ten:?}");
    let eleven = disk(1);
    assert_eq!((eleven.min, eleven.max), (0.7, 0.7));
    assert!(
        hours.iter().all(|h| h.series.len() == 2),
        "only kept metrics: {hours:?}"
    );
}

#[test]
fn a_year_of_hourly_rollups_of_a_recorder_stays_within_its_documented_size() {
    // A recorder with 4 volumes, 4 disk statuses, 3 temperatures, CPU, memory, RTT, loss and
    // uptime: 16 series, every hour of a year, for 20 recorders, in a real store.
    const RECORDERS: usize = 20;
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = vigie::store::Store::open(dir.path()).expect("store");
    let mut metrics = Vec::new();
    for d in 1..=4 {
        metrics.push(
            Metric::new("system.filesystem.utilization", 0.8)
                .with("mountpoint", &format!("/hdd{d}")),
        );
        metrics.push(Metric::new("hw.status", 1.0).with("disk", &format!("hdd{d}")));
    }
    for s in ["cpu", "board", "hdd"] {
        metrics.push(Metric::new("hw.temperature", 42.0).with("sensor", s));
    }
    for n in [
        "system.cpu.utilization",
        "system.memory.utilization",
        "network.icmp.rtt",
        "network.icmp.loss",
        "device.uptime",
    ] {
        metrics.push(Metric::new(n, 0.5));
    }
    let start = vigie_core::history::hour_of("2026-01-01T00:00:00Z".parse().expect("t"));
    // Written as the daemon writes them, an hour of every recorder at a time, committed
    // every few hours, so day rows are rewritten as they grow.
    let ids: Vec<vigie::config::EquipmentId> = (0..RECORDERS)
        .map(|r| vigie::config::EquipmentId::new(&format!("nvr-{r:03}")))
        .collect();
    for h in 0..24 * 365 {
        let mut acc = vigie_core::history::Accumulator::default();
        acc.add(vigie_core::history::start_of(start + h), &metrics);
        let (hour, rollups) = acc.take().expect("hour");
        let row = vigie_core::history::encode(&rollups);
        for id in &ids {
            store.put_history(id, hour, row.clone());
        }
        if h % 6 == 5 {
            store.flush_blocking().expect("commit");
        }
    }
    store.close();
    let bytes = std::fs::metadata(dir.path().join(vigie::store::DB_FILE))
        .expect("db")
        .len();
    let per_year = bytes / RECORDERS as u64;
    println!("history: {per_year} bytes per recorder-year (16 series)");
    // Documented in the README: at most 10 MiB per recorder and year.
    assert!(per_year <= 10 << 20, "{per_year} bytes per recorder-year");
}

#[test]
fn the_worst_equipment_year_of_rollups_stays_within_its_documented_bound() {
    // The most an equipment can keep: 48 series (more are not kept), each with attributes of
    // the longest kept length, every hour of a year, written as the daemon writes them.
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = vigie::store::Store::open(dir.path()).expect("store");
    let metrics: Vec<Metric> = (0..60)
        .map(|i| {
            Metric::new("hw.temperature", 40.0 + f64::from(i))
                .with("sensor", &format!("{i:03}-{}", "x".repeat(200)))
        })
        .collect();
    let start = vigie_core::history::hour_of("2026-01-01T00:00:00Z".parse().expect("t"));
    let id = vigie::config::EquipmentId::new("worst");
    let mut kept = 0;
    for h in 0..24 * 365 {
        let mut acc = vigie_core::history::Accumulator::default();
        acc.add(vigie_core::history::start_of(start + h), &metrics);
        let (hour, rollups) = acc.take().expect("hour");
        kept = rollups.series.len();
        store.put_history(&id, hour, vigie_core::history::encode(&rollups));
        if h % 6 == 5 {
            store.flush_blocking().expect("commit");
        }
    }
    store.close();
    assert_eq!(kept, vigie_core::history::MAX_SERIES);
    let bytes = std::fs::metadata(dir.path().join(vigie::store::DB_FILE))
        .expect("db")
        .len();
    println!("history: {bytes} bytes for the worst equipment-year (48 series, longest attributes)");
    // Documented in the README: at most 192 MiB per equipment and year, whatever it reports.
    assert!(
        bytes <= 192 << 20,
        "{bytes} bytes for the worst equipment-year"
    );
}

#[actix_rt::test]
async fn a_filling_disk_and_a_failing_part_become_recommendations_from_the_history() {
    let site = site_head("UTC", "0") + &equipment("nvr", "nvr", None);
    let main = format!("[daemon]\ncollection_interval = \"10m\"\n{}", main_file(""));
    let cfg = config(&main, &[("s", &site)]);
    let bed = Fleetbed::start(Arc::clone(&cfg), "2026-03-01T00:00:00Z").await;
    // Ten days: the disk grows two points a day from 70 %; disk 2 fails on day 3 for 3 hours.
    for day in 0..10 {
        let answer = |status: f64| {
            Observation::up()
                .with_metric(
                    Metric::new(
                        "system.filesystem.utilization",
                        0.70 + 0.02 * f64::from(day),
                    )
                    .with("mountpoint", "/hdd1"),
                )
                .with_metric(Metric::new("hw.status", status).with("disk", "hdd2"))
        };
        if day == 3 {
            bed.sim.answer("nvr", answer(0.0));
            bed.pass(Duration::from_secs(3 * 3600)).await;
            bed.sim.answer("nvr", answer(1.0));
            bed.pass(Duration::from_secs(21 * 3600)).await;
        } else {
            bed.sim.answer("nvr", answer(1.0));
            bed.pass(Duration::from_secs(24 * 3600)).await;
        }
    }
    let q = vigie::availability::Query {
        month: Some("2026-03".into()),
        ..Default::default()
    };
    let found = vigie::availability::signals(&bed.store.reader(), &cfg, &q, bed.clock.now())
        .expect("signals");
    let kinds: Vec<String> = found
        .iter()
        .map(|s| serde_json::to_value(&s.signal).expect("json")["finding"]["kind"].to_string())
        .collect();
    // Both urgent: the disk will be full within a week.
    assert_eq!(
        kinds,
        ["\"disk_filling\"", "\"hardware_failed\""],
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .all(|s| s.equipment == "nvr" && s.client == "c")
    );
    // In the client's report language (French by default), in plain words.
    assert!(
        found[1]
            .recommendation
            .contains("nvr : disque hdd2 signalé en défaut pendant 3 heures"),
        "{}",
        found[1].recommendation
    );
    assert!(
        found[0]
            .recommendation
            .contains("sera plein vers le 2026-03-1"),
        "{}",
        found[0].recommendation
    );
}

#[actix_rt::test]
async fn a_swapped_camera_and_its_odd_firmware_are_found_from_the_facts_over_time() {
    let mut site = site_head("UTC", "0");
    for id in ["cam-1", "cam-2", "cam-3"] {
        site += &equipment(id, "camera", None);
    }
    let main = format!("[daemon]\ncollection_interval = \"10m\"\n{}", main_file(""));
    let cfg = config(&main, &[("s", &site)]);
    let bed = Fleetbed::start(Arc::clone(&cfg), "2026-03-01T00:00:00Z").await;
    let answer = |serial: &str, firmware: &str| {
        let mut o = Observation::up().with_metric(Metric::new("device.clock.offset", 1.0));
        o.facts = vec![
            ("model".into(), "DS-2CD2143".into()),
            ("serial".into(), serial.into()),
            ("firmware".into(), firmware.into()),
        ];
        o
    };
    bed.sim.answer("cam-1", answer("S1", "V5.7.3"));
    bed.sim.answer("cam-2", answer("S2", "V5.7.3"));
    bed.sim.answer("cam-3", answer("S3", "V5.7.3"));
    bed.pass(Duration::from_secs(5 * 86_400)).await;
    // cam-3 is replaced by a unit on an older firmware.
    bed.sim.answer("cam-3", answer("S9", "V5.5.0"));
    bed.pass(Duration::from_secs(86_400)).await;
    let q = vigie::availability::Query {
        month: Some("2026-03".into()),
        ..Default::default()
    };
    let found = vigie::availability::signals(&bed.store.reader(), &cfg, &q, bed.clock.now())
        .expect("signals");
    let texts: Vec<&str> = found.iter().map(|s| s.recommendation.as_str()).collect();
    assert_eq!(found.len(), 2, "{texts:?}");
    assert!(found.iter().all(|s| s.equipment == "cam-3"), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("S3 → S9")), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("firmware V5.5.0, alors que les autres DS-2CD2143 sont en V5.7.3")),
        "{texts:?}"
    );
    // Recorded once per change, not at every collection.
    let facts_events = bed
        .store
        .reader()
        .events_after(0, usize::MAX)
        .expect("events")
        .into_iter()
        .filter(|e| matches!(e.body, vigie::events::EventBody::Facts(_)))
        .count();
    assert_eq!(facts_events, 4);
    // Once the log is compacted past the events that recorded them, the facts its baseline
    // keeps still tell the odd firmware.
    let now = bed.clock.now();
    let compacted = vigie::retention::compact(
        &bed.store.reader(),
        &bed.store,
        now + chrono::Duration::seconds(1),
        now - chrono::Duration::days(400),
    )
    .expect("compact")
    .expect("events removed");
    assert!(compacted.events >= 4, "{compacted:?}");
    bed.store.flush().await.expect("flush");
    let after = vigie::availability::signals(&bed.store.reader(), &cfg, &q, now).expect("signals");
    let texts: Vec<&str> = after.iter().map(|s| s.recommendation.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("firmware V5.5.0, alors que les autres DS-2CD2143 sont en V5.7.3")),
        "{texts:?}"
    );
}

#[actix_rt::test]
async fn a_camera_going_down_again_and_again_is_flagged_as_flapping() {
    let site = site_head("UTC", "5") + &equipment("cam-1", "camera", None);
    let main = format!("[daemon]\ncollection_interval = \"5m\"\n{}", main_file(""));
    let cfg = config(&main, &[("s", &site)]);
    let bed = Fleetbed::start(Arc::clone(&cfg), "2026-03-02T00:00:00Z").await;
    bed.sim.answer("cam-1", Observation::up());
    bed.pass(Duration::from_secs(3600)).await;
    for _ in 0..6 {
        bed.sim.answer("cam-1", Observation::down("no answer"));
        bed.pass(Duration::from_secs(1800)).await;
        bed.sim.answer("cam-1", Observation::up());
        bed.pass(Duration::from_secs(1800)).await;
    }
    let q = vigie::availability::Query {
        month: Some("2026-03".into()),
        ..Default::default()
    };
    let found = vigie::availability::signals(&bed.store.reader(), &cfg, &q, bed.clock.now())
        .expect("signals");
    assert!(
        found.iter().any(|s| s
            .recommendation
            .contains("cam-1 : 6 coupures ce mois-ci contre 0")),
        "{found:?}"
    );
}

#[test]
fn rollups_older_than_thirteen_months_are_removed_by_the_compaction_and_newer_ones_stay() {
    use chrono::{DateTime, Utc};
    let data = tempfile::tempdir().expect("tmp");
    let (store, _) = vigie::store::Store::open(data.path()).expect("store");
    let fleet = vigie::synthetic::Fleet {
        clients: 1,
        sites_per_client: 1,
        cameras_per_site: 0,
    };
    // Fifteen months of rollups, up to now.
    let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().expect("t");
    let from = now - chrono::Duration::days(15 * 31);
    vigie::synthetic::write_history(&store, &fleet, from, now).expect("history");
    let reader = store.reader();
    let nvr = "c000-s00-nvr";
    let all = |r: &vigie::store::StoreReader| {
        r.history(
            nvr,
            vigie_core::history::hour_of(from),
            vigie_core::history::hour_of(now),
        )
        .expect("history")
    };
    let before = all(&reader);
    assert_eq!(before.first().map(|h| h.at), Some(from));
    let cut = now - chrono::Duration::from_std(vigie_core::history::KEPT_FOR).expect("kept");
    vigie::retention::compact(&reader, &store, now - chrono::Duration::days(761), cut)
        .expect("compact");
    store.flush_blocking().expect("flush");
    let after = all(&reader);
    let first = after.first().expect("recent hours stay").at;
    // Whole days are kept or removed: the first hour left is within a day of the cut.
    assert!(
        first >= cut - chrono::Duration::days(1) && first <= cut + chrono::Duration::days(1),
        "first hour kept {first}, cut {cut}"
    );
    assert_eq!(after.last().map(|h| h.at), before.last().map(|h| h.at));
    let recent = |v: &[vigie_core::history::Hour]| {
        v.iter()
            .filter(|h| h.at >= cut + chrono::Duration::days(1))
            .count()
    };
    assert_eq!(
        recent(&after),
        recent(&before),
        "the last 13 months are whole"
    );
    assert!(
        after.len() < before.len() - 24 * 50,
        "the two oldest months are gone"
    );
    store.close();
}
