//! `key=value` lines, as Dahua CGI and Axis VAPIX `param.cgi` answer.

/// The `key=value` pairs of a text, one per line; lines without `=` are skipped and keys
/// and values are trimmed.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// The value of `key` in pairs from [`parse`].
pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_trimmed_and_lines_without_equals_skipped() {
        let pairs = parse("deviceType=DHI-NVR4208\r\nnoise\r\n serialNumber = 4L0C \r\n=x\n");
        assert_eq!(get(&pairs, "deviceType"), Some("DHI-NVR4208"));
        assert_eq!(get(&pairs, "serialNumber"), Some("4L0C"));
        assert_eq!(pairs.len(), 2);
    }
}
