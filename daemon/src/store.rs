//! Persistence in redb: equipment and site snapshots (timers as absolute times), the alert log
//! with each alert's timeline, and the state-transition log. The only module that knows redb.
//!
//! Writes go through one writer thread that batches them (group commit): whatever arrives
//! while a commit is running is committed together in the next transaction, and repeated
//! writes of the same snapshot inside a batch are folded into one.

use crate::alert::Alert;
use crate::config::{EquipmentId, SiteId};
use crate::rules::{EquipmentState, Status};
use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const EQUIPMENT: TableDefinition<&str, &[u8]> = TableDefinition::new("equipment");
const SITES: TableDefinition<&str, &[u8]> = TableDefinition::new("sites");
const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts");
/// Status changes by (equipment, unix time in microseconds).
const TRANSITIONS: TableDefinition<(&str, i64), &[u8]> = TableDefinition::new("transitions");

/// Version of the data layout written by this build.
pub const SCHEMA_VERSION: u32 = 1;
/// File name of the database inside the data directory.
pub const DB_FILE: &str = "vigie.redb";

/// Page cache of the database (redb's default is 1 GiB).
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// How long the writer waits for more writes before committing a batch.
const LINGER: Duration = Duration::from_millis(5);
/// Oldest a batch may get before it is committed, however busy the writer is.
const MAX_BATCH_AGE: Duration = Duration::from_millis(50);
/// Most operations in one batch.
const MAX_BATCH_OPS: usize = 20_000;
/// How long the writer waits before retrying a failed commit.
const RETRY: Duration = Duration::from_secs(1);

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file cannot be opened (corrupt, unreadable, not a redb file).
    #[error(
        "the data file {path} cannot be opened: {detail}. It was left untouched: move it aside to start with empty state, or restore a backup"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What redb reported.
        detail: String,
    },
    /// Another process holds the database.
    #[error("the data file {0} is in use by another vigie process")]
    InUse(PathBuf),
    /// The file was written by a newer vigie.
    #[error(
        "the data file {path} has layout version {found}; this vigie reads up to version {supported}"
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// A read or write failed.
    #[error("data store: {0}")]
    Db(String),
    /// The writer thread stopped.
    #[error("the data store writer has stopped")]
    Closed,
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Encodes a snapshot, and returns it only when it differs from the last one saved: `last`
/// holds the hash of what was saved and is updated. Unchanged state costs no write.
pub fn encode_snapshot(last: &mut u64, value: &impl Serialize) -> Option<Vec<u8>> {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let h = crate::util::stable_hash(&bytes);
            (h != std::mem::replace(last, h)).then_some(bytes)
        }
        Err(e) => {
            tracing::error!("cannot encode a snapshot: {e}");
            None
        }
    }
}

/// The hash [`encode_snapshot`] compares against, for state restored from the store.
pub fn snapshot_hash(value: &impl Serialize) -> u64 {
    serde_json::to_vec(value)
        .map(|b| crate::util::stable_hash(&b))
        .unwrap_or(0)
}

/// What a site persists: its own alerts (offline cameras above tolerance).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteSnapshot {
    /// Live site alerts (and closed ones whose condition still holds).
    pub alerts: Vec<Alert>,
}

/// A site's live alerts encoded as a [`SiteSnapshot`], without copying them.
#[derive(Debug, Serialize)]
pub struct SiteSnapshotRef<'a> {
    /// The site's alerts.
    pub alerts: &'a [Alert],
}

/// One recorded status change of an equipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// New status.
    pub status: Status,
    /// Reason given by the probe.
    #[serde(default)]
    pub reason: Option<String>,
}

/// State read back at start.
#[derive(Debug, Default)]
pub struct Restored {
    /// Equipment snapshots by id.
    pub equipment: HashMap<EquipmentId, EquipmentState>,
    /// Site snapshots by id.
    pub sites: HashMap<SiteId, SiteSnapshot>,
    /// Next free alert number.
    pub next_alert_id: u64,
    /// Records that could not be decoded (kept in the file, reported here).
    pub problems: Vec<String>,
}

/// Hands out alert numbers, continuing after the highest stored one.
#[derive(Debug, Clone)]
pub struct AlertIds(Arc<AtomicU64>);

impl AlertIds {
    /// Starts numbering at `next`.
    pub fn starting_at(next: u64) -> Self {
        AlertIds(Arc::new(AtomicU64::new(next.max(1))))
    }

