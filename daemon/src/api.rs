//! The HTTP API (version 1): fleet status, sites, equipment, live alerts, acknowledgement
//! and closure, and the read side of the store (event log, alert history, transitions).
//! Every error is a JSON object `{"error": "..."}` with a fitting status code.

use crate::actors::{
    AlertCommand, EquipmentConfigQuery, EquipmentLookup, Fleet, FleetQuery, SiteQuery,
};
use crate::alert::{ActionError, Alert, AlertAction};
use crate::auth::{Gate, Identity, Scope, same_secret};
use crate::book::AlertBook;
use crate::clock::Clock;
use crate::collectors::heartbeat::{HeartbeatBook, HeartbeatPayload};
use crate::config::OpsRole;
use crate::config::Probe;
use crate::config::{EquipmentId, SiteId};
use crate::events::{Event, TransitionEvent};
use crate::store::{StoreError, StoreHealth, StoreReader};
use actix::Addr;
use actix_web::{HttpResponse, ResponseError, get, http::StatusCode, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::watch;

pub mod openapi;

/// Longest wait for the actors' answer to a status query.
const ACTOR_WAIT: Duration = Duration::from_secs(10);

/// Longest a long poll may wait.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The fleet.
    pub fleet: Addr<Fleet>,
    /// Live alerts.
    pub book: AlertBook,
    /// Config generation (bumps on every accepted or refused load).
    pub generation: watch::Receiver<u64>,
    /// Pushed heartbeats.
    pub heartbeats: HeartbeatBook,
    /// Time.
    pub clock: Clock,
    /// The read side of the store: event log, alert history, transitions.
    pub reader: StoreReader,
    /// Sequence number of the last committed event.
    pub committed: watch::Receiver<u64>,
    /// The notification outbox.
    pub outbox: Option<crate::outbox::Outbox>,
    /// The store, for operator changes to tickets.
    pub store: crate::store::Store,
    /// The config in force (none before the first load).
    pub config: watch::Receiver<Option<std::sync::Arc<crate::config::Config>>>,
    /// The daemon's counters, for `/metrics`.
    pub telemetry: std::sync::Arc<crate::telemetry::Telemetry>,
    /// Accounts, sessions and the local token.
    pub gate: std::sync::Arc<Gate>,
    /// True once the daemon stops: live streams end.
    pub stopping: watch::Receiver<bool>,
}

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Unknown resource.
    #[error("{0}")]
    NotFound(String),
    /// The request is not acceptable.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// The daemon could not answer.
    #[error("{0}")]
    Unavailable(String),
    /// Missing or wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Not allowed for this resource.
    #[error("{0}")]
    Forbidden(String),
    /// The request names a host this daemon does not answer for.
    #[error("{0}")]
    Misdirected(String),
    /// Too many attempts: try again after this many seconds.
    #[error("{0}")]
    Limited(String, u64),
}

impl From<crate::availability::QueryError> for ApiError {
    fn from(e: crate::availability::QueryError) -> Self {
        use crate::availability::QueryError;
        match e {
            QueryError::Invalid(m) => ApiError::BadRequest(m),
            QueryError::NotFound(m) => ApiError::NotFound(m),
            QueryError::Store(e) => ApiError::Unavailable(e.to_string()),
        }
    }
}

/// Every error's body.
#[derive(utoipa::ToSchema, Serialize)]
struct ErrorBody {
    /// What is wrong, and where.
    error: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Misdirected(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Limited(..) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized(_) => {
                r.insert_header((
                    actix_web::http::header::WWW_AUTHENTICATE,
                    "Bearer realm=\"vigie\"",
                ));
            }
            ApiError::Limited(_, after) => {
                r.insert_header((actix_web::http::header::RETRY_AFTER, after.to_string()));
            }
            _ => {}
        }
        r.json(ErrorBody {
            error: self.to_string(),
        })
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound(_) => ApiError::NotFound(e.to_string()),
            ActionError::NotLive { .. } => ApiError::Conflict(e.to_string()),
            ActionError::NoteRequired | ActionError::NoOperator => {
                ApiError::BadRequest(e.to_string())
            }
            ActionError::NotRecorded(..) => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Unavailable(format!("the data store cannot be read: {e}"))
    }
}

/// Runs a blocking read of the store off the HTTP workers.
pub(crate) async fn read_store<T: Send + 'static>(
    state: &ApiState,
    f: impl FnOnce(&StoreReader) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let reader = state.reader.clone();
    web::block(move || f(&reader))
        .await
        .map_err(|e| ApiError::Unavailable(format!("the data store read failed: {e}")))?
        .map_err(ApiError::from)
}

/// What `who` sees under the config in force.
pub(crate) fn scope(state: &ApiState, who: &Identity) -> Scope {
    Scope::of(who, state.config.borrow().clone())
}

/// A client's view of the fleet's status: its sites, their alerts and counts; the daemon's
/// own state (config reloads, store, outbox) is the staff's.
fn restrict_status(
    s: &mut crate::status::FleetStatus,
    scope: &Scope,
    cfg: Option<&crate::config::Config>,
) {
    s.sites.retain(|x| scope.site(&SiteId::new(&x.id)));
    s.alerts.retain(|a| scope.site(&a.site));
    s.by_status.clear();
    for summary in &s.sites {
        for (k, n) in &summary.by_status {
            *s.by_status.entry(*k).or_default() += n;
        }
    }
    s.by_kind.clear();
    if let Some(cfg) = cfg {
        for shown in cfg.sites.values().filter(|x| scope.site(&x.id)) {
            for e in shown.equipment.values() {
                *s.by_kind.entry(e.kind).or_default() += 1;
            }
        }
    }
    s.last_reload = None;
    s.on_last_good = None;
    s.store = None;
    s.outbox = None;
}

pub(crate) fn mailbox(e: actix::MailboxError) -> ApiError {
    ApiError::Unavailable(format!("the daemon could not answer: {e}"))
}

/// Long-poll parameters: wait until the counter passes `after`, at most `wait` seconds.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// Answer once the counter is greater than this: at once when it already is, or when this
    /// is beyond the counter (a value from before a restart).
    pub after: Option<u64>,
    /// Seconds to wait at most (60 at most).
    pub wait: Option<u64>,
}

