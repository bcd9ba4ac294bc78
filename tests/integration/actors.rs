//! The actors under paused tokio time: collection schedule, site tolerance, dependencies,
//! maintenance across DST, supervision, probe timeouts and reload by diff.

use crate::support::*;
use vigie::actors::{AlertCommand, Shutdown};
use vigie::alert::AlertAction;
use vigie::alert::{AlertState, Severity};
use vigie::collector::Script;
use vigie::observation::{Metric, Observation};
use vigie::rules::RuleId;
use vigie::rules::Status;

fn cameras_site(tolerance: &str) -> String {
    let mut s = site_head("Europe/Paris", tolerance);
    s.push_str(&equipment("sw", "switch", None));
    for i in 1..=4 {
        s.push_str(&equipment(&format!("cam-{i}"), "camera", Some("sw")));
    }
    s
}

/// A UTC site with a switch and, optionally, one more equipment (id, kind, behind the switch).
fn switch_site(switch: &str, guest: Option<(&str, &str, bool)>) -> String {
    let mut s = site_head("UTC", "0") + &equipment(switch, "switch", None);
    if let Some((id, kind, behind)) = guest {
        s.push_str(&equipment(id, kind, behind.then_some(switch)));
    }
    s
}

#[actix_rt::test]
async fn each_equipment_is_collected_once_per_interval_spread_over_the_cycle() {
    let cfg = config(&main_file(""), &[("s", &cameras_site("0"))]);
    let bed = Fleetbed::start(cfg, "2026-06-01T08:00:00Z").await;
    bed.minutes(10).await;
    for id in ["sw", "cam-1", "cam-2", "cam-3", "cam-4"] {
        let calls = bed.sim.calls(id);
        assert!(
            (10..=11).contains(&calls),
            "{id} collected {calls} times in 10 minutes"
        );
    }
    let detail = bed.site("s").await;
    assert!(detail.equipment.iter().all(|e| e.status == Status::Up));
}

#[actix_rt::test]
async fn r3_r8_cameras_offline_beyond_tolerance_raise_one_site_alert_naming_them() {
    let cfg = config(&main_file(""), &[("s", &cameras_site("1"))]);
    let bed = Fleetbed::start(cfg, "2026-06-01T08:00:00Z").await;
    bed.minutes(2).await;
    bed.sim.answer("cam-2", Observation::down("timeout"));
    bed.minutes(10).await;
    // One camera offline is within the tolerance of 1.
    assert!(bed.live().is_empty(), "{:?}", bed.live_rules());
    bed.sim.answer("cam-4", Observation::down("timeout"));
    bed.minutes(5).await;
    assert!(
        bed.live().is_empty(),
        "not yet 5 minutes: {:?}",
        bed.live_rules()
    );
    bed.minutes(2).await;
    let live = bed.live();
    assert_eq!(live.len(), 1, "{:?}", bed.live_rules());
    assert_eq!(live[0].rule, "cameras.offline");
    assert_eq!(live[0].severity, Severity::Critical);
    assert!(
        live[0].summary.contains("cam-2, cam-4"),
        "{}",
        live[0].summary
    );
    // Acknowledge, then one camera comes back: within tolerance again, the alert resolves.
    let acked = bed
        .fleet
        .send(AlertCommand {
            id: live[0].id,
            action: AlertAction::Acknowledge {
                by: "marie".into(),
                note: None,
            },
        })
        .await
        .expect("mailbox")
        .expect("ack");
    assert_eq!(acked.state, AlertState::Acknowledged);
    bed.sim.answer("cam-4", Observation::up());
    bed.minutes(2).await;
    assert!(bed.live().is_empty(), "{:?}", bed.live_rules());
}

