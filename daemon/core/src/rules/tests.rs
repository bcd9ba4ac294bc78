//! Data-driven rule tests: sequences of timed inputs and the live alerts expected after each.

use super::*;
use crate::alert::{AlertEvent, Change, Severity};
use crate::config::{EquipmentId, EquipmentKind, SiteId, Thresholds, Tolerance};
use crate::observation::{Metric, Observation};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// One step of a scenario.
#[derive(Clone, Copy)]
enum Ev {
    Up,
    Down,
    Unknown,
    /// Disk utilisation in percent on `/data`.
    Disk(f64),
    /// Temperature in °C.
    Temp(f64),
    /// Recording service running?
    Rec(bool),
    /// `video.recording` of channel 1.
    VideoRec(bool),
    /// `hw.status` of a part: its `hw.type`, its id, whether it works.
    Hw(&'static str, &'static str, bool),
    Parent(bool),
    Tick,
    Maint(Option<&'static str>),
    /// Live alerts expected now: (rule, severity).
    Expect(&'static [(&'static str, Severity)]),
    /// Alerts opened so far.
    Opened(usize),
    /// Status expected now.
    Is(Status),
}

struct Scenario {
    name: &'static str,
    kind: EquipmentKind,
    thresholds: Thresholds,
    steps: Vec<(u32, Ev)>,
}

fn t0() -> DateTime<Utc> {
    "2026-03-01T10:00:00Z".parse().expect("instant")
}

fn run(sc: &Scenario) -> Vec<AlertEvent> {
    let site = SiteId::new("site");
    let id = EquipmentId::new("eq-1");
    let mut state = EquipmentState::new(t0());
    let mut ids = 0u64;
    let mut maintenance: Option<&str> = None;
    let mut all = Vec::new();
    for (secs, ev) in &sc.steps {
        let now = t0() + chrono::Duration::seconds(i64::from(*secs));
        let window = move |_: DateTime<Utc>| maintenance.map(String::from);
        let cx = Context {
            site: &site,
            id: &id,
            kind: sc.kind,
            thresholds: &sc.thresholds,
            escalation: &crate::config::Escalation::default(),
            maintenance: &window,
        };
        let obs;
        let input = match ev {
            Ev::Up => {
                obs = Observation::up();
                Input::Observation(&obs)
            }
            Ev::Down => {
                obs = Observation::down("timeout");
                Input::Observation(&obs)
            }
            Ev::Unknown => {
                obs = Observation::unknown("bad response");
                Input::Observation(&obs)
            }
            Ev::Disk(p) => {
                obs = Observation::up().with_metric(
                    Metric::new("system.filesystem.utilization", p / 100.0)
                        .with("mountpoint", "/data"),
                );
                Input::Observation(&obs)
            }
            Ev::Temp(c) => {
                obs = Observation::up().with_metric(Metric::new("hw.temperature", *c));
                Input::Observation(&obs)
            }
            Ev::Rec(on) => {
                obs = Observation::up().with_metric(
                    Metric::new("service.up", if *on { 1.0 } else { 0.0 })
                        .with("service", "recording"),
                );
                Input::Observation(&obs)
            }
            Ev::VideoRec(on) => {
                obs = Observation::up().with_metric(
                    Metric::new("video.recording", if *on { 1.0 } else { 0.0 })
                        .with("channel", "1"),
                );
                Input::Observation(&obs)
            }
            Ev::Hw(kind, part, ok) => {
                obs = Observation::up().with_metric(
                    Metric::new("hw.status", if *ok { 1.0 } else { 0.0 })
                        .with("hw.type", kind)
                        .with(
                            if *kind == "physical_disk" {
                                "disk"
                            } else {
                                kind
                            },
                            part,
                        ),
                );
                Input::Observation(&obs)
            }
            Ev::Parent(d) => Input::ParentDown(*d),
            Ev::Tick => Input::Tick,
            Ev::Maint(m) => {
                maintenance = *m;
                continue;
            }
            Ev::Expect(expected) => {
                let mut live: Vec<(String, Severity)> = state
                    .alerts
                    .iter()
                    .filter(|a| a.state.is_live())
                    .map(|a| (a.rule.rule.name().to_string(), a.severity))
                    .collect();
                live.sort();
                let mut want: Vec<(String, Severity)> =
                    expected.iter().map(|(r, s)| (r.to_string(), *s)).collect();
                want.sort();
                assert_eq!(live, want, "{}: live alerts at {secs}s", sc.name);
                continue;
            }
            Ev::Opened(n) => {
                let opened = all
                    .iter()
                    .filter(|e: &&AlertEvent| e.change == Change::Opened)
                    .count();
                assert_eq!(opened, *n, "{}: alerts opened by {secs}s", sc.name);
                continue;
            }
            Ev::Is(s) => {
                assert_eq!(state.status, *s, "{}: status at {secs}s", sc.name);
                continue;
            }
        };
        let out = step(&mut state, input, &cx, now, &mut || {
            ids += 1;
            ids
        });
        all.extend(out.events);
    }
    all
}

