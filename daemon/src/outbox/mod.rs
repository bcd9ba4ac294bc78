//! The notification outbox and its dispatcher. Alert changes that reach people are events of
//! the durable log (committed with the alert change itself); the dispatcher follows the log
//! from its own cursor, turns each such event into deliveries (one per recipient) and writes
//! them to the store's outbox together with the new cursor, in one transaction, before
//! sending anything. A delivery leaves the outbox only once its channel accepted it (it is
//! then kept in the sent history); a failure is retried with exponential backoff and jitter,
//! and after `attempts_per_channel` failures the contact's next channel is used. Delivery is
//! at least once: a crash between a channel's acceptance and the removal resends it, with the
//! same idempotency key (the email's Message-ID, the SMS `{reference}`, the webhook's
//! fingerprint and `Idempotency-Key` header).

pub mod channels;
pub mod smtp;

use crate::config::{ChannelKind, Config, ContactId};
use crate::events::EventBody;
use crate::notify::{self, Delivery, Step};
use crate::store::{OutboxWrite, Store, StoreReader};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Events read from the log at once.
const PLAN_BATCH: usize = 1000;
/// Deliveries sent in one round (then settled in one commit).
const SEND_CONCURRENCY: usize = 64;

/// What the sent history keeps of a delivery.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentRecord {
    /// The delivery as it last stood.
    pub delivery: Delivery,
    /// When its channel accepted it, or when it was given up.
    pub at: DateTime<Utc>,
    /// Accepted by its channel (`false`: every channel of the contact failed).
    pub accepted: bool,
}

/// How the outbox is doing, for `vigie status` and the API.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboxStatus {
    /// Deliveries waiting.
    pub pending: usize,
    /// When the oldest waiting delivery entered the outbox.
    pub oldest: Option<DateTime<Utc>>,
    /// The last failure of each channel: when and why.
    pub last_failures: Vec<(ChannelKind, DateTime<Utc>, String)>,
    /// Deliveries accepted since the daemon started.
    pub sent: u64,
    /// The last due instant of the monthly reports this run looked at (they were made then,
    /// or had been already).
    #[serde(default)]
    pub reports_checked: Option<DateTime<Utc>>,
}

/// What the outbox holds and recently sent, as `vigie outbox` shows it.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboxView {
    /// Changes of the outbox so far, for long polls (`after`); 0 when read offline.
    #[serde(default)]
    pub version: u64,
    /// Waiting deliveries, oldest first.
    pub pending: Vec<Delivery>,
    /// The latest sent or given-up deliveries, newest last.
    pub sent: Vec<SentRecord>,
}

impl OutboxView {
    /// Reads the outbox of a store.
    pub fn read(reader: &StoreReader, last: usize) -> Result<OutboxView, crate::store::StoreError> {
        let pending = reader
            .outbox()?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect();
        let all = reader.outbox_sent()?;
        let skip = all.len().saturating_sub(last);
        let sent = all
            .into_iter()
            .skip(skip)
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect();
        Ok(OutboxView {
            version: 0,
            pending,
            sent,
        })
    }
}

/// A test message asked by an admin (`vigie notify test`).
#[derive(Debug)]
pub struct TestRequest {
    /// Recipient.
    pub contact: ContactId,
    /// Channel; the contact's first when `None`.
    pub channel: Option<ChannelKind>,
    /// Answered with the delivery's number once it is in the outbox.
    pub done: tokio::sync::oneshot::Sender<Result<u64, String>>,
}

/// Handle of the running dispatcher.
#[derive(Clone)]
pub struct Outbox {
    status: Arc<Mutex<OutboxStatus>>,
    tests: mpsc::Sender<TestRequest>,
    reader: StoreReader,
    settled: watch::Receiver<u64>,
}

impl Outbox {
    /// How the outbox is doing.
    pub fn status(&self) -> OutboxStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Follows the outbox: bumps each time deliveries were planned or settled (accepted,
    /// failed, given up) and committed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.settled.clone()
    }

    /// What the outbox holds and the latest `last` deliveries sent.
    pub fn view(&self, last: usize) -> Result<OutboxView, crate::store::StoreError> {
        let version = *self.settled.borrow();
        let mut v = OutboxView::read(&self.reader, last)?;
        v.version = version;
        Ok(v)
    }

