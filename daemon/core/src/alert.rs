//! Alerts and their lifecycle: open -> acknowledged -> resolved (condition cleared) or
//! closed (by an operator, with a note). Pure: no actors, no storage, no I/O.
//!
//! An alert is identified stably by its owner (an equipment or a site) and its rule, so a
//! condition that persists never opens a second alert. Each alert carries its timeline.

use crate::config::{EquipmentId, SiteId};
use crate::rules::RuleKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious an alert is.
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Needs attention.
    Warning,
    /// Needs action now.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

/// Where an alert is in its lifecycle.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Raised and not yet acknowledged.
    Open,
    /// An operator took it in hand.
    Acknowledged,
    /// The condition cleared.
    Resolved,
    /// An operator closed it with a resolution note.
    Closed,
}

impl AlertState {
    /// Open or acknowledged.
    pub fn is_live(self) -> bool {
        matches!(self, AlertState::Open | AlertState::Acknowledged)
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
            AlertState::Closed => "closed",
        })
    }
}

/// What an alert is about.
#[derive(
    utoipa::ToSchema, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    /// One equipment.
    Equipment(EquipmentId),
    /// A whole site (offline cameras above tolerance).
    Site(SiteId),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Equipment(id) => write!(f, "equipment {id}"),
            Owner::Site(id) => write!(f, "site {id}"),
        }
    }
}

/// A rule's verdict: this condition holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Rule, with the series when a rule watches several (`disk.usage{mountpoint=/data}`).
    pub rule: RuleKey,
    /// Severity.
    pub severity: Severity,
    /// One line for operators.
    pub summary: String,
    /// The same line in French.
    pub summary_fr: String,
    /// How much is wrong (offline cameras counted by a site alert; 0 otherwise). A closed
    /// alert is opened anew when its condition gets worse in severity or in weight.
    pub weight: u32,
}

/// Most entries kept in an alert's timeline: the first ones and the latest ones.
pub const MAX_TIMELINE: usize = 200;
/// Entries always kept at the start of a long timeline.
const TIMELINE_HEAD: usize = 10;

/// Who did something to an alert, when, and why.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Operator name.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a line of an alert's history records.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The alert opened.
    Opened,
    /// Its notification was suppressed by a maintenance window.
    Suppressed,
    /// A suppressed alert was notified once its window ended.
    Notified,
    /// Its severity changed.
    Severity,
    /// Its summary changed.
    Updated,
    /// An operator acknowledged it.
    Acknowledged,
    /// An operator (or a config removing its owner) closed it.
    Closed,
    /// Its condition cleared.
    Resolved,
    /// Not handled in time: it went to the next escalation level (R12).
    Escalated,
    /// A line written on it (a notification channel that failed).
    Noted,
}

/// One line of an alert's history.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// What happened.
    pub event: TimelineEvent,
    /// Details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// An alert with its history.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Unique number of this occurrence.
    pub id: u64,
    /// What the alert is about.
    pub owner: Owner,
    /// Site of the owner.
    pub site: SiteId,
    /// Rule that raised it, with its series.
    pub rule: RuleKey,
    /// Current severity.
    pub severity: Severity,
    /// Lifecycle state.
    pub state: AlertState,
    /// One line for operators.
    pub summary: String,
    /// The same line in French (empty for an alert recorded before it was kept: the English
    /// one is shown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary_fr: String,
    /// When the alert opened.
    pub opened_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Acknowledgement.
    #[serde(default)]
    pub acknowledged: Option<Action>,
    /// When the condition cleared.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Closure by an operator.
    #[serde(default)]
    pub closed: Option<Action>,
    /// Whether its opening was notified (false while suppressed by maintenance).
    pub notified: bool,
    /// Why notification was suppressed, if it was.
    #[serde(default)]
    pub suppressed: Option<String>,
    /// History (the first entries and the latest ones when it grows long).
    pub timeline: Vec<TimelineEntry>,
    /// Weight of the condition when it was last seen.
    #[serde(default)]
    pub weight: u32,
    /// Escalation level reached (0: the on-call technicians; 1: the on-call manager; 2: the
    /// technical manager).
    #[serde(default)]
    pub escalation_level: u8,
    /// When it escalates to the next level if still not handled (absolute, so a restart
    /// re-arms it; a deadline passed while the daemon was down fires at start, once).
    #[serde(default)]
    pub escalate_at: Option<DateTime<Utc>>,
    /// While a maintenance window covers its owner, the escalation clock stops: what was
    /// left of the delay, in milliseconds, resumed when the window ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_paused_ms: Option<i64>,
    /// When the on-call technicians are reminded of it if still not acknowledged
    /// (`[escalation] remind_every`; absolute, like the escalation deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_at: Option<DateTime<Utc>>,
}

impl Alert {
    /// Its one line in `language`.
    pub fn summary_in(&self, language: crate::config::Language) -> &str {
        match language {
            crate::config::Language::Fr if !self.summary_fr.is_empty() => &self.summary_fr,
            _ => &self.summary,
        }
    }