fn policy() -> Thresholds {
    Thresholds::default()
}

fn no_for() -> Thresholds {
    let mut t = Thresholds::default();
    t.disk.for_ = Duration::ZERO;
    t.temperature.for_ = Duration::ZERO;
    t
}

const W: Severity = Severity::Warning;
const C: Severity = Severity::Critical;

fn scenarios() -> Vec<Scenario> {
    use Ev::*;
    vec![
        Scenario {
            name: "R4 disk warning after for, critical, back down with recovery margin",
            kind: EquipmentKind::Nvr,
            thresholds: policy(),
            steps: vec![
                (0, Disk(80.0)),
                (0, Expect(&[])),
                (60, Disk(86.0)),
                (60, Expect(&[])),
                (120, Disk(86.0)),
                (120, Expect(&[])),
                (180, Disk(86.0)),
                (180, Expect(&[("disk.usage", W)])),
                (240, Disk(96.0)),
                (240, Expect(&[("disk.usage", W)])),
                (300, Disk(96.0)),
                (360, Disk(96.0)),
                (360, Expect(&[("disk.usage", C)])),
                (420, Disk(94.0)),
                (420, Expect(&[("disk.usage", C)])), // within the 2-point margin
                (480, Disk(92.0)),
                (480, Expect(&[("disk.usage", W)])),
                (540, Disk(84.0)),
                (540, Expect(&[("disk.usage", W)])),
                (600, Disk(82.9)),
                (600, Expect(&[])),
                (600, Opened(1)),
            ],
        },
        Scenario {
            name: "R4 a value flapping around 85 % raises one alert (hysteresis)",
            kind: EquipmentKind::Nvr,
            thresholds: no_for(),
            steps: {
                let mut s = Vec::new();
                for i in 0..50u32 {
                    s.push((i * 60, Disk(if i % 2 == 0 { 85.4 } else { 84.6 })));
                }
                s.push((3000, Expect(&[("disk.usage", W)])));
                s.push((3000, Opened(1)));
                s
            },
        },
        Scenario {
            name: "R4 the for duration holds back a short spike",
            kind: EquipmentKind::VmsServer,
            thresholds: policy(),
            steps: vec![
                (0, Disk(99.0)),
                (60, Disk(99.0)),
                (90, Disk(70.0)),
                (150, Tick),
                (600, Disk(70.0)),
                (600, Opened(0)),
            ],
        },
        Scenario {
            name: "R5 temperature warning then critical, raised by a tick at the deadline",
            kind: EquipmentKind::Nvr,
            thresholds: policy(),
            steps: vec![
                (0, Temp(71.0)),
                (119, Tick),
                (119, Expect(&[])),
                (120, Tick),
                (120, Expect(&[("temperature", W)])),
                (180, Temp(82.0)),
                (300, Tick),
                (300, Expect(&[("temperature", C)])),
                (360, Temp(60.0)),
                (360, Expect(&[])),
                (360, Opened(1)),
            ],
        },
        Scenario {
            name: "R6 connectivity lost on an equipment that was up",
            kind: EquipmentKind::Switch,
            thresholds: policy(),
            steps: vec![
                (0, Up),
                (60, Down),
                (60, Is(Status::Down)),
                (179, Tick),
                (179, Expect(&[])),
                (180, Tick),
                (180, Expect(&[("connectivity.lost", C)])),
                (240, Down),
                (240, Opened(1)),
                (300, Up),
                (300, Expect(&[])),
                (300, Is(Status::Up)),
            ],
        },
        Scenario {
            name: "R6 an equipment never seen up raises no connectivity alert",
            kind: EquipmentKind::Router,
            thresholds: policy(),
            steps: vec![
                (0, Down),
                (600, Down),
                (600, Expect(&[])),
                (600, Is(Status::Down)),
            ],
        },
        Scenario {
            name: "R6 cameras are left to the site rule",
            kind: EquipmentKind::Camera,
            thresholds: policy(),
            steps: vec![(0, Up), (60, Down), (3600, Down), (3600, Expect(&[]))],
        },
        Scenario {
            name: "R7 recording service stopped",
            kind: EquipmentKind::VmsServer,
            thresholds: policy(),
            steps: vec![
                (0, Rec(true)),
                (60, Rec(false)),
                (60, Expect(&[])),
                (120, Rec(false)),
                (120, Expect(&[("recording.stopped", C)])),
                (180, Rec(true)),
                (180, Expect(&[])),
            ],
        },
        Scenario {
            name: "R7 a recorder channel reported not recording (video.recording)",
            kind: EquipmentKind::Nvr,
            thresholds: policy(),
            steps: vec![
                (0, VideoRec(true)),
                (60, VideoRec(false)),
                (60, Expect(&[])),
                (120, VideoRec(false)),
                (120, Expect(&[("recording.stopped", C)])),
                (180, VideoRec(true)),
                (180, Expect(&[])),
            ],
        },
        Scenario {
            name: "hardware: a recorder's failed disk is critical, its failed fan a warning",
            kind: EquipmentKind::Nvr,
            thresholds: policy(),
            steps: vec![
                (0, Hw("physical_disk", "hdd1", true)),
                (0, Expect(&[])),
                (60, Hw("physical_disk", "hdd1", false)),
                (60, Expect(&[("hardware.failed", C)])),
                (120, Hw("fan", "fan1", false)),
                (
                    120,
                    Expect(&[("hardware.failed", C), ("hardware.failed", W)]),
                ),
                (180, Hw("physical_disk", "hdd1", true)),
                (180, Hw("fan", "fan1", true)),
                (180, Expect(&[])),
            ],
        },
        Scenario {
            name: "hardware: a camera's failed storage card is a warning",
            kind: EquipmentKind::Camera,
            thresholds: policy(),
            steps: vec![
                (0, Hw("physical_disk", "SD_DISK", false)),
                (0, Expect(&[("hardware.failed", W)])),
            ],
        },
        Scenario {
            name: "hardware: overridden severities and delay",
            kind: EquipmentKind::Nvr,
            thresholds: {
                let mut t = policy();
                t.hardware.disk = W;
                t.hardware.after = Duration::from_secs(300);
                t
            },
            steps: vec![
                (0, Hw("physical_disk", "hdd1", false)),
                (240, Hw("physical_disk", "hdd1", false)),
                (240, Expect(&[])),
                (300, Hw("physical_disk", "hdd1", false)),
                (300, Expect(&[("hardware.failed", W)])),
            ],
        },
        Scenario {
            name: "dependencies: behind a down parent the equipment is unreachable and silent",
            kind: EquipmentKind::Nvr,
            thresholds: policy(),
            steps: vec![
                (0, Up),
                (30, Parent(true)),
                (60, Down),
                (60, Is(Status::Unreachable)),
                (900, Down),
                (900, Expect(&[])),
                // The parent comes back: unknown until collected; still silent, it is down from
                // then on, and its alert waits for its own delay.
                (960, Parent(false)),
                (960, Is(Status::Unknown)),
                (960, Expect(&[])),
                (970, Down),
                (970, Is(Status::Down)),
                (1089, Tick),
                (1089, Expect(&[])),
                (1090, Tick),
                (1090, Expect(&[("connectivity.lost", C)])),
            ],
        },
        Scenario {
            name: "R6 a probe that cannot tell after a loss of connectivity does not resolve it",
            kind: EquipmentKind::Switch,
            thresholds: policy(),
            steps: vec![
                (0, Up),
                (60, Down),
                (180, Tick),
                (180, Expect(&[("connectivity.lost", C)])),
                (240, Unknown),
                (240, Expect(&[("connectivity.lost", C)])),
                (300, Up),
                (300, Expect(&[])),
                (300, Opened(1)),
            ],
        },
        Scenario {
            name: "an unknown probe result raises nothing",
            kind: EquipmentKind::Nvr,
            thresholds: policy(),
            steps: vec![
                (0, Up),
                (60, Unknown),
                (3600, Unknown),
                (3600, Is(Status::Unknown)),
                (3600, Expect(&[])),
            ],
        },
        Scenario {
            name: "R9 an alert raised in maintenance is recorded and notified if it outlives the window",
            kind: EquipmentKind::Nvr,
            thresholds: no_for(),
            steps: vec![
                (0, Maint(Some("swap"))),
                (0, Temp(90.0)),
                (0, Expect(&[("temperature", C)])),
                (60, Maint(None)),
                (60, Tick),
                (60, Expect(&[("temperature", C)])),
                (60, Opened(1)),
            ],
        },
    ]
}