#[actix_rt::test]
async fn a_down_switch_makes_its_children_unreachable_with_one_root_alert() {
    let cfg = config(&main_file(""), &[("s", &cameras_site("0"))]);
    let bed = Fleetbed::start(cfg, "2026-06-01T08:00:00Z").await;
    bed.minutes(2).await;
    for id in ["sw", "cam-1", "cam-2", "cam-3", "cam-4"] {
        bed.sim.answer(id, Observation::down("timeout"));
    }
    bed.minutes(15).await;
    assert_eq!(
        bed.live_rules(),
        vec!["equipment sw:connectivity.lost".to_string()]
    );
    let detail = bed.site("s").await;
    for e in &detail.equipment {
        let want = if e.id == "sw" {
            Status::Down
        } else {
            Status::Unreachable
        };
        assert_eq!(e.status, want, "{}", e.id);
    }
    // The switch comes back, a camera stays dead: collected at once, it is down from then on
    // (not since the switch failed), and alerts 5 minutes later.
    for id in ["sw", "cam-1", "cam-2", "cam-4"] {
        bed.sim.answer(id, Observation::up());
    }
    bed.minutes(2).await;
    let cam3 = bed.equipment("cam-3").await.expect("cam-3");
    assert_eq!(cam3.summary.status, Status::Down);
    let since = cam3.summary.offline_since.expect("offline since");
    assert!(
        bed.clock.now() - since < chrono::Duration::minutes(2),
        "offline time starts over"
    );
    assert!(bed.live_rules().is_empty(), "{:?}", bed.live_rules());
    bed.minutes(4).await;
    assert_eq!(bed.live_rules(), vec!["site s:cameras.offline".to_string()]);
}

#[actix_rt::test]
async fn recurring_maintenance_across_dst_suppresses_then_notifies_and_still_resolves() {
    // Weekly window, Sundays 01:00 Paris time, defined before the March DST change.
    let mut site = site_head("Europe/Paris", "0");
    site.push_str("\n[[maintenance]]\nname = \"weekly\"\nstart = \"2026-03-01T01:00\"\nduration = \"2h\"\nrecurrence = \"FREQ=WEEKLY;BYDAY=SU\"\n");
    site.push_str(&equipment("nvr", "nvr", None));
    let main = main_file("[thresholds]\ndisk = { for = \"0s\" }\ntemperature = { for = \"0s\" }\n");
    let cfg = config(&main, &[("s", &site)]);
    // Saturday 4 April 2026, 22:30 UTC = 00:30 CEST; the window opens at 23:00 UTC (01:00 CEST).
    let bed = Fleetbed::start(cfg, "2026-04-04T22:30:00Z").await;
    let hot = || Observation::up().with_metric(Metric::new("hw.temperature", 85.0));
    bed.sim.answer("nvr", hot());
    bed.minutes(10).await; // 22:40: before the window, notified.
    let temp = bed
        .live()
        .into_iter()
        .find(|a| a.rule == "temperature")
        .expect("temperature alert");
    assert!(temp.notified);
    bed.minutes(30).await; // 23:10: inside the window (only if DST is handled).
    bed.sim.answer(
        "nvr",
        hot().with_metric(
            Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/hdd"),
        ),
    );
    bed.minutes(2).await;
    let disk = bed
        .live()
        .into_iter()
        .find(|a| a.rule.rule == RuleId::DiskUsage)
        .expect("disk alert");
    assert!(!disk.notified);
    assert_eq!(
        disk.suppressed.as_deref(),
        Some("maintenance window `weekly`")
    );
    // The temperature alert notified before the window resolves inside it: notified.
    bed.sim.answer(
        "nvr",
        Observation::up()
            .with_metric(Metric::new("hw.temperature", 45.0))
            .with_metric(
                Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/hdd"),
            ),
    );
    bed.minutes(2).await;
    // After the window (01:00 UTC), the disk alert still present is notified.
    bed.minutes(120).await;
    let disk = bed
        .live()
        .into_iter()
        .find(|a| a.rule.rule == RuleId::DiskUsage)
        .expect("disk alert");
    assert!(disk.notified);
    let mut seen = Vec::new();
    for e in bed.alert_events() {
        seen.push((e.alert.rule.rule.name().to_string(), e.change, e.notify));
    }
    use vigie::alert::Change::*;
    assert_eq!(
        seen,
        vec![
            ("temperature".to_string(), Opened, true),
            // Not acknowledged for 15 minutes: the technician is reminded of it.
            ("temperature".to_string(), Reminded, true),
            ("disk.usage".to_string(), Opened, false),
            ("temperature".to_string(), Resolved, true),
            ("disk.usage".to_string(), Notified, true),
        ]
    );
}

