//! Availability (R13's global rate, R14's monthly figures): one computation from the event
//! log, per equipment, site, client and overall, over any period read in each site's time
//! zone. The API, the CLI, the dashboard and the report all call [`compute`], so their
//! figures agree to the digit.
//!
//! How time is counted, per equipment, from its first status in the log:
//! - **maintenance**: a maintenance window of its site covers it; left out of the rates;
//! - **not supervised**: the daemon was not running (from the previous run's last sign of
//!   life to the next start), or the probes could not tell its status (`unknown`); left out
//!   of the rates and shown;
//! - **unreachable**: its parent (switch, NVR, router) was down; attributed to the parent and
//!   shown as such, left out of the equipment's own rate but counted against its site;
//! - **up** and **down** otherwise.
//!
//! An equipment's own rate is up / (up + down); a site's, a client's and the overall rate
//! are Σ up / Σ (up + down + unreachable) over their equipment, each site over its own
//! period. Pure: the events come in, the figures go out.

use crate::config::{ClientId, EquipmentId, SiteId};
use crate::events::{Cause, Event, EventBody, SupervisionEvent};
use crate::rules::Status;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Time counted in each state, in milliseconds.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Answering.
    pub up_ms: i64,
    /// Down: its probes found it silent.
    pub down_ms: i64,
    /// Unreachable because its parent was down.
    pub unreachable_ms: i64,
    /// Covered by a maintenance window.
    pub maintenance_ms: i64,
    /// Not supervised: the daemon was not running, or the status was unknown.
    pub unsupervised_ms: i64,
}

impl Figures {
    /// Adds `o`'s times to these.
    pub fn add(&mut self, o: &Figures) {
        self.up_ms += o.up_ms;
        self.down_ms += o.down_ms;
        self.unreachable_ms += o.unreachable_ms;
        self.maintenance_ms += o.maintenance_ms;
        self.unsupervised_ms += o.unsupervised_ms;
    }

    /// The rate of a site, a client or the whole fleet, in percent: up over up, down and
    /// unreachable. `None` when nothing was supervised outside maintenance.
    pub fn rate(&self) -> Option<f64> {
        let base = self.up_ms + self.down_ms + self.unreachable_ms;
        (base > 0).then(|| 100.0 * self.up_ms as f64 / base as f64)
    }

    /// An equipment's own rate, in percent: up over up and down (time unreachable behind a
    /// down parent is the parent's). `None` when nothing counts.
    pub fn own_rate(&self) -> Option<f64> {
        let base = self.up_ms + self.down_ms;
        (base > 0).then(|| 100.0 * self.up_ms as f64 / base as f64)
    }
}

/// A rate as every view prints it: three decimals and a percent sign, or "n/a".
pub fn format_rate(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{r:.3} %"),
        None => "n/a".into(),
    }
}

/// One equipment's figures.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentAvailability {
    /// Its site.
    pub site: SiteId,
    /// The site's client.
    pub client: ClientId,
    /// Time in each state.
    pub figures: Figures,
    /// Its own rate (see [`Figures::own_rate`]).
    pub rate: Option<f64>,
    /// Time it was unreachable, by the parent that was down.
    pub unreachable_behind: BTreeMap<EquipmentId, i64>,
    /// Time other equipment were unreachable because it was down.
    pub caused_unreachable_ms: i64,
}

/// A site's, client's or the fleet's figures with their rate.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// Time in each state, summed over the equipment.
    pub figures: Figures,
    /// The rate (see [`Figures::rate`]).
    pub rate: Option<f64>,
}

impl Total {
    fn of(figures: Figures) -> Total {
        Total {
            figures,
            rate: figures.rate(),
        }
    }
}

/// The period of one site, as UTC instants (`from` included, `to` excluded).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// Start.
    pub from: DateTime<Utc>,
    /// End.
    pub to: DateTime<Utc>,
}

