//! Metric history (R14): hourly rollups (min, mean, max, last) of the metrics the policy and
//! the weak-signal detectors need — disk utilisation per volume, temperatures, CPU, memory,
//! ICMP round-trip time and loss, uptime, hardware status, clock offset — per equipment. Raw observations
//! are not kept: each equipment actor folds its observations into the hour in progress and
//! hands the store the finished hour, one row per equipment and hour in a compact binary
//! layout (see [`encode`]). Pure: no actors, no storage.

use crate::observation::Metric;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The metrics kept, by their one-byte code in a row. Codes are never reused.
pub const KEPT: &[(u8, &str)] = &[
    (1, "system.filesystem.utilization"),
    (2, "hw.temperature"),
    (3, "system.cpu.utilization"),
    (4, "system.memory.utilization"),
    (5, "network.icmp.rtt"),
    (6, "network.icmp.loss"),
    (7, "device.uptime"),
    (8, "hw.status"),
    (9, "device.clock.offset"),
];

/// The code of a kept metric.
fn code_of(name: &str) -> Option<u8> {
    KEPT.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
}

/// The metric a code stands for.
fn name_of(code: u8) -> Option<&'static str> {
    KEPT.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// How long the rollups are kept: 13 months (a month compared with the same month a year
/// before).
pub const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(13 * 2_629_746);

/// Series kept per equipment and hour at most (a device reporting more keeps the first).
pub const MAX_SERIES: usize = 48;

/// Longest attribute text kept for a series (longer ones are cut).
const MAX_ATTRIBUTES: usize = 120;

/// One series over one hour.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// Smallest value.
    pub min: f32,
    /// Mean of the values.
    pub mean: f32,
    /// Largest value.
    pub max: f32,
    /// Last value.
    pub last: f32,
    /// Values folded in.
    pub count: u16,
}

/// One series' identity: the metric and its attributes (`mountpoint=/hdd`).
#[derive(
    utoipa::ToSchema, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SeriesKey {
    /// Metric name.
    pub metric: String,
    /// Attributes, `k=v` joined by `,`, sorted.
    pub attributes: String,
}

impl std::fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.attributes.is_empty() {
            f.write_str(&self.metric)
        } else {
            write!(f, "{}{{{}}}", self.metric, self.attributes)
        }
    }
}

/// One equipment's hour.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hour {
    /// Its start.
    pub at: DateTime<Utc>,
    /// Each series.
    pub series: Vec<(SeriesKey, Rollup)>,
}

