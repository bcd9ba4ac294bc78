//! Device clocks: the times vendors print, read as milliseconds since the Unix epoch, and
//! the `clock_offset_ms` fact computed from them.
//!
//! Three forms cover the shipped plugins:
//! - an RFC 3339 time with its zone (`2026-01-01T09:00:05+08:00`, `…Z`), as ISAPI writes
//!   `currentDeviceTime`: [`rfc3339_ms`];
//! - a UTC date in separate fields, as ONVIF's `tt:DateTime` gives it: [`civil_ms`];
//! - a local time with a separate `UTC±HH:MM` zone (`2026-1-1 09:00:05` and `UTC+08:00`):
//!   [`local_ms`].
//!
//! A local time without its zone is not an instant: none of these functions guess one.

use crate::Host;

/// Milliseconds since the Unix epoch of an RFC 3339 time with a zone
/// (`2026-01-01T09:00:05+08:00`, `2026-01-01T01:00:05.250Z`, and `+0800` for the zone);
/// `None` without a zone, or when a field is out of range.
pub fn rfc3339_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let (clock, zone_secs) = if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let i = rest.rfind(['+', '-'])?;
        let (clock, zone) = rest.split_at(i);
        (clock, zone_seconds(zone, true)?)
    };
    let (year, month, day) = date_fields(date, true)?;
    let (hour, minute, second, millis) = clock_fields(clock, true)?;
    Some(civil_ms(year, month, day, hour, minute, second)? + millis - zone_secs * 1000)
}

/// Milliseconds since the Unix epoch of a local time (`2026-01-01 09:00:05`, `2026-1-1
/// 9:00:05`, a `T` between date and time, and fractions of a second are accepted) in the
/// zone `UTC±HH:MM` (also `UTC±HHMM`, `UTC±H`, plain `UTC` or `GMT` and, as some devices
/// show it, `(UTC+08:00) Beijing`); `None` when either cannot be read.
///
/// `GMT±…` is not accepted: POSIX `TZ` strings (`GMT+01:00`, `CST-8`) count hours west of
/// Greenwich, the reverse of `UTC±…`, and the two cannot be told apart.
pub fn local_ms(local: &str, zone: &str) -> Option<i64> {
    let local = local.trim();
    let (date, clock) = local.split_once(['T', 't', ' '])?;
    let (year, month, day) = date_fields(date, false)?;
    let (hour, minute, second, millis) = clock_fields(clock.trim(), false)?;
    let zone_secs = utc_zone_seconds(zone)?;
    Some(civil_ms(year, month, day, hour, minute, second)? + millis - zone_secs * 1000)
}

/// Milliseconds since the Unix epoch of a UTC date and time given field by field (ONVIF's
/// `tt:DateTime`); `None` when a field is out of range (month 13, February 30, hour 24).
/// A leap second (`second` 60) is read as the next second.
pub fn civil_ms(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Option<i64> {
    let valid = (1..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && (0..=23).contains(&hour)
        && (0..=59).contains(&minute)
        && (0..=60).contains(&second);
    valid.then(|| {
        let days = days_from_civil(year, month, day);
        ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000
    })
}

/// The `clock_offset_ms` fact: the equipment's clock (`device_ms`, ms since the Unix epoch)
/// minus the daemon's ([`Host::now_ms`]). Positive when the equipment is ahead.
pub fn offset_ms(device_ms: i64, host: &dyn Host) -> i64 {
    device_ms - host.now_ms()
}

/// The equipment's clock now, from the daemon's and an offset from [`offset_ms`]: what a
/// WS-Security token must carry for an equipment whose clock is off
/// ([`Host::ws_username_token_at`]).
pub fn device_now_ms(host: &dyn Host, offset_ms: i64) -> i64 {
    host.now_ms().saturating_add(offset_ms)
}

/// An instant as RFC 3339 UTC: `2026-01-01T00:00:00Z`, with milliseconds
/// (`…00.250Z`) when there are some.
pub fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, frac) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    if frac == 0 {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{frac:03}Z")
    }
}

/// Year, month and day of `YYYY-MM-DD` (`strict`) or `YYYY-M-D`.
fn date_fields(date: &str, strict: bool) -> Option<(i64, i64, i64)> {
    let mut d = date.split('-');
    let (y, mo, day) = (d.next()?, d.next()?, d.next()?);
    let widths_ok = if strict {
        y.len() == 4 && mo.len() == 2 && day.len() == 2
    } else {
        y.len() == 4 && (1..=2).contains(&mo.len()) && (1..=2).contains(&day.len())
    };
    if d.next().is_some() || !widths_ok {
        return None;
    }
    Some((digits(y)?, digits(mo)?, digits(day)?))
}

/// Hour, minute, second and milliseconds of `HH:MM:SS[.fff]` (`strict`) or `H:MM:SS`.
fn clock_fields(clock: &str, strict: bool) -> Option<(i64, i64, i64, i64)> {
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.split(':');
    let (h, mi, s) = (t.next()?, t.next()?, t.next()?);
    let hour_ok = if strict {
        h.len() == 2
    } else {
        (1..=2).contains(&h.len())
    };
    if t.next().is_some() || !hour_ok || mi.len() != 2 || s.len() != 2 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}")[..3].parse().ok()?
    };
    Some((digits(h)?, digits(mi)?, digits(s)?, millis))
}

