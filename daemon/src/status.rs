//! What `vigie status` and the HTTP API show: the fleet, its sites and equipment, live alerts
//! and the outcome of the last config reload.

use crate::alert::Alert;
use crate::config::EquipmentKind;
use crate::rules::{SeriesState, Status};
use crate::store::StoreHealth;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One equipment as its site sees it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentSummary {
    /// Identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: EquipmentKind,
    /// Availability.
    pub status: Status,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Probe's reason for a down or unknown status.
    #[serde(default)]
    pub reason: Option<String>,
    /// Since when it does not answer.
    #[serde(default)]
    pub offline_since: Option<DateTime<Utc>>,
    /// Parent equipment.
    #[serde(default)]
    pub parent: Option<String>,
    /// Maintenance window covering it now.
    #[serde(default)]
    pub maintenance: Option<String>,
}

/// A watched series as the API shows it: unlike the snapshot, with its last value.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesView {
    /// Rule and series, such as `disk.usage{mountpoint=/data}`.
    pub key: crate::rules::RuleKey,
    /// Raised level: 0 none, 1 warning, 2 critical.
    pub level: u8,
    /// Last value, in the rule's unit (percent, °C, 1 for a running service).
    pub value: f64,
    /// Since when the value is above the warning and the critical level.
    pub above_since: [Option<DateTime<Utc>>; 2],
}

impl From<&SeriesState> for SeriesView {
    fn from(s: &SeriesState) -> Self {
        SeriesView {
            key: s.key.clone(),
            level: s.level,
            value: s.value,
            above_since: s.above_since,
        }
    }
}

/// Details of one equipment, from its actor.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentDetail {
    /// Summary.
    pub summary: EquipmentSummary,
    /// Site.
    pub site: String,
    /// Last time it answered.
    pub last_seen: Option<DateTime<Utc>>,
    /// Watched series with their levels and last values.
    pub series: Vec<SeriesView>,
    /// Facts reported by its probes.
    pub facts: Vec<(String, String)>,
    /// Every metric of its last answer, whether a rule watches it or not.
    #[serde(default)]
    pub metrics: Vec<crate::observation::Metric>,
    /// Restarts detected (uptime going back).
    pub reboots: u32,
    /// Last detected restart.
    pub last_reboot: Option<DateTime<Utc>>,
    /// Its alerts.
    pub alerts: Vec<Alert>,
    /// Collections started since the daemon started.
    pub collections: u64,
    /// Times its actor recovered from an internal error.
    pub restarts: u32,
}

/// An equipment's last metrics with what tells it apart in an export: its client, site,
/// kind and status.
#[derive(Debug, Clone, PartialEq)]
pub struct EquipmentMetrics {
    /// The client.
    pub client: String,
    /// The site.
    pub site: String,
    /// The equipment.
    pub equipment: String,
    /// Its kind.
    pub kind: EquipmentKind,
    /// Its status.
    pub status: Status,
    /// Whether a maintenance window covers it now.
    pub maintenance: bool,
    /// The metrics of its last answer.
    pub metrics: Vec<crate::observation::Metric>,
}

/// One site.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteSummary {
    /// Identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Client.
    pub client: String,
    /// Time zone.
    pub timezone: String,
    /// Equipment count.
    pub equipment: usize,
    /// Equipment by status.
    pub by_status: BTreeMap<Status, usize>,
    /// Site-wide maintenance window active now.
    #[serde(default)]
    pub maintenance: Option<String>,
}

/// One site with its equipment.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteDetail {
    /// Summary.
    pub site: SiteSummary,
    /// Equipment.
    pub equipment: Vec<EquipmentSummary>,
    /// Live alerts of the site and of its equipment.
    pub alerts: Vec<Alert>,
}

/// Outcome of the last config load.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// When.
    pub at: DateTime<Utc>,
    /// Whether the config was accepted.
    pub accepted: bool,
    /// The problems found, when refused.
    pub errors: Vec<String>,
    /// Sites added, changed and removed, when accepted.
    pub sites_added: usize,
    /// Sites changed.
    pub sites_changed: usize,
    /// Sites removed.
    pub sites_removed: usize,
}

