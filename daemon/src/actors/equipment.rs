//! The equipment actor: schedules its own collection, applies the rules to each result, owns
//! its alerts and snapshot, and tells its site when its availability changes.

use super::messages::*;
use super::{Deps, OwnsAlerts, act_on_alert};
use crate::alert::{ActionError, Alert, AlertSet};
use crate::config::{ClientId, EquipmentConfig, SiteId};
use crate::events::{Cause, EventBody, FactsEvent, TransitionEvent};
use crate::maintenance::{self, MaintenanceWindow};
use crate::observation::{Metric, Observation, ProbeStatus};
use crate::rules::{self, Context as RuleContext, EquipmentState, Input};
use crate::status::{EquipmentDetail, EquipmentSummary};
use crate::store::{SnapshotWrite, encode_snapshot, snapshot_hash};
use crate::telemetry::{ProbeOutcome, ProbeSpan};
use crate::util::panic_text;
use crate::util::stable_hash;
use actix::prelude::*;
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

/// One equipment's actor.
pub struct Equipment {
    cfg: Arc<EquipmentConfig>,
    site_id: SiteId,
    client: ClientId,
    site: Recipient<StatusReport>,
    windows: Arc<Vec<MaintenanceWindow>>,
    state: EquipmentState,
    deps: Arc<Deps>,
    in_flight: bool,
    schedule: Option<SpawnHandle>,
    /// The rules' next deadline and its timer, kept while the deadline stays the same.
    deadline: Option<(SpawnHandle, chrono::DateTime<chrono::Utc>)>,
    snapshot_hash: u64,
    collections: u64,
    restarts: u32,
    /// Every metric of the last observation (rules or not), for the status and the API.
    metrics: Vec<Metric>,
    /// The hour of metric rollups in progress (lost at a crash; written at a clean stop).
    history: vigie_core::history::Accumulator,
    /// Its identity facts as last recorded in the event log.
    identity: Vec<(String, String)>,
}

