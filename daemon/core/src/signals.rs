//! Weak signals of a future failure (R14), found in an equipment's hourly metric history, and
//! the maintenance recommendation each one becomes, in the client's language. Each detector is
//! a pure function with its rule written beside it:
//!
//! - **disk filling**: the least-squares trend of a volume's daily mean utilisation over the
//!   last 30 days (7 days of data at least) projects the day it reaches the critical level;
//!   flagged when that is within 30 days. A volume flat near full for the last 7 days (max at
//!   least 90 %, moving less than one point: a recorder overwriting its oldest footage) is not
//!   filling.
//! - **temperature**: a sensor whose mean over the month is 5 °C or more above the previous
//!   month's, or whose hourly maximum crossed the warning level in 3 hours or more.
//! - **reboots**: the uptime going back between two readings is a reboot, and so is a new boot
//!   id in the identity facts (a device reporting both counts the larger tally, not both);
//!   2 or more in the month are flagged.
//! - **hardware**: a part (disk, fan, power supply) reported failed (`hw.status` 0) in any
//!   hour of the month, with the number of hours.
//! - **network**: ICMP loss averaging 2 points more than the previous month (and at least
//!   2 %), or a mean round-trip time doubled (and at least 10 ms).
//! - **flapping**: falling down 5 times or more in the month, and at least twice as often as
//!   the month before.
//! - **clock**: a device clock more than a minute off (`device.clock.offset`) in any hour.
//! - **identity**: a serial number that changed during the month (the device was swapped);
//!   a firmware other than the one most devices of the same model run (when one firmware is
//!   run by more of them than any other).

use crate::config::Language;
use crate::history::Hour;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How soon a signal should be acted on.
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// At the next visit.
    Low,
    /// Soon.
    Medium,
    /// Now.
    High,
}

/// What was found.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// A volume filling up.
    DiskFilling {
        /// The volume (its attributes).
        volume: String,
        /// Utilisation now, 0..1.
        now: f64,
        /// Growth per day, in points of utilisation (0..1).
        per_day: f64,
        /// When it reaches the critical level.
        full_at: DateTime<Utc>,
    },
    /// A sensor getting warmer.
    TemperatureRising {
        /// The sensor (its attributes).
        sensor: String,
        /// This month's mean.
        mean: f64,
        /// The previous month's mean.
        before: f64,
    },
    /// A sensor over its warning level repeatedly.
    TemperatureWarnings {
        /// The sensor.
        sensor: String,
        /// Hours over the warning level.
        hours: u32,
        /// The warning level.
        warning: f64,
    },
    /// Reboots.
    Reboots {
        /// How many in the month.
        count: u32,
    },
    /// A part reported failed.
    HardwareFailed {
        /// The part (its attributes).
        part: String,
        /// Hours it was reported failed.
        hours: u32,
    },
    /// ICMP loss rising.
    LossRising {
        /// This month's mean loss, 0..1.
        loss: f64,
        /// The previous month's.
        before: f64,
    },
    /// Round-trip time rising.
    RttRising {
        /// This month's mean, seconds.
        rtt: f64,
        /// The previous month's.
        before: f64,
    },
    /// Going down more and more often.
    Flapping {
        /// Times it went down this month.
        downs: u32,
        /// The month before.
        before: u32,
    },
    /// The device clock is off.
    ClockDrift {
        /// The largest offset seen, seconds (positive: ahead).
        offset: f64,
    },
    /// The serial number changed: the device was swapped.
    DeviceSwapped {
        /// The serial before.
        before: String,
        /// The serial now.
        after: String,
        /// When the new one was first reported.
        at: DateTime<Utc>,
    },
    /// A firmware other than the usual one of its model.
    FirmwareMismatch {
        /// The model.
        model: String,
        /// Its firmware.
        firmware: String,
        /// The firmware most devices of the model run.
        usual: String,
    },
}

/// A signal and its recommendation.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// What was found.
    pub finding: Finding,
    /// How soon to act.
    pub priority: Priority,
}

/// An equipment's identity facts as recorded at an instant.
pub type FactsAt = (DateTime<Utc>, Vec<(String, String)>);

