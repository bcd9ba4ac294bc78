//! Equipment rules: availability (R6), disk (R4), temperature (R5), recording service (R7),
//! with `for` durations and recovery margins. A pure function of (state, input, thresholds, now).

use super::{RuleId, RuleKey};
use crate::alert::{AlertEvent, AlertSet, Condition, Owner, Severity};
use crate::config::{EquipmentId, EquipmentKind, Levels, SiteId, Thresholds};
use crate::observation::{Metric, Observation, ProbeStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Availability of an equipment.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not collected yet, or the probe could not tell.
    #[default]
    Unknown,
    /// Answering.
    Up,
    /// Not answering while its parent is reachable.
    Down,
    /// Not answering because its parent (switch, NVR, router) is down.
    Unreachable,
}

impl Status {
    /// Down or unreachable: the equipment does not answer.
    pub fn is_offline(self) -> bool {
        matches!(self, Status::Down | Status::Unreachable)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Unknown => "unknown",
            Status::Up => "up",
            Status::Down => "down",
            Status::Unreachable => "unreachable",
        })
    }
}

/// Hysteresis state of one watched series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesState {
    /// Rule and series, such as `disk.usage{mountpoint=/data}`.
    pub key: RuleKey,
    /// Raised level: 0 none, 1 warning, 2 critical.
    pub level: u8,
    /// Since when the value is above the warning and the critical level (recovery margin
    /// applied to a level already raised); a level is raised once it held for `for`.
    pub above_since: [Option<DateTime<Utc>>; 2],
    /// Last value, in the rule's unit (live only: not part of the snapshot).
    #[serde(skip)]
    pub value: f64,
}

/// Live state of one equipment; its snapshot is what survives a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentState {
    /// Current availability.
    pub status: Status,
    /// Since when the status holds.
    pub since: DateTime<Utc>,
    /// Reason given by the probe for a down or unknown status.
    #[serde(default)]
    pub reason: Option<String>,
    /// Since when the equipment does not answer.
    #[serde(default)]
    pub offline_since: Option<DateTime<Utc>>,
    /// Whether it has been seen up at least once (R6 is about equipment that was up).
    #[serde(default)]
    pub ever_up: bool,
    /// Last time it answered (live only: not part of the snapshot).
    #[serde(skip)]
    pub last_seen: Option<DateTime<Utc>>,
    /// Whether its parent is down.
    #[serde(default)]
    pub parent_down: bool,
    /// Watched series.
    #[serde(default)]
    pub series: Vec<SeriesState>,
    /// Facts reported by the probe (serial, firmware, boot id).
    #[serde(default)]
    pub facts: Vec<(String, String)>,
    /// When the equipment booted, from its `device.uptime`, to detect restarts (after a
    /// detected restart, it is when that restart happened).
    #[serde(default)]
    pub boot: Option<DateTime<Utc>>,
    /// Restarts detected since it is supervised (a weak signal of a coming failure).
    #[serde(default)]
    pub reboots: u32,
    /// Live alerts (and closed alerts whose condition still holds).
    #[serde(default)]
    pub alerts: AlertSet,
}

impl EquipmentState {
    /// State of an equipment never collected.
    pub fn new(now: DateTime<Utc>) -> Self {
        EquipmentState {
            status: Status::Unknown,
            since: now,
            reason: None,
            offline_since: None,
            ever_up: false,
            last_seen: None,
            parent_down: false,
            series: Vec::new(),
            facts: Vec::new(),
            boot: None,
            reboots: 0,
            alerts: AlertSet::default(),
        }
    }
}

/// What the rules react to.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A collection result.
    Observation(&'a Observation),
    /// Time passed (a deadline was reached, or the maintenance state may have changed).
    Tick,
    /// The parent went down (`true`) or came back (`false`).
    ParentDown(bool),
}

/// What the rules need besides the state.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Site of the equipment.
    pub site: &'a SiteId,
    /// The equipment.
    pub id: &'a EquipmentId,
    /// Its kind.
    pub kind: EquipmentKind,
    /// Its resolved thresholds.
    pub thresholds: &'a Thresholds,
    /// Escalation delays of the config in force (R12).
    pub escalation: &'a crate::config::Escalation,
    /// Name of the maintenance window covering it at an instant, if any; asked only when
    /// an alert opens or waits for notification.
    pub maintenance: &'a dyn Fn(DateTime<Utc>) -> Option<String>,
}

/// Result of one step.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Alert changes.
    pub events: Vec<AlertEvent>,
    /// Whether the availability status changed (the site must know).
    pub status_changed: bool,
    /// The next instant at which a condition may change without new input.
    pub next_deadline: Option<DateTime<Utc>>,
}

