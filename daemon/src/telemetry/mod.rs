//! The daemon's own telemetry: counters and latencies of what it does (probes, reloads, the
//! store's commits, exports), and the read of everything an export needs in one
//! [`Snapshot`], written out as Prometheus text ([`prometheus`]) or sent over OTLP ([`otlp`])
//! with the probe runs' spans, kept in a bounded buffer until then.

pub mod otlp;
pub mod prometheus;

use crate::actors::{Fleet, FleetQuery, MetricsQuery};
use crate::observation::{Observation, ProbeStatus};
use crate::status::{EquipmentMetrics, FleetStatus};
use actix::Addr;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use vigie_core::histogram::{Histogram, HistogramSnapshot};

/// How a probe run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The equipment answered.
    Up,
    /// The equipment did not answer.
    Down,
    /// The probe could not tell (an error on the way, a malformed answer).
    Unknown,
    /// The probe did not finish within its timeout.
    Timeout,
    /// The probe failed internally (a panic, caught).
    Failed,
}

impl ProbeOutcome {
    /// Every outcome, in export order.
    pub const ALL: [ProbeOutcome; 5] = [
        ProbeOutcome::Up,
        ProbeOutcome::Down,
        ProbeOutcome::Unknown,
        ProbeOutcome::Timeout,
        ProbeOutcome::Failed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeOutcome::Up => "up",
            ProbeOutcome::Down => "down",
            ProbeOutcome::Unknown => "unknown",
            ProbeOutcome::Timeout => "timeout",
            ProbeOutcome::Failed => "failed",
        }
    }

    /// The outcome of an observation that arrived in time.
    pub fn of(obs: &Observation) -> ProbeOutcome {
        match obs.status {
            ProbeStatus::Up => ProbeOutcome::Up,
            ProbeStatus::Down { .. } => ProbeOutcome::Down,
            ProbeStatus::Unknown { .. } => ProbeOutcome::Unknown,
        }
    }
}

/// One probe run, exported as a span.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpan {
    /// The equipment.
    pub equipment: String,
    /// Its site.
    pub site: String,
    /// Its kind.
    pub kind: &'static str,
    /// When the probe started.
    pub start: DateTime<Utc>,
    /// How long it ran.
    pub took: Duration,
    /// How it ended.
    pub outcome: ProbeOutcome,
    /// Why it was not up.
    pub reason: Option<String>,
}

/// Counters the daemon's parts update as they work, and the probe spans waiting for the next
/// export; read by the exports.
#[derive(Debug)]
pub struct Telemetry {
    started: DateTime<Utc>,
    probes: [AtomicU64; ProbeOutcome::ALL.len()],
    probe_latency: Histogram,
    start_lateness: Histogram,
    reloads_accepted: AtomicU64,
    reloads_refused: AtomicU64,
    export_dropped: AtomicU64,
    exports_failed: AtomicU64,
    exports_sent: AtomicU64,
    /// Spans kept at most; 0 while no trace is exported.
    span_capacity: AtomicUsize,
    spans: Mutex<VecDeque<ProbeSpan>>,
}

impl Telemetry {
    /// Counters starting at `started` (the daemon's start, from its clock).
    pub fn new(started: DateTime<Utc>) -> Self {
        Telemetry {
            started,
            probes: Default::default(),
            probe_latency: Histogram::default(),
            start_lateness: Histogram::default(),
            reloads_accepted: AtomicU64::new(0),
            reloads_refused: AtomicU64::new(0),
            export_dropped: AtomicU64::new(0),
            exports_failed: AtomicU64::new(0),
            exports_sent: AtomicU64::new(0),
            span_capacity: AtomicUsize::new(0),
            spans: Mutex::new(VecDeque::new()),
        }
    }
}

impl Telemetry {
    /// When the counters started (the daemon's start): the start of cumulative series.
    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    /// Whether probe runs are kept as spans (an OTLP export with traces is configured).
    pub fn traces_on(&self) -> bool {
        self.span_capacity.load(Ordering::Relaxed) > 0
    }

    /// Keeps at most `n` spans waiting (0: none, and those waiting are dropped uncounted).
    pub fn set_span_capacity(&self, n: usize) {
        self.span_capacity.store(n, Ordering::Relaxed);
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        if n == 0 {
            spans.clear();
        } else {
            while spans.len() > n {
                spans.pop_front();
                self.export_dropped(1);
            }
        }
    }

    /// Keeps a probe run's span for the next export; past the bound it is dropped and
    /// counted, so an exporter that is down never holds more memory nor slows collection.
    pub fn span(&self, span: ProbeSpan) {
        let cap = self.span_capacity.load(Ordering::Relaxed);
        if cap == 0 {
            return;
        }
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        if spans.len() >= cap {
            drop(spans);
            self.export_dropped(1);
        } else {
            spans.push_back(span);
        }
    }

