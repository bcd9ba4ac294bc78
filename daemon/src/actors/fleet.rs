//! The root actor: applies validated configs by diff (start-up is a reload from an empty
//! config), starts, updates and retires site actors, and answers fleet-wide queries.

use super::messages::*;
use super::{Deps, Site};
use crate::alert::{ActionError, Alert};
use crate::config::{Config, ConfigDiff, EquipmentId, SiteId};
use crate::events::{ConfigEvent, EventBody};
use crate::last_good::Fallback;
use crate::rules::EquipmentState;
use crate::status::{EquipmentDetail, EquipmentMetrics, FleetStatus, ReloadReport, SiteDetail};
use crate::store::{Restored, SiteSnapshot};
use actix::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::watch;

/// The fleet's root actor.
pub struct Fleet {
    config: Arc<Config>,
    sites: BTreeMap<SiteId, Addr<Site>>,
    deps: Arc<Deps>,
    restored_equipment: HashMap<EquipmentId, EquipmentState>,
    restored_sites: HashMap<SiteId, SiteSnapshot>,
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: usize,
    generation: watch::Sender<u64>,
    last_reload: Option<ReloadReport>,
    on_last_good: Option<Fallback>,
}

impl Fleet {
    /// A fleet with no sites yet. Saved state in `restored` is handed to sites and
    /// equipment as the first config adds them. Sites are spread over `arbiters` (all on the
    /// current arbiter when empty).
    pub fn new(deps: Arc<Deps>, restored: Restored, arbiters: Vec<ArbiterHandle>) -> Self {
        let (generation, _) = watch::channel(0);
        // Saved alerts are live from the first instant, before any actor runs.
        for s in restored.equipment.values() {
            deps.restore(&s.alerts);
        }
        for s in restored.sites.values() {
            deps.restore(&s.alerts);
        }
        Fleet {
            config: Arc::new(Config::default()),
            sites: BTreeMap::new(),
            deps,
            restored_equipment: restored.equipment,
            restored_sites: restored.sites,
            arbiters,
            next_arbiter: 0,
            generation,
            last_reload: None,
            on_last_good: None,
        }
    }

    /// Follows the config generation (bumps on every accepted or refused load).
    pub fn generation_watch(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn start_site(&mut self, id: &SiteId) {
        let Some(cfg) = self.config.sites.get(id).cloned() else {
            return;
        };
        let restore: HashMap<EquipmentId, EquipmentState> = cfg
            .equipment
            .keys()
            .filter_map(|e| self.restored_equipment.remove(e).map(|s| (e.clone(), s)))
            .collect();
        let snapshot = self.restored_sites.remove(id);
        let deps = Arc::clone(&self.deps);
        let addr = if self.arbiters.is_empty() {
            Site::new(cfg, snapshot, restore, deps).start()
        } else {
            let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
            self.next_arbiter += 1;
            Site::start_in_arbiter(arbiter, move |_| Site::new(cfg, snapshot, restore, deps))
        };
        self.sites.insert(id.clone(), addr);
    }
}

impl Fleet {
    /// The site an equipment belongs to in the config in force.
    fn site_of(&self, id: &EquipmentId) -> Option<&SiteId> {
        self.config
            .sites
            .values()
            .find(|s| s.equipment.contains_key(id))
            .map(|s| &s.id)
    }

