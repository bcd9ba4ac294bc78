//! A synthetic fleet and month, for tests and benchmarks: the config files of a fleet of
//! clients and sites, and what the daemon would have written over a month into a real store —
//! status transitions, a switch outage taking its cameras with it, a maintenance window, a
//! stop of the daemon, alerts with their escalation ticket and closing note, identity facts,
//! and hourly metric rollups (a recorder's disk filling, a part failing) for the month and the
//! month before. Every site lives the same scripted month, so its figures can be computed by
//! hand ([`Expected`]).

use crate::alert::{Alert, AlertEvent, Change};
use crate::availability::month as month_period;
use crate::config::{ClientId, EquipmentId, SiteId};
use crate::events::{
    Cause, EventBody, FactsEvent, MaintenanceEvent, SupervisionEvent, TransitionEvent,
};
use crate::rules::Status;
use crate::store::Store;
use crate::ticket::{Ticket, TicketChange, TicketEvent};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::fmt::Write;
use vigie_core::history::{self, Hour, Rollup, SeriesKey};

/// The shape of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fleet {
    /// Clients; even ones read their reports in French, odd ones in English.
    pub clients: usize,
    /// Sites per client.
    pub sites_per_client: usize,
    /// Cameras per site, all behind the site's switch.
    pub cameras_per_site: usize,
}

impl Fleet {
    /// The id of client `c`.
    pub fn client(c: usize) -> String {
        format!("client-{c:03}")
    }

    /// The id of site `s` of client `c`.
    pub fn site(c: usize, s: usize) -> String {
        format!("c{c:03}-s{s:02}")
    }

    /// Equipment per site: a switch, a recorder and the cameras.
    pub fn equipment_per_site(&self) -> usize {
        self.cameras_per_site + 2
    }

    /// The main config file and the site files (name, text), all sites in `Europe/Paris`.
    pub fn config_files(&self) -> (String, Vec<(String, String)>) {
        let mut main = String::from(
            "[daemon]\nlisten = \"127.0.0.1:0\"\n\n[reports]\nsend = false\ncompany = \"Vidéo Services Ouest\"\ncolour = \"#0b4f8a\"\naccent = \"#d35400\"\n",
        );
        let mut sites = Vec::new();
        for c in 0..self.clients {
            let lang = if c % 2 == 0 { "fr" } else { "en" };
            let _ = write!(
                main,
                "\n[clients.{}]\nname = \"Client {c}\"\ncontract = {{ supervision = true, dashboard = true, report_language = \"{lang}\" }}\n",
                Self::client(c)
            );
            for s in 0..self.sites_per_client {
                let id = Self::site(c, s);
                let mut text = format!(
                    "[site]\nname = \"Site {s} of client {c}\"\nclient = \"{}\"\ntimezone = \"Europe/Paris\"\ncamera_tolerance = 1\n",
                    Self::client(c)
                );
                let _ = write!(
                    text,
                    "\n[[equipment]]\nid = \"{id}-sw\"\nname = \"Switch {s}\"\nkind = \"switch\"\naddress = \"127.0.0.1\"\nprobes = [\"icmp\"]\n\n[[equipment]]\nid = \"{id}-nvr\"\nname = \"NVR {s}\"\nkind = \"nvr\"\naddress = \"127.0.0.1\"\nprobes = [\"icmp\"]\n"
                );
                for k in 1..=self.cameras_per_site {
                    let _ = write!(
                        text,
                        "\n[[equipment]]\nid = \"{id}-cam-{k}\"\nname = \"Camera {k}\"\nkind = \"camera\"\naddress = \"127.0.0.1\"\nparent = \"{id}-sw\"\nprobes = [\"icmp\"]\n"
                    );
                }
                sites.push((id, text));
            }
        }
        (main, sites)
    }

