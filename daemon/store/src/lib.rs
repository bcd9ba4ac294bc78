//! Persistence in redb: the append-only event log, equipment and site snapshots (timers as
//! absolute times), the alert index and the transition index. The only crate that knows redb.
//!
//! Commit, then publish: actors hand events and snapshots to one writer thread through a
//! bounded channel (back-pressure, not unbounded memory). The writer numbers the events,
//! writes them with the snapshots they go with in one transaction (group commit), and only
//! then publishes the committed [`Event`]s to its listeners (the live alert book, the log) and
//! bumps the committed sequence number that readers follow. A reader that falls behind reads
//! the `events` table through a [`StoreReader`]: it never loses an event.
//!
//! A failed commit is retried with backoff after reopening the database (a failed write
//! poisons a redb handle), reported in [`StoreHealth`], and never drops what was pending. An
//! operator's action goes through [`Store::commit_action`]: it takes effect only once
//! committed, or is refused without a trace.

mod read;
mod writer;

pub use read::{MAX_EVENTS_PER_READ, StoreReader};

use chrono::{DateTime, Utc};
use crossbeam_channel::{SendTimeoutError, Sender};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use vigie_core::alert::{Alert, AlertSet};
use vigie_core::config::{EquipmentId, SiteId};
use vigie_core::events::{Event, EventBody};
use vigie_core::rules::EquipmentState;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const EQUIPMENT: TableDefinition<&str, &[u8]> = TableDefinition::new("equipment");
const SITES: TableDefinition<&str, &[u8]> = TableDefinition::new("sites");
/// Latest version of every alert by number (an index of the event log).
const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts");
/// Status changes by (equipment, unix time in microseconds) (an index of the event log).
const TRANSITIONS: TableDefinition<(&str, i64), &[u8]> = TableDefinition::new("transitions");
/// The event log: every committed event by sequence number.
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// Hourly metric rollups by (equipment, day since the epoch), in `vigie_core::history`'s day
/// row layout.
const HISTORY: TableDefinition<(&str, i64), &[u8]> = TableDefinition::new("history");
/// Intervention tickets, latest version by number.
const TICKETS: TableDefinition<u64, &[u8]> = TableDefinition::new("tickets");
/// The notification outbox: deliveries waiting for their channel to accept them, by number.
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
/// Deliveries their channel accepted, the latest [`SENT_KEPT`] by number, for `vigie outbox`.
const OUTBOX_SENT: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox_sent");
/// Meta key: the last event sequence number the dispatcher turned into deliveries.
const OUTBOX_CURSOR: &str = "outbox_cursor";
/// Meta key: what the last compaction kept of the events it removed (JSON).
const BASELINE: &str = "availability_baseline";
/// Meta key: the daemon's last sign of life (RFC 3339), written every minute and at stop.
const ALIVE: &str = "alive";
/// Deliveries kept once sent.
pub const SENT_KEPT: u64 = 1000;

/// Version of the data layout written by this build (2: the event log).
pub const SCHEMA_VERSION: u32 = 2;
/// File name of the database inside the data directory.
pub const DB_FILE: &str = "vigie.redb";

/// Page cache of the database (redb's default is 1 GiB).
const CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Operations the writer's channel holds before senders wait (back-pressure).
const CHANNEL_CAPACITY: usize = 8192;
/// How long the start waits for a reader holding the file.
const OPEN_WAIT: Duration = Duration::from_secs(5);
/// How often a sender waiting on a full channel checks whether the store is closing.
const SEND_POLL: Duration = Duration::from_millis(200);

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file cannot be opened (corrupt, truncated, empty, not a redb file).
    #[error(
        "the data file {path} cannot be opened: {detail}. It was left untouched: to start with empty state, stop vigie and move it aside (`mv {path} {path}.bad`), or restore a backup"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The data directory cannot be created or used.
    #[error("the data directory {path} cannot be used: {detail}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What failed.
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
            let h = vigie_core::util::stable_hash(&bytes);
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
        .map(|b| vigie_core::util::stable_hash(&b))
        .unwrap_or(0)
}

/// What a site persists: its own alerts (offline cameras above tolerance).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteSnapshot {
    /// Live site alerts (and closed ones whose condition still holds).
    pub alerts: AlertSet,
    /// Maintenance windows opened through the API (not in the config).
    #[serde(default)]
    pub windows: Vec<vigie_core::maintenance::AdHocWindow>,
}

