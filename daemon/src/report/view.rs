//! What a report shows, every figure and date already written out in the client's language:
//! one view that both the HTML page and the PDF layout draw, so they say the same thing.

use super::Report;
use crate::availability::{self, format_rate, hours};
use crate::config::{ClientId, SiteId};
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// The words of a report in one language.
#[derive(Debug, Serialize)]
pub struct Words {
    /// Title of the report.
    pub title: &'static str,
    /// Before the global rate.
    pub global: &'static str,
    /// Heading of the sites' part.
    pub per_site: &'static str,
    /// Column: equipment.
    pub equipment: &'static str,
    /// Column: availability.
    pub availability: &'static str,
    /// Column: time down.
    pub down: &'static str,
    /// Column: time unreachable behind a parent.
    pub unreachable: &'static str,
    /// Column: time in maintenance.
    pub maintenance: &'static str,
    /// Column: time not supervised.
    pub unsupervised: &'static str,
    /// Caption of a site's chart.
    pub daily: &'static str,
    /// Legend: a day with downtime.
    pub legend_down: &'static str,
    /// Legend: a day without figures.
    pub legend_none: &'static str,
    /// Heading of the incidents.
    pub incidents: &'static str,
    /// When there was none.
    pub no_incident: &'static str,
    /// Column: start.
    pub start: &'static str,
    /// Column: duration.
    pub duration: &'static str,
    /// Column: severity.
    pub severity: &'static str,
    /// Column: what.
    pub what: &'static str,
    /// Column: resolution.
    pub resolution: &'static str,
    /// Column: ticket.
    pub ticket: &'static str,
    /// Heading of the trends.
    pub trends: &'static str,
    /// When there was none.
    pub no_signal: &'static str,
    /// Heading of the method note.
    pub method_title: &'static str,
    /// The method note.
    pub method: &'static str,
    /// Before the date the report was made.
    pub made_on: &'static str,
    /// A client without equipment.
    pub no_equipment: &'static str,
    /// A month without figures.
    pub no_data: &'static str,
    /// Labels of the priorities: high, medium, low.
    pub priorities: [&'static str; 3],
}

const FR: Words = Words {
    title: "Rapport mensuel de supervision",
    global: "Disponibilité globale",
    per_site: "Disponibilité par site",
    equipment: "Équipement",
    availability: "Disponibilité",
    down: "En panne",
    unreachable: "Injoignable (parent)",
    maintenance: "Maintenance",
    unsupervised: "Non supervisé",
    daily: "Disponibilité jour par jour",
    legend_down: "jour avec interruption",
    legend_none: "jour sans mesure",
    incidents: "Incidents du mois",
    no_incident: "Aucun incident ce mois-ci.",
    start: "Début",
    duration: "Durée",
    severity: "Gravité",
    what: "Objet",
    resolution: "Résolution",
    ticket: "Ticket",
    trends: "Tendances et recommandations",
    no_signal: "Aucun signe d'usure relevé ce mois-ci.",
    method_title: "Comment la disponibilité est calculée",
    method: "La disponibilité compte le temps où chaque équipement répondait, hors fenêtres de maintenance ; le temps où un équipement était injoignable derrière un parent en panne est imputé au parent et compte pour le site ; le temps sans supervision (supervision arrêtée, état inconnu) est montré à part et n'est pas compté. Les heures sont celles du site.",
    made_on: "Établi le",
    no_equipment: "Ce client n'a aucun équipement supervisé.",
    no_data: "Aucune mesure n'a été relevée pour ce mois.",
    priorities: ["Urgent", "Prochainement", "Prochaine visite"],
};

const EN: Words = Words {
    title: "Monthly supervision report",
    global: "Overall availability",
    per_site: "Availability per site",
    equipment: "Equipment",
    availability: "Availability",
    down: "Down",
    unreachable: "Unreachable (parent)",
    maintenance: "Maintenance",
    unsupervised: "Not supervised",
    daily: "Availability day by day",
    legend_down: "day with an interruption",
    legend_none: "day without figures",
    incidents: "Incidents of the month",
    no_incident: "No incident this month.",
    start: "Start",
    duration: "Duration",
    severity: "Severity",
    what: "What",
    resolution: "Resolution",
    ticket: "Ticket",
    trends: "Trends and recommendations",
    no_signal: "No sign of wear found this month.",
    method_title: "How availability is computed",
    method: "Availability counts the time each equipment answered, maintenance windows left out; time an equipment was unreachable behind a down parent is the parent's and counts against the site; time without supervision (supervision stopped, status unknown) is shown apart and not counted. Times are the site's.",
    made_on: "Made on",
    no_equipment: "This client has no supervised equipment.",
    no_data: "No figures were collected for this month.",
    priorities: ["Urgent", "Soon", "Next visit"],
};

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The report as shown.
#[derive(Debug, Serialize)]
pub struct View {
    /// `fr` or `en`.
    pub lang: &'static str,
    /// Its words.
    pub words: &'static Words,
    /// The maintenance company.
    pub company: String,
    /// Main colour.
    pub colour: String,
    /// Accent colour.
    pub accent: String,
    /// The client's name.
    pub client: String,
    /// The month, in words.
    pub period: String,
    /// The global rate.
    pub global: String,
    /// Why there is nothing to show, if so.
    pub empty: Option<&'static str>,
    /// Each site, worst first.
    pub sites: Vec<SiteView>,
    /// The incidents, oldest first.
    pub incidents: Vec<IncidentView>,
    /// The recommendations, most urgent first.
    pub recommendations: Vec<Recommendation>,
    /// When it was made.
    pub generated: Generated,
}

/// A date for the layout.
#[derive(Debug, Serialize)]
pub struct Generated {
    /// Year.
    pub year: i32,
    /// Month.
    pub month: u8,
    /// Day.
    pub day: u8,
    /// Written out.
    pub text: String,
}

/// A site.
#[derive(Debug, Serialize)]
pub struct SiteView {
    /// Its name.
    pub name: String,
    /// Its rate.
    pub rate: String,
    /// Its daily chart.
    pub chart: Chart,
    /// Its equipment, worst first.
    pub equipment: Vec<Row>,
}

/// A site's daily availability as bars.
#[derive(Debug, Serialize)]
pub struct Chart {
    /// The rate at the foot of the bars.
    pub floor: String,
    /// One per day.
    pub bars: Vec<Bar>,
}

/// One day's bar.
#[derive(Debug, Serialize)]
pub struct Bar {
    /// Day of the month.
    pub day: u32,
    /// Height, 0 to 1 of the chart's height.
    pub height: f64,
    /// The day's rate.
    pub rate: String,
    /// `full`, `down` (an interruption) or `none` (no figures).
    pub state: &'static str,
}

/// One equipment's line.
#[derive(Debug, Serialize)]
pub struct Row {
    /// Its name.
    pub name: String,
    /// Its rate.
    pub rate: String,
    /// Time down.
    pub down: String,
    /// Time unreachable behind a parent.
    pub unreachable: String,
    /// Time in maintenance.
    pub maintenance: String,
    /// Time not supervised.
    pub unsupervised: String,
}

/// One incident's line.
#[derive(Debug, Serialize)]
pub struct IncidentView {
    /// Alert number.
    pub number: u64,
    /// Start, in the site's time.
    pub start: String,
    /// Duration, or ongoing.
    pub duration: String,
    /// Severity.
    pub severity: String,
    /// What, on what.
    pub what: String,
    /// How it ended.
    pub resolution: String,
    /// Its ticket, or empty.
    pub ticket: String,
}

/// One recommendation.
#[derive(Debug, Serialize)]
pub struct Recommendation {
    /// `high`, `medium` or `low`.
    pub priority: &'static str,
    /// Its label.
    pub label: &'static str,
    /// What to do.
    pub text: String,
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

/// The rate at the foot of the charts: 100 % less a multiple of 5 points below the lowest
/// day, at most 95 %, so that an hour down in a month still shows.
fn chart_floor(r: &Report) -> f64 {
    let lowest = r
        .daily
        .values()
        .flatten()
        .filter_map(|d| d.rate)
        .fold(100.0_f64, f64::min);
    ((lowest / 5.0).floor() * 5.0).clamp(0.0, 95.0)
}

/// The view of `r`.
pub fn view(r: &Report) -> View {
    let fr = r.language != "en";
    let words = if fr { &FR } else { &EN };
    let client = ClientId::new(&r.client);
    let global = r.availability.clients.get(&client).and_then(|t| t.rate);
    let floor = chart_floor(r);
    let name = |id: &str| r.names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut sites: Vec<(&SiteId, _)> = r.availability.sites.iter().collect();
    sites.sort_by(|a, b| {
        a.1.rate
            .unwrap_or(101.0)
            .total_cmp(&b.1.rate.unwrap_or(101.0))
            .then(a.0.cmp(b.0))
    });
    let sites = sites
        .into_iter()
        .map(|(id, total)| SiteView {
            name: name(id.as_str()),
            rate: format_rate(total.rate),
            chart: Chart {
                floor: format!("{floor:.0} %"),
                bars: r
                    .daily
                    .get(id.as_str())
                    .map(|days| {
                        days.iter()
                            .map(|d| Bar {
                                day: d.date.day(),
                                height: d.rate.map_or(0.0, |v| {
                                    ((v - floor) / (100.0 - floor)).clamp(0.02, 1.0)
                                }),
                                rate: format_rate(d.rate),
                                state: match d.rate {
                                    None => "none",
                                    Some(v) if v < 100.0 => "down",
                                    Some(_) => "full",
                                },
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            equipment: availability::worst_first(&r.availability, id)
                .into_iter()
                .map(|(eq, e)| Row {
                    name: name(eq),
                    rate: format_rate(e.rate),
                    // A parent's outage is shown on both sides: the time it cut others off,
                    // and behind which parent the others were unreachable.
                    down: if e.caused_unreachable_ms > 0 {
                        format!(
                            "{} ({} {})",
                            hours(e.figures.down_ms),
                            if fr {
                                "a coupé les autres"
                            } else {
                                "cut others off"
                            },
                            hours(e.caused_unreachable_ms)
                        )
                    } else {
                        hours(e.figures.down_ms)
                    },
                    unreachable: if e.unreachable_behind.is_empty() {
                        hours(e.figures.unreachable_ms)
                    } else {
                        format!(
                            "{} ({} {})",
                            hours(e.figures.unreachable_ms),
                            if fr { "derrière" } else { "behind" },
                            e.unreachable_behind
                                .keys()
                                .map(|p| name(p.as_str()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                    maintenance: hours(e.figures.maintenance_ms),
                    unsupervised: hours(e.figures.unsupervised_ms),
                })
                .collect(),
        })
        .collect();
    let incidents = r
        .incidents
        .iter()
        .map(|i| {
            let tz: Tz = i.timezone.parse().unwrap_or(Tz::UTC);
            IncidentView {
                number: i.alert,
                start: i
                    .opened_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                duration: duration(i.opened_at, i.ended_at, fr),
                severity: match (i.severity.as_str(), fr) {
                    ("critical", true) => "critique".into(),
                    ("warning", true) => "avertissement".into(),
                    (other, _) => other.to_string(),
                },
                what: format!(
                    "{}{}{}",
                    i.owner_name,
                    if fr { " : " } else { ": " },
                    i.summary
                ),
                resolution: match &i.resolution {
                    Some(n) if !n.is_empty() => n.clone(),
                    Some(_) if fr => "résolu de lui-même".into(),
                    Some(_) => "resolved by itself".into(),
                    None => duration(i.opened_at, None, fr),
                },
                ticket: i.ticket.map(|t| t.to_string()).unwrap_or_default(),
            }
        })
        .collect();
    let recommendations = r
        .signals
        .iter()
        .map(|s| {
            use vigie_core::signals::Priority;
            let (priority, label) = match s.signal.priority {
                Priority::High => ("high", words.priorities[0]),
                Priority::Medium => ("medium", words.priorities[1]),
                Priority::Low => ("low", words.priorities[2]),
            };
            Recommendation {
                priority,
                label,
                text: s.recommendation.clone(),
            }
        })
        .collect();
    let months = if fr { &MONTHS_FR } else { &MONTHS_EN };
    let period = r
        .month
        .split_once('-')
        .and_then(|(y, m)| {
            let m: usize = m.parse().ok()?;
            Some(format!("{} {y}", months.get(m.checked_sub(1)?)?))
        })
        .unwrap_or_else(|| r.month.clone());
    let g = r.generated_at;
    let empty = if r.equipment == 0 {
        Some(words.no_equipment)
    } else if global.is_none() {
        Some(words.no_data)
    } else {
        None
    };
    View {
        lang: if fr { "fr" } else { "en" },
        words,
        company: r.company.name.clone(),
        colour: r.company.colour.clone(),
        accent: r.company.accent.clone(),
        client: r.name.clone(),
        period,
        global: format_rate(global),
        empty,
        sites,
        incidents,
        recommendations,
        generated: Generated {
            year: g.year(),
            month: u8::try_from(g.month()).unwrap_or(1),
            day: u8::try_from(g.day()).unwrap_or(1),
            text: g.format("%Y-%m-%d %H:%M UTC").to_string(),
        },
    }
}
