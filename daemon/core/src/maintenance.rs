//! Maintenance windows (R9): one-off or recurring (RFC 5545 RRULE), read in the site's time zone.
//!
//! A window's start is a local wall-clock time in the site's zone; its duration is elapsed
//! time. Recurrences are expanded by the `rrule` crate in the site's zone, so a weekly window
//! at 01:00 stays at 01:00 local time across a DST change.

use crate::config::EquipmentId;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bound on the occurrences expanded to answer one question about a recurring window.
const MAX_EXPANSION: usize = 200_000;

/// Why a window could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WindowError {
    /// The recurrence rule is not valid RFC 5545.
    #[error("invalid recurrence rule: {0}")]
    Recurrence(String),
    /// The duration is zero.
    #[error("the duration must be longer than zero")]
    ZeroDuration,
}

/// A validated maintenance window.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct MaintenanceWindow {
    /// Display name.
    pub name: String,
    /// Local start (wall clock in the site's zone).
    pub start: NaiveDateTime,
    /// Length of each occurrence.
    #[serde(with = "crate::util::serde_duration")]
    pub duration: Duration,
    /// The recurrence rule as written, if any.
    pub recurrence: Option<String>,
    /// Equipment covered; the whole site when `None`.
    pub equipment: Option<Vec<EquipmentId>>,
    /// Zone the window is read in.
    #[serde(skip)]
    tz: Tz,
    #[serde(skip)]
    rule: Option<Arc<Recurrence>>,
}

/// An expanded recurrence rule, with a cursor so each question expands it from the latest
/// occurrence already found rather than from its start.
#[derive(Debug)]
struct Recurrence {
    parsed: RRule<Unvalidated>,
    origin: Arc<RRuleSet>,
    /// A set rebuilt to start at a known occurrence (the cursor), when the rule has no COUNT.
    near: Mutex<Option<(DateTime<rrule::Tz>, Arc<RRuleSet>)>>,
    restartable: bool,
    /// Local wall time of the window's start: only occurrences at that time are used to
    /// rebuild the rule (one moved by a DST gap would carry its shifted time forward).
    start_time: chrono::NaiveTime,
}

/// How far the cursor must move before the set is rebuilt around it.
const REBASE_AFTER_DAYS: i64 = 7;

impl Recurrence {
    /// A set whose expansion starts at or before `at`.
    fn set_from(&self, at: DateTime<Utc>) -> Arc<RRuleSet> {
        let near = self.near.lock().unwrap_or_else(|p| p.into_inner());
        match near.as_ref() {
            Some((cursor, set)) if cursor.with_timezone(&Utc) <= at => Arc::clone(set),
            _ => Arc::clone(&self.origin),
        }
    }

    /// Whether the rule may be rebuilt around this occurrence.
    fn can_rebase_at(&self, occurrence: &DateTime<rrule::Tz>) -> bool {
        self.restartable && occurrence.naive_local().time() == self.start_time
    }

    /// Records an occurrence found, moving the cursor forward when it went far enough
    /// (or at once when `force`, after an expansion that reached its bound).
    fn remember(&self, occurrence: DateTime<rrule::Tz>, force: bool) {
        if !self.can_rebase_at(&occurrence) {
            return;
        }
        let mut near = self.near.lock().unwrap_or_else(|p| p.into_inner());
        let from = near
            .as_ref()
            .map(|(cursor, _)| *cursor)
            .unwrap_or_else(|| self.origin_start());
        let far_enough = force || occurrence - from > chrono::Duration::days(REBASE_AFTER_DAYS);
        if far_enough
            && occurrence > from
            && let Ok(set) = self.parsed.clone().build(occurrence)
        {
            *near = Some((occurrence, Arc::new(set)));
        }
    }

    fn origin_start(&self) -> DateTime<rrule::Tz> {
        *self.origin.get_dt_start()
    }
}

impl PartialEq for MaintenanceWindow {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.start == other.start
            && self.duration == other.duration
            && self.recurrence == other.recurrence
            && self.equipment == other.equipment
            && self.tz == other.tz
    }
}

/// The instant a local wall-clock time falls on; a time skipped by a DST jump moves forward
/// by the jump, an ambiguous time takes its first occurrence.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(dt) = tz.from_local_datetime(&local).earliest() {
        return dt.with_timezone(&Utc);
    }
    // In a DST gap: try later minutes until the local time exists.
    for minutes in 1..=180 {
        let shifted = local + ChronoDuration::minutes(minutes);
        if let Some(dt) = tz.from_local_datetime(&shifted).earliest() {
            return dt.with_timezone(&Utc) - ChronoDuration::minutes(minutes);
        }
    }
    Utc.from_utc_datetime(&local)
}