/// Waits until the counter passes `poll.after`; a value beyond the counter (one seen before a
/// restart reset it) answers at once, so the caller reads the current state.
async fn wait_past(mut rx: watch::Receiver<u64>, poll: &Poll) {
    let Some(after) = poll.after else { return };
    if after > *rx.borrow() {
        return;
    }
    let wait = Duration::from_secs(poll.wait.unwrap_or(30)).min(MAX_WAIT);
    let _ = tokio::time::timeout(wait, rx.wait_for(|v| *v > after)).await;
}

/// The Prometheus exposition: the daemon's own metrics and every equipment's last metrics.
#[utoipa::path(tag = "daemon", responses((status = 200, description = "The Prometheus text exposition", content_type = "text/plain; version=0.0.4", body = String)))]
#[get("/metrics")]
async fn metrics(state: web::Data<ApiState>, who: Identity) -> Result<HttpResponse, ApiError> {
    who.staff_only()?;
    let snap = tokio::time::timeout(
        ACTOR_WAIT,
        crate::telemetry::snapshot(&state.fleet, &state.telemetry, &state.store),
    )
    .await
    .map_err(|_| ApiError::Unavailable("the fleet does not answer".into()))?
    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let waiting = state.outbox.as_ref().map(|o| o.status());
    // Writing a large fleet's text is CPU work: off the HTTP worker.
    let text = web::block(move || crate::telemetry::prometheus::render(&snap, waiting.as_ref()))
        .await
        .map_err(|e| ApiError::Unavailable(format!("the exposition failed: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(crate::telemetry::prometheus::CONTENT_TYPE)
        .body(text))
}

/// The fleet's status: counts per status and kind, sites, live alerts; a long poll with `after`
/// waits for the next config generation.
#[utoipa::path(tag = "fleet", params(Poll), responses((status = 200, description = "The fleet's status as the caller sees it", body = crate::status::FleetStatus)))]
#[get("/api/v1/status")]
async fn status(
    state: web::Data<ApiState>,
    poll: web::Query<Poll>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    wait_past(state.generation.clone(), &poll).await;
    match tokio::time::timeout(ACTOR_WAIT, state.fleet.send(FleetQuery)).await {
        Ok(s) => {
            let mut s = s.map_err(mailbox)?;
            s.outbox = state.outbox.as_ref().map(|o| o.status());
            let scope = scope(&state, &who);
            if !scope.everything() {
                let cfg = state.config.borrow().clone();
                restrict_status(&mut s, &scope, cfg.as_deref());
            }
            Ok(HttpResponse::Ok().json(s))
        }
        // Actors wait on a store that refuses writes: say so rather than hang.
        Err(_) => Err(ApiError::Unavailable(
            match state.reader.health().and_then(|h| h.error) {
                Some(e) => format!(
                    "the fleet does not answer: the data store is failing ({e}); collection waits for it, nothing pending is dropped"
                ),
                None => "the fleet does not answer in time".into(),
            },
        )),
    }
}

/// The config in force and the last load (staff only).
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
pub struct ConfigStatus {
    /// Config generation (bumps on every load, accepted or refused).
    pub generation: u64,
    /// The last load: when, accepted or refused with its errors (`file:line:col: ...`).
    pub last_reload: Option<crate::status::ReloadReport>,
    /// Set while the daemon runs on its saved last good config because the files do not load.
    pub on_last_good: Option<crate::last_good::Fallback>,
    /// What the config in force says without being refused.
    pub warnings: Vec<String>,
    /// Clients, sites, equipment and accounts in force.
    pub clients: usize,
    /// Sites in force.
    pub sites: usize,
    /// Equipment in force.
    pub equipment: usize,
    /// Accounts in force.
    pub accounts: usize,
}

/// The config status: the last reload with its errors, warnings, what is in force.
#[utoipa::path(tag = "daemon", responses((status = 200, description = "The config status", body = ConfigStatus)))]
#[get("/api/v1/config")]
async fn config_route(state: web::Data<ApiState>, who: Identity) -> Result<HttpResponse, ApiError> {
    who.staff_only()?;
    Ok(HttpResponse::Ok().json(config_status(&state).await?))
}

/// The config status, for the API and the dashboard.
pub async fn config_status(state: &ApiState) -> Result<ConfigStatus, ApiError> {
    let s = tokio::time::timeout(ACTOR_WAIT, state.fleet.send(FleetQuery))
        .await
        .map_err(|_| ApiError::Unavailable("the fleet does not answer in time".into()))?
        .map_err(mailbox)?;
    let cfg = state.config.borrow().clone();
    let count = |f: &dyn Fn(&crate::config::Config) -> usize| cfg.as_deref().map_or(0, f);
    Ok(ConfigStatus {
        generation: s.generation,
        last_reload: s.last_reload,
        on_last_good: s.on_last_good,
        warnings: cfg.as_ref().map(|c| c.warnings.clone()).unwrap_or_default(),
        clients: count(&|c| c.clients.len()),
        sites: count(&|c| c.sites.len()),
        equipment: count(&|c| c.equipment_count()),
        accounts: count(&|c| c.accounts.len()),
    })
}

/// The daemon's own health: whether its data store commits.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
pub struct Health {
    /// True while commits succeed.
    pub ok: bool,
    /// The data store.
    pub store: Option<StoreHealth>,
}

/// Answers without asking the actors, so it answers even when they wait on the store.
#[utoipa::path(tag = "daemon", security(()), responses((status = 200, description = "The daemon answers; `ok` is false while its store fails", body = Health)))]
#[get("/api/v1/health")]
async fn health(state: web::Data<ApiState>) -> HttpResponse {
    let store = state.reader.health();
    let ok = store.as_ref().is_some_and(|h| h.error.is_none());
    HttpResponse::Ok().json(Health { ok, store })
}

/// One site with its equipment, their status and the site's live alerts.
#[utoipa::path(tag = "fleet", params(("id" = String, Path, description = "Site id")), responses((status = 200, description = "The site with its equipment", body = crate::status::SiteDetail)))]
#[get("/api/v1/sites/{id}")]
async fn site(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !scope(&state, &who).site(&SiteId::new(&id)) {
        return Err(ApiError::NotFound(format!("no site `{id}`")));
    }
    match state
        .fleet
        .send(SiteQuery(SiteId::new(&id)))
        .await
        .map_err(mailbox)?
    {
        Some(d) => Ok(HttpResponse::Ok().json(d)),
        None => Err(ApiError::NotFound(format!("no site `{id}`"))),
    }
}

/// One equipment: status, probes, last metrics, facts and alerts.
#[utoipa::path(tag = "fleet", params(("id" = String, Path, description = "Equipment id")), responses((status = 200, description = "The equipment", body = crate::status::EquipmentDetail)))]
#[get("/api/v1/equipment/{id}")]
async fn equipment(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !scope(&state, &who).equipment(&EquipmentId::new(&id)) {
        return Err(ApiError::NotFound(format!("no equipment `{id}`")));
    }
    match state
        .fleet
        .send(EquipmentLookup(EquipmentId::new(&id)))
        .await
        .map_err(mailbox)?
    {
        Some(d) => Ok(HttpResponse::Ok().json(d)),
        None => Err(ApiError::NotFound(format!("no equipment `{id}`"))),
    }
}

/// The period of a metric history request: RFC 3339 instants, the last 7 days by default.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[into_params(parameter_in = Query)]
struct MetricHistoryQuery {
    /// Start (RFC 3339; 7 days before `to` by default).
    from: Option<String>,
    /// End (RFC 3339; now by default).
    to: Option<String>,
}

/// An equipment's hourly metric rollups (min, mean, max, last per series), oldest first.
#[utoipa::path(tag = "history", params(("id" = String, Path, description = "Equipment id"), MetricHistoryQuery), responses((status = 200, description = "Hourly rollups, oldest first", body = Vec<vigie_core::history::Hour>)))]
#[get("/api/v1/equipment/{id}/history")]
async fn equipment_history(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    q: web::Query<MetricHistoryQuery>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let known = state.config.borrow().as_ref().is_some_and(|c| {
        c.sites
            .values()
            .any(|s| s.equipment.contains_key(id.as_str()))
    }) && scope(&state, &who).equipment(&EquipmentId::new(&id));
    if !known {
        return Err(ApiError::NotFound(format!("no equipment `{id}`")));
    }
    let instant = |v: &Option<String>, what: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        v.as_deref()
            .map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::BadRequest(format!(
                            "{what}: `{t}` is not an RFC 3339 instant (2026-03-01T00:00:00Z)"
                        ))
                    })
            })
            .transpose()
    };
    let to = instant(&q.to, "to")?.unwrap_or_else(|| state.clock.now());
    let from = instant(&q.from, "from")?.unwrap_or(to - chrono::Duration::days(7));
    if from > to {
        return Err(ApiError::BadRequest("from is after to".into()));
    }
    let reader = state.reader.clone();
    let (a, b) = (
        vigie_core::history::hour_of(from),
        vigie_core::history::hour_of(to),
    );
    let hours = web::block(move || reader.history(&id, a, b))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok().json(hours))
}