/// The whole fleet.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetStatus {
    /// vigie version.
    pub version: String,
    /// Current time.
    pub now: DateTime<Utc>,
    /// Number of configs applied since start (0 before the first).
    pub generation: u64,
    /// Outcome of the last load, accepted or refused.
    pub last_reload: Option<ReloadReport>,
    /// Set while the daemon runs on the last good config because the config files did not
    /// load at start.
    #[serde(default)]
    pub on_last_good: Option<crate::last_good::Fallback>,
    /// Sites.
    pub sites: Vec<SiteSummary>,
    /// Equipment by status.
    pub by_status: BTreeMap<Status, usize>,
    /// Equipment by kind.
    pub by_kind: BTreeMap<EquipmentKind, usize>,
    /// Live alerts.
    pub alerts: Vec<Alert>,
    /// The data store: last committed event, failing commits.
    #[serde(default)]
    pub store: Option<StoreHealth>,
    /// The notification outbox.
    #[serde(default)]
    pub outbox: Option<crate::outbox::OutboxStatus>,
}

impl FleetStatus {
    /// Renders the status for a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let total: usize = self.by_status.values().sum();
        let _ = writeln!(
            out,
            "vigie {} — {} sites, {} equipment (config generation {})",
            self.version,
            self.sites.len(),
            total,
            self.generation
        );
        if let Some(f) = &self.on_last_good {
            let _ = writeln!(
                out,
                "CONFIG FILES DO NOT LOAD: running on the last good config saved {} in {}",
                f.saved_at.format("%Y-%m-%d %H:%M:%S UTC"),
                f.path.display()
            );
        }
        if let Some(r) = &self.last_reload {
            if r.accepted {
                let _ = writeln!(
                    out,
                    "last config load {}: accepted (+{} ~{} -{} sites)",
                    r.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    r.sites_added,
                    r.sites_changed,
                    r.sites_removed
                );
            } else {
                let _ = writeln!(
                    out,
                    "last config load {}: REFUSED, the previous config stays in force:",
                    r.at.format("%Y-%m-%d %H:%M:%S UTC")
                );
                for e in &r.errors {
                    for line in e.lines() {
                        let _ = writeln!(out, "  {line}");
                    }
                }
            }
        }
        equipment_line(&mut out, &self.by_status);
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect();
        if !kinds.is_empty() {
            let _ = writeln!(out, "by kind: {}", kinds.join(", "));
        }
        if let Some(h) = &self.store {
            match &h.error {
                None => {
                    let _ = writeln!(out, "data store: ok, event log at #{}", h.last_seq);
                }
                Some(e) => {
                    let _ = writeln!(
                        out,
                        "data store: FAILING ({} commits failed in a row, {} events waiting, nothing dropped): {e}",
                        h.failed_commits, h.pending_events
                    );
                }
            }
        }
        if let Some(o) = &self.outbox {
            let _ = writeln!(
                out,
                "notifications: {} waiting{}, {} sent since start",
                o.pending,
                o.oldest
                    .map(|t| format!(" (oldest from {})", t.format("%Y-%m-%d %H:%M:%S UTC")))
                    .unwrap_or_default(),
                o.sent
            );
            for (channel, at, why) in &o.last_failures {
                let _ = writeln!(
                    out,
                    "  last {channel} failure {}: {why}",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
        }
        alert_lines(&mut out, &self.alerts);
        out
    }
}

/// `equipment: up 3, down 1` (or `none`), as `vigie status` prints it.
pub fn equipment_line<K: std::fmt::Display>(out: &mut String, by_status: &BTreeMap<K, usize>) {
    let states: Vec<String> = by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let _ = writeln!(
        out,
        "equipment: {}",
        if states.is_empty() {
            "none".into()
        } else {
            states.join(", ")
        }
    );
}

/// The live alerts, one line each, as `vigie status` prints them.
pub fn alert_lines(out: &mut String, alerts: &[Alert]) {
    let _ = writeln!(out, "live alerts: {}", alerts.len());
    for a in alerts {
        let _ = writeln!(
            out,
            "  #{} {} {} [{}] {} — {}",
            a.id, a.severity, a.state, a.site, a.owner, a.summary
        );
    }
}
