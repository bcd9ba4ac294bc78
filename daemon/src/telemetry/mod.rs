//! The daemon's own telemetry: counters and latencies of what it does (probes, reloads, the
//! store's commits, exports), and the read of everything an export needs in one
//! [`Snapshot`], written out as Prometheus text ([`prometheus`]).

pub mod prometheus;

use crate::actors::{Fleet, FleetQuery, MetricsQuery};
use crate::observation::{Observation, ProbeStatus};
use crate::status::{EquipmentMetrics, FleetStatus};
use actix::Addr;
use std::sync::atomic::{AtomicU64, Ordering};
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
            _ => ProbeOutcome::Unknown,
        }
    }
}

/// Counters the daemon's parts update as they work; read by the exports.
#[derive(Debug, Default)]
pub struct Telemetry {
    probes: [AtomicU64; ProbeOutcome::ALL.len()],
    probe_latency: Histogram,
    reloads_accepted: AtomicU64,
    reloads_refused: AtomicU64,
    export_dropped: AtomicU64,
    exports_failed: AtomicU64,
    exports_sent: AtomicU64,
}

impl Telemetry {
    /// Records one probe run.
    pub fn probe(&self, outcome: ProbeOutcome, took: Duration) {
        let i = ProbeOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.probes[i].fetch_add(1, Ordering::Relaxed);
        self.probe_latency.record(took);
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
    /// Equipment and site actors running.
    pub actors: u64,
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
    let actors = (status.sites.len() + equipment.len()) as u64;
    Ok(Snapshot {
        fleet: status,
        equipment,
        counters: telemetry.counters(),
        commits: store.commit_latency(),
        actors,
    })
}
