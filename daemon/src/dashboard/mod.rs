//! The web dashboard, served by the daemon from pages rendered on the server (maud) and two
//! embedded assets: for a client's account, its sites with a tile per equipment, availability
//! and the last 30 days of alerts; for the staff, live alerts to act on, every client, alert
//! timelines, equipment pages with charts and the config status. Pages update themselves from
//! the event stream (`assets/vigie.js`); every value is escaped by maud.

pub mod i18n;

use crate::actors::{EquipmentLookup, FleetQuery, SiteQuery};
use crate::alert::{Alert, AlertState, Owner};
use crate::api::{ApiError, ApiState, mailbox, read_store, scope, with_history};
use crate::auth::Identity;
use crate::config::{Access, Language, OpsRole, SiteId};
use crate::rules::Status;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use i18n::{Words, words};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

const CSS: &str = include_str!("assets/vigie.css");
const JS: &str = include_str!("assets/vigie.js");

/// The embedded assets, by name: anything else under `/assets/` is not found.
fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "vigie.css" => Some(("text/css; charset=utf-8", CSS)),
        "vigie.js" => Some(("text/javascript; charset=utf-8", JS)),
        _ => None,
    }
}

/// A page's HTML answer, never cached (it shows live state and a CSRF token).
fn html_page(m: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(m.into_string())
}

