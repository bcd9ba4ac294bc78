//! Retention of the event log (`[daemon] retention`, 25 months by default): events older than
//! the retention are removed, with the transitions and ended alerts of the indexes, and the
//! availability baseline folded over them is kept in their place so availability after the
//! cut stays exact. Hourly metric rollups are kept 13 months. Runs at start and once a day;
//! never removes what the notifier has not read yet.

use crate::store::{Compaction, Store, StoreError, StoreReader};
use chrono::{DateTime, Utc};
use std::time::Duration;
use vigie_core::availability::Baseline;

/// Events read per call while looking for the cut.
const READ_BATCH: usize = 10_000;

/// How often the log is compacted.
pub const EVERY: Duration = Duration::from_secs(86_400);

/// Compacts the log a minute after start, then every [`EVERY`], with the retention of the
/// config in force; until the task is aborted.
pub async fn run(
    store: Store,
    config: tokio::sync::watch::Receiver<Option<std::sync::Arc<crate::config::Config>>>,
    clock: crate::clock::Clock,
) {
    let reader = store.reader();
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::time::sleep(wait).await;
        wait = EVERY;
        let keep = config
            .borrow()
            .as_ref()
            .map_or(crate::config::DEFAULT_RETENTION, |c| c.daemon.retention);
        let ago = |d: Duration| {
            clock.now() - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(761))
        };
        let (before, history_before) = (ago(keep), ago(vigie_core::history::KEPT_FOR));
        let (r, s) = (reader.clone(), store.clone());
        match tokio::task::spawn_blocking(move || compact(&r, &s, before, history_before)).await {
            Ok(Ok(Some(c))) => tracing::info!(
                events = c.events, upto = c.upto, before = %before,
                "event log compacted: events older than the retention removed, availability kept"
            ),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::error!("the event log cannot be compacted: {e}"),
            Err(e) => tracing::error!("the event log cannot be compacted: {e}"),
        }
    }
}

/// What one compaction removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// Events removed up to this sequence number.
    pub upto: u64,
    /// How many.
    pub events: u64,
}

/// Removes the events before `before` (the notifier's cursor permitting) and the metric
/// rollups of hours before `history_before`; answers which events were removed, or `None`
/// when none is old enough.
pub fn compact(
    reader: &StoreReader,
    store: &Store,
    before: DateTime<Utc>,
    history_before: DateTime<Utc>,
) -> Result<Option<Compacted>, StoreError> {
    let mut baseline = reader.baseline()?.unwrap_or_default();
    let first = baseline.seq;
    // Events the notifier has not turned into deliveries yet stay.
    let limit = reader.outbox_cursor()?.unwrap_or(u64::MAX);
    let mut upto = first;
    'read: loop {
        let batch = reader.events_after(upto, READ_BATCH)?;
        if batch.is_empty() {
            break;
        }
        let full = batch.len() == READ_BATCH;
        let mut old = Vec::new();
        for e in batch {
            if e.at >= before || e.seq > limit {
                baseline = fold(baseline, &old, &mut upto);
                break 'read;
            }
            old.push(e);
        }
        baseline = fold(baseline, &old, &mut upto);
        if !full {
            break;
        }
    }
    let bytes = serde_json::to_vec(&baseline)
        .map_err(|e| StoreError::Db(format!("the availability baseline cannot be written: {e}")))?;
    store.compact(Compaction {
        upto,
        before,
        baseline: bytes,
        history_before: vigie_core::history::hour_of(history_before),
    });
    Ok((upto > first).then_some(Compacted {
        upto,
        events: upto - first,
    }))
}

fn fold(baseline: Baseline, events: &[crate::events::Event], upto: &mut u64) -> Baseline {
    if let Some(last) = events.last() {
        *upto = last.seq;
    }
    baseline.fold(events)
}