    /// When it was notified: at opening, or when its maintenance window ended.
    fn notified_at(&self) -> DateTime<Utc> {
        self.timeline
            .iter()
            .rev()
            .find(|t| t.event == TimelineEvent::Notified)
            .map_or(self.opened_at, |t| t.at)
    }

    fn log(&mut self, at: DateTime<Utc>, event: TimelineEvent, detail: impl Into<String>) {
        self.updated_at = at;
        if self.timeline.len() >= MAX_TIMELINE {
            self.timeline.remove(TIMELINE_HEAD);
        }
        self.timeline.push(TimelineEntry {
            at,
            event,
            detail: detail.into(),
        });
    }
}

/// What happened to an alert.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new alert.
    Opened,
    /// Severity or summary changed.
    Updated,
    /// A suppressed alert is notified after its maintenance window ended.
    Notified,
    /// An operator acknowledged it.
    Acknowledged,
    /// Its condition cleared.
    Resolved,
    /// An operator closed it.
    Closed,
    /// Not handled in time, it went to the next escalation level (R12).
    Escalated,
    /// Still not acknowledged: the on-call technicians are reminded of it.
    Reminded,
    /// A line was written on its timeline; told to nobody.
    Noted,
}

/// One change to one alert, for the store, the notifier and the live API.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// The alert after the change.
    pub alert: Alert,
    /// The change.
    pub change: Change,
    /// Whether the change should reach people (false when suppressed by maintenance, or
    /// for the resolution of an alert that was never notified).
    pub notify: bool,
}

/// Why an operator action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// No live alert has this number.
    #[error("no live alert #{0}")]
    NotFound(u64),
    /// The alert is already resolved or closed.
    #[error("alert #{id} is already {state}")]
    NotLive {
        /// Alert number.
        id: u64,
        /// Its state.
        state: AlertState,
    },
    /// Closing needs a resolution note.
    #[error("closing an alert needs a resolution note")]
    NoteRequired,
    /// The operator name is empty.
    #[error("the operator name is empty")]
    NoOperator,
    /// The action was taken but could not be written to disk.
    #[error("the action on alert #{0} could not be recorded on disk: {1}")]
    NotRecorded(u64, String),
}

/// An operator's action on an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertAction {
    /// Acknowledge.
    Acknowledge {
        /// Operator.
        by: String,
        /// Optional note.
        note: Option<String>,
    },
    /// Close with a resolution note.
    Close {
        /// Operator.
        by: String,
        /// Resolution note.
        note: String,
    },
    /// Write a line on a live alert's timeline, changing nothing else (the notifier records
    /// a channel it gave up on).
    Note {
        /// Who writes it.
        by: String,
        /// The line.
        note: String,
    },
}

/// The one owner of an equipment's or a site's alerts: conditions in ([`AlertSet::reconcile`]),
/// operator actions in ([`AlertSet::act`]), alert events out, and the next instant it needs to
/// be asked again ([`AlertSet::next_deadline`]). Both the equipment and the site actor embed
/// one, so what changes alerts is written once. It holds the live alerts and the closed ones
/// whose condition still holds (so a closed alert is not reopened while its cause persists).
/// Pure: no actors, no storage, no I/O.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertSet {
    alerts: Vec<Alert>,
}

impl std::ops::Deref for AlertSet {
    type Target = [Alert];

    fn deref(&self) -> &[Alert] {
        &self.alerts
    }
}

impl From<Vec<Alert>> for AlertSet {
    fn from(alerts: Vec<Alert>) -> Self {
        AlertSet { alerts }
    }
}

impl AlertSet {
    /// Brings the alerts in line with the conditions that hold now (see [`reconcile`]).
    pub fn reconcile(
        &mut self,
        owner: &Owner,
        site: &SiteId,
        conditions: &[Condition],
        now: DateTime<Utc>,
        maintenance: &mut dyn FnMut() -> Option<String>,
        next_id: &mut dyn FnMut() -> u64,
    ) -> Vec<AlertEvent> {
        reconcile(
            &mut self.alerts,
            owner,
            site,
            conditions,
            now,
            maintenance,
            next_id,
        )
    }

    /// What an operator's action on alert `id` would make of the set, and its event. The set
    /// itself is unchanged: the caller commits the event and only then takes the new set in,
    /// so an action that cannot be recorded has no effect.
    pub fn act(
        &self,
        id: u64,
        action: &AlertAction,
        now: DateTime<Utc>,
    ) -> Result<(AlertSet, AlertEvent), ActionError> {
        let mut next = self.clone();
        let event = match action {
            AlertAction::Acknowledge { by, note } => {
                acknowledge(&mut next.alerts, id, by, note.clone(), now)?
            }
            AlertAction::Close { by, note } => close(&mut next.alerts, id, by, note, now)?,
            AlertAction::Note { by, note } => {
                let alert = next
                    .alerts
                    .iter_mut()
                    .find(|a| a.id == id && a.state.is_live())
                    .ok_or(ActionError::NotFound(id))?;
                alert.log(now, TimelineEvent::Noted, format!("{by}: {note}"));
                AlertEvent {
                    alert: alert.clone(),
                    change: Change::Noted,
                    notify: false,
                }
            }
        };
        Ok((next, event))
    }

