//! Thresholds: policy defaults overridden by the main file, the site and the equipment.

use super::*;
use crate::alert::Severity;

fn levels(
    cx: &mut FileCx<'_>,
    base: Levels,
    raw: &Option<RawLevels>,
    what: &str,
    max: f64,
) -> Levels {
    let Some(raw) = raw else {
        return base;
    };
    let mut out = base;
    let number = |cx: &mut FileCx<'_>, v: &Option<Spanned<f64>>, field: &str, into: &mut f64| {
        if let Some(v) = v {
            let x = *v.get_ref();
            if !x.is_finite() || x < 0.0 || x > max {
                cx.at(
                    v,
                    format!("{what}.{field}: {x} is out of range (0 to {max})"),
                    None,
                );
            } else {
                *into = x;
            }
        }
    };
    number(cx, &raw.warning, "warning", &mut out.warning);
    number(cx, &raw.critical, "critical", &mut out.critical);
    number(cx, &raw.recovery, "recovery", &mut out.recovery);
    if let Some(f) = &raw.for_
        && let Some(d) = cx.bounded_duration(
            f,
            &format!("{what}.for"),
            Duration::ZERO,
            Duration::from_secs(86_400),
        )
    {
        out.for_ = d;
    }
    if out.warning >= out.critical {
        let span = raw
            .warning
            .as_ref()
            .map(|w| w.span())
            .or_else(|| raw.critical.as_ref().map(|c| c.span()));
        if let Some(span) = span {
            cx.error(
                span,
                format!(
                    "{what}: the warning level ({}) must be below the critical level ({})",
                    out.warning, out.critical
                ),
                None,
            );
        }
    }
    if out.recovery >= out.warning
        && let Some(r) = &raw.recovery
    {
        cx.at(
            r,
            format!(
                "{what}.recovery: the margin ({}) must be smaller than the warning level ({})",
                out.recovery, out.warning
            ),
            None,
        );
    }
    out
}

fn after(cx: &mut FileCx<'_>, base: Duration, raw: &Option<RawAfter>, what: &str) -> Duration {
    match raw.as_ref().and_then(|r| r.after.as_ref()) {
        Some(v) => cx
            .bounded_duration(
                v,
                &format!("{what}.after"),
                Duration::ZERO,
                Duration::from_secs(7 * 86_400),
            )
            .unwrap_or(base),
        None => base,
    }
}

/// Applies threshold overrides on top of `base`.
pub(super) fn thresholds(
    cx: &mut FileCx<'_>,
    base: &Arc<Thresholds>,
    raw: &RawThresholds,
) -> Arc<Thresholds> {
    let is_empty = raw.camera_offline.is_none()
        && raw.connectivity.is_none()
        && raw.disk.is_none()
        && raw.temperature.is_none()
        && raw.recording.is_none()
        && raw.hardware.is_none();
    if is_empty {
        return Arc::clone(base);
    }
    let b = **base;
    Arc::new(Thresholds {
        camera_offline_after: after(
            cx,
            b.camera_offline_after,
            &raw.camera_offline,
            "camera_offline",
        ),
        connectivity_after: after(cx, b.connectivity_after, &raw.connectivity, "connectivity"),
        disk: levels(cx, b.disk, &raw.disk, "disk", 100.0),
        temperature: levels(cx, b.temperature, &raw.temperature, "temperature", 200.0),
        recording_after: after(cx, b.recording_after, &raw.recording, "recording"),
        hardware: hardware(cx, b.hardware, raw.hardware.as_ref()),
    })
}

fn hardware(cx: &mut FileCx<'_>, base: HardwareRule, raw: Option<&RawHardware>) -> HardwareRule {
    let Some(raw) = raw else {
        return base;
    };
    let severity = |cx: &mut FileCx<'_>, v: &Option<Spanned<String>>, field: &str, base| match v {
        None => base,
        Some(v) => match v.get_ref().as_str() {
            "critical" => Severity::Critical,
            "warning" => Severity::Warning,
            other => {
                let hint = did_you_mean(other, ["critical", "warning"])
                    .or_else(|| Some("write `critical` or `warning`".into()));
                cx.at(
                    v,
                    format!("hardware.{field}: `{other}` is not a severity"),
                    hint,
                );
                base
            }
        },
    };
    HardwareRule {
        after: after(
            cx,
            base.after,
            &Some(RawAfter {
                after: raw.after.clone(),
            }),
            "hardware",
        ),
        disk: severity(cx, &raw.disk, "disk", base.disk),
        other: severity(cx, &raw.other, "other", base.other),
    }
}