/// The facts recorded over time when they change (model, serial, firmware, boot id), sorted.
fn identity(facts: &[(String, String)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = facts
        .iter()
        .filter(|(k, _)| crate::events::IDENTITY_FACTS.contains(&k.as_str()))
        .cloned()
        .collect();
    v.sort();
    v
}

/// Most metrics of one observation kept for display.
const MAX_SHOWN_METRICS: usize = 256;

impl Equipment {
    /// An equipment actor resuming `state` (restored or new).
    pub fn new(
        cfg: Arc<EquipmentConfig>,
        site_id: SiteId,
        client: ClientId,
        site: Recipient<StatusReport>,
        windows: Arc<Vec<MaintenanceWindow>>,
        state: EquipmentState,
        deps: Arc<Deps>,
    ) -> Self {
        let snapshot_hash = snapshot_hash(&state);
        let known = identity(&state.facts);
        Equipment {
            cfg,
            site_id,
            client,
            site,
            windows,
            state,
            deps,
            in_flight: false,
            schedule: None,
            deadline: None,
            snapshot_hash,
            collections: 0,
            restarts: 0,
            history: vigie_core::history::Accumulator::default(),
            identity: known,
            metrics: Vec::new(),
        }
    }

    /// Offset of this equipment's collection inside the interval, so a cycle spreads evenly.
    fn jitter(&self) -> Duration {
        let ms = self.cfg.collection.interval.as_millis().max(1) as u64;
        Duration::from_millis(stable_hash(self.cfg.id.as_str().as_bytes()) % ms)
    }

    /// The first collection: after the jitter, rounded up to the collection grid's next slot
    /// ([`crate::config::Collection::START_SLOT`]),
    /// so collections falling in the same slot share one wake-up (and, with an interval a
    /// whole number of slots, stay on the grid).
    fn first_collection(&self) -> tokio::time::Instant {
        let grid = self.deps.grid;
        let since = (tokio::time::Instant::now() + self.jitter()).saturating_duration_since(grid);
        let slot = crate::config::Collection::START_SLOT.as_nanos().max(1);
        let slots = since.as_nanos().div_ceil(slot);
        let at = u64::try_from(slots.saturating_mul(slot)).unwrap_or(u64::MAX);
        grid + Duration::from_nanos(at)
    }

    fn arm_schedule(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.schedule.take() {
            ctx.cancel_future(h);
        }
        let interval = self.cfg.collection.interval;
        let first = self.first_collection();
        // The tick's own due instant, to measure how late each collection starts.
        let mut due = first;
        self.schedule = Some(ctx.run_interval_at(first, interval, move |act, ctx| {
            let late = tokio::time::Instant::now().saturating_duration_since(due);
            act.deps.telemetry.started_late(late);
            due += interval;
            act.collect(ctx);
        }));
    }

    fn collect(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight {
            tracing::debug!(equipment = %self.cfg.id, "previous collection still running; cycle skipped");
            return;
        }
        let started =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.deps.collector.collect(&self.cfg)));
        let fut = match started {
            Ok(fut) => fut,
            Err(p) => {
                self.recover(ctx, &panic_text(&*p));
                return;
            }
        };
        self.in_flight = true;
        self.collections += 1;
        let limiter = Arc::clone(&self.deps.limiter);
        let timeout = self.cfg.collection.probe_timeout;
        let telemetry = Arc::clone(&self.deps.telemetry);
        let traced = telemetry.traces_on().then(|| {
            (
                self.cfg.id.to_string(),
                self.site_id.to_string(),
                self.cfg.kind.name(),
            )
        });
        let clock = self.deps.clock;
        // Run in the actor's own context: the observation is taken in where it lands, with
        // no task, message or wake-up of its own.
        let probe = async move {
            let _permit = limiter.acquire_owned().await;
            let began = std::time::Instant::now();
            let start = clock.now();
            let (obs, outcome) = match AssertUnwindSafe(tokio::time::timeout(timeout, fut))
                .catch_unwind()
                .await
            {
                Ok(Ok(obs)) => {
                    let outcome = ProbeOutcome::of(&obs);
                    (obs, outcome)
                }
                Ok(Err(_)) => (
                    Observation::unknown(&format!(
                        "probe did not finish within {}",
                        crate::util::format_duration(timeout)
                    )),
                    ProbeOutcome::Timeout,
                ),
                Err(p) => (
                    Observation::unknown(&format!("probe failed internally: {}", panic_text(&*p))),
                    ProbeOutcome::Failed,
                ),
            };
            let took = began.elapsed();
            telemetry.probe(outcome, took);
            if let Some((equipment, site, kind)) = traced {
                telemetry.span(ProbeSpan {
                    equipment,
                    site,
                    kind,
                    start,
                    took,
                    outcome,
                    reason: obs.status.reason().map(str::to_string),
                });
            }
            obs
        };
        ctx.spawn(fut::wrap_future::<_, Self>(probe).map(|obs, act, ctx| act.take_in(obs, ctx)));
    }

    /// Takes in the observation of a collection: the hour's rollups, the rules, the metrics
    /// shown.
    fn take_in(&mut self, obs: Observation, ctx: &mut Context<Self>) {
        self.in_flight = false;
        let now = self.deps.clock.now();
        if let Some((hour, rollups)) = self.history.add(now, &obs.metrics) {
            self.write_history(hour, &rollups);
        }
        self.evaluate(ctx, Input::Observation(&obs));
        // An answer replaces the metrics shown; a silent collection leaves the last ones.
        // The observation's own list is kept (moved, not copied), with no spare room.
        if matches!(obs.status, ProbeStatus::Up) || !obs.metrics.is_empty() {
            let mut metrics = obs.metrics;
            metrics.retain(|m| m.value.is_finite());
            metrics.truncate(MAX_SHOWN_METRICS);
            metrics.shrink_to_fit();
            self.metrics = metrics;
        }
        self.deps.observed();
    }

    /// Runs the rules on one input; a panic keeps the previous state and re-arms the actor.
    fn evaluate(&mut self, ctx: &mut Context<Self>, input: Input<'_>) {
        let before = self.state.status;
        let before_reason = self.state.reason.clone();
        let mut next = self.state.clone();
        let deps = Arc::clone(&self.deps);
        let now = deps.clock.now();
        let windows = Arc::clone(&self.windows);
        let id = self.cfg.id.clone();
        let in_window = move |at| maintenance::active_for(&windows, &id, at).map(String::from);
        let escalation = deps.escalation();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let cx = RuleContext {
                site: &self.site_id,
                id: &self.cfg.id,
                kind: self.cfg.kind,
                thresholds: &self.cfg.thresholds,
                escalation: &escalation,
                maintenance: &in_window,
            };
            rules::step(&mut next, input, &cx, now, &mut || deps.ids.next())
        }));
        let outcome = match result {
            Ok(o) => o,
            Err(p) => {
                self.recover(ctx, &panic_text(&*p));
                return;
            }
        };
        self.state = next;
        self.deps.publish(outcome.events);
        // The identity last recorded, so an answer without facts records nothing.
        let identity_now = identity(&self.state.facts);
        if !identity_now.is_empty() && identity_now != self.identity {
            self.identity = identity_now.clone();
            self.deps.record(EventBody::Facts(FactsEvent {
                equipment: self.cfg.id.clone(),
                site: self.site_id.clone(),
                client: self.client.clone(),
                facts: identity_now,
            }));
        }
        if self.state.status != before || self.state.reason != before_reason {
            if self.state.status != before {
                let status = self.state.status;
                self.deps.record(EventBody::Transition(TransitionEvent {
                    equipment: self.cfg.id.clone(),
                    site: self.site_id.clone(),
                    client: self.client.clone(),
                    from: before,
                    to: status,
                    reason: self.state.reason.clone(),
                    cause: Cause::of(status, self.cfg.parent.as_ref()),
                    maintenance: maintenance::active_for(&self.windows, &self.cfg.id, now)
                        .map(String::from),
                }));
            }
            self.report();
        }
        // Re-armed only when the deadline moves: most observations leave it where it was.
        if self.deadline.as_ref().map(|(_, at)| *at) != outcome.next_deadline {
            if let Some((h, _)) = self.deadline.take() {
                ctx.cancel_future(h);
            }
            if let Some(at) = outcome.next_deadline {
                let wait = self.deps.clock.until(at);
                let timer = ctx.run_later(wait, |act, ctx| {
                    act.deadline = None;
                    act.evaluate(ctx, Input::Tick);
                });
                self.deadline = Some((timer, at));
            }
        }
        self.persist();
    }

    fn write_history(&self, hour: i64, rollups: &vigie_core::history::Hour) {
        self.deps
            .store
            .put_history(&self.cfg.id, hour, vigie_core::history::encode(rollups));
    }

    /// Saves the snapshot when it changed since the last save.
    fn persist(&mut self) {
        if let Some(bytes) = encode_snapshot(&mut self.snapshot_hash, &self.state) {
            self.deps.store.put_equipment_encoded(&self.cfg.id, bytes);
        }
    }

    /// Supervised restart after an internal error: the state before the failing step is kept
    /// and the collection schedule is re-armed.
    fn recover(&mut self, ctx: &mut Context<Self>, what: &str) {
        self.restarts += 1;
        self.in_flight = false;
        tracing::error!(equipment = %self.cfg.id, restarts = self.restarts, "internal error, equipment actor restarted with its state kept: {what}");
        if let Some((h, _)) = self.deadline.take() {
            ctx.cancel_future(h);
        }
        self.arm_schedule(ctx);
    }

    fn report(&self) {
        self.site.do_send(StatusReport {
            id: self.cfg.id.clone(),
            seen: Availability::of(&self.state),
        });
    }

    fn summary(&self, maintenance: Option<String>) -> EquipmentSummary {
        EquipmentSummary {
            id: self.cfg.id.to_string(),
            name: self.cfg.name.clone(),
            kind: self.cfg.kind,
            status: self.state.status,
            since: self.state.since,
            reason: self.state.reason.clone(),
            offline_since: self.state.offline_since,
            parent: self.cfg.parent.as_ref().map(|p| p.to_string()),
            maintenance,
        }
    }
}