    /// Closes every live alert: the owner was removed from the configuration.
    pub fn retire(&mut self, now: DateTime<Utc>) -> Vec<AlertEvent> {
        close_all_removed(&mut self.alerts, now)
    }

    /// Moves the alerts to another site (their equipment moved); answers them for re-indexing.
    pub fn move_to(&mut self, site: &SiteId) -> &[Alert] {
        for a in &mut self.alerts {
            a.site = site.clone();
        }
        &self.alerts
    }

    /// The next instant at which the set must be asked again, whatever the conditions: the
    /// earliest escalation deadline or reminder of a live alert.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.alerts
            .iter()
            .filter(|a| a.state.is_live())
            .flat_map(|a| [a.escalate_at, a.remind_at])
            .flatten()
            .min()
    }

    /// R12: a notified alert not handled (resolved, or closed with a resolution note) within
    /// `esc.after` goes to level 1, then after `esc.then_after` more to level 2. An
    /// acknowledgement does not stop the clock. The clock starts when the alert is notified
    /// (not while a maintenance window suppresses it); a window covering the owner later
    /// (`in_window`) stops the clock until it ends. `events` are the alert events of this
    /// step: a deadline set now is written into them too, and escalations are added.
    pub fn escalate(
        &mut self,
        now: DateTime<Utc>,
        esc: &crate::config::Escalation,
        in_window: bool,
        events: &mut Vec<AlertEvent>,
    ) {
        let chrono_of = |d: std::time::Duration| {
            chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1))
        };
        for a in self.alerts.iter_mut() {
            if !a.state.is_live() || !a.notified {
                continue;
            }
            if !in_window {
                remind(a, now, esc.remind_every, events);
            }
            if a.escalation_level >= 2 {
                continue;
            }
            // Maintenance stops the clock; its end restarts it with what was left.
            if in_window {
                if let Some(d) = a.escalate_at.take() {
                    a.escalation_paused_ms = Some((d - now).num_milliseconds().max(0));
                }
                continue;
            }
            if let Some(left) = a.escalation_paused_ms.take() {
                a.escalate_at = Some(now + chrono::Duration::milliseconds(left));
            }
            let due = match a.escalate_at {
                Some(d) => d,
                None if a.escalation_level == 0 => {
                    let d = a.notified_at() + chrono_of(esc.after);
                    a.escalate_at = Some(d);
                    carry(events, a.id, |e| e.escalate_at = Some(d));
                    d
                }
                None => continue,
            };
            if now < due {
                continue;
            }
            a.escalation_level += 1;
            a.escalate_at = (a.escalation_level < 2).then(|| now + chrono_of(esc.then_after));
            let role = crate::ticket::role_of(a.escalation_level);
            a.log(
                now,
                TimelineEvent::Escalated,
                format!(
                    "not handled in time: escalated to level {} ({role})",
                    a.escalation_level
                ),
            );
            events.push(AlertEvent {
                alert: a.clone(),
                change: Change::Escalated,
                notify: true,
            });
        }
    }

    /// Whether a live alert's escalation clock is stopped by a maintenance window.
    pub fn escalation_paused(&self) -> bool {
        self.alerts
            .iter()
            .any(|a| a.state.is_live() && a.escalation_paused_ms.is_some())
    }

    /// Whether a live alert waits to be notified (raised during a maintenance window).
    pub fn waits_for_notification(&self) -> bool {
        self.alerts.iter().any(|a| a.state.is_live() && !a.notified)
    }
}