/// Live alerts and the book's change counter.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
pub struct AlertList {
    /// Change counter: pass it as `after` to wait for the next change.
    pub version: u64,
    /// Live alerts, oldest first.
    pub alerts: Vec<Alert>,
}

/// Live alerts (open or acknowledged), oldest first; a long poll with `after` waits for the
/// next change.
#[utoipa::path(tag = "alerts", params(Poll), responses((status = 200, description = "Live alerts", body = AlertList)))]
#[get("/api/v1/alerts")]
async fn alerts(
    state: web::Data<ApiState>,
    poll: web::Query<Poll>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let rx = state.book.watch();
    wait_past(rx.clone(), &poll).await;
    let version = *rx.borrow();
    let scope = scope(&state, &who);
    let mut alerts = state.book.live();
    alerts.retain(|a| scope.site(&a.site));
    Ok(HttpResponse::Ok().json(AlertList { version, alerts }))
}

/// Parameters of an event log read.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Events after this sequence number (0: from the start).
    #[serde(default)]
    pub after: u64,
    /// Most events to return (1,000 by default, 10,000 at most).
    pub limit: Option<usize>,
    /// Seconds to wait for an event when there is none yet (60 at most; 0 by default).
    pub wait: Option<u64>,
}

/// A page of the event log.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
pub struct EventPage {
    /// Events after the requested sequence number, oldest first.
    pub events: Vec<Event>,
    /// Sequence number of the last committed event: when it is beyond the last event of the
    /// page, more can be read at once.
    pub last: u64,
    /// Sequence number to read after next: the last event read for this page, shown or not
    /// (a client's account is not shown other clients' events).
    #[serde(default)]
    pub next_after: u64,
}

/// A page of the ordered event log, filtered to what the caller sees.
#[utoipa::path(tag = "history", params(EventQuery), responses((status = 200, description = "A page of the event log", body = EventPage)))]
#[get("/api/v1/events")]
async fn events(
    state: web::Data<ApiState>,
    q: web::Query<EventQuery>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let after = q.after;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    // Waits for the next event; a sequence number beyond the log's end answers at once.
    if let Some(wait) = q
        .wait
        .filter(|w| *w > 0 && after <= *state.committed.borrow())
    {
        let mut rx = state.committed.clone();
        let wait = Duration::from_secs(wait).min(MAX_WAIT);
        let _ = tokio::time::timeout(wait, rx.wait_for(|v| *v > after)).await;
    }
    let last = *state.committed.borrow();
    let mut events = read_store(&state, move |r| r.events_after(after, limit)).await?;
    let next_after = events.last().map_or(after, |e| e.seq);
    let scope = scope(&state, &who);
    events.retain(|e| scope.event(e));
    Ok(HttpResponse::Ok().json(EventPage {
        events,
        last,
        next_after,
    }))
}

/// Parameters of the alert history.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Alerts live at some point in the last `days` days (30 by default, 400 at most), unless
    /// `from` says otherwise.
    pub days: Option<u32>,
    /// Start of the period (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// End of the period (RFC 3339; now by default).
    pub to: Option<DateTime<Utc>>,
    /// Only this client's sites.
    pub client: Option<String>,
    /// Only this site.
    pub site: Option<String>,
    /// Only this equipment's alerts.
    pub equipment: Option<String>,
    /// Only alerts now in this state (`open`, `acknowledged`, `resolved`, `closed`).
    pub state: Option<crate::alert::AlertState>,
    /// Only alerts of this severity (`warning`, `critical`).
    pub severity: Option<crate::alert::Severity>,
}

