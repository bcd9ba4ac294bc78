//! A latency histogram shared between threads without locks: fixed buckets in seconds, as
//! Prometheus and OpenTelemetry export them (cumulative counts, sum and count).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (the last bucket, `+Inf`, is implicit).
pub const BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Durations recorded in fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_ns: AtomicU64,
}

/// A histogram's counts at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// Count per bucket, not cumulative; one more than [`BOUNDS`] (the last is `+Inf`).
    pub counts: Vec<u64>,
    /// Sum of the durations, in seconds.
    pub sum: f64,
}

impl HistogramSnapshot {
    /// Number of durations recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Cumulative counts per upper bound, as Prometheus' `le` buckets (without `+Inf`).
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        BOUNDS
            .iter()
            .zip(&self.counts)
            .map(|(b, c)| {
                total += c;
                (*b, total)
            })
            .collect()
    }
}

impl Histogram {
    /// Records one duration.
    pub fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_their_bucket_and_add_up() {
        let h = Histogram::default();
        h.record(Duration::from_micros(300));
        h.record(Duration::from_millis(3));
        h.record(Duration::from_millis(3));
        h.record(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count(), 4);
        assert_eq!(s.counts[0], 1);
        assert_eq!(s.counts[3], 2);
        assert_eq!(s.counts[BOUNDS.len()], 1);
        let cumulative = s.cumulative();
        assert_eq!(cumulative[3], (0.005, 3));
        assert_eq!(cumulative.last(), Some(&(10.0, 3)));
        assert!((s.sum - 60.0063).abs() < 1e-9);
    }
}