/// Most threshold series one equipment keeps (new label sets beyond it are ignored).
pub const MAX_SERIES: usize = 64;

/// Longest believable uptime (100 years); larger or negative values are ignored.
const MAX_UPTIME_SECS: f64 = 100.0 * 365.25 * 86_400.0;

/// What a watched metric means.
enum Watch {
    /// Warning/critical levels; `scale` converts the metric to the rule's unit.
    Levels { levels: Levels, scale: f64 },
    /// A service that must be running (value 1); stopped for `after` raises a critical alert.
    Running { after: Duration },
}

fn watch_for(metric: &Metric, t: &Thresholds) -> Option<(RuleId, Watch)> {
    match metric.name.as_str() {
        "system.filesystem.utilization" => Some((
            RuleId::DiskUsage,
            Watch::Levels {
                levels: t.disk,
                scale: 100.0,
            },
        )),
        "hw.temperature" => Some((
            RuleId::Temperature,
            Watch::Levels {
                levels: t.temperature,
                scale: 1.0,
            },
        )),
        "service.up" if metric.attribute("service") == Some("recording") => Some((
            RuleId::RecordingStopped,
            Watch::Running {
                after: t.recording_after,
            },
        )),
        "video.recording" => Some((
            RuleId::RecordingStopped,
            Watch::Running {
                after: t.recording_after,
            },
        )),
        "hw.status" => Some((
            RuleId::HardwareFailed,
            Watch::Running {
                after: t.hardware.after,
            },
        )),
        _ => None,
    }
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Whether `v` is above the warning and the critical level; a level already raised is kept
/// until the value falls below it by the recovery margin.
fn above_levels(v: f64, l: &Levels, current: u8) -> [bool; 2] {
    [
        v > l.warning || (current >= 1 && v > l.warning - l.recovery),
        v > l.critical || (current >= 2 && v > l.critical - l.recovery),
    ]
}

/// Records where the value stands and recomputes the level.
fn advance(s: &mut SeriesState, above: [bool; 2], hold: Duration, now: DateTime<Utc>) {
    for (since, is_above) in s.above_since.iter_mut().zip(above) {
        if is_above {
            since.get_or_insert(now);
        } else {
            *since = None;
        }
    }
    settle(s, hold, now);
}

/// The highest level that held for `hold` (or was already raised and still holds).
fn settle(s: &mut SeriesState, hold: Duration, now: DateTime<Utc>) {
    let mut level = 0;
    for (i, since) in s.above_since.iter().enumerate() {
        if let Some(since) = since
            && (usize::from(s.level) > i || now >= *since + chrono(hold))
        {
            level = i as u8 + 1;
        }
    }
    s.level = level;
}

fn hold_of(rule: RuleId, t: &Thresholds) -> Duration {
    match rule {
        RuleId::DiskUsage => t.disk.for_,
        RuleId::Temperature => t.temperature.for_,
        RuleId::RecordingStopped => t.recording_after,
        RuleId::HardwareFailed => t.hardware.after,
        RuleId::ConnectivityLost | RuleId::CamerasOffline => Duration::ZERO,
    }
}

/// 2^32 hundredths of a second: where 32-bit SNMP uptime counters wrap (about 497 days).
const UPTIME_WRAP_SECS: i64 = 42_949_672;

/// Whether a boot time estimated at `boot` after one at `prev` means the equipment restarted:
/// a jump, not the slow drift of the device's clock, and not a 32-bit uptime counter wrapping.
fn is_restart(prev: DateTime<Utc>, boot: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let shift = (boot - prev).num_seconds();
    let age = (now - prev).num_seconds().max(1);
    let wrapped = (age - UPTIME_WRAP_SECS).abs() < 86_400 && (now - boot).num_seconds() < 86_400;
    shift > 30 && shift as f64 > age as f64 * 0.01 && !wrapped
}

fn apply_metrics(
    state: &mut EquipmentState,
    metrics: &[Metric],
    t: &Thresholds,
    now: DateTime<Utc>,
) {
    for m in metrics {
        if !m.value.is_finite() {
            continue;
        }
        if m.name == "device.uptime" {
            // The boot time is stable while the equipment runs; a later one is a restart.
            // Differences under 30 s are clock jitter and leave the snapshot unchanged.
            if !(0.0..=MAX_UPTIME_SECS).contains(&m.value) {
                continue;
            }
            let Some(boot) =
                now.checked_sub_signed(chrono::Duration::milliseconds((m.value * 1000.0) as i64))
            else {
                continue;
            };
            state.boot = Some(match state.boot {
                Some(prev) => {
                    if is_restart(prev, boot, now) {
                        state.reboots += 1;
                        boot
                    } else if (boot - prev).abs() > chrono::Duration::seconds(30) {
                        boot // The device's clock drifts: follow it.
                    } else {
                        prev // Jitter: the snapshot stays the same.
                    }
                }
                None => boot,
            });
            continue;
        }
        let Some((rule, watch)) = watch_for(m, t) else {
            continue;
        };
        // A part's state text (`state=error`) describes the value, not the part: the series
        // stays the same when the part recovers.
        let labels = if rule == RuleId::HardwareFailed {
            m.attributes
                .iter()
                .filter(|(k, _)| k != "state")
                .cloned()
                .collect()
        } else {
            m.attributes.clone()
        };
        let key = RuleKey::new(rule, labels);
        let idx = match state.series.iter().position(|s| s.key == key) {
            Some(i) => i,
            None if state.series.len() >= MAX_SERIES => continue,
            None => {
                state.series.push(SeriesState {
                    key,
                    level: 0,
                    above_since: [None, None],
                    value: 0.0,
                });
                state.series.len() - 1
            }
        };
        let s = &mut state.series[idx];
        match watch {
            Watch::Levels { levels, scale } => {
                s.value = m.value * scale;
                let above = above_levels(s.value, &levels, s.level);
                advance(s, above, levels.for_, now);
            }
            Watch::Running { after } => {
                s.value = m.value;
                let stopped = m.value < 0.5;
                advance(s, [false, stopped], after, now);
            }
        }
    }
}

fn conditions(state: &EquipmentState, cx: &Context<'_>, now: DateTime<Utc>) -> Vec<Condition> {
    let t = cx.thresholds;
    let mut out = Vec::new();
    // Connectivity is lost while the equipment is down; a probe that cannot tell afterwards
    // (unknown) does not bring it back: only an answer does.
    let still_lost = state.status == Status::Unknown
        && state
            .alerts
            .iter()
            .any(|a| a.rule.rule == RuleId::ConnectivityLost);
    if cx.kind != EquipmentKind::Camera
        && (state.status == Status::Down || still_lost)
        && state.ever_up
        && let Some(since) = state.offline_since
        && now >= since + chrono(t.connectivity_after)
    {
        let since = since.format("%Y-%m-%d %H:%M:%S UTC");
        out.push(Condition {
            rule: RuleId::ConnectivityLost.into(),
            severity: Severity::Critical,
            summary: format!(
                "{} {} is not answering since {since}",
                cx.kind.name(),
                cx.id
            ),
            summary_fr: format!(
                "{} {} ne répond plus depuis le {since}",
                kind_fr(cx.kind),
                cx.id
            ),
            weight: 0,
        });
    }
    for s in &state.series {
        if s.level == 0 {
            continue;
        }
        let labels = s.key.labels_text();
        let on = if labels.is_empty() {
            String::new()
        } else {
            format!(" ({labels})")
        };
        let (severity, summary, summary_fr) = match s.key.rule {
            RuleId::DiskUsage | RuleId::Temperature => {
                let (levels, unit, what, what_fr) = if s.key.rule == RuleId::DiskUsage {
                    (t.disk, " %", "disk usage", "occupation du disque")
                } else {
                    (t.temperature, " °C", "temperature", "température")
                };
                if s.level >= 2 {
                    (
                        Severity::Critical,
                        format!("{what} above {}{unit}{on}", levels.critical),
                        format!("{what_fr} au-dessus de {}{unit}{on}", levels.critical),
                    )
                } else {
                    (
                        Severity::Warning,
                        format!("{what} above {}{unit}{on}", levels.warning),
                        format!("{what_fr} au-dessus de {}{unit}{on}", levels.warning),
                    )
                }
            }
            RuleId::RecordingStopped => (
                Severity::Critical,
                format!("recording stopped{on}"),
                format!("enregistrement arrêté{on}"),
            ),
            RuleId::HardwareFailed => {
                let label = |k: &str| {
                    s.key
                        .labels
                        .iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.as_str())
                };
                let part = label("hw.type").unwrap_or("part");
                let recorder_disk = part == "physical_disk"
                    && matches!(
                        cx.kind,
                        EquipmentKind::Nvr | EquipmentKind::VmsServer | EquipmentKind::Encoder
                    );
                let severity = if recorder_disk {
                    t.hardware.disk
                } else {
                    t.hardware.other
                };
                let (what, what_fr) = match part {
                    "physical_disk" if recorder_disk => (
                        "disk in error, recording at risk",
                        "disque en erreur, enregistrement menacé",
                    ),
                    "physical_disk" => ("storage card in error", "carte de stockage en erreur"),
                    "fan" => ("fan failed", "ventilateur en panne"),
                    "power_supply" => ("power supply failed", "alimentation en panne"),
                    "heater" => ("heater failed", "chauffage en panne"),
                    "battery" => ("battery failed", "batterie en panne"),
                    _ => ("hardware failed", "matériel en panne"),
                };
                (severity, format!("{what}{on}"), format!("{what_fr}{on}"))
            }
            RuleId::ConnectivityLost | RuleId::CamerasOffline => continue,
        };
        out.push(Condition {
            rule: s.key.clone(),
            severity,
            summary,
            summary_fr,
            weight: 0,
        });
    }
    out
}

