//! The monthly client report (R14): availability per site and equipment with the global rate
//! and a daily chart per site, the incidents of the month with their resolution and ticket,
//! and the weak signals with their maintenance recommendations, in the client's report
//! language, under the maintenance company's name, logo and colours. Built from the same
//! computations as the API ([`crate::availability`]), so its figures are the API's to the
//! digit; rendered as a PDF (typst, in-process) and as an HTML page from one view.

mod html;
mod pdf;
pub mod view;

use crate::availability::{self, Availability, EquipmentSignal, Log, Query, QueryError};
use crate::config::{ClientId, Config, SiteId};
use crate::store::StoreReader;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use pdf::PdfError;

/// One incident: an alert of the client's sites live during the month.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Alert number.
    pub alert: u64,
    /// Site.
    pub site: String,
    /// Equipment or site it is about.
    pub owner: String,
    /// The name of what it is about.
    pub owner_name: String,
    /// The site's time zone.
    pub timezone: String,
    /// Severity.
    pub severity: String,
    /// What.
    pub summary: String,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When it ended (resolved or closed), if it did.
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended: the closing note, or resolved by itself.
    pub resolution: Option<String>,
    /// The intervention ticket it opened, if any.
    pub ticket: Option<u64>,
}

/// The maintenance company the report is made by.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Company {
    /// Its name.
    pub name: String,
    /// Main colour, `#rrggbb`.
    pub colour: String,
    /// Accent colour, `#rrggbb`.
    pub accent: String,
}

/// A site's availability on one day of the month.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Day {
    /// The day, in the site's time zone.
    pub date: NaiveDate,
    /// The site's rate that day, when anything was supervised.
    pub rate: Option<f64>,
}

/// A client's report for a month.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The client.
    pub client: String,
    /// Its name.
    pub name: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// `fr` or `en`.
    pub language: String,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// Who makes it.
    pub company: Company,
    /// Equipment of the client's sites in the config.
    pub equipment: usize,
    /// Names of the client's sites and equipment, by id.
    pub names: BTreeMap<String, String>,
    /// Availability of the client's sites over the month.
    pub availability: Availability,
    /// Each site's days.
    pub daily: BTreeMap<String, Vec<Day>>,
    /// Incidents, oldest first.
    pub incidents: Vec<Incident>,
    /// Weak signals, most urgent first.
    pub signals: Vec<EquipmentSignal>,
}

/// Builds `client`'s report for `month` (`YYYY-MM`).
pub fn build(
    reader: &StoreReader,
    cfg: &Config,
    client: &str,
    month: &str,
    now: DateTime<Utc>,
    running: bool,
) -> Result<Report, QueryError> {
    if !cfg.clients.contains_key(client) {
        return Err(QueryError::NotFound(format!("no client `{client}`")));
    }
    let mut all = build_all(reader, cfg, &[client], month, now, running)?;
    all.pop()
        .map(|(_, r)| r)
        .unwrap_or_else(|| Err(QueryError::NotFound(format!("no client `{client}`"))))
}

/// One client's report, or why it cannot be made.
pub type Made = (String, Result<Report, QueryError>);

