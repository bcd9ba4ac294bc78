//! `[[maintenance]]` of a site file: one-off and recurring windows in the site's time zone.

use super::*;

/// Validates the maintenance windows of a site file.
pub(super) fn maintenance(
    cx: &mut FileCx<'_>,
    site_id: &str,
    raw: &RawSiteFile,
    timezone: Option<Tz>,
    ids_here: &BTreeSet<String>,
) -> Vec<MaintenanceWindow> {
    let mut maintenance = Vec::new();
    if let Some(tz) = timezone {
        for m in &raw.maintenance {
            let start = parse_local(m.start.get_ref());
            if start.is_none() {
                cx.at(
                    &m.start,
                    format!(
                        "maintenance `{}`: `{}` is not a local date and time",
                        m.name,
                        m.start.get_ref()
                    ),
                    Some("write it as `2026-12-06T22:00`, in the site's time zone".into()),
                );
            }
            let duration = cx.bounded_duration(
                &m.duration,
                &format!("maintenance `{}` duration", m.name),
                Duration::from_secs(60),
                Duration::from_secs(31 * 86_400),
            );
            let mut scope = None;
            if let Some(list) = &m.equipment {
                let mut ids = Vec::new();
                for eq in list {
                    if ids_here.contains(eq.get_ref()) {
                        ids.push(EquipmentId::new(eq.get_ref()));
                    } else {
                        let hint = did_you_mean(eq.get_ref(), ids_here.iter().map(String::as_str));
                        cx.at(
                            eq,
                            format!(
                                "maintenance `{}`: `{}` is not an equipment of site `{site_id}`",
                                m.name,
                                eq.get_ref()
                            ),
                            hint,
                        );
                    }
                }
                scope = Some(ids);
            }
            let (Some(start), Some(duration)) = (start, duration) else {
                continue;
            };
            match MaintenanceWindow::new(
                m.name.clone(),
                tz,
                start,
                duration,
                m.recurrence.as_ref().map(|r| r.get_ref().clone()),
                scope,
            ) {
                Ok(w) => maintenance.push(w),
                Err(WindowError::Recurrence(msg)) => {
                    if let Some(r) = &m.recurrence {
                        cx.at(
                            r,
                            format!("maintenance `{}`: {msg}", m.name),
                            Some("write an RFC 5545 rule such as `FREQ=WEEKLY;BYDAY=SU`".into()),
                        );
                    }
                }
                Err(e) => cx.at(&m.duration, format!("maintenance `{}`: {e}", m.name), None),
            }
        }
    }
    maintenance
}

fn parse_local(text: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text.trim(), f).ok())
}
