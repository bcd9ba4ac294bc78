//! Availability from a real fleet's event log under paused time: a switch down with its
//! cameras behind it, a camera down inside its maintenance window, figures computed by hand;
//! and the daemon's API and `vigie availability` on a stopped daemon's data agreeing with the
//! one computation.

use crate::support::*;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use vigie::availability::{Query, format_rate};
use vigie::config::{EquipmentId, SiteId};
use vigie::events::EventBody;
use vigie::observation::Observation;
use vigie::rules::Status;

const H: i64 = 3_600_000;

fn transitions_of(bed: &Fleetbed, id: &str) -> Vec<(DateTime<Utc>, Status)> {
    bed.store
        .reader()
        .events_after(0, usize::MAX)
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Transition(t) if t.equipment.as_str() == id => Some((e.at, t.to)),
            _ => None,
        })
        .collect()
}

#[actix_rt::test]
async fn a_day_of_a_site_counts_downtime_blames_the_switch_and_leaves_maintenance_out() {
    // Paris in winter (UTC+1): the local day of 2 March is 1 March 23:00 → 2 March 23:00 UTC.
    let mut site = site_head("Europe/Paris", "2");
    site += &equipment("sw", "switch", None);
    site += &equipment("cam-1", "camera", Some("sw"));
    site += &equipment("cam-2", "camera", Some("sw"));
    // 14:00-16:00 local on cam-1 only.
    site.push_str("\n[[maintenance]]\nname = \"lens\"\nstart = \"2026-03-02T14:00\"\nduration = \"2h\"\nequipment = [\"cam-1\"]\n");
    let cfg = config(&main_file(""), &[("s", &site)]);
    let bed = Fleetbed::start(Arc::clone(&cfg), "2026-03-01T22:00:00Z").await;
    bed.minutes(120).await;
    // 10:00 local: the switch fails for an hour; its cameras are cut off.
    bed.pass(Duration::from_secs(9 * 3600 + 60)).await;
    for id in ["sw", "cam-1", "cam-2"] {
        bed.sim.answer(id, Observation::down("no answer"));
    }
    bed.minutes(60).await;
    for id in ["sw", "cam-1", "cam-2"] {
        bed.sim.answer(id, Observation::up());
    }
    // 14:30 local, in its window: cam-1 is down for an hour.
    bed.pass(Duration::from_secs(3 * 3600 + 30 * 60)).await;
    bed.sim.answer("cam-1", Observation::down("unplugged"));
    bed.minutes(60).await;
    bed.sim.answer("cam-1", Observation::up());
    // To the end of the local day and beyond.
    bed.pass(Duration::from_secs(10 * 3600)).await;

    let q = Query {
        month: None,
        from: Some("2026-03-02".into()),
        to: Some("2026-03-03".into()),
        ..Query::default()
    };
    let a = vigie::availability::read(&bed.store.reader(), &cfg, &q, bed.clock.now(), true)
        .expect("availability");
    let p = a.periods[&SiteId::new("s")];
    assert_eq!(
        p.from,
        "2026-03-01T23:00:00Z".parse::<DateTime<Utc>>().expect("t")
    );
    assert_eq!((p.to - p.from).num_hours(), 24);

    // The switch: down from its Down transition to its Up one, whatever the detection delay.
    let sw = transitions_of(&bed, "sw");
    let down_at = sw.iter().find(|(_, s)| *s == Status::Down).expect("down").0;
    let up_at = sw
        .iter()
        .find(|(at, s)| *s == Status::Up && *at > down_at)
        .expect("up again")
        .0;
    let outage = (up_at - down_at).num_milliseconds();
    assert!((59 * 60_000..=61 * 60_000).contains(&outage), "{outage}");
    let e = |id: &str| a.equipment[&EquipmentId::new(id)].clone();
    assert_eq!(e("sw").figures.down_ms, outage);
    assert_eq!(e("sw").figures.up_ms, 24 * H - outage);
    // Its cameras: each span between two of their transitions, by the status it began with
    // (a camera collected just before its switch is first seen down, for seconds, then
    // unreachable behind it until a collection finds it again).
    let spans = |id: &str, status: Status| -> i64 {
        let t = transitions_of(&bed, id);
        t.windows(2)
            .filter(|w| w[0].1 == status)
            .map(|w| (w[1].0 - w[0].0).num_milliseconds())
            .sum()
    };
    let mut cut_off = 0;
    for cam in ["cam-1", "cam-2"] {
        let c = e(cam);
        let behind = spans(cam, Status::Unreachable);
        assert!(
            (58 * 60_000..=61 * 60_000).contains(&behind),
            "{cam}: {behind}"
        );
        assert_eq!(c.figures.unreachable_ms, behind, "{cam}");
        assert_eq!(
            c.unreachable_behind.get(&EquipmentId::new("sw")).copied(),
            Some(behind),
            "{cam}"
        );
        assert_eq!(
            c.figures.unsupervised_ms,
            spans(cam, Status::Unknown),
            "{cam}"
        );
        cut_off += behind;
    }
    assert_eq!(e("sw").caused_unreachable_ms, cut_off);
    // cam-2: its own down time is the seconds before its switch was seen down.
    let cam2 = e("cam-2");
    assert_eq!(cam2.figures.down_ms, spans("cam-2", Status::Down));
    assert!(cam2.figures.down_ms < 60_000, "{cam2:?}");
    // cam-1: the window's two hours exactly; its hour down inside them is not counted.
    let cam1 = e("cam-1");
    assert_eq!(cam1.figures.maintenance_ms, 2 * H);
    let down_in_window = spans("cam-1", Status::Down) - cam1.figures.down_ms;
    assert!(
        (59 * 60_000..=61 * 60_000).contains(&down_in_window),
        "{down_in_window}"
    );
    // Every millisecond of the day is counted once.
    for (id, x) in &a.equipment {
        let f = x.figures;
        assert_eq!(
            f.up_ms + f.down_ms + f.unreachable_ms + f.maintenance_ms + f.unsupervised_ms,
            24 * H,
            "{id}"
        );
    }
    // The site: every equipment-hour not up outside maintenance counts against it.
    let site = a.sites[&SiteId::new("s")];
    let sum = |f: fn(&vigie::availability::Figures) -> i64| -> i64 {
        a.equipment.values().map(|x| f(&x.figures)).sum()
    };
    assert_eq!(site.figures.up_ms, sum(|f| f.up_ms));
    let counted = sum(|f| f.up_ms + f.down_ms + f.unreachable_ms);
    assert_eq!(counted, 3 * 24 * H - 2 * H - sum(|f| f.unsupervised_ms));
    let expected = 100.0 * site.figures.up_ms as f64 / counted as f64;
    assert_eq!(format_rate(site.rate), format_rate(Some(expected)));
    // About 67 of 70 equipment-hours: 95.7 %.
    assert!(site.rate.is_some_and(|r| r > 95.6 && r < 95.8), "{site:?}");
    assert_eq!(a.clients[&vigie::config::ClientId::new("c")], site);
    // The report of the month shows the same figures, to the digit, and the switch's outage
    // as an incident that resolved by itself.
    let report = vigie::report::build(
        &bed.store.reader(),
        &cfg,
        "c",
        "2026-03",
        bed.clock.now(),
        true,
    )
    .expect("report");
    let month = vigie::availability::read(
        &bed.store.reader(),
        &cfg,
        &Query {
            client: Some("c".into()),
            month: Some("2026-03".into()),
            ..Query::default()
        },
        bed.clock.now(),
        true,
    )
    .expect("availability");
    assert_eq!(report.availability, month);
    let page = vigie::report::html(&report, &cfg.reports);
    let rate = format_rate(month.clients[&vigie::config::ClientId::new("c")].rate);
    assert!(
        page.contains(&format!("<strong>{rate}</strong>")),
        "{rate}: {page}"
    );
    assert!(page.contains("Disponibilité par site"), "{page}");
    let outage = report
        .incidents
        .iter()
        .find(|i| i.owner.contains("sw"))
        .unwrap_or_else(|| panic!("the switch's incident: {:?}", report.incidents));
    assert_eq!(outage.resolution.as_deref(), Some(""));
    assert!(page.contains("résolu de lui-même"), "{page}");
    // The window's bounds are in the log, as its timer fired (within a second of them).
    let windows: Vec<(DateTime<Utc>, bool)> = bed
        .store
        .reader()
        .events_after(0, usize::MAX)
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Maintenance(m) => Some((e.at, m.active)),
            _ => None,
        })
        .collect();
    assert_eq!(windows.len(), 2, "{windows:?}");
    for ((at, active), (bound, began)) in windows.iter().zip([
        ("2026-03-02T13:00:00Z", true),
        ("2026-03-02T15:00:00Z", false),
    ]) {
        let bound: DateTime<Utc> = bound.parse().expect("t");
        assert_eq!(*active, began);
        assert!(
            *at >= bound && *at - bound < chrono::Duration::seconds(1),
            "{at} {bound}"
        );
    }
}