#[test]
fn rule_scenarios() {
    for sc in scenarios() {
        run(&sc);
    }
}

#[test]
fn every_alert_of_the_scenarios_has_its_line_in_french() {
    let mut rules = std::collections::BTreeSet::new();
    for sc in scenarios() {
        for e in run(&sc) {
            let a = &e.alert;
            assert!(
                !a.summary_fr.is_empty() && a.summary_fr != a.summary,
                "{}: {a:?}",
                sc.name
            );
            assert_eq!(a.summary_in(crate::config::Language::En), a.summary);
            assert_eq!(a.summary_in(crate::config::Language::Fr), a.summary_fr);
            rules.insert(a.rule.rule.name());
        }
    }
    for rule in [
        "connectivity.lost",
        "disk.usage",
        "temperature",
        "recording.stopped",
        "hardware.failed",
    ] {
        assert!(rules.contains(rule), "no scenario raises {rule}: {rules:?}");
    }
}

#[test]
fn maintenance_suppression_flags_notifications() {
    use Ev::*;
    let sc = Scenario {
        name: "maintenance",
        kind: EquipmentKind::Nvr,
        thresholds: no_for(),
        steps: vec![
            (0, Maint(Some("swap"))),
            (0, Temp(90.0)),
            (60, Maint(None)),
            (60, Tick),
            (120, Temp(20.0)),
        ],
    };
    let events = run(&sc);
    let kinds: Vec<(Change, bool)> = events.iter().map(|e| (e.change, e.notify)).collect();
    assert_eq!(
        kinds,
        vec![
            (Change::Opened, false),
            (Change::Notified, true),
            (Change::Resolved, true)
        ]
    );
}

