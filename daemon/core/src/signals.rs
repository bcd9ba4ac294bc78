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
//! - **reboots**: the uptime going back between two readings is a reboot; 2 or more in the
//!   month are flagged.
//! - **hardware**: a part (disk, fan, power supply) reported failed (`hw.status` 0) in any
//!   hour of the month, with the number of hours.
//! - **network**: ICMP loss averaging 2 points more than the previous month (and at least
//!   2 %), or a mean round-trip time doubled (and at least 10 ms).

use crate::config::Language;
use crate::history::Hour;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How soon a signal should be acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// A signal and its recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// What was found.
    pub finding: Finding,
    /// How soon to act.
    pub priority: Priority,
}

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
}

/// Every signal of one equipment, most urgent first.
pub fn detect(i: &Inputs<'_>) -> Vec<Signal> {
    let mut out = Vec::new();
    out.extend(disk_filling(i));
    out.extend(temperature(i));
    out.extend(reboots(i.month));
    out.extend(hardware(i.month));
    out.extend(network(i.month, i.before));
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

/// Reboots, by the rule in the module's documentation.
pub fn reboots(month: &[Hour]) -> Vec<Signal> {
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
        let s = reboots(&month);
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
        assert!(reboots(&steady).is_empty());
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
                .contains("disk=hdd2 signalé en défaut pendant 3 heures")
        );
        let healthy = hours("hw.status", "disk=hdd1", t0(), 31 * 24, flat(1.0));
        assert!(hardware(&healthy).is_empty());
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
    }
}