    /// The next number.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

enum Op {
    Put {
        table: Tbl,
        key: String,
        value: Option<Vec<u8>>,
    },
    Alert {
        id: u64,
        value: Vec<u8>,
    },
    Transition {
        id: String,
        at: i64,
        value: Vec<u8>,
    },
    Flush(oneshot::Sender<Result<(), String>>),
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tbl {
    Equipment,
    Site,
}

/// Handle to the store; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Store {
    tx: Sender<Op>,
    path: Arc<PathBuf>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

fn open_error(path: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_path_buf()),
        other => StoreError::Unreadable {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    }
}

fn read_all(db: &Database, path: &Path) -> Result<Restored, StoreError> {
    let mut restored = Restored {
        next_alert_id: 1,
        ..Restored::default()
    };
    let txn = db.begin_read().map_err(db_err)?;
    let unreadable = |e: redb::TableError| StoreError::Unreadable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    match txn.open_table(META) {
        Ok(meta) => {
            if let Some(v) = meta.get("schema").map_err(db_err)? {
                let bytes: [u8; 4] = v.value().try_into().unwrap_or([0; 4]);
                let found = u32::from_le_bytes(bytes);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::Newer {
                        path: path.to_path_buf(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(restored),
        Err(e) => return Err(unreadable(e)),
    }
    let eq = txn.open_table(EQUIPMENT).map_err(unreadable)?;
    for row in eq.iter().map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        match serde_json::from_slice::<EquipmentState>(v.value()) {
            Ok(s) => {
                restored.equipment.insert(EquipmentId::new(k.value()), s);
            }
            Err(e) => restored.problems.push(format!(
                "equipment snapshot `{}` cannot be read: {e}",
                k.value()
            )),
        }
    }
    let sites = txn.open_table(SITES).map_err(unreadable)?;
    for row in sites.iter().map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        match serde_json::from_slice::<SiteSnapshot>(v.value()) {
            Ok(s) => {
                restored.sites.insert(SiteId::new(k.value()), s);
            }
            Err(e) => restored
                .problems
                .push(format!("site snapshot `{}` cannot be read: {e}", k.value())),
        }
    }
    let alerts = txn.open_table(ALERTS).map_err(unreadable)?;
    if let Some((k, _)) = alerts.last().map_err(db_err)? {
        restored.next_alert_id = k.value() + 1;
    }
    Ok(restored)
}

fn init(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(db_err)?;
    {
        let mut meta = txn.open_table(META).map_err(db_err)?;
        if meta.get("schema").map_err(db_err)?.is_none() {
            meta.insert("schema", SCHEMA_VERSION.to_le_bytes().as_slice())
                .map_err(db_err)?;
        }
        txn.open_table(EQUIPMENT).map_err(db_err)?;
        txn.open_table(SITES).map_err(db_err)?;
        txn.open_table(ALERTS).map_err(db_err)?;
        txn.open_table(TRANSITIONS).map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

impl Store {
    /// Opens (or creates) the database in `data_dir`, reads back the saved state and starts
    /// the writer. A file that is not a readable vigie database is reported, never replaced.
    pub fn open(data_dir: &Path) -> Result<(Store, Restored), StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Unreadable {
            path: data_dir.to_path_buf(),
            detail: format!("cannot create the data directory: {e}"),
        })?;
        let path = data_dir.join(DB_FILE);
        // A bounded page cache: the daemon's memory follows its work, not the file's size.
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| open_error(&path, e))?;
        let restored = read_all(&db, &path)?;
        init(&db)?;
        let (tx, rx) = channel();
        let writer = std::thread::Builder::new()
            .name("vigie-store".into())
            .spawn(move || writer_loop(db, rx))
            .map_err(db_err)?;
        Ok((
            Store {
                tx,
                path: Arc::new(path),
                writer: Arc::new(Mutex::new(Some(writer))),
            },
            restored,
        ))
    }

    /// Reads the saved state of a data directory without keeping the file open (for
    /// `vigie status` when the daemon is not running).
    pub fn read_snapshot(data_dir: &Path) -> Result<Restored, StoreError> {
        let path = data_dir.join(DB_FILE);
        if !path.exists() {
            return Ok(Restored {
                next_alert_id: 1,
                ..Restored::default()
            });
        }
        let db = Database::open(&path).map_err(|e| open_error(&path, e))?;
        read_all(&db, &path)
    }

    /// Reads the alert log of a data directory (every alert, including resolved and closed).
    pub fn read_alert_log(data_dir: &Path) -> Result<Vec<Alert>, StoreError> {
        let path = data_dir.join(DB_FILE);
        let db = Database::open(&path).map_err(|e| open_error(&path, e))?;
        let txn = db.begin_read().map_err(db_err)?;
        let table = match txn.open_table(ALERTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let mut out = Vec::with_capacity(table.len().map_err(db_err)? as usize);
        for row in table.iter().map_err(db_err)? {
            let (_, v) = row.map_err(db_err)?;
            if let Ok(a) = serde_json::from_slice::<Alert>(v.value()) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Reads the transitions of one equipment, oldest first.
    pub fn read_transitions(
        data_dir: &Path,
        id: &str,
    ) -> Result<Vec<(DateTime<Utc>, Transition)>, StoreError> {
        let path = data_dir.join(DB_FILE);
        let db = Database::open(&path).map_err(|e| open_error(&path, e))?;
        let txn = db.begin_read().map_err(db_err)?;
        let table = txn.open_table(TRANSITIONS).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table
            .range((id, i64::MIN)..=(id, i64::MAX))
            .map_err(db_err)?
        {
            let (k, v) = row.map_err(db_err)?;
            let (_, at) = k.value();
            if let (Some(at), Ok(t)) = (
                DateTime::from_timestamp_micros(at),
                serde_json::from_slice(v.value()),
            ) {
                out.push((at, t));
            }
        }
        Ok(out)
    }

    fn send(&self, op: Op) {
        if self.tx.send(op).is_err() {
            tracing::error!(path = %self.path.display(), "data store writer has stopped; a write was not recorded");
        }
    }

    /// Saves an equipment snapshot.
    pub fn put_equipment(&self, id: &EquipmentId, state: &EquipmentState) {
        match serde_json::to_vec(state) {
            Ok(v) => self.put_equipment_encoded(id, v),
            Err(e) => tracing::error!(equipment = %id, "cannot encode snapshot: {e}"),
        }
    }

    /// Saves an equipment snapshot already encoded (see [`encode_snapshot`]).
    pub fn put_equipment_encoded(&self, id: &EquipmentId, bytes: Vec<u8>) {
        self.send(Op::Put {
            table: Tbl::Equipment,
            key: id.to_string(),
            value: Some(bytes),
        });
    }

    /// Deletes an equipment snapshot.
    pub fn remove_equipment(&self, id: &EquipmentId) {
        self.send(Op::Put {
            table: Tbl::Equipment,
            key: id.to_string(),
            value: None,
        });
    }

    /// Saves a site snapshot.
    pub fn put_site(&self, id: &SiteId, snap: &SiteSnapshot) {
        match serde_json::to_vec(snap) {
            Ok(v) => self.put_site_encoded(id, v),
            Err(e) => tracing::error!(site = %id, "cannot encode snapshot: {e}"),
        }
    }

    /// Saves a site snapshot already encoded (see [`encode_snapshot`]).
    pub fn put_site_encoded(&self, id: &SiteId, bytes: Vec<u8>) {
        self.send(Op::Put {
            table: Tbl::Site,
            key: id.to_string(),
            value: Some(bytes),
        });
    }

    /// Deletes a site snapshot.
    pub fn remove_site(&self, id: &SiteId) {
        self.send(Op::Put {
            table: Tbl::Site,
            key: id.to_string(),
            value: None,
        });
    }

    /// Records an alert in the alert log.
    pub fn put_alert(&self, alert: &Alert) {
        match serde_json::to_vec(alert) {
            Ok(v) => self.send(Op::Alert {
                id: alert.id,
                value: v,
            }),
            Err(e) => tracing::error!(alert = alert.id, "cannot encode alert: {e}"),
        }
    }

    /// Records a status change.
    pub fn transition(
        &self,
        id: &EquipmentId,
        at: DateTime<Utc>,
        status: Status,
        reason: Option<String>,
    ) {
        match serde_json::to_vec(&Transition { status, reason }) {
            Ok(v) => self.send(Op::Transition {
                id: id.to_string(),
                at: at.timestamp_micros(),
                value: v,
            }),
            Err(e) => tracing::error!(equipment = %id, "cannot encode transition: {e}"),
        }
    }

    /// Waits until everything sent before this call is committed to disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Flush(tx))
            .map_err(|_| StoreError::Closed)?;
        rx.await
            .map_err(|_| StoreError::Closed)?
            .map_err(StoreError::Db)
    }

    /// Commits what is pending, stops the writer and releases the file. Writes sent after
    /// this are refused (and logged).
    pub fn close(self) {
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        let _ = self.tx.send(Op::Close);
        if let Some(w) = writer {
            let _ = w.join();
        }
    }
}

#[derive(Default)]
struct Batch {
    puts: BTreeMap<(Tbl, String), Option<Vec<u8>>>,
    alerts: BTreeMap<u64, Vec<u8>>,
    transitions: Vec<(String, i64, Vec<u8>)>,
    flushes: Vec<oneshot::Sender<Result<(), String>>>,
    close: bool,
}

impl Batch {
    fn add(&mut self, op: Op) {
        match op {
            Op::Put { table, key, value } => {
                self.puts.insert((table, key), value);
            }
            Op::Alert { id, value } => {
                self.alerts.insert(id, value);
            }
            Op::Transition { id, at, value } => self.transitions.push((id, at, value)),
            Op::Flush(tx) => self.flushes.push(tx),
            Op::Close => self.close = true,
        }
    }

    fn is_empty(&self) -> bool {
        self.puts.is_empty()
            && self.alerts.is_empty()
            && self.transitions.is_empty()
            && self.flushes.is_empty()
    }

    fn commit(&self, db: &Database) -> Result<(), redb::Error> {
        let txn = db.begin_write()?;
        {
            let mut eq = txn.open_table(EQUIPMENT)?;
            let mut sites = txn.open_table(SITES)?;
            for ((table, key), value) in &self.puts {
                let t = match table {
                    Tbl::Equipment => &mut eq,
                    Tbl::Site => &mut sites,
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
            let mut alerts = txn.open_table(ALERTS)?;
            for (id, v) in &self.alerts {
                alerts.insert(*id, v.as_slice())?;
            }
            let mut tr = txn.open_table(TRANSITIONS)?;
            for (id, at, v) in &self.transitions {
                tr.insert((id.as_str(), *at), v.as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

fn writer_loop(db: Database, rx: Receiver<Op>) {
    let mut batch = Batch::default();
    let mut open = true;
    while open || !batch.is_empty() {
        if batch.is_empty() {
            match rx.recv() {
                Ok(op) => batch.add(op),
                Err(_) => break,
            }
        }
        // Gather what arrives meanwhile, one commit for all of it, within an age and size bound.
        let started = std::time::Instant::now();
        let mut ops = 1;
        while !batch.close && ops < MAX_BATCH_OPS {
            let left = MAX_BATCH_AGE.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(LINGER.min(left)) {
                Ok(op) => {
                    batch.add(op);
                    ops += 1;
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        match batch.commit(&db) {
            Ok(()) => {
                for f in std::mem::take(&mut batch.flushes) {
                    let _ = f.send(Ok(()));
                }
                if batch.close {
                    return;
                }
                batch = Batch::default();
            }
            Err(e) => {
                tracing::error!("data store commit failed, retrying: {e}");
                for f in std::mem::take(&mut batch.flushes) {
                    let _ = f.send(Err(e.to_string()));
                }
                std::thread::sleep(RETRY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn snapshots_and_alert_numbers_survive_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("t");
        {
            let (store, restored) = Store::open(dir.path()).expect("open");
            assert!(restored.equipment.is_empty());
            assert_eq!(restored.next_alert_id, 1);
            let mut st = EquipmentState::new(now);
            st.offline_since = Some(now);
            store.put_equipment(&EquipmentId::new("cam-1"), &st);
            store.put_equipment(&EquipmentId::new("cam-2"), &st);
            store.remove_equipment(&EquipmentId::new("cam-2"));
            store.transition(
                &EquipmentId::new("cam-1"),
                now,
                Status::Down,
                Some("timeout".into()),
            );
            let alert: Alert = serde_json::from_value(serde_json::json!({
                "id": 41, "owner": {"equipment": "cam-1"}, "site": "s", "rule": "r", "severity": "critical",
                "state": "open", "summary": "x", "opened_at": now, "updated_at": now, "notified": true, "timeline": []
            }))
            .expect("alert");
            store.put_alert(&alert);
            store.flush().await.expect("flush");
            store.close();
        }
        let restored = Store::read_snapshot(dir.path()).expect("read");
        assert_eq!(restored.equipment.len(), 1);
        assert_eq!(
            restored.equipment[&EquipmentId::new("cam-1")].offline_since,
            Some(now)
        );
        assert_eq!(restored.next_alert_id, 42);
        let tr = Store::read_transitions(dir.path(), "cam-1").expect("transitions");
        assert_eq!(tr.len(), 1);
        assert_eq!(tr[0].1.status, Status::Down);
    }

    #[test]
    fn a_corrupt_file_is_reported_and_left_untouched() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(DB_FILE);
        let garbage = b"this is not a redb database, it is garbage written by a test".repeat(100);
        std::fs::write(&path, &garbage).expect("write");
        let err = Store::open(dir.path()).expect_err("must refuse");
        assert!(matches!(err, StoreError::Unreadable { .. }), "{err}");
        assert!(err.to_string().contains("left untouched"), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), garbage);
    }
}