    /// Saved state of equipment and sites removed from the config while the daemon was
    /// stopped: their alerts are closed as removed and their snapshots deleted.
    fn forget_unconfigured(&mut self) {
        let now = self.deps.clock.now();
        for (id, mut state) in self.restored_equipment.drain() {
            let events = state.alerts.retire(now);
            self.deps.publish(events);
            self.deps.store.remove_equipment(&id);
            tracing::info!(equipment = %id, "saved state of an equipment no longer configured was discarded");
        }
        for (id, mut snap) in self.restored_sites.drain() {
            let events = snap.alerts.retire(now);
            self.deps.publish(events);
            self.deps.store.remove_site(&id);
        }
    }
}

impl Actor for Fleet {
    type Context = Context<Self>;
}

impl Fleet {
    /// Applies a config once the state of equipment moving between sites has been taken
    /// from their old site.
    fn apply(&mut self, new: Arc<Config>, moved: Vec<(EquipmentId, EquipmentState)>) -> ConfigDiff {
        let diff = ConfigDiff::between(&self.config, &new);
        let (before, after) = (&self.config.daemon, &new.daemon);
        if *self.generation.borrow() > 0
            && (before.listen != after.listen
                || before.max_probes_in_flight != after.max_probes_in_flight)
        {
            tracing::warn!(
                "[daemon] listen and max_probes_in_flight take effect at the next restart"
            );
        }
        self.config = Arc::clone(&new);
        self.deps.config_applied(Arc::clone(&new));
        for id in &diff.to_remove {
            if let Some(addr) = self.sites.remove(id) {
                addr.do_send(RetireSite);
            }
        }
        // State of equipment that moved between sites goes with them.
        let mut handed: HashMap<SiteId, HashMap<EquipmentId, EquipmentState>> = HashMap::new();
        for (id, mut state) in moved {
            let Some(site) = self.site_of(&id).cloned() else {
                continue;
            };
            for a in state.alerts.move_to(&site) {
                self.deps.store.reindex_alert(a);
            }
            self.deps.restore(&state.alerts);
            self.deps.store.put_equipment(&id, &state);
            if diff.to_add.contains(&site) {
                self.restored_equipment.insert(id, state);
            } else {
                handed.entry(site).or_default().insert(id, state);
            }
        }
        for id in &diff.to_change {
            if let (Some(addr), Some(cfg)) = (self.sites.get(id), new.sites.get(id)) {
                let restore = handed.remove(id).unwrap_or_default();
                addr.do_send(UpdateSite {
                    cfg: Arc::clone(cfg),
                    restore,
                });
            }
        }
        for id in &diff.to_add {
            self.start_site(id);
        }
        self.forget_unconfigured();
        self.on_last_good = None;
        self.last_reload = Some(ReloadReport {
            at: self.deps.clock.now(),
            accepted: true,
            errors: Vec::new(),
            sites_added: diff.to_add.len(),
            sites_changed: diff.to_change.len(),
            sites_removed: diff.to_remove.len(),
        });
        self.deps.record(EventBody::Config(ConfigEvent {
            accepted: true,
            sites: new.sites.len(),
            equipment: new.equipment_count(),
            added: diff.to_add.len(),
            changed: diff.to_change.len(),
            removed: diff.to_remove.len(),
            errors: Vec::new(),
        }));
        self.deps.telemetry.reload(true);
        self.generation.send_modify(|g| *g += 1);
        tracing::info!(
            sites = new.sites.len(),
            equipment = new.equipment_count(),
            added = diff.to_add.len(),
            changed = diff.to_change.len(),
            removed = diff.to_remove.len(),
            "config applied"
        );
        diff
    }
}

impl Handler<ApplyConfig> for Fleet {
    type Result = AtomicResponse<Self, ConfigDiff>;

    fn handle(&mut self, msg: ApplyConfig, _: &mut Self::Context) -> Self::Result {
        let new = msg.0;
        // Equipment moving to another site keep their live state: their old site releases it
        // first. The fleet handles nothing else meanwhile.
        // Equipment no longer in their old site (usually few), then those found elsewhere.
        let mut gone: HashMap<EquipmentId, SiteId> = HashMap::new();
        for old in self
            .config
            .sites
            .values()
            .filter(|s| self.sites.contains_key(&s.id))
        {
            let kept = new.sites.get(&old.id);
            for id in old.equipment.keys() {
                if !kept.is_some_and(|k| k.equipment.contains_key(id)) {
                    gone.insert(id.clone(), old.id.clone());
                }
            }
        }
        let mut releases: BTreeMap<SiteId, Vec<EquipmentId>> = BTreeMap::new();
        if !gone.is_empty() {
            for site in new.sites.values() {
                for id in site.equipment.keys() {
                    if let Some(old) = gone.get(id) {
                        releases.entry(old.clone()).or_default().push(id.clone());
                    }
                }
            }
        }
        let asks: Vec<_> = releases
            .into_iter()
            .filter_map(|(site, ids)| self.sites.get(&site).map(|a| a.send(Release(ids))))
            .collect();
        let taken = async move {
            futures::future::join_all(asks)
                .await
                .into_iter()
                .filter_map(Result::ok)
                .flatten()
                .collect::<Vec<_>>()
        };
        AtomicResponse::new(Box::pin(
            taken
                .into_actor(self)
                .map(move |moved, act, _| act.apply(new, moved)),
        ))
    }
}

impl Handler<OnLastGood> for Fleet {
    type Result = ();

    fn handle(&mut self, msg: OnLastGood, ctx: &mut Self::Context) {
        <Self as Handler<ConfigRefused>>::handle(self, ConfigRefused(msg.0.errors.clone()), ctx);
        self.on_last_good = Some(msg.0);
    }
}

impl Handler<ConfigRefused> for Fleet {
    type Result = ();

    fn handle(&mut self, msg: ConfigRefused, _: &mut Self::Context) {
        self.deps.record(EventBody::Config(ConfigEvent {
            accepted: false,
            sites: self.config.sites.len(),
            equipment: self.config.equipment_count(),
            added: 0,
            changed: 0,
            removed: 0,
            errors: msg.0.clone(),
        }));
        self.last_reload = Some(ReloadReport {
            at: self.deps.clock.now(),
            accepted: false,
            errors: msg.0,
            sites_added: 0,
            sites_changed: 0,
            sites_removed: 0,
        });
        self.deps.telemetry.reload(false);
        self.generation.send_modify(|g| *g += 1);
    }
}

impl Handler<FleetQuery> for Fleet {
    type Result = ResponseFuture<FleetStatus>;