/// One step of an NVR with the policy thresholds and no maintenance.
fn nvr_step(st: &mut EquipmentState, input: Input<'_>, now: DateTime<Utc>) -> Outcome {
    let (site, id, th) = (SiteId::new("s"), EquipmentId::new("n"), policy());
    let cx = Context {
        site: &site,
        id: &id,
        kind: EquipmentKind::Nvr,
        thresholds: &th,
        escalation: &crate::config::Escalation::default(),
        maintenance: &|_| None,
    };
    step(st, input, &cx, now, &mut || 1)
}

#[test]
fn next_deadline_points_at_the_for_expiry() {
    let mut st = EquipmentState::new(t0());
    let obs = Observation::up().with_metric(Metric::new("hw.temperature", 75.0));
    let out = nvr_step(&mut st, Input::Observation(&obs), t0());
    assert_eq!(out.next_deadline, Some(t0() + chrono::Duration::minutes(2)));
}

// ---- site rule ----

fn cams(n: usize) -> Vec<EquipmentId> {
    (0..n)
        .map(|i| EquipmentId::new(&format!("cam-{i:02}")))
        .collect()
}

fn view<'a>(id: &'a EquipmentId, status: Status, down_for_secs: Option<i64>) -> CameraView<'a> {
    CameraView {
        id,
        status,
        offline_since: down_for_secs.map(|s| t0() - chrono::Duration::seconds(s)),
        after: Duration::from_secs(300),
        maintenance: None,
    }
}

