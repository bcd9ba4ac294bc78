//! Cameras supervised through their recorder: the recorder's plugin reports the state of
//! each camera channel; a camera with `recorder = { equipment, channel }` takes its state
//! from the recorder's last report, so large sites need not reach every camera.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vigie_core::config::{EquipmentConfig, EquipmentId};
use vigie_core::observation::{Metric, Observation};

/// Shortest age after which a recorder's report is too old to tell a camera's state.
const MIN_STALE: Duration = Duration::from_secs(180);

#[derive(Debug, Clone)]
struct ChannelReport {
    at: DateTime<Utc>,
    channels: Vec<ChannelStatus>,
}

/// The last channel report of each recorder.
#[derive(Debug, Clone, Default)]
pub struct ChannelBook {
    reports: Arc<Mutex<HashMap<EquipmentId, ChannelReport>>>,
}

impl ChannelBook {
    /// Records what a recorder reported at `at`.
    pub fn record(&self, recorder: &EquipmentId, at: DateTime<Utc>, channels: Vec<ChannelStatus>) {
        let mut reports = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        reports.insert(recorder.clone(), ChannelReport { at, channels });
    }

    /// Forgets a recorder whose collection failed: its cameras' states are unknown.
    pub fn forget(&self, recorder: &EquipmentId) {
        let mut reports = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        reports.remove(recorder);
    }

    /// The state of camera `eq` from its recorder's last report.
    pub fn check(&self, eq: &EquipmentConfig, now: DateTime<Utc>) -> Observation {
        let Some(r) = &eq.recorder else {
            return Observation::unknown("no recorder channel configured");
        };
        let reports = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        let Some(report) = reports.get(&r.equipment) else {
            return Observation::unknown(&format!(
                "recorder `{}` has not reported its channels",
                r.equipment
            ));
        };
        let stale = chrono::Duration::from_std(MIN_STALE.max(eq.collection.interval * 3))
            .unwrap_or(chrono::Duration::MAX);
        if now - report.at > stale {
            return Observation::unknown(&format!(
                "the last channel report of recorder `{}` is from {}",
                r.equipment,
                report.at.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        let Some(ch) = report.channels.iter().find(|c| c.channel == r.channel) else {
            return Observation::unknown(&format!(
                "recorder `{}` does not report a channel {}",
                r.equipment, r.channel
            ));
        };
        let detail = ch
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let mut obs = match ch.online {
            Some(true) => Observation::up(),
            Some(false) => Observation::down(&format!(
                "recorder `{}` reports channel {} offline{detail}",
                r.equipment, r.channel
            )),
            None => Observation::unknown(&format!(
                "recorder `{}` does not know the state of channel {}{detail}",
                r.equipment, r.channel
            )),
        };
        if let Some(online) = ch.online {
            obs.metrics
                .push(Metric::new("camera.online", if online { 1.0 } else { 0.0 }));
        }
        if let Some(name) = &ch.name {
            obs.facts.push(("channel name".into(), name.clone()));
        }
        obs
    }
}

/// The state of a camera channel a recorder reported.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChannelStatus {
    /// Channel number (1-based).
    pub channel: u32,
    /// Name the recorder gives it.
    pub name: Option<String>,
    /// Online (`Some(true)`), offline (`Some(false)`) or unknown.
    pub online: Option<bool>,
    /// Why, when the recorder says.
    pub detail: Option<String>,
}

/// What one plugin collection produced.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginOutcome {
    /// The observation of the equipment.
    pub observation: Observation,
    /// The camera channels it reported (recorders).
    pub channels: Vec<ChannelStatus>,
}

impl PluginOutcome {
    /// An outcome without channels (the plugin failed, or reported none).
    pub fn failed(observation: Observation) -> Self {
        PluginOutcome {
            observation,
            channels: Vec::new(),
        }
    }
}