/// Brings an owner's alerts in line with the conditions that hold now.
///
/// `maintenance` names the window suppressing notifications, if one is active; it is asked
/// only when an alert opens or waits for notification. `next_id` numbers new alerts.
pub fn reconcile(
    alerts: &mut Vec<Alert>,
    owner: &Owner,
    site: &SiteId,
    conditions: &[Condition],
    now: DateTime<Utc>,
    maintenance: &mut dyn FnMut() -> Option<String>,
    next_id: &mut dyn FnMut() -> u64,
) -> Vec<AlertEvent> {
    let mut events = Vec::new();
    let mut window: Option<Option<String>> = None;
    let mut maintenance = move || window.get_or_insert_with(&mut *maintenance).clone();
    for cond in conditions {
        // An alert closed by an operator covers its condition while it persists, unless the
        // condition gets worse: then a new alert opens.
        if let Some(i) = alerts
            .iter()
            .position(|a| a.rule == cond.rule && !a.state.is_live())
        {
            let closed = &alerts[i];
            if cond.severity > closed.severity || cond.weight > closed.weight {
                alerts.remove(i);
            } else {
                continue;
            }
        }
        match alerts.iter_mut().find(|a| a.rule == cond.rule) {
            Some(alert) => {
                alert.weight = cond.weight;
                let mut changed = false;
                if alert.severity != cond.severity {
                    let detail =
                        format!("{} -> {}: {}", alert.severity, cond.severity, cond.summary);
                    alert.severity = cond.severity;
                    alert.log(now, TimelineEvent::Severity, detail);
                    changed = true;
                }
                // The French line follows the English one; an alert restored from before it
                // was kept gains it without a change of its own.
                alert.summary_fr.clone_from(&cond.summary_fr);
                if alert.summary != cond.summary {
                    alert.summary = cond.summary.clone();
                    if !changed {
                        alert.log(now, TimelineEvent::Updated, cond.summary.clone());
                    }
                    changed = true;
                }
                if changed {
                    events.push(AlertEvent {
                        alert: alert.clone(),
                        change: Change::Updated,
                        notify: alert.notified,
                    });
                }
                if !alert.notified && maintenance().is_none() {
                    alert.notified = true;
                    alert.log(
                        now,
                        TimelineEvent::Notified,
                        "maintenance window ended with the condition still present",
                    );
                    events.push(AlertEvent {
                        alert: alert.clone(),
                        change: Change::Notified,
                        notify: true,
                    });
                }
            }
            None => {
                let maintenance = maintenance();
                let mut alert = Alert {
                    id: next_id(),
                    owner: owner.clone(),
                    site: site.clone(),
                    rule: cond.rule.clone(),
                    severity: cond.severity,
                    state: AlertState::Open,
                    summary: cond.summary.clone(),
                    summary_fr: cond.summary_fr.clone(),
                    opened_at: now,
                    updated_at: now,
                    acknowledged: None,
                    resolved_at: None,
                    closed: None,
                    notified: maintenance.is_none(),
                    suppressed: maintenance
                        .as_ref()
                        .map(|m| format!("maintenance window `{m}`")),
                    timeline: Vec::new(),
                    weight: cond.weight,
                    escalation_level: 0,
                    escalate_at: None,
                    escalation_paused_ms: None,
                    remind_at: None,
                };
                alert.log(
                    now,
                    TimelineEvent::Opened,
                    format!("{}: {}", cond.severity, cond.summary),
                );
                if let Some(m) = &maintenance {
                    alert.log(
                        now,
                        TimelineEvent::Suppressed,
                        format!("notification suppressed by maintenance window `{m}`"),
                    );
                }
                events.push(AlertEvent {
                    alert: alert.clone(),
                    change: Change::Opened,
                    notify: maintenance.is_none(),
                });
                alerts.push(alert);
            }
        }
    }
    // Alerts whose condition no longer holds.
    let mut i = 0;
    while i < alerts.len() {
        if conditions.iter().any(|c| c.rule == alerts[i].rule) {
            i += 1;
            continue;
        }
        let mut alert = alerts.remove(i);
        if alert.state.is_live() {
            alert.state = AlertState::Resolved;
            alert.resolved_at = Some(now);
            alert.log(now, TimelineEvent::Resolved, "condition cleared");
            events.push(AlertEvent {
                notify: alert.notified,
                alert,
                change: Change::Resolved,
            });
        }
    }
    events
}

/// Writes a deadline just set on alert `id` into this step's events of it, so the snapshot
/// and the log carry it.
fn carry(events: &mut [AlertEvent], id: u64, set: impl Fn(&mut Alert)) {
    for e in events.iter_mut().filter(|e| e.alert.id == id) {
        set(&mut e.alert);
    }
}

/// Reminds the on-call technicians of a notified alert nobody acknowledged, every `every`
/// from its notification (zero: never); an acknowledgement stops the reminders, not the
/// escalation clock. Not while a maintenance window covers the owner.
fn remind(
    a: &mut Alert,
    now: DateTime<Utc>,
    every: std::time::Duration,
    events: &mut Vec<AlertEvent>,
) {
    let Ok(every) = chrono::Duration::from_std(every) else {
        return;
    };
    if every.is_zero() || a.state != AlertState::Open {
        a.remind_at = None;
        return;
    }
    let due = match a.remind_at {
        Some(d) => d,
        None => {
            let d = a.notified_at() + every;
            a.remind_at = Some(d);
            carry(events, a.id, |e| e.remind_at = Some(d));
            d
        }
    };
    if now < due {
        return;
    }
    // A reminder missed while the daemon was down is sent once, then every `every`.
    a.remind_at = Some(now + every);
    events.push(AlertEvent {
        alert: a.clone(),
        change: Change::Reminded,
        notify: true,
    });
}

