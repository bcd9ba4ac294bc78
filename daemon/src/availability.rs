//! Availability as the API and `vigie availability` ask for it: a period and a scope (a
//! client, a site) resolved against the config's sites and time zones, the event log read up
//! to the period's end, and [`vigie_core::availability::compute`], the one computation.

use crate::config::{ClientId, Config, SiteId};
use crate::store::{StoreError, StoreReader};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
pub use vigie_core::availability::*;

/// Events read from the log per call.
const READ_BATCH: usize = 10_000;

/// What is asked.
#[derive(utoipa::IntoParams, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[into_params(parameter_in = Query)]
pub struct Query {
    /// Only this client's sites.
    #[serde(default)]
    pub client: Option<String>,
    /// Only this site.
    #[serde(default)]
    pub site: Option<String>,
    /// A month, `YYYY-MM`, in each site's time zone.
    #[serde(default)]
    pub month: Option<String>,
    /// First day (`YYYY-MM-DD`, local), with `to`.
    #[serde(default)]
    pub from: Option<String>,
    /// Day after the last (`YYYY-MM-DD`, local, excluded), with `from`.
    #[serde(default)]
    pub to: Option<String>,
}

/// Why availability cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A bad period or an unknown scope.
    #[error("{0}")]
    Invalid(String),
    /// The client or site is not in the config.
    #[error("{0}")]
    NotFound(String),
    /// The store cannot be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Query {
    /// Each site's period: the month asked (the current one in the site's zone by default),
    /// or the days from `from` to `to`.
    pub fn periods(
        &self,
        cfg: &Config,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<SiteId, Period>, QueryError> {
        if let Some(c) = &self.client
            && !cfg.clients.contains_key(c.as_str())
        {
            return Err(QueryError::NotFound(format!("no client `{c}`")));
        }
        if let Some(s) = &self.site
            && !cfg.sites.contains_key(s.as_str())
        {
            return Err(QueryError::NotFound(format!("no site `{s}`")));
        }
        let day = |s: &Option<String>, what: &str| -> Result<Option<NaiveDate>, QueryError> {
            s.as_deref()
                .map(|d| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                        QueryError::Invalid(format!("{what}: `{d}` is not a date (YYYY-MM-DD)"))
                    })
                })
                .transpose()
        };
        let (from, to) = (day(&self.from, "from")?, day(&self.to, "to")?);
        if self.month.is_some() && (from.is_some() || to.is_some()) {
            return Err(QueryError::Invalid(
                "give a month or from and to, not both".into(),
            ));
        }
        let mut out = BTreeMap::new();
        for (id, site) in &cfg.sites {
            if self.site.as_deref().is_some_and(|s| s != id.as_str())
                || self
                    .client
                    .as_deref()
                    .is_some_and(|c| c != site.client.as_str())
            {
                continue;
            }
            let tz = site.timezone;
            let period = match (&self.month, from, to) {
                (Some(m), _, _) => month(m, tz),
                (None, Some(f), Some(t)) => days(f, t, tz),
                (None, None, None) => month(&month_of(now, tz), tz),
                _ => {
                    return Err(QueryError::Invalid(
                        "give both from and to (YYYY-MM-DD, to excluded)".into(),
                    ));
                }
            }
            .map_err(|e| QueryError::Invalid(e.to_string()))?;
            out.insert(id.clone(), period);
        }
        Ok(out)
    }
}

/// The event log after the compaction baseline, read once up to an instant: what both the
/// availability computation and the weak-signal detectors consume.
#[derive(Debug, Default)]
pub struct Log {
    /// What compaction kept of the events it removed.
    pub baseline: Option<Baseline>,
    /// The events after it, in sequence order, those before the end read up to.
    pub events: Vec<crate::events::Event>,
    /// The daemon's last sign of life in the whole log (its last event or alive stamp, read
    /// up to or not): supervision went on until then.
    pub last: Option<DateTime<Utc>>,
}

impl Log {
    /// Reads the events of `reader`'s log before `end`.
    pub fn read(reader: &StoreReader, end: DateTime<Utc>) -> Result<Log, StoreError> {
        let baseline = reader.baseline()?;
        let mut events = Vec::new();
        each_event(reader, baseline.as_ref(), end, |e| events.push(e))?;
        let last_event = reader
            .events_after(reader.last_seq()?.saturating_sub(1), 1)?
            .first()
            .map(|e| e.at);
        let last = last_event.max(reader.last_alive()?);
        Ok(Log {
            baseline,
            events,
            last,
        })
    }

    /// Availability of the sites of `periods` (see [`compute`]); when the daemon is not
    /// `running` but its log goes on past the periods' end, they were supervised to the end.
    pub fn availability(
        &self,
        periods: &BTreeMap<SiteId, Period>,
        now: DateTime<Utc>,
        running: bool,
    ) -> Availability {
        let running = running || self.last.is_some_and(|l| l >= end_of(periods, now));
        compute(self.baseline.as_ref(), &self.events, periods, now, running)
    }
}