#[test]
fn r3_camera_offline_more_than_five_minutes_alerts_at_once_with_zero_tolerance() {
    let ids = cams(4);
    let mut v: Vec<CameraView<'_>> = ids.iter().map(|i| view(i, Status::Up, None)).collect();
    v[2] = view(&ids[2], Status::Down, Some(299));
    let r = cameras_offline(&v, Tolerance::Count(0), t0());
    assert!(r.condition.is_none());
    assert_eq!(r.next_deadline, Some(t0() + chrono::Duration::seconds(1)));
    v[2] = view(&ids[2], Status::Down, Some(300));
    let r = cameras_offline(&v, Tolerance::Count(0), t0());
    let c = r.condition.expect("alert");
    assert_eq!(c.severity, Severity::Critical);
    assert_eq!(c.summary, "1 camera offline (tolerance 0 of 4): cam-02");
    assert_eq!(
        c.summary_fr,
        "1 caméra hors ligne (tolérance 0 sur 4) : cam-02"
    );
}

#[test]
fn r8_tolerance_by_count() {
    let ids = cams(10);
    let mut v: Vec<CameraView<'_>> = ids.iter().map(|i| view(i, Status::Up, None)).collect();
    v[1] = view(&ids[1], Status::Down, Some(600));
    v[5] = view(&ids[5], Status::Down, Some(600));
    assert!(
        cameras_offline(&v, Tolerance::Count(2), t0())
            .condition
            .is_none()
    );
    v[7] = view(&ids[7], Status::Down, Some(600));
    let c = cameras_offline(&v, Tolerance::Count(2), t0())
        .condition
        .expect("alert");
    assert_eq!(
        c.summary,
        "3 cameras offline (tolerance 2 of 10): cam-01, cam-05, cam-07"
    );
}

#[test]
fn r8_tolerance_by_percentage_rounds_down() {
    let ids = cams(40); // 5 % of 40 = 2 cameras
    let mut v: Vec<CameraView<'_>> = ids.iter().map(|i| view(i, Status::Up, None)).collect();
    v[0] = view(&ids[0], Status::Down, Some(600));
    v[1] = view(&ids[1], Status::Down, Some(600));
    assert!(
        cameras_offline(&v, Tolerance::Percent(5.0), t0())
            .condition
            .is_none()
    );
    v[2] = view(&ids[2], Status::Down, Some(600));
    assert!(
        cameras_offline(&v, Tolerance::Percent(5.0), t0())
            .condition
            .is_some()
    );
    // 5 % of 39 = 1.95, rounded down to 1.
    assert!(
        cameras_offline(&v[..39], Tolerance::Percent(5.0), t0())
            .condition
            .is_some()
    );
    assert!(
        cameras_offline(&v[1..3], Tolerance::Percent(5.0), t0())
            .condition
            .is_some()
    );
}

#[test]
fn unreachable_cameras_do_not_count_and_maintained_ones_count_but_are_covered() {
    let ids = cams(3);
    let mut v = vec![
        view(&ids[0], Status::Unreachable, Some(600)),
        view(&ids[1], Status::Down, Some(600)),
        view(&ids[2], Status::Up, None),
    ];
    v[1].maintenance = Some("works");
    let r = cameras_offline(&v, Tolerance::Count(0), t0());
    // R9 suppresses notification, not knowledge: the alert exists, covered by the window.
    assert!(r.condition.is_some());
    assert_eq!(r.offline, vec![ids[1].clone()]);
    assert_eq!(r.covered_by.as_deref(), Some("works"));
    // One counted camera outside any window: the alert is not covered.
    v[2] = view(&ids[2], Status::Down, Some(600));
    let r = cameras_offline(&v, Tolerance::Count(0), t0());
    assert_eq!(r.offline.len(), 2);
    assert_eq!(r.covered_by, None);
    // Unreachable alone: nothing counts.
    let only = vec![view(&ids[0], Status::Unreachable, Some(600))];
    let r = cameras_offline(&only, Tolerance::Count(0), t0());
    assert!(r.condition.is_none() && r.offline.is_empty());
}