/// Alerts live at some point in a period, with their timelines, narrowed by client, site,
/// equipment, state and severity.
#[utoipa::path(tag = "alerts", params(HistoryQuery), responses((status = 200, description = "Alerts of the period, oldest first", body = Vec<Alert>)))]
#[get("/api/v1/alerts/history")]
async fn alert_history(
    state: web::Data<ApiState>,
    q: web::Query<HistoryQuery>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let to = q.to.unwrap_or_else(|| state.clock.now());
    let days = q.days.unwrap_or(30).min(400);
    let from = q
        .from
        .unwrap_or(to - chrono::Duration::days(i64::from(days)));
    if from > to {
        return Err(ApiError::BadRequest(format!(
            "the period starts ({from}) after it ends ({to})"
        )));
    }
    let scope = scope(&state, &who);
    let cfg = state.config.borrow().clone();
    if let Some(c) = &q.client
        && (!scope.client_visible(c)
            || cfg
                .as_ref()
                .is_some_and(|x| !x.clients.contains_key(c.as_str())))
    {
        return Err(ApiError::NotFound(format!("no client `{c}`")));
    }
    if let Some(s) = &q.site
        && !scope.site(&SiteId::new(s))
    {
        return Err(ApiError::NotFound(format!("no site `{s}`")));
    }
    if let Some(e) = &q.equipment
        && !scope.equipment(&EquipmentId::new(e))
    {
        return Err(ApiError::NotFound(format!("no equipment `{e}`")));
    }
    let mut history = read_store(&state, move |r| r.alerts_since(from)).await?;
    let client_of = |of: &SiteId| {
        cfg.as_ref()
            .and_then(|c| c.sites.get(of))
            .map(|s| s.client.as_str().to_string())
    };
    history.retain(|a| {
        scope.site(&a.site)
            && a.opened_at <= to
            && q.client
                .as_ref()
                .is_none_or(|c| client_of(&a.site).as_deref() == Some(c.as_str()))
            && q.site.as_ref().is_none_or(|s| a.site.as_str() == s)
            && q.equipment.as_ref().is_none_or(
                |e| matches!(&a.owner, crate::alert::Owner::Equipment(x) if x.as_str() == e),
            )
            && q.state.is_none_or(|s| a.state == s)
            && q.severity.is_none_or(|s| a.severity == s)
    });
    Ok(HttpResponse::Ok().json(history))
}

/// One alert, live or past, with its timeline.
#[utoipa::path(tag = "alerts", params(("id" = u64, Path, description = "Alert number")), responses((status = 200, description = "The alert with its timeline", body = Alert)))]
#[get("/api/v1/alerts/{id}")]
async fn alert_by_id(
    state: web::Data<ApiState>,
    id: web::Path<u64>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match read_store(&state, move |r| r.alert(id)).await? {
        Some(found) if scope(&state, &who).site(&found.site) => Ok(HttpResponse::Ok().json(found)),
        _ => Err(ApiError::NotFound(format!("no alert #{id}"))),
    }
}

/// Period of a transition read (RFC 3339 instants; the last 30 days by default).
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// Start.
    pub from: Option<DateTime<Utc>>,
    /// End.
    pub to: Option<DateTime<Utc>>,
}

/// One recorded status change.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
pub struct TransitionRecord {
    /// Its event's sequence number.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The change.
    #[serde(flatten)]
    pub transition: TransitionEvent,
}

/// An equipment's status changes over a period.
#[utoipa::path(tag = "history", params(("id" = String, Path, description = "Equipment id"), PeriodQuery), responses((status = 200, description = "Status changes of the period, oldest first", body = Vec<TransitionRecord>)))]
#[get("/api/v1/equipment/{id}/transitions")]
async fn transitions(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    q: web::Query<PeriodQuery>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !scope(&state, &who).equipment(&EquipmentId::new(&id)) {
        return Err(ApiError::NotFound(format!("no equipment `{id}`")));
    }
    let to = q.to.unwrap_or_else(|| state.clock.now());
    let from = q.from.unwrap_or(to - chrono::Duration::days(30));
    if from > to {
        return Err(ApiError::BadRequest(format!(
            "the period starts ({from}) after it ends ({to})"
        )));
    }
    let rows = read_store(&state, move |r| r.transitions(&id, from, to)).await?;
    let out: Vec<TransitionRecord> = rows
        .into_iter()
        .map(|(seq, at, transition)| TransitionRecord {
            seq,
            at,
            transition,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Body of an acknowledgement.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// Optional note.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Body of a closure.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// Resolution note.
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
}

/// Whether `who` may act on an object it sees (`sees`) with `role`: an object of another
/// client is unknown to a client's account (404, as for any unknown id), one of its own
/// refused (403).
fn may_act(
    who: &Identity,
    sees: bool,
    unknown: impl FnOnce() -> ApiError,
    role: OpsRole,
    what: &str,
) -> Result<(), ApiError> {
    if !sees {
        return Err(unknown());
    }
    who.require(role, what)
}

/// Whether `who` sees alert `id` (live or in the log); the staff see every alert.
async fn sees_alert(state: &ApiState, who: &Identity, id: u64) -> Result<bool, ApiError> {
    let scope = scope(state, who);
    if scope.everything() {
        return Ok(true);
    }
    if let Some(a) = state.book.get(id) {
        return Ok(scope.site(&a.site));
    }
    Ok(read_store(state, move |r| r.alert(id))
        .await?
        .is_some_and(|a| scope.site(&a.site)))
}

/// [`may_act`] on alert `id`, as an operator.
async fn may_act_on_alert(
    state: &ApiState,
    who: &Identity,
    id: u64,
    what: &str,
) -> Result<(), ApiError> {
    may_act(
        who,
        sees_alert(state, who, id).await?,
        || ApiError::NotFound(format!("no alert #{id}")),
        OpsRole::Operator,
        what,
    )
}

async fn act(state: &ApiState, id: u64, action: AlertAction) -> Result<HttpResponse, ApiError> {
    let alert = state
        .fleet
        .send(AlertCommand { id, action })
        .await
        .map_err(mailbox)??;
    Ok(HttpResponse::Ok().json(alert))
}

/// Longest operator name.
pub const MAX_BY: usize = 64;
/// Longest note.
pub const MAX_NOTE: usize = 2000;

/// Parses a request body against its documented shape: a JSON object, nothing else (serde
/// would also read a struct from an array).
fn object_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object, such as {\"note\": \"...\"}".into(),
        ));
    }
    serde_json::from_value(value).map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))
}

