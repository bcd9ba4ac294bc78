//! The event log's records: every fact the daemon decides (alert changes, including operator
//! actions; status transitions; config loads), numbered by the store when it commits them.
//!
//! Actors describe what happened as an [`EventBody`]; the store writer gives it a sequence
//! number, writes it to the append-only `events` table in the same transaction as the
//! snapshots it goes with, and only then hands the committed [`Event`] to readers. A reader
//! (the live alert book, `vigie events`, the coming notifier and exporters) keeps the last
//! sequence number it has seen and resumes after it: it never loses an event, however far
//! behind it falls. Pure data: no actors, no storage, no I/O.

use crate::alert::AlertEvent;
use crate::config::{ClientId, EquipmentId, SiteId};
use crate::rules::Status;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One committed event.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number: 1, 2, 3… with no gap, in commit order, continued across restarts.
    pub seq: u64,
    /// When it happened (the daemon's clock).
    pub at: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// An alert changed: opened, updated, notified after maintenance, acknowledged or closed
    /// by an operator, resolved. Carries the alert after the change.
    Alert(Box<AlertEvent>),
    /// An equipment's status changed.
    Transition(TransitionEvent),
    /// A config was loaded: applied, or refused with its errors.
    Config(ConfigEvent),
    /// An intervention ticket opened, was reassigned or closed (R12).
    Ticket(Box<crate::ticket::TicketEvent>),
    /// A maintenance window began or ended on a site.
    Maintenance(MaintenanceEvent),
    /// The daemon started or stopped: what availability needs to tell supervised time from
    /// the rest.
    Supervision(SupervisionEvent),
    /// An equipment's identity changed (model, serial, firmware, boot id), as its probes
    /// report it: the facts that matter over time.
    Facts(FactsEvent),
}

/// An equipment's identity facts after a change.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactsEvent {
    /// The equipment.
    pub equipment: EquipmentId,
    /// Its site.
    pub site: SiteId,
    /// The site's client.
    pub client: ClientId,
    /// The facts now (`model`, `serial`, `firmware`, `boot_id`).
    pub facts: Vec<(String, String)>,
}

/// The facts recorded over time.
pub const IDENTITY_FACTS: &[&str] = &["model", "serial", "firmware", "boot_id"];

/// A maintenance window beginning or ending.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceEvent {
    /// The site.
    pub site: SiteId,
    /// The window's name.
    pub window: String,
    /// The equipment it covers; the whole site when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment: Option<Vec<EquipmentId>>,
    /// Whether it began (true) or ended.
    pub active: bool,
}

/// The daemon's own life.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SupervisionEvent {
    /// It started; the previous run was last known alive at `last_alive` (the stamp it
    /// writes every minute, or its stop), so the time since is not supervised. Maintenance
    /// windows active now are told again after this event.
    Started {
        /// The previous run's last sign of life; none for a first start.
        last_alive: Option<DateTime<Utc>>,
    },
    /// It stopped cleanly.
    Stopped,
}

impl EventBody {
    /// The alert number, for alert events.
    pub fn alert_id(&self) -> Option<u64> {
        match self {
            EventBody::Alert(e) => Some(e.alert.id),
            _ => None,
        }
    }
}

/// Why an equipment has the status it changed to (what availability needs later).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// A probe reached it.
    Answered,
    /// Its probes found it silent.
    ProbeFailure,
    /// Its parent (switch, NVR, router) is down: the time counts against the parent.
    ParentDown {
        /// The parent, when configured.
        parent: Option<EquipmentId>,
    },
    /// The probes could not tell (not collected yet, unusable answer, probe error): the time
    /// counts as not supervised.
    Undetermined,
}

impl Cause {
    /// The cause of a status.
    pub fn of(status: Status, parent: Option<&EquipmentId>) -> Cause {
        match status {
            Status::Up => Cause::Answered,
            Status::Down => Cause::ProbeFailure,
            Status::Unreachable => Cause::ParentDown {
                parent: parent.cloned(),
            },
            Status::Unknown => Cause::Undetermined,
        }
    }
}

/// An equipment's status change.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionEvent {
    /// The equipment.
    pub equipment: EquipmentId,
    /// Its site.
    pub site: SiteId,
    /// The site's client.
    pub client: ClientId,
    /// Status before.
    pub from: Status,
    /// Status now.
    pub to: Status,
    /// Why, in the probe's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why, as availability reads it.
    #[serde(flatten)]
    pub cause: Cause,
    /// The maintenance window covering the equipment at that instant, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<String>,
}

