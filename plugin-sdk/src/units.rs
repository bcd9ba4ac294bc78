//! Unit conversions the vendors' APIs need: vigie metrics are in bytes, seconds, °C and
//! 0..1 ratios.

/// Bytes in `n` mebibytes (`n` MB as storage APIs count them, 1024 × 1024).
pub fn mib(n: f64) -> f64 {
    n * 1024.0 * 1024.0
}

/// Bytes in `n` kibibytes.
pub fn kib(n: f64) -> f64 {
    n * 1024.0
}

/// Bytes in `n` gibibytes.
pub fn gib(n: f64) -> f64 {
    n * 1024.0 * 1024.0 * 1024.0
}

/// `used / total` as a 0..1 ratio; `None` when the total is zero, negative or not finite.
pub fn ratio(used: f64, total: f64) -> Option<f64> {
    (total > 0.0 && total.is_finite() && used.is_finite()).then(|| (used / total).clamp(0.0, 1.0))
}

/// A percentage (0..100) as a 0..1 ratio.
pub fn percent(p: f64) -> f64 {
    p / 100.0
}

/// °C from °F.
pub fn fahrenheit_to_celsius(f: f64) -> f64 {
    (f - 32.0) * 5.0 / 9.0
}

/// Bytes in a size written with a unit, as vendors print them: `"931.5 GB"`, `"2TB"`,
/// `"512 MiB"`, `"1024"` (bytes). Decimal units (KB, MB, GB, TB) are read as binary ones,
/// as recorders use them.
pub fn parse_size(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.trim().parse().ok()?;
    let factor = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TIB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * factor)
}

/// Seconds in a duration written `[D days, ]HH:MM:SS` or as plain seconds.
pub fn parse_uptime(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Ok(s) = t.parse::<f64>() {
        return Some(s);
    }
    let (days, clock) = match t.split_once(',') {
        Some((d, rest)) => (
            d.split_whitespace().next()?.parse::<f64>().ok()?,
            rest.trim(),
        ),
        None => (0.0, t),
    };
    let parts: Vec<f64> = clock
        .split(':')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [h, m, s] = parts[..] else { return None };
    Some(days * 86_400.0 + h * 3600.0 + m * 60.0 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ratios() {
        assert_eq!(
            parse_size("931.5 GB"),
            Some(931.5 * 1024.0 * 1024.0 * 1024.0)
        );
        assert_eq!(parse_size("2TB"), Some(2.0 * 1024f64.powi(4)));
        assert_eq!(parse_size("1024"), Some(1024.0));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(ratio(50.0, 200.0), Some(0.25));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(mib(1.0), 1_048_576.0);
        assert_eq!(fahrenheit_to_celsius(212.0), 100.0);
    }

    #[test]
    fn uptimes() {
        assert_eq!(parse_uptime("3600"), Some(3600.0));
        assert_eq!(parse_uptime("01:02:03"), Some(3723.0));
        assert_eq!(parse_uptime("2 days, 00:00:10"), Some(172_810.0));
        assert_eq!(parse_uptime("soon"), None);
    }
}
