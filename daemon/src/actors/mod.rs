//! The actors: a root [`Fleet`], one [`Site`] per site and one [`Equipment`] per equipment,
//! each holding its live state. Actors never block: collection runs as spawned futures whose
//! results come back as messages, and storage goes through the store's writer thread.

mod equipment;
mod fleet;
pub mod messages;
mod site;

pub use equipment::Equipment;
pub use fleet::Fleet;
pub use messages::*;
pub use site::Site;

use crate::alert::{ActionError, Alert, AlertEvent, AlertSet};
use crate::book::AlertBook;
use crate::clock::Clock;
use crate::collector::Collector;
use crate::events::EventBody;
use crate::store::{AlertIds, SnapshotWrite, Store};
use actix::prelude::*;
use std::sync::Arc;
use tokio::sync::{Semaphore, watch};

/// What every actor shares: the store, the collector, the clock, alert numbering, the alert
/// book and the bound on probes in flight.
pub struct Deps {
    /// Persistence.
    pub store: Store,
    /// Collection.
    pub collector: Arc<dyn Collector>,
    /// Time.
    pub clock: Clock,
    /// Alert numbers.
    pub ids: AlertIds,
    /// Live alerts, fed by the store's commits.
    pub book: AlertBook,
    /// Bound on probes in flight across the daemon.
    pub limiter: Arc<Semaphore>,
    /// The daemon's counters (probe runs, config loads).
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    /// Origin of the collection grid: every collection starts a whole number of
    /// [`crate::config::Collection::START_SLOT`]s after it, so the equipment due in the same
    /// slot are collected in one wake-up of their arbiter rather than one each.
    pub grid: tokio::time::Instant,
    /// Bumps each time an equipment has evaluated an observation.
    observed: watch::Sender<u64>,
    /// The config in force, for those who follow it (the notification dispatcher).
    config: watch::Sender<Option<Arc<crate::config::Config>>>,
}

impl Deps {
    /// Bundles the shared services.
    pub fn new(
        store: Store,
        collector: Arc<dyn Collector>,
        clock: Clock,
        ids: AlertIds,
        book: AlertBook,
        max_in_flight: usize,
    ) -> Arc<Self> {
        book.follow(&store);
        Arc::new(Deps {
            store,
            collector,
            clock,
            ids,
            book,
            limiter: Arc::new(Semaphore::new(max_in_flight.max(1))),
            telemetry: Arc::new(crate::telemetry::Telemetry::new(clock.now())),
            grid: tokio::time::Instant::now(),
            observed: watch::channel(0).0,
            config: watch::channel(None).0,
        })
    }

    /// Follows collections: bumps each time an equipment has evaluated an observation, so
    /// live views (and tests) wait for the next one instead of polling.
    pub fn observations(&self) -> watch::Receiver<u64> {
        self.observed.subscribe()
    }

    /// Follows the config in force (`None` until the first is applied).
    pub fn config_watch(&self) -> watch::Receiver<Option<Arc<crate::config::Config>>> {
        self.config.subscribe()
    }

    /// Escalation delays of the config in force (the defaults before the first).
    pub fn escalation(&self) -> crate::config::Escalation {
        self.config
            .borrow()
            .as_ref()
            .map(|c| c.escalation)
            .unwrap_or_default()
    }

    /// Publishes a newly applied config.
    pub(crate) fn config_applied(&self, cfg: Arc<crate::config::Config>) {
        self.config.send_replace(Some(cfg));
    }

    /// Records that an equipment evaluated an observation.
    pub(crate) fn observed(&self) {
        self.observed.send_modify(|n| *n += 1);
    }

    /// Appends alert changes to the event log. They reach the live book, the daemon's log
    /// and every reader once committed, in sequence order (commit, then publish).
    pub fn publish(&self, events: Vec<AlertEvent>) {
        if !events.is_empty() {
            let bodies = events
                .into_iter()
                .map(|e| EventBody::Alert(Box::new(e)))
                .collect();
            self.store.append(self.clock.now(), bodies);
        }
    }

    /// Appends one event of another kind (a transition, a config load) to the event log.
    pub fn record(&self, body: EventBody) {
        self.store.append(self.clock.now(), vec![body]);
    }

    /// Records alerts restored from a snapshot in the live book.
    pub fn restore(&self, alerts: &[Alert]) {
        self.book.restore(alerts.iter().cloned());
    }
}

/// An actor that owns an [`AlertSet`] and can take in the set an operator's action made.
pub(crate) trait OwnsAlerts: Actor<Context = Context<Self>> {
    /// Takes in the alerts after a committed action, with the hash of the snapshot written.
    fn take_alerts(&mut self, alerts: AlertSet, snapshot_hash: u64);
}

/// Runs an operator's action for the actor owning the alert: applied to a copy of its alerts,
/// committed with the snapshot `encode` makes of that copy (which answers the snapshot and its
/// hash), and taken in only once committed. A refused commit leaves the alert as it was. The
/// actor handles nothing else meanwhile.
pub(crate) fn act_on_alert<A: OwnsAlerts>(
    deps: &Deps,
    alerts: &AlertSet,
    msg: OwnerAction,
    encode: impl FnOnce(&AlertSet) -> (SnapshotWrite, u64),
) -> AtomicResponse<A, Result<Alert, ActionError>> {
    let now = deps.clock.now();
    let id = msg.id;
    let (next, event) = match alerts.act(id, &msg.action, now) {
        Ok(done) => done,
        Err(e) => return AtomicResponse::new(Box::pin(fut::ready(Err(e)))),
    };
    let (snapshot, hash) = encode(&next);
    let alert = event.alert.clone();
    let commit = deps
        .store
        .commit_action(now, vec![EventBody::Alert(Box::new(event))], snapshot);
    AtomicResponse::new(Box::pin(fut::wrap_future(commit).map(
        move |committed, act: &mut A, _| match committed {
            Ok(_) => {
                act.take_alerts(next, hash);
                Ok(alert)
            }
            Err(e) => {
                tracing::error!(alert = id, "action refused: it could not be recorded: {e}");
                Err(ActionError::NotRecorded(id, e.to_string()))
            }
        },
    )))
}