/// Availability over a period.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    /// The period of each site counted.
    pub periods: BTreeMap<SiteId, Period>,
    /// Each equipment seen in the log.
    pub equipment: BTreeMap<EquipmentId, EquipmentAvailability>,
    /// Each site.
    pub sites: BTreeMap<SiteId, Total>,
    /// Each client.
    pub clients: BTreeMap<ClientId, Total>,
    /// The whole fleet counted.
    pub global: Total,
    /// Set when a period starts before the oldest event the log keeps (older ones were removed
    /// by the retention): its time before this instant is not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_from: Option<DateTime<Utc>>,
}

/// Why a period cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Not a month `YYYY-MM`.
    #[error("`{0}` is not a month (YYYY-MM)")]
    Month(String),
    /// `from` is not before `to`.
    #[error("the period ends before it starts")]
    Empty,
}

/// A calendar month in a time zone: from local midnight of its first day to local midnight
/// of the next month's first day (a DST change inside is simply part of it).
pub fn month(text: &str, tz: Tz) -> Result<Period, PeriodError> {
    let bad = || PeriodError::Month(text.to_string());
    let (y, m) = text.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let first = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    }
    .ok_or_else(bad)?;
    Ok(Period {
        from: local_midnight(first, tz),
        to: local_midnight(next, tz),
    })
}

/// A period between two local dates (`to` excluded) in a time zone.
pub fn days(from: NaiveDate, to: NaiveDate, tz: Tz) -> Result<Period, PeriodError> {
    if from >= to {
        return Err(PeriodError::Empty);
    }
    Ok(Period {
        from: local_midnight(from, tz),
        to: local_midnight(to, tz),
    })
}

/// The month containing `at` in `tz`, as `YYYY-MM`.
pub fn month_of(at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    format!("{:04}-{:02}", local.year(), local.month())
}

/// The first instant of a local day (midnight, or the first minute after a DST gap).
fn local_midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..180 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(1);
    }
    Utc.from_utc_datetime(&t)
}

/// What the sweep knows at some point of the log, without any period: each equipment's
/// status, each site's open windows, whether the daemon ran. A compaction keeps it in place of
/// the events it removes, so availability after the cut stays exact.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The last event folded in.
    pub seq: u64,
    /// Its time.
    pub at: Option<DateTime<Utc>>,
    /// Each equipment's last status.
    pub equipment: BTreeMap<EquipmentId, BaselineStatus>,
    /// Each site's open windows, with the equipment they cover (the whole site: `None`).
    pub windows: BTreeMap<SiteId, BTreeMap<String, Option<BTreeSet<EquipmentId>>>>,
    /// Whether the daemon was running.
    pub supervised: bool,
    /// Each equipment's identity facts as last recorded, and when: the weak-signal detectors
    /// compare a device with its past (a swap) and with its model's usual firmware even once
    /// the events that recorded them are removed.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub facts: BTreeMap<EquipmentId, crate::signals::FactsAt>,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            seq: 0,
            at: None,
            equipment: BTreeMap::new(),
            windows: BTreeMap::new(),
            supervised: true,
            facts: BTreeMap::new(),
        }
    }
}

/// An equipment's status in a [`Baseline`].
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineStatus {
    /// Its site.
    pub site: SiteId,
    /// The site's client.
    pub client: ClientId,
    /// Its status.
    pub status: Status,
    /// The parent it was unreachable behind.
    pub parent: Option<EquipmentId>,
}

impl Baseline {
    /// This baseline moved forward over `events` (those after its `seq`, in order).
    pub fn fold<'e>(self, events: impl IntoIterator<Item = &'e Event>) -> Baseline {
        let none = BTreeMap::new();
        let mut sweep = Sweep::from_baseline(&self, &none);
        let (mut seq, mut at) = (self.seq, self.at);
        let mut facts = self.facts.clone();
        for e in events {
            if e.seq <= self.seq {
                continue;
            }
            if let crate::events::EventBody::Facts(f) = &e.body {
                facts.insert(f.equipment.clone(), (e.at, f.facts.clone()));
            }
            sweep.feed(e);
            seq = e.seq;
            at = Some(e.at);
        }
        Baseline {
            seq,
            at,
            equipment: sweep
                .tracks
                .into_iter()
                .map(|(id, t)| {
                    (
                        id,
                        BaselineStatus {
                            site: t.site,
                            client: t.client,
                            status: t.status,
                            parent: t.parent,
                        },
                    )
                })
                .collect(),
            windows: sweep.windows,
            supervised: sweep.supervised,
            facts,
        }
    }
}