/// Refuses control characters (terminal escapes among them) and overlong text in a field
/// that the CLI and the dashboard will print; a note may hold line breaks and tabs.
fn check_text(field: &str, text: &str, max: usize, multiline: bool) -> Result<(), ApiError> {
    if text.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t')))
    {
        return Err(ApiError::BadRequest(format!(
            "`{field}` holds a control character (U+{:04X})",
            u32::from(c)
        )));
    }
    Ok(())
}

/// Body of a test notification.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyTestBody {
    /// Contact id.
    pub contact: String,
    /// Channel name; the contact's first when absent.
    #[serde(default)]
    pub channel: Option<String>,
}

/// Answer of a test notification.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
pub struct NotifyTestAnswer {
    /// Its number in the outbox.
    pub delivery: u64,
}

fn outbox_of(state: &ApiState) -> Result<&crate::outbox::Outbox, ApiError> {
    state
        .outbox
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("notifications are not running".into()))
}

/// Sends a test notification to a contact through its channels (admin).
#[utoipa::path(tag = "notifications", request_body = NotifyTestBody, responses((status = 202, description = "The test notification is in the outbox", body = NotifyTestAnswer)))]
#[post("/api/v1/notify/test")]
async fn notify_test(
    state: web::Data<ApiState>,
    body: web::Bytes,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    who.staff_only()?;
    who.require(OpsRole::Admin, "send test notifications")?;
    let NotifyTestBody { contact, channel } = object_body(&body)?;
    check_text("contact", &contact, MAX_BY, false)?;
    let channel = match channel {
        None => None,
        Some(c) => Some(
            crate::config::ChannelKind::ALL
                .iter()
                .find(|(n, _)| *n == c)
                .map(|(_, k)| *k)
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "`{c}` is not a channel (email, sms, webhook, log)"
                    ))
                })?,
        ),
    };
    let id = outbox_of(&state)?
        .test(crate::config::ContactId::new(&contact), channel)
        .await
        .map_err(ApiError::BadRequest)?;
    Ok(HttpResponse::Accepted().json(NotifyTestAnswer { delivery: id }))
}

/// `?last=N&after=V&wait=S` of the outbox.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[into_params(parameter_in = Query)]
struct OutboxQuery {
    /// Most sent deliveries to list (20 by default).
    last: Option<usize>,
    /// Answer once the outbox's change counter is greater than this.
    after: Option<u64>,
    /// Seconds to wait at most for that change (60 at most).
    wait: Option<u64>,
}

/// The notification outbox: what waits, what was sent or given up (staff).
#[utoipa::path(tag = "notifications", params(OutboxQuery), responses((status = 200, description = "Deliveries waiting and sent", body = crate::outbox::OutboxView)))]
#[get("/api/v1/outbox")]
async fn outbox(
    state: web::Data<ApiState>,
    q: web::Query<OutboxQuery>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    who.staff_only()?;
    let o = outbox_of(&state)?.clone();
    wait_past(
        o.changes(),
        &Poll {
            after: q.after,
            wait: q.wait,
        },
    )
    .await;
    let last = q.last.unwrap_or(20).min(crate::store::SENT_KEPT as usize);
    let view = web::block(move || o.view(last))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok().json(view))
}

/// `?all=true` lists closed tickets too.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[into_params(parameter_in = Query)]
struct TicketsQuery {
    /// List closed tickets too.
    all: Option<bool>,
}

/// An alert's audit trail: its events and, for the staff, whom it was sent to.
#[utoipa::path(tag = "alerts", params(("id" = u64, Path, description = "Alert number")), responses((status = 200, description = "The alert's events and notifications", body = crate::audit::Audit)))]
#[get("/api/v1/alerts/{id}/audit")]
async fn audit(
    state: web::Data<ApiState>,
    id: web::Path<u64>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let reader = state.reader.clone();
    let id = id.into_inner();
    let mut trail = web::block(move || crate::audit::read(&reader, id))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound(format!("no alert #{id} in the event log")))?;
    let scope = scope(&state, &who);
    if !scope.everything() {
        // A client sees its alerts' events, not whom the staff notified.
        trail.events.retain(|e| scope.event(e));
        if trail.events.is_empty() {
            return Err(ApiError::NotFound(format!(
                "no alert #{id} in the event log"
            )));
        }
        trail.sent.clear();
        trail.pending.clear();
    }
    Ok(HttpResponse::Ok().json(trail))
}

/// Runs `f` on the event log and the config in force, off the async threads: what the
/// availability, signals and report routes share.
pub(crate) async fn with_history<T: Send + 'static>(
    state: &ApiState,
    f: impl FnOnce(
        &StoreReader,
        &crate::config::Config,
        DateTime<Utc>,
    ) -> Result<T, crate::availability::QueryError>
    + Send
    + 'static,
) -> Result<T, ApiError> {
    let cfg = state
        .config
        .borrow()
        .clone()
        .ok_or_else(|| ApiError::Unavailable("no config applied yet".into()))?;
    let reader = state.reader.clone();
    let now = state.clock.now();
    web::block(move || f(&reader, &cfg, now))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(ApiError::from)
}

/// Narrows an availability query to what `who` sees: a client's account gets its own client,
/// and another client or site is unknown to it.
fn scoped_query(
    state: &ApiState,
    who: &Identity,
    mut q: crate::availability::Query,
) -> Result<crate::availability::Query, ApiError> {
    let scope = scope(state, who);
    let Some(mine) = scope.client() else {
        return Ok(q);
    };
    if let Some(c) = &q.client
        && c != mine.as_str()
    {
        return Err(ApiError::NotFound(format!("no client `{c}`")));
    }
    if let Some(s) = &q.site
        && !scope.site(&SiteId::new(s))
    {
        return Err(ApiError::NotFound(format!("no site `{s}`")));
    }
    q.client = Some(mine.as_str().to_string());
    Ok(q)
}

/// Availability per equipment, site, client and overall over a month (`?month=YYYY-MM`, the
/// current one by default) or days (`?from=YYYY-MM-DD&to=YYYY-MM-DD`, `to` excluded), each site
/// in its time zone; `client` or `site` narrow it.
#[utoipa::path(tag = "availability", params(crate::availability::Query), responses((status = 200, description = "Availability figures", body = crate::availability::Availability)))]
#[get("/api/v1/availability")]
async fn availability(
    state: web::Data<ApiState>,
    q: web::Query<crate::availability::Query>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let q = scoped_query(&state, &who, q.into_inner())?;
    let figures = with_history(&state, move |reader, cfg, now| {
        crate::availability::read(reader, cfg, &q, now, true)
    })
    .await?;
    Ok(HttpResponse::Ok().json(figures))
}