/// What the detectors are given: the equipment's hours of the month and of the month before,
/// and the levels of its thresholds.
pub struct Inputs<'a> {
    /// Hours of the month looked at.
    pub month: &'a [Hour],
    /// Hours of the month before.
    pub before: &'a [Hour],
    /// Disk critical level, in percent.
    pub disk_critical: f64,
    /// Temperature warning level, °C.
    pub temperature_warning: f64,
    /// The end of the month looked at (or now, when earlier).
    pub now: DateTime<Utc>,
    /// The start of the month looked at.
    pub from: DateTime<Utc>,
    /// The equipment's identity facts as recorded over time, oldest first, up to `now`.
    pub facts: &'a [FactsAt],
    /// The firmware most devices of its model run, if one does.
    pub usual_firmware: Option<&'a str>,
    /// Times it went down (its own fault) in the month, and in the month before.
    pub downs: (u32, u32),
}

/// Every signal of one equipment, most urgent first.
pub fn detect(i: &Inputs<'_>) -> Vec<Signal> {
    let mut out = Vec::new();
    out.extend(disk_filling(i));
    out.extend(temperature(i));
    out.extend(reboots(i.month, i.facts, i.from));
    out.extend(hardware(i.month));
    out.extend(network(i.month, i.before));
    out.extend(clock(i.month));
    out.extend(flapping(i.downs.0, i.downs.1));
    out.extend(identity(i.facts, i.from, i.usual_firmware));
    out.sort_by_key(|s| std::cmp::Reverse(s.priority));
    out
}

/// Each series of a metric over some hours: attributes → (hour start, rollup) in time order.
fn series<'h>(
    hours: &'h [Hour],
    metric: &str,
) -> BTreeMap<&'h str, Vec<(DateTime<Utc>, &'h crate::history::Rollup)>> {
    let mut out: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for h in hours {
        for (k, r) in &h.series {
            if k.metric == metric {
                out.entry(k.attributes.as_str())
                    .or_default()
                    .push((h.at, r));
            }
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|(at, _)| *at);
    }
    out
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0u32);
    for v in values {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / f64::from(n))
}

/// Disk filling, by the rule in the module's documentation.
pub fn disk_filling(i: &Inputs<'_>) -> Vec<Signal> {
    let mut out = Vec::new();
    let all: Vec<Hour> = i.before.iter().chain(i.month).cloned().collect();
    let critical = i.disk_critical / 100.0;
    for (volume, points) in series(&all, "system.filesystem.utilization") {
        let since = i.now - Duration::days(30);
        // Daily means over the last 30 days.
        let mut days: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
        for (at, r) in points.iter().filter(|(at, _)| *at >= since) {
            let d = (*at - since).num_days();
            let e = days.entry(d).or_insert((0.0, 0));
            e.0 += f64::from(r.mean);
            e.1 += 1;
        }
        if days.len() < 7 {
            continue;
        }
        let xy: Vec<(f64, f64)> = days
            .iter()
            .map(|(d, (s, n))| (*d as f64, s / f64::from(*n)))
            .collect();
        let last_week: Vec<f64> = points
            .iter()
            .filter(|(at, _)| *at >= i.now - Duration::days(7))
            .map(|(_, r)| f64::from(r.mean))
            .collect();
        let (lo, hi) = last_week
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
        if hi >= 0.9 && hi - lo < 0.01 {
            continue; // Flat near full: a recorder overwriting its oldest footage.
        }
        let Some((slope, _)) = least_squares(&xy) else {
            continue;
        };
        let now = xy.last().map_or(0.0, |p| p.1);
        if slope <= 0.0005 || now >= critical {
            continue;
        }
        let days_left = (critical - now) / slope;
        if days_left > 30.0 {
            continue;
        }
        let full_at = i.now + Duration::seconds((days_left * 86_400.0) as i64);
        out.push(Signal {
            finding: Finding::DiskFilling {
                volume: volume.to_string(),
                now,
                per_day: slope,
                full_at,
            },
            priority: if days_left <= 7.0 {
                Priority::High
            } else {
                Priority::Medium
            },
        });
    }
    out
}

