//! The live alert book: every open or acknowledged alert of the fleet, for the status output
//! and the HTTP API. A reader of the event log: it changes only with committed events, fed
//! to it by the store's writer in sequence order.

use crate::alert::Alert;
use crate::events::{Event, EventBody};
use crate::store::Store;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// Shared registry of live alerts, following the committed event log.
#[derive(Debug, Clone)]
pub struct AlertBook {
    live: Arc<RwLock<BTreeMap<u64, Alert>>>,
    version: Arc<watch::Sender<u64>>,
}

impl Default for AlertBook {
    fn default() -> Self {
        let (version, _) = watch::channel(0);
        AlertBook {
            live: Arc::default(),
            version: Arc::new(version),
        }
    }
}

impl AlertBook {
    /// Follows the store: every committed alert event updates the book.
    pub fn follow(&self, store: &Store) {
        let book = self.clone();
        store.on_commit(Box::new(move |events| book.apply(events)));
    }

    /// Records committed alert changes.
    pub fn apply(&self, events: &[Event]) {
        let mut changed = false;
        {
            let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
            for e in events {
                if let EventBody::Alert(e) = &e.body {
                    changed = true;
                    if e.alert.state.is_live() {
                        live.insert(e.alert.id, e.alert.clone());
                    } else {
                        live.remove(&e.alert.id);
                    }
                }
            }
        }
        if changed {
            self.version.send_modify(|v| *v += 1);
        }
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

    /// The live alerts of one site (its own and its equipment's), oldest first.
    pub fn live_of_site(&self, site: &crate::config::SiteId) -> Vec<Alert> {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|a| &a.site == site)
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
}