/// A config load.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigEvent {
    /// Whether it was applied (a refused config leaves the last good one in force).
    pub accepted: bool,
    /// Sites in the config in force after the load.
    pub sites: usize,
    /// Equipment in the config in force after the load.
    pub equipment: usize,
    /// Sites added, changed and removed.
    pub added: usize,
    /// Sites changed.
    pub changed: usize,
    /// Sites removed.
    pub removed: usize,
    /// Errors of a refused config.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl fmt::Display for Event {
    /// One line, as `vigie events` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.format("%Y-%m-%dT%H:%M:%S%.3fZ");
        write!(f, "{:>8}  {at}  ", self.seq)?;
        match &self.body {
            EventBody::Alert(e) => {
                let a = &e.alert;
                let change = match e.change {
                    crate::alert::Change::Opened => "opened",
                    crate::alert::Change::Updated => "updated",
                    crate::alert::Change::Notified => "notified",
                    crate::alert::Change::Acknowledged => "acknowledged",
                    crate::alert::Change::Resolved => "resolved",
                    crate::alert::Change::Closed => "closed",
                    crate::alert::Change::Escalated => "escalated",
                    crate::alert::Change::Reminded => "reminded",
                    crate::alert::Change::Noted => "noted",
                };
                write!(
                    f,
                    "alert #{} {change} {} {} ({}, site {})",
                    a.id, a.severity, a.summary, a.owner, a.site
                )?;
                let by = match e.change {
                    crate::alert::Change::Acknowledged => a.acknowledged.as_ref(),
                    crate::alert::Change::Closed => a.closed.as_ref(),
                    _ => None,
                };
                if let Some(action) = by {
                    write!(f, " by {}", action.by)?;
                    if let Some(note) = &action.note {
                        write!(f, ": {note}")?;
                    }
                }
                if e.change == crate::alert::Change::Noted {
                    if let Some(last) = a.timeline.last() {
                        write!(f, ": {}", last.detail)?;
                    }
                    return Ok(());
                }
                if !e.notify {
                    match &a.suppressed {
                        Some(why) => write!(f, " [not notified: {why}]")?,
                        None => write!(f, " [not notified]")?,
                    }
                }
                Ok(())
            }
            EventBody::Transition(t) => {
                write!(
                    f,
                    "equipment {} {} -> {} (site {})",
                    t.equipment, t.from, t.to, t.site
                )?;
                if let Cause::ParentDown {
                    parent: Some(parent),
                } = &t.cause
                {
                    write!(f, " behind {parent}")?;
                }
                if let Some(r) = &t.reason {
                    write!(f, ": {r}")?;
                }
                if let Some(m) = &t.maintenance {
                    write!(f, " [maintenance `{m}`]")?;
                }
                Ok(())
            }
            EventBody::Config(c) if c.accepted => write!(
                f,
                "config applied: {} sites, {} equipment ({} added, {} changed, {} removed)",
                c.sites, c.equipment, c.added, c.changed, c.removed
            ),
            EventBody::Config(c) => write!(
                f,
                "config refused ({} errors), the last good one stays in force",
                c.errors.len()
            ),
            EventBody::Ticket(t) => {
                let k = &t.ticket;
                match t.change {
                    crate::ticket::TicketChange::Opened
                    | crate::ticket::TicketChange::Reassigned => write!(
                        f,
                        "ticket #{} {} for alert #{} ({}, site {}): {} {}",
                        k.number,
                        if t.change == crate::ticket::TicketChange::Opened {
                            "opened"
                        } else {
                            "reassigned"
                        },
                        k.alert,
                        k.owner,
                        k.site,
                        k.role,
                        k.assigned_to
                            .as_ref()
                            .map(|c| c.as_str())
                            .unwrap_or("(nobody holds the role)")
                    ),
                    crate::ticket::TicketChange::Closed => write!(
                        f,
                        "ticket #{} closed by {}: {}",
                        k.number,
                        k.closed.as_ref().map(|c| c.1.as_str()).unwrap_or(""),
                        k.resolution.as_deref().unwrap_or("")
                    ),
                }
            }
            EventBody::Maintenance(m) => {
                let what = if m.active { "began" } else { "ended" };
                write!(f, "maintenance `{}` {what} on site {}", m.window, m.site)?;
                if let Some(eq) = &m.equipment {
                    let ids: Vec<&str> = eq.iter().map(|e| e.as_str()).collect();
                    write!(f, " for {}", ids.join(", "))?;
                }
                Ok(())
            }
            EventBody::Supervision(SupervisionEvent::Started { last_alive }) => {
                write!(f, "daemon started")?;
                if let Some(a) = last_alive {
                    write!(
                        f,
                        "; not supervised since {}",
                        a.format("%Y-%m-%dT%H:%M:%SZ")
                    )?;
                }
                Ok(())
            }
            EventBody::Supervision(SupervisionEvent::Stopped) => write!(f, "daemon stopped"),
            EventBody::Facts(x) => {
                let facts: Vec<String> = x.facts.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(
                    f,
                    "equipment {} (site {}) reports {}",
                    x.equipment,
                    x.site,
                    facts.join(", ")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transition_round_trips_with_its_cause_flattened() {
        let e = Event {
            seq: 7,
            at: "2026-03-01T10:00:00Z".parse().expect("t"),
            body: EventBody::Transition(TransitionEvent {
                equipment: EquipmentId::new("cam-1"),
                site: SiteId::new("depot"),
                client: ClientId::new("c"),
                from: Status::Up,
                to: Status::Unreachable,
                reason: None,
                cause: Cause::ParentDown {
                    parent: Some(EquipmentId::new("sw")),
                },
                maintenance: Some("weekly".into()),
            }),
        };
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(json["type"], "transition");
        assert_eq!(json["cause"], "parent_down");
        assert_eq!(json["parent"], "sw");
        let back: Event = serde_json::from_value(json).expect("back");
        assert_eq!(back, e);
        assert_eq!(
            back.to_string(),
            "       7  2026-03-01T10:00:00.000Z  equipment cam-1 up -> unreachable (site depot) behind sw [maintenance `weekly`]"
        );
    }
}
