//! The site actor: starts and updates its equipment actors, follows their availability,
//! applies the offline-camera tolerance and maintenance windows, and propagates
//! dependencies (children of a down parent are unreachable, not down).

use super::equipment::Equipment;
use super::messages::*;
use super::{Deps, OwnsAlerts, act_on_alert};
use crate::alert::{ActionError, Alert, AlertSet, Condition, Owner};
use crate::config::{EquipmentConfig, EquipmentId, EquipmentKind, SiteConfig, SiteDiff};
use crate::events::{EventBody, MaintenanceEvent};
use crate::maintenance::{self, AdHocWindow, MaintenanceWindow};
use crate::rules::{self, CameraView, EquipmentState};
use crate::status::{EquipmentMetrics, EquipmentSummary, SiteDetail, SiteSummary};
use crate::store::{SiteSnapshot, SiteSnapshotRef, SnapshotWrite};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What the site keeps of one equipment: its actor, its config and its availability.
struct Member {
    addr: Addr<Equipment>,
    cfg: Arc<EquipmentConfig>,
    seen: Availability,
}

impl Member {
    fn summary(&self, maintenance: Option<String>) -> EquipmentSummary {
        let c = &self.cfg;
        EquipmentSummary {
            id: c.id.to_string(),
            name: c.name.clone(),
            kind: c.kind,
            status: self.seen.status,
            since: self.seen.since,
            reason: self.seen.reason.clone(),
            offline_since: self.seen.offline_since,
            parent: c.parent.as_ref().map(|p| p.to_string()),
            maintenance,
        }
    }
}

/// One site's actor.
pub struct Site {
    cfg: Arc<SiteConfig>,
    windows: Arc<Vec<MaintenanceWindow>>,
    members: BTreeMap<EquipmentId, Member>,
    children: HashMap<EquipmentId, Vec<EquipmentId>>,
    alerts: AlertSet,
    deps: Arc<Deps>,
    timer: Option<SpawnHandle>,
    restore: HashMap<EquipmentId, EquipmentState>,
    snapshot_hash: u64,
    restarts: u32,
    /// Windows told open in the event log by this run (availability reads them).
    open_windows: std::collections::BTreeSet<String>,
    /// Windows opened through the API (kept in the snapshot), ended ones of the last week too.
    adhoc: Vec<AdHocWindow>,
}

/// How long a window opened through the API is listed after it ended.
const ENDED_KEPT: chrono::Duration = chrono::Duration::days(7);

impl Site {
    /// A site actor resuming its saved alerts and its equipment's saved states.
    pub fn new(
        cfg: Arc<SiteConfig>,
        snapshot: Option<SiteSnapshot>,
        restore: HashMap<EquipmentId, EquipmentState>,
        deps: Arc<Deps>,
    ) -> Self {
        let snapshot = snapshot.unwrap_or_default();
        Site {
            windows: Arc::new(Self::all_windows(&cfg, &snapshot.windows)),
            adhoc: snapshot.windows.clone(),
            cfg,
            members: BTreeMap::new(),
            children: HashMap::new(),
            alerts: snapshot.alerts.clone(),
            deps,
            timer: None,
            restore,
            snapshot_hash: crate::store::snapshot_hash(&snapshot),
            restarts: 0,
            open_windows: std::collections::BTreeSet::new(),
        }
    }

    /// The windows the site reads: the config's, then those opened through the API.
    fn all_windows(cfg: &SiteConfig, adhoc: &[AdHocWindow]) -> Vec<MaintenanceWindow> {
        let mut all = cfg.maintenance.clone();
        all.extend(adhoc.iter().filter_map(|w| w.window(cfg.timezone)));
        all
    }

    /// After a window opened or ended through the API: every equipment told, the site
    /// evaluated (which records the window's start or end and saves the snapshot).
    fn windows_changed(&mut self, ctx: &mut Context<Self>) {
        let now = self.deps.clock.now();
        self.adhoc.retain(|w| now - w.until < ENDED_KEPT);
        self.windows = Arc::new(Self::all_windows(&self.cfg, &self.adhoc));
        for m in self.members.values() {
            m.addr.do_send(UpdateEquipment {
                cfg: Arc::clone(&m.cfg),
                windows: Arc::clone(&self.windows),
                client: self.cfg.client.clone(),
            });
        }
        self.evaluate(ctx);
    }

    fn rebuild_children(&mut self) {
        self.children.clear();
        for eq in self.cfg.equipment.values() {
            if let Some(p) = &eq.parent {
                self.children
                    .entry(p.clone())
                    .or_default()
                    .push(eq.id.clone());
            }
        }
    }