/// Slope and intercept of the least-squares line through `xy`.
fn least_squares(xy: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = xy.len() as f64;
    let mx = xy.iter().map(|p| p.0).sum::<f64>() / n;
    let my = xy.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// Temperature, by the rule in the module's documentation.
pub fn temperature(i: &Inputs<'_>) -> Vec<Signal> {
    let mut out = Vec::new();
    let before = series(i.before, "hw.temperature");
    for (sensor, points) in series(i.month, "hw.temperature") {
        let hours = points
            .iter()
            .filter(|(_, r)| f64::from(r.max) >= i.temperature_warning)
            .count() as u32;
        if hours >= 3 {
            out.push(Signal {
                finding: Finding::TemperatureWarnings {
                    sensor: sensor.to_string(),
                    hours,
                    warning: i.temperature_warning,
                },
                priority: Priority::Medium,
            });
            continue;
        }
        let now = mean(points.iter().map(|(_, r)| f64::from(r.mean)));
        let then = before
            .get(sensor)
            .and_then(|p| mean(p.iter().map(|(_, r)| f64::from(r.mean))));
        if let (Some(now), Some(then)) = (now, then)
            && now - then >= 5.0
        {
            out.push(Signal {
                finding: Finding::TemperatureRising {
                    sensor: sensor.to_string(),
                    mean: now,
                    before: then,
                },
                priority: Priority::Low,
            });
        }
    }
    out
}

/// Reboots, by the rule in the module's documentation: `month`'s uptimes, and the boot ids of
/// `facts` that changed after `from`.
pub fn reboots(month: &[Hour], facts: &[FactsAt], from: DateTime<Utc>) -> Vec<Signal> {
    let mut boots = 0u32;
    let mut boot_id: Option<&str> = None;
    for (at, f) in facts {
        if let Some(id) = fact(f, "boot_id") {
            if boot_id.is_some_and(|old| old != id) && *at >= from {
                boots += 1;
            }
            boot_id = Some(id);
        }
    }
    let mut count = 0u32;
    for points in series(month, "device.uptime").values() {
        let mut last: Option<f32> = None;
        for (_, r) in points {
            // Uptime only grows: within an hour a reset leaves the last reading below the
            // largest; between two hours, the hour starts below where the previous one ended.
            if r.last < r.max || last.is_some_and(|l| r.min < l) {
                count += 1;
            }
            last = Some(r.last);
        }
    }
    let count = count.max(boots);
    if count < 2 {
        return Vec::new();
    }
    vec![Signal {
        finding: Finding::Reboots { count },
        priority: if count >= 5 {
            Priority::High
        } else {
            Priority::Medium
        },
    }]
}

/// Hardware, by the rule in the module's documentation.
pub fn hardware(month: &[Hour]) -> Vec<Signal> {
    series(month, "hw.status")
        .into_iter()
        .filter_map(|(part, points)| {
            let hours = points.iter().filter(|(_, r)| r.min < 0.5).count() as u32;
            (hours > 0).then(|| Signal {
                finding: Finding::HardwareFailed {
                    part: part.to_string(),
                    hours,
                },
                priority: Priority::High,
            })
        })
        .collect()
}

/// Network, by the rule in the module's documentation.
pub fn network(month: &[Hour], before: &[Hour]) -> Vec<Signal> {
    let avg = |hours: &[Hour], metric: &str| {
        mean(
            series(hours, metric)
                .values()
                .flatten()
                .map(|(_, r)| f64::from(r.mean)),
        )
    };
    let mut out = Vec::new();
    if let (Some(loss), Some(then)) = (
        avg(month, "network.icmp.loss"),
        avg(before, "network.icmp.loss"),
    ) && loss - then >= 0.02
        && loss >= 0.02
    {
        out.push(Signal {
            finding: Finding::LossRising { loss, before: then },
            priority: Priority::Medium,
        });
    }
    if let (Some(rtt), Some(then)) = (
        avg(month, "network.icmp.rtt"),
        avg(before, "network.icmp.rtt"),
    ) && rtt >= 2.0 * then
        && rtt >= 0.010
    {
        out.push(Signal {
            finding: Finding::RttRising { rtt, before: then },
            priority: Priority::Low,
        });
    }
    out
}

/// Flapping, by the rule in the module's documentation.
pub fn flapping(downs: u32, before: u32) -> Option<Signal> {
    (downs >= 5 && downs >= 2 * before).then_some(Signal {
        finding: Finding::Flapping { downs, before },
        priority: Priority::Medium,
    })
}

/// Clock, by the rule in the module's documentation.
pub fn clock(month: &[Hour]) -> Vec<Signal> {
    let worst = series(month, "device.clock.offset")
        .values()
        .flatten()
        .flat_map(|(_, r)| [f64::from(r.min), f64::from(r.max)])
        .max_by(|a, b| a.abs().total_cmp(&b.abs()));
    match worst {
        Some(offset) if offset.abs() > 60.0 => vec![Signal {
            finding: Finding::ClockDrift { offset },
            priority: Priority::Medium,
        }],
        _ => Vec::new(),
    }
}

fn fact<'f>(facts: &'f [(String, String)], key: &str) -> Option<&'f str> {
    facts
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Identity, by the rule in the module's documentation.
pub fn identity(
    facts: &[FactsAt],
    from: DateTime<Utc>,
    usual_firmware: Option<&str>,
) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut serial: Option<&str> = None;
    for (at, f) in facts {
        if let Some(s) = fact(f, "serial") {
            if let Some(old) = serial
                && old != s
                && *at >= from
            {
                out.push(Signal {
                    finding: Finding::DeviceSwapped {
                        before: old.to_string(),
                        after: s.to_string(),
                        at: *at,
                    },
                    priority: Priority::Low,
                });
            }
            serial = Some(s);
        }
    }
    if let Some((_, latest)) = facts.last()
        && let (Some(model), Some(firmware), Some(usual)) = (
            fact(latest, "model"),
            fact(latest, "firmware"),
            usual_firmware,
        )
        && firmware != usual
    {
        out.push(Signal {
            finding: Finding::FirmwareMismatch {
                model: model.to_string(),
                firmware: firmware.to_string(),
                usual: usual.to_string(),
            },
            priority: Priority::Low,
        });
    }
    out
}

