//! The read side: the event log, alert history and transitions, read from the running
//! daemon's database (redb allows readers beside the writer) or from a data directory while
//! the daemon is down. Reads are blocking: call them off async threads.

use super::{
    ALERTS, ALIVE, BASELINE, DB_FILE, EVENTS, HISTORY, META, OUTBOX, OUTBOX_CURSOR, OUTBOX_SENT,
    Shared, StoreError, TICKETS, TRANSITIONS, db_err, open_db,
};
use chrono::{DateTime, Utc};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable};
use std::path::Path;
use std::sync::Arc;
use vigie_core::alert::Alert;
use vigie_core::events::{Event, EventBody, TransitionEvent};

/// Most events one read returns.
pub const MAX_EVENTS_PER_READ: usize = 10_000;

/// Where a reader reads.
#[derive(Clone)]
enum Source {
    /// The running store's database (reopened by its writer after a failure).
    Shared(Arc<Shared>),
    /// A database opened by the reader (the daemon is down).
    Own(Arc<Database>),
}

/// Reads the event log and the history.
#[derive(Clone)]
pub struct StoreReader {
    source: Source,
}

/// Sequence number of the last event in the log (0 when empty).
pub(super) fn last_seq(txn: &ReadTransaction) -> Result<u64, StoreError> {
    match txn.open_table(EVENTS) {
        Ok(t) => Ok(t
            .last()
            .map_err(db_err)?
            .map(|(k, _)| k.value())
            .unwrap_or(0)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(e) => Err(db_err(e)),
    }
}

impl StoreReader {
    pub(super) fn shared(shared: Arc<Shared>) -> Self {
        StoreReader {
            source: Source::Shared(shared),
        }
    }

    /// A reader over a data directory whose daemon is not running.
    pub fn open(data_dir: &Path) -> Result<StoreReader, StoreError> {
        let path = data_dir.join(DB_FILE);
        if !path.exists() {
            return Err(StoreError::Unreadable {
                detail: "there is no such file (has vigie run with this data directory?)".into(),
                path,
            });
        }
        Ok(StoreReader {
            source: Source::Own(Arc::new(open_db(&path, false)?)),
        })
    }

    fn begin(&self) -> Result<ReadTransaction, StoreError> {
        let db = match &self.source {
            Source::Own(db) => Arc::clone(db),
            Source::Shared(s) => s.db.read().ok().and_then(|d| d.clone()).ok_or_else(|| {
                if s.closing.load(std::sync::atomic::Ordering::Relaxed) {
                    StoreError::Closed
                } else {
                    StoreError::Db("the database is being reopened after a failed write".into())
                }
            })?,
        };
        db.begin_read().map_err(db_err)
    }

    /// How the running store is doing (`None` for a reader of a stopped daemon's directory).
    pub fn health(&self) -> Option<super::StoreHealth> {
        match &self.source {
            Source::Shared(s) => s.health.lock().ok().map(|h| h.clone()),
            Source::Own(_) => None,
        }
    }

    /// The last event the dispatcher turned into deliveries (`None` before it first ran).
    pub fn outbox_cursor(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .meta(OUTBOX_CURSOR)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_le_bytes))
    }

    /// The outbox: deliveries waiting for their channel, by number (raw JSON).
    pub fn outbox(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.table_rows(OUTBOX)
    }

    /// Deliveries their channel accepted, the latest first kept, by number (raw JSON).
    pub fn outbox_sent(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.table_rows(OUTBOX_SENT)
    }

    /// The highest delivery number ever used, pending or sent (0 before the first).
    pub fn outbox_last_id(&self) -> Result<u64, StoreError> {
        let txn = self.begin()?;
        let mut last = 0;
        for def in [OUTBOX, OUTBOX_SENT] {
            match txn.open_table(def) {
                Ok(t) => {
                    if let Some((k, _)) = t.last().map_err(db_err)? {
                        last = last.max(k.value());
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(db_err(e)),
            }
        }
        Ok(last)
    }

    /// Every intervention ticket, by number.
    pub fn tickets(&self) -> Result<Vec<vigie_core::ticket::Ticket>, StoreError> {
        self.table_rows(TICKETS)?
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Db(format!("ticket {k} cannot be read: {e}")))
            })
            .collect()
    }

    /// One intervention ticket.
    pub fn ticket(&self, number: u64) -> Result<Option<vigie_core::ticket::Ticket>, StoreError> {
        let txn = self.begin()?;
        let table = match txn.open_table(TICKETS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        match table.get(number).map_err(db_err)? {
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|e| StoreError::Db(format!("ticket {number} cannot be read: {e}"))),
            None => Ok(None),
        }
    }

    fn table_rows(
        &self,
        def: redb::TableDefinition<u64, &[u8]>,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.begin()?;
        let table = match txn.open_table(def) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let mut out = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Sequence number of the last committed event.
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        last_seq(&self.begin()?)
    }

    /// Events after `after`, oldest first, at most `limit` (and [`MAX_EVENTS_PER_READ`]).
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let txn = self.begin()?;
        let table = match txn.open_table(EVENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let limit = limit.min(MAX_EVENTS_PER_READ);
        let mut out = Vec::with_capacity(limit.min(1024));
        for row in table.range(after.saturating_add(1)..).map_err(db_err)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = row.map_err(db_err)?;
            let event = serde_json::from_slice::<Event>(v.value())
                .map_err(|e| StoreError::Db(format!("event {} cannot be read: {e}", k.value())))?;
            out.push(event);
        }
        Ok(out)
    }

    /// One alert as last recorded, whatever its state, with its full timeline.
    pub fn alert(&self, id: u64) -> Result<Option<Alert>, StoreError> {
        let txn = self.begin()?;
        let table = match txn.open_table(ALERTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        match table.get(id).map_err(db_err)? {
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|e| StoreError::Db(format!("alert #{id} cannot be read: {e}"))),
            None => Ok(None),
        }
    }

    /// Every alert live since `since` (opened, still live, or resolved or closed after it),
    /// oldest first: the alert history of a period.
    pub fn alerts_since(&self, since: DateTime<Utc>) -> Result<Vec<Alert>, StoreError> {
        let txn = self.begin()?;
        let table = match txn.open_table(ALERTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let mut out = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (_, v) = row.map_err(db_err)?;
            if let Ok(a) = serde_json::from_slice::<Alert>(v.value())
                && (a.state.is_live() || a.updated_at >= since)
            {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// One equipment's hourly metric rollups from `from` to `to` (hours since the epoch, both
    /// included); a row that cannot be read is skipped with a warning.
    pub fn history(
        &self,
        equipment: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<vigie_core::history::Hour>, StoreError> {
        let txn = self.begin()?;
        let table = match txn.open_table(HISTORY) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        use vigie_core::history::{day_decode, day_of, hour_of};
        let mut out = Vec::new();
        for row in table
            .range((equipment, day_of(from))..=(equipment, day_of(to)))
            .map_err(db_err)?
        {
            let (k, v) = row.map_err(db_err)?;
            let day = k.value().1;
            match day_decode(day, v.value()) {
                Ok(hours) => out.extend(hours.into_iter().filter(|h| {
                    let n = hour_of(h.at);
                    n >= from && n <= to
                })),
                Err(e) => tracing::warn!(equipment, day, "{e}"),
            }
        }
        Ok(out)
    }

    /// Whether a mark was written with outbox deliveries (a month's report planned).
    pub fn marked(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.meta(key)?.is_some())
    }

    /// What the last compaction kept of the events it removed, for availability.
    pub fn baseline(&self) -> Result<Option<vigie_core::availability::Baseline>, StoreError> {
        match self.meta(BASELINE)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| {
                StoreError::Db(format!("the availability baseline cannot be read: {e}"))
            }),
        }
    }

    /// A value of the `meta` table.
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.begin()?;
        let table = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        Ok(table.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    /// The daemon's last sign of life written by [`crate::Store::mark_alive`].
    pub fn last_alive(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .meta(ALIVE)?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|d| d.with_timezone(&Utc)))
    }

    /// Status changes of one equipment between two instants, oldest first.
    pub fn transitions(
        &self,
        equipment: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(u64, DateTime<Utc>, TransitionEvent)>, StoreError> {
        let txn = self.begin()?;
        let table = match txn.open_table(TRANSITIONS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let range = (equipment, from.timestamp_micros())..=(equipment, to.timestamp_micros());
        let mut out = Vec::new();
        for row in table.range(range).map_err(db_err)? {
            let (_, v) = row.map_err(db_err)?;
            // Rows of an older layout (without site and cause) are skipped.
            if let Ok(Event {
                seq,
                at,
                body: EventBody::Transition(t),
            }) = serde_json::from_slice::<Event>(v.value())
            {
                out.push((seq, at, t));
            }
        }
        Ok(out)
    }
}
