//! The audit trail of one alert (`vigie audit --alert N`): every event of the log about it
//! (its changes, operator actions, escalations, its ticket) and every notification planned
//! for it, sent, given up or still waiting, in time order.

use crate::events::{Event, EventBody};
use crate::notify::Delivery;
use crate::outbox::SentRecord;
use crate::store::{StoreError, StoreReader};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened to one alert.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    /// The alert number.
    pub alert: u64,
    /// Events about it, in log order.
    pub events: Vec<Event>,
    /// Its notifications accepted or given up (the latest the outbox keeps).
    pub sent: Vec<SentRecord>,
    /// Its notifications still waiting.
    pub pending: Vec<Delivery>,
}

/// Reads the audit trail of alert `id`; `None` when the log never mentions it.
pub fn read(reader: &StoreReader, id: u64) -> Result<Option<Audit>, StoreError> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let batch = reader.events_after(after, crate::store::MAX_EVENTS_PER_READ)?;
        let Some(last) = batch.last().map(|e| e.seq) else {
            break;
        };
        after = last;
        events.extend(batch.into_iter().filter(|e| match &e.body {
            EventBody::Alert(a) => a.alert.id == id,
            EventBody::Ticket(t) => t.ticket.alert == id,
            _ => false,
        }));
    }
    if events.is_empty() {
        return Ok(None);
    }
    let outbox = crate::outbox::OutboxView::read(reader, crate::store::SENT_KEPT as usize)?;
    let ours = |d: &Delivery| d.alert.id == id && d.seq > 0;
    let sent = outbox
        .sent
        .into_iter()
        .filter(|r| ours(&r.delivery))
        .collect();
    let pending = outbox.pending.into_iter().filter(|d| ours(d)).collect();
    Ok(Some(Audit {
        alert: id,
        events,
        sent,
        pending,
    }))
}

impl Audit {
    /// The trail as `vigie audit` prints it: one line per event or delivery, in time order.
    pub fn render(&self) -> String {
        let mut lines: Vec<(DateTime<Utc>, u64, String)> = Vec::new();
        for e in &self.events {
            lines.push((e.at, e.seq, e.to_string()));
        }
        // One line per delivery: when, which, to whom, how it stands.
        let line = |at: DateTime<Utc>, d: &Delivery, state: String| {
            (
                at,
                d.seq,
                format!(
                    "{:>8}  {}  notification #{} ({}) to {} by {} {state}",
                    "",
                    at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    d.id,
                    d.step.name(),
                    d.contact,
                    d.channel,
                ),
            )
        };
        for r in &self.sent {
            let d = &r.delivery;
            let state = format!(
                "{}{}",
                if r.accepted { "accepted" } else { "GIVEN UP" },
                d.failed_channels
                    .iter()
                    .map(|(c, e)| format!("; {c} failed: {e}"))
                    .collect::<String>()
            );
            lines.push(line(r.at, d, state));
        }
        for d in &self.pending {
            let state = format!(
                "waiting (attempt {}){}",
                d.attempts + 1,
                d.last_error
                    .as_deref()
                    .map(|e| format!(": last failure: {e}"))
                    .unwrap_or_default()
            );
            lines.push(line(d.next_at, d, state));
        }
        lines.sort_by_key(|l| (l.0, l.1));
        let mut out = format!("alert #{}\n", self.alert);
        for (_, _, l) in lines {
            out.push_str(&l);
            out.push('\n');
        }
        out
    }
}