    /// Queues a test message; answers its delivery number.
    pub async fn test(
        &self,
        contact: ContactId,
        channel: Option<ChannelKind>,
    ) -> Result<u64, String> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.tests
            .send(TestRequest {
                contact,
                channel,
                done,
            })
            .await
            .map_err(|_| "the notification dispatcher is not running".to_string())?;
        answer
            .await
            .map_err(|_| "the notification dispatcher stopped".to_string())?
    }
}

/// Starts the dispatcher on a thread of its own. `config` follows the applied config.
pub fn start(
    store: Store,
    config: watch::Receiver<Option<Arc<Config>>>,
    clock: crate::clock::Clock,
    notes: mpsc::UnboundedSender<(u64, String)>,
) -> Result<Outbox, String> {
    let reader = store.reader();
    let status = Arc::new(Mutex::new(OutboxStatus::default()));
    let (tests, test_rx) = mpsc::channel(16);
    let (settled_tx, settled) = watch::channel(0);
    let d = Dispatcher {
        settled: settled_tx,
        next_ticket: 0,
        pending: std::collections::BTreeMap::new(),
        transports: Arc::default(),
        recent: std::collections::HashMap::new(),
        held_alerts: std::collections::HashSet::new(),
        notes,
        round_accepted: 0,
        reports_checked: None,
        reports_retry: None,
        store: store.clone(),
        reader: reader.clone(),
        committed: store.committed(),
        config,
        clock,
        status: Arc::clone(&status),
        next_id: 0,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("notification runtime: {e}"))?;
    std::thread::Builder::new()
        .name("vigie-notify".into())
        .spawn(move || runtime.block_on(d.run(test_rx)))
        .map_err(|e| format!("notification thread: {e}"))?;
    Ok(Outbox {
        status,
        tests,
        reader,
        settled,
    })
}

/// An alert series (owner, rule with its labels) and a recipient, for the per-hour cap.
type SeriesKey = (String, String, ContactId);

struct Dispatcher {
    store: Store,
    reader: StoreReader,
    committed: watch::Receiver<u64>,
    config: watch::Receiver<Option<Arc<Config>>>,
    clock: crate::clock::Clock,
    status: Arc<Mutex<OutboxStatus>>,
    next_id: u64,
    settled: watch::Sender<u64>,
    /// Number of the next intervention ticket.
    next_ticket: u64,
    /// The outbox's deliveries, as committed (read once at start, then kept in step).
    pending: std::collections::BTreeMap<u64, Delivery>,
    /// Connections kept between sends.
    transports: Arc<channels::Transports>,
    /// Messages planned in the last hour per alert series and recipient, and how many were
    /// held back since the last one sent (flapping alerts).
    recent: std::collections::HashMap<SeriesKey, (Vec<DateTime<Utc>>, u32)>,
    /// Alerts whose opening was held back from a recipient: their end is not told either.
    held_alerts: std::collections::HashSet<(u64, ContactId)>,
    /// Lines for the timeline of an alert (a channel given up on), to its owner.
    notes: mpsc::UnboundedSender<(u64, String)>,
    /// Deliveries accepted in the round being settled.
    round_accepted: u64,
    /// The due instant of the monthly reports already looked at by this run.
    reports_checked: Option<DateTime<Utc>>,
    /// After a report could not be made: when to try the ones not made again.
    reports_retry: Option<DateTime<Utc>>,
}

/// How long after a report that could not be made it is tried again.
const REPORT_RETRY: chrono::Duration = chrono::Duration::minutes(10);

/// The alert a delivery not about an alert carries (a test message, a monthly report):
/// number 0, on a pseudo-site naming what it is.
fn placeholder_alert(
    what: &str,
    summary: String,
    now: DateTime<Utc>,
) -> Result<crate::alert::Alert, String> {
    serde_json::from_value(serde_json::json!({
        "id": 0, "owner": {"site": what}, "site": what, "rule": "connectivity.lost",
        "severity": "warning", "state": "open", "summary": summary,
        "opened_at": now, "updated_at": now, "notified": true, "timeline": []
    }))
    .map_err(|e| e.to_string())
}