/// Builds the reports of `clients` for `month`, reading the event log and the alerts once:
/// each client's report, or why it cannot be made. Fails as a whole only when the month is
/// not one, has not begun, or the store cannot be read.
pub fn build_all(
    reader: &StoreReader,
    cfg: &Config,
    clients: &[&str],
    month: &str,
    now: DateTime<Utc>,
    running: bool,
) -> Result<Vec<Made>, QueryError> {
    let q = Query {
        month: Some(month.to_string()),
        ..Query::default()
    };
    let all_periods = q.periods(cfg, now)?;
    let periods: BTreeMap<SiteId, availability::Period> = all_periods
        .into_iter()
        .filter(|(id, _)| {
            cfg.sites
                .get(id)
                .is_some_and(|s| clients.contains(&s.client.as_str()))
        })
        .collect();
    let first = availability::month(month, chrono_tz::Tz::UTC)
        .map_err(|e| QueryError::Invalid(e.to_string()))?;
    let begun = if periods.is_empty() {
        first.from <= now
    } else {
        periods.values().any(|p| p.from <= now)
    };
    if !begun {
        return Err(QueryError::Invalid(format!(
            "{month} has not begun: there is nothing to report yet"
        )));
    }
    let log = Log::read(reader, availability::end_of(&periods, now))?;
    let figures = availability::with_unseen(log.availability(&periods, now, running), cfg, now);
    let daily = daily(&log, cfg, &periods, now, running);
    let tickets = reader.tickets()?;
    let from = periods.values().map(|p| p.from).min().unwrap_or(now);
    let alerts = reader.alerts_since(from)?;
    let mut out = Vec::new();
    for &client in clients {
        let Some(c) = cfg.clients.get(client) else {
            out.push((
                client.to_string(),
                Err(QueryError::NotFound(format!("no client `{client}`"))),
            ));
            continue;
        };
        let mine: BTreeMap<SiteId, availability::Period> = periods
            .iter()
            .filter(|(id, _)| {
                cfg.sites
                    .get(*id)
                    .is_some_and(|s| s.client.as_str() == client)
            })
            .map(|(id, p)| (id.clone(), *p))
            .collect();
        let signals = match availability::signals_in(reader, &log, cfg, &mine, now) {
            Ok(s) => s,
            Err(e) => {
                out.push((client.to_string(), Err(e)));
                continue;
            }
        };
        let mut names = BTreeMap::new();
        let mut equipment = 0;
        for id in mine.keys() {
            if let Some(site) = cfg.sites.get(id) {
                names.insert(id.to_string(), site.name.clone());
                for (eq_id, eq) in &site.equipment {
                    names.insert(eq_id.to_string(), eq.name.clone());
                    equipment += 1;
                }
            }
        }
        let mut incidents: Vec<Incident> = alerts
            .iter()
            .filter_map(|a| {
                let p = mine.get(&a.site)?;
                // It ended when its condition cleared, or else when it was closed.
                let ended = a.resolved_at.or(a.closed.as_ref().map(|c| c.at));
                if a.opened_at >= p.to || ended.is_some_and(|e| e < p.from) {
                    return None;
                }
                let owner_id = match &a.owner {
                    crate::alert::Owner::Equipment(e) => e.as_str(),
                    crate::alert::Owner::Site(s) => s.as_str(),
                };
                Some(Incident {
                    alert: a.id,
                    site: a.site.to_string(),
                    owner: a.owner.to_string(),
                    owner_name: names
                        .get(owner_id)
                        .cloned()
                        .unwrap_or_else(|| owner_id.to_string()),
                    timezone: cfg
                        .sites
                        .get(&a.site)
                        .map_or("UTC", |s| s.timezone.name())
                        .to_string(),
                    severity: a.severity.to_string(),
                    summary: a.summary_in(c.contract.language()).to_string(),
                    opened_at: a.opened_at,
                    ended_at: ended,
                    resolution: match (&a.closed, a.resolved_at) {
                        (Some(c), _) => Some(c.note.clone().unwrap_or_default()),
                        (None, Some(_)) => Some(String::new()),
                        _ => None,
                    },
                    ticket: tickets.iter().find(|t| t.alert == a.id).map(|t| t.number),
                })
            })
            .collect();
        incidents.sort_by_key(|i| (i.opened_at, i.alert));
        out.push((
            client.to_string(),
            Ok(Report {
                client: client.to_string(),
                name: c.name.clone(),
                month: month.to_string(),
                language: c.contract.language().code().to_string(),
                generated_at: now,
                company: Company {
                    name: cfg.reports.company.clone(),
                    colour: cfg.reports.colour.clone(),
                    accent: cfg.reports.accent.clone(),
                },
                equipment,
                availability: restrict(&figures, &ClientId::new(client)),
                daily: daily
                    .iter()
                    .filter(|(id, _)| mine.contains_key(id.as_str()))
                    .map(|(id, d)| (id.clone(), d.clone()))
                    .collect(),
                names,
                incidents,
                signals,
            }),
        ));
    }
    Ok(out)
}