#[actix_rt::test]
async fn a_panic_in_one_equipment_restarts_it_with_its_state_kept() {
    let cfg = config(&main_file(""), &[("s", &cameras_site("0"))]);
    let bed = Fleetbed::start(cfg, "2026-06-01T08:00:00Z").await;
    bed.sim.answer("cam-1", Observation::down("timeout"));
    bed.minutes(2).await;
    let before = bed.equipment("cam-1").await.expect("cam-1");
    let since = before.summary.offline_since.expect("offline since");
    bed.sim.set("cam-1", Script::Panic);
    bed.minutes(3).await;
    let during = bed.equipment("cam-1").await.expect("actor still answers");
    assert!(during.restarts >= 2, "restarts: {}", during.restarts);
    assert_eq!(during.summary.offline_since, Some(since));
    // The site and the other equipment kept running on schedule.
    let calls = bed.sim.calls("cam-2");
    assert!(calls >= 5, "cam-2 collected {calls} times");
    bed.sim.answer("cam-1", Observation::down("timeout"));
    bed.minutes(2).await;
    // Its offline time kept counting through the restarts: the camera alert is raised.
    assert_eq!(bed.live_rules(), vec!["site s:cameras.offline".to_string()]);
}

#[actix_rt::test]
async fn a_probe_that_never_answers_times_out_as_unknown() {
    let cfg = config(
        &main_file("[daemon]\nprobe_timeout = \"5s\"\n"),
        &[("s", &cameras_site("0"))],
    );
    let bed = Fleetbed::start(cfg, "2026-06-01T08:00:00Z").await;
    bed.sim.set("cam-3", Script::Hang);
    bed.minutes(3).await;
    let cam = bed.equipment("cam-3").await.expect("cam-3");
    assert_eq!(cam.summary.status, Status::Unknown);
    assert_eq!(
        cam.summary.reason.as_deref(),
        Some("probe did not finish within 5s")
    );
    assert!(bed.equipment("cam-2").await.expect("cam-2").summary.status == Status::Up);
}

#[actix_rt::test]
async fn reload_changes_thresholds_adds_and_removes_keeping_untouched_state() {
    let nvr_site = |extra: &str| {
        let mut s = site_head("UTC", "0");
        s.push_str(&equipment("nvr-1", "nvr", None));
        s.push_str(extra);
        s.push_str(&equipment("nvr-2", "nvr", None));
        s
    };
    let main = main_file("[thresholds]\ndisk = { for = \"0s\" }\n");
    let cfg1 = config(&main, &[("a", &nvr_site("")), ("b", &cameras_site("0"))]);
    let bed = Fleetbed::start(cfg1, "2026-06-01T08:00:00Z").await;
    let disk = |v: f64| {
        Observation::up()
            .with_metric(Metric::new("system.filesystem.utilization", v).with("mountpoint", "/"))
    };
    bed.sim.answer("nvr-1", disk(0.82));
    bed.sim.answer("nvr-2", disk(0.82));
    bed.sim.answer("cam-1", Observation::down("timeout"));
    bed.minutes(3).await;
    assert!(bed.live().is_empty());
    let cam1_before = bed.equipment("cam-1").await.expect("cam-1");
    let nvr2_before = bed.equipment("nvr-2").await.expect("nvr-2");

    // Lower the disk warning of nvr-1 only, add nvr-3 to site a, remove cam-4, add site c.
    let site_a =
        nvr_site("thresholds = { disk = { warning = 80 } }\n") + &equipment("nvr-3", "nvr", None);
    let mut site_b = site_head("Europe/Paris", "0");
    site_b.push_str(&equipment("sw", "switch", None));
    for i in 1..=3 {
        site_b.push_str(&equipment(&format!("cam-{i}"), "camera", Some("sw")));
    }
    let site_c = site_head("UTC", "0") + &equipment("c-cam", "camera", None);
    let cfg2 = config(&main, &[("a", &site_a), ("b", &site_b), ("c", &site_c)]);
    bed.apply(cfg2).await;
    bed.minutes(2).await;

    assert_eq!(
        bed.live_rules(),
        vec!["equipment nvr-1:disk.usage{mountpoint=/}".to_string()]
    );
    assert!(bed.equipment("cam-4").await.is_none());
    // The collector keeps nothing of a removed equipment.
    assert_eq!(bed.sim.calls("cam-4"), 0);
    assert!(bed.sim.calls("cam-1") > 0);
    assert!(bed.equipment("nvr-3").await.is_some());
    assert!(bed.equipment("c-cam").await.is_some());
    // Untouched equipment keep their live state and schedule.
    let cam1_after = bed.equipment("cam-1").await.expect("cam-1");
    assert_eq!(
        cam1_after.summary.offline_since,
        cam1_before.summary.offline_since
    );
    assert_eq!(cam1_after.summary.since, cam1_before.summary.since);
    assert_eq!(cam1_after.collections, cam1_before.collections + 2);
    let nvr2_after = bed.equipment("nvr-2").await.expect("nvr-2");
    assert_eq!(nvr2_after.summary.since, nvr2_before.summary.since);

    // Remove site a: its open alert is closed as removed.
    let cfg3 = config(&main, &[("b", &site_b), ("c", &site_c)]);
    bed.apply(cfg3).await;
    assert!(bed.live().is_empty(), "{:?}", bed.live_rules());
    assert!(bed.equipment("nvr-1").await.is_none());
}