    fn spawn(&mut self, cfg: Arc<EquipmentConfig>, ctx: &mut Context<Self>) {
        let now = self.deps.clock.now();
        let state = self
            .restore
            .remove(&cfg.id)
            .unwrap_or_else(|| EquipmentState::new(now));
        let seen = Availability::of(&state);
        let was_cut_off = state.parent_down;
        let actor = Equipment::new(
            Arc::clone(&cfg),
            self.cfg.id.clone(),
            self.cfg.client.clone(),
            ctx.address().recipient(),
            Arc::clone(&self.windows),
            state,
            Arc::clone(&self.deps),
        );
        let addr = actor.start();
        // Its (possibly new) parent decides whether it is cut off, whatever its saved state says.
        let cut_off = cfg
            .parent
            .as_ref()
            .and_then(|p| self.members.get(p))
            .is_some_and(|parent| rules::parent_cuts_off(parent.seen.status));
        if cut_off != was_cut_off {
            addr.do_send(ParentDown(cut_off));
        }
        self.members
            .insert(cfg.id.clone(), Member { addr, cfg, seen });
    }

    /// Re-evaluates the site rules and re-arms the site's timer.
    /// Re-evaluates the site rules on a copy of the site's alerts and re-arms the site's
    /// timer. A panic keeps the alerts as they were, re-arms the timer for a later try and is
    /// counted, like an equipment's: it never ends the supervision of the site.
    fn evaluate(&mut self, ctx: &mut Context<Self>) {
        let now = self.deps.clock.now();
        let mut alerts = self.alerts.clone();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step(&mut alerts, now)));
        let next = match result {
            Ok((events, next)) => {
                self.alerts = alerts;
                self.deps.publish(events);
                self.persist();
                self.record_windows(now);
                // Every window boundary is recorded when it passes.
                match maintenance::next_change(&self.windows, now) {
                    Some(w) => Some(next.map_or(w, |n: DateTime<Utc>| n.min(w))),
                    None => next,
                }
            }
            Err(p) => {
                self.restarts += 1;
                tracing::error!(
                    site = %self.cfg.id, restarts = self.restarts,
                    "internal error, site evaluation retried in a minute with its alerts kept: {}",
                    crate::util::panic_text(&*p)
                );
                Some(now + chrono::Duration::minutes(1))
            }
        };
        if let Some(h) = self.timer.take() {
            ctx.cancel_future(h);
        }
        if let Some(at) = next {
            let wait = self.deps.clock.until(at);
            self.timer = Some(ctx.run_later(wait, |act, ctx| {
                act.timer = None;
                act.evaluate(ctx);
            }));
        }
    }

    /// The site rules: offline cameras against the tolerance, maintenance. Answers the alert
    /// events and when to evaluate again.
    fn step(
        &self,
        alerts: &mut AlertSet,
        now: DateTime<Utc>,
    ) -> (Vec<crate::alert::AlertEvent>, Option<DateTime<Utc>>) {
        let windows = &self.windows;
        let cameras: Vec<CameraView<'_>> = self
            .members
            .values()
            .filter(|m| m.cfg.kind == EquipmentKind::Camera)
            .map(|m| CameraView {
                id: &m.cfg.id,
                status: m.seen.status,
                offline_since: m.seen.offline_since,
                after: m.cfg.thresholds.camera_offline_after,
                maintenance: maintenance::active_for(windows, &m.cfg.id, now),
            })
            .collect();
        let any_down = cameras
            .iter()
            .any(|c| rules::is_silent(c.status, c.offline_since));
        let verdict = rules::cameras_offline(&cameras, self.cfg.camera_tolerance, now);
        drop(cameras);
        let covered = verdict.covered_by;
        let conditions: Vec<Condition> = verdict.condition.into_iter().collect();
        let owner = Owner::Site(self.cfg.id.clone());
        let deps = &self.deps;
        // Not notified while a site-wide window, or the windows of all its cameras, cover it.
        let mut in_window = || {
            maintenance::active_site_wide(windows, now)
                .map(String::from)
                .or_else(|| covered.clone())
        };
        let mut events = alerts.reconcile(
            &owner,
            &self.cfg.id,
            &conditions,
            now,
            &mut in_window,
            &mut || deps.ids.next(),
        );
        let paused = in_window().is_some();
        alerts.escalate(now, &deps.escalation(), paused, &mut events);
        let mut next = verdict.next_deadline;
        if (any_down || alerts.waits_for_notification() || alerts.escalation_paused())
            && let Some(w) = maintenance::next_change(windows, now)
        {
            next = Some(next.map_or(w, |n: DateTime<Utc>| n.min(w)));
        }
        if let Some(d) = alerts.next_deadline() {
            next = Some(next.map_or(d, |n| n.min(d)));
        }
        (events, next)
    }

    /// Writes to the event log the windows that began or ended since the last evaluation.
    fn record_windows(&mut self, now: DateTime<Utc>) {
        let active: BTreeMap<&str, &MaintenanceWindow> = self
            .windows
            .iter()
            .filter(|w| w.is_active(now))
            .map(|w| (w.name.as_str(), w))
            .collect();
        let ended: Vec<String> = self
            .open_windows
            .iter()
            .filter(|n| !active.contains_key(n.as_str()))
            .cloned()
            .collect();
        for name in ended {
            self.open_windows.remove(&name);
            self.deps.record(EventBody::Maintenance(MaintenanceEvent {
                site: self.cfg.id.clone(),
                window: name,
                equipment: None,
                active: false,
            }));
        }
        for (name, w) in active {
            if self.open_windows.insert(name.to_string()) {
                self.deps.record(EventBody::Maintenance(MaintenanceEvent {
                    site: self.cfg.id.clone(),
                    window: name.to_string(),
                    equipment: w.equipment.clone(),
                    active: true,
                }));
            }
        }
    }

    fn persist(&mut self) {
        let snap = SiteSnapshotRef {
            alerts: &self.alerts,
            windows: &self.adhoc,
        };
        if let Some(bytes) = crate::store::encode_snapshot(&mut self.snapshot_hash, &snap) {
            self.deps.store.put_site_encoded(&self.cfg.id, bytes);
        }
    }

    fn summary(&self) -> SiteSummary {
        let mut by_status = BTreeMap::new();
        for m in self.members.values() {
            *by_status.entry(m.seen.status).or_insert(0) += 1;
        }
        SiteSummary {
            id: self.cfg.id.to_string(),
            name: self.cfg.name.clone(),
            client: self.cfg.client.to_string(),
            timezone: self.cfg.timezone.name().to_string(),
            equipment: self.members.len(),
            by_status,
            maintenance: maintenance::active_site_wide(&self.windows, self.deps.clock.now())
                .map(String::from),
        }
    }
}