#[test]
fn parents_cut_off_when_offline() {
    assert!(parent_cuts_off(Status::Down));
    assert!(parent_cuts_off(Status::Unreachable));
    assert!(!parent_cuts_off(Status::Up));
    assert!(!parent_cuts_off(Status::Unknown));
}

#[test]
fn an_uptime_going_back_counts_a_reboot() {
    let mut st = EquipmentState::new(t0());
    for (secs, uptime) in [(0, 5000.0), (60, 5060.0), (120, 30.0), (180, 90.0)] {
        let obs = Observation::up().with_metric(Metric::new("device.uptime", uptime));
        nvr_step(
            &mut st,
            Input::Observation(&obs),
            t0() + chrono::Duration::seconds(secs),
        );
    }
    assert_eq!(st.reboots, 1);
    assert_eq!(st.boot, Some(t0() + chrono::Duration::seconds(90)));
}

#[test]
fn garbage_uptimes_are_ignored_without_panicking() {
    let mut st = EquipmentState::new(t0());
    for v in [1e20, -5.0, f64::MAX, 1e16, f64::NAN, f64::INFINITY] {
        let obs = Observation::up().with_metric(Metric::new("device.uptime", v));
        nvr_step(&mut st, Input::Observation(&obs), t0());
    }
    assert_eq!(st.boot, None);
    assert_eq!(st.status, Status::Up);
}

#[test]
fn series_per_equipment_are_capped() {
    let mut st = EquipmentState::new(t0());
    for i in 0..500 {
        let obs = Observation::up()
            .with_metric(Metric::new("hw.temperature", 40.0).with("sensor", &format!("s{i}")));
        nvr_step(&mut st, Input::Observation(&obs), t0());
    }
    assert_eq!(st.series.len(), super::equipment::MAX_SERIES);
}

#[test]
fn a_closed_connectivity_alert_is_not_reopened_by_a_probe_that_cannot_tell() {
    let mut st = EquipmentState::new(t0());
    let at = |s: i64| t0() + chrono::Duration::seconds(s);
    let (up, down, unknown) = (
        Observation::up(),
        Observation::down("timeout"),
        Observation::unknown("dns"),
    );
    nvr_step(&mut st, Input::Observation(&up), at(0));
    nvr_step(&mut st, Input::Observation(&down), at(60));
    let out = nvr_step(&mut st, Input::Tick, at(180));
    let id = out
        .events
        .first()
        .map(|e| e.alert.id)
        .expect("connectivity alert");
    let action = crate::alert::AlertAction::Close {
        by: "paul".into(),
        note: "router replaced tomorrow".into(),
    };
    let (closed, _) = st.alerts.act(id, &action, at(200)).expect("close");
    st.alerts = closed;
    let mut opened = 0;
    for (s, obs) in [(240, &unknown), (300, &down), (360, &unknown), (420, &down)] {
        let out = nvr_step(&mut st, Input::Observation(obs), at(s));
        opened += out
            .events
            .iter()
            .filter(|e| e.change == Change::Opened)
            .count();
    }
    assert_eq!(opened, 0);
}

#[test]
fn a_drifting_uptime_clock_and_a_wrapping_counter_are_not_reboots() {
    let mut st = EquipmentState::new(t0());
    let day = 86_400i64;
    // A device clock running 50 ppm slow, read every day for a year.
    for d in 0..365 {
        let uptime = 1_000_000.0 + (d * day) as f64 * (1.0 - 50e-6);
        let obs = Observation::up().with_metric(Metric::new("device.uptime", uptime));
        nvr_step(
            &mut st,
            Input::Observation(&obs),
            t0() + chrono::Duration::seconds(d * day),
        );
    }
    assert_eq!(st.reboots, 0);
    // A 32-bit sysUpTime wraps 497 days after the agent started.
    let mut st = EquipmentState::new(t0());
    let obs = Observation::up().with_metric(Metric::new("device.uptime", 42_949_000.0));
    nvr_step(&mut st, Input::Observation(&obs), t0());
    let obs = Observation::up().with_metric(Metric::new("device.uptime", 300.0));
    nvr_step(
        &mut st,
        Input::Observation(&obs),
        t0() + chrono::Duration::seconds(972),
    );
    assert_eq!(st.reboots, 0);
}