#[actix_rt::test]
async fn restart_on_the_same_data_restores_alerts_acknowledgements_and_offline_times() {
    let cfg = config(&main_file(""), &[("s", &cameras_site("0"))]);
    let bed = Fleetbed::start(cfg.clone(), "2026-06-01T08:00:00Z").await;
    bed.sim.answer("cam-1", Observation::down("timeout"));
    bed.minutes(8).await;
    let alert = bed.live().pop().expect("camera alert");
    bed.fleet
        .send(AlertCommand {
            id: alert.id,
            action: AlertAction::Acknowledge {
                by: "marie".into(),
                note: Some("on my way".into()),
            },
        })
        .await
        .expect("mailbox")
        .expect("ack");
    let since = bed
        .equipment("cam-1")
        .await
        .expect("cam-1")
        .summary
        .offline_since;
    bed.store.flush().await.expect("flush");
    let Fleetbed {
        dir, fleet, store, ..
    } = bed;
    fleet.send(Shutdown).await.expect("shutdown");
    store.close();

    let bed = Fleetbed::start_in(cfg, "2026-06-01T08:30:00Z", dir).await;
    let restored = bed.live();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].id, alert.id);
    assert_eq!(restored[0].state, AlertState::Acknowledged);
    assert_eq!(
        restored[0].acknowledged.as_ref().map(|a| a.by.as_str()),
        Some("marie")
    );
    assert_eq!(
        bed.equipment("cam-1")
            .await
            .expect("cam-1")
            .summary
            .offline_since,
        since
    );
    // A new alert continues the numbering.
    bed.sim.answer("cam-1", Observation::up());
    bed.sim.answer("cam-2", Observation::down("timeout"));
    bed.minutes(8).await;
    let next = bed.live().pop().expect("new alert");
    assert!(next.id > alert.id);
}

#[actix_rt::test]
async fn an_equipment_moved_to_another_site_keeps_its_state_and_alerts() {
    let main = main_file("[thresholds]\ndisk = { for = \"0s\" }\n");
    let with_nvr = |on: bool| switch_site("a-sw", on.then_some(("nvr-9", "nvr", false)));
    let site_b = |on: bool| switch_site("b-sw", on.then_some(("nvr-9", "nvr", false)));
    let bed = Fleetbed::start(
        config(&main, &[("a", &with_nvr(true)), ("b", &site_b(false))]),
        "2026-06-01T08:00:00Z",
    )
    .await;
    bed.sim.answer(
        "nvr-9",
        Observation::up().with_metric(
            Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/"),
        ),
    );
    bed.minutes(2).await;
    let alert = bed.live().pop().expect("disk alert");
    let before = bed.equipment("nvr-9").await.expect("nvr-9");
    assert_eq!(before.site, "a");
    // Move nvr-9 from site a to site b.
    bed.apply(config(
        &main,
        &[("a", &with_nvr(false)), ("b", &site_b(true))],
    ))
    .await;
    bed.minutes(2).await;
    let after = bed.equipment("nvr-9").await.expect("nvr-9");
    assert_eq!(after.site, "b");
    assert_eq!(after.summary.since, before.summary.since, "live state kept");
    let live = bed.live();
    assert_eq!(live.len(), 1, "{:?}", bed.live_rules());
    assert_eq!(
        live[0].id, alert.id,
        "the same alert, not closed and reopened"
    );
    assert_eq!(live[0].site.as_str(), "b");
    // Operators act on it where it now lives.
    let acked = bed
        .fleet
        .send(AlertCommand {
            id: alert.id,
            action: AlertAction::Acknowledge {
                by: "marie".into(),
                note: None,
            },
        })
        .await
        .expect("mailbox")
        .expect("ack");
    assert_eq!(acked.state, AlertState::Acknowledged);
}