    fn handle(&mut self, _: FleetQuery, _: &mut Self::Context) -> Self::Result {
        let queries: Vec<_> = self
            .sites
            .values()
            .map(|a| a.send(SiteSummaryQuery))
            .collect();
        let generation = *self.generation.borrow();
        let last_reload = self.last_reload.clone();
        let on_last_good = self.on_last_good.clone();
        let by_kind = self.config.equipment_by_kind();
        let deps = Arc::clone(&self.deps);
        Box::pin(async move {
            let sites: Vec<_> = futures::future::join_all(queries)
                .await
                .into_iter()
                .filter_map(Result::ok)
                .collect();
            let mut by_status = BTreeMap::new();
            for s in &sites {
                for (st, n) in &s.by_status {
                    *by_status.entry(*st).or_insert(0) += n;
                }
            }
            FleetStatus {
                version: env!("CARGO_PKG_VERSION").to_string(),
                now: deps.clock.now(),
                generation,
                last_reload,
                on_last_good,
                sites,
                by_status,
                by_kind,
                alerts: deps.book.live(),
                store: Some(deps.store.health()),
                outbox: None,
            }
        })
    }
}

impl Handler<MetricsQuery> for Fleet {
    type Result = ResponseFuture<Vec<EquipmentMetrics>>;

    fn handle(&mut self, _: MetricsQuery, _: &mut Self::Context) -> Self::Result {
        let asks: Vec<_> = self
            .sites
            .values()
            .map(|a| a.send(SiteMetricsQuery))
            .collect();
        Box::pin(async move {
            futures::future::join_all(asks)
                .await
                .into_iter()
                .filter_map(Result::ok)
                .flatten()
                .collect()
        })
    }
}

impl Handler<SiteQuery> for Fleet {
    type Result = ResponseFuture<Option<SiteDetail>>;

    fn handle(&mut self, msg: SiteQuery, _: &mut Self::Context) -> Self::Result {
        match self.sites.get(&msg.0) {
            Some(addr) => {
                let fut = addr.send(SiteDetailQuery);
                Box::pin(async move { fut.await.ok() })
            }
            None => Box::pin(std::future::ready(None)),
        }
    }
}

impl Handler<SiteWindows> for Fleet {
    type Result = ResponseFuture<Option<Result<WindowAnswer, WindowError>>>;

    fn handle(&mut self, msg: SiteWindows, _: &mut Self::Context) -> Self::Result {
        match self.sites.get(&msg.0) {
            Some(addr) => {
                let fut = addr.send(Windows(msg.1));
                Box::pin(async move { fut.await.ok() })
            }
            None => Box::pin(std::future::ready(None)),
        }
    }
}

impl Handler<EquipmentLookup> for Fleet {
    type Result = ResponseFuture<Option<EquipmentDetail>>;

    fn handle(&mut self, msg: EquipmentLookup, _: &mut Self::Context) -> Self::Result {
        let site = self.site_of(&msg.0).and_then(|s| self.sites.get(s));
        match site {
            Some(addr) => {
                let fut = addr.send(EquipmentDetailQuery(msg.0));
                Box::pin(async move { fut.await.ok().flatten() })
            }
            None => Box::pin(std::future::ready(None)),
        }
    }
}

impl Handler<AlertCommand> for Fleet {
    type Result = ResponseFuture<Result<Alert, ActionError>>;

    fn handle(&mut self, msg: AlertCommand, _: &mut Self::Context) -> Self::Result {
        let id = msg.id;
        let Some(alert) = self.deps.book.get(id) else {
            return Box::pin(std::future::ready(Err(ActionError::NotFound(id))));
        };
        // The equipment's current site (it may have moved since the alert opened).
        let site_id = match &alert.owner {
            crate::alert::Owner::Equipment(eq) => self.site_of(eq).unwrap_or(&alert.site),
            crate::alert::Owner::Site(s) => s,
        };
        let Some(site) = self.sites.get(site_id) else {
            return Box::pin(std::future::ready(Err(ActionError::NotFound(id))));
        };
        let fut = site.send(OwnerAction {
            owner: alert.owner,
            id,
            action: msg.action,
        });
        // The owner answers once the action is committed (or refused without effect).
        Box::pin(async move { fut.await.unwrap_or(Err(ActionError::NotFound(id))) })
    }
}

impl Handler<Shutdown> for Fleet {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) -> Self::Result {
        let sites = std::mem::take(&mut self.sites);
        let stops: Vec<_> = sites.values().map(|a| a.send(StopSite)).collect();
        ctx.stop();
        Box::pin(async move {
            let _ = futures::future::join_all(stops).await;
        })
    }
}

impl Handler<EquipmentConfigQuery> for Fleet {
    type Result = Option<Arc<crate::config::EquipmentConfig>>;

    fn handle(&mut self, msg: EquipmentConfigQuery, _: &mut Self::Context) -> Self::Result {
        let site = self.site_of(&msg.0)?;
        self.config.sites.get(site)?.equipment.get(&msg.0).cloned()
    }
}
