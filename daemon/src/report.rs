//! The monthly client report (R14): availability per site and equipment with the global rate,
//! the incidents of the month with their resolution and ticket, and the weak signals with
//! their maintenance recommendations, in the client's report language. Built from the same
//! computations as the API ([`crate::availability`]), so its figures are the API's to the
//! digit; rendered as an HTML page (maud, every value escaped).

use crate::availability::{self, Availability, EquipmentSignal, Query, QueryError, format_rate};
use crate::config::{ClientId, Config};
use crate::store::StoreReader;
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::{Deserialize, Serialize};

/// One incident: an alert of the client's sites live during the month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Alert number.
    pub alert: u64,
    /// Site.
    pub site: String,
    /// Equipment or site it is about.
    pub owner: String,
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

/// A client's report for a month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Availability of the client's sites over the month.
    pub availability: Availability,
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
    let c = cfg
        .clients
        .get(client)
        .ok_or_else(|| QueryError::NotFound(format!("no client `{client}`")))?;
    let q = Query {
        client: Some(client.to_string()),
        month: Some(month.to_string()),
        ..Query::default()
    };
    let periods = q.periods(cfg, now)?;
    if periods.values().all(|p| p.from > now) {
        return Err(QueryError::Invalid(format!(
            "{month} has not begun: there is nothing to report yet"
        )));
    }
    let figures = availability::read(reader, cfg, &q, now, running)?;
    let signals = availability::signals(reader, cfg, &q, now)?;
    let tickets = reader.tickets()?;
    let from = periods.values().map(|p| p.from).min().unwrap_or(now);
    let mut incidents: Vec<Incident> = reader
        .alerts_since(from)?
        .into_iter()
        .filter_map(|a| {
            let p = periods.get(&a.site)?;
            let ended = a.closed.as_ref().map(|c| c.at).or(a.resolved_at);
            if a.opened_at >= p.to || ended.is_some_and(|e| e < p.from) {
                return None;
            }
            Some(Incident {
                alert: a.id,
                site: a.site.to_string(),
                owner: a.owner.to_string(),
                severity: a.severity.to_string(),
                summary: a.summary.clone(),
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
    Ok(Report {
        client: client.to_string(),
        name: c.name.clone(),
        month: month.to_string(),
        language: c.contract.language().code().to_string(),
        generated_at: now,
        availability: figures,
        incidents,
        signals,
    })
}

fn hours(ms: i64) -> String {
    format!("{:.1} h", ms as f64 / 3_600_000.0)
}

fn duration(from: DateTime<Utc>, to: Option<DateTime<Utc>>, fr: bool) -> String {
    match to {
        Some(t) => {
            let m = (t - from).num_minutes().max(0);
            if m >= 60 {
                format!("{} h {:02} min", m / 60, m % 60)
            } else {
                format!("{m} min")
            }
        }
        None if fr => "en cours".into(),
        None => "ongoing".into(),
    }
}

/// The report as one HTML page.
pub fn html(r: &Report) -> String {
    let fr = r.language == "fr";
    let t = |f: &'static str, e: &'static str| if fr { f } else { e };
    let client = ClientId::new(&r.client);
    let global = r.availability.clients.get(&client).copied().map(|t| t.rate);
    let page: Markup = html! {
        (DOCTYPE)
        html lang=(r.language) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t("Rapport mensuel", "Monthly report")) " — " (r.name) " — " (r.month) }
                style { (CSS) }
            }
            body {
                header {
                    h1 { (t("Rapport mensuel de supervision", "Monthly supervision report")) }
                    p.client { (r.name) " — " (r.month) }
                    p.global {
                        (t("Disponibilité globale", "Overall availability")) " : "
                        strong { (format_rate(global.flatten())) }
                    }
                }
                section {
                    h2 { (t("Disponibilité par site", "Availability per site")) }
                    @for (site, total) in &r.availability.sites {
                        h3 { (site.as_str()) " — " (format_rate(total.rate)) }
                        table {
                            thead { tr {
                                th { (t("Équipement", "Equipment")) }
                                th { (t("Disponibilité", "Availability")) }
                                th { (t("Panne", "Down")) }
                                th { (t("Injoignable (parent)", "Unreachable (parent)")) }
                                th { (t("Maintenance", "Maintenance")) }
                                th { (t("Non supervisé", "Not supervised")) }
                            } }
                            tbody {
                                @for (id, e) in availability::worst_first(&r.availability, site) {
                                    tr {
                                        td { (id) }
                                        td.num { (format_rate(e.rate)) }
                                        td.num { (hours(e.figures.down_ms)) }
                                        td.num { (hours(e.figures.unreachable_ms)) }
                                        td.num { (hours(e.figures.maintenance_ms)) }
                                        td.num { (hours(e.figures.unsupervised_ms)) }
                                    }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { (t("Incidents du mois", "Incidents of the month")) }
                    @if r.incidents.is_empty() {
                        p { (t("Aucun incident ce mois-ci.", "No incident this month.")) }
                    } @else {
                        table {
                            thead { tr {
                                th { "#" }
                                th { (t("Début", "Start")) }
                                th { (t("Durée", "Duration")) }
                                th { (t("Gravité", "Severity")) }
                                th { (t("Objet", "What")) }
                                th { (t("Résolution", "Resolution")) }
                                th { (t("Ticket", "Ticket")) }
                            } }
                            tbody {
                                @for i in &r.incidents {
                                    tr {
                                        td { (i.alert) }
                                        td { (i.opened_at.format("%Y-%m-%d %H:%M UTC")) }
                                        td { (duration(i.opened_at, i.ended_at, fr)) }
                                        td { (i.severity) }
                                        td { (i.owner) " : " (i.summary) }
                                        td { (match &i.resolution {
                                            Some(n) if !n.is_empty() => n.clone(),
                                            Some(_) => t("résolu de lui-même", "resolved by itself").to_string(),
                                            None => t("en cours", "ongoing").to_string(),
                                        }) }
                                        td { @if let Some(n) = i.ticket { (n) } }
                                    }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { (t("Tendances et recommandations", "Trends and recommendations")) }
                    @if r.signals.is_empty() {
                        p { (t("Aucun signe d'usure relevé ce mois-ci.", "No sign of wear found this month.")) }
                    } @else {
                        ul {
                            @for s in &r.signals {
                                li class=(format!("{:?}", s.signal.priority).to_lowercase()) { (s.recommendation) }
                            }
                        }
                    }
                }
                footer {
                    p { (t(
                        "La disponibilité compte le temps où chaque équipement répondait, hors fenêtres de maintenance ; le temps où un équipement était injoignable derrière un parent en panne est imputé au parent et compte pour le site ; le temps sans supervision est montré à part et n'est pas compté.",
                        "Availability counts the time each equipment answered, maintenance windows left out; time an equipment was unreachable behind a down parent is the parent's and counts against the site; time without supervision is shown apart and not counted."
                    )) }
                    p.generated { (t("Établi le ", "Made on ")) (r.generated_at.format("%Y-%m-%d %H:%M UTC")) }
                }
            }
        }
    };
    page.into_string()
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}\
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border-bottom:1px solid #e0e0e0;padding:.3rem .5rem;text-align:left}\
td.num{text-align:right;font-variant-numeric:tabular-nums}.global strong{font-size:1.4rem}\
li.high{font-weight:bold}footer{margin-top:2rem;font-size:.85rem;color:#555}";

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

/// Where a client's report of a month is archived in the data directory.
pub fn archive_path(data: &std::path::Path, client: &str, month: &str) -> std::path::PathBuf {
    data.join("reports")
        .join(client)
        .join(format!("{month}.html"))
}

/// Writes a report's page beside its archive path, then renames it in place.
pub fn archive(path: &std::path::Path, page: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, page.as_bytes())?;
    std::fs::rename(&tmp, path)
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