/// Hours since the Unix epoch of an instant.
pub fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// The start of an hour number.
pub fn start_of(hour: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(hour.saturating_mul(3600), 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[derive(Debug, Clone, Copy)]
struct Acc {
    min: f64,
    max: f64,
    sum: f64,
    last: f64,
    count: u32,
}

/// One series of the hour in progress: the metric's code in [`KEPT`] and its attributes.
#[derive(Debug, Clone)]
struct Running {
    code: u8,
    attributes: Box<str>,
    acc: Acc,
}

/// The hour in progress of one equipment: a short list kept with no spare room, since every
/// equipment holds one (a map's first node would cost about a kilobyte each).
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    hour: Option<i64>,
    series: Vec<Running>,
}

impl Accumulator {
    /// Folds the kept metrics of one observation made at `at`. When `at` is in a later hour
    /// than the one in progress, that one is finished and answered.
    pub fn add(&mut self, at: DateTime<Utc>, metrics: &[Metric]) -> Option<(i64, Hour)> {
        let h = hour_of(at);
        let done = match self.hour {
            Some(old) if old < h => self.take(),
            _ => None,
        };
        if self.hour.is_none_or(|old| old < h) {
            self.hour = Some(h);
        }
        for m in metrics {
            if !m.value.is_finite() {
                continue;
            }
            let Some(code) = code_of(&m.name) else {
                continue;
            };
            let attributes = attributes_of(m);
            let a = match self
                .series
                .iter()
                .position(|r| r.code == code && *r.attributes == *attributes)
            {
                Some(i) => &mut self.series[i].acc,
                None if self.series.len() >= MAX_SERIES => continue,
                None => {
                    self.series.reserve_exact(1);
                    self.series.push(Running {
                        code,
                        attributes: attributes.into(),
                        acc: Acc {
                            min: m.value,
                            max: m.value,
                            sum: 0.0,
                            last: m.value,
                            count: 0,
                        },
                    });
                    let last = self.series.len() - 1;
                    &mut self.series[last].acc
                }
            };
            a.min = a.min.min(m.value);
            a.max = a.max.max(m.value);
            a.sum += m.value;
            a.last = m.value;
            a.count = a.count.saturating_add(1);
        }
        done
    }

    /// Finishes the hour in progress (at a stop), if it has anything.
    pub fn take(&mut self) -> Option<(i64, Hour)> {
        let h = self.hour.take()?;
        if self.series.is_empty() {
            return None;
        }
        // Drained, so the next hour reuses the room.
        let mut series: Vec<(SeriesKey, Rollup)> = self
            .series
            .drain(..)
            .map(
                |Running {
                     code,
                     attributes,
                     acc: a,
                 }| {
                    let metric = name_of(code).unwrap_or_default().to_string();
                    (
                        SeriesKey {
                            metric,
                            attributes: attributes.into(),
                        },
                        Rollup {
                            min: a.min as f32,
                            mean: (a.sum / f64::from(a.count.max(1))) as f32,
                            max: a.max as f32,
                            last: a.last as f32,
                            count: a.count.min(u32::from(u16::MAX)) as u16,
                        },
                    )
                },
            )
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        Some((
            h,
            Hour {
                at: start_of(h),
                series,
            },
        ))
    }
}

/// The same hour written twice (before and after a restart): one hour with both parts, the
/// later part's values last.
pub fn merge(earlier: &Hour, later: &Hour) -> Hour {
    let mut series: BTreeMap<SeriesKey, Rollup> = earlier.series.iter().cloned().collect();
    for (k, r) in &later.series {
        let room = series.len() < MAX_SERIES;
        match series.get_mut(k) {
            Some(o) => {
                let n = u32::from(o.count) + u32::from(r.count);
                o.mean = ((f64::from(o.mean) * f64::from(o.count)
                    + f64::from(r.mean) * f64::from(r.count))
                    / f64::from(n.max(1))) as f32;
                o.min = o.min.min(r.min);
                o.max = o.max.max(r.max);
                o.last = r.last;
                o.count = n.min(u32::from(u16::MAX)) as u16;
            }
            None if room => {
                series.insert(k.clone(), *r);
            }
            None => {}
        }
    }
    Hour {
        at: later.at,
        series: series.into_iter().collect(),
    }
}

/// A series' attributes as kept: `k=v` sorted and joined by `,`, without `state`, cut at
/// [`MAX_ATTRIBUTES`]; borrowed (no allocation) when there are none.
fn attributes_of(m: &Metric) -> std::borrow::Cow<'static, str> {
    let mut attrs: Vec<String> = m
        .attributes
        .iter()
        .filter(|(k, _)| k != "state")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if attrs.is_empty() {
        return std::borrow::Cow::Borrowed("");
    }
    attrs.sort();
    let mut attributes = attrs.join(",");
    if attributes.len() > MAX_ATTRIBUTES {
        let mut cut = MAX_ATTRIBUTES;
        while !attributes.is_char_boundary(cut) {
            cut -= 1;
        }
        attributes.truncate(cut);
    }
    std::borrow::Cow::Owned(attributes)
}

/// Why a stored row cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("history row: {0}")]
pub struct DecodeError(String);

/// An hour as stored: per series, the metric's code (1 byte), the attributes' length
/// (1 byte) and text, then min, mean, max and last as little-endian `f32` and the count as
/// `u16` (18 bytes).
pub fn encode(hour: &Hour) -> Vec<u8> {
    let mut out = Vec::with_capacity(hour.series.len() * 24);
    for (k, r) in &hour.series {
        let Some(code) = code_of(&k.metric) else {
            continue;
        };
        let attrs = k.attributes.as_bytes();
        let len = attrs.len().min(MAX_ATTRIBUTES);
        out.push(code);
        out.push(len as u8);
        out.extend_from_slice(&attrs[..len]);
        for v in [r.min, r.mean, r.max, r.last] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&r.count.to_le_bytes());
    }
    out
}

/// Reads a stored hour back.
pub fn decode(hour: i64, bytes: &[u8]) -> Result<Hour, DecodeError> {
    let mut series = Vec::new();
    let mut i = 0;
    let cut = |what: &str| DecodeError(format!("cut short in {what}"));
    while i < bytes.len() {
        let code = bytes[i];
        let metric = name_of(code)
            .map(str::to_string)
            .ok_or_else(|| DecodeError(format!("unknown metric code {code}")))?;
        let len = *bytes.get(i + 1).ok_or_else(|| cut("a series"))? as usize;
        let text = bytes
            .get(i + 2..i + 2 + len)
            .ok_or_else(|| cut("attributes"))?;
        let attributes = String::from_utf8(text.to_vec())
            .map_err(|_| DecodeError("attributes are not UTF-8".into()))?;
        let at = i + 2 + len;
        let v = bytes.get(at..at + 18).ok_or_else(|| cut("values"))?;
        let f = |o: usize| f32::from_le_bytes([v[o], v[o + 1], v[o + 2], v[o + 3]]);
        series.push((
            SeriesKey { metric, attributes },
            Rollup {
                min: f(0),
                mean: f(4),
                max: f(8),
                last: f(12),
                count: u16::from_le_bytes([v[16], v[17]]),
            },
        ));
        i = at + 18;
    }
    Ok(Hour {
        at: start_of(hour),
        series,
    })
}