#[test]
fn the_api_and_the_command_line_give_the_same_figures_as_the_computation() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let sim = tempfile::tempdir().expect("tmp");
    std::fs::write(
        cfg.path().join("vigie.toml"),
        format!("[daemon]\ncollection_interval = \"1s\"\n{}", main_file("")),
    )
    .expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("Europe/Paris", "0")
        + &equipment("nvr-1", "nvr", None)
        + &equipment("cam-1", "camera", Some("nvr-1"));
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let script = sim.path().join("sim.toml");
    std::fs::write(
        &script,
        "[default]\nstatus = \"up\"\n[equipment.cam-1]\nstatus = \"down\"\nreason = \"unplugged\"\n",
    )
    .expect("write");
    let daemon = DaemonProcess::spawn(cfg.path(), data.path(), &script);
    let api = daemon.client();
    // Until both statuses are in the log, following it.
    let start = std::time::Instant::now();
    let mut after = 0;
    let running = loop {
        let a = api.availability(&Query::default()).expect("availability");
        if a.equipment.len() == 2
            && a.equipment
                .values()
                .all(|e| e.figures.up_ms + e.figures.down_ms > 0)
        {
            break a;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{a:?}");
        let page = api
            .events(after, 100, Duration::from_secs(2))
            .expect("events");
        after = page.events.last().map_or(after, |e| e.seq);
    };
    assert_eq!(running.sites.len(), 1);
    assert_eq!(
        running.equipment[&EquipmentId::new("cam-1")].rate,
        Some(0.0)
    );
    // Bad requests say what is wrong.
    for (path, status) in [
        ("/api/v1/availability?month=2026-13", 400),
        ("/api/v1/availability?from=2026-03-01", 400),
        ("/api/v1/availability?client=nobody", 404),
        ("/api/v1/signals?month=2026-13", 400),
        ("/api/v1/signals?site=nowhere", 404),
        ("/api/v1/signals", 200),
        ("/api/v1/equipment/nvr-1/history", 200),
        ("/api/v1/equipment/nvr-1/history?from=yesterday", 400),
        ("/api/v1/equipment/nobody/history", 404),
        ("/api/v1/reports/c/2020-01?format=docx", 400),
        ("/api/v1/reports/c/2020-01?format=pdf", 200),
        ("/api/v1/reports/nobody/2026-03", 404),
        ("/api/v1/reports/c/2999-01", 400),
        ("/api/v1/reports/c/march", 400),
    ] {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
            .arg(format!("Authorization: Bearer {}", daemon.token))
            .arg(format!("{}{path}", daemon.api))
            .output()
            .expect("curl");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            status.to_string(),
            "{path}"
        );
    }
    daemon.sigterm();

    // The daemon is down: the command line reads its data directory and last good config.
    let data_dir = data.path().to_string_lossy();
    let out = vigie_ok(&["availability", "--json", "--data", &data_dir]);
    let cli: vigie::availability::Availability = serde_json::from_slice(&out.stdout).expect("JSON");
    let (saved, _) = vigie::last_good::load(data.path())
        .expect("saved config")
        .expect("loads");
    let reader = vigie::store::StoreReader::open(data.path()).expect("reader");
    let lib = vigie::availability::read(&reader, &saved, &Query::default(), Utc::now(), false)
        .expect("availability");
    drop(reader);
    // Time after the stop is not supervised, so everything else agrees to the digit.
    for (id, e) in &lib.equipment {
        let c = &cli.equipment[id];
        assert_eq!(
            (
                c.figures.up_ms,
                c.figures.down_ms,
                c.figures.unreachable_ms,
                format_rate(c.rate)
            ),
            (
                e.figures.up_ms,
                e.figures.down_ms,
                e.figures.unreachable_ms,
                format_rate(e.rate)
            ),
            "{id}"
        );
        assert!(c.figures.unsupervised_ms > 0, "{id}: since the stop");
    }
    assert_eq!(format_rate(cli.global.rate), format_rate(lib.global.rate));
    let text = vigie_ok(&["availability", "--data", &data_dir]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("availability {}", format_rate(lib.global.rate))),
        "{text}"
    );
    assert!(text.contains("cam-1") && text.contains("0.000 %"), "{text}");

    // The monthly report, from the stopped daemon's data, written whole to a file.
    let paris = saved.sites[&SiteId::new("s")].timezone;
    let month = vigie::availability::month_of(Utc::now(), paris);
    let file = data.path().join("report.html");
    vigie_ok(&[
        "report",
        "--client",
        "c",
        "--month",
        &month,
        "--format",
        "html",
        "--out",
        &file.to_string_lossy(),
        "--data",
        &data_dir,
    ]);
    let page = std::fs::read_to_string(&file).expect("report");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    let rate = format_rate(lib.clients[&vigie::config::ClientId::new("c")].rate);
    assert!(
        page.contains(&format!("<strong>{rate}</strong>")),
        "{rate}: {page}"
    );
    assert!(page.contains("cam-1"), "{page}");
    assert!(!data.path().join("report.html.part").exists());
}