impl Actor for Site {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.rebuild_children();
        let cfgs: Vec<Arc<EquipmentConfig>> = self.cfg.equipment.values().cloned().collect();
        for cfg in cfgs {
            self.spawn(cfg, ctx);
        }
        self.restore.clear();
        self.evaluate(ctx);
    }
}

impl Handler<StatusReport> for Site {
    type Result = ();

    fn handle(&mut self, msg: StatusReport, ctx: &mut Self::Context) {
        let id = msg.id;
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        let was_off = rules::parent_cuts_off(member.seen.status);
        let is_off = rules::parent_cuts_off(msg.seen.status);
        member.seen = msg.seen;
        if was_off != is_off {
            for child in self.children.get(&id).into_iter().flatten() {
                if let Some(c) = self.members.get(child) {
                    c.addr.do_send(ParentDown(is_off));
                }
            }
        }
        self.evaluate(ctx);
    }
}

impl Handler<UpdateSite> for Site {
    type Result = ();

    fn handle(&mut self, msg: UpdateSite, ctx: &mut Self::Context) {
        let new = msg.cfg;
        self.restore.extend(msg.restore);
        let diff = SiteDiff::between(&self.cfg, &new);
        let windows_changed = self.cfg.maintenance != new.maintenance;
        let client_changed = self.cfg.client != new.client;
        self.cfg = Arc::clone(&new);
        if windows_changed {
            self.windows = Arc::new(Self::all_windows(&new, &self.adhoc));
        }
        self.rebuild_children();
        for id in &diff.to_remove {
            if let Some(m) = self.members.remove(id) {
                m.addr.do_send(Retire);
            }
        }
        for id in &diff.to_change {
            if let (Some(m), Some(cfg)) = (self.members.get_mut(id), new.equipment.get(id)) {
                m.cfg = Arc::clone(cfg);
                m.addr.do_send(UpdateEquipment {
                    cfg: Arc::clone(cfg),
                    windows: Arc::clone(&self.windows),
                    client: new.client.clone(),
                });
            }
        }
        if windows_changed || client_changed {
            for (id, m) in &self.members {
                if !diff.to_change.contains(id) {
                    m.addr.do_send(UpdateEquipment {
                        cfg: Arc::clone(&m.cfg),
                        windows: Arc::clone(&self.windows),
                        client: new.client.clone(),
                    });
                }
            }
        }
        for id in &diff.to_add {
            if let Some(cfg) = new.equipment.get(id) {
                self.spawn(Arc::clone(cfg), ctx);
            }
        }
        // A changed parent link: tell each child whether its (new) parent cuts it off.
        for m in self.members.values() {
            let parent_off = m
                .cfg
                .parent
                .as_ref()
                .and_then(|p| self.members.get(p))
                .is_some_and(|p| rules::parent_cuts_off(p.seen.status));
            if diff.to_change.contains(&m.cfg.id) {
                m.addr.do_send(ParentDown(parent_off));
            }
        }
        tracing::info!(
            site = %self.cfg.id, added = diff.to_add.len(), changed = diff.to_change.len(),
            removed = diff.to_remove.len(), settings = diff.settings_changed, "site config applied"
        );
        self.evaluate(ctx);
    }
}

