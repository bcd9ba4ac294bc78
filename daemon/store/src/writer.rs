//! The store's writer thread: group commit of snapshots and events, sequence numbering,
//! publication after commit, and recovery from failed commits (reopen, retry with backoff)
//! without dropping what was pending.

use super::{
    ALERTS, ActionWrite, BASELINE, EQUIPMENT, EVENTS, FlushReply, HISTORY, META, OUTBOX,
    OUTBOX_CURSOR, OUTBOX_SENT, Op, SENT_KEPT, SITES, Shared, SnapshotWrite, TICKETS, TRANSITIONS,
    Tbl, Urgent, open_db,
};
use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, Select, select};
use redb::{Database, ReadableTable};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use vigie_core::events::{Event, EventBody};

/// How long the writer waits for more writes before committing a batch.
const LINGER: Duration = Duration::from_millis(5);
/// Oldest a batch may get before it is committed, however busy the writer is.
const MAX_BATCH_AGE: Duration = Duration::from_millis(50);
/// Most operations in one batch.
const MAX_BATCH_OPS: usize = 20_000;
/// First wait after a failed commit; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two commit attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a closing store keeps trying to commit while commits fail.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// An event as written in the `events` table (the same JSON as [`Event`]).
#[derive(Serialize)]
struct EventRef<'a> {
    seq: u64,
    at: DateTime<Utc>,
    #[serde(flatten)]
    body: &'a EventBody,
}

/// What waits for the next commit.
#[derive(Default)]
struct Batch {
    puts: BTreeMap<(Tbl, String), Option<Vec<u8>>>,
    index: BTreeMap<u64, Vec<u8>>,
    events: Vec<(DateTime<Utc>, EventBody)>,
    outbox: BTreeMap<u64, Option<Vec<u8>>>,
    outbox_sent: Vec<(u64, Vec<u8>)>,
    outbox_cursor: Option<u64>,
    marks: Vec<String>,
    compaction: Option<super::Compaction>,
    history: Vec<(vigie_core::config::EquipmentId, i64, Vec<u8>)>,
    history_days: Vec<(vigie_core::config::EquipmentId, i64, Vec<u8>)>,
    ops: usize,
}