/// `a` with the configured equipment of its sites that the log never mentions (added but never
/// answered, or never probed): not supervised over the whole period, so every table lists
/// every equipment and none counts as up.
pub fn with_unseen(mut a: Availability, cfg: &Config, now: DateTime<Utc>) -> Availability {
    for (site_id, period) in &a.periods {
        let Some(site) = cfg.sites.get(site_id) else {
            continue;
        };
        let ms = (period.to.min(now) - period.from).num_milliseconds().max(0);
        for id in site.equipment.keys() {
            if a.equipment.contains_key(id) {
                continue;
            }
            let figures = Figures {
                unsupervised_ms: ms,
                ..Figures::default()
            };
            a.equipment.insert(
                id.clone(),
                EquipmentAvailability {
                    site: site_id.clone(),
                    client: site.client.clone(),
                    figures,
                    rate: None,
                    unreachable_behind: BTreeMap::new(),
                    caused_unreachable_ms: 0,
                },
            );
            for total in [
                a.sites.entry(site_id.clone()).or_default(),
                a.clients.entry(site.client.clone()).or_default(),
                &mut a.global,
            ] {
                total.figures.add(&figures);
                total.rate = total.figures.rate();
            }
        }
    }
    a
}

/// The latest end of `periods`, and never after `now`.
pub fn end_of(periods: &BTreeMap<SiteId, Period>, now: DateTime<Utc>) -> DateTime<Utc> {
    periods.values().map(|p| p.to).max().unwrap_or(now).min(now)
}

/// Availability for `q`, from the log of `reader`; `running` tells whether the daemon writing
/// the log runs now.
pub fn read(
    reader: &StoreReader,
    cfg: &Config,
    q: &Query,
    now: DateTime<Utc>,
    running: bool,
) -> Result<Availability, QueryError> {
    let periods = q.periods(cfg, now)?;
    let log = Log::read(reader, end_of(&periods, now))?;
    Ok(with_unseen(
        log.availability(&periods, now, running),
        cfg,
        now,
    ))
}

/// Calls `f` on the log's events after `baseline`, in sequence order, those before `end`;
/// reads the log in batches and stops at the first batch reaching `end`.
fn each_event(
    reader: &StoreReader,
    baseline: Option<&Baseline>,
    end: DateTime<Utc>,
    mut f: impl FnMut(crate::events::Event),
) -> Result<(), StoreError> {
    let mut after = baseline.map_or(0, |b| b.seq);
    loop {
        let batch = reader.events_after(after, READ_BATCH)?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        after = last.seq;
        let done = batch.len() < READ_BATCH || last.at >= end;
        batch.into_iter().filter(|e| e.at < end).for_each(&mut f);
        if done {
            return Ok(());
        }
    }
}

/// Milliseconds as hours, one decimal: how every view prints a time in a state.
pub fn hours(ms: i64) -> String {
    format!("{:.1} h", ms as f64 / 3_600_000.0)
}

/// The figures as `vigie availability` prints them: the total, each site, each equipment
/// worst first.
pub fn render(a: &Availability, client: Option<&ClientId>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let total = match client.and_then(|c| a.clients.get(c)) {
        Some(t) => t,
        None => &a.global,
    };
    let _ = writeln!(
        out,
        "availability {}  (maintenance {}, not supervised {})",
        format_rate(total.rate),
        hours(total.figures.maintenance_ms),
        hours(total.figures.unsupervised_ms)
    );
    if let Some(at) = a.kept_from {
        let _ = writeln!(
            out,
            "note: events before {} were removed by the retention ([daemon] retention): the figures start there",
            at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    for (id, t) in &a.sites {
        let period = a
            .periods
            .get(id)
            .map(|p| {
                format!(
                    "{} → {}",
                    p.from.format("%Y-%m-%d %H:%M"),
                    p.to.format("%Y-%m-%d %H:%M")
                )
            })
            .unwrap_or_default();
        let _ = writeln!(out, "\nsite {id}  {}  ({period} UTC)", format_rate(t.rate));
        for (eid, e) in worst_first(a, id) {
            let _ = write!(
                out,
                "  {eid:<24} {:>10}  down {}",
                format_rate(e.rate),
                hours(e.figures.down_ms)
            );
            for (parent, ms) in &e.unreachable_behind {
                let _ = write!(out, ", unreachable {} behind {parent}", hours(*ms));
            }
            if e.caused_unreachable_ms > 0 {
                let _ = write!(
                    out,
                    ", cut off others for {}",
                    hours(e.caused_unreachable_ms)
                );
            }
            if e.figures.maintenance_ms > 0 {
                let _ = write!(out, ", maintenance {}", hours(e.figures.maintenance_ms));
            }
            if e.figures.unsupervised_ms > 0 {
                let _ = write!(out, ", not supervised {}", hours(e.figures.unsupervised_ms));
            }
            out.push('\n');
        }
    }
    out
}

/// A site's equipment, worst rate first (those without a rate last), then by id.
pub fn worst_first<'a>(
    a: &'a Availability,
    site: &SiteId,
) -> Vec<(&'a str, &'a EquipmentAvailability)> {
    let mut v: Vec<_> = a
        .equipment
        .iter()
        .filter(|(_, e)| e.site == *site)
        .map(|(id, e)| (id.as_str(), e))
        .collect();
    v.sort_by(|x, y| {
        x.1.rate
            .unwrap_or(101.0)
            .total_cmp(&y.1.rate.unwrap_or(101.0))
            .then(x.0.cmp(y.0))
    });
    v
}

/// One equipment's weak signal, with its recommendation in the client's report language.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentSignal {
    /// The equipment.
    pub equipment: String,
    /// Its site.
    pub site: String,
    /// The site's client.
    pub client: String,
    /// The signal.
    #[serde(flatten)]
    pub signal: vigie_core::signals::Signal,
    /// What to do, in plain words.
    pub recommendation: String,
}