/// The day number (since the epoch) of an hour number: rows are stored per equipment and day.
pub fn day_of(hour: i64) -> i64 {
    hour.div_euclid(24)
}

/// A day row with `hour`'s row put in (merged with what the row already had for that hour).
/// A day row is a sequence of blocks: the hour within the day (1 byte), the length of the
/// hour's row (2 bytes, little-endian) and the row. An unreadable day row is replaced.
pub fn day_put(day_row: Option<&[u8]>, hour: i64, row: &[u8]) -> Vec<u8> {
    let day = day_of(hour);
    let mut hours: BTreeMap<i64, Vec<u8>> = day_row
        .and_then(|b| day_blocks(day, b).ok())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let merged = match hours.get(&hour) {
        Some(old) => match (decode(hour, old), decode(hour, row)) {
            (Ok(a), Ok(b)) => encode(&merge(&a, &b)),
            _ => row.to_vec(),
        },
        None => row.to_vec(),
    };
    hours.insert(hour, merged);
    blocks(day, hours.iter().map(|(h, r)| (*h, r.as_slice())))
}

/// A day row of `day` from its hours' rows, in hour order.
fn blocks<'r>(day: i64, hours: impl Iterator<Item = (i64, &'r [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, r) in hours {
        let len = r.len().min(usize::from(u16::MAX));
        out.push((h - day * 24) as u8);
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&r[..len]);
    }
    out
}

/// A day row made of hour rows of one day (see [`day_put`]); a later row for the same hour
/// replaces an earlier one, hours outside the first row's day are left out.
pub fn day_row(hours: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let Some((first, _)) = hours.first() else {
        return Vec::new();
    };
    let day = day_of(*first);
    let by_hour: BTreeMap<i64, &[u8]> = hours
        .iter()
        .filter(|(h, _)| day_of(*h) == day)
        .map(|(h, r)| (*h, r.as_slice()))
        .collect();
    blocks(day, by_hour.into_iter())
}

/// `old` with the hours of the day row `new` put in, each merged as [`day_put`] does; an
/// unreadable `new` leaves `old` as it was.
pub fn day_merge(old: Option<&[u8]>, day: i64, new: &[u8]) -> Vec<u8> {
    let Some(old) = old else {
        return new.to_vec();
    };
    let Ok(blocks) = day_blocks(day, new) else {
        return old.to_vec();
    };
    blocks
        .iter()
        .fold(old.to_vec(), |row, (h, r)| day_put(Some(&row), *h, r))
}

/// The hours of a day row, as (hour number, row).
fn day_blocks(day: i64, bytes: &[u8]) -> Result<Vec<(i64, Vec<u8>)>, DecodeError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let h = i64::from(bytes[i]);
        if h >= 24 {
            return Err(DecodeError(format!("hour {h} of a day")));
        }
        let len = bytes
            .get(i + 1..i + 3)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| DecodeError("cut short in a day row".into()))?;
        let row = bytes
            .get(i + 3..i + 3 + len)
            .ok_or_else(|| DecodeError("cut short in a day row".into()))?;
        out.push((day * 24 + h, row.to_vec()));
        i += 3 + len;
    }
    Ok(out)
}