#[actix_rt::test]
async fn compaction_removes_old_events_and_keeps_availability_after_the_cut_exact() {
    let mut site = site_head("UTC", "0");
    site += &equipment("sw", "switch", None);
    site += &equipment("cam", "camera", Some("sw"));
    let cfg = config(&main_file(""), &[("s", &site)]);
    let bed = Fleetbed::start(Arc::clone(&cfg), "2026-01-01T00:00:00Z").await;
    // Day 1: the switch is down two hours (an R6 alert opens and resolves); it goes down again
    // at the end of the day and stays down across the cut.
    bed.pass(Duration::from_secs(10 * 3600)).await;
    bed.sim.answer("sw", Observation::down("no answer"));
    bed.sim.answer("cam", Observation::down("no answer"));
    bed.pass(Duration::from_secs(2 * 3600)).await;
    bed.sim.answer("sw", Observation::up());
    bed.sim.answer("cam", Observation::up());
    bed.pass(Duration::from_secs(11 * 3600)).await;
    bed.sim.answer("sw", Observation::down("no answer"));
    bed.sim.answer("cam", Observation::down("no answer"));
    // Day 2: back at 03:00.
    bed.pass(Duration::from_secs(4 * 3600)).await;
    bed.sim.answer("sw", Observation::up());
    bed.sim.answer("cam", Observation::up());
    bed.pass(Duration::from_secs(30 * 3600)).await;
    let resolved = bed
        .alert_events()
        .into_iter()
        .find(|e| {
            e.alert
                .resolved_at
                .is_some_and(|r| r < "2026-01-02T00:00:00Z".parse::<DateTime<Utc>>().expect("t"))
        })
        .expect("an alert resolved on day 1")
        .alert
        .id;

    let reader = bed.store.reader();
    let q = Query {
        from: Some("2026-01-02".into()),
        to: Some("2026-01-03".into()),
        ..Query::default()
    };
    let now = bed.clock.now();
    let before = vigie::availability::read(&reader, &cfg, &q, now, true).expect("availability");
    let cut: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().expect("t");
    let done = vigie::retention::compact(&reader, &bed.store, cut, cut)
        .expect("compact")
        .expect("something to remove");
    bed.store.flush_blocking().expect("commit");
    let left = reader.events_after(0, usize::MAX).expect("events");
    assert_eq!(left.first().map(|e| e.seq), Some(done.upto + 1));
    assert!(
        left.iter().all(|e| e.at >= cut),
        "only events after the cut stay"
    );
    assert!(done.events > 0);
    // The same figures to the millisecond, the outage across the cut included.
    let after = vigie::availability::read(&reader, &cfg, &q, now, true).expect("availability");
    assert_eq!(after, before);
    assert_eq!(after.kept_from, None, "the period is after the cut");
    // A period starting before the cut says where its figures start.
    let wide = Query {
        from: Some("2026-01-01".into()),
        to: Some("2026-01-03".into()),
        ..Query::default()
    };
    let a = vigie::availability::read(&reader, &cfg, &wide, now, true).expect("availability");
    let from = a
        .kept_from
        .expect("the period starts before the log's oldest event");
    assert!(
        from < cut && from > cut - chrono::Duration::days(1),
        "{from}"
    );
    let text = vigie::availability::render(&a, None);
    assert!(text.contains("removed by the retention"), "{text}");
    let sw = &after.equipment[&EquipmentId::new("sw")];
    assert!(sw.figures.down_ms > 2 * H, "{sw:?}");
    // The indexes follow: the old transitions and the alert that ended before the cut go.
    assert!(
        reader
            .transitions("sw", "2026-01-01T00:00:00Z".parse().expect("t"), cut)
            .expect("transitions")
            .is_empty()
    );
    assert!(
        !reader
            .transitions("sw", cut, now)
            .expect("transitions")
            .is_empty()
    );
    assert_eq!(reader.alert(resolved).expect("alert"), None);
    // Nothing more is old enough; a second pass removes nothing.
    assert_eq!(
        vigie::retention::compact(&reader, &bed.store, cut, cut).expect("compact"),
        None
    );
}