/// The firmware most devices of each model run, from every device's latest facts: a model
/// with two devices or more and one firmware run by more of them than any other.
pub fn usual_firmware<'f>(
    latest: impl IntoIterator<Item = &'f [(String, String)]>,
) -> BTreeMap<String, String> {
    let mut counts: BTreeMap<&str, BTreeMap<&str, u32>> = BTreeMap::new();
    for f in latest {
        if let (Some(m), Some(fw)) = (fact(f, "model"), fact(f, "firmware")) {
            *counts.entry(m).or_default().entry(fw).or_insert(0) += 1;
        }
    }
    counts
        .into_iter()
        .filter_map(|(model, fws)| {
            let total: u32 = fws.values().sum();
            let mut v: Vec<(&str, u32)> = fws.into_iter().collect();
            v.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
            let top = v.first()?;
            let unique = v.get(1).is_none_or(|second| second.1 < top.1);
            (total >= 2 && unique).then(|| (model.to_string(), top.0.to_string()))
        })
        .collect()
}

/// A part's word, from the attribute or `hw.type` naming its kind.
fn part_word(kind: &str, fr: bool) -> Option<&'static str> {
    Some(match (kind, fr) {
        ("disk" | "physical_disk", false) => "disk",
        ("disk" | "physical_disk", true) => "disque",
        ("fan", false) => "fan",
        ("fan", true) => "ventilateur",
        ("heater", false) => "heater",
        ("heater", true) => "chauffage",
        ("power_supply" | "psu", false) => "power supply",
        ("power_supply" | "psu", true) => "alimentation",
        ("battery", false) => "battery",
        ("battery", true) => "batterie",
        _ => return None,
    })
}

/// A series' attributes in plain words: the part and its name (`disk=hdd2,hw.type=physical_disk`
/// gives "disk hdd2", `hw.id=F0,hw.type=fan` "fan F0"), a volume's mount point or a sensor's
/// name alone (`mountpoint=/rec` gives "/rec").
pub fn plain(attributes: &str, lang: Language) -> String {
    let fr = lang == Language::Fr;
    let pairs: Vec<(&str, &str)> = attributes
        .split(',')
        .filter_map(|p| p.split_once('='))
        .collect();
    if pairs.is_empty() {
        return attributes.to_string();
    }
    let mut words: Vec<String> = Vec::new();
    let mut named_part = false;
    for (k, v) in &pairs {
        match (*k, part_word(k, fr)) {
            ("hw.type", _) => {}
            (_, Some(w)) => {
                named_part = true;
                words.push(format!("{w} {v}"));
            }
            (_, None) => words.push((*v).to_string()),
        }
    }
    if !named_part && let Some((_, t)) = pairs.iter().find(|(k, _)| *k == "hw.type") {
        words.insert(0, part_word(t, fr).unwrap_or(t).to_string());
    }
    words.join(" ")
}