impl Handler<RetireSite> for Site {
    type Result = ();

    fn handle(&mut self, _: RetireSite, ctx: &mut Self::Context) {
        for m in std::mem::take(&mut self.members).into_values() {
            m.addr.do_send(Retire);
        }
        let events = self.alerts.retire(self.deps.clock.now());
        self.deps.publish(events);
        self.deps.store.remove_site(&self.cfg.id);
        tracing::info!(site = %self.cfg.id, "site removed from the configuration");
        ctx.stop();
    }
}

impl Handler<SiteSummaryQuery> for Site {
    type Result = MessageResult<SiteSummaryQuery>;

    fn handle(&mut self, _: SiteSummaryQuery, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.summary())
    }
}

impl Handler<SiteDetailQuery> for Site {
    type Result = MessageResult<SiteDetailQuery>;

    fn handle(&mut self, _: SiteDetailQuery, _: &mut Self::Context) -> Self::Result {
        let now = self.deps.clock.now();
        let equipment = self
            .members
            .values()
            .map(|m| {
                m.summary(maintenance::active_for(&self.windows, &m.cfg.id, now).map(String::from))
            })
            .collect();
        MessageResult(SiteDetail {
            site: self.summary(),
            equipment,
            // The site's own alerts and its equipment's, as committed.
            alerts: self.deps.book.live_of_site(&self.cfg.id),
        })
    }
}

impl Handler<SiteMetricsQuery> for Site {
    type Result = ResponseFuture<Vec<EquipmentMetrics>>;

    fn handle(&mut self, _: SiteMetricsQuery, _: &mut Self::Context) -> Self::Result {
        let now = self.deps.clock.now();
        let client = self.cfg.client.to_string();
        let site = self.cfg.id.to_string();
        let asks: Vec<_> = self
            .members
            .values()
            .map(|m| {
                let base = EquipmentMetrics {
                    client: client.clone(),
                    site: site.clone(),
                    equipment: m.cfg.id.to_string(),
                    kind: m.cfg.kind,
                    status: m.seen.status,
                    maintenance: maintenance::active_for(&self.windows, &m.cfg.id, now).is_some(),
                    metrics: Vec::new(),
                };
                (base, m.addr.send(LastMetrics))
            })
            .collect();
        Box::pin(async move {
            let mut out = Vec::with_capacity(asks.len());
            for (mut base, ask) in asks {
                base.metrics = ask.await.unwrap_or_default();
                out.push(base);
            }
            out
        })
    }
}

impl OwnsAlerts for Site {
    fn take_alerts(&mut self, alerts: AlertSet, snapshot_hash: u64) {
        self.alerts = alerts;
        self.snapshot_hash = snapshot_hash;
    }
}

impl Handler<OwnerAction> for Site {
    type Result = AtomicResponse<Self, Result<Alert, ActionError>>;

    /// A site alert: acted on here. An equipment alert: forwarded to its actor.
    fn handle(&mut self, msg: OwnerAction, _: &mut Self::Context) -> Self::Result {
        let id = msg.id;
        if let Owner::Equipment(eq) = &msg.owner {
            let asked = self.members.get(eq).map(|m| m.addr.send(msg));
            return AtomicResponse::new(Box::pin(fut::wrap_future(async move {
                match asked {
                    Some(f) => f.await.unwrap_or(Err(ActionError::NotFound(id))),
                    None => Err(ActionError::NotFound(id)),
                }
            })));
        }
        let site = self.cfg.id.clone();
        let mut hash = self.snapshot_hash;
        let adhoc = self.adhoc.clone();
        act_on_alert(&self.deps, &self.alerts, msg, move |next| {
            let snap = SiteSnapshotRef {
                alerts: next,
                windows: &adhoc,
            };
            let bytes = crate::store::encode_snapshot(&mut hash, &snap).unwrap_or_default();
            (SnapshotWrite::Site(site, bytes), hash)
        })
    }
}