/// The figures of `a` of one client's sites, the client's total as the global one.
fn restrict(a: &Availability, client: &ClientId) -> Availability {
    let periods: BTreeMap<_, _> = a
        .periods
        .iter()
        .filter(|(id, _)| a.sites.contains_key(*id))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let equipment: BTreeMap<_, _> = a
        .equipment
        .iter()
        .filter(|(_, e)| e.client == *client)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let sites: BTreeMap<_, _> = a
        .sites
        .iter()
        .filter(|(id, _)| equipment.values().any(|e| e.site == **id))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let total = a.clients.get(client).copied();
    Availability {
        periods: periods
            .into_iter()
            .filter(|(id, _)| sites.contains_key(id))
            .collect(),
        equipment,
        sites,
        clients: total.map(|t| (client.clone(), t)).into_iter().collect(),
        global: total.unwrap_or_default(),
        kept_from: a.kept_from,
    }
}

/// Each site's rate day by day over its period, from one sweep of the log per day of the
/// longest period.
fn daily(
    log: &Log,
    cfg: &Config,
    periods: &BTreeMap<SiteId, availability::Period>,
    now: DateTime<Utc>,
    running: bool,
) -> BTreeMap<String, Vec<Day>> {
    let mut out: BTreeMap<String, Vec<Day>> = BTreeMap::new();
    for k in 0..31 {
        let mut days = BTreeMap::new();
        let mut dates = BTreeMap::new();
        for (id, p) in periods {
            let Some(site) = cfg.sites.get(id) else {
                continue;
            };
            let start = p.from.with_timezone(&site.timezone).date_naive();
            let Some(date) = start.checked_add_days(chrono::Days::new(k)) else {
                continue;
            };
            let Some(next) = date.succ_opt() else {
                continue;
            };
            let Ok(day) = availability::days(date, next, site.timezone) else {
                continue;
            };
            if day.from >= p.to || day.from > now {
                continue;
            }
            days.insert(id.clone(), day);
            dates.insert(id.clone(), date);
        }
        if days.is_empty() {
            break;
        }
        let a = log.availability(&days, now, running);
        for (id, date) in dates {
            let rate = a.sites.get(&id).and_then(|t| t.rate);
            out.entry(id.to_string())
                .or_default()
                .push(Day { date, rate });
        }
    }
    out
}

/// A report rendered.
#[derive(Debug)]
pub struct Rendered {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Said when the configured logo could not be used (the report is made without it).
    pub logo_problem: Option<String>,
}

/// The report as one HTML page, with `cfg`'s logo.
pub fn html(r: &Report, cfg: &crate::config::Reports) -> String {
    let logo = cfg
        .logo
        .as_ref()
        .map(|l| (l.format.names().1, l.bytes.as_ref()));
    html::page(&view::view(r), logo)
}

/// The report as a PDF, with `cfg`'s logo (left out, and said, when it cannot be decoded).
pub fn pdf(r: &Report, cfg: &crate::config::Reports) -> Result<Rendered, PdfError> {
    let logo = cfg
        .logo
        .as_ref()
        .map(|l| (l.format.names().0, l.bytes.as_ref()));
    let (bytes, logo_problem) = pdf::pdf(&view::view(r), logo)?;
    Ok(Rendered {
        bytes,
        logo_problem: logo_problem.map(|e| {
            format!(
                "the logo {} cannot be used: {e}",
                cfg.logo.as_ref().map_or("", |l| l.path.as_str())
            )
        }),
    })
}

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The PDF.
    Pdf,
    /// The HTML page.
    Html,
    /// The data, as JSON.
    Json,
}