/// What an equipment is doing, as the sweep knows it.
struct Track {
    site: SiteId,
    client: ClientId,
    status: Status,
    parent: Option<EquipmentId>,
    since: DateTime<Utc>,
    figures: Figures,
    behind: BTreeMap<EquipmentId, i64>,
}

/// The sweep over the log: the state of every equipment, the windows open on every site and
/// whether the daemon was running, accounted at each change.
struct Sweep<'a> {
    periods: &'a BTreeMap<SiteId, Period>,
    tracks: BTreeMap<EquipmentId, Track>,
    windows: BTreeMap<SiteId, BTreeMap<String, Option<BTreeSet<EquipmentId>>>>,
    supervised: bool,
}

impl<'a> Sweep<'a> {
    fn from_baseline(b: &Baseline, periods: &'a BTreeMap<SiteId, Period>) -> Sweep<'a> {
        let since = b.at.unwrap_or(DateTime::<Utc>::MIN_UTC);
        Sweep {
            periods,
            tracks: b
                .equipment
                .iter()
                .map(|(id, s)| {
                    (
                        id.clone(),
                        Track {
                            site: s.site.clone(),
                            client: s.client.clone(),
                            status: s.status,
                            parent: s.parent.clone(),
                            since,
                            figures: Figures::default(),
                            behind: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
            windows: b.windows.clone(),
            supervised: b.supervised,
        }
    }

    fn in_window(&self, site: &SiteId, id: &EquipmentId) -> bool {
        self.windows.get(site).is_some_and(|w| {
            w.values()
                .any(|scope| scope.as_ref().is_none_or(|s| s.contains(id)))
        })
    }

    /// Counts the time of `id` from its last accounting to `until`, within its site's period.
    fn account(&mut self, id: &EquipmentId, until: DateTime<Utc>) {
        let Some(t) = self.tracks.get(id) else {
            return;
        };
        let Some(p) = self.periods.get(&t.site) else {
            return;
        };
        let (from, to) = (t.since.max(p.from), until.min(p.to));
        let ms = (to - from).num_milliseconds();
        let maintenance = self.in_window(&t.site, id);
        let supervised = self.supervised;
        let Some(t) = self.tracks.get_mut(id) else {
            return;
        };
        t.since = t.since.max(until);
        if ms <= 0 {
            return;
        }
        let f = &mut t.figures;
        match t.status {
            _ if !supervised => f.unsupervised_ms += ms,
            _ if maintenance => f.maintenance_ms += ms,
            Status::Up => f.up_ms += ms,
            Status::Down => f.down_ms += ms,
            Status::Unreachable => {
                f.unreachable_ms += ms;
                if let Some(parent) = &t.parent {
                    *t.behind.entry(parent.clone()).or_insert(0) += ms;
                }
            }
            Status::Unknown => f.unsupervised_ms += ms,
        }
    }

    fn account_all(&mut self, until: DateTime<Utc>, site: Option<&SiteId>) {
        let ids: Vec<EquipmentId> = self
            .tracks
            .iter()
            .filter(|(_, t)| site.is_none_or(|s| *s == t.site))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.account(&id, until);
        }
    }

    fn feed(&mut self, e: &Event) {
        match &e.body {
            EventBody::Transition(t) => {
                self.account(&t.equipment, e.at);
                let parent = match &t.cause {
                    Cause::ParentDown { parent } => parent.clone(),
                    _ => None,
                };
                let track = self
                    .tracks
                    .entry(t.equipment.clone())
                    .or_insert_with(|| Track {
                        site: t.site.clone(),
                        client: t.client.clone(),
                        status: t.to,
                        parent: None,
                        since: e.at,
                        figures: Figures::default(),
                        behind: BTreeMap::new(),
                    });
                track.site = t.site.clone();
                track.client = t.client.clone();
                track.status = t.to;
                track.parent = parent;
            }
            EventBody::Maintenance(m) => {
                self.account_all(e.at, Some(&m.site));
                let open = self.windows.entry(m.site.clone()).or_default();
                if m.active {
                    let scope = m.equipment.as_ref().map(|v| v.iter().cloned().collect());
                    open.insert(m.window.clone(), scope);
                } else {
                    open.remove(&m.window);
                }
            }
            EventBody::Supervision(SupervisionEvent::Started { last_alive }) => {
                // Supervised until the previous run's last sign of life, not since.
                if self.supervised
                    && let Some(a) = last_alive
                {
                    self.account_all((*a).min(e.at), None);
                }
                self.supervised = false;
                self.account_all(e.at, None);
                self.supervised = true;
                // The new run tells again the windows open now.
                self.windows.clear();
            }
            EventBody::Supervision(SupervisionEvent::Stopped) => {
                self.account_all(e.at, None);
                self.supervised = false;
            }
            EventBody::Alert(_)
            | EventBody::Config(_)
            | EventBody::Ticket(_)
            | EventBody::Facts(_) => {}
        }
    }
}

/// Availability of the sites of `periods` over their periods, from the log's events in
/// sequence order after `baseline` (what a compaction kept of the events it removed; the
/// events before a period give the state at its start; those after are ignored). Time after
/// `now` is not counted. The daemon is taken as running at the log's start; `running` says
/// whether it is running now (false when the figures are computed from the data directory of
/// a stopped daemon: the time since its last event is then not supervised).
pub fn compute<'e>(
    baseline: Option<&Baseline>,
    events: impl IntoIterator<Item = &'e Event>,
    periods: &BTreeMap<SiteId, Period>,
    now: DateTime<Utc>,
    running: bool,
) -> Availability {
    let end = periods.values().map(|p| p.to).max().unwrap_or(now).min(now);
    let empty = Baseline::default();
    let baseline = baseline.unwrap_or(&empty);
    let mut sweep = Sweep::from_baseline(baseline, periods);
    let mut last = baseline.at;
    for e in events {
        if e.seq <= baseline.seq {
            continue;
        }
        if e.at >= end {
            break;
        }
        last = Some(e.at);
        sweep.feed(e);
    }
    if !running && let Some(l) = last {
        sweep.account_all(l, None);
        sweep.supervised = false;
    }
    sweep.account_all(end, None);

    let kept_from = baseline
        .at
        .filter(|at| periods.values().any(|p| p.from < *at));
    let mut out = Availability {
        kept_from,
        periods: periods.clone(),
        equipment: BTreeMap::new(),
        sites: BTreeMap::new(),
        clients: BTreeMap::new(),
        global: Total::of(Figures::default()),
    };
    let mut caused: BTreeMap<EquipmentId, i64> = BTreeMap::new();
    for t in sweep.tracks.values() {
        for (parent, ms) in &t.behind {
            *caused.entry(parent.clone()).or_insert(0) += ms;
        }
    }
    let mut sites: BTreeMap<SiteId, Figures> = BTreeMap::new();
    let mut clients: BTreeMap<ClientId, Figures> = BTreeMap::new();
    let mut global = Figures::default();
    for (id, t) in sweep.tracks {
        if !periods.contains_key(&t.site) {
            continue;
        }
        sites.entry(t.site.clone()).or_default().add(&t.figures);
        clients.entry(t.client.clone()).or_default().add(&t.figures);
        global.add(&t.figures);
        out.equipment.insert(
            id.clone(),
            EquipmentAvailability {
                rate: t.figures.own_rate(),
                caused_unreachable_ms: caused.get(&id).copied().unwrap_or(0),
                site: t.site,
                client: t.client,
                figures: t.figures,
                unreachable_behind: t.behind,
            },
        );
    }
    out.sites = sites.into_iter().map(|(k, f)| (k, Total::of(f))).collect();
    out.clients = clients
        .into_iter()
        .map(|(k, f)| (k, Total::of(f)))
        .collect();
    out.global = Total::of(global);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{MaintenanceEvent, TransitionEvent};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    struct Log(Vec<Event>);

    impl Log {
        fn push(&mut self, t: &str, body: EventBody) -> &mut Self {
            let seq = self.0.len() as u64 + 1;
            self.0.push(Event {
                seq,
                at: at(t),
                body,
            });
            self
        }

        fn status(
            &mut self,
            t: &str,
            id: &str,
            site: &str,
            to: Status,
            parent: Option<&str>,
        ) -> &mut Self {
            let parent = parent.map(EquipmentId::new);
            self.push(
                t,
                EventBody::Transition(TransitionEvent {
                    equipment: EquipmentId::new(id),
                    site: SiteId::new(site),
                    client: ClientId::new(if site == "b" { "beta" } else { "acme" }),
                    from: Status::Unknown,
                    to,
                    reason: None,
                    cause: Cause::of(to, parent.as_ref()),
                    maintenance: None,
                }),
            )
        }
    }

    const H: i64 = 3_600_000;
    const M: i64 = 60_000;

    fn utc_periods(sites: &[&str], from: &str, to: &str) -> BTreeMap<SiteId, Period> {
        sites
            .iter()
            .map(|s| {
                (
                    SiteId::new(s),
                    Period {
                        from: at(from),
                        to: at(to),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn down_time_counts_against_the_equipment_and_the_state_before_the_period_carries_in() {
        let mut log = Log(Vec::new());
        log.status("2026-02-27T00:00:00Z", "cam", "a", Status::Up, None)
            .status("2026-03-01T10:00:00Z", "cam", "a", Status::Down, None)
            .status("2026-03-01T12:30:00Z", "cam", "a", Status::Up, None)
            .status("2026-03-03T00:00:00Z", "cam", "a", Status::Down, None);
        // One day: 2 h 30 min down out of 24 h.
        let p = utc_periods(&["a"], "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z");
        let a = compute(None, &log.0, &p, at("2026-04-01T00:00:00Z"), true);
        let f = a.equipment[&EquipmentId::new("cam")].figures;
        assert_eq!(f.up_ms, 21 * H + 30 * M);
        assert_eq!(f.down_ms, 2 * H + 30 * M);
        assert_eq!(format_rate(f.own_rate()), "89.583 %");
        assert_eq!(a.sites[&SiteId::new("a")].figures, f);
        assert_eq!(a.global.rate, f.own_rate());
    }

    #[test]
    fn maintenance_is_left_out_and_a_parent_is_blamed_for_its_children() {
        let mut log = Log(Vec::new());
        log.status("2026-03-01T00:00:00Z", "sw", "a", Status::Up, None)
            .status("2026-03-01T00:00:00Z", "cam1", "a", Status::Up, None)
            .status("2026-03-01T00:00:00Z", "cam2", "a", Status::Up, None)
            // The switch is down 1 h, its two cameras unreachable behind it.
            .status("2026-03-01T06:00:00Z", "sw", "a", Status::Down, None)
            .status(
                "2026-03-01T06:00:00Z",
                "cam1",
                "a",
                Status::Unreachable,
                Some("sw"),
            )
            .status(
                "2026-03-01T06:00:00Z",
                "cam2",
                "a",
                Status::Unreachable,
                Some("sw"),
            )
            .status("2026-03-01T07:00:00Z", "sw", "a", Status::Up, None)
            .status("2026-03-01T07:00:00Z", "cam1", "a", Status::Up, None)
            .status("2026-03-01T07:00:00Z", "cam2", "a", Status::Up, None)
            // A 2 h window on cam1 only, during which it is down: not counted.
            .push(
                "2026-03-01T20:00:00Z",
                EventBody::Maintenance(MaintenanceEvent {
                    site: SiteId::new("a"),
                    window: "lens".into(),
                    equipment: Some(vec![EquipmentId::new("cam1")]),
                    active: true,
                }),
            )
            .status("2026-03-01T20:30:00Z", "cam1", "a", Status::Down, None)
            .status("2026-03-01T21:30:00Z", "cam1", "a", Status::Up, None)
            .push(
                "2026-03-01T22:00:00Z",
                EventBody::Maintenance(MaintenanceEvent {
                    site: SiteId::new("a"),
                    window: "lens".into(),
                    equipment: Some(vec![EquipmentId::new("cam1")]),
                    active: false,
                }),
            );
        let p = utc_periods(&["a"], "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z");
        let a = compute(None, &log.0, &p, at("2026-04-01T00:00:00Z"), true);
        let sw = &a.equipment[&EquipmentId::new("sw")];
        assert_eq!((sw.figures.up_ms, sw.figures.down_ms), (23 * H, H));
        assert_eq!(sw.caused_unreachable_ms, 2 * H);
        let cam1 = &a.equipment[&EquipmentId::new("cam1")];
        assert_eq!(cam1.figures.unreachable_ms, H);
        assert_eq!(cam1.unreachable_behind[&EquipmentId::new("sw")], H);
        assert_eq!(cam1.figures.maintenance_ms, 2 * H);
        assert_eq!(cam1.figures.down_ms, 0);
        assert_eq!(cam1.figures.up_ms, 21 * H);
        // Its own rate leaves the parent's fault out: 100 %.
        assert_eq!(format_rate(cam1.rate), "100.000 %");
        // The site counts every equipment-hour that was not up outside maintenance:
        // 23 + 21 + 23 = 67 h up out of 67 + 1 down + 2 unreachable = 70 h.
        let site = a.sites[&SiteId::new("a")];
        assert_eq!(site.figures.up_ms, 67 * H);
        assert_eq!(site.figures.maintenance_ms, 2 * H);
        assert_eq!(format_rate(site.rate), "95.714 %");
    }

    #[test]
    fn time_without_the_daemon_or_with_an_unknown_status_is_not_supervised() {
        let mut log = Log(Vec::new());
        log.status("2026-03-01T00:00:00Z", "nvr", "a", Status::Up, None)
            // Last alive at 10:00, started again at 13:00: 3 h not supervised.
            .push(
                "2026-03-01T13:00:00Z",
                EventBody::Supervision(SupervisionEvent::Started {
                    last_alive: Some(at("2026-03-01T10:00:00Z")),
                }),
            )
            .status("2026-03-01T15:00:00Z", "nvr", "a", Status::Unknown, None)
            .status("2026-03-01T16:00:00Z", "nvr", "a", Status::Up, None)
            // Stopped cleanly at 20:00, never started again within the day.
            .push(
                "2026-03-01T20:00:00Z",
                EventBody::Supervision(SupervisionEvent::Stopped),
            );
        let p = utc_periods(&["a"], "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z");
        let a = compute(None, &log.0, &p, at("2026-04-01T00:00:00Z"), false);
        let f = a.equipment[&EquipmentId::new("nvr")].figures;
        assert_eq!(f.unsupervised_ms, 3 * H + H + 4 * H);
        assert_eq!(f.up_ms, 16 * H);
        assert_eq!(format_rate(f.own_rate()), "100.000 %");
        // A stopped daemon's data: the time since its last event is not supervised.
        let mut log = Log(Vec::new());
        log.status("2026-03-01T00:00:00Z", "nvr", "a", Status::Up, None);
        let a = compute(None, &log.0, &p, at("2026-04-01T00:00:00Z"), false);
        let f = a.equipment[&EquipmentId::new("nvr")].figures;
        assert_eq!((f.up_ms, f.unsupervised_ms), (0, 24 * H));
        let a = compute(None, &log.0, &p, at("2026-03-01T06:00:00Z"), true);
        let f = a.equipment[&EquipmentId::new("nvr")].figures;
        assert_eq!(
            (f.up_ms, f.unsupervised_ms),
            (6 * H, 0),
            "nothing after now"
        );
    }

    #[test]
    fn a_month_is_read_in_the_site_time_zone_across_a_dst_change() {
        let paris: Tz = "Europe/Paris".parse().expect("tz");
        let march = month("2026-03", paris).expect("month");
        assert_eq!(march.from, at("2026-02-28T23:00:00Z"));
        assert_eq!(march.to, at("2026-03-31T22:00:00Z"));
        // 31 days less the hour lost on 29 March.
        assert_eq!((march.to - march.from).num_hours(), 31 * 24 - 1);
        let mut log = Log(Vec::new());
        log.status("2026-02-01T00:00:00Z", "cam", "a", Status::Up, None)
            .status("2026-02-28T23:30:00Z", "cam", "a", Status::Down, None)
            .status("2026-03-01T00:30:00Z", "cam", "a", Status::Up, None)
            .status("2026-03-01T00:00:00Z", "x", "b", Status::Up, None);
        let periods: BTreeMap<SiteId, Period> = [
            (SiteId::new("a"), march),
            (SiteId::new("b"), month("2026-03", Tz::UTC).expect("month")),
        ]
        .into_iter()
        .collect();
        let a = compute(None, &log.0, &periods, at("2026-05-01T00:00:00Z"), true);
        let f = a.equipment[&EquipmentId::new("cam")].figures;
        assert_eq!(f.down_ms, H, "the local month began at 23:00 UTC");
        assert_eq!(f.up_ms, (31 * 24 - 2) * H);
        assert_eq!(a.clients.len(), 2);
        assert_eq!(a.global.figures.up_ms, f.up_ms + 31 * 24 * H);
        assert!(matches!(
            month("2026-13", paris),
            Err(PeriodError::Month(_))
        ));
        assert!(matches!(month("march", paris), Err(PeriodError::Month(_))));
        assert_eq!(month_of(at("2026-02-28T23:30:00Z"), paris), "2026-03");
    }

    #[test]
    fn a_baseline_in_place_of_the_old_events_gives_the_same_figures() {
        let mut log = Log(Vec::new());
        log.status("2026-01-01T00:00:00Z", "sw", "a", Status::Up, None)
            .status("2026-01-01T00:00:00Z", "cam", "a", Status::Up, None)
            .status("2026-01-20T00:00:00Z", "sw", "a", Status::Down, None)
            .status(
                "2026-01-20T00:00:00Z",
                "cam",
                "a",
                Status::Unreachable,
                Some("sw"),
            )
            .push(
                "2026-01-25T00:00:00Z",
                EventBody::Maintenance(MaintenanceEvent {
                    site: SiteId::new("a"),
                    window: "works".into(),
                    equipment: None,
                    active: true,
                }),
            )
            .push(
                "2026-01-31T00:00:00Z",
                EventBody::Supervision(SupervisionEvent::Stopped),
            )
            // Everything above is compacted; the state it leaves carries into February.
            .push(
                "2026-02-02T00:00:00Z",
                EventBody::Supervision(SupervisionEvent::Started { last_alive: None }),
            )
            .push(
                "2026-02-03T00:00:00Z",
                EventBody::Maintenance(MaintenanceEvent {
                    site: SiteId::new("a"),
                    window: "works".into(),
                    equipment: None,
                    active: false,
                }),
            )
            .status("2026-02-05T00:00:00Z", "sw", "a", Status::Up, None)
            .status("2026-02-05T00:00:00Z", "cam", "a", Status::Up, None);
        let p = utc_periods(&["a"], "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
        let now = at("2026-04-01T00:00:00Z");
        let whole = compute(None, &log.0, &p, now, true);
        let base = Baseline::default().fold(&log.0[..6]);
        assert_eq!(base.seq, 6);
        assert!(!base.supervised);
        assert_eq!(
            base.equipment[&EquipmentId::new("cam")].status,
            Status::Unreachable
        );
        let cut = compute(Some(&base), &log.0[6..], &p, now, true);
        assert_eq!(cut, whole);
        // Folding twice is folding once.
        let again = Baseline::default().fold(&log.0[..3]).fold(&log.0[..6]);
        assert_eq!(again, base);
        // 1 Feb not supervised; 2 Feb (the window reopened by nobody after the restart: the
        // new run tells again what is open) down; then up from 5 Feb.
        let sw = whole.equipment[&EquipmentId::new("sw")].figures;
        assert_eq!(sw.unsupervised_ms, 24 * H);
        assert_eq!(sw.down_ms, 3 * 24 * H);
        assert_eq!(sw.up_ms, 24 * 24 * H);
    }
}