/// Weak signals of a future failure and their maintenance recommendations, for the scope and
/// month of the query (as `/api/v1/availability`), most urgent first.
#[utoipa::path(tag = "availability", params(crate::availability::Query), responses((status = 200, description = "Weak signals, most urgent first", body = Vec<crate::availability::EquipmentSignal>)))]
#[get("/api/v1/signals")]
async fn signals(
    state: web::Data<ApiState>,
    q: web::Query<crate::availability::Query>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let q = scoped_query(&state, &who, q.into_inner())?;
    let found = with_history(&state, move |reader, cfg, now| {
        crate::availability::signals(reader, cfg, &q, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(found))
}

#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[into_params(parameter_in = Query)]
struct ReportQuery {
    /// `html` (default), `pdf` or `json`.
    format: Option<String>,
}

/// A client's monthly report (R14): an HTML page, or its data with `?format=json`.
#[utoipa::path(tag = "availability", params(("client" = String, Path, description = "Client id"), ("month" = String, Path, description = "Month, `YYYY-MM`"), ReportQuery), responses((status = 200, description = "The report", content((String = "text/html"), (Vec<u8> = "application/pdf"), (crate::report::Report = "application/json")))))]
#[get("/api/v1/reports/{client}/{month}")]
async fn report(
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
    q: web::Query<ReportQuery>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let (client, month) = path.into_inner();
    if !scope(&state, &who).client_visible(&client) {
        return Err(ApiError::NotFound(format!("no client `{client}`")));
    }
    let format = match q.format.as_deref() {
        None => crate::report::Format::Html,
        Some(f) => crate::report::Format::parse(f).ok_or_else(|| {
            ApiError::BadRequest(format!("format: `{f}` is not pdf, html or json"))
        })?,
    };
    let (report, cfg) = with_history(&state, move |reader, cfg, now| {
        let report = crate::report::build(reader, cfg, &client, &month, now, true)?;
        Ok((report, cfg.reports.clone()))
    })
    .await?;
    let bytes = web::block(move || crate::report::render(&report, &cfg, format))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type(format.media_type())
        .body(bytes))
}

/// Intervention tickets, open ones unless `all`.
#[utoipa::path(tag = "tickets", params(TicketsQuery), responses((status = 200, description = "Intervention tickets", body = Vec<crate::ticket::Ticket>)))]
#[get("/api/v1/tickets")]
async fn tickets(
    state: web::Data<ApiState>,
    q: web::Query<TicketsQuery>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let scope = scope(&state, &who);
    let reader = state.reader.clone();
    let all = q.all.unwrap_or(false);
    let list = web::block(move || reader.tickets())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let list: Vec<_> = list
        .into_iter()
        .filter(|t| all || t.status == crate::ticket::TicketStatus::Open)
        .filter(|t| scope.site(&t.site))
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

async fn read_ticket(
    state: &ApiState,
    who: &Identity,
    n: u64,
) -> Result<crate::ticket::Ticket, ApiError> {
    let reader = state.reader.clone();
    let scope = scope(state, who);
    web::block(move || reader.ticket(n))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .filter(|t| scope.site(&t.site))
        .ok_or_else(|| ApiError::NotFound(format!("no ticket #{n}")))
}

/// One intervention ticket.
#[utoipa::path(tag = "tickets", params(("n" = u64, Path, description = "Ticket number")), responses((status = 200, description = "The ticket", body = crate::ticket::Ticket)))]
#[get("/api/v1/tickets/{n}")]
async fn ticket(
    state: web::Data<ApiState>,
    n: web::Path<u64>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(read_ticket(&state, &who, n.into_inner()).await?))
}

/// Closes an intervention ticket with a resolution note (operator).
#[utoipa::path(tag = "tickets", params(("n" = u64, Path, description = "Ticket number")), request_body = CloseBody, responses((status = 200, description = "The closed ticket", body = crate::ticket::Ticket)))]
#[post("/api/v1/tickets/{n}/close")]
async fn close_ticket(
    state: web::Data<ApiState>,
    n: web::Path<u64>,
    body: web::Bytes,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let n = n.into_inner();
    if !scope(&state, &who).everything() {
        // A client's account learns nothing of another client's tickets.
        read_ticket(&state, &who, n).await?;
    }
    who.require(OpsRole::Operator, "close tickets")?;
    let CloseBody { note } = object_body(&body)?;
    check_text("note", &note, MAX_NOTE, true)?;
    let by = who.account.clone();
    let mut t = read_ticket(&state, &who, n).await?;
    if t.status == crate::ticket::TicketStatus::Closed {
        return Err(ApiError::Conflict(format!("ticket #{n} is already closed")));
    }
    let now = state.clock.now();
    t.status = crate::ticket::TicketStatus::Closed;
    t.resolution = Some(note.clone());
    t.closed = Some((now, by.clone()));
    t.notes.push(crate::ticket::TicketNote {
        at: now,
        by,
        text: note,
    });
    state.store.append(
        now,
        vec![crate::events::EventBody::Ticket(Box::new(
            crate::ticket::TicketEvent {
                ticket: t.clone(),
                change: crate::ticket::TicketChange::Closed,
            },
        ))],
    );
    state
        .store
        .flush()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the closure could not be written: {e}")))?;
    Ok(HttpResponse::Ok().json(t))
}

/// Acknowledges a live alert, with an optional note (operator).
#[utoipa::path(tag = "alerts", params(("id" = u64, Path, description = "Alert number")), request_body = AckBody, responses((status = 200, description = "The acknowledged alert", body = Alert)))]
#[post("/api/v1/alerts/{id}/ack")]
async fn ack(
    state: web::Data<ApiState>,
    id: web::Path<u64>,
    body: web::Bytes,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    may_act_on_alert(&state, &who, id, "acknowledge alerts").await?;
    let AckBody { note } = object_body(&body)?;
    let by = who.account;
    if let Some(n) = &note {
        check_text("note", n, MAX_NOTE, true)?;
    }
    act(&state, id, AlertAction::Acknowledge { by, note }).await
}

/// Closes a live alert with a resolution note (operator).
#[utoipa::path(tag = "alerts", params(("id" = u64, Path, description = "Alert number")), request_body = CloseBody, responses((status = 200, description = "The closed alert", body = Alert)))]
#[post("/api/v1/alerts/{id}/close")]
async fn close(
    state: web::Data<ApiState>,
    id: web::Path<u64>,
    body: web::Bytes,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    may_act_on_alert(&state, &who, id, "close alerts").await?;
    let CloseBody { note } = object_body(&body)?;
    let by = who.account;
    check_text("note", &note, MAX_NOTE, true)?;
    act(&state, id, AlertAction::Close { by, note }).await
}

/// Body of a maintenance window opened now: its end (`duration` from now, or `until`), why,
/// and the equipment it covers (the whole site without it).
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowBody {
    /// Why (shown wherever the window is).
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
    /// Its length from now (`"2h"`), or
    #[serde(default)]
    pub duration: Option<String>,
    /// its end (RFC 3339).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Equipment covered; the whole site when absent.
    #[serde(default)]
    pub equipment: Option<Vec<String>>,
}

/// Longest window opened through the API.
const MAX_WINDOW: chrono::Duration = chrono::Duration::days(31);

async fn site_windows(
    state: &ApiState,
    who: &Identity,
    site_id: &str,
    request: crate::actors::WindowRequest,
) -> Result<crate::actors::WindowAnswer, ApiError> {
    use crate::actors::WindowError;
    let id = SiteId::new(site_id);
    let not_found = || ApiError::NotFound(format!("no site `{site_id}`"));
    if !scope(state, who).site(&id) {
        return Err(not_found());
    }
    let answer = state
        .fleet
        .send(crate::actors::SiteWindows(id, request))
        .await
        .map_err(mailbox)?
        .ok_or_else(not_found)?
        .map_err(|e| match e {
            WindowError::NotFound(m) => ApiError::NotFound(m),
            WindowError::Invalid(m) => ApiError::BadRequest(m),
            WindowError::Conflict(m) => ApiError::Conflict(m),
        })?;
    Ok(answer)
}

/// A site's maintenance windows: those of its config file and those opened through the API.
#[utoipa::path(tag = "maintenance", params(("id" = String, Path, description = "Site id")), responses((status = 200, description = "The site's windows", body = crate::actors::WindowList)))]
#[get("/api/v1/sites/{id}/maintenance")]
async fn windows(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let list = site_windows(&state, &who, &id, crate::actors::WindowRequest::List).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Answers a window once the site's snapshot holding it is committed.
async fn committed_window(
    state: &ApiState,
    answer: crate::actors::WindowAnswer,
    created: bool,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .flush()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the window could not be written: {e}")))?;
    let mut r = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(r.json(answer))
}

/// Opens a maintenance window on a site now (operator).
#[utoipa::path(tag = "maintenance", params(("id" = String, Path, description = "Site id")), request_body = WindowBody, responses((status = 201, description = "The window opened", body = crate::maintenance::AdHocWindow)))]
#[post("/api/v1/sites/{id}/maintenance")]
async fn open_window(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    body: web::Bytes,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    may_act(
        &who,
        scope(&state, &who).site(&SiteId::new(&id)),
        || ApiError::NotFound(format!("no site `{id}`")),
        OpsRole::Operator,
        "open maintenance windows",
    )?;
    let WindowBody {
        reason,
        duration,
        until,
        equipment: covered,
    } = object_body(&body)?;
    check_text("reason", &reason, 200, false)?;
    if reason.trim().is_empty() {
        return Err(ApiError::BadRequest("`reason` is empty: say why".into()));
    }
    let now = state.clock.now();
    let until = match (duration, until) {
        (Some(d), None) => {
            let d = humantime::parse_duration(d.trim()).map_err(|_| {
                ApiError::BadRequest(format!("duration: `{d}` is not a duration such as `2h`"))
            })?;
            now + chrono::Duration::from_std(d)
                .map_err(|_| ApiError::BadRequest("duration: too long".into()))?
        }
        (None, Some(t)) => t,
        _ => {
            return Err(ApiError::BadRequest(
                "give either `duration` (\"2h\") or `until` (RFC 3339)".into(),
            ));
        }
    };
    if until - now > MAX_WINDOW {
        return Err(ApiError::BadRequest(format!(
            "a window opened through the API lasts at most {} days; write longer ones in the site's file",
            MAX_WINDOW.num_days()
        )));
    }
    let covered = covered.map(|v| v.iter().map(|e| EquipmentId::new(e)).collect::<Vec<_>>());
    let answer = site_windows(
        &state,
        &who,
        &id,
        crate::actors::WindowRequest::Open {
            reason,
            until,
            equipment: covered,
            by: who.account.clone(),
        },
    )
    .await?;
    committed_window(&state, answer, true).await
}

/// Ends a window opened through the API now (operator).
#[utoipa::path(tag = "maintenance", params(("id" = String, Path, description = "Site id"), ("window" = String, Path, description = "Window id")), responses((status = 200, description = "The window ended", body = crate::maintenance::AdHocWindow)))]
#[post("/api/v1/sites/{id}/maintenance/{window}/end")]
async fn end_window(
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let (site_id, window) = path.into_inner();
    may_act(
        &who,
        scope(&state, &who).site(&SiteId::new(&site_id)),
        || ApiError::NotFound(format!("no site `{site_id}`")),
        OpsRole::Operator,
        "end maintenance windows",
    )?;
    let answer = site_windows(
        &state,
        &who,
        &site_id,
        crate::actors::WindowRequest::End {
            id: window,
            by: who.account.clone(),
        },
    )
    .await?;
    committed_window(&state, answer, false).await
}

/// Body of a login.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Account id.
    #[schema(max_length = 64)]
    pub account: String,
    /// Its password.
    #[schema(max_length = 1024)]
    pub password: String,
}

/// Longest password accepted (argon2 hashes any length; this bounds the work).
const MAX_PASSWORD: usize = 1024;

/// Checks a password off the async threads (argon2 is slow by design) under the config in
/// force, counting failures against the account and the caller's address: what the API's
/// login and the dashboard's form share.
pub async fn sign_in(
    state: &ApiState,
    req: &actix_web::HttpRequest,
    account: String,
    password: String,
) -> Result<Result<crate::auth::Login, crate::auth::LoginError>, ApiError> {
    let cfg = state.config.borrow().clone();
    let gate = std::sync::Arc::clone(&state.gate);
    let from = req.peer_addr().map(|a| a.ip());
    let now = state.clock.now();
    web::block(move || gate.login(cfg.as_deref(), &account, &password, from, now))
        .await
        .map_err(|e| ApiError::Unavailable(format!("the login failed: {e}")))
}

/// Signs in with an account's password: answers the account (with the session's CSRF token)
/// and sets the session cookie.
#[utoipa::path(tag = "accounts", security(()), request_body = LoginBody, responses((status = 200, description = "Signed in: the account, with the session's CSRF token; sets the session cookie", body = crate::auth::Identity)))]
#[post("/api/v1/login")]
async fn login(
    state: web::Data<ApiState>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let LoginBody { account, password } = object_body(&body)?;
    check_text("account", &account, MAX_BY, false)?;
    if password.len() > MAX_PASSWORD {
        return Err(ApiError::BadRequest(format!(
            "`password` is longer than {MAX_PASSWORD} bytes"
        )));
    }
    match sign_in(&state, &req, account, password).await? {
        Ok(l) => Ok(HttpResponse::Ok()
            .insert_header((
                actix_web::http::header::SET_COOKIE,
                state.gate.session_cookie(&l.cookie),
            ))
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(l.identity)),
        Err(e @ crate::auth::LoginError::Wrong) => Err(ApiError::Unauthorized(e.to_string())),
        Err(e @ crate::auth::LoginError::Limited(after)) => {
            Err(ApiError::Limited(e.to_string(), after))
        }
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// Ends the caller's session and clears its cookie.
#[utoipa::path(tag = "accounts", responses((status = 204, description = "Signed out; the session cookie is cleared")))]
#[post("/api/v1/logout")]
async fn logout(state: web::Data<ApiState>, who: Identity) -> HttpResponse {
    state.gate.logout(&who);
    HttpResponse::NoContent()
        .insert_header((
            actix_web::http::header::SET_COOKIE,
            state.gate.cleared_cookie(),
        ))
        .finish()
}

/// The caller's account: id, name, access, language, how it signed in and, for a session,
/// the CSRF token its state-changing requests carry in `X-CSRF-Token`.
#[utoipa::path(tag = "accounts", responses((status = 200, description = "The caller's account", body = crate::auth::Identity)))]
#[get("/api/v1/session")]
async fn session(who: Identity) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(who)
}

/// A heartbeat pushed by an equipment, with its own bearer token.
#[utoipa::path(tag = "fleet", security(("heartbeat" = [])), params(("id" = String, Path, description = "Equipment id")), request_body(content = Option<vigie_collectors::heartbeat::HeartbeatPayload>, description = "Optional metrics and facts"), responses((status = 204, description = "The heartbeat is recorded")))]
#[post("/api/v1/heartbeat/{id}")]
async fn heartbeat(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    // Anyone who reaches the port may call this route: an unknown equipment, one that does
    // not push heartbeats and one without credentials answer as a wrong token does, so the
    // fleet's ids cannot be listed through it; the log says which it was.
    let refused = |why: &str| {
        tracing::warn!(equipment = %id, "heartbeat refused: {why}");
        ApiError::Unauthorized(format!("wrong or missing heartbeat token for `{id}`"))
    };
    let eq = state
        .fleet
        .send(EquipmentConfigQuery(EquipmentId::new(&id)))
        .await
        .map_err(mailbox)?
        .ok_or_else(|| refused("no such equipment"))?;
    if !eq.probes.contains(&Probe::Heartbeat) {
        return Err(refused("the equipment does not use the heartbeat probe"));
    }
    let source = eq
        .credentials
        .as_ref()
        .and_then(|c| c.password.as_ref())
        .ok_or_else(|| refused("the equipment has no credentials for heartbeats"))?;
    let secret = source
        .read()
        .map_err(|e| ApiError::Unavailable(format!("credentials of `{id}` cannot be read: {e}")))?;
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same_secret(token.as_bytes(), secret.expose().as_bytes()) {
        return Err(refused("wrong or missing token"));
    }
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        HeartbeatPayload::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid heartbeat body: {e}")))?
    };
    state.heartbeats.beat(&eq.id, state.clock.now(), payload);
    Ok(HttpResponse::NoContent().finish())
}

/// Turns every error response that is not JSON yet (a body over the size limit, a failure
/// of a lower layer) into the API's JSON error shape, keeping its status; the dashboard's own
/// HTML answers (a refused login form) stay as written.
pub fn json_errors<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::middleware::ErrorHandlerResponse;
    let is_json = res
        .response()
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let code = res.status();
    let error = res.response().error().map_or_else(
        || code.canonical_reason().unwrap_or("error").to_string(),
        |e| e.to_string(),
    );
    let (req, _) = res.into_parts();
    let resp = HttpResponse::build(code).json(ErrorBody { error });
    Ok(ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, resp).map_into_right_body(),
    ))
}

