//! The live alert book: every open or acknowledged alert of the fleet, for the status output
//! and the HTTP API, and the bus on which alert events are published.

use crate::alert::{Alert, AlertEvent};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, watch};

/// Shared registry of live alerts, updated by the actors that own them.
#[derive(Debug, Clone)]
pub struct AlertBook {
    live: Arc<RwLock<BTreeMap<u64, Alert>>>,
    version: Arc<watch::Sender<u64>>,
    events: broadcast::Sender<AlertEvent>,
}

impl Default for AlertBook {
    fn default() -> Self {
        let (version, _) = watch::channel(0);
        let (events, _) = broadcast::channel(4096);
        AlertBook {
            live: Arc::default(),
            version: Arc::new(version),
            events,
        }
    }
}

impl AlertBook {
    /// Records an alert change and publishes it.
    pub fn apply(&self, event: &AlertEvent) {
        {
            let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
            if event.alert.state.is_live() {
                live.insert(event.alert.id, event.alert.clone());
            } else {
                live.remove(&event.alert.id);
            }
        }
        self.version.send_modify(|v| *v += 1);
        let _ = self.events.send(event.clone());
    }

    /// Loads alerts restored at start (no event is published).
    pub fn restore(&self, alerts: impl IntoIterator<Item = Alert>) {
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        for a in alerts {
            if a.state.is_live() {
                live.insert(a.id, a);
            }
        }
        drop(live);
        self.version.send_modify(|v| *v += 1);
    }

    /// Forgets a live alert without publishing (its owner was removed).
    pub fn forget(&self, id: u64) {
        self.live
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.version.send_modify(|v| *v += 1);
    }

    /// One live alert.
    pub fn get(&self, id: u64) -> Option<Alert> {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    /// Every live alert, oldest first.
    pub fn live(&self) -> Vec<Alert> {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Number of live alerts.
    pub fn len(&self) -> usize {
        self.live.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no alert is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes counter: bumps on every change, for long polls.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Subscribes to alert events.
    pub fn subscribe(&self) -> broadcast::Receiver<AlertEvent> {
        self.events.subscribe()
    }
}