impl Actor for Equipment {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        // The hour in progress, so a clean restart loses none of it.
        if let Some((hour, rollups)) = self.history.take() {
            self.write_history(hour, &rollups);
        }
    }

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(64);
        self.report();
        self.arm_schedule(ctx);
        // Re-arm time-based rules from the restored absolute times.
        self.evaluate(ctx, Input::Tick);
    }
}

impl Handler<ParentDown> for Equipment {
    type Result = ();

    fn handle(&mut self, msg: ParentDown, ctx: &mut Self::Context) {
        if self.state.parent_down != msg.0 {
            self.evaluate(ctx, Input::ParentDown(msg.0));
            if !msg.0 {
                // The path is open again: look now rather than at the next cycle.
                self.collect(ctx);
            }
        }
    }
}

impl Handler<UpdateEquipment> for Equipment {
    type Result = ();

    fn handle(&mut self, msg: UpdateEquipment, ctx: &mut Self::Context) {
        let reschedule = msg.cfg.collection.interval != self.cfg.collection.interval;
        self.cfg = msg.cfg;
        self.windows = msg.windows;
        self.client = msg.client;
        if reschedule {
            self.arm_schedule(ctx);
        }
        self.evaluate(ctx, Input::Tick);
    }
}

impl Handler<Retire> for Equipment {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        let now = self.deps.clock.now();
        let events = self.state.alerts.retire(now);
        self.deps.publish(events);
        self.deps.collector.forget(&self.cfg.id);
        self.deps.store.remove_equipment(&self.cfg.id);
        tracing::info!(equipment = %self.cfg.id, "equipment removed from the configuration");
        ctx.stop();
    }
}