/// A site's live alerts encoded as a [`SiteSnapshot`], without copying them.
#[derive(Debug, Serialize)]
pub struct SiteSnapshotRef<'a> {
    /// The site's alerts.
    pub alerts: &'a [Alert],
    /// Maintenance windows opened through the API.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub windows: &'a [vigie_core::maintenance::AdHocWindow],
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
    /// Sequence number of the last committed event (0 when the log is empty).
    pub last_seq: u64,
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

/// A snapshot written with an operator's action, in the same transaction.
#[derive(Debug, Clone)]
pub enum SnapshotWrite {
    /// An equipment's encoded [`EquipmentState`].
    Equipment(EquipmentId, Vec<u8>),
    /// A site's encoded [`SiteSnapshot`].
    Site(SiteId, Vec<u8>),
}

/// How the store is doing, for `vigie status` and the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoreHealth {
    /// The database file.
    pub path: String,
    /// Sequence number of the last committed event.
    pub last_seq: u64,
    /// Why the last commit failed, while commits fail (`None` once one succeeds).
    #[serde(default)]
    pub error: Option<String>,
    /// Commits failed in a row.
    #[serde(default)]
    pub failed_commits: u64,
    /// Commits failed since the daemon started.
    #[serde(default)]
    pub failed_total: u64,
    /// Events waiting for a successful commit.
    #[serde(default)]
    pub pending_events: usize,
}

/// Called by the writer with every committed batch of events, in sequence order.
pub type CommitListener = Box<dyn Fn(&[Event]) + Send + Sync>;

/// What the handle, the writer and the readers share.
struct Shared {
    path: PathBuf,
    /// The open database, for readers; `None` while the writer reopens it.
    db: RwLock<Option<Arc<Database>>>,
    /// Last committed sequence number.
    committed: watch::Sender<u64>,
    health: Mutex<StoreHealth>,
    /// How long commits take, failed ones included.
    commit_latency: vigie_core::histogram::Histogram,
    listeners: RwLock<Vec<CommitListener>>,
    closing: AtomicBool,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Ops of the bounded channel, in the order actors sent them.
enum Op {
    Put {
        table: Tbl,
        key: String,
        value: Option<Vec<u8>>,
    },
    /// Updates the alert index without an event (an alert's site after a move).
    AlertIndex(u64, Vec<u8>),
    Events(DateTime<Utc>, Vec<EventBody>),
    /// Outbox changes: deliveries added, updated or removed, accepted deliveries recorded,
    /// and the dispatcher's cursor, in one transaction.
    Outbox(OutboxWrite),
    /// Removes what is older than the retention.
    Compact(Compaction),
    /// One equipment's finished hour of metric rollups.
    History(EquipmentId, i64, Vec<u8>),
    /// A whole day row of one equipment's history, merged into what is stored.
    HistoryDay(EquipmentId, i64, Vec<u8>),
}

/// What a compaction removes, and what it keeps in place of the events.
#[derive(Debug, Clone)]
pub struct Compaction {
    /// Events up to this sequence number are removed.
    pub upto: u64,
    /// Transitions before this instant leave the index; alerts that ended before it leave the
    /// alert index.
    pub before: DateTime<Utc>,
    /// The availability baseline folded over the removed events (JSON).
    pub baseline: Vec<u8>,
    /// Metric rollups of hours before this one (since the epoch) are removed.
    pub history_before: i64,
}

/// Changes to the notification outbox, committed together.
#[derive(Debug, Default)]
pub struct OutboxWrite {
    /// The last event turned into deliveries, when it moves.
    pub cursor: Option<u64>,
    /// Deliveries to write (`Some`) or remove (`None`), by number.
    pub entries: Vec<(u64, Option<Vec<u8>>)>,
    /// Deliveries accepted by their channel, kept for display.
    pub sent: Vec<(u64, Vec<u8>)>,
    /// Marks written with the deliveries (a month's report planned), by key.
    pub marks: Vec<String>,
}

/// Requests served at once, even while commits fail: they never wait behind back-pressure.
enum Urgent {
    /// An operator's action: committed with everything sent before it, or refused.
    Action(ActionWrite),
    /// Answer once everything sent before is committed (or the commit failed).
    Flush(FlushReply),
    /// Commit what can be committed and stop.
    Close,
}

/// Where a flush is answered: an async caller, or a blocked thread.
enum FlushReply {
    Async(oneshot::Sender<Result<(), String>>),
    Blocking(crossbeam_channel::Sender<Result<(), String>>),
}

impl FlushReply {
    fn send(self, r: Result<(), String>) {
        match self {
            FlushReply::Async(tx) => {
                let _ = tx.send(r);
            }
            FlushReply::Blocking(tx) => {
                let _ = tx.send(r);
            }
        }
    }
}

struct ActionWrite {
    at: DateTime<Utc>,
    events: Vec<EventBody>,
    snapshot: SnapshotWrite,
    done: oneshot::Sender<Result<u64, String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tbl {
    Equipment,
    Site,
    Meta,
}

/// Handle to the store; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Store {
    tx: Sender<Op>,
    urgent: Sender<Urgent>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.shared.path.display())
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

/// Opens or creates the database file, refusing an empty or damaged one with a clear error
/// (redb would silently initialise an empty file, and panics on some truncated ones).
fn open_db(path: &Path, create: bool) -> Result<Database, StoreError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => {
            return Err(StoreError::Unreadable {
                path: path.to_path_buf(),
                detail: "it is not a regular file".into(),
            });
        }
        Ok(m) if m.len() == 0 => {
            return Err(StoreError::Unreadable {
                path: path.to_path_buf(),
                detail:
                    "the file is empty (was it truncated, or the disk full when it was created?)"
                        .into(),
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {}
        Err(e) => {
            return Err(StoreError::Unreadable {
                path: path.to_path_buf(),
                detail: e.to_string(),
            });
        }
    }
    let opened = std::panic::catch_unwind(|| {
        // A bounded page cache: the daemon's memory follows its work, not the file's size.
        let builder = {
            let mut b = Database::builder();
            b.set_cache_size(CACHE_BYTES);
            b
        };
        if create {
            builder.create(path)
        } else {
            builder.open(path)
        }
    });
    let db = match opened {
        Ok(r) => r.map_err(|e| open_error(path, e))?,
        Err(p) => {
            return Err(StoreError::Unreadable {
                path: path.to_path_buf(),
                detail: format!(
                    "the database is damaged (truncated?): {}",
                    vigie_core::util::panic_text(&*p)
                ),
            });
        }
    };
    restrict_file(path);
    Ok(db)
}

/// Makes a file of the data directory readable by its owner only.
fn restrict_file(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(file = %path.display(), "cannot restrict the file to its owner: {e}");
        }
    }
}