/// Adds a planned delivery to the outbox entries of the next commit, and to those to keep in
/// memory once it is committed.
fn queue(entries: &mut Vec<(u64, Option<Vec<u8>>)>, planned: &mut Vec<Delivery>, d: Delivery) {
    match serde_json::to_vec(&d) {
        Ok(v) => {
            entries.push((d.id, Some(v)));
            planned.push(d);
        }
        Err(e) => tracing::error!("notifications: cannot encode a delivery: {e}"),
    }
}

/// Reads blocking store data off the async thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

impl Dispatcher {
    /// The config in force (the dispatcher starts once one is applied).
    fn cfg(&self) -> Arc<Config> {
        self.config.borrow().clone().unwrap_or_default()
    }

    async fn run(mut self, mut tests: mpsc::Receiver<TestRequest>) {
        // Nobody is planned for before the first config is applied.
        if self.config.wait_for(Option::is_some).await.is_err() {
            return;
        }
        // Where to start: the cursor, or for a store that never had one, the end of the log
        // (history from before notifications existed is not replayed).
        let r = self.reader.clone();
        let start = blocking(move || {
            let cursor = r.outbox_cursor()?;
            let last = r.last_seq()?;
            let last_id = r.outbox_last_id()?;
            let last_ticket = r.tickets()?.iter().map(|t| t.number).max().unwrap_or(0);
            Ok((cursor, last, last_id, last_ticket))
        })
        .await;
        let (cursor, last_id) = match start {
            Ok((c, last, id, ticket)) => {
                self.next_ticket = ticket + 1;
                match c {
                    Some(c) => (c, id),
                    None => {
                        self.store.write_outbox(OutboxWrite {
                            cursor: Some(last),
                            ..OutboxWrite::default()
                        });
                        (last, id)
                    }
                }
            }
            Err(e) => {
                tracing::error!("notifications cannot start: the outbox cannot be read: {e}");
                return;
            }
        };
        self.next_id = last_id + 1;
        let r = self.reader.clone();
        match blocking(move || r.outbox()).await {
            Ok(rows) => {
                for (id, v) in rows {
                    match serde_json::from_slice::<Delivery>(&v) {
                        Ok(d) => {
                            self.pending.insert(d.id, d);
                        }
                        Err(e) => {
                            tracing::error!(delivery = id, "an outbox entry cannot be read: {e}")
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!("notifications cannot start: the outbox cannot be read: {e}");
                return;
            }
        }
        let mut cursor = cursor;
        loop {
            // 1. Turn new events into deliveries, durably, before sending anything.
            match self.plan(cursor).await {
                Ok(Some(c)) => {
                    cursor = c;
                    continue;
                }
                Ok(None) => {}
                Err(_) if self.store.is_closing() => return,
                Err(e) => tracing::error!("notifications: {e}"),
            }
            // Monthly reports due since the last look, once per client and month.
            if let Err(e) = self.plan_reports().await {
                tracing::error!("monthly reports: {e}");
            }
            // 2. Send what is due.
            let wake = match self.send_due().await {
                Ok(w) => w,
                Err(_) if self.store.is_closing() => return,
                Err(e) => {
                    tracing::error!("notifications: {e}");
                    Some(self.clock.now() + chrono::Duration::seconds(5))
                }
            };
            // 3. Wait for new events, a test request, or the next retry.
            let cfg = self.cfg();
            let reports_at = cfg
                .reports
                .send
                .then(|| crate::report::next_due(&cfg.reports, self.clock.now()))
                .map(|next| self.reports_retry.map_or(next, |r| r.min(next)));
            let wake = match (wake, reports_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = match wake {
                Some(at) => (at - self.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(Duration::from_secs(3600)),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                changed = self.committed.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                t = tests.recv() => match t {
                    Some(t) => self.queue_test(t).await,
                    None => return,
                },
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Plans the deliveries of the events after `cursor`; answers the new cursor when events
    /// were read.
    async fn plan(&mut self, cursor: u64) -> Result<Option<u64>, String> {
        let r = self.reader.clone();
        let events = blocking(move || r.events_after(cursor, PLAN_BATCH)).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(None);
        };
        let cfg = self.cfg();
        let mut entries = Vec::new();
        let mut tickets: Vec<crate::ticket::TicketEvent> = Vec::new();
        let mut planned_now: Vec<Delivery> = Vec::new();
        for e in &events {
            if let EventBody::Alert(a) = &e.body
                && a.change == crate::alert::Change::Escalated
            {
                match self.ticket_for(&cfg, a, e.at, &tickets).await {
                    Ok(Some(t)) => tickets.push(t),
                    Ok(None) => {}
                    Err(err) => tracing::error!(alert = a.alert.id, "intervention ticket: {err}"),
                }
            }
            if let EventBody::Ticket(t) = &e.body
                && cfg.tickets.is_some()
            {
                match self.ticket_delivery(e.seq, t, e.at).await {
                    Ok(d) => queue(&mut entries, &mut planned_now, d),
                    Err(err) => tracing::error!(
                        ticket = t.ticket.number,
                        "the ticketing tool cannot be told: {err}"
                    ),
                }
            }
            if let EventBody::Alert(a) = &e.body {
                let mut next = || {
                    let id = self.next_id;
                    self.next_id += 1;
                    id
                };
                for mut d in notify::plan(&cfg, e.seq, a, e.at, &mut next) {
                    if self.within_rate(&cfg, &mut d) {
                        queue(&mut entries, &mut planned_now, d);
                    }
                }
            }
        }
        let planned = entries.len();
        // Tickets first: if the cursor's commit is lost, the escalation is planned again and
        // finds its ticket instead of opening a second one.
        if !tickets.is_empty() {
            let at = self.clock.now();
            self.store.append(
                at,
                tickets
                    .into_iter()
                    .map(|t| EventBody::Ticket(Box::new(t)))
                    .collect(),
            );
        }
        self.store.write_outbox(OutboxWrite {
            cursor: Some(last),
            entries,
            ..OutboxWrite::default()
        });
        self.store
            .flush()
            .await
            .map_err(|e| format!("the outbox cannot be written: {e}"))?;
        for d in planned_now {
            self.pending.insert(d.id, d);
        }
        self.update_status();
        if planned > 0 {
            tracing::debug!(planned, up_to = last, "notifications planned");
            self.settled.send_modify(|n| *n += 1);
        }
        Ok(Some(last))
    }

    /// Whether a delivery goes out under the per-hour cap of its alert series and recipient;
    /// a held-back one is counted and told in the next message that goes out. Resolutions,
    /// closures and escalations always go out.
    fn within_rate(&mut self, cfg: &Config, d: &mut Delivery) -> bool {
        let key = (
            d.alert.owner.to_string(),
            d.alert.rule.to_string(),
            d.contact.clone(),
        );
        if self.held_alerts.contains(&(d.alert.id, d.contact.clone())) {
            if matches!(d.step, Step::Resolved | Step::Closed) {
                self.held_alerts.remove(&(d.alert.id, d.contact.clone()));
            }
            return false;
        }
        let hour_ago = d.created_at - chrono::Duration::hours(1);
        let (times, held) = self.recent.entry(key).or_default();
        times.retain(|t| *t > hour_ago);
        let capped = matches!(d.step, Step::Opened | Step::Updated)
            && times.len() >= cfg.notifications.max_per_hour as usize;
        if capped {
            *held += 1;
            self.held_alerts.insert((d.alert.id, d.contact.clone()));
            tracing::info!(
                alert = d.alert.id, contact = %d.contact, step = d.step.name(),
                "notification held back: more than {} about this alert in the last hour",
                cfg.notifications.max_per_hour
            );
            return false;
        }
        if matches!(d.step, Step::Opened | Step::Updated) {
            times.push(d.created_at);
            d.held_back = std::mem::take(held);
        }
        true
    }

    /// The ticket change an escalation makes: opens the alert's ticket, or reassigns it (one
    /// ticket per alert; `pending` are those of this batch, not yet committed); nothing when
    /// the ticket already stands at this level (an escalation planned again after a crash).
    async fn ticket_for(
        &mut self,
        cfg: &Config,
        a: &crate::alert::AlertEvent,
        at: DateTime<Utc>,
        pending: &[crate::ticket::TicketEvent],
    ) -> Result<Option<crate::ticket::TicketEvent>, String> {
        use crate::ticket::{Ticket, TicketChange, TicketEvent, role_of};
        let alert = &a.alert;
        let assigned = cfg.on_call.as_ref().and_then(|o| {
            crate::notify::holder(
                o,
                crate::config::Role::of_level(alert.escalation_level)?,
                at,
            )
        });
        let existing = match pending.iter().rev().find(|t| t.ticket.alert == alert.id) {
            Some(t) => Some(t.ticket.clone()),
            None => {
                let r = self.reader.clone();
                let id = alert.id;
                blocking(move || Ok(r.tickets()?.into_iter().find(|t| t.alert == id))).await?
            }
        };
        Ok(Some(match existing {
            Some(t) if t.level >= alert.escalation_level => return Ok(None),
            Some(mut t) => {
                t.level = alert.escalation_level;
                t.role = role_of(alert.escalation_level).into();
                t.assigned_to = assigned;
                TicketEvent {
                    ticket: t,
                    change: TicketChange::Reassigned,
                }
            }
            None => {
                let number = self.next_ticket;
                self.next_ticket += 1;
                let client = cfg.sites.get(&alert.site).map(|s| s.client.clone());
                TicketEvent {
                    ticket: Ticket::open(number, alert, client, assigned, at),
                    change: TicketChange::Opened,
                }
            }
        }))
    }

    /// The delivery telling the ticketing tool of a ticket change, with the alert as the
    /// store has it.
    async fn ticket_delivery(
        &mut self,
        seq: u64,
        t: &crate::ticket::TicketEvent,
        at: DateTime<Utc>,
    ) -> Result<Delivery, String> {
        let r = self.reader.clone();
        let id = t.ticket.alert;
        let alert = blocking(move || r.alert(id)).await?.ok_or_else(|| {
            format!(
                "alert #{id} of ticket #{} is not in the store",
                t.ticket.number
            )
        })?;
        let mut delivery = Delivery::new(
            self.next_id,
            seq,
            alert,
            Step::Ticket,
            (
                crate::config::ContactId::new(notify::TICKETING_TOOL),
                ChannelKind::Webhook,
                crate::config::Language::En,
            ),
            at,
        );
        delivery.ticket = Some(Box::new(t.clone()));
        self.next_id += 1;
        Ok(delivery)
    }

    /// Plans the monthly reports due at the latest due instant, once per client and month:
    /// each report is built, archived in the data directory and queued for the contract's
    /// contacts by email, with a mark committed with the deliveries (a restart never sends it
    /// twice; a due instant missed while the daemon was down is caught up once). Nothing is
    /// sent for a month before the daemon's first event.
    async fn plan_reports(&mut self) -> Result<(), String> {
        let cfg = self.cfg();
        if !cfg.reports.send {
            return Ok(());
        }
        let now = self.clock.now();
        let (due, month) = crate::report::last_due(&cfg.reports, now);
        if self.reports_checked == Some(due) || self.reports_retry.is_some_and(|r| now < r) {
            return Ok(());
        }
        let (reader, data, c, m) = (
            self.reader.clone(),
            self.store.data_dir(),
            Arc::clone(&cfg),
            month.clone(),
        );
        let built = blocking(move || {
            let first = reader.events_after(0, 1)?.first().map(|e| e.at);
            let mut out = Vec::new();
            if first.is_none_or(|f| f >= due) {
                return Ok(out);
            }
            let mut due = Vec::new();
            for id in c.clients.keys() {
                // A client without report contacts still has its report archived.
                let key = format!("report:{id}:{m}");
                if reader.marked(&key)? {
                    continue;
                }
                due.push(id.as_str());
            }
            if due.is_empty() {
                return Ok(out);
            }
            let built = match crate::report::build_all(&reader, &c, &due, &m, now, true) {
                Ok(b) => b,
                Err(crate::availability::QueryError::Store(e)) => return Err(e),
                Err(e) => due
                    .iter()
                    .map(|id| {
                        (
                            id.to_string(),
                            Err(crate::availability::QueryError::Invalid(e.to_string())),
                        )
                    })
                    .collect(),
            };
            for (id, made) in built {
                let made = made.map_err(|e| e.to_string()).and_then(|r| {
                    let path = crate::report::archive_path(&data, &id, &m);
                    crate::report::archive(&path, &r, &c.reports)?;
                    Ok(path)
                });
                let key = format!("report:{id}:{m}");
                out.push((crate::config::ClientId::new(&id), key, made));
            }
            Ok(out)
        })
        .await?;
        let mut write = OutboxWrite::default();
        let mut planned = Vec::new();
        let mut failed = false;
        for (client, key, made) in built {
            let file = match made {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!(client = %client, month = %month, "the monthly report cannot be made, tried again in 10 minutes: {e}");
                    failed = true;
                    continue;
                }
            };
            let Some(c) = cfg.clients.get(&client) else {
                continue;
            };
            for contact_id in &c.contract.contacts {
                let Some(contact) = cfg.contacts.get(contact_id) else {
                    continue;
                };
                if contact.email.is_none() || cfg.email.is_none() {
                    tracing::warn!(client = %client, contact = %contact_id, "the monthly report is sent by email only: this contact has no address or [channels.email] is not set");
                    continue;
                }
                let alert = placeholder_alert(
                    "report",
                    format!("monthly report of {} for {month}", c.name),
                    now,
                )?;
                let mut d = Delivery::new(
                    self.next_id,
                    0,
                    alert,
                    Step::Report,
                    (
                        contact_id.clone(),
                        ChannelKind::Email,
                        c.contract.language(),
                    ),
                    now,
                );
                d.report = Some(notify::ReportRef {
                    client: client.to_string(),
                    name: c.name.clone(),
                    month: month.clone(),
                    file: file.clone(),
                });
                self.next_id += 1;
                queue(&mut write.entries, &mut planned, d);
            }
            if c.contract.contacts.is_empty() {
                tracing::info!(client = %client, month = %month, file = %file.display(), "monthly report archived; the client has no report contacts to send it to");
            } else {
                tracing::info!(client = %client, month = %month, file = %file.display(), "monthly report made");
            }
            write.marks.push(key);
        }
        if !write.marks.is_empty() {
            self.store.write_outbox(write);
            self.store
                .flush()
                .await
                .map_err(|e| format!("the outbox cannot be written: {e}"))?;
            for d in planned {
                self.pending.insert(d.id, d);
            }
            self.update_status();
        }
        // Reports not made are tried again later; those made are marked and not made twice.
        if failed {
            self.reports_retry = Some(now + REPORT_RETRY);
        } else {
            self.reports_retry = None;
            self.reports_checked = Some(due);
            if let Ok(mut s) = self.status.lock() {
                s.reports_checked = Some(due);
            }
        }
        self.settled.send_modify(|n| *n += 1);
        Ok(())
    }

    async fn queue_test(&mut self, t: TestRequest) {
        let cfg = self.cfg();
        let answer = (|| {
            let contact = cfg
                .contacts
                .get(&t.contact)
                .ok_or_else(|| format!("no contact `{}`", t.contact))?;
            let channel = match t.channel {
                Some(c) if contact.channels.contains(&c) => c,
                Some(c) => {
                    return Err(format!(
                        "contact `{}` is not reached by `{c}` (its channels: {})",
                        t.contact,
                        contact
                            .channels
                            .iter()
                            .map(|c| c.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                None => *contact
                    .channels
                    .first()
                    .ok_or_else(|| format!("contact `{}` has no channel", t.contact))?,
            };
            let now = self.clock.now();
            let alert = placeholder_alert(
                "test",
                format!("test message from vigie to {}", contact.name),
                now,
            )?;
            let id = self.next_id;
            self.next_id += 1;
            Ok(Delivery::new(
                id,
                0,
                alert,
                Step::Test,
                (t.contact.clone(), channel, contact.language),
                now,
            ))
        })();
        let answer = match answer {
            Ok(d) => match serde_json::to_vec(&d) {
                Ok(v) => {
                    self.store.write_outbox(OutboxWrite {
                        entries: vec![(d.id, Some(v))],
                        ..OutboxWrite::default()
                    });
                    match self.store.flush().await {
                        Ok(()) => {
                            let id = d.id;
                            self.pending.insert(id, d);
                            Ok(id)
                        }
                        Err(e) => Err(format!("the outbox cannot be written: {e}")),
                    }
                }
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e),
        };
        let _ = t.done.send(answer);
    }

    /// Sends the due deliveries; answers when the next one is due.
    async fn send_due(&mut self) -> Result<Option<DateTime<Utc>>, String> {
        let now = self.clock.now();
        let cfg = self.cfg();
        let mut due: Vec<Delivery> = self
            .pending
            .values()
            .filter(|d| d.next_at <= now)
            .take(SEND_CONCURRENCY)
            .cloned()
            .collect();
        if due.is_empty() {
            return Ok(self.pending.values().map(|d| d.next_at).min());
        }
        // Grouping: a new alert's message carries the other new alerts of its site waiting
        // for the same recipient and channel; they leave the outbox with it, committed before
        // anything is sent.
        if !cfg.notifications.group_window.is_zero() {
            let mut merge = OutboxWrite::default();
            let mut taken: std::collections::BTreeSet<u64> = std::collections::BTreeSet::new();
            for d in due.iter_mut() {
                if d.step != Step::Opened || !d.also.is_empty() || taken.contains(&d.id) {
                    continue;
                }
                let mates: Vec<Delivery> = self
                    .pending
                    .values()
                    .filter(|o| {
                        o.id != d.id
                            && !taken.contains(&o.id)
                            && o.step == Step::Opened
                            && o.also.is_empty()
                            && o.contact == d.contact
                            && o.channel == d.channel
                            && o.alert.site == d.alert.site
                    })
                    .cloned()
                    .collect();
                if mates.is_empty() {
                    continue;
                }
                taken.insert(d.id);
                for m in mates {
                    taken.insert(m.id);
                    merge.entries.push((m.id, None));
                    d.also.push(m.alert);
                }
                if let Ok(v) = serde_json::to_vec(&*d) {
                    merge.entries.push((d.id, Some(v)));
                }
            }
            if !merge.entries.is_empty() {
                due.retain(|d| !taken.contains(&d.id) || !d.also.is_empty());
                for (id, v) in &merge.entries {
                    if v.is_none() {
                        self.pending.remove(id);
                    }
                }
                for d in &due {
                    if !d.also.is_empty() {
                        self.pending.insert(d.id, d.clone());
                    }
                }
                self.store.write_outbox(merge);
                self.store
                    .flush()
                    .await
                    .map_err(|e| format!("the outbox cannot be written: {e}"))?;
            }
        }
        let transports = Arc::clone(&self.transports);
        let results = futures::future::join_all(due.into_iter().map(|d| {
            let (cfg, transports) = (Arc::clone(&cfg), Arc::clone(&transports));
            async move {
                let result = channels::deliver(&cfg, &transports, &d).await;
                (d, result)
            }
        }))
        .await;
        let mut write = OutboxWrite::default();
        for (d, result) in results {
            self.settle(&cfg, d, result, &mut write);
        }
        self.store.write_outbox(write);
        self.update_status();
        // The next round starts while this one's settlement commits (the deliveries in memory
        // are already settled, so nothing is sent twice); watchers are told once committed.
        let (store, settled, status) = (
            self.store.clone(),
            self.settled.clone(),
            Arc::clone(&self.status),
        );
        let accepted = std::mem::take(&mut self.round_accepted);
        tokio::spawn(async move {
            match store.flush().await {
                Ok(()) => {
                    if let Ok(mut s) = status.lock() {
                        s.sent += accepted;
                    }
                    settled.send_modify(|n| *n += 1);
                }
                Err(e) => tracing::error!("the outbox cannot be written: {e}"),
            }
        });
        Ok(Some(self.clock.now()))
    }

    /// Records the outcome of one send.
    fn settle(
        &mut self,
        cfg: &Config,
        mut d: Delivery,
        result: Result<(), channels::SendError>,
        write: &mut OutboxWrite,
    ) {
        let now = self.clock.now();
        let record = |d: Delivery, accepted: bool| -> Option<(u64, Vec<u8>)> {
            let id = d.id;
            serde_json::to_vec(&SentRecord {
                delivery: d,
                at: now,
                accepted,
            })
            .ok()
            .map(|v| (id, v))
        };
        match result {
            Ok(()) => {
                tracing::info!(
                    delivery = d.id, alert = d.alert.id, contact = %d.contact, channel = %d.channel,
                    step = d.step.name(), "notification accepted"
                );
                // Counted in the status once committed.
                self.round_accepted += 1;
                self.pending.remove(&d.id);
                write.entries.push((d.id, None));
                write.sent.extend(record(d, true));
            }
            Err(channels::SendError {
                message: e,
                permanent,
            }) => {
                d.attempts += 1;
                d.last_error = Some(e.clone());
                if let Ok(mut s) = self.status.lock() {
                    s.last_failures.retain(|(c, _, _)| *c != d.channel);
                    s.last_failures.push((d.channel, now, e.clone()));
                }
                let policy = cfg.notifications;
                if permanent || d.attempts >= policy.attempts_per_channel {
                    let contact = cfg.contacts.get(&d.contact).filter(|_| !d.single_channel());
                    let next = contact.and_then(|c| {
                        c.channels
                            .iter()
                            .skip_while(|k| **k != d.channel)
                            .nth(1)
                            .copied()
                    });
                    d.failed_channels.push((d.channel, e.clone()));
                    match next {
                        Some(next) => {
                            tracing::warn!(
                                delivery = d.id, alert = d.alert.id, contact = %d.contact,
                                "notification failed {} times on {}: {e}; falling back to {next}",
                                d.attempts, d.channel
                            );
                            if d.seq > 0 {
                                let _ = self.notes.send((
                                    d.alert.id,
                                    format!(
                                        "notification to {} failed on {} ({e}); sent by {next} instead",
                                        d.contact, d.channel
                                    ),
                                ));
                            }
                            d.channel = next;
                            d.attempts = 0;
                            d.next_at = now;
                        }
                        None => {
                            tracing::error!(
                                delivery = d.id, alert = d.alert.id, contact = %d.contact,
                                "notification given up: every channel of the contact failed; last: {e}"
                            );
                            if d.seq > 0 {
                                let _ = self.notes.send((
                                    d.alert.id,
                                    format!(
                                        "notification to {} given up: every channel failed (last: {e})",
                                        d.contact
                                    ),
                                ));
                            }
                            self.pending.remove(&d.id);
                            write.entries.push((d.id, None));
                            write.sent.extend(record(d, false));
                            return;
                        }
                    }
                } else {
                    d.next_at =
                        now + backoff(policy.retry_initial, policy.retry_max, d.attempts, d.id);
                    tracing::warn!(
                        delivery = d.id, alert = d.alert.id, contact = %d.contact, channel = %d.channel,
                        attempt = d.attempts, retry_at = %d.next_at, "notification failed: {e}"
                    );
                }
                if let Ok(v) = serde_json::to_vec(&d) {
                    write.entries.push((d.id, Some(v)));
                }
                self.pending.insert(d.id, d);
            }
        }
    }

    fn update_status(&self) {
        if let Ok(mut s) = self.status.lock() {
            s.pending = self.pending.len();
            s.oldest = self.pending.values().map(|d| d.created_at).min();
        }
    }
}

/// Wait before attempt `attempts + 1`: `initial × 2^(attempts-1)`, at most `max`, with ±20 %
/// jitter (derived from the delivery number, so retries of many deliveries spread out).
pub fn backoff(initial: Duration, max: Duration, attempts: u32, id: u64) -> chrono::Duration {
    let base = initial
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
        .min(max);
    let spread = (crate::util::stable_hash(&id.to_le_bytes()) % 41) as f64 / 100.0 - 0.2;
    let d = base.mul_f64(1.0 + spread);
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound_with_bounded_jitter() {
        let (i, m) = (Duration::from_secs(5), Duration::from_secs(300));
        for id in 0..50 {
            for (attempts, base) in [(1, 5.0), (2, 10.0), (3, 20.0), (7, 300.0), (30, 300.0)] {
                let d = backoff(i, m, attempts, id).num_milliseconds() as f64 / 1000.0;
                assert!(
                    d >= base * 0.8 - 0.001 && d <= base * 1.2 + 0.001,
                    "{attempts}: {d}"
                );
            }
        }
    }
}