    /// Writes the config files into `dir` (`vigie.toml` and `sites/`).
    pub fn write_config(&self, dir: &std::path::Path) -> std::io::Result<()> {
        let (main, sites) = self.config_files();
        std::fs::create_dir_all(dir.join("sites"))?;
        std::fs::write(dir.join("vigie.toml"), main)?;
        for (id, text) in sites {
            std::fs::write(dir.join("sites").join(format!("{id}.toml")), text)?;
        }
        Ok(())
    }
}

/// What happens in every site in the month, in the site's local time.
pub mod script {
    /// Day and hours (local) of the switch outage: its cameras are unreachable meanwhile.
    pub const SWITCH_DOWN: (u32, u32, u32) = (10, 10, 12);
    /// Day and hours of the maintenance window on camera 1, and the hour it is down inside.
    pub const WINDOW: (u32, u32, u32) = (15, 2, 4);
    /// Day and hours the daemon was stopped.
    pub const DAEMON_DOWN: (u32, u32, u32) = (20, 9, 12);
    /// Day and hour the recorder's second disk fails (an alert left open).
    pub const DISK_FAILS: (u32, u32) = (25, 8);
    /// The closing note of the switch's alert.
    pub const CLOSING_NOTE: &str = "PoE switch power supply replaced";
    /// The recorder's volume: utilisation at the month's start and end, in percent.
    pub const DISK_FILL: (f32, f32) = (70.0, 88.0);
}

/// The figures of one site of the month, computed by hand from [`script`]: hours in each
/// state, per equipment role.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expected {
    /// Hours in the month (743 in a month losing an hour to summer time).
    pub hours: i64,
    /// The site's up, down, unreachable, maintenance and unsupervised hours.
    pub site: [i64; 5],
    /// The site's rate, in percent.
    pub rate: f64,
}

/// The hand-computed figures of a site with `cameras` cameras over a month of `hours` hours.
pub fn expected(hours: i64, cameras: i64) -> Expected {
    let (sw_down, window, stop) = (2, 2, 3);
    // Switch: down 2 h; recorder: up; cameras: unreachable behind the switch 2 h, camera 1
    // in its window 2 h; everything not supervised while the daemon was stopped.
    let down = sw_down;
    let unreachable = sw_down * cameras;
    let maintenance = window;
    let unsupervised = stop * (cameras + 2);
    let total = hours * (cameras + 2);
    let up = total - down - unreachable - maintenance - unsupervised;
    Expected {
        hours,
        site: [up, down, unreachable, maintenance, unsupervised],
        rate: 100.0 * up as f64 / (up + down + unreachable) as f64,
    }
}

fn local(tz: Tz, date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let t = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default());
    tz.from_local_datetime(&t)
        .earliest()
        .map_or_else(|| Utc.from_utc_datetime(&t), |t| t.with_timezone(&Utc))
}

fn alert(
    id: u64,
    equipment: &str,
    site: &str,
    rule: &str,
    severity: &str,
    (summary, summary_fr): (&str, &str),
    at: DateTime<Utc>,
) -> Result<Alert, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "id": id, "owner": {"equipment": equipment}, "site": site, "rule": rule,
        "severity": severity, "state": "open", "summary": summary, "summary_fr": summary_fr,
        "opened_at": at, "updated_at": at, "notified": true, "timeline": []
    }))
}

/// What [`write_month`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Events appended to the log.
    pub events: usize,
    /// Day rows of metric history.
    pub history_days: usize,
}

/// Why the month cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    /// Not a month.
    #[error("{0}")]
    Month(String),
    /// An alert cannot be made.
    #[error("an alert cannot be made: {0}")]
    Alert(#[from] serde_json::Error),
    /// The store refused it.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn transition(
    eq: &str,
    site: &str,
    client: &str,
    from: Status,
    to: Status,
    cause: Cause,
    window: Option<&str>,
) -> EventBody {
    EventBody::Transition(TransitionEvent {
        equipment: EquipmentId::new(eq),
        site: SiteId::new(site),
        client: ClientId::new(client),
        from,
        to,
        reason: None,
        cause,
        maintenance: window.map(String::from),
    })
}