impl Handler<LastMetrics> for Equipment {
    type Result = MessageResult<LastMetrics>;

    fn handle(&mut self, _: LastMetrics, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.metrics.clone())
    }
}

impl Handler<EquipmentQuery> for Equipment {
    type Result = MessageResult<EquipmentQuery>;

    fn handle(&mut self, _: EquipmentQuery, _: &mut Self::Context) -> Self::Result {
        let now = self.deps.clock.now();
        let m = maintenance::active_for(&self.windows, &self.cfg.id, now).map(String::from);
        MessageResult(EquipmentDetail {
            summary: self.summary(m),
            site: self.site_id.to_string(),
            last_seen: self.state.last_seen,
            series: self.state.series.iter().map(Into::into).collect(),
            facts: self.state.facts.clone(),
            metrics: self.metrics.clone(),
            reboots: self.state.reboots,
            last_reboot: (self.state.reboots > 0)
                .then_some(self.state.boot)
                .flatten(),
            alerts: self.state.alerts.to_vec(),
            collections: self.collections,
            restarts: self.restarts,
        })
    }
}

impl OwnsAlerts for Equipment {
    fn take_alerts(&mut self, alerts: AlertSet, snapshot_hash: u64) {
        self.state.alerts = alerts;
        self.snapshot_hash = snapshot_hash;
    }
}

impl Handler<OwnerAction> for Equipment {
    type Result = AtomicResponse<Self, Result<Alert, ActionError>>;

    fn handle(&mut self, msg: OwnerAction, _: &mut Self::Context) -> Self::Result {
        let (state, id) = (&self.state, &self.cfg.id);
        let mut hash = self.snapshot_hash;
        act_on_alert(&self.deps, &state.alerts, msg, |next| {
            // The snapshot as it will be once the action is taken in.
            let after = EquipmentState {
                alerts: next.clone(),
                ..state.clone()
            };
            let bytes = encode_snapshot(&mut hash, &after).unwrap_or_default();
            (SnapshotWrite::Equipment(id.clone(), bytes), hash)
        })
    }
}

impl Handler<StopEquipment> for Equipment {
    type Result = ();

    fn handle(&mut self, _: StopEquipment, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<TakeState> for Equipment {
    type Result = MessageResult<TakeState>;

    fn handle(&mut self, _: TakeState, ctx: &mut Self::Context) -> Self::Result {
        ctx.stop();
        MessageResult(std::mem::replace(
            &mut self.state,
            EquipmentState::new(self.deps.clock.now()),
        ))
    }
}