/// The hours of a stored day row.
pub fn day_decode(day: i64, bytes: &[u8]) -> Result<Vec<Hour>, DecodeError> {
    day_blocks(day, bytes)?
        .into_iter()
        .map(|(h, r)| decode(h, &r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn an_hour_folds_min_mean_max_last_per_series_and_is_handed_over_when_the_next_begins() {
        let mut acc = Accumulator::default();
        let disk =
            |v: f64| Metric::new("system.filesystem.utilization", v).with("mountpoint", "/hdd");
        assert!(
            acc.add(
                at("2026-03-01T10:00:00Z"),
                &[disk(0.5), Metric::new("network.icmp.rtt", 0.002)]
            )
            .is_none()
        );
        assert!(
            acc.add(
                at("2026-03-01T10:30:00Z"),
                &[disk(0.7), Metric::new("ignored.metric", 1.0)]
            )
            .is_none()
        );
        assert!(
            acc.add(
                at("2026-03-01T10:59:59Z"),
                &[disk(0.6), Metric::new("network.icmp.rtt", f64::NAN)]
            )
            .is_none()
        );
        let (h, hour) = acc
            .add(at("2026-03-01T11:00:00Z"), &[disk(0.8)])
            .expect("10:00 finished");
        assert_eq!(h, hour_of(at("2026-03-01T10:00:00Z")));
        assert_eq!(hour.at, at("2026-03-01T10:00:00Z"));
        assert_eq!(hour.series.len(), 2, "{hour:?}");
        let (k, r) = &hour.series[1];
        assert_eq!(
            k.to_string(),
            "system.filesystem.utilization{mountpoint=/hdd}"
        );
        assert_eq!((r.min, r.max, r.last, r.count), (0.5, 0.7, 0.6, 3));
        assert!((r.mean - 0.6).abs() < 1e-6);
        let back = decode(h, &encode(&hour)).expect("decode");
        assert_eq!(back, hour);
        // The hour in progress is handed over at a stop.
        let (h2, rest) = acc.take().expect("11:00");
        assert_eq!(h2, h + 1);
        assert_eq!(rest.series[0].1.count, 1);
        assert!(acc.take().is_none());
        // The same hour again after a restart: merged.
        acc.add(at("2026-03-01T11:40:00Z"), &[disk(0.2)]);
        let (_, again) = acc.take().expect("11:00 again");
        let both = merge(&rest, &again);
        let r = both.series[0].1;
        assert_eq!((r.min, r.max, r.last, r.count), (0.2, 0.8, 0.2, 2));
        assert!((r.mean - 0.5).abs() < 1e-6);
        // Stored in a day row: the two hours, the second one merged when written again.
        let day = day_put(None, h, &encode(&hour));
        let day = day_put(Some(&day), h2, &encode(&rest));
        let day = day_put(Some(&day), h2, &encode(&again));
        let hours = day_decode(day_of(h), &day).expect("day");
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[0], hour);
        assert_eq!(hours[1], both);
        assert!(day_decode(day_of(h), &day[..day.len() - 1]).is_err());
        assert!(day_decode(day_of(h), &[30, 0, 0]).is_err());
    }

    #[test]
    fn rows_are_small_and_garbage_is_an_error_not_a_panic() {
        let mut acc = Accumulator::default();
        let metrics = vec![
            Metric::new("network.icmp.rtt", 0.002),
            Metric::new("network.icmp.loss", 0.0),
        ];
        acc.add(at("2026-03-01T10:00:00Z"), &metrics);
        acc.add(at("2026-03-01T10:01:00Z"), &metrics);
        // Every equipment holds its hour in progress: no spare room in it.
        assert_eq!((acc.series.len(), acc.series.capacity()), (2, 2));
        let (h, hour) = acc.take().expect("hour");
        let bytes = encode(&hour);
        assert_eq!(bytes.len(), 2 * 20);
        for n in 0..bytes.len() {
            let _ = decode(h, &bytes[..n]);
        }
        assert!(decode(h, &[99, 0]).is_err());
        assert!(decode(h, &bytes[..bytes.len() - 1]).is_err());
        // A device reporting hundreds of series keeps a bounded number.
        let many: Vec<Metric> = (0..500)
            .map(|i| Metric::new("hw.temperature", 40.0).with("sensor", &format!("s{i}")))
            .collect();
        acc.add(at("2026-03-01T10:00:00Z"), &many);
        assert_eq!(acc.take().expect("hour").1.series.len(), MAX_SERIES);
    }

    #[test]
    fn a_whole_day_row_is_built_from_hours_and_merged_into_what_is_stored() {
        let hour = |h: i64, v: f64| {
            let mut acc = Accumulator::default();
            acc.add(start_of(h), &[Metric::new("network.icmp.rtt", v)]);
            encode(&acc.take().expect("hour").1)
        };
        let h0 = hour_of(at("2026-03-01T00:00:00Z"));
        // Hours of the next day are left out of a day row.
        let row = day_row(&[
            (h0, hour(h0, 1.0)),
            (h0 + 1, hour(h0 + 1, 2.0)),
            (h0 + 24, hour(h0 + 24, 9.0)),
        ]);
        let hours = day_decode(day_of(h0), &row).expect("row");
        assert_eq!(hours.len(), 2);
        // Merged into a stored row: hour 1 folded with what was there, hour 5 added.
        let stored = day_put(None, h0 + 1, &hour(h0 + 1, 4.0));
        let stored = day_put(Some(&stored), h0 + 5, &hour(h0 + 5, 5.0));
        let merged = day_merge(Some(&stored), day_of(h0), &row);
        let hours = day_decode(day_of(h0), &merged).expect("row");
        assert_eq!(hours.len(), 3);
        let one = &hours[1].series[0].1;
        assert_eq!((one.min, one.max, one.count), (2.0, 4.0, 2));
        // Nothing stored: the row as it is; garbage: the stored row kept.
        assert_eq!(day_merge(None, day_of(h0), &row), row);
        assert_eq!(day_merge(Some(&stored), day_of(h0), &[99, 1]), stored);
    }
}