/// Creates the data directory, readable by its owner only.
pub fn create_data_dir(dir: &Path) -> Result<(), StoreError> {
    let err = |e: std::io::Error| StoreError::Directory {
        path: dir.to_path_buf(),
        detail: e.to_string(),
    };
    if dir.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(err)
}

/// Writes a small file of the data directory, readable by its owner only.
pub fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    std::io::Write::write_all(&mut f, content)?;
    restrict_file(path);
    Ok(())
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
    restored.last_seq = read::last_seq(&txn)?;
    Ok(restored)
}

fn init(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(db_err)?;
    {
        let mut meta = txn.open_table(META).map_err(db_err)?;
        meta.insert("schema", SCHEMA_VERSION.to_le_bytes().as_slice())
            .map_err(db_err)?;
        txn.open_table(EQUIPMENT).map_err(db_err)?;
        txn.open_table(SITES).map_err(db_err)?;
        txn.open_table(ALERTS).map_err(db_err)?;
        txn.open_table(TRANSITIONS).map_err(db_err)?;
        txn.open_table(EVENTS).map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

impl Store {
    /// Opens (or creates) the database in `data_dir`, reads back the saved state and starts
    /// the writer. A file that is not a readable vigie database (empty, truncated, corrupt) is
    /// reported, never replaced.
    pub fn open(data_dir: &Path) -> Result<(Store, Restored), StoreError> {
        create_data_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        // A reader (`vigie events`, `vigie status` while the daemon was down) may hold the
        // file for a moment: wait for it rather than fail the start.
        let mut waited = Duration::ZERO;
        let db = loop {
            match open_db(&path, true) {
                Err(StoreError::InUse(_)) if waited < OPEN_WAIT => {
                    std::thread::sleep(SEND_POLL);
                    waited += SEND_POLL;
                }
                other => break other?,
            }
        };
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_all(&db, &path)));
        let restored = match read {
            Ok(r) => r?,
            Err(p) => {
                return Err(StoreError::Unreadable {
                    path,
                    detail: format!(
                        "the database is damaged: {}",
                        vigie_core::util::panic_text(&*p)
                    ),
                });
            }
        };
        init(&db)?;
        let db = Arc::new(db);
        let (tx, rx) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let (urgent, urgent_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            health: Mutex::new(StoreHealth {
                path: path.display().to_string(),
                last_seq: restored.last_seq,
                ..StoreHealth::default()
            }),
            path,
            db: RwLock::new(Some(Arc::clone(&db))),
            committed: watch::channel(restored.last_seq).0,
            commit_latency: vigie_core::histogram::Histogram::default(),
            listeners: RwLock::new(Vec::new()),
            closing: AtomicBool::new(false),
            writer: Mutex::new(None),
        });
        let w = writer::Writer::new(Arc::clone(&shared), db, restored.last_seq + 1);
        let handle = std::thread::Builder::new()
            .name("vigie-store".into())
            .spawn(move || w.run(rx, urgent_rx))
            .map_err(db_err)?;
        if let Ok(mut slot) = shared.writer.lock() {
            *slot = Some(handle);
        }
        Ok((Store { tx, urgent, shared }, restored))
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
        let db = open_db(&path, false)?;
        read_all(&db, &path)
    }

    /// A reader over the running store's database (history, the event log).
    pub fn reader(&self) -> StoreReader {
        StoreReader::shared(Arc::clone(&self.shared))
    }

    /// Adds a listener called with every committed batch of events, in order, on the
    /// writer's thread. Listeners must be quick: the live book, the log.
    pub fn on_commit(&self, listener: CommitListener) {
        if let Ok(mut l) = self.shared.listeners.write() {
            l.push(listener);
        }
    }

    /// Follows the sequence number of the last committed event.
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.shared.committed.subscribe()
    }

    /// How long commits took since the store opened, failed ones included.
    pub fn commit_latency(&self) -> vigie_core::histogram::HistogramSnapshot {
        self.shared.commit_latency.snapshot()
    }

    /// How the store is doing: last commit, failures, events waiting.
    pub fn health(&self) -> StoreHealth {
        self.shared
            .health
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// Sends an op, waiting while the channel is full (back-pressure), unless the store closes.
    fn send(&self, op: Op) {
        let mut op = op;
        loop {
            match self.tx.send_timeout(op, SEND_POLL) {
                Ok(()) => return,
                Err(SendTimeoutError::Timeout(back)) => {
                    if self.shared.closing.load(Ordering::Acquire) {
                        tracing::error!(path = %self.shared.path.display(), "data store is closing with its queue full; a write was not recorded");
                        return;
                    }
                    op = back;
                }
                Err(SendTimeoutError::Disconnected(_)) => {
                    tracing::error!(path = %self.shared.path.display(), "data store writer has stopped; a write was not recorded");
                    return;
                }
            }
        }
    }

    /// Appends events to the log, to be committed with the next batch.
    pub fn append(&self, at: DateTime<Utc>, events: Vec<EventBody>) {
        if !events.is_empty() {
            self.send(Op::Events(at, events));
        }
    }

    fn put(&self, table: Tbl, key: &str, value: Option<Vec<u8>>) {
        self.send(Op::Put {
            table,
            key: key.to_string(),
            value,
        });
    }

    fn put_value(&self, table: Tbl, key: &str, value: &impl Serialize) {
        match serde_json::to_vec(value) {
            Ok(v) => self.put(table, key, Some(v)),
            Err(e) => tracing::error!(key, "cannot encode snapshot: {e}"),
        }
    }

    /// Saves an equipment snapshot.
    pub fn put_equipment(&self, id: &EquipmentId, state: &EquipmentState) {
        self.put_value(Tbl::Equipment, id.as_str(), state);
    }

    /// Saves an equipment snapshot already encoded (see [`encode_snapshot`]).
    pub fn put_equipment_encoded(&self, id: &EquipmentId, bytes: Vec<u8>) {
        self.put(Tbl::Equipment, id.as_str(), Some(bytes));
    }

    /// Deletes an equipment snapshot.
    pub fn remove_equipment(&self, id: &EquipmentId) {
        self.put(Tbl::Equipment, id.as_str(), None);
    }

    /// Saves a site snapshot.
    pub fn put_site(&self, id: &SiteId, snap: &SiteSnapshot) {
        self.put_value(Tbl::Site, id.as_str(), snap);
    }

    /// Saves a site snapshot already encoded (see [`encode_snapshot`]).
    pub fn put_site_encoded(&self, id: &SiteId, bytes: Vec<u8>) {
        self.put(Tbl::Site, id.as_str(), Some(bytes));
    }

    /// Removes the events up to `c.upto`, keeping `c.baseline` in their place, and the index
    /// rows older than `c.before` (committed with the next batch).
    pub fn compact(&self, c: Compaction) {
        self.send(Op::Compact(c));
    }

    /// Records one equipment's finished hour of metric rollups (committed with the next batch).
    pub fn put_history(&self, id: &EquipmentId, hour: i64, row: Vec<u8>) {
        self.send(Op::History(id.clone(), hour, row));
    }

    /// Stores a whole day row of `id`'s history (as [`vigie_core::history::day_row`] makes
    /// it), merged with the hours already stored that day: a bulk import of rollups.
    pub fn put_history_day(&self, id: &EquipmentId, day: i64, row: Vec<u8>) {
        self.send(Op::HistoryDay(id.clone(), day, row));
    }

    /// The data directory the database is in.
    pub fn data_dir(&self) -> PathBuf {
        self.shared
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Whether the store is being closed (the daemon is stopping).
    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::Relaxed)
    }

    /// Records the daemon's last sign of life (committed with the next batch): a later start
    /// counts the time since as not supervised.
    pub fn mark_alive(&self, at: DateTime<Utc>) {
        self.put(Tbl::Meta, ALIVE, Some(at.to_rfc3339().into_bytes()));
    }

    /// Deletes a site snapshot.
    pub fn remove_site(&self, id: &SiteId) {
        self.put(Tbl::Site, id.as_str(), None);
    }

    /// Writes outbox changes (with the dispatcher's cursor) in one transaction.
    pub fn write_outbox(&self, write: OutboxWrite) {
        self.send(Op::Outbox(write));
    }

    /// Updates an alert in the alert index without an event (its site after a move).
    pub fn reindex_alert(&self, alert: &Alert) {
        match serde_json::to_vec(alert) {
            Ok(v) => self.send(Op::AlertIndex(alert.id, v)),
            Err(e) => tracing::error!(alert = alert.id, "cannot encode alert: {e}"),
        }
    }

    /// Commits an operator's action: its events and the owner's new snapshot, together with
    /// everything sent before, in one transaction tried at once (even while other commits
    /// fail). Answers the sequence number of its last event once committed; on failure
    /// nothing of it is written and the caller must not apply it.
    pub fn commit_action(
        &self,
        at: DateTime<Utc>,
        events: Vec<EventBody>,
        snapshot: SnapshotWrite,
    ) -> impl std::future::Future<Output = Result<u64, StoreError>> + 'static {
        let (done, rx) = oneshot::channel();
        let sent = self.urgent.send(Urgent::Action(ActionWrite {
            at,
            events,
            snapshot,
            done,
        }));
        async move {
            sent.map_err(|_| StoreError::Closed)?;
            rx.await
                .map_err(|_| StoreError::Closed)?
                .map_err(StoreError::Db)
        }
    }

    /// Waits until everything sent before this call is committed to disk; answers the error
    /// of the commit attempt when it fails.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.urgent
            .send(Urgent::Flush(FlushReply::Async(tx)))
            .map_err(|_| StoreError::Closed)?;
        rx.await
            .map_err(|_| StoreError::Closed)?
            .map_err(StoreError::Db)
    }

    /// [`Store::flush`] for threads outside an async runtime, and for tests under paused
    /// time (blocking the runtime keeps its clock still while the writer commits).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.urgent
            .send(Urgent::Flush(FlushReply::Blocking(tx)))
            .map_err(|_| StoreError::Closed)?;
        rx.recv()
            .map_err(|_| StoreError::Closed)?
            .map_err(StoreError::Db)
    }

    /// Commits what is pending (trying for a bounded time while commits fail), stops the
    /// writer and releases the file. Writes sent after this are refused (and logged).
    pub fn close(self) {
        self.shared.closing.store(true, Ordering::Release);
        let writer = self.shared.writer.lock().ok().and_then(|mut w| w.take());
        let _ = self.urgent.send(Urgent::Close);
        if let Some(w) = writer {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests;