/// An equipment kind in French, as the alerts' French lines name it.
fn kind_fr(kind: EquipmentKind) -> &'static str {
    match kind {
        EquipmentKind::Camera => "caméra",
        EquipmentKind::Nvr => "enregistreur",
        EquipmentKind::VmsServer => "serveur VMS",
        EquipmentKind::Encoder => "encodeur",
        EquipmentKind::Switch => "commutateur",
        EquipmentKind::Router => "routeur",
        EquipmentKind::Other => "équipement",
    }
}

fn next_deadline(
    state: &EquipmentState,
    cx: &Context<'_>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let t = cx.thresholds;
    let mut next: Option<DateTime<Utc>> = None;
    let mut consider = |at: DateTime<Utc>| {
        if at > now && next.is_none_or(|n| at < n) {
            next = Some(at);
        }
    };
    if cx.kind != EquipmentKind::Camera
        && state.status == Status::Down
        && state.ever_up
        && let Some(since) = state.offline_since
    {
        consider(since + chrono(t.connectivity_after));
    }
    for s in &state.series {
        let hold = chrono(hold_of(s.key.rule, t));
        for (i, since) in s.above_since.iter().enumerate() {
            if let (Some(since), true) = (since, usize::from(s.level) <= i) {
                consider(*since + hold);
            }
        }
    }
    next
}

