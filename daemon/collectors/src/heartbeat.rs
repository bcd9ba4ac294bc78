//! Pushed heartbeats: a device or a script posts to the daemon's API, authenticated per
//! equipment; an equipment without a heartbeat within its window is down.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use vigie_core::config::{EquipmentConfig, EquipmentId};
use vigie_core::observation::{Metric, Observation};

/// Most metrics kept from one heartbeat.
pub const MAX_PUSHED_METRICS: usize = 256;

/// Optional body of a heartbeat: metrics and facts the sender wants to report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatPayload {
    /// Metric values.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// Facts such as firmware or serial.
    #[serde(default)]
    pub facts: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Beat {
    at: DateTime<Utc>,
    payload: HeartbeatPayload,
}

/// The last heartbeat of each equipment that pushes them.
#[derive(Debug, Clone)]
pub struct HeartbeatBook {
    beats: Arc<Mutex<HashMap<EquipmentId, Beat>>>,
    started: DateTime<Utc>,
}

impl HeartbeatBook {
    /// A book for a daemon started at `started` (equipment get one window to send a first beat).
    pub fn new(started: DateTime<Utc>) -> Self {
        HeartbeatBook {
            beats: Arc::default(),
            started,
        }
    }

    /// Records a heartbeat.
    pub fn beat(&self, id: &EquipmentId, at: DateTime<Utc>, mut payload: HeartbeatPayload) {
        payload.metrics.truncate(MAX_PUSHED_METRICS);
        payload.metrics.retain(|m| m.value.is_finite());
        payload.facts.truncate(MAX_PUSHED_METRICS);
        let mut beats = self.beats.lock().unwrap_or_else(|p| p.into_inner());
        beats.insert(id.clone(), Beat { at, payload });
    }

    /// Forgets an equipment's last heartbeat (it was removed from the config).
    pub fn forget(&self, id: &EquipmentId) {
        self.beats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Number of equipment whose heartbeat is kept.
    pub fn len(&self) -> usize {
        self.beats.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no heartbeat is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Availability of `equipment` at `now` from its heartbeats.
    pub fn check(&self, equipment: &EquipmentConfig, now: DateTime<Utc>) -> Observation {
        let window =
            chrono::Duration::from_std(equipment.heartbeat_within).unwrap_or(chrono::Duration::MAX);
        let last = self
            .beats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&equipment.id)
            .cloned();
        match last {
            Some(b) if now - b.at <= window => Observation {
                status: vigie_core::observation::ProbeStatus::Up,
                metrics: b.payload.metrics,
                facts: b.payload.facts,
            },
            Some(b) => Observation::down(&format!(
                "no heartbeat since {}",
                b.at.format("%Y-%m-%d %H:%M:%S UTC")
            )),
            None if now - self.started <= window => {
                Observation::unknown("waiting for a first heartbeat")
            }
            None => Observation::down(&format!(
                "no heartbeat received within {}",
                vigie_core::util::format_duration(equipment.heartbeat_within)
            )),
        }
    }
}