async fn not_found() -> HttpResponse {
    ApiError::NotFound("no such endpoint; see /api/v1/status".into()).error_response()
}

/// Registers the API on an actix-web app.
pub fn configure(cfg: &mut web::ServiceConfig, state: ApiState) {
    let json = web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|err, _| ApiError::BadRequest(format!("invalid JSON body: {err}")).into());
    let path = web::PathConfig::default()
        .error_handler(|err, _| ApiError::BadRequest(format!("invalid path: {err}")).into());
    let query = web::QueryConfig::default()
        .error_handler(|err, _| ApiError::BadRequest(format!("invalid query: {err}")).into());
    let payload = web::PayloadConfig::new(64 * 1024);
    cfg.app_data(web::Data::new(state))
        .app_data(payload)
        .app_data(json)
        .app_data(path)
        .app_data(query)
        .service(status)
        .service(metrics)
        .service(health)
        .service(site)
        .service(equipment_history)
        .service(equipment)
        .service(alerts)
        .service(alert_history)
        .service(alert_by_id)
        .service(events)
        .service(transitions)
        .service(ack)
        .service(close)
        .service(heartbeat)
        .service(notify_test)
        .service(outbox)
        .service(audit)
        .service(tickets)
        .service(availability)
        .service(signals)
        .service(report)
        .service(ticket)
        .service(close_ticket)
        .service(login)
        .service(logout)
        .service(session)
        .service(crate::stream::stream)
        .service(config_route)
        .service(windows)
        .service(open_window)
        .service(end_window)
        .service(openapi::document)
        .configure(crate::dashboard::configure)
        .default_service(web::to(not_found));
}