#[actix_rt::test]
async fn a_camera_moved_away_from_a_down_switch_is_no_longer_unreachable() {
    let main = main_file("");
    let site_a = |on: bool| switch_site("sw-a", on.then_some(("cam-x", "camera", true)));
    let site_b = |on: bool| switch_site("sw-b", on.then_some(("cam-x", "camera", true)));
    let bed = Fleetbed::start(
        config(&main, &[("a", &site_a(true)), ("b", &site_b(false))]),
        "2026-06-01T08:00:00Z",
    )
    .await;
    bed.minutes(2).await;
    bed.sim.answer("sw-a", Observation::down("timeout"));
    bed.sim.answer("cam-x", Observation::down("timeout"));
    bed.minutes(2).await;
    assert_eq!(
        bed.equipment("cam-x").await.expect("cam-x").summary.status,
        Status::Unreachable
    );
    bed.apply(config(
        &main,
        &[("a", &site_a(false)), ("b", &site_b(true))],
    ))
    .await;
    bed.minutes(2).await;
    assert_eq!(
        bed.equipment("cam-x").await.expect("cam-x").summary.status,
        Status::Down
    );
    bed.minutes(6).await;
    let rules = bed.live_rules();
    assert!(
        rules.contains(&"site b:cameras.offline".to_string()),
        "{rules:?}"
    );
}

#[actix_rt::test]
async fn r9_cameras_offline_in_a_window_raise_a_recorded_alert_notified_only_after_it() {
    // Tolerance 0; cam-1 is in works from 08:00 to 09:00 UTC (10:00-11:00 in Paris, summer).
    let mut site = cameras_site("0");
    site.push_str("\n[[maintenance]]\nname = \"works\"\nstart = \"2026-06-01T10:00\"\nduration = \"1h\"\nequipment = [\"cam-1\"]\n");
    let cfg = config(&main_file(""), &[("s", &site)]);
    let bed = Fleetbed::start(cfg, "2026-06-01T08:00:00Z").await;
    bed.minutes(1).await;
    bed.sim.answer("cam-1", Observation::down("unplugged"));
    bed.minutes(10).await;
    // Knowledge is not suppressed: the site alert exists, recorded as covered by the window.
    let live = bed.live();
    assert_eq!(live.len(), 1, "{:?}", bed.live_rules());
    assert_eq!(live[0].rule, "cameras.offline");
    assert!(!live[0].notified);
    assert_eq!(
        live[0].suppressed.as_deref(),
        Some("maintenance window `works`")
    );
    // The window ends with the camera still down: the alert is notified then.
    bed.minutes(60).await;
    let alert = bed.live().into_iter().next().expect("still live");
    assert!(alert.notified);
    let changes: Vec<_> = bed
        .alert_events()
        .into_iter()
        .filter(|e| e.alert.id == alert.id)
        .map(|e| (e.change, e.notify))
        .collect();
    use vigie::alert::Change::*;
    assert_eq!(changes, vec![(Opened, false), (Notified, true)]);
}

/// The R3 delay as the README states it: a camera found silent by a collection is counted
/// offline exactly 5 minutes after that collection, and the collection comes at most one
/// interval after the camera failed.
#[actix_rt::test]
async fn r3_the_camera_alert_opens_five_minutes_to_the_second_after_the_first_silent_collection() {
    let cfg = config(&main_file(""), &[("s", &cameras_site("0"))]);
    let bed = Fleetbed::start(cfg, "2026-06-01T08:00:00Z").await;
    bed.minutes(2).await;
    let failed_at = bed.clock.now();
    bed.sim.answer("cam-3", Observation::down("timeout"));
    // The next collection of cam-3 finds it silent, within one interval (60 s).
    bed.minutes(1).await;
    let since = bed
        .equipment("cam-3")
        .await
        .expect("cam-3")
        .summary
        .offline_since
        .expect("offline since its silent collection");
    assert!(since >= failed_at && since - failed_at <= chrono::Duration::seconds(60));
    let due = since + chrono::Duration::minutes(5);
    bed.pass(
        (due - bed.clock.now() - chrono::Duration::seconds(1))
            .to_std()
            .expect("ahead"),
    )
    .await;
    assert!(
        bed.live().is_empty(),
        "one second early: {:?}",
        bed.live_rules()
    );
    bed.pass(std::time::Duration::from_secs(1)).await;
    let live = bed.live();
    assert_eq!(live.len(), 1, "{:?}", bed.live_rules());
    // To the second (timers fire on the millisecond after their instant).
    let late = live[0].opened_at - due;
    assert!(
        late >= chrono::Duration::zero() && late < chrono::Duration::seconds(1),
        "opened {} after the 5 minutes",
        late
    );
}