/// The language of a page for nobody signed in: `?lang=`, else the browser's first choice.
fn guest_language(req: &HttpRequest) -> Language {
    let query = req.query_string();
    if query.contains("lang=en") {
        return Language::En;
    }
    if query.contains("lang=fr") {
        return Language::Fr;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_start()
        .to_ascii_lowercase();
    if accept.starts_with("en") {
        Language::En
    } else {
        Language::Fr
    }
}

/// The frame of every page: header with the account and sign-out, the body, the script.
fn layout(w: &Words, title: &str, who: Option<&Identity>, live: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(w.code) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(c) = who.and_then(|x| x.csrf.as_deref()) {
                    meta name="csrf" content=(c);
                }
                title { (title) " — vigie" }
                link rel="stylesheet" href="/assets/vigie.css";
                script src="/assets/vigie.js" defer {}
            }
            body data-live=(live)
                data-word-up=(w.up) data-word-down=(w.down)
                data-word-unreachable=(w.unreachable) data-word-unknown=(w.unknown)
                data-word-maintenance=(w.maintenance) {
                header {
                    div {
                        h1 { a href="/" { "vigie" } }
                        div.muted style="color:#d9e2ec" { (w.tagline) }
                    }
                    @if let Some(who) = who {
                        div.who {
                            span { (who.name) " (" (who.account) ")" }
                            @if who.csrf.is_some() {
                                form.inline data-action="/api/v1/logout" data-then="login" {
                                    button.secondary type="submit" { (w.sign_out) }
                                }
                            }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// The login form (public).
#[get("/login")]
async fn login_page(req: HttpRequest) -> HttpResponse {
    let w = words(guest_language(&req));
    html_page(login_markup(w, None))
}

fn login_markup(w: &Words, error: Option<&str>) -> Markup {
    layout(
        w,
        w.sign_in,
        None,
        false,
        html! {
            form.login method="post" action="/login" {
                h2 { (w.sign_in) }
                @if let Some(e) = error {
                    p.error role="alert" { (e) }
                }
                label for="account" { (w.account) }
                input #account type="text" name="account" autocomplete="username" required autofocus;
                label for="password" { (w.password) }
                input #password type="password" name="password" autocomplete="current-password" required;
                input type="hidden" name="lang" value=(w.code);
                button type="submit" { (w.sign_in) }
            }
        },
    )
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    account: String,
    password: String,
    #[serde(default)]
    lang: Option<String>,
}

/// Signs in from the form: a session cookie and the home page, or the form again with why.
#[post("/login")]
async fn login_form(
    state: web::Data<ApiState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ApiError> {
    let LoginForm {
        account,
        password,
        lang,
    } = form.into_inner();
    let w = words(if lang.as_deref() == Some("en") {
        Language::En
    } else {
        Language::Fr
    });
    if account.chars().count() > 64 || password.len() > 1024 {
        return Ok(HttpResponse::BadRequest()
            .content_type("text/html; charset=utf-8")
            .body(login_markup(w, Some(w.wrong_login)).into_string()));
    }
    Ok(
        match crate::api::sign_in(&state, &req, account, password).await? {
            Ok(l) => HttpResponse::SeeOther()
                .insert_header((header::SET_COOKIE, state.gate.session_cookie(&l.cookie)))
                .insert_header((header::LOCATION, "/"))
                .finish(),
            Err(crate::auth::LoginError::Limited(after)) => HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, after.to_string()))
                .content_type("text/html; charset=utf-8")
                .body(login_markup(w, Some(w.limited)).into_string()),
            Err(_) => HttpResponse::Unauthorized()
                .content_type("text/html; charset=utf-8")
                .body(login_markup(w, Some(w.wrong_login)).into_string()),
        },
    )
}

/// The embedded style sheet and script (public).
#[get("/assets/{name}")]
async fn assets(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (kind, text) =
        asset(&name).ok_or_else(|| ApiError::NotFound(format!("no asset `{}`", name.as_str())))?;
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(text))
}

/// The class word of a severity (`sev-…` in the style sheet).
fn sev_class(s: crate::alert::Severity) -> &'static str {
    match s {
        crate::alert::Severity::Warning => "warning",
        crate::alert::Severity::Critical => "critical",
    }
}

/// A tile's state (`st-…` in the style sheet) and its word: maintenance over the status.
fn tile_state(w: &Words, status: Status, maintenance: bool) -> (&'static str, &'static str) {
    if maintenance {
        return ("maintenance", w.maintenance);
    }
    let class = match status {
        Status::Up => "up",
        Status::Down => "down",
        Status::Unreachable => "unreachable",
        Status::Unknown => "unknown",
    };
    (class, w.status(status))
}

/// Day and time in UTC, short.
fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// How long since `t`, in the largest unit.
fn age(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {:02}", s / 3600, (s % 3600) / 60),
        _ => format!("{} j", s / 86_400),
    }
}

/// A rate as the API, the command line and the report write it (to the digit), or "no
/// figure yet".
fn rate_text(w: &Words, rate: Option<f64>) -> String {
    match rate {
        Some(_) => crate::availability::format_rate(rate),
        None => w.no_figure.to_string(),
    }
}

fn equipment_of(a: &Alert) -> String {
    match &a.owner {
        Owner::Equipment(e) => e.as_str().to_string(),
        Owner::Site(s) => s.as_str().to_string(),
    }
}

/// How an alert ended, or that it is still live.
fn resolution(w: &Words, a: &Alert) -> String {
    match a.state {
        AlertState::Closed => {
            let c = a.closed.as_ref();
            format!(
                "{} {}{}",
                w.closed_by,
                c.map_or("?", |c| c.by.as_str()),
                c.and_then(|c| c.note.as_deref())
                    .map(|n| format!(" : {n}"))
                    .unwrap_or_default()
            )
        }
        AlertState::Resolved => match &a.acknowledged {
            Some(ack) => format!("{} ({} {})", w.resolved, w.acked_by, ack.by),
            None => w.resolved_alone.to_string(),
        },
        AlertState::Acknowledged => format!(
            "{} ({} {})",
            w.in_progress,
            w.acked_by,
            a.acknowledged.as_ref().map_or("?", |x| x.by.as_str())
        ),
        AlertState::Open => w.in_progress.to_string(),
    }
}

/// The live alerts the staff act on: critical first, then oldest first.
fn ops_alerts(
    w: &Words,
    who: &Identity,
    cfg: Option<&crate::config::Config>,
    mut alerts: Vec<Alert>,
    now: DateTime<Utc>,
) -> Markup {
    alerts.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.opened_at.cmp(&b.opened_at))
    });
    let operator = matches!(who.access, Access::Ops(r) if r >= OpsRole::Operator);
    let client_of = |site: &SiteId| {
        cfg.and_then(|c| {
            let s = c.sites.get(site)?;
            c.clients.get(&s.client).map(|cl| cl.name.clone())
        })
        .unwrap_or_default()
    };
    html! {
        @if alerts.is_empty() {
            p { (w.no_alert) }
        } @else {
            table {
                thead { tr {
                    th { (w.severity) } th { (w.client) } th.wide { (w.site) }
                    th { "#" } th { (w.age) } th { (w.state) }
                    @if operator { th { "" } }
                } }
                tbody {
                    @for a in &alerts {
                        tr data-alert=(a.id) {
                            td { span class={ "sev-" (sev_class(a.severity)) } { (w.severity(a.severity)) } }
                            td { (client_of(&a.site)) }
                            td.wide { (a.site.as_str()) }
                            td { a href={ "/alerts/" (a.id) } { "#" (a.id) " " (a.summary_in(w.language())) } }
                            td { (age(now, a.opened_at)) }
                            td { (w.state(a.state)) }
                            @if operator {
                                td {
                                    @if a.state == AlertState::Open {
                                        form.inline data-action={ "/api/v1/alerts/" (a.id) "/ack" } {
                                            input type="text" name="note" aria-label=(w.note) placeholder=(w.note);
                                            button type="submit" { (w.acknowledge) }
                                            span.error role="alert" {}
                                        }
                                    }
                                    form.inline data-action={ "/api/v1/alerts/" (a.id) "/close" } {
                                        input type="text" name="note" required aria-label=(w.resolution_note) placeholder=(w.resolution_note);
                                        button type="submit" { (w.close) }
                                        span.error role="alert" {}
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A client's alerts of the last 30 days with how each ended.
fn history_table(w: &Words, mut alerts: Vec<Alert>) -> Markup {
    alerts.sort_by_key(|a| std::cmp::Reverse(a.opened_at));
    html! {
        @if alerts.is_empty() {
            p { (w.no_alert) }
        } @else {
            table {
                thead { tr {
                    th { (w.opened) } th { (w.equipment) } th { (w.severity) }
                    th.wide { "" } th { (w.resolution) }
                } }
                tbody {
                    @for a in &alerts {
                        tr data-alert=(a.id) {
                            td { (when(a.opened_at)) }
                            td { (equipment_of(a)) }
                            td { span class={ "sev-" (sev_class(a.severity)) } { (w.severity(a.severity)) } }
                            td.wide { (a.summary_in(w.language())) }
                            td { (resolution(w, a)) }
                        }
                    }
                }
            }
        }
    }
}

/// The alerts part of the home page, also served alone for live refreshes.
async fn alerts_part(state: &ApiState, who: &Identity) -> Result<Markup, ApiError> {
    let w = words(who.language);
    let scope = scope(state, who);
    let now = state.clock.now();
    if scope.everything() {
        let cfg = state.config.borrow().clone();
        Ok(ops_alerts(w, who, cfg.as_deref(), state.book.live(), now))
    } else {
        let since = now - chrono::Duration::days(30);
        let mut list = read_store(state, move |r| r.alerts_since(since)).await?;
        list.retain(|a| scope.site(&a.site));
        Ok(history_table(w, list))
    }
}

/// The alerts part alone (for the page's script).
#[get("/partials/alerts")]
async fn alerts_partial(
    state: web::Data<ApiState>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    Ok(html_page(alerts_part(&state, &who).await?))
}

/// A site's tiles: each equipment's status as a colour and a word.
fn tiles(w: &Words, site: &crate::status::SiteDetail) -> Markup {
    html! {
        ul.tiles {
            @for e in &site.equipment {
                @let (shown, word) = tile_state(w, e.status, e.maintenance.is_some());
                li class={ "tile st-" (shown) } data-equipment=(e.id) data-status=(shown) {
                    a.name href={ "/equipment/" (e.id) } { (e.name) }
                    span.word { (word) }
                }
            }
        }
    }
}

/// Availability of a client's sites this month and over the last 30 days, by site, and its
/// global rate over 30 days.
struct Rates {
    month: crate::availability::Availability,
    days: crate::availability::Availability,
}

async fn rates(state: &ApiState, client: &str, month: Option<String>) -> Result<Rates, ApiError> {
    let client = client.to_string();
    with_history(state, move |reader, cfg, now| {
        let month = crate::availability::read(
            reader,
            cfg,
            &crate::availability::Query {
                client: Some(client.clone()),
                month,
                ..Default::default()
            },
            now,
            true,
        )?;
        // Today as the client's sites count days (their time zone; the first site's when
        // they differ).
        let today = cfg
            .sites
            .values()
            .find(|s| s.client.as_str() == client)
            .map_or(now.date_naive(), |s| {
                now.with_timezone(&s.timezone).date_naive()
            });
        let days = crate::availability::read(
            reader,
            cfg,
            &crate::availability::Query {
                client: Some(client),
                from: Some((today - chrono::Days::new(29)).to_string()),
                to: Some((today + chrono::Days::new(1)).to_string()),
                ..Default::default()
            },
            now,
            true,
        )?;
        Ok(Rates { month, days })
    })
    .await
}

/// `?month=YYYY-MM` of the home page: a client's availability of that month.
#[derive(Debug, serde::Deserialize)]
struct HomeQuery {
    month: Option<String>,
}

/// The months of a client's reports: the twelve before the current one, newest first.
fn report_months(now: DateTime<Utc>) -> Vec<String> {
    (1..=12)
        .filter_map(|k| now.date_naive().checked_sub_months(chrono::Months::new(k)))
        .map(|d| d.format("%Y-%m").to_string())
        .collect()
}

/// The home page: a client's sites, or the staff's live alerts and clients.
#[get("/")]
async fn home(
    state: web::Data<ApiState>,
    q: web::Query<HomeQuery>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let w = words(who.language);
    let cfg = state.config.borrow().clone();
    let alerts = alerts_part(&state, &who).await?;
    let month = q.into_inner().month;
    let body = match who.client().cloned() {
        Some(client) => {
            let rates = rates(&state, client.as_str(), month.clone()).await?;
            let month_label = match &month {
                Some(m) => format!("{} {m}", w.rate_of),
                None => w.month_rate.to_string(),
            };
            let client_month = rates
                .month
                .clients
                .get(client.as_str())
                .and_then(|t| t.rate);
            let mut sites = Vec::new();
            let ids: Vec<SiteId> = cfg
                .iter()
                .flat_map(|c| c.sites.values())
                .filter(|s| s.client == client)
                .map(|s| s.id.clone())
                .collect();
            for id in ids {
                if let Some(d) = state.fleet.send(SiteQuery(id)).await.map_err(mailbox)? {
                    sites.push(d);
                }
            }
            let global = rates.days.clients.get(client.as_str()).and_then(|t| t.rate);
            html! {
                p.rates {
                    span.rate { (month_label) (w.colon) strong data-rate="month" { (rate_text(w, client_month)) } }
                    span.rate { (w.global_rate) (w.colon) strong data-rate="global" { (rate_text(w, global)) } }
                    @if month.is_some() { a href="/" { (w.this_month) } }
                }
                h2 { (w.sites) }
                @for s in &sites {
                    @let id = SiteId::new(&s.site.id);
                    section.site aria-labelledby={ "site-" (s.site.id) } data-site=(s.site.id) {
                        h3 id={ "site-" (s.site.id) } { (s.site.name) }
                        div.rates {
                            span.rate { (month_label) (w.colon) strong data-site-rate="month" { (rate_text(w, rates.month.sites.get(&id).and_then(|t| t.rate))) } }
                            span.rate { (w.days_rate) (w.colon) strong { (rate_text(w, rates.days.sites.get(&id).and_then(|t| t.rate))) } }
                        }
                        (tiles(w, s))
                    }
                }
                h2 { (w.history_30) }
                div data-partial="/partials/alerts" { (alerts) }
                h2 { (w.reports) }
                ul.reports {
                    @for m in report_months(state.clock.now()) {
                        li {
                            (m) " — "
                            a href={ "/?month=" (m) } { (w.figures) } " · "
                            a href={ "/api/v1/reports/" (client) "/" (m) } { "HTML" } " · "
                            a href={ "/api/v1/reports/" (client) "/" (m) "?format=pdf" } { "PDF" }
                        }
                    }
                }
            }
        }
        None => {
            let status = state.fleet.send(FleetQuery).await.map_err(mailbox)?;
            // Live alerts per client, in one pass.
            let mut live: std::collections::HashMap<&crate::config::ClientId, usize> =
                std::collections::HashMap::new();
            let book = state.book.live();
            for a in &book {
                if let Some(s) = cfg.as_ref().and_then(|x| x.sites.get(&a.site)) {
                    *live.entry(&s.client).or_default() += 1;
                }
            }
            let mut clients: Vec<(&crate::config::ClientId, &crate::config::Client, usize)> = cfg
                .iter()
                .flat_map(|c| c.clients.iter())
                .map(|(id, c)| (id, c, live.get(id).copied().unwrap_or(0)))
                .collect();
            clients.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
            html! {
                h2 { (w.live_alerts) }
                div data-partial="/partials/alerts" { (alerts) }
                h2 { (w.sites) }
                table {
                    thead { tr { th { (w.client) } th { (w.site) } th { (w.up) } th { (w.down) } th { (w.unreachable) } th { (w.live_alerts) } } }
                    tbody {
                        @for (id, c, n) in &clients {
                            @for s in status.sites.iter().filter(|s| s.client == id.as_str()) {
                                tr {
                                    td { (c.name) }
                                    td { a href={ "/sites/" (s.id) } { (s.name) } }
                                    td { (s.by_status.get(&crate::rules::Status::Up).copied().unwrap_or(0)) }
                                    td { (s.by_status.get(&crate::rules::Status::Down).copied().unwrap_or(0)) }
                                    td { (s.by_status.get(&crate::rules::Status::Unreachable).copied().unwrap_or(0)) }
                                    td { (n) }
                                }
                            }
                        }
                    }
                }
                p { a href="/config" { (w.config) } }
            }
        }
    };
    Ok(html_page(layout(w, w.home, Some(&who), true, body)))
}

/// A site's page: its tiles and alerts.
#[get("/sites/{id}")]
async fn site_page(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let w = words(who.language);
    let id = SiteId::new(&id);
    let not_found = || ApiError::NotFound(format!("no site `{}`", id.as_str()));
    if !scope(&state, &who).site(&id) {
        return Err(not_found());
    }
    let s = state
        .fleet
        .send(SiteQuery(id.clone()))
        .await
        .map_err(mailbox)?
        .ok_or_else(not_found)?;
    let now = state.clock.now();
    let list = match state
        .fleet
        .send(crate::actors::SiteWindows(
            id.clone(),
            crate::actors::WindowRequest::List,
        ))
        .await
        .map_err(mailbox)?
    {
        Some(Ok(crate::actors::WindowAnswer::List(l))) => l,
        _ => crate::actors::WindowList {
            config: Vec::new(),
            api: Vec::new(),
        },
    };
    let operator = matches!(who.access, Access::Ops(r) if r >= OpsRole::Operator);
    let body = html! {
        section.site data-site=(s.site.id) {
            h2 { (s.site.name) }
            (tiles(w, &s))
        }
        h2 { (w.windows) }
        table {
            thead { tr { th { (w.reason) } th { (w.opened) } th { (w.until) } th { (w.by) } th { "" } } }
            tbody {
                @for c in &list.config {
                    tr {
                        td { (c.get("name").and_then(|v| v.as_str()).unwrap_or_default()) }
                        td { (c.get("start").and_then(|v| v.as_str()).unwrap_or_default()) }
                        td { (c.get("recurrence").and_then(|v| v.as_str()).unwrap_or_default()) }
                        td { (w.from_config) }
                        td {}
                    }
                }
                @for x in &list.api {
                    tr data-window=(x.id) {
                        td { (x.reason) }
                        td { (when(x.from)) }
                        td { (when(x.until)) }
                        td { (x.opened_by) @if let Some(e) = &x.ended_by { " / " (e) } }
                        td {
                            @if operator && x.until > now {
                                form.inline data-then="reload" data-action={ "/api/v1/sites/" (s.site.id) "/maintenance/" (x.id) "/end" } {
                                    button.secondary type="submit" { (w.end_now) }
                                    span.error role="alert" {}
                                }
                            }
                        }
                    }
                }
            }
        }
        @if operator {
            form.inline data-then="reload" data-action={ "/api/v1/sites/" (s.site.id) "/maintenance" } {
                input type="text" name="reason" required aria-label=(w.reason) placeholder=(w.reason);
                input type="text" name="duration" required aria-label=(w.duration) placeholder=(w.duration) size="8";
                button type="submit" { (w.open_window) }
                span.error role="alert" {}
            }
        }
        h2 { (w.live_alerts) }
        (ops_alerts(w, &who, state.config.borrow().as_deref(), s.alerts.clone(), now))
    };
    Ok(html_page(layout(w, &s.site.name, Some(&who), true, body)))
}

/// One hour's mean of a series.
type Point = (DateTime<Utc>, f32);

/// Hourly means of one series as an SVG line, with its range written out.
fn chart(title: &str, unit: &str, points: &[Point]) -> Markup {
    let (w, h, pad) = (600.0_f64, 160.0_f64, 24.0_f64);
    let t0 = points.first().map_or(0, |p| p.0.timestamp()) as f64;
    let t1 = points.last().map_or(1, |p| p.0.timestamp()) as f64;
    let lo = points
        .iter()
        .map(|p| f64::from(p.1))
        .fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| f64::from(p.1))
        .fold(f64::NEG_INFINITY, f64::max);
    let span_t = (t1 - t0).max(1.0);
    let span_v = (hi - lo).max(1e-9);
    let line: Vec<String> = points
        .iter()
        .map(|(t, v)| {
            let x = pad + (t.timestamp() as f64 - t0) / span_t * (w - 2.0 * pad);
            let y = h - pad - (f64::from(*v) - lo) / span_v * (h - 2.0 * pad);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    html! {
        figure {
            figcaption { (title) " — min " (format!("{lo:.1}")) " " (unit) ", max " (format!("{hi:.1}")) " " (unit) }
            svg.chart viewBox={ "0 0 " (w) " " (h) } role="img" aria-label=(title) {
                polyline points=(line.join(" ")) {}
                text x="4" y="14" { (format!("{hi:.1}")) }
                text x="4" y=(h - 6.0) { (format!("{lo:.1}")) }
            }
        }
    }
}

/// An equipment's page: status, identity facts, alerts and charts of its recent metrics.
#[get("/equipment/{id}")]
async fn equipment_page(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let w = words(who.language);
    let eq = crate::config::EquipmentId::new(&id);
    let not_found = || ApiError::NotFound(format!("no equipment `{}`", id.as_str()));
    if !scope(&state, &who).equipment(&eq) {
        return Err(not_found());
    }
    let d = state
        .fleet
        .send(EquipmentLookup(eq))
        .await
        .map_err(mailbox)?
        .ok_or_else(not_found)?;
    let now = state.clock.now();
    let key = id.to_string();
    let (a, b) = (
        vigie_core::history::hour_of(now - chrono::Duration::hours(48)),
        vigie_core::history::hour_of(now),
    );
    let hours = read_store(&state, move |r| r.history(&key, a, b)).await?;
    let mut series: std::collections::BTreeMap<(String, String), Vec<Point>> =
        std::collections::BTreeMap::new();
    for h in &hours {
        for (k, r) in &h.series {
            if matches!(
                k.metric.as_str(),
                "hw.temperature" | "system.filesystem.utilization" | "network.icmp.rtt"
            ) {
                series
                    .entry((k.metric.clone(), k.attributes.clone()))
                    .or_default()
                    .push((h.at, r.mean));
            }
        }
    }
    let unit = |m: &str| match m {
        "hw.temperature" => "°C",
        "system.filesystem.utilization" => "(0–1)",
        _ => "s",
    };
    let s = &d.summary;
    let body = html! {
        h2 { (s.name) }
        p {
            @let (shown, word) = tile_state(w, s.status, s.maintenance.is_some());
            span class={ "tile st-" (shown) } data-equipment=(s.id) style="display:inline-block" {
                span.word { (word) }
            }
            " " span.muted { (w.age) " " (when(s.since)) }
        }
        @if let Some(r) = &s.reason { p.muted { (r) } }
        h3 { (w.facts) }
        dl.facts {
            dt { (w.site) } dd { a href={ "/sites/" (d.site) } { (d.site) } }
            @for (k, v) in &d.facts { dt { (k) } dd { (v) } }
        }
        h3 { (w.live_alerts) }
        (ops_alerts(w, &who, state.config.borrow().as_deref(), d.alerts.clone(), now))
        h3 { (w.recent) }
        @if series.is_empty() { p { (w.no_history) } }
        @for ((metric, attrs), points) in &series {
            (chart(&format!("{metric} {attrs}"), unit(metric), points))
        }
    };
    Ok(html_page(layout(w, &s.name, Some(&who), true, body)))
}

/// An alert's page: its timeline and, for the staff, its notifications as they land.
#[get("/alerts/{id}")]
async fn alert_page(
    state: web::Data<ApiState>,
    id: web::Path<u64>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let w = words(who.language);
    let id = id.into_inner();
    let trail = read_store(&state, move |r| {
        Ok((r.alert(id)?, crate::audit::read(r, id)?))
    })
    .await?;
    let scope = scope(&state, &who);
    let (Some(a), audit) = trail else {
        return Err(ApiError::NotFound(format!("no alert #{id}")));
    };
    if !scope.site(&a.site) {
        return Err(ApiError::NotFound(format!("no alert #{id}")));
    }
    let now = state.clock.now();
    let body = html! {
        h2 data-alert-page=(a.id) { "#" (a.id) " " (a.summary_in(w.language())) }
        p {
            span class={ "sev-" (sev_class(a.severity)) } { (w.severity(a.severity)) }
            " · " (w.state(a.state)) " · " (resolution(w, &a))
        }
        @if a.state.is_live() {
            (ops_alerts(w, &who, state.config.borrow().as_deref(), vec![a.clone()], now))
        }
        h3 { (w.timeline) }
        ol {
            @for e in &a.timeline {
                li { (when(e.at)) " — " (format!("{:?}", e.event).to_lowercase()) " — " (e.detail) }
            }
        }
        @if scope.everything() {
            @if let Some(audit) = &audit {
                h3 { (w.notifications) }
                ul {
                    @for s in &audit.sent {
                        li { (when(s.at)) " — " (s.delivery.contact.as_str()) " (" (s.delivery.channel.name()) ") — "
                            (if s.accepted { w.delivered } else { w.given_up }) }
                    }
                    @for p in &audit.pending {
                        li { (when(p.created_at)) " — " (p.contact.as_str()) " (" (p.channel.name()) ") — " (w.waiting) }
                    }
                }
            }
        }
    };
    Ok(html_page(layout(
        w,
        &format!("#{id}"),
        Some(&who),
        true,
        body,
    )))
}

/// The config status page (staff).
#[get("/config")]
async fn config_page(state: web::Data<ApiState>, who: Identity) -> Result<HttpResponse, ApiError> {
    who.staff_only()?;
    let w = words(who.language);
    let cs = crate::api::config_status(&state).await?;
    let body = html! {
        h2 { (w.config) }
        @if let Some(r) = &cs.last_reload {
            p { (w.last_load) (w.colon) (when(r.at)) " — " (if r.accepted { w.accepted } else { w.refused }) }
            @if !r.errors.is_empty() {
                ul.error { @for e in &r.errors { li { code { (e) } } } }
            }
        }
        @if let Some(f) = &cs.on_last_good {
            p.error { (format!("{f:?}")) }
        }
        p { (w.sites) (w.colon) (cs.sites) " · " (w.equipment) (w.colon) (cs.equipment) }
        @if !cs.warnings.is_empty() {
            h3 { (w.warnings) }
            ul { @for x in &cs.warnings { li { code { (x) } } } }
        }
    };
    Ok(html_page(layout(w, w.config, Some(&who), false, body)))
}

/// Whether a path belongs to the dashboard's public part (the login form and the assets).
pub fn public(path: &str) -> bool {
    path == "/login" || path.starts_with("/assets/")
}

/// Registers the dashboard's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::FormConfig::default().limit(16 * 1024))
        .service(login_page)
        .service(login_form)
        .service(assets)
        .service(home)
        .service(alerts_partial)
        .service(site_page)
        .service(equipment_page)
        .service(alert_page)
        .service(config_page);
}