impl Handler<Windows> for Site {
    type Result = Result<WindowAnswer, WindowError>;

    fn handle(&mut self, msg: Windows, ctx: &mut Self::Context) -> Self::Result {
        let now = self.deps.clock.now();
        match msg.0 {
            WindowRequest::List => Ok(WindowAnswer::List(WindowList {
                config: self
                    .cfg
                    .maintenance
                    .iter()
                    .filter_map(|w| serde_json::to_value(w).ok())
                    .collect(),
                api: self.adhoc.clone(),
            })),
            WindowRequest::Open {
                reason,
                until,
                equipment,
                by,
            } => {
                if until <= now {
                    return Err(WindowError::Invalid(format!(
                        "the window would end ({until}) before it begins ({now})"
                    )));
                }
                if let Some(eq) = &equipment {
                    if eq.is_empty() {
                        return Err(WindowError::Invalid(
                            "`equipment` is empty: leave it out for the whole site".into(),
                        ));
                    }
                    if let Some(x) = eq
                        .iter()
                        .find(|e| !self.cfg.equipment.contains_key(e.as_str()))
                    {
                        return Err(WindowError::NotFound(format!(
                            "no equipment `{x}` on site `{}`",
                            self.cfg.id
                        )));
                    }
                }
                let n = self
                    .adhoc
                    .iter()
                    .filter_map(|w| w.id.strip_prefix("api-")?.parse::<u64>().ok())
                    .max()
                    .unwrap_or(0)
                    + 1;
                let w = AdHocWindow {
                    id: format!("api-{n}"),
                    reason,
                    equipment,
                    from: now,
                    until,
                    opened_by: by,
                    ended_by: None,
                };
                self.adhoc.push(w.clone());
                self.windows_changed(ctx);
                Ok(WindowAnswer::Window(w))
            }
            WindowRequest::End { id, by } => {
                let site = self.cfg.id.clone();
                let Some(w) = self.adhoc.iter_mut().find(|w| w.id == id) else {
                    return Err(WindowError::NotFound(format!(
                        "no window `{id}` opened through the API on site `{site}`"
                    )));
                };
                if w.until <= now {
                    return Err(WindowError::Conflict(format!(
                        "window `{id}` has already ended"
                    )));
                }
                w.until = now;
                w.ended_by = Some(by);
                let w = w.clone();
                self.windows_changed(ctx);
                Ok(WindowAnswer::Window(w))
            }
        }
    }
}

impl Handler<EquipmentDetailQuery> for Site {
    type Result = ResponseFuture<Option<crate::status::EquipmentDetail>>;

    fn handle(&mut self, msg: EquipmentDetailQuery, _: &mut Self::Context) -> Self::Result {
        match self.members.get(&msg.0) {
            Some(m) => {
                let fut = m.addr.send(EquipmentQuery);
                Box::pin(async move { fut.await.ok() })
            }
            None => Box::pin(std::future::ready(None)),
        }
    }
}

impl Handler<StopSite> for Site {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: StopSite, ctx: &mut Self::Context) -> Self::Result {
        let stops: Vec<_> = std::mem::take(&mut self.members)
            .into_values()
            .map(|m| m.addr.send(StopEquipment))
            .collect();
        ctx.stop();
        // Answered once every equipment actor has stopped: nothing writes after the store closes.
        Box::pin(async move {
            let _ = futures::future::join_all(stops).await;
        })
    }
}

impl Handler<Release> for Site {
    type Result = ResponseFuture<Vec<(EquipmentId, EquipmentState)>>;

    fn handle(&mut self, msg: Release, _: &mut Self::Context) -> Self::Result {
        let asks: Vec<_> = msg
            .0
            .into_iter()
            .filter_map(|id| {
                self.members
                    .remove(&id)
                    .map(|m| (id, m.addr.send(TakeState)))
            })
            .collect();
        Box::pin(async move {
            let mut out = Vec::new();
            for (id, ask) in asks {
                if let Ok(state) = ask.await {
                    out.push((id, state));
                }
            }
            out
        })
    }
}