impl MaintenanceWindow {
    /// Builds a window; `recurrence` is an RRULE body such as `FREQ=WEEKLY;BYDAY=SU`.
    pub fn new(
        name: String,
        tz: Tz,
        start: NaiveDateTime,
        duration: Duration,
        recurrence: Option<String>,
        equipment: Option<Vec<EquipmentId>>,
    ) -> Result<Self, WindowError> {
        if duration.is_zero() {
            return Err(WindowError::ZeroDuration);
        }
        let rule = match &recurrence {
            None => None,
            Some(text) => {
                let body = text.strip_prefix("RRULE:").unwrap_or(text);
                let parsed: RRule<Unvalidated> = body
                    .parse()
                    .map_err(|e: rrule::RRuleError| WindowError::Recurrence(e.to_string()))?;
                let start_utc = local_to_utc(tz, start);
                let dt_start = start_utc.with_timezone(&rrule::Tz::Tz(tz));
                let restartable = parsed
                    .clone()
                    .validate(dt_start)
                    .is_ok_and(|r| r.get_count().is_none());
                let set = parsed
                    .clone()
                    .build(dt_start)
                    .map_err(|e| WindowError::Recurrence(e.to_string()))?;
                Some(Arc::new(Recurrence {
                    start_time: dt_start.naive_local().time(),
                    parsed,
                    origin: Arc::new(set),
                    near: Mutex::new(None),
                    restartable,
                }))
            }
        };
        Ok(MaintenanceWindow {
            name,
            start,
            duration,
            recurrence,
            equipment,
            tz,
            rule,
        })
    }

    /// Whether the window covers this equipment.
    pub fn covers(&self, equipment: &EquipmentId) -> bool {
        match &self.equipment {
            None => true,
            Some(list) => list.contains(equipment),
        }
    }

    /// Whether the window covers the whole site.
    pub fn is_site_wide(&self) -> bool {
        self.equipment.is_none()
    }

    fn length(&self) -> ChronoDuration {
        ChronoDuration::from_std(self.duration).unwrap_or(ChronoDuration::MAX)
    }

    /// The occurrence (start, end) that contains `now`, if any.
    pub fn occurrence_at(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let len = self.length();
        match &self.rule {
            None => {
                let start = local_to_utc(self.tz, self.start);
                let end = start + len;
                (start <= now && now < end).then_some((start, end))
            }
            Some(rec) => {
                // Expand from the cursor; an expansion that reaches its bound before `now`
                // moves the cursor there and goes on (the first question after a start).
                let mut current = None;
                for _ in 0..1000 {
                    let set = rec.set_from(now);
                    let (mut seen, mut passed, mut rebase_at) = (0, false, None);
                    for occ in set.as_ref().into_iter().take(MAX_EXPANSION) {
                        seen += 1;
                        if occ.with_timezone(&Utc) > now {
                            passed = true;
                            break;
                        }
                        if rec.can_rebase_at(&occ) {
                            rebase_at = Some(occ);
                        }
                        current = Some(occ);
                    }
                    match rebase_at {
                        Some(at) if !passed && seen >= MAX_EXPANSION => rec.remember(at, true),
                        _ => break,
                    }
                }
                let occ = current?;
                rec.remember(occ, false);
                let start = occ.with_timezone(&Utc);
                let end = start + len;
                (now < end).then_some((start, end))
            }
        }
    }

    /// Whether `now` falls in an occurrence of the window.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.occurrence_at(now).is_some()
    }

    /// The next instant after `now` when the window opens or closes.
    pub fn next_change(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if let Some((_, end)) = self.occurrence_at(now) {
            return Some(end);
        }
        match &self.rule {
            None => {
                let start = local_to_utc(self.tz, self.start);
                (start > now).then_some(start)
            }
            Some(rec) => rec
                .set_from(now)
                .as_ref()
                .into_iter()
                .take(MAX_EXPANSION)
                .map(|o| o.with_timezone(&Utc))
                .find(|s| *s > now),
        }
    }
}

/// The name of the first window active for `equipment` at `now`.
pub fn active_for<'a>(
    windows: &'a [MaintenanceWindow],
    equipment: &EquipmentId,
    now: DateTime<Utc>,
) -> Option<&'a str> {
    windows
        .iter()
        .find(|w| w.covers(equipment) && w.is_active(now))
        .map(|w| w.name.as_str())
}

