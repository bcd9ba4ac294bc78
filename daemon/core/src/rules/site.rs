//! Site rules: offline cameras against the site's tolerance (R3, R8) and dependencies.
//! Pure: a function of the cameras' states, the tolerance and the time.

use super::RuleId;
use super::equipment::Status;
use crate::alert::{Condition, Severity};
use crate::config::{EquipmentId, Tolerance};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// What the site knows of one camera.
#[derive(Debug, Clone, Copy)]
pub struct CameraView<'a> {
    /// Camera id.
    pub id: &'a EquipmentId,
    /// Its availability.
    pub status: Status,
    /// Since when it does not answer.
    pub offline_since: Option<DateTime<Utc>>,
    /// How long it must be offline to count (R3, 5 min by default).
    pub after: Duration,
    /// The maintenance window covering it now, if any: it still counts (knowledge is never
    /// suppressed), but an alert made only of covered cameras is not notified.
    pub maintenance: Option<&'a str>,
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Verdict on a site's cameras.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraVerdict {
    /// The site alert's condition, when more cameras are offline than tolerated.
    pub condition: Option<Condition>,
    /// Cameras counted as offline (down for longer than their delay), sorted.
    pub offline: Vec<EquipmentId>,
    /// Next instant at which another camera reaches its delay.
    pub next_deadline: Option<DateTime<Utc>>,
    /// The window covering every camera counted offline, when one covers them all: the site
    /// alert is then recorded but not notified (R9).
    pub covered_by: Option<String>,
}

/// Counts cameras down for longer than their delay and compares with the tolerance.
/// Unreachable cameras (behind a down parent) do not count: their parent's alert says it.
/// Cameras in maintenance count, and say which window covers them.
pub fn cameras_offline(
    cameras: &[CameraView<'_>],
    tolerance: Tolerance,
    now: DateTime<Utc>,
) -> CameraVerdict {
    let mut offline: Vec<EquipmentId> = Vec::new();
    let mut next_deadline: Option<DateTime<Utc>> = None;
    // The window covering every counted camera so far (`Some(None)`: one is not covered).
    let mut covered: Option<Option<&str>> = None;
    for cam in cameras {
        if !is_silent(cam.status, cam.offline_since) {
            continue;
        }
        let Some(since) = cam.offline_since else {
            continue;
        };
        let due = since + chrono(cam.after);
        if now >= due {
            offline.push(cam.id.clone());
            covered = Some(match covered {
                None => cam.maintenance,
                Some(w) => w.and(cam.maintenance),
            });
        } else if next_deadline.is_none_or(|n| due < n) {
            next_deadline = Some(due);
        }
    }
    offline.sort();
    let allowed = tolerance.allowed(cameras.len());
    let condition = (offline.len() > allowed).then(|| {
        let names: Vec<&str> = offline.iter().map(EquipmentId::as_str).collect();
        Condition {
            rule: RuleId::CamerasOffline.into(),
            severity: Severity::Critical,
            summary: format!(
                "{} camera{} offline (tolerance {} of {}): {}",
                offline.len(),
                if offline.len() > 1 { "s" } else { "" },
                allowed,
                cameras.len(),
                names.join(", ")
            ),
            summary_fr: format!(
                "{} caméra{} hors ligne (tolérance {} sur {}) : {}",
                offline.len(),
                if offline.len() > 1 { "s" } else { "" },
                allowed,
                cameras.len(),
                names.join(", ")
            ),
            weight: u32::try_from(offline.len()).unwrap_or(u32::MAX),
        }
    });
    CameraVerdict {
        condition,
        offline,
        next_deadline,
        covered_by: covered.flatten().map(String::from),
    }
}

/// Whether an equipment is not seen: down, or unknown since it went down (a probe that
/// cannot tell does not bring it back).
pub fn is_silent(status: Status, offline_since: Option<DateTime<Utc>>) -> bool {
    status == Status::Down || (status == Status::Unknown && offline_since.is_some())
}

/// Whether an equipment whose parent has `parent_status` is cut off by it.
pub fn parent_cuts_off(parent_status: Status) -> bool {
    parent_status.is_offline()
}