impl Batch {
    fn add(&mut self, op: Op) {
        match op {
            Op::Put { table, key, value } => {
                self.puts.insert((table, key), value);
                self.ops += 1;
            }
            Op::AlertIndex(id, value) => {
                self.index.insert(id, value);
                self.ops += 1;
            }
            Op::Events(at, bodies) => {
                self.ops += bodies.len();
                self.events.extend(bodies.into_iter().map(|b| (at, b)));
            }
            Op::Outbox(w) => {
                self.ops += w.entries.len() + w.sent.len() + 1;
                self.outbox.extend(w.entries);
                self.outbox_sent.extend(w.sent);
                self.marks.extend(w.marks);
                if let Some(c) = w.cursor {
                    self.outbox_cursor = Some(self.outbox_cursor.map_or(c, |old| old.max(c)));
                }
            }
            Op::Compact(c) => {
                self.ops += 1;
                self.compaction = Some(c);
            }
            Op::History(id, hour, row) => {
                self.ops += 1;
                self.history.push((id, hour, row));
            }
            Op::HistoryDay(id, day, row) => {
                self.ops += 1;
                self.history_days.push((id, day, row));
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.puts.is_empty()
            && self.index.is_empty()
            && self.events.is_empty()
            && self.outbox.is_empty()
            && self.outbox_sent.is_empty()
            && self.outbox_cursor.is_none()
            && self.compaction.is_none()
            && self.history.is_empty()
            && self.history_days.is_empty()
            && self.marks.is_empty()
    }
}

/// The writer's state.
pub(super) struct Writer {
    shared: Arc<Shared>,
    db: Option<Arc<Database>>,
    next_seq: u64,
    batch: Batch,
    actions: Vec<ActionWrite>,
    flushes: Vec<FlushReply>,
    closing: Option<Instant>,
    backoff: Option<Duration>,
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, redb::Error> {
    serde_json::to_vec(v).map_err(|e| redb::Error::Io(std::io::Error::other(e)))
}

impl Writer {
    /// A writer on an open database whose next event gets `next_seq`.
    pub(super) fn new(shared: Arc<Shared>, db: Arc<Database>, next_seq: u64) -> Self {
        Writer {
            shared,
            db: Some(db),
            next_seq,
            batch: Batch::default(),
            actions: Vec::new(),
            flushes: Vec::new(),
            closing: None,
            backoff: None,
        }
    }

    fn urgent(&mut self, u: Urgent) {
        match u {
            Urgent::Action(a) => self.actions.push(a),
            Urgent::Flush(f) => self.flushes.push(f),
            Urgent::Close => self.close(),
        }
    }

    fn close(&mut self) {
        self.closing.get_or_insert_with(Instant::now);
    }

    fn has_urgent(&self) -> bool {
        !self.actions.is_empty() || !self.flushes.is_empty() || self.closing.is_some()
    }

    /// Runs until closed: gathers a batch, commits it, publishes it.
    pub(super) fn run(mut self, rx: Receiver<Op>, urgent: Receiver<Urgent>) {
        loop {
            match self.backoff {
                None => self.gather(&rx, &urgent),
                // While commits fail, the channel is left to fill up (back-pressure on the
                // actors); actions, flushes and close are still served at once.
                Some(wait) => select! {
                    recv(urgent) -> u => match u {
                        Ok(u) => self.urgent(u),
                        Err(_) => self.close(),
                    },
                    default(wait) => {}
                },
            }
            if self.has_urgent() {
                // Everything sent before an urgent request is already in the channel.
                for _ in 0..super::CHANNEL_CAPACITY {
                    match rx.try_recv() {
                        Ok(op) => self.batch.add(op),
                        Err(_) => break,
                    }
                }
            }
            if self.batch.is_empty() && self.actions.is_empty() {
                for f in self.flushes.drain(..) {
                    f.send(Ok(()));
                }
                if self.closing.is_some() {
                    break;
                }
                continue;
            }
            // A panic inside redb (a damaged file, a failing disk) is a failed commit, never the
            // end of the writer.
            let began = std::time::Instant::now();
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.commit()))
                .unwrap_or_else(|p| {
                    Err(format!(
                        "internal error of the data store: {}",
                        vigie_core::util::panic_text(&*p)
                    ))
                });
            self.shared.commit_latency.record(began.elapsed());
            match attempt {
                Ok(()) => {
                    if self.backoff.take().is_some() {
                        tracing::info!(path = %self.shared.path.display(), "data store commits resumed");
                    }
                    for f in self.flushes.drain(..) {
                        f.send(Ok(()));
                    }
                    if self.closing.is_some() && rx.is_empty() {
                        break;
                    }
                }
                Err(e) => {
                    self.failed(&e);
                    for a in self.actions.drain(..) {
                        let _ = a.done.send(Err(e.clone()));
                    }
                    for f in self.flushes.drain(..) {
                        f.send(Err(e.clone()));
                    }
                    if self
                        .closing
                        .is_some_and(|since| since.elapsed() >= CLOSE_GRACE)
                    {
                        tracing::error!(
                            path = %self.shared.path.display(),
                            events = self.batch.events.len(),
                            snapshots = self.batch.puts.len(),
                            queued = rx.len(),
                            "data store closed while commits fail: these writes are lost"
                        );
                        break;
                    }
                }
            }
        }
        self.release();
    }

    /// Waits for a first op, then gathers what arrives meanwhile, within an age and size
    /// bound, or until an urgent request.
    fn gather(&mut self, rx: &Receiver<Op>, urgent: &Receiver<Urgent>) {
        if self.batch.is_empty() && !self.has_urgent() {
            self.take_one(rx, urgent, None);
        }
        let started = Instant::now();
        while !self.has_urgent() && self.batch.ops < MAX_BATCH_OPS {
            let left = MAX_BATCH_AGE.saturating_sub(started.elapsed());
            if left.is_zero() || !self.take_one(rx, urgent, Some(LINGER.min(left))) {
                break;
            }
        }
    }

    /// Takes one op or urgent request, waiting at most `wait` (without bound when `None`);
    /// answers false when nothing came in time.
    fn take_one(
        &mut self,
        rx: &Receiver<Op>,
        urgent: &Receiver<Urgent>,
        wait: Option<Duration>,
    ) -> bool {
        let mut sel = Select::new();
        let ops = sel.recv(rx);
        sel.recv(urgent);
        let ready = match wait {
            None => sel.select(),
            Some(w) => match sel.select_timeout(w) {
                Ok(ready) => ready,
                Err(_) => return false,
            },
        };
        if ready.index() == ops {
            match ready.recv(rx) {
                Ok(op) => self.batch.add(op),
                Err(_) => self.close(),
            }
        } else {
            match ready.recv(urgent) {
                Ok(u) => self.urgent(u),
                Err(_) => self.close(),
            }
        }
        true
    }

    /// The open database, reopened after a failure.
    fn db(&mut self) -> Result<Arc<Database>, String> {
        if let Some(db) = &self.db {
            return Ok(Arc::clone(db));
        }
        let db = Arc::new(open_db(&self.shared.path, true).map_err(|e| e.to_string())?);
        if let Ok(mut slot) = self.shared.db.write() {
            *slot = Some(Arc::clone(&db));
        }
        self.db = Some(Arc::clone(&db));
        Ok(db)
    }

    /// Drops the database handle (poisoned by a failed write) so the next attempt reopens it.
    fn release(&mut self) {
        let slot = self.shared.db.write().ok().and_then(|mut s| s.take());
        let own = self.db.take();
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            drop(slot);
            drop(own);
        }));
        if let Err(p) = dropped {
            tracing::error!(
                path = %self.shared.path.display(),
                "closing the data file failed: {}",
                vigie_core::util::panic_text(&*p)
            );
        }
    }

    fn failed(&mut self, e: &str) {
        self.release();
        let wait = self
            .backoff
            .map_or(FIRST_BACKOFF, |b| (b * 2).min(MAX_BACKOFF));
        self.backoff = Some(wait);
        let (failed, pending) = match self.shared.health.lock() {
            Ok(mut h) => {
                h.error = Some(e.to_string());
                h.failed_commits += 1;
                h.failed_total += 1;
                h.pending_events = self.batch.events.len();
                (h.failed_commits, h.pending_events)
            }
            Err(_) => (0, 0),
        };
        tracing::error!(
            path = %self.shared.path.display(), failed, pending_events = pending,
            retry_in = %vigie_core::util::format_duration(wait),
            "data store commit failed, nothing pending is dropped: {e}"
        );
    }

    /// Commits the batch and the pending actions in one transaction, then publishes.
    fn commit(&mut self) -> Result<(), String> {
        let db = self.db()?;
        let first = self.next_seq;
        let result = self.write(&db, first);
        let last = result.map_err(|e| e.to_string())?;
        drop(db);
        // Committed: number, publish, answer.
        let batch = std::mem::take(&mut self.batch);
        let mut events: Vec<Event> = Vec::with_capacity(batch.events.len());
        let mut seq = first;
        for (at, body) in batch.events {
            events.push(Event { seq, at, body });
            seq += 1;
        }
        let mut answers = Vec::with_capacity(self.actions.len());
        for a in self.actions.drain(..) {
            for body in a.events {
                events.push(Event {
                    seq,
                    at: a.at,
                    body,
                });
                seq += 1;
            }
            answers.push((a.done, seq - 1));
        }
        self.next_seq = last + 1;
        if let Ok(listeners) = self.shared.listeners.read() {
            for l in listeners.iter() {
                l(&events);
            }
        }
        self.shared.committed.send_replace(last);
        if let Ok(mut h) = self.shared.health.lock() {
            h.last_seq = last;
            h.error = None;
            h.failed_commits = 0;
            h.pending_events = 0;
        }
        for (done, seq) in answers {
            let _ = done.send(Ok(seq));
        }
        Ok(())
    }

    /// Writes everything in one transaction; answers the last sequence number used.
    fn write(&self, db: &Database, first: u64) -> Result<u64, redb::Error> {
        let txn = db.begin_write()?;
        let mut seq = first;
        {
            let mut eq = txn.open_table(EQUIPMENT)?;
            let mut sites = txn.open_table(SITES)?;
            let mut alerts = txn.open_table(ALERTS)?;
            let mut transitions = txn.open_table(TRANSITIONS)?;
            let mut log = txn.open_table(EVENTS)?;
            let mut tickets = txn.open_table(TICKETS)?;
            let mut meta = txn.open_table(META)?;
            for ((table, key), value) in &self.batch.puts {
                let t = match table {
                    Tbl::Equipment => &mut eq,
                    Tbl::Site => &mut sites,
                    Tbl::Meta => &mut meta,
                };
                match value {
                    Some(v) => {
                        t.insert(key.as_str(), v.as_slice())?;
                    }
                    None => {
                        t.remove(key.as_str())?;
                    }
                }
            }
            for (id, v) in &self.batch.index {
                alerts.insert(*id, v.as_slice())?;
            }
            let batch = self.batch.events.iter().map(|(at, b)| (*at, b));
            let actions = self
                .actions
                .iter()
                .flat_map(|a| a.events.iter().map(move |b| (a.at, b)));
            for (at, body) in batch.chain(actions) {
                log.insert(seq, encode(&EventRef { seq, at, body })?.as_slice())?;
                match body {
                    EventBody::Alert(e) => {
                        alerts.insert(e.alert.id, encode(&e.alert)?.as_slice())?;
                    }
                    EventBody::Transition(t) => {
                        let key = (t.equipment.as_str(), at.timestamp_micros());
                        transitions.insert(key, encode(&EventRef { seq, at, body })?.as_slice())?;
                    }
                    EventBody::Config(_)
                    | EventBody::Maintenance(_)
                    | EventBody::Supervision(_)
                    | EventBody::Facts(_) => {}
                    EventBody::Ticket(t) => {
                        tickets.insert(t.ticket.number, encode(&t.ticket)?.as_slice())?;
                    }
                }
                seq += 1;
            }
            if !self.batch.outbox.is_empty()
                || !self.batch.outbox_sent.is_empty()
                || self.batch.outbox_cursor.is_some()
            {
                let mut outbox = txn.open_table(OUTBOX)?;
                for (id, v) in &self.batch.outbox {
                    match v {
                        Some(v) => {
                            outbox.insert(*id, v.as_slice())?;
                        }
                        None => {
                            outbox.remove(*id)?;
                        }
                    }
                }
                let mut sent = txn.open_table(OUTBOX_SENT)?;
                for (id, v) in &self.batch.outbox_sent {
                    sent.insert(*id, v.as_slice())?;
                }
                if let Some(last) = self.batch.outbox_sent.iter().map(|(id, _)| *id).max()
                    && last > SENT_KEPT
                {
                    sent.retain(|id, _| id + SENT_KEPT > last)?;
                }
                if let Some(c) = self.batch.outbox_cursor {
                    // The cursor never moves back.
                    let old = meta
                        .get(OUTBOX_CURSOR)?
                        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
                        .map(u64::from_le_bytes)
                        .unwrap_or(0);
                    meta.insert(OUTBOX_CURSOR, c.max(old).to_le_bytes().as_slice())?;
                }
            }
            if !self.batch.history.is_empty()
                || !self.batch.history_days.is_empty()
                || self.batch.compaction.is_some()
            {
                let mut history = txn.open_table(HISTORY)?;
                for (id, hour, row) in &self.batch.history {
                    // One row per equipment and day; the hour merged in.
                    let key = (id.as_str(), vigie_core::history::day_of(*hour));
                    let day = {
                        let old = history.get(key)?;
                        vigie_core::history::day_put(old.as_ref().map(|v| v.value()), *hour, row)
                    };
                    history.insert(key, day.as_slice())?;
                }
                for (id, day, row) in &self.batch.history_days {
                    let key = (id.as_str(), *day);
                    let merged = {
                        let old = history.get(key)?;
                        vigie_core::history::day_merge(old.as_ref().map(|v| v.value()), *day, row)
                    };
                    history.insert(key, merged.as_slice())?;
                }
                if let Some(c) = &self.batch.compaction {
                    let before = vigie_core::history::day_of(c.history_before);
                    history.retain(|(_, d), _| d >= before)?;
                }
            }
            if let Some(c) = &self.batch.compaction {
                log.retain_in(..=c.upto, |_, _| false)?;
                let before = c.before.timestamp_micros();
                transitions.retain(|(_, at), _| at >= before)?;
                // An alert leaves the index once it ended before the cut; a live one stays.
                alerts.retain(|_, v| {
                    serde_json::from_slice::<vigie_core::alert::Alert>(v)
                        .map(|a| a.state.is_live() || a.updated_at >= c.before)
                        .unwrap_or(true)
                })?;
                meta.insert(BASELINE, c.baseline.as_slice())?;
            }
            for key in &self.batch.marks {
                meta.insert(key.as_str(), [1u8].as_slice())?;
            }
            for a in &self.actions {
                match &a.snapshot {
                    SnapshotWrite::Equipment(id, bytes) => {
                        eq.insert(id.as_str(), bytes.as_slice())?;
                    }
                    SnapshotWrite::Site(id, bytes) => {
                        sites.insert(id.as_str(), bytes.as_slice())?;
                    }
                }
            }
        }
        txn.commit()?;
        // The sequence number of the last event, or of the last committed one if none.
        Ok(seq - 1)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.closing.is_none() {
            tracing::error!(path = %self.shared.path.display(), "the data store writer stopped unexpectedly; writes are no longer recorded");
        }
        self.shared.closing.store(true, Ordering::Release);
    }
}