/// R12 held by the actor owning the alert: the deadline is absolute, in its snapshot; an
/// equipment alert not handled escalates on time, a restart before the deadline keeps it, and
/// a deadline passed while the daemon was down fires once at start.
#[actix_rt::test]
async fn r12_unhandled_alerts_escalate_on_time_across_a_restart() {
    let main = main_file(
        "[escalation]\nafter = \"10m\"\nthen_after = \"20m\"\n[thresholds]\ndisk = { for = \"0s\" }\n",
    );
    let cfg = config(&main, &[("s", &cameras_site("0"))]);
    let bed = Fleetbed::start(cfg.clone(), "2026-06-01T08:00:00Z").await;
    let full = Observation::up()
        .with_metric(Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/"));
    bed.sim.answer("sw", full.clone());
    bed.minutes(1).await;
    let alert = bed.live().pop().expect("disk alert");
    let due = alert.escalate_at.expect("deadline set when notified");
    assert_eq!(due, alert.opened_at + chrono::Duration::minutes(10));
    bed.minutes(5).await;
    bed.store.flush().await.expect("flush");
    let Fleetbed {
        dir, fleet, store, ..
    } = bed;
    fleet.send(Shutdown).await.expect("shutdown");
    store.close();

    // Restarted before the deadline: it is kept and fires on time, once.
    let start = (due - chrono::Duration::minutes(3)).to_rfc3339();
    let bed = Fleetbed::start_in(cfg.clone(), &start, dir).await;
    bed.sim.answer("sw", full.clone());
    let wait = (due + chrono::Duration::seconds(5) - bed.clock.now())
        .to_std()
        .expect("the deadline is ahead");
    bed.pass(wait).await;
    let live: Vec<_> = bed
        .live()
        .into_iter()
        .filter(|a| a.id == alert.id)
        .collect();
    assert_eq!(live.len(), 1, "{:?}", bed.live());
    assert_eq!(live[0].escalation_level, 1, "{:?}", live[0].timeline);
    // On time, to the second, not before.
    let at = live[0]
        .timeline
        .iter()
        .find(|t| t.event == vigie::alert::TimelineEvent::Escalated)
        .expect("escalation in the timeline")
        .at;
    assert!(
        at >= due && at - due < chrono::Duration::seconds(1),
        "escalated at {at}, due {due}"
    );
    let escalated: Vec<_> = bed
        .alert_events()
        .into_iter()
        .filter(|e| e.change == vigie::alert::Change::Escalated)
        .collect();
    assert_eq!(escalated.len(), 1);
    assert!(escalated[0].notify);
    let level2 = live[0].escalate_at.expect("next level");
    bed.store.flush().await.expect("flush");
    let Fleetbed {
        dir, fleet, store, ..
    } = bed;
    fleet.send(Shutdown).await.expect("shutdown");
    store.close();

    // Down past the second deadline: it fires once at start.
    let late = (level2 + chrono::Duration::minutes(30)).to_rfc3339();
    let bed = Fleetbed::start_in(cfg, &late, dir).await;
    bed.sim.answer("sw", full);
    bed.pass(std::time::Duration::from_secs(1)).await;
    let disk = bed.live().into_iter().find(|a| a.id == alert.id);
    assert_eq!(
        disk.map(|a| a.escalation_level),
        Some(2),
        "{:?}",
        bed.live()
    );
    bed.minutes(60).await;
    let level2_events = bed
        .alert_events()
        .into_iter()
        .filter(|e| e.change == vigie::alert::Change::Escalated && e.alert.escalation_level == 2)
        .count();
    assert_eq!(level2_events, 1);
}
