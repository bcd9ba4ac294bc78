//! Intervention tickets (R12): an escalation opens one for the alert (one ticket per alert; a
//! second escalation reassigns it), operators add notes and close it with a resolution.
//! Every change is an event of the log, and the store keeps each ticket's latest version.

use crate::alert::{Alert, Owner};
use crate::config::{ClientId, ContactId, SiteId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether a ticket is being worked on.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    /// Open: someone is assigned.
    Open,
    /// Closed with a resolution.
    Closed,
}

/// A note on a ticket.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketNote {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub by: String,
    /// What.
    pub text: String,
}

/// An intervention ticket.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Ticket number.
    pub number: u64,
    /// Client of the site.
    pub client: Option<ClientId>,
    /// Site.
    pub site: SiteId,
    /// What the alert is about (an equipment, or the site).
    pub owner: Owner,
    /// The alert that escalated.
    pub alert: u64,
    /// The alert's summary when the ticket opened.
    pub summary: String,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// Escalation level that assigned it (1: on-call manager, 2: technical manager).
    pub level: u8,
    /// Role assigned.
    pub role: String,
    /// Person holding the role when it was assigned.
    pub assigned_to: Option<ContactId>,
    /// Status.
    pub status: TicketStatus,
    /// Notes, oldest first.
    #[serde(default)]
    pub notes: Vec<TicketNote>,
    /// Resolution, once closed.
    pub resolution: Option<String>,
    /// When and by whom it was closed.
    pub closed: Option<(DateTime<Utc>, String)>,
}

/// What changed in a ticket.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketChange {
    /// Opened by an escalation.
    Opened,
    /// Reassigned by a further escalation.
    Reassigned,
    /// Closed by an operator.
    Closed,
}

impl TicketChange {
    /// Its name in logs, idempotency keys and the ticketing tool's payload.
    pub fn name(self) -> &'static str {
        match self {
            TicketChange::Opened => "opened",
            TicketChange::Reassigned => "reassigned",
            TicketChange::Closed => "closed",
        }
    }
}

/// A ticket change, as written in the event log.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    /// The ticket after the change.
    pub ticket: Ticket,
    /// The change.
    pub change: TicketChange,
}

/// The role of an escalation level, as tickets and timelines name it.
pub fn role_of(level: u8) -> &'static str {
    crate::config::Role::of_level(level)
        .unwrap_or(crate::config::Role::TechnicalManager)
        .label()
}

impl Ticket {
    /// The ticket an escalation of `alert` opens.
    pub fn open(
        number: u64,
        alert: &Alert,
        client: Option<ClientId>,
        assigned_to: Option<ContactId>,
        at: DateTime<Utc>,
    ) -> Ticket {
        Ticket {
            number,
            client,
            site: alert.site.clone(),
            owner: alert.owner.clone(),
            alert: alert.id,
            summary: alert.summary.clone(),
            opened_at: at,
            level: alert.escalation_level,
            role: role_of(alert.escalation_level).into(),
            assigned_to,
            status: TicketStatus::Open,
            notes: Vec::new(),
            resolution: None,
            closed: None,
        }
    }
}