/// Seconds east of UTC of `+HH:MM`, `-HHMM` (and `±H`, `±HH` unless `strict`).
fn zone_seconds(zone: &str, strict: bool) -> Option<i64> {
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &zone[1..];
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None if !strict && (1..=2).contains(&rest.len()) => (rest, "00"),
        None => return None,
    };
    let hour_ok = if strict {
        h.len() == 2
    } else {
        (1..=2).contains(&h.len())
    };
    if !hour_ok || m.len() != 2 {
        return None;
    }
    let (h, m) = (digits(h)?, digits(m)?);
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

/// Seconds east of UTC of `UTC±HH:MM` (see [`local_ms`]).
fn utc_zone_seconds(zone: &str) -> Option<i64> {
    let zone = zone.trim();
    // `(UTC+08:00) Beijing, Chongqing`: the part in parentheses.
    let zone = match zone.strip_prefix('(') {
        Some(inner) => inner.split(')').next()?.trim(),
        None => zone,
    };
    let upper = zone.to_ascii_uppercase();
    if upper == "UTC" || upper == "GMT" || upper == "Z" {
        return Some(0);
    }
    zone_seconds(upper.strip_prefix("UTC")?.trim(), false)
}

fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeDevice;

    /// 2026-01-01T00:00:00Z.
    const MIDNIGHT: i64 = 1_767_225_600_000;

    #[test]
    fn rfc3339_times_with_a_zone_become_utc_milliseconds() {
        assert_eq!(rfc3339_ms("2026-01-01T00:00:00Z"), Some(MIDNIGHT));
        assert_eq!(rfc3339_ms("2026-01-01T08:00:00+08:00"), Some(MIDNIGHT));
        assert_eq!(rfc3339_ms("2025-12-31T19:00:00-05:00"), Some(MIDNIGHT));
        assert_eq!(rfc3339_ms("2026-01-01T05:30:00+0530"), Some(MIDNIGHT));
        assert_eq!(
            rfc3339_ms("2026-01-01T00:00:01.250Z"),
            Some(MIDNIGHT + 1250)
        );
        assert_eq!(rfc3339_ms(" 2026-01-01 00:00:00z "), Some(MIDNIGHT));
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
    }

    #[test]
    fn rfc3339_without_a_zone_or_out_of_range_is_no_instant() {
        for bad in [
            "2026-01-01T08:00:00",
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-01-01T25:00:00Z",
            "2026-01-01T00:00:00+8",
            "2026-1-1T00:00:00Z",
            "01/01/2026 00:00:00 +00:00",
            "",
        ] {
            assert_eq!(rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn local_times_in_a_utc_zone() {
        assert_eq!(local_ms("2026-01-01 08:00:00", "UTC+08:00"), Some(MIDNIGHT));
        assert_eq!(local_ms("2026-1-1 8:00:00", "UTC+8"), Some(MIDNIGHT));
        assert_eq!(local_ms("2025-12-31 18:30:00", "UTC-05:30"), Some(MIDNIGHT));
        assert_eq!(local_ms("2026-01-01T05:30:00", "utc+0530"), Some(MIDNIGHT));
        assert_eq!(
            local_ms("2026-01-01 00:00:00.5", "UTC"),
            Some(MIDNIGHT + 500)
        );
        assert_eq!(
            local_ms("2026-01-01 08:00:00", "(UTC+08:00) Beijing, Chongqing"),
            Some(MIDNIGHT)
        );
        for (local, zone) in [
            ("2026-01-01 08:00:00", ""),
            ("2026-01-01 08:00:00", "CST-8"),
            ("2026-01-01 08:00:00", "GMT+08:00"),
            ("2026-01-01 08:00:00", "UTC+24:00"),
            ("2026-01-01", "UTC"),
            ("2026-02-29 00:00:00", "UTC"),
            ("yesterday 08:00:00", "UTC"),
        ] {
            assert_eq!(local_ms(local, zone), None, "{local} {zone}");
        }
    }

    #[test]
    fn civil_dates_are_checked_and_count_from_the_epoch() {
        assert_eq!(civil_ms(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(civil_ms(2026, 1, 1, 0, 0, 0), Some(MIDNIGHT));
        assert_eq!(civil_ms(2024, 2, 29, 12, 0, 0), Some(1_709_208_000_000));
        assert_eq!(civil_ms(2000, 3, 1, 0, 0, 0), Some(951_868_800_000));
        assert_eq!(civil_ms(2025, 2, 29, 0, 0, 0), None);
        assert_eq!(civil_ms(1900, 2, 29, 0, 0, 0), None);
        assert_eq!(civil_ms(1969, 12, 31, 0, 0, 0), Some(-86_400_000));
        assert_eq!(civil_ms(2026, 4, 31, 0, 0, 0), None);
        assert_eq!(civil_ms(2026, 1, 1, 24, 0, 0), None);
        assert_eq!(civil_ms(0, 1, 1, 0, 0, 0), None);
    }

    #[test]
    fn rfc3339_text_round_trips() {
        assert_eq!(rfc3339(MIDNIGHT), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(MIDNIGHT - 73_000), "2025-12-31T23:58:47Z");
        assert_eq!(rfc3339(1_709_208_000_250), "2024-02-29T12:00:00.250Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        for ms in [MIDNIGHT, MIDNIGHT + 600_000, 951_868_800_001, -86_400_000] {
            assert_eq!(rfc3339_ms(&rfc3339(ms)), Some(ms), "{ms}");
        }
    }

    #[test]
    fn offsets_follow_the_daemon_clock() {
        let host = FakeDevice::new().at(MIDNIGHT);
        assert_eq!(offset_ms(MIDNIGHT + 2_000, &host), 2_000);
        assert_eq!(offset_ms(MIDNIGHT - 600_000, &host), -600_000);
        assert_eq!(device_now_ms(&host, -600_000), MIDNIGHT - 600_000);
    }
}