/// Writes `fleet`'s `month` (`YYYY-MM`, Europe/Paris) into `store`, the daemon starting a day
/// before it, with the hourly rollups of the month and the month before; flushed when it
/// answers.
pub fn write_month(store: &Store, fleet: &Fleet, month: &str) -> Result<Written, SyntheticError> {
    let tz: Tz = chrono_tz::Europe::Paris;
    let period = month_period(month, tz).map_err(|e| SyntheticError::Month(e.to_string()))?;
    let first = period.from.with_timezone(&tz).date_naive();
    let day = |d: u32| first.with_day0(d - 1).unwrap_or(first);
    use chrono::Datelike;
    let start = period.from - Duration::days(1);
    let mut events: Vec<(DateTime<Utc>, EventBody)> = vec![(
        start,
        EventBody::Supervision(SupervisionEvent::Started { last_alive: None }),
    )];
    let mut alert_id = 0;
    let mut ticket_no = 0;
    for c in 0..fleet.clients {
        let client = Fleet::client(c);
        for s in 0..fleet.sites_per_client {
            let site = Fleet::site(c, s);
            let sw = format!("{site}-sw");
            let nvr = format!("{site}-nvr");
            let cams: Vec<String> = (1..=fleet.cameras_per_site)
                .map(|k| format!("{site}-cam-{k}"))
                .collect();
            for eq in std::iter::once(&sw).chain([&nvr]).chain(&cams) {
                events.push((
                    start,
                    transition(
                        eq,
                        &site,
                        &client,
                        Status::Unknown,
                        Status::Up,
                        Cause::Answered,
                        None,
                    ),
                ));
            }
            events.push((
                start,
                EventBody::Facts(FactsEvent {
                    equipment: EquipmentId::new(&nvr),
                    site: SiteId::new(&site),
                    client: ClientId::new(&client),
                    facts: vec![
                        ("model".into(), "DS-7616NI".into()),
                        ("firmware".into(), "V4.30.085".into()),
                        ("serial".into(), format!("SN{c:03}{s:02}")),
                    ],
                }),
            ));
            // The switch outage and its alert, escalated to a ticket, closed with a note.
            let (d, h0, h1) = script::SWITCH_DOWN;
            let (down, up) = (local(tz, day(d), h0), local(tz, day(d), h1));
            events.push((
                down,
                transition(
                    &sw,
                    &site,
                    &client,
                    Status::Up,
                    Status::Down,
                    Cause::ProbeFailure,
                    None,
                ),
            ));
            for cam in &cams {
                events.push((
                    down,
                    transition(
                        cam,
                        &site,
                        &client,
                        Status::Up,
                        Status::Unreachable,
                        Cause::ParentDown {
                            parent: Some(EquipmentId::new(&sw)),
                        },
                        None,
                    ),
                ));
            }
            events.push((
                up,
                transition(
                    &sw,
                    &site,
                    &client,
                    Status::Down,
                    Status::Up,
                    Cause::Answered,
                    None,
                ),
            ));
            for cam in &cams {
                events.push((
                    up,
                    transition(
                        cam,
                        &site,
                        &client,
                        Status::Unreachable,
                        Status::Up,
                        Cause::Answered,
                        None,
                    ),
                ));
            }
            alert_id += 1;
            let mut a = alert(
                alert_id,
                &sw,
                &site,
                "connectivity.lost",
                "critical",
                ("no answer to ICMP", "ne répond plus au ping (ICMP)"),
                down,
            )?;
            events.push((
                down,
                EventBody::Alert(Box::new(AlertEvent {
                    alert: a.clone(),
                    change: Change::Opened,
                    notify: true,
                })),
            ));
            a.escalation_level = 1;
            ticket_no += 1;
            let mut ticket = Ticket::open(
                ticket_no,
                &a,
                Some(ClientId::new(&client)),
                None,
                down + Duration::hours(1),
            );
            events.push((
                down + Duration::hours(1),
                EventBody::Ticket(Box::new(TicketEvent {
                    ticket: ticket.clone(),
                    change: TicketChange::Opened,
                })),
            ));
            a.resolved_at = Some(up);
            a.closed = Some(crate::alert::Action {
                by: "tech".into(),
                at: up + Duration::minutes(30),
                note: Some(script::CLOSING_NOTE.into()),
            });
            a.state = crate::alert::AlertState::Closed;
            a.updated_at = up + Duration::minutes(30);
            events.push((
                up + Duration::minutes(30),
                EventBody::Alert(Box::new(AlertEvent {
                    alert: a,
                    change: Change::Closed,
                    notify: true,
                })),
            ));
            ticket.status = crate::ticket::TicketStatus::Closed;
            ticket.resolution = Some(script::CLOSING_NOTE.into());
            ticket.closed = Some((up + Duration::minutes(30), script::CLOSING_NOTE.into()));
            events.push((
                up + Duration::minutes(30),
                EventBody::Ticket(Box::new(TicketEvent {
                    ticket,
                    change: TicketChange::Closed,
                })),
            ));
            // The maintenance window on camera 1, down for an hour inside it.
            let (d, h0, h1) = script::WINDOW;
            let (open, close) = (local(tz, day(d), h0), local(tz, day(d), h1));
            if let Some(cam) = cams.first() {
                let window = "firmware update";
                events.push((
                    open,
                    EventBody::Maintenance(MaintenanceEvent {
                        site: SiteId::new(&site),
                        window: window.into(),
                        equipment: Some(vec![EquipmentId::new(cam)]),
                        active: true,
                    }),
                ));
                events.push((
                    open + Duration::minutes(30),
                    transition(
                        cam,
                        &site,
                        &client,
                        Status::Up,
                        Status::Down,
                        Cause::ProbeFailure,
                        Some(window),
                    ),
                ));
                events.push((
                    open + Duration::minutes(90),
                    transition(
                        cam,
                        &site,
                        &client,
                        Status::Down,
                        Status::Up,
                        Cause::Answered,
                        Some(window),
                    ),
                ));
                events.push((
                    close,
                    EventBody::Maintenance(MaintenanceEvent {
                        site: SiteId::new(&site),
                        window: window.into(),
                        equipment: Some(vec![EquipmentId::new(cam)]),
                        active: false,
                    }),
                ));
            }
            // The recorder's second disk fails: an alert still open at the month's end.
            let (d, h) = script::DISK_FAILS;
            alert_id += 1;
            let a = alert(
                alert_id,
                &nvr,
                &site,
                "hardware.failed{disk=hdd2}",
                "critical",
                ("disk hdd2 reported failed", "disque hdd2 signalé en défaut"),
                local(tz, day(d), h),
            )?;
            events.push((
                local(tz, day(d), h),
                EventBody::Alert(Box::new(AlertEvent {
                    alert: a,
                    change: Change::Opened,
                    notify: true,
                })),
            ));
        }
    }
    // The daemon stopped for three hours.
    let (d, h0, h1) = script::DAEMON_DOWN;
    let (stop, restart) = (local(tz, day(d), h0), local(tz, day(d), h1));
    events.push((stop, EventBody::Supervision(SupervisionEvent::Stopped)));
    events.push((
        restart,
        EventBody::Supervision(SupervisionEvent::Started {
            last_alive: Some(stop),
        }),
    ));
    events.sort_by_key(|(at, _)| *at);
    let mut written = Written {
        events: events.len(),
        ..Written::default()
    };
    let mut batch: Vec<EventBody> = Vec::new();
    let mut batch_at = start;
    for (at, e) in events {
        if at != batch_at && !batch.is_empty() {
            store.append(batch_at, std::mem::take(&mut batch));
        }
        batch_at = at;
        batch.push(e);
    }
    if !batch.is_empty() {
        store.append(batch_at, batch);
    }
    store.flush_blocking()?;
    written.history_days =
        write_history(store, fleet, period.from - Duration::days(31), period.to)?;
    Ok(written)
}