/// The name of the first site-wide window active at `now`.
pub fn active_site_wide(windows: &[MaintenanceWindow], now: DateTime<Utc>) -> Option<&str> {
    windows
        .iter()
        .find(|w| w.is_site_wide() && w.is_active(now))
        .map(|w| w.name.as_str())
}

/// The next instant after `now` when any window opens or closes.
pub fn next_change(windows: &[MaintenanceWindow], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    windows.iter().filter_map(|w| w.next_change(now)).min()
}

/// A maintenance window opened through the API or the dashboard, beside those of the config:
/// from the moment it was opened until a time, on a whole site or some of its equipment; kept
/// in the site's snapshot, so it survives restarts.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AdHocWindow {
    /// Its id, unique in the site: `api-N`.
    pub id: String,
    /// Why (shown wherever the window is).
    pub reason: String,
    /// Equipment covered; the whole site when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment: Option<Vec<EquipmentId>>,
    /// When it was opened.
    pub from: DateTime<Utc>,
    /// When it ends (or ended, when ended early).
    pub until: DateTime<Utc>,
    /// The account that opened it.
    pub opened_by: String,
    /// The account that ended it early, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
}

impl AdHocWindow {
    /// The window as the site reads its windows, in the site's zone (`None` once it has no
    /// length left to cover).
    pub fn window(&self, tz: Tz) -> Option<MaintenanceWindow> {
        let duration = (self.until - self.from).to_std().ok()?;
        MaintenanceWindow::new(
            format!("{} ({})", self.reason, self.id),
            tz,
            self.from.with_timezone(&tz).naive_local(),
            duration,
            None,
            self.equipment.clone(),
        )
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("test instant")
    }

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, min, 0))
            .expect("test date")
    }

    /// A site-wide window starting at `start` (local time), lasting `secs`, recurring by `rule`.
    fn window(tz: Tz, start: NaiveDateTime, secs: u64, rule: Option<&str>) -> MaintenanceWindow {
        MaintenanceWindow::new(
            "w".into(),
            tz,
            start,
            Duration::from_secs(secs),
            rule.map(String::from),
            None,
        )
        .expect("window")
    }

    #[test]
    fn one_off_window_is_read_in_site_zone() {
        let w = window(Tz::Europe__Paris, local(2026, 12, 1, 22, 0), 7200, None);
        // 22:00 CET is 21:00 UTC.
        assert!(!w.is_active(at("2026-12-01T20:59:59Z")));
        assert!(w.is_active(at("2026-12-01T21:00:00Z")));
        assert!(w.is_active(at("2026-12-01T22:59:59Z")));
        assert!(!w.is_active(at("2026-12-01T23:00:00Z")));
        assert_eq!(
            w.next_change(at("2026-12-01T12:00:00Z")),
            Some(at("2026-12-01T21:00:00Z"))
        );
        assert_eq!(
            w.next_change(at("2026-12-01T21:30:00Z")),
            Some(at("2026-12-01T23:00:00Z"))
        );
        assert_eq!(w.next_change(at("2026-12-02T00:00:00Z")), None);
    }

    #[test]
    fn weekly_window_keeps_local_time_across_spring_dst_change() {
        // Sundays 01:00 local for 2 h; Europe/Paris moves to summer time on 2026-03-29.
        let w = window(
            Tz::Europe__Paris,
            local(2026, 3, 1, 1, 0),
            7200,
            Some("FREQ=WEEKLY;BYDAY=SU"),
        );
        // Before the change: 01:00 CET = 00:00 UTC.
        assert!(w.is_active(at("2026-03-22T00:00:00Z")));
        assert!(!w.is_active(at("2026-03-21T23:30:00Z")));
        // After the change: 01:00 CEST = 23:00 UTC the day before.
        assert!(w.is_active(at("2026-04-04T23:00:00Z")));
        assert!(w.is_active(at("2026-04-05T00:59:00Z")));
        assert!(!w.is_active(at("2026-04-05T01:00:00Z")));
        assert!(!w.is_active(at("2026-04-04T22:59:00Z")));
        // A weekday is outside.
        assert!(!w.is_active(at("2026-04-08T00:00:00Z")));
        assert_eq!(
            w.next_change(at("2026-04-01T00:00:00Z")),
            Some(at("2026-04-04T23:00:00Z"))
        );
    }

    #[test]
    fn daily_window_across_autumn_dst_change() {
        // Daily 02:30 local for 1 h; Europe/Paris returns to winter time on 2026-10-25 at 03:00.
        let w = window(
            Tz::Europe__Paris,
            local(2026, 10, 20, 2, 30),
            3600,
            Some("FREQ=DAILY"),
        );
        // 24 October (CEST): 02:30 local = 00:30 UTC.
        assert!(w.is_active(at("2026-10-24T00:30:00Z")));
        // 26 October (CET): 02:30 local = 01:30 UTC.
        assert!(!w.is_active(at("2026-10-26T00:30:00Z")));
        assert!(w.is_active(at("2026-10-26T01:30:00Z")));
    }

    #[test]
    fn scope_limits_window_to_listed_equipment() {
        let cam = EquipmentId::new("cam-1");
        let nvr = EquipmentId::new("nvr-1");
        let w = MaintenanceWindow::new(
            "nvr swap".into(),
            Tz::UTC,
            local(2026, 1, 1, 0, 0),
            Duration::from_secs(3600),
            None,
            Some(vec![nvr.clone()]),
        )
        .expect("window");
        let now = at("2026-01-01T00:10:00Z");
        let windows = vec![w];
        assert_eq!(active_for(&windows, &nvr, now), Some("nvr swap"));
        assert_eq!(active_for(&windows, &cam, now), None);
        assert_eq!(active_site_wide(&windows, now), None);
    }

    #[test]
    fn bad_recurrence_is_refused() {
        let err = MaintenanceWindow::new(
            "bad".into(),
            Tz::UTC,
            local(2026, 1, 1, 0, 0),
            Duration::from_secs(60),
            Some("FREQ=FORTNIGHTLY".into()),
            None,
        )
        .expect_err("must fail");
        assert!(matches!(err, WindowError::Recurrence(_)));
    }

    #[test]
    fn a_minutely_window_years_after_its_start_is_still_found() {
        let start = local(2020, 1, 1, 0, 0);
        let w = window(Tz::UTC, start, 120, Some("FREQ=MINUTELY;INTERVAL=10"));
        // Walk forward in steps, as a running daemon does: the cursor follows.
        let mut t = at("2020-01-01T00:00:30Z");
        let end = at("2026-06-01T00:00:00Z");
        while t < end {
            assert!(w.is_active(t), "{t}");
            t += chrono::Duration::days(20);
        }
        // More than 200,000 occurrences after the start.
        let late = at("2026-06-01T00:01:00Z");
        assert!(w.is_active(late));
        assert!(!w.is_active(late + chrono::Duration::minutes(2)));
        assert_eq!(
            w.next_change(late),
            Some(late + chrono::Duration::minutes(1))
        );
    }

    #[test]
    fn the_first_question_long_after_the_start_is_answered() {
        let start = local(2020, 1, 1, 0, 0);
        let w = window(Tz::UTC, start, 120, Some("FREQ=MINUTELY;INTERVAL=10"));
        let late = at("2026-06-01T00:01:00Z");
        assert!(
            w.is_active(late),
            "over 300,000 occurrences after the start"
        );
        assert!(!w.is_active(late + chrono::Duration::minutes(2)));
    }

    #[test]
    fn a_weekly_window_keeps_its_local_time_after_years_of_dst_changes() {
        // Sundays 02:00 Paris: on the spring DST Sunday 02:00 does not exist.
        let start = local(2020, 1, 5, 2, 0);
        let w = window(Tz::Europe__Paris, start, 3600, Some("FREQ=WEEKLY;BYDAY=SU"));
        // Ask every day for years, as the daemon does, so the cursor crosses DST Sundays.
        let mut t = at("2020-01-06T12:00:00Z");
        let end = at("2026-06-01T00:00:00Z");
        while t < end {
            w.is_active(t);
            t += chrono::Duration::days(1);
        }
        // Sunday 7 June 2026, 02:00 CEST = 00:00 UTC.
        assert!(w.is_active(at("2026-06-07T00:30:00Z")));
        assert!(!w.is_active(at("2026-06-07T01:30:00Z")));
    }

    #[test]
    fn a_counted_rule_is_never_rebased() {
        let start = local(2026, 1, 4, 1, 0);
        let w = window(Tz::UTC, start, 3600, Some("FREQ=WEEKLY;COUNT=3"));
        assert!(w.is_active(at("2026-01-18T01:30:00Z")));
        assert!(
            !w.is_active(at("2026-01-25T01:30:00Z")),
            "the fourth week is past COUNT"
        );
        assert!(!w.is_active(at("2026-03-01T01:30:00Z")));
    }
}