    /// Takes the spans waiting.
    pub fn take_spans(&self) -> Vec<ProbeSpan> {
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        spans.drain(..).collect()
    }

    /// Records one probe run.
    pub fn probe(&self, outcome: ProbeOutcome, took: Duration) {
        self.probes[outcome as usize].fetch_add(1, Ordering::Relaxed);
        self.probe_latency.record(took);
    }

    /// Records how late a scheduled collection started after the instant it was due.
    pub fn started_late(&self, by: Duration) {
        self.start_lateness.record(by);
    }

    /// Records one config load, accepted or refused.
    pub fn reload(&self, accepted: bool) {
        let c = if accepted {
            &self.reloads_accepted
        } else {
            &self.reloads_refused
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Records telemetry items dropped because the exporter's buffer was full.
    pub fn export_dropped(&self, n: u64) {
        self.export_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Records one export request, sent or failed.
    pub fn export_done(&self, ok: bool) {
        let c = if ok {
            &self.exports_sent
        } else {
            &self.exports_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn counters(&self) -> Counters {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            probes: ProbeOutcome::ALL
                .iter()
                .zip(&self.probes)
                .map(|(o, c)| (*o, load(c)))
                .collect(),
            probe_latency: self.probe_latency.snapshot(),
            start_lateness: self.start_lateness.snapshot(),
            reloads_accepted: load(&self.reloads_accepted),
            reloads_refused: load(&self.reloads_refused),
            export_dropped: load(&self.export_dropped),
            exports_sent: load(&self.exports_sent),
            exports_failed: load(&self.exports_failed),
        }
    }
}

/// [`Telemetry`]'s counters at one instant.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Probe runs by outcome.
    pub probes: Vec<(ProbeOutcome, u64)>,
    /// How long probe runs took.
    pub probe_latency: HistogramSnapshot,
    /// How late scheduled collections started.
    pub start_lateness: HistogramSnapshot,
    /// Config loads accepted.
    pub reloads_accepted: u64,
    /// Config loads refused.
    pub reloads_refused: u64,
    /// Telemetry items dropped because the exporter's buffer was full.
    pub export_dropped: u64,
    /// OTLP export requests accepted by the receiver.
    pub exports_sent: u64,
    /// OTLP export requests that failed.
    pub exports_failed: u64,
}

/// Everything an export reads, taken at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The fleet's status (sites, alerts, config loads, store health).
    pub fleet: FleetStatus,
    /// Every equipment's last metrics.
    pub equipment: Vec<EquipmentMetrics>,
    /// The daemon's counters.
    pub counters: Counters,
    /// The store's commit latencies.
    pub commits: HistogramSnapshot,
}

impl Snapshot {
    /// Actors running: `(kind, count)` for sites and equipment.
    pub fn actors(&self) -> [(&'static str, f64); 2] {
        [
            ("site", self.fleet.sites.len() as f64),
            ("equipment", self.equipment.len() as f64),
        ]
    }

    /// Alerts not closed, by severity and state; every severity and state appears, at 0 when
    /// none is open.
    pub fn open_alerts(&self) -> BTreeMap<(String, String), u64> {
        let mut open = BTreeMap::new();
        for sev in ["critical", "warning"] {
            for st in ["open", "acknowledged"] {
                open.insert((sev.to_string(), st.to_string()), 0);
            }
        }
        for a in &self.fleet.alerts {
            *open
                .entry((a.severity.to_string(), a.state.to_string()))
                .or_default() += 1;
        }
        open
    }
}

/// Labels every exported equipment series carries.
pub const BASE_LABELS: [&str; 4] = ["client", "site", "equipment", "kind"];

/// The label under which an equipment metric's attribute `key` is exported: `prefix` + its
/// name when it is a base label, so the two stay apart.
pub fn attribute_label(key: &str, prefix: &str) -> String {
    if BASE_LABELS.contains(&key) {
        format!("{prefix}{key}")
    } else {
        key.to_string()
    }
}

/// Why a snapshot could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The fleet actor did not answer.
    #[error("the fleet did not answer: {0}")]
    Fleet(#[from] actix::MailboxError),
}

/// Reads the fleet, its equipment's last metrics and the counters.
pub async fn snapshot(
    fleet: &Addr<Fleet>,
    telemetry: &Telemetry,
    store: &crate::store::Store,
) -> Result<Snapshot, SnapshotError> {
    let status = fleet.send(FleetQuery).await?;
    let equipment = fleet.send(MetricsQuery).await?;
    Ok(Snapshot {
        fleet: status,
        equipment,
        counters: telemetry.counters(),
        commits: store.commit_latency(),
    })
}