fn series(metric: &str, attributes: &str, v: f32) -> (SeriesKey, Rollup) {
    (
        SeriesKey {
            metric: metric.into(),
            attributes: attributes.into(),
        },
        Rollup {
            min: v,
            mean: v,
            max: v,
            last: v,
            count: 60,
        },
    )
}

/// Writes hourly rollups from `from` to `to` for every equipment of `fleet` (as
/// [`write_month`] does for its month and the month before): ICMP round trip and loss and
/// uptime for all; the recorder's volume filling linearly ([`script::DISK_FILL`]), its
/// temperature on a daily cycle and its second disk failed from [`script::DISK_FAILS`].
/// Answers the day rows written.
pub fn write_history(
    store: &Store,
    fleet: &Fleet,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<usize, SyntheticError> {
    let (h_from, h_to) = (history::hour_of(from), history::hour_of(to));
    let span = (h_to - h_from).max(1) as f32;
    let mut days = 0;
    for c in 0..fleet.clients {
        for s in 0..fleet.sites_per_client {
            let site = Fleet::site(c, s);
            let mut ids = vec![(format!("{site}-sw"), false), (format!("{site}-nvr"), true)];
            ids.extend((1..=fleet.cameras_per_site).map(|k| (format!("{site}-cam-{k}"), false)));
            for (id, recorder) in ids {
                let eq = EquipmentId::new(&id);
                let mut day: Vec<(i64, Vec<u8>)> = Vec::with_capacity(24);
                for h in h_from..h_to {
                    let x = (h - h_from) as f32 / span;
                    let hour_of_day = (h.rem_euclid(24)) as f32;
                    let mut series_of_hour = vec![
                        series("network.icmp.rtt", "", 1.2 + 0.1 * (hour_of_day / 24.0)),
                        series("network.icmp.loss", "", 0.0),
                        series("device.uptime", "", ((h - h_from) * 3600) as f32),
                    ];
                    if recorder {
                        let (a, b) = script::DISK_FILL;
                        // The month before is flat at the start level; the month fills.
                        let fill = if x < 0.5 {
                            a
                        } else {
                            a + (b - a) * (x - 0.5) * 2.0
                        };
                        series_of_hour.push(series(
                            "system.filesystem.utilization",
                            "volume=/rec",
                            fill / 100.0,
                        ));
                        let temp =
                            41.0 + 4.0 * ((hour_of_day - 6.0) / 24.0 * std::f32::consts::TAU).sin();
                        series_of_hour.push(series("hw.temperature", "sensor=system", temp));
                        series_of_hour.push(series("hw.status", "disk=hdd1", 1.0));
                        let failed = x > 0.5 + 0.5 * (script::DISK_FAILS.0 as f32 - 1.0) / 31.0;
                        series_of_hour.push(series(
                            "hw.status",
                            "disk=hdd2",
                            if failed { 0.0 } else { 1.0 },
                        ));
                    }
                    let row = history::encode(&Hour {
                        at: history::start_of(h),
                        series: series_of_hour,
                    });
                    if day
                        .first()
                        .is_some_and(|(f, _)| history::day_of(*f) != history::day_of(h))
                    {
                        let d = history::day_of(day[0].0);
                        store.put_history_day(&eq, d, history::day_row(&day));
                        days += 1;
                        day.clear();
                    }
                    day.push((h, row));
                }
                if let Some((f, _)) = day.first() {
                    store.put_history_day(&eq, history::day_of(*f), history::day_row(&day));
                    days += 1;
                }
            }
            store.flush_blocking()?;
        }
    }
    Ok(days)
}