fn set_status(
    state: &mut EquipmentState,
    status: Status,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> bool {
    state.reason = reason;
    if state.status == status {
        return false;
    }
    state.status = status;
    state.since = now;
    true
}

/// Applies one input to an equipment's state and brings its alerts in line.
pub fn step(
    state: &mut EquipmentState,
    input: Input<'_>,
    cx: &Context<'_>,
    now: DateTime<Utc>,
    next_id: &mut dyn FnMut() -> u64,
) -> Outcome {
    let mut status_changed = false;
    match input {
        Input::Observation(obs) => {
            match &obs.status {
                ProbeStatus::Up => {
                    status_changed = set_status(state, Status::Up, None, now);
                    state.offline_since = None;
                    state.ever_up = true;
                    state.last_seen = Some(now);
                }
                ProbeStatus::Down { reason } => {
                    let s = if state.parent_down {
                        Status::Unreachable
                    } else {
                        Status::Down
                    };
                    status_changed = set_status(state, s, Some(reason.clone()), now);
                    state.offline_since.get_or_insert(now);
                }
                ProbeStatus::Unknown { reason } => {
                    status_changed = set_status(state, Status::Unknown, Some(reason.clone()), now);
                }
            }
            // Facts describe the latest answer (a probe failure reported beside a working
            // probe disappears once it works again).
            if !obs.facts.is_empty() || obs.status == ProbeStatus::Up {
                state.facts = obs.facts.clone();
            }
            apply_metrics(state, &obs.metrics, cx.thresholds, now);
        }
        Input::ParentDown(down) => {
            state.parent_down = down;
            let reason = state.reason.clone();
            status_changed = match (state.status, down) {
                (Status::Down, true) => set_status(state, Status::Unreachable, reason, now),
                // Its parent is back: what it was last seen doing says nothing any more. It is
                // unknown, its offline time starts over, until its next collection answers.
                (Status::Unreachable, false) => {
                    state.offline_since = None;
                    set_status(
                        state,
                        Status::Unknown,
                        Some("parent reachable again; waiting for the next collection".into()),
                        now,
                    )
                }
                _ => false,
            };
        }
        Input::Tick => {}
    }
    for s in &mut state.series {
        let hold = hold_of(s.key.rule, cx.thresholds);
        settle(s, hold, now);
    }
    let conds = conditions(state, cx, now);
    let owner = Owner::Equipment(cx.id.clone());
    let mut maintenance = || (cx.maintenance)(now);
    let mut events =
        state
            .alerts
            .reconcile(&owner, cx.site, &conds, now, &mut maintenance, next_id);
    let in_window = (cx.maintenance)(now).is_some();
    state
        .alerts
        .escalate(now, cx.escalation, in_window, &mut events);
    let next = match (next_deadline(state, cx, now), state.alerts.next_deadline()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Outcome {
        events,
        status_changed,
        next_deadline: next,
    }
}