/// Records an acknowledgement.
fn acknowledge(
    alerts: &mut [Alert],
    id: u64,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<AlertEvent, ActionError> {
    if by.trim().is_empty() {
        return Err(ActionError::NoOperator);
    }
    let alert = alerts
        .iter_mut()
        .find(|a| a.id == id)
        .ok_or(ActionError::NotFound(id))?;
    if alert.state != AlertState::Open {
        return Err(ActionError::NotLive {
            id,
            state: alert.state,
        });
    }
    alert.state = AlertState::Acknowledged;
    alert.remind_at = None;
    alert.acknowledged = Some(Action {
        by: by.to_string(),
        at: now,
        note: note.clone(),
    });
    alert.log(
        now,
        TimelineEvent::Acknowledged,
        format!(
            "by {by}{}",
            note.map(|n| format!(": {n}")).unwrap_or_default()
        ),
    );
    Ok(AlertEvent {
        alert: alert.clone(),
        change: Change::Acknowledged,
        notify: alert.notified,
    })
}

/// Closes a live alert with a resolution note. The alert stays in the set, closed, until its
/// condition clears, so it is not reopened meanwhile.
fn close(
    alerts: &mut [Alert],
    id: u64,
    by: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<AlertEvent, ActionError> {
    if by.trim().is_empty() {
        return Err(ActionError::NoOperator);
    }
    if note.trim().is_empty() {
        return Err(ActionError::NoteRequired);
    }
    let alert = alerts
        .iter_mut()
        .find(|a| a.id == id)
        .ok_or(ActionError::NotFound(id))?;
    if !alert.state.is_live() {
        return Err(ActionError::NotLive {
            id,
            state: alert.state,
        });
    }
    alert.state = AlertState::Closed;
    alert.closed = Some(Action {
        by: by.to_string(),
        at: now,
        note: Some(note.to_string()),
    });
    alert.log(now, TimelineEvent::Closed, format!("by {by}: {note}"));
    Ok(AlertEvent {
        alert: alert.clone(),
        change: Change::Closed,
        notify: alert.notified,
    })
}

/// Closes every live alert of an owner removed from the configuration.
fn close_all_removed(alerts: &mut Vec<Alert>, now: DateTime<Utc>) -> Vec<AlertEvent> {
    let mut events = Vec::new();
    for mut alert in alerts.drain(..) {
        if alert.state.is_live() {
            alert.state = AlertState::Closed;
            alert.closed = Some(Action {
                by: "vigie".into(),
                at: now,
                note: Some("removed from the configuration".into()),
            });
            alert.log(now, TimelineEvent::Closed, "removed from the configuration");
            events.push(AlertEvent {
                notify: alert.notified,
                alert,
                change: Change::Closed,
            });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(min)
    }

    /// A test rule key named `name` (one series of the disk rule).
    fn key(name: &str) -> RuleKey {
        RuleKey::new(
            crate::rules::RuleId::DiskUsage,
            vec![("series".into(), name.into())],
        )
    }

    fn cond(rule: &str, sev: Severity) -> Condition {
        Condition {
            rule: key(rule),
            severity: sev,
            summary: format!("{rule} {sev}"),
            summary_fr: format!("{rule} {sev} (fr)"),
            weight: 0,
        }
    }

    struct Ids(u64);
    impl Ids {
        fn next(&mut self) -> u64 {
            self.0 += 1;
            self.0
        }
    }

    fn run(
        alerts: &mut Vec<Alert>,
        conds: &[Condition],
        now: DateTime<Utc>,
        m: Option<&str>,
        ids: &mut Ids,
    ) -> Vec<AlertEvent> {
        let owner = Owner::Equipment(EquipmentId::new("nvr-1"));
        reconcile(
            alerts,
            &owner,
            &SiteId::new("s"),
            conds,
            now,
            &mut || m.map(String::from),
            &mut || ids.next(),
        )
    }

    /// Reconciles then escalates, as an owner does at each step.
    fn step(
        set: &mut AlertSet,
        conds: &[Condition],
        now: DateTime<Utc>,
        m: Option<&str>,
        ids: &mut Ids,
    ) -> Vec<AlertEvent> {
        let esc = crate::config::Escalation {
            after: std::time::Duration::from_secs(3600),
            then_after: std::time::Duration::from_secs(1800),
            remind_every: std::time::Duration::ZERO,
        };
        step_with(set, conds, now, m, ids, &esc)
    }

    fn step_with(
        set: &mut AlertSet,
        conds: &[Condition],
        now: DateTime<Utc>,
        m: Option<&str>,
        ids: &mut Ids,
        esc: &crate::config::Escalation,
    ) -> Vec<AlertEvent> {
        let mut events = run(&mut set.alerts, conds, now, m, ids);
        set.escalate(now, esc, m.is_some(), &mut events);
        events
    }

    #[test]
    fn technicians_are_reminded_until_someone_acknowledges_and_not_during_maintenance() {
        let esc = crate::config::Escalation {
            after: std::time::Duration::from_secs(3600),
            then_after: std::time::Duration::from_secs(1800),
            remind_every: std::time::Duration::from_secs(15 * 60),
        };
        let reminders = |events: &[AlertEvent]| {
            events
                .iter()
                .filter(|e| e.change == Change::Reminded && e.notify)
                .count()
        };
        let mut set = AlertSet::default();
        let mut ids = Ids(0);
        let disk = [cond("disk", Severity::Critical)];
        let opened = step_with(&mut set, &disk, t(0), None, &mut ids, &esc);
        // The deadline is in the opening event, so the snapshot and the log carry it.
        assert_eq!(opened[0].alert.remind_at, Some(t(15)));
        assert_eq!(set.next_deadline(), Some(t(15)));
        assert_eq!(
            reminders(&step_with(&mut set, &disk, t(14), None, &mut ids, &esc)),
            0
        );
        assert_eq!(
            reminders(&step_with(&mut set, &disk, t(15), None, &mut ids, &esc)),
            1
        );
        assert_eq!(set.next_deadline(), Some(t(30)));
        // Missed several times (the daemon was down): told once, then every 15 minutes.
        assert_eq!(
            reminders(&step_with(&mut set, &disk, t(50), None, &mut ids, &esc)),
            1
        );
        assert_eq!(set[0].remind_at, Some(t(65)));
        // Not during maintenance.
        assert_eq!(
            reminders(&step_with(
                &mut set,
                &disk,
                t(70),
                Some("works"),
                &mut ids,
                &esc
            )),
            0
        );
        // Acknowledged: no more reminders; the escalation clock runs on.
        let id = set[0].id;
        let (acked, _) = set
            .act(
                id,
                &AlertAction::Acknowledge {
                    by: "marie".into(),
                    note: None,
                },
                t(71),
            )
            .expect("ack");
        set = acked;
        assert_eq!(set[0].remind_at, None);
        let later = step_with(&mut set, &disk, t(100), None, &mut ids, &esc);
        assert_eq!(reminders(&later), 0);
        assert_eq!(escalations(&later), [1]);
        assert_eq!(set.next_deadline(), Some(t(130)));
    }

    fn escalations(events: &[AlertEvent]) -> Vec<u8> {
        events
            .iter()
            .filter(|e| e.change == Change::Escalated)
            .map(|e| e.alert.escalation_level)
            .collect()
    }

    #[test]
    fn an_alert_not_handled_in_time_escalates_twice_and_an_acknowledgement_does_not_stop_it() {
        let mut set = AlertSet::default();
        let mut ids = Ids(0);
        let disk = [cond("disk", Severity::Critical)];
        step(&mut set, &disk, t(0), None, &mut ids);
        assert_eq!(set.next_deadline(), Some(t(60)));
        assert!(escalations(&step(&mut set, &disk, t(59), None, &mut ids)).is_empty());
        // Acknowledged but not handled: the clock runs on.
        let id = set[0].id;
        let (acked, _) = set
            .act(
                id,
                &AlertAction::Acknowledge {
                    by: "marie".into(),
                    note: None,
                },
                t(30),
            )
            .expect("ack");
        set = acked;
        assert_eq!(
            escalations(&step(&mut set, &disk, t(60), None, &mut ids)),
            [1]
        );
        assert_eq!(set.next_deadline(), Some(t(90)));
        assert!(escalations(&step(&mut set, &disk, t(89), None, &mut ids)).is_empty());
        assert_eq!(
            escalations(&step(&mut set, &disk, t(95), None, &mut ids)),
            [2]
        );
        assert_eq!(set.next_deadline(), None, "two levels only");
        assert!(escalations(&step(&mut set, &disk, t(500), None, &mut ids)).is_empty());
        assert_eq!(
            set[0]
                .timeline
                .iter()
                .filter(|e| e.event == TimelineEvent::Escalated)
                .count(),
            2
        );
    }

    #[test]
    fn a_maintenance_window_after_notification_stops_the_escalation_clock_until_it_ends() {
        let mut set = AlertSet::default();
        let mut ids = Ids(0);
        let disk = [cond("disk", Severity::Critical)];
        step(&mut set, &disk, t(0), None, &mut ids);
        assert_eq!(set.next_deadline(), Some(t(60)));
        // A window from t(30) to t(90): the 30 minutes left wait for its end.
        step(&mut set, &disk, t(30), Some("works"), &mut ids);
        assert!(set.escalation_paused());
        assert_eq!(set.next_deadline(), None);
        assert!(escalations(&step(&mut set, &disk, t(80), Some("works"), &mut ids)).is_empty());
        step(&mut set, &disk, t(90), None, &mut ids);
        assert!(!set.escalation_paused());
        assert_eq!(set.next_deadline(), Some(t(120)));
        assert!(escalations(&step(&mut set, &disk, t(119), None, &mut ids)).is_empty());
        assert_eq!(
            escalations(&step(&mut set, &disk, t(120), None, &mut ids)),
            [1]
        );
    }

    #[test]
    fn handled_or_suppressed_alerts_do_not_escalate_and_a_late_notification_starts_the_clock() {
        let mut set = AlertSet::default();
        let mut ids = Ids(0);
        let disk = [cond("disk", Severity::Critical)];
        // Resolved within the hour: nothing.
        step(&mut set, &disk, t(0), None, &mut ids);
        step(&mut set, &[], t(50), None, &mut ids);
        assert!(escalations(&step(&mut set, &[], t(200), None, &mut ids)).is_empty());
        assert_eq!(set.next_deadline(), None);
        // Raised in a maintenance window: no clock while suppressed; notified when the window
        // ends, escalated an hour after that.
        let mut set = AlertSet::default();
        step(&mut set, &disk, t(0), Some("works"), &mut ids);
        assert_eq!(set.next_deadline(), None);
        assert!(escalations(&step(&mut set, &disk, t(100), Some("works"), &mut ids)).is_empty());
        step(&mut set, &disk, t(120), None, &mut ids);
        assert_eq!(set.next_deadline(), Some(t(180)));
        assert_eq!(
            escalations(&step(&mut set, &disk, t(180), None, &mut ids)),
            [1]
        );
    }

    #[test]
    fn persistent_condition_opens_one_alert_and_escalates_severity() {
        let mut alerts = Vec::new();
        let mut ids = Ids(0);
        let e = run(
            &mut alerts,
            &[cond("disk", Severity::Warning)],
            t(0),
            None,
            &mut ids,
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].change, Change::Opened);
        assert!(
            run(
                &mut alerts,
                &[cond("disk", Severity::Warning)],
                t(1),
                None,
                &mut ids
            )
            .is_empty()
        );
        let e = run(
            &mut alerts,
            &[cond("disk", Severity::Critical)],
            t(2),
            None,
            &mut ids,
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].change, Change::Updated);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].id, 1);
        assert_eq!(alerts[0].severity, Severity::Critical);
        let e = run(&mut alerts, &[], t(3), None, &mut ids);
        assert_eq!(e[0].change, Change::Resolved);
        assert!(e[0].notify);
        assert!(alerts.is_empty());
        // A new occurrence gets a new number.
        run(
            &mut alerts,
            &[cond("disk", Severity::Warning)],
            t(4),
            None,
            &mut ids,
        );
        assert_eq!(alerts[0].id, 2);
    }

    #[test]
    fn acknowledged_alert_resolves_and_closed_alert_is_not_reopened() {
        let mut alerts = Vec::new();
        let mut ids = Ids(0);
        run(
            &mut alerts,
            &[cond("a", Severity::Critical), cond("b", Severity::Warning)],
            t(0),
            None,
            &mut ids,
        );
        let ack = acknowledge(
            &mut alerts,
            1,
            "marie",
            Some("on site at 10:00".into()),
            t(1),
        )
        .expect("ack");
        assert_eq!(ack.alert.state, AlertState::Acknowledged);
        assert_eq!(
            acknowledge(&mut alerts, 1, "marie", None, t(1)),
            Err(ActionError::NotLive {
                id: 1,
                state: AlertState::Acknowledged
            })
        );
        assert_eq!(
            close(&mut alerts, 2, "marie", " ", t(2)),
            Err(ActionError::NoteRequired)
        );
        close(&mut alerts, 2, "marie", "replaced the disk", t(2)).expect("close");
        // Condition b persists: the closed alert is not reopened.
        let e = run(
            &mut alerts,
            &[cond("a", Severity::Critical), cond("b", Severity::Warning)],
            t(3),
            None,
            &mut ids,
        );
        assert!(e.is_empty());
        // Both clear: a is resolved, b silently leaves the set.
        let e = run(&mut alerts, &[], t(4), None, &mut ids);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].alert.id, 1);
        assert_eq!(e[0].alert.state, AlertState::Resolved);
        assert!(e[0].alert.acknowledged.is_some());
        assert!(alerts.is_empty());
    }

    #[test]
    fn an_action_on_the_owner_leaves_its_alerts_untouched_until_taken_in() {
        let mut raw = Vec::new();
        let mut ids = Ids(0);
        run(
            &mut raw,
            &[cond("disk", Severity::Critical)],
            t(0),
            None,
            &mut ids,
        );
        let set = AlertSet::from(raw);
        let ack = AlertAction::Acknowledge {
            by: "marie".into(),
            note: Some("on my way".into()),
        };
        let (next, event) = set.act(1, &ack, t(1)).expect("ack");
        assert_eq!(event.change, Change::Acknowledged);
        assert_eq!(
            set[0].state,
            AlertState::Open,
            "the set itself is unchanged"
        );
        assert_eq!(next[0].state, AlertState::Acknowledged);
        // Refused actions answer the reason and make nothing.
        assert_eq!(
            next.act(1, &ack, t(2)).map(|_| ()),
            Err(ActionError::NotLive {
                id: 1,
                state: AlertState::Acknowledged
            })
        );
        assert_eq!(
            set.act(9, &ack, t(2)).map(|_| ()),
            Err(ActionError::NotFound(9))
        );
        let close = AlertAction::Close {
            by: "marie".into(),
            note: String::new(),
        };
        assert_eq!(
            set.act(1, &close, t(2)).map(|_| ()),
            Err(ActionError::NoteRequired)
        );
        assert_eq!(next.next_deadline(), None);
        // The set serialises as the list of its alerts (the snapshot format).
        let json = serde_json::to_value(&next).expect("json");
        assert!(json.is_array());
        assert_eq!(
            serde_json::from_value::<AlertSet>(json).expect("back"),
            next
        );
    }

    #[test]
    fn a_closed_alert_is_opened_anew_when_its_condition_gets_worse() {
        let mut alerts = Vec::new();
        let mut ids = Ids(0);
        run(
            &mut alerts,
            &[cond("disk", Severity::Warning)],
            t(0),
            None,
            &mut ids,
        );
        close(&mut alerts, 1, "marie", "cleanup planned", t(1)).expect("close");
        assert!(
            run(
                &mut alerts,
                &[cond("disk", Severity::Warning)],
                t(2),
                None,
                &mut ids
            )
            .is_empty()
        );
        let e = run(
            &mut alerts,
            &[cond("disk", Severity::Critical)],
            t(3),
            None,
            &mut ids,
        );
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].change, e[0].alert.id, e[0].alert.severity),
            (Change::Opened, 2, Severity::Critical)
        );
        // Weight: more offline cameras than when it was closed.
        let heavier = |w| Condition {
            weight: w,
            ..cond("cams", Severity::Critical)
        };
        run(&mut alerts, &[heavier(2)], t(4), None, &mut ids);
        let id = alerts
            .iter()
            .find(|a| a.rule == key("cams"))
            .map(|a| a.id)
            .expect("cams");
        close(&mut alerts, id, "marie", "two known", t(5)).expect("close");
        assert!(run(&mut alerts, &[heavier(1)], t(6), None, &mut ids).is_empty());
        let e = run(&mut alerts, &[heavier(3)], t(7), None, &mut ids);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].change, Change::Opened);
    }

    #[test]
    fn long_timelines_keep_their_start_and_their_latest_entries() {
        let mut alerts = Vec::new();
        let mut ids = Ids(0);
        run(
            &mut alerts,
            &[cond("a", Severity::Warning)],
            t(0),
            None,
            &mut ids,
        );
        for i in 0..500 {
            let c = Condition {
                summary: format!("changed {i}"),
                ..cond("a", Severity::Warning)
            };
            run(&mut alerts, &[c], t(i + 1), None, &mut ids);
        }
        let tl = &alerts[0].timeline;
        assert_eq!(tl.len(), MAX_TIMELINE);
        assert_eq!(tl[0].event, TimelineEvent::Opened);
        assert_eq!(tl.last().map(|e| e.detail.as_str()), Some("changed 499"));
    }

    #[test]
    fn maintenance_suppresses_opening_but_not_resolution_of_notified_alerts() {
        let mut alerts = Vec::new();
        let mut ids = Ids(0);
        // Notified before the window.
        run(
            &mut alerts,
            &[cond("a", Severity::Critical)],
            t(0),
            None,
            &mut ids,
        );
        // Raised during the window: recorded, not notified.
        let e = run(
            &mut alerts,
            &[cond("a", Severity::Critical), cond("b", Severity::Critical)],
            t(1),
            Some("upgrade"),
            &mut ids,
        );
        assert_eq!(e.len(), 1);
        assert!(!e[0].notify);
        assert_eq!(
            e[0].alert.suppressed.as_deref(),
            Some("maintenance window `upgrade`")
        );
        // Both clear during the window: a's resolution is notified, b's is not.
        let e = run(&mut alerts, &[], t(2), Some("upgrade"), &mut ids);
        let by_rule = |r: &str| e.iter().find(|x| x.alert.rule == key(r)).expect("event");
        assert!(by_rule("a").notify);
        assert!(!by_rule("b").notify);
    }

    #[test]
    fn suppressed_alert_still_present_after_window_is_notified() {
        let mut alerts = Vec::new();
        let mut ids = Ids(0);
        run(
            &mut alerts,
            &[cond("a", Severity::Critical)],
            t(0),
            Some("w"),
            &mut ids,
        );
        let e = run(
            &mut alerts,
            &[cond("a", Severity::Critical)],
            t(1),
            Some("w"),
            &mut ids,
        );
        assert!(e.is_empty());
        let e = run(
            &mut alerts,
            &[cond("a", Severity::Critical)],
            t(2),
            None,
            &mut ids,
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].change, Change::Notified);
        assert!(e[0].notify);
    }
}