/// The recommendation of a signal for `equipment`, in plain words.
pub fn recommendation(equipment: &str, s: &Signal, lang: Language) -> String {
    let fr = lang == Language::Fr;
    let pct = |v: f64| format!("{:.0} %", v * 100.0);
    match &s.finding {
        Finding::DiskFilling {
            volume,
            now,
            per_day,
            full_at,
        } => {
            let day = full_at.format("%Y-%m-%d");
            let volume = plain(volume, lang);
            if fr {
                format!(
                    "{equipment} : le volume {volume} est rempli à {} et grandit de {:.1} point par jour ; il sera plein vers le {day} — libérer de la place ou ajouter un disque avant.",
                    pct(*now),
                    per_day * 100.0
                )
            } else {
                format!(
                    "{equipment}: volume {volume} is {} full and grows {:.1} points a day; it will be full around {day} — free space or add a disk before then.",
                    pct(*now),
                    per_day * 100.0
                )
            }
        }
        Finding::TemperatureRising {
            sensor,
            mean,
            before,
        } => {
            let sensor = plain(sensor, lang);
            if fr {
                format!(
                    "{equipment} : la température ({sensor}) est passée de {before:.0} °C à {mean:.0} °C en moyenne sur un mois — vérifier la ventilation et dépoussiérer à la prochaine visite."
                )
            } else {
                format!(
                    "{equipment}: temperature ({sensor}) rose from {before:.0} °C to {mean:.0} °C on average in a month — check the ventilation and dust it at the next visit."
                )
            }
        }
        Finding::TemperatureWarnings {
            sensor,
            hours,
            warning,
        } => {
            let sensor = plain(sensor, lang);
            if fr {
                format!(
                    "{equipment} : la température ({sensor}) a dépassé {warning:.0} °C pendant {hours} heures ce mois-ci — contrôler le ventilateur et l'emplacement."
                )
            } else {
                format!(
                    "{equipment}: temperature ({sensor}) went over {warning:.0} °C in {hours} hours this month — check the fan and where it is installed."
                )
            }
        }
        Finding::Reboots { count } => {
            if fr {
                format!(
                    "{equipment} : {count} redémarrages ce mois-ci — vérifier l'alimentation et le firmware."
                )
            } else {
                format!(
                    "{equipment}: {count} reboots this month — check its power supply and firmware."
                )
            }
        }
        Finding::HardwareFailed { part, hours } => {
            let part = plain(part, lang);
            if fr {
                format!(
                    "{equipment} : {part} signalé en défaut pendant {hours} heures ce mois-ci — prévoir son remplacement à la prochaine visite."
                )
            } else {
                format!(
                    "{equipment}: {part} reported failed in {hours} hours this month — plan its replacement at the next visit."
                )
            }
        }
        Finding::LossRising { loss, before } => {
            if fr {
                format!(
                    "{equipment} : la perte de paquets est passée de {} à {} — contrôler le câblage et le port du switch.",
                    pct(*before),
                    pct(*loss)
                )
            } else {
                format!(
                    "{equipment}: packet loss rose from {} to {} — check the cabling and the switch port.",
                    pct(*before),
                    pct(*loss)
                )
            }
        }
        Finding::Flapping { downs, before } => {
            if fr {
                format!(
                    "{equipment} : {downs} coupures ce mois-ci contre {before} le mois précédent — contrôler l'alimentation, le câble et le port réseau."
                )
            } else {
                format!(
                    "{equipment}: down {downs} times this month against {before} the month before — check its power, cable and network port."
                )
            }
        }
        Finding::ClockDrift { offset } => {
            if fr {
                format!(
                    "{equipment} : l'horloge est décalée de {:.0} s — configurer la synchronisation NTP (les enregistrements doivent être horodatés juste).",
                    offset.abs()
                )
            } else {
                format!(
                    "{equipment}: its clock is {:.0} s off — set up NTP (recordings must carry the right time).",
                    offset.abs()
                )
            }
        }
        Finding::DeviceSwapped { before, after, at } => {
            let day = at.format("%Y-%m-%d");
            if fr {
                format!(
                    "{equipment} : l'appareil a été remplacé le {day} (numéro de série {before} → {after}) — mettre à jour l'inventaire."
                )
            } else {
                format!(
                    "{equipment}: the device was replaced on {day} (serial {before} → {after}) — update the inventory."
                )
            }
        }
        Finding::FirmwareMismatch {
            model,
            firmware,
            usual,
        } => {
            if fr {
                format!(
                    "{equipment} : firmware {firmware}, alors que les autres {model} sont en {usual} — l'aligner à la prochaine visite."
                )
            } else {
                format!(
                    "{equipment}: firmware {firmware} while the other {model} run {usual} — align it at the next visit."
                )
            }
        }
        Finding::RttRising { rtt, before } => {
            if fr {
                format!(
                    "{equipment} : le temps de réponse est passé de {:.0} ms à {:.0} ms — contrôler le lien réseau.",
                    before * 1000.0,
                    rtt * 1000.0
                )
            } else {
                format!(
                    "{equipment}: response time rose from {:.0} ms to {:.0} ms — check the network link.",
                    before * 1000.0,
                    rtt * 1000.0
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Rollup, SeriesKey};

    fn t0() -> DateTime<Utc> {
        "2026-03-01T00:00:00Z".parse().expect("t")
    }

    /// Hours from `start` for `n` hours, one series whose value at hour `h` is `f(h)`.
    fn hours(
        metric: &str,
        attrs: &str,
        start: DateTime<Utc>,
        n: i64,
        f: impl Fn(i64) -> (f32, f32, f32, f32),
    ) -> Vec<Hour> {
        (0..n)
            .map(|h| {
                let (min, mean, max, last) = f(h);
                Hour {
                    at: start + Duration::hours(h),
                    series: vec![(
                        SeriesKey {
                            metric: metric.into(),
                            attributes: attrs.into(),
                        },
                        Rollup {
                            min,
                            mean,
                            max,
                            last,
                            count: 60,
                        },
                    )],
                }
            })
            .collect()
    }

    fn inputs<'a>(month: &'a [Hour], before: &'a [Hour]) -> Inputs<'a> {
        Inputs {
            month,
            before,
            disk_critical: 95.0,
            temperature_warning: 70.0,
            now: t0() + Duration::days(31),
            from: t0(),
            facts: &[],
            usual_firmware: None,
            downs: (0, 0),
        }
    }

    fn flat(v: f32) -> impl Fn(i64) -> (f32, f32, f32, f32) {
        move |_| (v, v, v, v)
    }

    #[test]
    fn a_disk_growing_a_point_a_day_is_flagged_but_a_full_fifo_recorder_is_not() {
        // 60 % growing one point a day: 30 days later at 90 %, critical (95 %) 5 days after.
        let growing = hours(
            "system.filesystem.utilization",
            "mountpoint=/hdd",
            t0(),
            31 * 24,
            |h| {
                let v = 0.60 + 0.01 * (h as f32 / 24.0);
                (v, v, v, v)
            },
        );
        let s = disk_filling(&inputs(&growing, &[]));
        assert_eq!(s.len(), 1, "{s:?}");
        let Finding::DiskFilling {
            full_at, per_day, ..
        } = &s[0].finding
        else {
            panic!("{s:?}")
        };
        assert!((per_day - 0.01).abs() < 0.001, "{per_day}");
        let days = (*full_at - inputs(&growing, &[]).now).num_days();
        assert!((3..=6).contains(&days), "{days}");
        assert_eq!(s[0].priority, Priority::High);
        assert!(recommendation("NVR quai B", &s[0], Language::Fr).contains("sera plein vers le"));
        // A recorder overwriting its oldest footage: flat at 97 %, never "filling".
        let fifo = hours(
            "system.filesystem.utilization",
            "mountpoint=/hdd",
            t0(),
            31 * 24,
            |h| {
                let v = 0.97 + 0.002 * ((h % 24) as f32 / 24.0);
                (v, v, v, v)
            },
        );
        assert!(disk_filling(&inputs(&fifo, &[])).is_empty());
        // Slow growth (reaching 95 % in months) and too little data are not flagged.
        let slow = hours(
            "system.filesystem.utilization",
            "mountpoint=/hdd",
            t0(),
            31 * 24,
            |h| {
                let v = 0.40 + 0.001 * (h as f32 / 24.0);
                (v, v, v, v)
            },
        );
        assert!(disk_filling(&inputs(&slow, &[])).is_empty());
        let short = &growing[growing.len() - 3 * 24..];
        assert!(disk_filling(&inputs(short, &[])).is_empty());
    }

    #[test]
    fn warmer_months_and_repeated_warnings_are_flagged_a_steady_sensor_is_not() {
        let before = hours(
            "hw.temperature",
            "sensor=cpu",
            t0() - Duration::days(28),
            28 * 24,
            flat(40.0),
        );
        let warmer = hours("hw.temperature", "sensor=cpu", t0(), 31 * 24, flat(46.0));
        let s = temperature(&inputs(&warmer, &before));
        assert!(
            matches!(
                s[..],
                [Signal {
                    finding: Finding::TemperatureRising { .. },
                    ..
                }]
            ),
            "{s:?}"
        );
        let steady = hours("hw.temperature", "sensor=cpu", t0(), 31 * 24, flat(42.0));
        assert!(temperature(&inputs(&steady, &before)).is_empty());
        // Peaks over 70 °C in 4 hours of the month.
        let peaks = hours("hw.temperature", "sensor=cpu", t0(), 31 * 24, |h| {
            let max = if h % 200 == 0 { 72.0 } else { 45.0 };
            (40.0, 42.0, max, 42.0)
        });
        let s = temperature(&inputs(&peaks, &before));
        assert!(
            matches!(
                s[..],
                [Signal {
                    finding: Finding::TemperatureWarnings { hours: 4, .. },
                    ..
                }]
            ),
            "{s:?}"
        );
        assert!(
            recommendation("cam-3", &s[0], Language::En).contains("went over 70 °C in 4 hours")
        );
    }

    #[test]
    fn uptime_going_back_counts_reboots() {
        // Uptime grows 3600 s an hour, reset at hours 100 and 400.
        let month = hours("device.uptime", "", t0(), 31 * 24, |h| {
            let since = if h >= 400 {
                h - 400
            } else if h >= 100 {
                h - 100
            } else {
                h + 1000
            };
            let v = (since * 3600 + 1800) as f32;
            (v - 1800.0, v, v + 1800.0, v + 1800.0)
        });
        let s = reboots(&month, &[], t0());
        assert!(
            matches!(
                s[..],
                [Signal {
                    finding: Finding::Reboots { count: 2 },
                    ..
                }]
            ),
            "{s:?}"
        );
        let steady = hours("device.uptime", "", t0(), 31 * 24, |h| {
            let v = (h * 3600) as f32;
            (v, v + 1800.0, v + 3600.0, v + 3600.0)
        });
        assert!(reboots(&steady, &[], t0()).is_empty());
        // Boot ids: two new ones in the month are two reboots; one that changed before the
        // month is not, and a device reporting both its uptime and its boot id is not
        // counted twice.
        let boot =
            |at: DateTime<Utc>, id: &str| (at, vec![("boot_id".to_string(), id.to_string())]);
        let facts = vec![
            boot(t0() - Duration::days(3), "a"),
            boot(t0() + Duration::days(4), "b"),
            boot(t0() + Duration::days(17), "c"),
        ];
        let s = reboots(&steady, &facts, t0());
        assert!(
            matches!(
                s[..],
                [Signal {
                    finding: Finding::Reboots { count: 2 },
                    ..
                }]
            ),
            "{s:?}"
        );
        assert!(recommendation("nvr-1", &s[0], Language::En).contains("2 reboots this month"));
        assert!(reboots(&steady, &facts[..2], t0()).is_empty(), "one reboot");
        assert!(
            matches!(
                reboots(&month, &facts, t0())[..],
                [Signal {
                    finding: Finding::Reboots { count: 2 },
                    ..
                }]
            ),
            "the same reboots seen twice"
        );
    }

    #[test]
    fn a_part_reported_failed_and_a_degrading_network_are_flagged() {
        let month = hours("hw.status", "disk=hdd2", t0(), 31 * 24, |h| {
            let v = if (10..13).contains(&h) { 0.0 } else { 1.0 };
            (v, v, v, v)
        });
        let s = hardware(&month);
        assert!(
            matches!(
                &s[..],
                [Signal {
                    finding: Finding::HardwareFailed { hours: 3, .. },
                    priority: Priority::High
                }]
            ),
            "{s:?}"
        );
        assert!(
            recommendation("NVR quai B", &s[0], Language::Fr)
                .contains("NVR quai B : disque hdd2 signalé en défaut pendant 3 heures ce mois-ci"),
            "{}",
            recommendation("NVR quai B", &s[0], Language::Fr)
        );
        assert!(recommendation("NVR quai B", &s[0], Language::En).contains(
            "NVR quai B: disk hdd2 reported failed in 3 hours this month — plan its replacement"
        ));
        let healthy = hours("hw.status", "disk=hdd1", t0(), 31 * 24, flat(1.0));
        assert!(hardware(&healthy).is_empty());
        // A fan and a heater failing (as the Axis plugin reports them) are flagged in plain
        // words; the same parts working are not.
        for (attrs, en, fr) in [
            (
                "fan=F0,hw.type=fan",
                "fan F0 reported failed",
                "ventilateur F0 signalé en défaut",
            ),
            (
                "heater=H1,hw.type=heater",
                "heater H1 reported failed",
                "chauffage H1 signalé en défaut",
            ),
            (
                "hw.id=PSU2,hw.type=power_supply",
                "power supply PSU2 reported failed",
                "alimentation PSU2 signalé en défaut",
            ),
        ] {
            let failing = hours("hw.status", attrs, t0(), 48, |h| {
                let v = if h >= 40 { 0.0 } else { 1.0 };
                (v, v, v, v)
            });
            let s = hardware(&failing);
            assert_eq!(s.len(), 1, "{attrs}: {s:?}");
            assert!(
                recommendation("cam-4", &s[0], Language::En).contains(en),
                "{attrs}"
            );
            assert!(
                recommendation("cam-4", &s[0], Language::Fr).contains(fr),
                "{attrs}"
            );
            assert!(hardware(&hours("hw.status", attrs, t0(), 48, flat(1.0))).is_empty());
        }
        let before = hours(
            "network.icmp.loss",
            "",
            t0() - Duration::days(28),
            28 * 24,
            flat(0.0),
        );
        let lossy = hours("network.icmp.loss", "", t0(), 31 * 24, flat(0.05));
        assert_eq!(network(&lossy, &before).len(), 1);
        let fine = hours("network.icmp.loss", "", t0(), 31 * 24, flat(0.01));
        assert!(network(&fine, &before).is_empty());
        let all = detect(&inputs(&lossy, &before));
        assert_eq!(all.len(), 1);
        // Round trips: doubled to 30 ms is flagged, 12 ms against 10 is not, nor a doubling
        // that stays under 10 ms.
        let rtt_before = hours(
            "network.icmp.rtt",
            "",
            t0() - Duration::days(28),
            28 * 24,
            flat(0.010),
        );
        let slow = hours("network.icmp.rtt", "", t0(), 31 * 24, flat(0.030));
        let s = network(&slow, &rtt_before);
        assert!(
            matches!(
                &s[..],
                [Signal {
                    finding: Finding::RttRising { .. },
                    priority: Priority::Low
                }]
            ),
            "{s:?}"
        );
        assert!(
            recommendation("sw-1", &s[0], Language::Fr)
                .contains("le temps de réponse est passé de 10 ms à 30 ms")
        );
        let a_bit = hours("network.icmp.rtt", "", t0(), 31 * 24, flat(0.012));
        assert!(network(&a_bit, &rtt_before).is_empty());
        let fast_before = hours(
            "network.icmp.rtt",
            "",
            t0() - Duration::days(28),
            28 * 24,
            flat(0.002),
        );
        let fast = hours("network.icmp.rtt", "", t0(), 31 * 24, flat(0.005));
        assert!(network(&fast, &fast_before).is_empty());
    }

    #[test]
    fn a_clock_off_by_minutes_a_swapped_device_and_an_odd_firmware_are_flagged() {
        let off = hours("device.clock.offset", "", t0(), 24, |h| {
            let v = if h == 5 { -95.0 } else { 2.0 };
            (v, v, v, v)
        });
        let s = clock(&off);
        assert!(
            matches!(s[..], [Signal { finding: Finding::ClockDrift { offset }, .. }] if offset == -95.0),
            "{s:?}"
        );
        assert!(recommendation("cam-7", &s[0], Language::Fr).contains("décalée de 95 s"));
        assert!(clock(&hours("device.clock.offset", "", t0(), 24, flat(3.0))).is_empty());
        let f = |serial: &str, fw: &str| {
            vec![
                ("firmware".to_string(), fw.to_string()),
                ("model".to_string(), "DS-2CD2143".to_string()),
                ("serial".to_string(), serial.to_string()),
            ]
        };
        let history = vec![
            (t0() - Duration::days(40), f("AAA", "V5.7.3")),
            (t0() + Duration::days(12), f("BBB", "V5.5.0")),
        ];
        let fleet = [f("X", "V5.7.3"), f("Y", "V5.7.3"), history[1].1.clone()];
        let usual = usual_firmware(fleet.iter().map(Vec::as_slice));
        assert_eq!(usual.get("DS-2CD2143").map(String::as_str), Some("V5.7.3"));
        let s = identity(&history, t0(), usual.get("DS-2CD2143").map(String::as_str));
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(
            matches!(&s[0].finding, Finding::DeviceSwapped { before, after, .. } if before == "AAA" && after == "BBB")
        );
        assert!(
            recommendation("cam-7", &s[1], Language::En)
                .contains("firmware V5.5.0 while the other DS-2CD2143 run V5.7.3")
        );
        // A swap before the month, and a tie between firmwares, say nothing.
        assert!(identity(&history, t0() + Duration::days(20), None).is_empty());
        let tie = [f("X", "A"), f("Y", "B")];
        assert!(usual_firmware(tie.iter().map(Vec::as_slice)).is_empty());
    }

    #[test]
    fn going_down_more_and_more_often_is_flapping() {
        assert!(matches!(
            flapping(6, 2),
            Some(Signal {
                finding: Finding::Flapping {
                    downs: 6,
                    before: 2
                },
                ..
            })
        ));
        assert!(flapping(6, 4).is_none(), "not twice as often");
        assert!(flapping(3, 0).is_none(), "too few");
        let s = flapping(8, 1).expect("flapping");
        assert!(
            recommendation("cam-2", &s, Language::Fr).contains("8 coupures ce mois-ci contre 1")
        );
    }
}