/// The weak signals of the equipment in `q`'s scope over its month (the current one by
/// default), from their metric history of that month and the month before; most urgent
/// first.
pub fn signals(
    reader: &StoreReader,
    cfg: &Config,
    q: &Query,
    now: DateTime<Utc>,
) -> Result<Vec<EquipmentSignal>, QueryError> {
    let periods = q.periods(cfg, now)?;
    let log = Log::read(reader, end_of(&periods, now))?;
    signals_in(reader, &log, cfg, &periods, now)
}

/// The weak signals of the equipment of the sites of `periods`, from `log` (read up to the
/// periods' end at least) and the metric history; most urgent first.
pub fn signals_in(
    reader: &StoreReader,
    log: &Log,
    cfg: &Config,
    periods: &BTreeMap<SiteId, Period>,
    now: DateTime<Utc>,
) -> Result<Vec<EquipmentSignal>, QueryError> {
    use vigie_core::history::hour_of;
    // Identity facts over time, from the log: each equipment's changes, and the firmware
    // most devices of each model run now.
    // The facts compaction kept come first: what each device was before the log's start.
    let mut facts: BTreeMap<String, Vec<vigie_core::signals::FactsAt>> = log
        .baseline
        .iter()
        .flat_map(|b| &b.facts)
        .filter(|(_, (at, _))| *at <= now)
        .map(|(id, f)| (id.to_string(), vec![f.clone()]))
        .collect();
    // Times each equipment went down (its own fault), by instant.
    let mut downs: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
    for e in &log.events {
        match &e.body {
            crate::events::EventBody::Facts(f) if e.at <= now => {
                facts
                    .entry(f.equipment.to_string())
                    .or_default()
                    .push((e.at, f.facts.clone()));
            }
            crate::events::EventBody::Transition(t)
                if t.to == crate::rules::Status::Down && t.from != crate::rules::Status::Down =>
            {
                downs.entry(t.equipment.to_string()).or_default().push(e.at);
            }
            _ => {}
        }
    }
    let usual = vigie_core::signals::usual_firmware(
        facts
            .values()
            .filter_map(|v| v.last().map(|(_, f)| f.as_slice())),
    );
    let mut out = Vec::new();
    for (site_id, p) in periods {
        let Some(site) = cfg.sites.get(site_id) else {
            continue;
        };
        let lang = cfg
            .clients
            .get(&site.client)
            .map_or(crate::config::Language::Fr, |c| c.contract.language());
        let end = p.to.min(now);
        let before_from = p.from - (p.to - p.from);
        for (id, eq) in &site.equipment {
            let month = reader.history(id.as_str(), hour_of(p.from), hour_of(end) - 1)?;
            let changes: Vec<_> = facts
                .get(id.as_str())
                .map(|v| v.iter().filter(|(at, _)| *at < end).cloned().collect())
                .unwrap_or_default();
            let count = |from: DateTime<Utc>, to: DateTime<Utc>| {
                downs.get(id.as_str()).map_or(0, |v| {
                    v.iter().filter(|at| **at >= from && **at < to).count() as u32
                })
            };
            let down_counts = (count(p.from, end), count(before_from, p.from));
            if month.is_empty() && changes.is_empty() && down_counts.0 == 0 {
                continue;
            }
            let model_firmware = changes
                .last()
                .and_then(|(_, f)| f.iter().find(|(k, _)| k == "model"))
                .and_then(|(_, m)| usual.get(m))
                .map(String::as_str);
            let before = reader.history(id.as_str(), hour_of(before_from), hour_of(p.from) - 1)?;
            let found = vigie_core::signals::detect(&vigie_core::signals::Inputs {
                month: &month,
                before: &before,
                disk_critical: eq.thresholds.disk.critical,
                temperature_warning: eq.thresholds.temperature.warning,
                now: end,
                from: p.from,
                facts: &changes,
                usual_firmware: model_firmware,
                downs: down_counts,
            });
            for signal in found {
                out.push(EquipmentSignal {
                    recommendation: vigie_core::signals::recommendation(&eq.name, &signal, lang),
                    equipment: id.to_string(),
                    site: site_id.to_string(),
                    client: site.client.to_string(),
                    signal,
                });
            }
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.signal.priority));
    Ok(out)
}