impl Format {
    /// `pdf`, `html` or `json`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "pdf" => Some(Format::Pdf),
            "html" => Some(Format::Html),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// Why a report cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The PDF cannot be made.
    #[error(transparent)]
    Pdf(#[from] PdfError),
    /// The data cannot be encoded.
    #[error("the report cannot be encoded: {0}")]
    Json(#[from] serde_json::Error),
}

/// `r` in `format`; the logo problem, if any, is logged.
pub fn render(
    r: &Report,
    cfg: &crate::config::Reports,
    format: Format,
) -> Result<Vec<u8>, RenderError> {
    Ok(match format {
        Format::Json => serde_json::to_vec_pretty(r)?,
        Format::Html => html(r, cfg).into_bytes(),
        Format::Pdf => {
            let made = pdf(r, cfg)?;
            if let Some(p) = made.logo_problem {
                tracing::warn!(client = %r.client, month = %r.month, "{p}: the report is made without it");
            }
            made.bytes
        }
    })
}

/// When a month's reports are due: `day` at `time` in `timezone` (the first valid minute
/// after a DST gap).
fn due_in(r: &crate::config::Reports, year: i32, month: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    let date = chrono::NaiveDate::from_ymd_opt(year, month, r.day).unwrap_or_default();
    let mut local = date.and_time(r.time);
    for _ in 0..180 {
        if let Some(t) = r.timezone.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += chrono::Duration::minutes(1);
    }
    Utc.from_utc_datetime(&local)
}

fn month_before(year: i32, month: u32) -> (i32, u32) {
    if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    }
}

/// The latest instant at or before `now` at which reports were due, with the month they
/// report on (the one before), `YYYY-MM`.
pub fn last_due(r: &crate::config::Reports, now: DateTime<Utc>) -> (DateTime<Utc>, String) {
    use chrono::Datelike;
    let local = now.with_timezone(&r.timezone);
    let (mut y, mut m) = (local.year(), local.month());
    let mut due = due_in(r, y, m);
    if due > now {
        (y, m) = month_before(y, m);
        due = due_in(r, y, m);
    }
    let (ry, rm) = month_before(y, m);
    (due, format!("{ry:04}-{rm:02}"))
}

/// The first instant after `now` at which reports are due.
pub fn next_due(r: &crate::config::Reports, now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Datelike;
    let local = now.with_timezone(&r.timezone);
    let (y, m) = (local.year(), local.month());
    let due = due_in(r, y, m);
    if due > now {
        return due;
    }
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    due_in(r, ny, nm)
}

/// Where a client's report of a month is archived in the data directory, as a PDF (the
/// HTML page beside it, with the `html` extension).
pub fn archive_path(data: &std::path::Path, client: &str, month: &str) -> std::path::PathBuf {
    data.join("reports")
        .join(client)
        .join(format!("{month}.pdf"))
}

/// Writes `bytes` beside `path`, then renames it in place: never a half-written file.
pub fn write_whole(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Archives a report at `path` (the PDF) and beside it (the HTML page).
pub fn archive(
    path: &std::path::Path,
    r: &Report,
    cfg: &crate::config::Reports,
) -> Result<(), String> {
    let pdf = render(r, cfg, Format::Pdf).map_err(|e| e.to_string())?;
    let page = html(r, cfg);
    write_whole(&path.with_extension("html"), page.as_bytes())
        .and_then(|()| write_whole(path, &pdf))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("t")
    }

    #[test]
    fn reports_are_due_on_their_day_and_time_in_their_zone_and_report_the_month_before() {
        let r = crate::config::Reports::default(); // the 1st at 08:00, Paris
        // 1 April 08:00 in Paris is 06:00 UTC (summer time since 29 March).
        assert_eq!(
            last_due(&r, at("2026-04-01T06:00:00Z")),
            (at("2026-04-01T06:00:00Z"), "2026-03".into())
        );
        assert_eq!(
            last_due(&r, at("2026-04-01T05:59:59Z")),
            (at("2026-03-01T07:00:00Z"), "2026-02".into())
        );
        assert_eq!(last_due(&r, at("2026-04-20T00:00:00Z")).1, "2026-03");
        assert_eq!(
            next_due(&r, at("2026-04-01T05:59:59Z")),
            at("2026-04-01T06:00:00Z")
        );
        assert_eq!(
            next_due(&r, at("2026-04-01T06:00:00Z")),
            at("2026-05-01T06:00:00Z")
        );
        // January reports December of the year before.
        assert_eq!(last_due(&r, at("2026-01-02T00:00:00Z")).1, "2025-12");
        assert_eq!(
            next_due(&r, at("2026-12-15T00:00:00Z")),
            at("2027-01-01T07:00:00Z")
        );
    }
}
